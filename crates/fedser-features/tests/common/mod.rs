//! Shared by the parity tests: reference readers, the tolerance report and
//! the functional tolerance rule of spec section 9.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

/// `(relative, absolute)` tolerance for a ComParE functional `name`, given
/// the reference value of any functional (`want("x_range")`).
///
/// 1e-4 relative plus an absolute floor of 1e-5 in the functional's natural
/// scale, i.e. the reference range of the contour for value-valued
/// functionals (percentiles and means of a contour crossing zero inherit the
/// contour's absolute LLD error, not a relative one), range x 100 for
/// per-second slopes, and 1 for dimensionless ones (positions, times,
/// moments, normalised regression).
pub fn functional_tolerance(name: &str, want: impl Fn(&str) -> Option<f64>) -> (f64, f64) {
    let (contour, f) = name.rsplit_once('_').unwrap_or(("", name));
    let range = want(&format!("{contour}_range")).unwrap_or(1.0).abs();
    let scale = match f {
        "range" | "quartile1" | "quartile2" | "quartile3" | "iqr1-2" | "iqr2-3" | "iqr1-3" | "percentile1.0"
        | "percentile99.0" | "pctlrange0-1" | "stddev" | "amean" | "rqmean" | "posamean" | "peakRangeAbs"
        | "peakMeanAbs" | "peakMeanMeanDist" => range,
        "meanRisingSlope" | "stddevRisingSlope" | "meanFallingSlope" | "stddevFallingSlope" => range * 100.0,
        _ => 1.0,
    };
    if f.starts_with("lpc") || f == "lpgain" {
        // Float autocorrelation + Levinson on smooth contours is ill-conditioned:
        // the ~1e-7 relative LLD differences caused by openSMILE's float FFT grow
        // to 1e-3..1e-2 relative (spec section 9). Exactness of the LPC itself is
        // checked on openSMILE's own contours (functionals_on_reference_contours_*).
        let gain_scale = if f == "lpgain" { range * range } else { 1.0 };
        (2e-2, 1e-3 * gain_scale)
    } else if f == "flatness" {
        // Geometric mean of logs of values close to 0 amplifies LLD noise.
        (1e-3, 1e-5)
    } else {
        (1e-4, 1e-5 * scale)
    }
}

pub fn spec_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec");
    assert!(
        d.join("compare16.md").exists(),
        "reference folder {} is missing: the parity tests need /work/shared/spec",
        d.display()
    );
    d
}

pub fn read_wav(name: &str) -> Vec<f32> {
    let p = spec_dir().join(name);
    let mut r = hound::WavReader::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let spec = r.spec();
    assert_eq!(spec.channels, 1);
    assert_eq!(spec.sample_rate, 16000);
    assert_eq!(spec.bits_per_sample, 16);
    r.samples::<i16>().map(|s| (s.expect("wav sample") as f64 / 32767.0) as f32).collect()
}

/// A CSV table: header and rows of optional values (blank cells are None).
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Option<f64>>>,
}

impl Table {
    pub fn col(&self, name: &str) -> usize {
        self.header.iter().position(|h| h == name).unwrap_or_else(|| panic!("column {name} not in reference"))
    }
}

pub fn read_csv_gz(name: &str) -> Table {
    let p = spec_dir().join(name);
    let f = std::fs::File::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut s = String::new();
    flate2::read::GzDecoder::new(f).read_to_string(&mut s).expect("gunzip");
    let mut lines = s.lines();
    let header = lines.next().expect("header").split(',').map(str::to_string).collect();
    let rows = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|c| if c.trim().is_empty() { None } else { Some(c.trim().parse::<f64>().expect("number")) })
                .collect()
        })
        .collect();
    Table { header, rows }
}

pub fn read_functionals(name: &str) -> HashMap<String, f64> {
    let p = spec_dir().join(name);
    let s = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    s.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (n, v) = l.rsplit_once(',').expect("name,value");
            (n.to_string(), v.trim().parse::<f64>().expect("value"))
        })
        .collect()
}

/// Tolerance `|got - want| <= rel * |want| + abs`.
#[derive(Clone, Copy)]
pub struct Tol {
    pub rel: f64,
    pub abs: f64,
}

impl Tol {
    pub fn ok(&self, got: f64, want: f64) -> bool {
        (got - want).abs() <= self.rel * want.abs() + self.abs
    }
}

/// Accumulates per-column results and prints a summary.
#[derive(Default)]
pub struct Report {
    pub pass: usize,
    pub total: usize,
    pub failures: Vec<String>,
    worst: Vec<(f64, String)>,
}

impl Report {
    pub fn check(&mut self, name: &str, got: f64, want: f64, tol: Tol) -> bool {
        self.total += 1;
        let err = (got - want).abs();
        let scaled = err / (tol.rel * want.abs() + tol.abs).max(1e-300);
        self.worst.push((scaled, format!("{name}: got {got:e} want {want:e} (|err| {err:.3e})")));
        if tol.ok(got, want) {
            self.pass += 1;
            true
        } else {
            self.failures.push(format!("{name}: got {got:e} want {want:e}"));
            false
        }
    }

    /// Bit-identity check: `want` is a float printed with 9 significant
    /// digits (which round-trips), so rounded to f32 it must have exactly
    /// the bits of `got` (NaN matches NaN). The worst list ranks misses by
    /// their distance in float ulps.
    pub fn check_exact(&mut self, name: &str, got: f32, want: f64) -> bool {
        self.total += 1;
        let w = want as f32;
        let same = got.to_bits() == w.to_bits() || got == w || (got.is_nan() && w.is_nan());
        let ulps = (got.to_bits() as i64 - w.to_bits() as i64).unsigned_abs() as f64;
        self.worst.push((if same { 0.0 } else { ulps }, format!("{name}: got {got:e} want {w:e} ({ulps} ulp)")));
        if same {
            self.pass += 1;
        } else {
            self.failures.push(format!("{name}: got {got:e} want {w:e} ({ulps} ulp)"));
        }
        same
    }

    pub fn finish(mut self, what: &str) {
        self.worst.sort_by(|a, b| b.0.total_cmp(&a.0));
        println!("{what}: {}/{} passed", self.pass, self.total);
        for (s, w) in self.worst.iter().take(8).filter(|(s, _)| *s > 0.0) {
            println!("  worst ({s:.3}): {w}");
        }
        assert!(
            self.failures.is_empty(),
            "{what}: {} failures, first: {:#?}",
            self.failures.len(),
            &self.failures[..self.failures.len().min(20)]
        );
    }
}
