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

fn wav_spec(path: &Path, rate: u32, bits: u16, float: bool, channels: u16, secs: f64) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..(secs * f64::from(rate)) as usize * usize::from(channels) {
        let x = 0.3 * (i as f64 * 0.05).sin();
        if float {
            w.write_sample(x as f32).unwrap();
        } else {
            w.write_sample((x * f64::from((1u32 << (bits - 1)) - 1)) as i32).unwrap();
        }
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
    // other formats are accepted and converted
    wav_spec(&audio.join("1001_IOM_ANG_XX.wav"), 16000, 8, false, 1, 1.0);
    wav_spec(&audio.join("1001_IOM_DIS_XX.wav"), 16000, 24, false, 1, 1.0);
    wav_spec(&audio.join("1001_IOM_FEA_XX.wav"), 16000, 32, false, 1, 1.0);
    wav_spec(&audio.join("1001_IOM_HAP_XX.wav"), 16000, 32, true, 1, 1.0);
    wav_spec(&audio.join("1001_IOM_NEU_XX.wav"), 16000, 16, false, 2, 1.0);
    wav_spec(&audio.join("1001_IOM_SAD_XX.wav"), 44100, 16, false, 1, 1.0);
    wav_spec(&audio.join("1001_IWW_ANG_XX.wav"), 8000, 16, false, 1, 1.0);
    // truncated data chunk
    wav_spec(&audio.join("1001_IWW_DIS_XX.wav"), 16000, 16, false, 1, 1.0);
    let p = audio.join("1001_IWW_DIS_XX.wav");
    let b = std::fs::read(&p).unwrap();
    std::fs::write(&p, &b[..b.len() / 2 + 1]).unwrap();
    // bad actor id
    wav(&audio.join("999_DFA_ANG_XX.wav"), 16000, 0.5);
    // float samples with a NaN in the middle: rejected
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(audio.join("1001_IWW_FEA_XX.wav"), spec).unwrap();
        for i in 0..16000 {
            w.write_sample(if i == 8000 { f32::NAN } else { 0.1 }).unwrap();
        }
        w.finalize().unwrap();
    }
    // heavily clipped: kept and flagged
    wav(&audio.join("1001_IWW_HAP_XX.wav"), 16000, 4.0);
    std::fs::write(audio.join("notes.txt"), "hello").unwrap();
    let layout = resolve_layout(dir.path(), None).unwrap();
    let out = dir.path().join("out");
    let s = run(&IngestParams::default(), &layout, &listing(&audio), &out, &[]).unwrap();
    assert_eq!(s.clips, 11);
    assert_eq!(s.rejected, 9);
    assert_eq!(s.flagged_clipped, 1);
    assert_eq!(s.actors, 2);
    assert_eq!(s.flagged_silent, 1);
    let mp = out.join("manifest.parquet");
    let m = table::read_parquet(&mp, None).unwrap();
    let files = table::strings(&mp, &m, "file").unwrap();
    assert_eq!(files.len(), 11);
    let row = |f: &str| files.iter().position(|x| x == f).unwrap();
    let clipped = table::floats(&mp, &m, "clipped_fraction").unwrap();
    assert!(clipped[row("1001_IWW_HAP_XX.wav")] > 0.5, "{clipped:?}");
    assert!(clipped[row("1001_DFA_ANG_XX.wav")] == 0.0);
    let rates = table::ints(&mp, &m, "sample_rate").unwrap();
    let bits = table::ints(&mp, &m, "bits").unwrap();
    let channels = table::ints(&mp, &m, "channels").unwrap();
    let samples = table::ints(&mp, &m, "samples").unwrap();
    assert_eq!(rates[row("1001_IOM_SAD_XX.wav")], Some(44100));
    assert_eq!(samples[row("1001_IOM_SAD_XX.wav")], Some(16000));
    assert_eq!(rates[row("1001_IWW_ANG_XX.wav")], Some(8000));
    assert_eq!(samples[row("1001_IWW_ANG_XX.wav")], Some(16000));
    assert_eq!(bits[row("1001_IOM_DIS_XX.wav")], Some(24));
    assert_eq!(channels[row("1001_IOM_NEU_XX.wav")], Some(2));
    let sex = table::opt_strings(&mp, &m, "sex").unwrap();
    assert_eq!(sex[row("1001_DFA_ANG_XX.wav")].as_deref(), Some("Male"));
    assert_eq!(sex[row("1002_DFA_SAD_XX.wav")], None);
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
    assert!(reason("1001_IWW_DIS_XX.wav").contains("truncated"), "{}", reason("1001_IWW_DIS_XX.wav"));
    assert!(reason("999_DFA_ANG_XX.wav").contains("actor id 999"));
    assert!(reason("1001_IWW_FEA_XX.wav").contains("non-finite sample (NaN or Inf) at sample 8000"));
}

#[test]
fn missing_corpus_and_sheet_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(resolve_layout(&dir.path().join("nope"), None), Err(IngestError::NoCorpus(_))));
    std::fs::create_dir_all(dir.path().join("AudioWAV")).unwrap();
    let e = resolve_layout(dir.path(), None).unwrap_err().to_string();
    assert!(e.contains("VideoDemographics.csv"), "{e}");
}
