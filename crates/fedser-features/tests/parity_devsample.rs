//! Parity of the full 6,373-column extraction against openSMILE's
//! functionals for the 216 dev-sample clips
//! (`/work/shared/data/dev-sample-opensmile/compare16.parquet`, produced by
//! the `opensmile` Python package from `/work/shared/data/dev-sample/AudioWAV`).

mod common;

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;

use arrow_array::{Array, Float32Array, LargeStringArray, RecordBatch};
use fedser_features::dsp::{self, Compare16};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

fn data_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    assert!(
        d.join("dev-sample-opensmile/compare16.parquet").exists(),
        "{} is missing: this test needs /work/shared/data",
        d.display()
    );
    d
}

fn read_wav(p: &std::path::Path) -> Vec<f32> {
    let mut r = hound::WavReader::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let spec = r.spec();
    assert_eq!((spec.channels, spec.sample_rate, spec.bits_per_sample), (1, 16000, 16));
    r.samples::<i16>().map(|s| (s.expect("wav sample") as f64 / 32767.0) as f32).collect()
}

/// The tolerance rule of spec section 9, shared with `parity_compare16.rs`.
fn tol(name: &str, want: &HashMap<&str, f64>) -> (f64, f64) {
    common::functional_tolerance(name, |k| want.get(k).copied())
}

/// Functionals of the jitter, shimmer and log-HNR contours.
fn is_voice_quality(name: &str) -> bool {
    ["jitterLocal_", "jitterDDP_", "shimmerLocal_", "logHNR_"].iter().any(|p| name.starts_with(p))
}

#[test]
fn devsample_functionals() {
    let dir = data_dir();
    let f = File::open(dir.join("dev-sample-opensmile/compare16.parquet")).expect("open parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(f).expect("parquet").build().expect("reader");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    let names = dsp::compare16_names();
    let mut ex = Compare16::new();
    let (mut pass, mut total, mut clips_ok, mut nclips) = (0usize, 0usize, 0usize, 0usize);
    let mut fail_by_col: HashMap<&str, usize> = HashMap::new();
    let mut fail_by_clip: Vec<(usize, String)> = Vec::new();
    let mut examples: Vec<String> = Vec::new();
    let mut vq_fail = 0usize;
    let mut exact = 0usize;
    let mut secs = 0f64;
    let t0 = std::time::Instant::now();
    for b in &batches {
        let files =
            b.column_by_name("file").and_then(|c| c.as_any().downcast_ref::<LargeStringArray>()).expect("file column");
        let cols: Vec<&Float32Array> = names
            .iter()
            .map(|n| {
                b.column_by_name(n)
                    .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
                    .unwrap_or_else(|| panic!("column {n}"))
            })
            .collect();
        for r in 0..b.num_rows() {
            let file = files.value(r);
            let base = file.rsplit('/').next().unwrap_or(file);
            let x = read_wav(&dir.join("dev-sample/AudioWAV").join(base));
            secs += x.len() as f64 / 16000.0;
            let got = ex.extract(&x);
            let want: HashMap<&str, f64> =
                names.iter().zip(cols.iter()).map(|(n, c)| (*n, c.value(r) as f64)).collect();
            let mut nfail = 0;
            for (i, n) in names.iter().enumerate() {
                let w = cols[i].value(r) as f64;
                let g = got[i] as f64;
                let (rel, abs) = tol(n, &want);
                total += 1;
                if got[i].to_bits() == cols[i].value(r).to_bits() || got[i] == cols[i].value(r) {
                    exact += 1;
                }
                if w.is_nan() || (g - w).abs() <= rel * w.abs() + abs {
                    pass += 1;
                } else {
                    nfail += 1;
                    *fail_by_col.entry(n).or_default() += 1;
                    if is_voice_quality(n) {
                        vq_fail += 1;
                    }
                    examples.push(format!("{base} {n}: got {g:e} want {w:e}"));
                }
            }
            nclips += 1;
            if nfail == 0 {
                clips_ok += 1;
            } else {
                fail_by_clip.push((nfail, base.to_string()));
            }
        }
    }
    let el = t0.elapsed().as_secs_f64();
    println!(
        "dev-sample: {nclips} clips ({secs:.1} s audio, extraction+compare {el:.2} s); {pass}/{total} values within tolerance ({:.4}%), {clips_ok} clips fully within",
        100.0 * pass as f64 / total as f64
    );
    let mut cols: Vec<_> = fail_by_col.into_iter().collect();
    cols.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (n, c) in cols.iter().take(25) {
        println!("  {n}: {c} clips out of tolerance");
    }
    fail_by_clip.sort();
    fail_by_clip.reverse();
    for (c, n) in fail_by_clip.iter().take(10) {
        println!("  clip {n}: {c} columns out of tolerance");
    }
    if std::env::var_os("DEVSAMPLE_VERBOSE").is_some() {
        for e in &examples {
            println!("  {e}");
        }
    }
    println!("  voice-quality (jitter, shimmer, logHNR) values out of tolerance: {vq_fail}");
    println!("  bit-identical to openSMILE: {exact}/{total} values");
    assert_eq!(nclips, 216);
    // The period tracker carries its state from frame to frame, so one wrong
    // period decision shifts every later frame of the clip (a correlation of
    // a constant window taken as 0 instead of openSMILE's 0 / 0 = NaN once
    // put 112 of these values out of tolerance). Measured now: 0.
    assert!(vq_fail == 0, "{vq_fail} jitter/shimmer/logHNR values out of tolerance");
    // With openSMILE's float32 FFT and its precision and order in every later
    // step, every value is bit-identical to openSMILE's (measured: all
    // 1,376,568; with a double FFT 162 values were even out of tolerance,
    // chaotic `lpc*` functionals and decisions at rounding ties). A
    // different libm (logf, expf, sinf are called as openSMILE calls them)
    // could move a rare last bit: allow 0.01 % of the values to differ, and
    // 5 values out of tolerance.
    assert!(exact as f64 >= 0.9999 * total as f64, "only {exact}/{total} values bit-identical to openSMILE");
    assert!(pass + 5 >= total, "only {pass}/{total} within tolerance");
}

/// eGeMAPSv02 on every 6th dev-sample clip (36 clips) against
/// `dev-sample-opensmile/egemaps02.parquet`. Tolerance per value:
/// 1e-3 relative plus 1e-3 of the column's mean |openSMILE value| over the
/// clips checked, for every column (the formant-dependent ones included:
/// with a double FFT the order-11 float LPC moved their functionals by up to
/// 4.5e-2 relative and they needed 1e-1). Requires every value within
/// tolerance and 99.9 % bit-identical to openSMILE (measured: all 3,168
/// bit-identical; the slack is for a different libm, see
/// `devsample_functionals`).
#[test]
fn devsample_egemaps_subset() {
    let dir = data_dir();
    let f = File::open(dir.join("dev-sample-opensmile/egemaps02.parquet")).expect("open parquet");
    let reader = ParquetRecordBatchReaderBuilder::try_new(f).expect("parquet").build().expect("reader");
    let batches: Vec<RecordBatch> = reader.map(|b| b.expect("batch")).collect();
    let names = dsp::egemaps_names();
    let mut ex = dsp::Egemaps::new();
    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    for b in &batches {
        let files =
            b.column_by_name("file").and_then(|c| c.as_any().downcast_ref::<LargeStringArray>()).expect("file column");
        let cols: Vec<&Float32Array> = names
            .iter()
            .map(|n| {
                b.column_by_name(n)
                    .and_then(|c| c.as_any().downcast_ref::<Float32Array>())
                    .unwrap_or_else(|| panic!("column {n}"))
            })
            .collect();
        for r in 0..b.num_rows() {
            rows.push((files.value(r).to_string(), cols.iter().map(|c| c.value(r) as f64).collect()));
        }
    }
    assert_eq!(rows.len(), 216);
    let subset: Vec<&(String, Vec<f64>)> = rows.iter().step_by(6).collect();
    let floor: Vec<f64> = (0..names.len())
        .map(|j| 1e-3 * subset.iter().map(|r| r.1[j].abs()).sum::<f64>() / subset.len() as f64)
        .collect();
    let (mut pass, mut total, mut exact) = (0usize, 0usize, 0usize);
    let mut worst_clip = (usize::MAX, String::new());
    let mut fails: HashMap<&str, usize> = HashMap::new();
    let mut worst_rel: HashMap<&str, f64> = HashMap::new();
    for (file, want) in &subset {
        let base = file.rsplit('/').next().unwrap_or(file);
        let got = ex.extract(&read_wav(&dir.join("dev-sample/AudioWAV").join(base)));
        let mut ok = 0;
        for (j, n) in names.iter().enumerate() {
            let (g, w) = (got[j] as f64, want[j]);
            if got[j].to_bits() == (w as f32).to_bits() || got[j] == w as f32 {
                exact += 1;
            }
            if w.is_nan() || (g - w).abs() <= 1e-3 * w.abs() + floor[j] {
                ok += 1;
            } else {
                *fails.entry(n).or_default() += 1;
                let r = (g - w).abs() / (w.abs() + floor[j] * 1e3);
                let e = worst_rel.entry(n).or_default();
                *e = e.max(r);
            }
        }
        pass += ok;
        total += names.len();
        if ok < worst_clip.0 {
            worst_clip = (ok, base.to_string());
        }
    }
    println!(
        "eGeMAPS dev-sample subset: {} clips, {pass}/{total} values within tolerance, {exact} bit-identical; worst clip {} with {}/{}",
        subset.len(),
        worst_clip.1,
        worst_clip.0,
        names.len()
    );
    let mut f: Vec<_> = fails.into_iter().collect();
    f.sort_by_key(|e| std::cmp::Reverse(e.1));
    for (n, c) in f.iter().take(10) {
        println!("  {n}: {c} clips out of tolerance, worst relative error {:.2e}", worst_rel[n]);
    }
    assert_eq!(pass, total, "clip {} has only {}/88 within tolerance", worst_clip.1, worst_clip.0);
    assert!(exact * 1000 >= 999 * total, "only {exact}/{total} values bit-identical to openSMILE");
}
