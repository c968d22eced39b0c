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
    assert_eq!(nclips, 216);
    // The period tracker carries its state from frame to frame, so one wrong
    // period decision shifts every later frame of the clip: a correlation of
    // a constant window taken as 0 instead of openSMILE's 0 / 0 = NaN (a
    // spurious peak next to digital silence) put 112 of these values out of
    // tolerance, most of them of clip 1002_IWL_HAP_XX. Measured now: 2
    // (jitterLocal_sma_de_qregc2 of two clips, a quadratic-regression
    // coefficient of a delta contour).
    assert!(vq_fail <= 4, "{vq_fail} jitter/shimmer/logHNR values out of tolerance");
    // Borderline integer decisions (pitch path, peak lists, segment
    // boundaries) may flip for a few clips, and the float LPC functionals
    // are ill-conditioned (spec section 9): require 99.98% (measured
    // 99.9882%, 162 of 1,376,568 values out of tolerance).
    assert!(pass as f64 >= 0.9998 * total as f64, "only {pass}/{total} within tolerance");
}

/// eGeMAPSv02 on every 6th dev-sample clip (36 clips) against
/// `dev-sample-opensmile/egemaps02.parquet`. Tolerance per value:
/// 1e-3 relative plus 1e-3 of the column's mean |openSMILE value| over the
/// clips checked; 1e-1 relative for the 20 formant-dependent columns (F1-F3
/// frequency, bandwidth, amplitude, and H1-A3, which picks its harmonic by
/// F3): the order-11 float LPC is ill-conditioned (see `parity_egemaps.rs`),
/// and on speech its functionals differ by up to 4.5e-2 relative (bandwidth
/// stddevNorm), 1.8e-2 for means, 8e-3 for H1-A3.
/// Requires at most one value per clip out of tolerance and 99.9 % overall
/// (measured: 3,167/3,168; the miss is F1bandwidth_sma3nz_stddevNorm of one
/// clip).
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
    let (mut pass, mut total) = (0usize, 0usize);
    let mut worst_clip = (usize::MAX, String::new());
    let mut fails: HashMap<&str, usize> = HashMap::new();
    let mut worst_rel: HashMap<&str, f64> = HashMap::new();
    for (file, want) in &subset {
        let base = file.rsplit('/').next().unwrap_or(file);
        let got = ex.extract(&read_wav(&dir.join("dev-sample/AudioWAV").join(base)));
        let mut ok = 0;
        for (j, n) in names.iter().enumerate() {
            let (g, w) = (got[j] as f64, want[j]);
            let formant =
                n.starts_with("F1") || n.starts_with("F2") || n.starts_with("F3") || n.starts_with("logRelF0-H1-A3");
            let rel = if formant { 1e-1 } else { 1e-3 };
            if w.is_nan() || (g - w).abs() <= rel * w.abs() + floor[j] {
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
        "eGeMAPS dev-sample subset: {} clips, {pass}/{total} values within tolerance; worst clip {} with {}/{}",
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
    assert!(worst_clip.0 + 1 >= names.len(), "clip {} has only {}/88 within tolerance", worst_clip.1, worst_clip.0);
    assert!(pass * 1000 >= 999 * total, "only {pass}/{total} values within tolerance");
}
