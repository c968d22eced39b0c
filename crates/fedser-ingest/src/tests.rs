use super::*;

fn wav(path: &Path, n: usize, amp: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..n {
        w.write_sample((amp * (i as f32 * 0.05).sin() * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

fn listing(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), fedser_cache::hash_file(&e.path()).unwrap())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn good_files_in_manifest_bad_files_in_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let audio = dir.path().join("AudioWAV");
    std::fs::create_dir_all(&audio).unwrap();
    std::fs::write(
        dir.path().join("VideoDemographics.csv"),
        "\"ActorID\",\"Age\",\"Sex\",\"Race\",\"Ethnicity\"\n1001,30,\"Male\",\"Asian\",\"Not Hispanic\"\n",
    )
    .unwrap();
    wav(&audio.join("1001_DFA_ANG_XX.wav"), 16000, 0.5);
    wav(&audio.join("1002_DFA_SAD_XX.wav"), 16000, 0.5); // actor not in sheet: kept
    wav(&audio.join("1001_DFA_XYZ_XX.wav"), 16000, 0.5); // unknown emotion
    wav(&audio.join("1001_DFA_ANG.wav"), 16000, 0.5); // too few fields
    wav(&audio.join("1001_DFA_HAP_XX.wav"), 0, 0.5); // header only
    wav(&audio.join("1001_DFA_NEU_XX.wav"), 100, 0.5); // too short
    wav(&audio.join("1001_IEO_NEU_XX.wav"), 16000, 0.0); // silent: flagged
    std::fs::write(audio.join("1001_DFA_FEA_XX.wav"), "not audio at all").unwrap();
    std::fs::write(audio.join("notes.txt"), "hello").unwrap();
    let layout = resolve_layout(dir.path(), None).unwrap();
    let out = dir.path().join("out");
    let s = run(&IngestParams::default(), &layout, &listing(&audio), &out, &[]).unwrap();
    assert_eq!(s.clips, 3);
    assert_eq!(s.rejected, 6);
    assert_eq!(s.actors, 2);
    assert_eq!(s.flagged_silent, 1);
    let mp = out.join("manifest.parquet");
    let m = table::read_parquet(&mp, None).unwrap();
    assert_eq!(
        table::strings(&mp, &m, "file").unwrap(),
        vec!["1001_DFA_ANG_XX.wav", "1001_IEO_NEU_XX.wav", "1002_DFA_SAD_XX.wav"]
    );
    assert_eq!(table::opt_strings(&mp, &m, "sex").unwrap(), vec![Some("Male".into()), Some("Male".into()), None]);
    let rp = out.join("rejects.parquet");
    let r = table::read_parquet(&rp, None).unwrap();
    let files = table::strings(&rp, &r, "file").unwrap();
    let reasons = table::strings(&rp, &r, "reason").unwrap();
    let reason = |f: &str| reasons[files.iter().position(|x| x == f).unwrap()].clone();
    assert!(reason("1001_DFA_XYZ_XX.wav").contains("unknown emotion code `XYZ`"));
    assert!(reason("1001_DFA_ANG.wav").contains("expected 4 fields"));
    assert!(reason("1001_DFA_HAP_XX.wav").contains("header-only"));
    assert!(reason("1001_DFA_NEU_XX.wav").contains("shorter than the minimum"));
    assert!(reason("1001_DFA_FEA_XX.wav").contains("not a valid WAV"));
    assert!(reason("notes.txt").contains("ignored"));
}

#[test]
fn missing_corpus_and_sheet_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(resolve_layout(&dir.path().join("nope"), None), Err(IngestError::NoCorpus(_))));
    std::fs::create_dir_all(dir.path().join("AudioWAV")).unwrap();
    let e = resolve_layout(dir.path(), None).unwrap_err().to_string();
    assert!(e.contains("VideoDemographics.csv"), "{e}");
}
