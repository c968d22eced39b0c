//! Integration tests of the synthetic corpus: determinism, layout, inventory,
//! validation and acoustic sanity.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::Path;

use fedser_synth::{generate, inventory, Inventory, SynthError, SynthParams, EMOTIONS, LEVELS, SENTENCES};

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn small() -> SynthParams {
    SynthParams {
        actors: 4,
        sentences: strings(&["IEO", "DFA"]),
        emotions: strings(&["ANG", "NEU", "SAD"]),
        ..SynthParams::default()
    }
}

fn read_dir_bytes(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    for sub in ["", "AudioWAV"] {
        for e in fs::read_dir(dir.join(sub)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                let name = format!("{sub}/{}", e.file_name().to_string_lossy());
                m.insert(name, fs::read(e.path()).unwrap());
            }
        }
    }
    m
}

fn read_wav(path: &Path) -> (hound::WavSpec, Vec<f64>) {
    let r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    let x = r.into_samples::<i16>().map(|s| f64::from(s.unwrap()) / 32768.0).collect();
    (spec, x)
}

#[test]
fn deterministic_across_thread_counts() {
    let p = small();
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    let pool1 = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let pool2 = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let sa = pool1.install(|| generate(&p, &a)).unwrap();
    let sb = pool2.install(|| generate(&p, &b)).unwrap();
    assert_eq!(sa.clips, sb.clips);
    let fa = read_dir_bytes(&a);
    let fb = read_dir_bytes(&b);
    assert_eq!(fa.len(), sa.clips + 1);
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (k, v) in &fa {
        assert!(v == &fb[k], "{k} differs between 1 and 2 threads");
    }
    // a different seed gives different audio
    let c = tmp.path().join("c");
    generate(&SynthParams { seed: 8, ..p }, &c).unwrap();
    let fc = read_dir_bytes(&c);
    assert_ne!(fa["AudioWAV/1001_IEO_ANG_XX.wav"], fc["AudioWAV/1001_IEO_ANG_XX.wav"]);
}

#[test]
fn layout_names_wav_spec_and_csv() {
    let p = SynthParams {
        actors: 3,
        sentences: strings(&["TSI", "IEO"]),
        emotions: strings(&["HAP", "FEA"]),
        levels: strings(&["LO", "HI"]),
        ..SynthParams::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("corpus");
    let s = generate(&p, &out).unwrap();
    let inv = inventory(&p);
    assert_eq!(inv.len(), 3 * 2 * 2 * 2);
    assert_eq!(s.clips, inv.len());
    assert_eq!(s.actors, 3);
    let mut on_disk: Vec<String> = fs::read_dir(out.join("AudioWAV"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, inv);
    let mut sorted = inv.clone();
    sorted.sort();
    assert_eq!(sorted, inv, "inventory is sorted");
    let mut total = 0.0;
    for name in &inv {
        let stem = name.strip_suffix(".wav").unwrap();
        let parts: Vec<&str> = stem.split('_').collect();
        assert_eq!(parts.len(), 4, "{name}");
        let actor: u32 = parts[0].parse().unwrap();
        assert!((1001..=1003).contains(&actor));
        assert!(SENTENCES.contains(&parts[1]) && p.sentences.iter().any(|s| s == parts[1]));
        assert!(EMOTIONS.contains(&parts[2]) && p.emotions.iter().any(|s| s == parts[2]));
        assert!(LEVELS.contains(&parts[3]) && p.levels.iter().any(|s| s == parts[3]));
        let path = out.join("AudioWAV").join(name);
        let (spec, x) = read_wav(&path);
        assert_eq!(spec.sample_rate, 16_000);
        assert_eq!(spec.channels, 1);
        assert_eq!(spec.bits_per_sample, 16);
        assert_eq!(spec.sample_format, hound::SampleFormat::Int);
        // standard 44-byte header
        let len = fs::metadata(&path).unwrap().len();
        assert_eq!(len, 44 + 2 * x.len() as u64, "{name}");
        let bytes = fs::read(&path).unwrap();
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(&bytes[36..40], b"data");
        total += x.len() as f64 / 16_000.0;
    }
    assert!((s.audio_seconds - total).abs() < 1e-6);

    let csv = fs::read_to_string(out.join("VideoDemographics.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], r#""ActorID","Age","Sex","Race","Ethnicity""#);
    assert_eq!(lines.len(), 1 + 3);
    for (i, l) in lines[1..].iter().enumerate() {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 5, "{l}");
        assert_eq!(f[0], (1001 + i).to_string());
        let age: u32 = f[1].parse().unwrap();
        assert!((18..=80).contains(&age), "{l}");
        assert!([r#""Male""#, r#""Female""#].contains(&f[2]), "{l}");
        assert!([r#""African American""#, r#""Asian""#, r#""Caucasian""#, r#""Unknown""#].contains(&f[3]), "{l}");
        assert!([r#""Hispanic""#, r#""Not Hispanic""#].contains(&f[4]), "{l}");
    }
    // no temp or backup directories left beside the output
    let left: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(left.len(), 1);
}

#[test]
fn replaces_existing_output_atomically() {
    let p =
        SynthParams { actors: 2, sentences: strings(&["IEO"]), emotions: strings(&["NEU"]), ..SynthParams::default() };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("corpus");
    fs::create_dir_all(out.join("AudioWAV")).unwrap();
    fs::write(out.join("AudioWAV/stale.wav"), b"x").unwrap();
    generate(&p, &out).unwrap();
    assert!(!out.join("AudioWAV/stale.wav").exists());
    assert_eq!(fs::read_dir(out.join("AudioWAV")).unwrap().count(), 2);
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);

    // invalid params: nothing touched, error names the key
    let bad = SynthParams { actors: 0, ..p.clone() };
    let e = generate(&bad, &out).unwrap_err();
    assert!(matches!(e, SynthError::Invalid(_)));
    assert!(out.join("AudioWAV/1001_IEO_NEU_XX.wav").exists());

    // unwritable location: an I/O error carrying the path
    let file = tmp.path().join("plain-file");
    fs::write(&file, b"x").unwrap();
    let e = generate(&p, &file.join("corpus")).unwrap_err();
    assert!(matches!(e, SynthError::Io { .. }), "{e:?}");
    assert!(e.to_string().starts_with("cannot write `"), "{e}");
}

#[test]
fn cremad_inventory() {
    let p = SynthParams {
        actors: 91,
        sentences: strings(&SENTENCES),
        inventory: Inventory::Cremad,
        levels: strings(&["LO"]), // ignored by the cremad design
        missing: 20,
        ..SynthParams::default()
    };
    p.validate().unwrap();
    let inv = inventory(&p);
    assert_eq!(inv.len(), 7_442);
    let full = inventory(&SynthParams { missing: 0, ..p.clone() });
    assert_eq!(full.len(), 7_462);
    let mut per_actor: HashMap<&str, usize> = HashMap::new();
    for n in &full {
        *per_actor.entry(&n[..4]).or_default() += 1;
    }
    assert_eq!(per_actor.len(), 91);
    assert!(per_actor.values().all(|&c| c == 82));
    let a = |suffix: &str| full.iter().filter(|n| n.ends_with(suffix)).count();
    assert_eq!(a("_XX.wav"), 91 * (66 + 1));
    assert_eq!(a("_HI.wav"), 91 * 5);
    assert!(full.iter().all(|n| n.ends_with("_XX.wav") || n.contains("_IEO_")));
    assert!(full.contains(&"1001_IEO_NEU_XX.wav".to_string()));
    assert!(!full.contains(&"1001_IEO_NEU_HI.wav".to_string()));
    assert!(!full.contains(&"1001_IEO_ANG_XX.wav".to_string()));
    // dropped clips are a subset, chosen by the seed
    assert!(inv.iter().all(|n| full.contains(n)));
    let other = inventory(&SynthParams { seed: 99, ..p.clone() });
    assert_eq!(other.len(), 7_442);
    assert_ne!(other, inv);
    assert_eq!(inventory(&p), inv, "deterministic");
}

#[test]
fn validate_rejects_bad_params() {
    SynthParams::default().validate().unwrap();
    let msg = |p: SynthParams| match p.validate() {
        Err(SynthError::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    };
    let m = msg(SynthParams { actors: 0, ..Default::default() });
    assert_eq!(m, "synth.actors = 0: must be in 2..=999");
    assert!(msg(SynthParams { actors: 1000, ..Default::default() }).contains("synth.actors"));
    SynthParams { actors: 999, ..Default::default() }.validate().unwrap();
    SynthParams { actors: 2, ..Default::default() }.validate().unwrap();
    let m = msg(SynthParams { sentences: strings(&["IEO", "XYZ"]), ..Default::default() });
    assert!(m.contains("synth.sentences") && m.contains("XYZ") && m.contains("TSI"), "{m}");
    let m = msg(SynthParams { sentences: strings(&["IEO", "IEO"]), ..Default::default() });
    assert!(m.contains("synth.sentences") && m.contains("twice"), "{m}");
    let m = msg(SynthParams { sentences: vec![], ..Default::default() });
    assert!(m.contains("synth.sentences"), "{m}");
    let m = msg(SynthParams { emotions: strings(&["ANG", "CALM"]), ..Default::default() });
    assert!(m.contains("synth.emotions") && m.contains("CALM") && m.contains("NEU"), "{m}");
    let m = msg(SynthParams { emotions: strings(&["SAD", "SAD"]), ..Default::default() });
    assert!(m.contains("synth.emotions"), "{m}");
    let m = msg(SynthParams { levels: strings(&["MAX"]), ..Default::default() });
    assert!(m.contains("synth.levels") && m.contains("LO, MD, HI, XX"), "{m}");
    for ff in [-0.1, 1.5, f64::NAN] {
        let m = msg(SynthParams { female_fraction: ff, ..Default::default() });
        assert!(m.contains("synth.female_fraction") && m.contains("[0, 1]"), "{m}");
    }
    for ff in [0.0, 1.0] {
        SynthParams { female_fraction: ff, ..Default::default() }.validate().unwrap();
    }
    let m = msg(SynthParams { missing: 432, ..Default::default() });
    assert!(m.contains("synth.missing") && m.contains("432"), "{m}");
    SynthParams { missing: 431, ..Default::default() }.validate().unwrap();
}

#[test]
fn serde_defaults_and_unknown_keys() {
    use serde::de::value::{Error as DeError, MapDeserializer, StrDeserializer};
    use serde::de::IntoDeserializer;
    use serde::Deserialize;

    let p = SynthParams::default();
    assert_eq!(p.seed, 7);
    assert_eq!(p.actors, 12);
    assert_eq!(p.sentences, strings(&["DFA", "IEO", "IOM", "ITH", "TAI", "WSI"]));
    assert_eq!(p.emotions, strings(&EMOTIONS));
    assert_eq!(p.levels, strings(&["XX"]));
    assert_eq!(p.inventory, Inventory::Grid);
    assert_eq!(p.missing, 0);
    assert_eq!(p.female_fraction, 0.5);
    assert_eq!(inventory(&p).len(), 12 * 6 * 6);

    // missing keys take their defaults
    let de: MapDeserializer<'_, _, DeError> =
        MapDeserializer::new(vec![("actors", 5u32), ("missing", 3u32)].into_iter());
    let q = SynthParams::deserialize(de).unwrap();
    assert_eq!(q, SynthParams { actors: 5, missing: 3, ..SynthParams::default() });
    // unknown keys are rejected
    let de: MapDeserializer<'_, _, DeError> =
        MapDeserializer::new(vec![("actors", 5u32), ("speakers", 3u32)].into_iter());
    let e = SynthParams::deserialize(de).unwrap_err();
    assert!(e.to_string().contains("speakers"), "{e}");
    // the inventory is spelled in lowercase
    let de: StrDeserializer<'_, DeError> = "cremad".into_deserializer();
    assert_eq!(Inventory::deserialize(de).unwrap(), Inventory::Cremad);
    let de: StrDeserializer<'_, DeError> = "Grid".into_deserializer();
    assert!(Inventory::deserialize(de).is_err());
}

/// Median autocorrelation f0 (Hz) over the loud frames of a clip.
fn f0_estimate(x: &[f64]) -> f64 {
    let n = 640;
    let hop = 160;
    let frames: Vec<&[f64]> = x.windows(n).step_by(hop).collect();
    let energy: Vec<f64> = frames.iter().map(|f| f.iter().map(|v| v * v).sum()).collect();
    let emax = energy.iter().cloned().fold(0.0, f64::max);
    let (lo, hi) = (16_000 / 400, 16_000 / 60);
    let mut f0s = Vec::new();
    for (f, e) in frames.iter().zip(&energy) {
        if *e < 0.05 * emax {
            continue;
        }
        let r0: f64 = f.iter().map(|v| v * v).sum();
        let mut best = (0.0, 0);
        for lag in lo..=hi {
            let r: f64 = (0..n - lag).map(|i| f[i] * f[i + lag]).sum::<f64>() / r0;
            if r > best.0 {
                best = (r, lag);
            }
        }
        if best.0 > 0.5 {
            f0s.push(16_000.0 / best.1 as f64);
        }
    }
    assert!(f0s.len() >= 5, "too few voiced frames");
    f0s.sort_by(f64::total_cmp);
    f0s[f0s.len() / 2]
}

fn rms_db(x: &[f64]) -> f64 {
    10.0 * (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).log10()
}

#[test]
fn acoustic_sanity() {
    let p = SynthParams {
        actors: 8,
        sentences: strings(&["IEO", "TAI", "WSI"]),
        emotions: strings(&["ANG", "NEU", "SAD"]),
        ..SynthParams::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("c");
    let s = generate(&p, &out).unwrap();
    let csv = fs::read_to_string(out.join("VideoDemographics.csv")).unwrap();
    let female: HashMap<String, bool> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[2] == "\"Female\"")
        })
        .collect();
    assert_eq!(female.values().filter(|f| **f).count(), 4, "female_fraction 0.5");

    let mut durs = Vec::new();
    let (mut ang, mut sad) = (Vec::new(), Vec::new());
    for name in inventory(&p) {
        let (_, x) = read_wav(&out.join("AudioWAV").join(&name));
        let d = x.len() as f64 / 16_000.0;
        durs.push(d);
        let peak = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(peak < 0.99 && peak > 0.2, "{name}: peak {peak}");
        // lead/trail are low-level noise, not digital silence
        let lead = &x[..1600];
        assert!(lead.iter().any(|v| *v != 0.0), "{name}: digital silence");
        assert!(rms_db(lead) < -40.0, "{name}: lead too loud");
        let actor = &name[..4];
        let emo = &name[9..12];
        if emo == "NEU" {
            let f0 = f0_estimate(&x);
            if female[actor] {
                assert!((150.0..=280.0).contains(&f0), "{name} female f0 {f0}");
            } else {
                assert!((75.0..=160.0).contains(&f0), "{name} male f0 {f0}");
            }
        }
        if emo == "ANG" {
            ang.push(rms_db(&x));
        } else if emo == "SAD" {
            sad.push(rms_db(&x));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean(&ang) > mean(&sad) + 3.0, "ANG {:.1} dB vs SAD {:.1} dB", mean(&ang), mean(&sad));
    let avg = mean(&durs);
    assert!((2.0..=3.0).contains(&avg), "average duration {avg}");
    for d in &durs {
        assert!((1.2..=5.0).contains(d), "duration {d}");
    }
    assert!((s.audio_seconds / s.clips as f64 - avg).abs() < 1e-9);
}
