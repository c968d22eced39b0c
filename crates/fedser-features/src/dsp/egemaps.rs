//! eGeMAPS v02 (88 functionals) following `shared/spec/egemaps.md`.
//!
//! Reuses the ComParE blocks where the spec says they are the same: framing
//! and FFT ([`Framer`]), the auditory spectrum and MFCCs ([`F20Analyzer`]),
//! the SHS pitch candidates and Viterbi tracker (candidate range [55, 1000]
//! Hz, buffer 40), the energy gate and the jitter/shimmer period tracker
//! (relative search range 0.10). New here: alpha ratio, Hammarberg index,
//! dB spectral slopes, the 0-5 kHz flux, the ACF harmonics-to-noise ratio,
//! harmonic levels (H1-H2, H1-A3, formant amplitudes) and the LPC formant
//! tracker on a frame resampled to 11 kHz.

// Index loops mirror the spec's formulas bin by bin.
#![allow(clippy::needless_range_loop)]

use std::sync::OnceLock;

use rustfft::num_complex::Complex;

use super::contour::smooth3;
use super::framing::{self, Framer, HOP, LEN20, LEN60, NBINS20, NBINS60, NFFT20, NFFT60};
use super::functionals::{self, FuncScratch};
use super::lld::{F20Analyzer, NBANDS, NRAW20};
use super::ooura::RealFft;
use super::pitch::{self, smooth_nz, smooth_nz_at};

/// Bump when output values change (recipe version, feeds the cache key).
pub const EGEMAPS02_VERSION: u32 = 2;

/// The 88 eGeMAPSv02 functional names in openSMILE's order.
const ALL_NAMES: &str = include_str!("../../data/egemaps_names.txt");

/// Names of the 88 eGeMAPSv02 functionals in openSMILE's order.
pub fn egemaps_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| ALL_NAMES.lines().map(str::trim).filter(|l| !l.is_empty()).collect())
}

/// Names of the 25 LLD-level contours (`LowLevelDescriptors` of openSMILE).
pub const LLD_NAMES: [&str; 25] = [
    "Loudness_sma3",
    "alphaRatio_sma3",
    "hammarbergIndex_sma3",
    "slope0-500_sma3",
    "slope500-1500_sma3",
    "spectralFlux_sma3",
    "mfcc1_sma3",
    "mfcc2_sma3",
    "mfcc3_sma3",
    "mfcc4_sma3",
    "F0semitoneFrom27.5Hz_sma3nz",
    "jitterLocal_sma3nz",
    "shimmerLocaldB_sma3nz",
    "HNRdBACF_sma3nz",
    "logRelF0-H1-H2_sma3nz",
    "logRelF0-H1-A3_sma3nz",
    "F1frequency_sma3nz",
    "F1bandwidth_sma3nz",
    "F1amplitudeLogRelF0_sma3nz",
    "F2frequency_sma3nz",
    "F2bandwidth_sma3nz",
    "F2amplitudeLogRelF0_sma3nz",
    "F3frequency_sma3nz",
    "F3bandwidth_sma3nz",
    "F3amplitudeLogRelF0_sma3nz",
];

/// Number of F20-rate LLDs (set E: loudness .. mfcc4).
pub const N_E: usize = 10;
/// Number of F60-rate voice LLDs (set F: F0 semitone .. F3 amplitude).
pub const N_F: usize = 15;

const DF20: f64 = 31.25;
const DF60: f64 = 15.625;
const FLOOR: f32 = 1e-14;
/// Column of `audspec_lengthL1norm` (= Loudness) in the ComParE raw F20 row.
const RAW_LOUDNESS: usize = 1;
/// Column of `mfcc[1]` in the ComParE raw F20 row.
const RAW_MFCC1: usize = 3 + NBANDS + 15;
/// Formant LPC order and resampled frame length (11 kHz, 20 ms).
const LPC_ORDER: usize = 11;
const NRES: usize = 220;
const RES_PERIOD: usize = 352;
const RES_BINS: usize = 110;
const NHARM: usize = 100;

/// Per-clip eGeMAPS contours (for parity tests, inspection and LLD output).
#[derive(Debug, Clone, Default)]
pub struct EgemapsContours {
    /// Number of F20 frames.
    pub n20: usize,
    /// Number of F60 frames.
    pub n60: usize,
    /// Number of F60 frames decided online by the (buffer-40) Viterbi tracker.
    pub p: usize,
    /// Raw set E LLDs (loudness .. mfcc4, `n20` frames each).
    pub raw_e: Vec<Vec<f32>>,
    /// Raw set F LLDs (F0 semitone .. F3 amplitude, `n60` frames each) as in
    /// openSMILE's LLD output (formants also in unvoiced frames).
    pub raw_f: Vec<Vec<f32>>,
    /// The 25 LLD-level contours in [`LLD_NAMES`] order, `n60 + 1` frames
    /// each (empty if `n60 = 0`).
    pub lld: Vec<Vec<f32>>,
    /// Mean raw F20 frame energy `sum x^2 / 320` (for the Leq).
    pub mean_energy: f64,
}

/// One candidate harmonic of the F60 spectrum.
#[derive(Clone, Copy, Default)]
struct Harmonic {
    found: bool,
    /// Magnitude of the peak bin.
    mag: f32,
    /// Interpolated (parabola vertex) frequency in Hz.
    freq: f32,
    /// Interpolated magnitude.
    mag_interp: f32,
    /// Level relative to harmonic 0 in dB (-200 / -201 floors).
    rel: f32,
}

/// Reusable per-thread eGeMAPS v02 extractor (FFT plans, tables and scratch).
pub struct Egemaps {
    f20: Framer,
    f60: Framer,
    ana: F20Analyzer,
    shs: pitch::Shs,
    /// openSMILE's float real FFT of size NFFT60 (the inverse gives the ACF).
    acf_fft: RealFft,
    acf_buf: Vec<f32>,
    acf: Vec<f32>,
    vq: Vec<pitch::VoiceQuality>,
    mag20: Vec<f32>,
    prev20: Vec<f32>,
    power: Vec<f32>,
    mag60: Vec<f32>,
    mags60: Vec<f32>,
    /// Frame energies (scratch, see [`framing::windowed_energies`]).
    esum: Vec<f64>,
    formants: Vec<[f32; 6]>,
    harm: Vec<Harmonic>,
    row: [f32; NRAW20],
    cands: Vec<pitch::Candidates>,
    e60: Vec<f32>,
    f0: Vec<f32>,
    c: EgemapsContours,
    tmp: Vec<f32>,
    tmp2: Vec<f32>,
    fs: FuncScratch,
}

impl Default for Egemaps {
    fn default() -> Self {
        Self::new()
    }
}

/// Resampling tables of the formant frame: for k in 1..110 (rows) and
/// i in 0..220 (columns), `cos` and `sin` of `(2 pi (k i)) / 352` computed
/// in double without reducing the argument (as openSMILE's
/// `smileDsp_initIrdft`; 352 = 512 * 11000 / 16000 is exact there), stored
/// as f32, shared by all extractors.
fn res_tables() -> &'static (Vec<f32>, Vec<f32>) {
    static T: OnceLock<(Vec<f32>, Vec<f32>)> = OnceLock::new();
    T.get_or_init(|| {
        let pi2 = 2.0 * std::f64::consts::PI;
        let mut tc = Vec::with_capacity((RES_BINS - 1) * NRES);
        let mut ts = Vec::with_capacity((RES_BINS - 1) * NRES);
        for k in 1..RES_BINS {
            for i in 0..NRES {
                let a = pi2 * (k * i) as f64 / RES_PERIOD as f64;
                tc.push(a.cos() as f32);
                ts.push(a.sin() as f32);
            }
        }
        (tc, ts)
    })
}

/// Nearest-bin function of the harmonic search: first bin `b >= start` with
/// `f_b > f`; `b - 1` if that is closer, else `b`; 0 if there is none.
fn nearest_bin(f: f64, start: usize) -> usize {
    if f.is_nan() {
        return 0;
    }
    // First bin with b * DF60 > f (b * DF60 is exact), found in closed form
    // and corrected for the rounding of f / DF60; then not below `start`.
    let mut b = ((f / DF60).floor().max(0.0) as usize).saturating_add(1);
    while b > 1 && (b - 1) as f64 * DF60 > f {
        b -= 1;
    }
    while b < NBINS60 && b as f64 * DF60 <= f {
        b += 1;
    }
    let b = b.max(start.max(1));
    if b >= NBINS60 {
        return 0;
    }
    let (fb, fp) = (b as f64 * DF60, (b - 1) as f64 * DF60);
    if fb - f > f - fp {
        b - 1
    } else {
        b
    }
}

fn is_peak(m: &[f32], k: usize) -> bool {
    // cHarmonics::isPeak: the end bins need one smaller neighbour only.
    let n = m.len();
    if k >= n {
        false
    } else if k + 1 < n {
        if k > 0 {
            m[k] > m[k - 1] && m[k] > m[k + 1]
        } else {
            m[0] > m[1]
        }
    } else {
        k > 0 && m[k] > m[k - 1]
    }
}

/// dB spectral slope over `[lo, hi]` Hz of the F20 power spectrum (spec 2).
fn db_slope(p: &[f32], lo: f64, hi: f64) -> f32 {
    let n = p.len();
    let fk = |k: usize| k as f64 * DF20;
    // cSpectral's log power spectrum: f32(10 / ln 10) * logf(P) in float
    // (C++ `log(float)`, as f32::ln), -140 at or below the floor.
    let log_factor = (10.0 / 10f64.ln()) as f32;
    let l = |k: usize| -> f64 {
        if p[k] <= FLOOR {
            -140.0
        } else {
            (log_factor * p[k].ln()) as f64
        }
    };
    let i = (0..n).find(|&k| fk(k) > lo).unwrap_or(n - 1).max(1);
    let kl = i - 1;
    let mut wl = (fk(i) - lo) / DF20;
    let j = (0..n).find(|&k| fk(k) >= hi).unwrap_or(n - 1).max(1);
    let mut wr = (hi - fk(j - 1)) / DF20;
    let kr = if fk(j) == hi { j } else { j - 1 };
    if wl == 0.0 {
        wl = 1.0;
    }
    if wr == 0.0 {
        wr = 1.0;
    }
    // The sums in cSpectral's order: left end, inner bins, right end.
    let mut sf = fk(kl) * wl;
    let mut s2f = sf * sf;
    let mut sfl = fk(kl) * wl * l(kl);
    let mut sl = wl * l(kl);
    for k in kl + 1..kr {
        let f = fk(k);
        let lk = l(k);
        s2f += f * f;
        sf += f;
        sfl += f * lk;
        sl += lk;
    }
    s2f += fk(kr) * wr * fk(kr) * wr;
    sf += fk(kr) * wr;
    sfl += fk(kr) * wr * l(kr);
    sl += wr * l(kr);
    let nn = (kr - kl) as f64;
    let den = nn * s2f - sf * sf;
    if den == 0.0 {
        0.0
    } else {
        ((nn * sfl - sf * sl) / den) as f32
    }
}

/// cSpectral's alpha ratio / Hammarberg index `10 log10(num / den)` in dB:
/// `logf` of the float ratio, scaled in double; with a numerator at or
/// below the floor `10 (logf(floor) - logf(den)) / ln 10`; 0 if `den` is 0.
fn db_ratio(num: f32, den: f32) -> f32 {
    let ln10 = 10f64.ln();
    if den <= 0.0 {
        0.0
    } else if num > FLOOR {
        (10.0 * ((num / den).ln() as f64) / ln10) as f32
    } else {
        (10.0 * ((FLOOR.ln() - den.ln()) as f64) / ln10) as f32
    }
}

/// Roots of the monic polynomial with descending coefficients `c`
/// (`c[0] = 1`) by Durand-Kerner iteration with Newton polishing (double).
fn poly_roots(c: &[f64], roots: &mut Vec<Complex<f64>>) {
    let deg = c.len() - 1;
    roots.clear();
    let eval = |z: Complex<f64>| -> (Complex<f64>, Complex<f64>) {
        let mut p = Complex::new(c[0], 0.0);
        let mut d = Complex::new(0.0, 0.0);
        for &ck in &c[1..] {
            d = d * z + p;
            p = p * z + ck;
        }
        (p, d)
    };
    let seed = Complex::new(0.4, 0.9);
    let mut z = Complex::new(1.0, 0.0);
    for _ in 0..deg {
        z *= seed;
        roots.push(z);
    }
    for _ in 0..500 {
        let mut change = 0f64;
        for i in 0..deg {
            let zi = roots[i];
            let (p, _) = eval(zi);
            let mut den = Complex::new(1.0, 0.0);
            for j in 0..deg {
                if j != i {
                    den *= zi - roots[j];
                }
            }
            if den.re == 0.0 && den.im == 0.0 {
                continue;
            }
            let step = p / den;
            roots[i] = zi - step;
            // Squared norm (no hypot call); compared as a norm below.
            change = change.max(step.norm_sqr());
        }
        if change.sqrt() < 1e-15 {
            break;
        }
    }
    for r in roots.iter_mut() {
        for _ in 0..3 {
            let (p, d) = eval(*r);
            if d.re == 0.0 && d.im == 0.0 {
                break;
            }
            let nr = *r - p / d;
            if !nr.re.is_finite() || !nr.im.is_finite() {
                break;
            }
            *r = nr;
        }
    }
}

/// Amean and stddevNorm of `x` (spec 4), appended to `out`.
fn amean_stddev_norm(x: &[f32], out: &mut Vec<f32>) {
    if x.is_empty() {
        out.extend_from_slice(&[0.0, 0.0]);
        return;
    }
    let mean = (x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64) as f32;
    let m = mean as f64;
    let var = x.iter().map(|&v| (v as f64 - m) * (v as f64 - m)).sum::<f64>() / x.len() as f64;
    let sn = if var <= 0.0 {
        0.0
    } else if mean == 0.0 {
        var.sqrt()
    } else {
        var.sqrt() / m
    };
    out.push(mean);
    out.push(if sn.is_finite() { sn as f32 } else { 0.0 });
}

impl Egemaps {
    /// Create an extractor (plans the FFTs and tables once).
    pub fn new() -> Self {
        let f20 = Framer::new(framing::hamming(LEN20), NFFT20);
        let f60 = Framer::new(framing::gaussian(LEN60, 0.4), NFFT60);
        Self {
            f20,
            f60,
            ana: F20Analyzer::new(),
            shs: pitch::Shs::with_range(55.0, 1000.0),
            acf_fft: RealFft::new(NFFT60),
            acf_buf: vec![0.0; NFFT60],
            acf: vec![0.0; NBINS60],
            vq: Vec::new(),
            mag20: vec![0.0; NBINS20],
            prev20: vec![0.0; NBINS20],
            power: vec![0.0; NBINS20],
            mag60: vec![0.0; NBINS60],
            mags60: Vec::new(),
            esum: Vec::new(),
            formants: Vec::new(),
            harm: vec![Harmonic::default(); NHARM],
            row: [0.0; NRAW20],
            cands: Vec::new(),
            e60: Vec::new(),
            f0: Vec::new(),
            c: EgemapsContours::default(),
            tmp: Vec::new(),
            tmp2: Vec::new(),
            fs: FuncScratch::default(),
        }
    }

    /// Set E LLDs of the current F20 frame (magnitudes in `self.mag20`).
    fn frame_e(&mut self, t: usize, out: &mut [f32; N_E]) {
        let p = &mut self.power;
        for (pk, &m) in p.iter_mut().zip(self.mag20.iter()) {
            *pk = m * m;
        }
        out[0] = self.row[RAW_LOUDNESS];
        // Alpha ratio: bins 0..31 (< 1 kHz) and 32..=160 (1-5 kHz).
        let s_lo: f32 = p[..32].iter().sum();
        let s_hi: f32 = p[32..=160].iter().sum();
        out[1] = db_ratio(s_hi, s_lo);
        // Hammarberg index: max below 2 kHz over max in 2-5 kHz.
        let m_lo = p[..64].iter().fold(0f32, |a, &b| a.max(b));
        let m_hi = p[64..=160].iter().fold(0f32, |a, &b| a.max(b));
        out[2] = db_ratio(m_lo, m_hi);
        out[3] = db_slope(p, 0.0, 500.0);
        out[4] = db_slope(p, 500.0, 1500.0);
        out[5] = if t == 0 {
            0.0
        } else {
            let mut s = 0f64;
            for k in 0..160 {
                // cSpectral: the difference of the magnitudes in double.
                let d = self.mag20[k] as f64 - self.prev20[k] as f64;
                s += d * d;
            }
            (s / 160.0).sqrt() as f32
        };
        out[6..10].copy_from_slice(&self.row[RAW_MFCC1..RAW_MFCC1 + 4]);
        self.prev20.copy_from_slice(&self.mag20);
    }

    /// Formants F1-F3 (frequency, bandwidth) of the current F20 frame from
    /// its complex spectrum (spec 2, "Formants").
    fn frame_formants(&self) -> [f32; 6] {
        // Ooura packing: x[2k] = Re X_k, x[2k+1] = -Im X_k.
        let x = self.f20.packed();
        // openSMILE's smileDsp_irdft: y[i] = x0, then for k = 1..109
        // y[i] += x[2k] cos; y[i] += x[2k+1] sin (two f32 additions), then
        // y[i] /= 256. Each y[i] is summed over k in that order, but all
        // 220 outputs advance together over contiguous rows of the table.
        let (tc, ts) = res_tables();
        let mut y = [x[0]; NRES];
        for (k, (c, s)) in tc.chunks_exact(NRES).zip(ts.chunks_exact(NRES)).enumerate() {
            let (re, im) = (x[2 * k + 2], x[2 * k + 3]);
            for ((yi, &ci), &si) in y.iter_mut().zip(c.iter()).zip(s.iter()) {
                *yi += re * ci;
                *yi += im * si;
            }
        }
        for yi in y.iter_mut() {
            *yi /= 256.0;
        }
        let mut a = [0f32; LPC_ORDER + 1];
        let mut out = [0f32; 6];
        if functionals::lpc_coeffs(&y, &mut a).is_none() || a.iter().any(|v| !v.is_finite()) {
            return out;
        }
        let mut c = [0f64; LPC_ORDER + 1];
        c[0] = 1.0;
        for k in 1..=LPC_ORDER {
            c[k] = -(a[k] as f64);
        }
        let mut roots = Vec::with_capacity(LPC_ORDER);
        poly_roots(&c, &mut roots);
        let mut found: Vec<(f64, f64)> = Vec::with_capacity(5);
        for &r in &roots {
            let z = if r.norm() > 1.0 { Complex::new(1.0, 0.0) / r.conj() } else { r };
            if z.im < 0.0 || !z.re.is_finite() || !z.im.is_finite() {
                continue;
            }
            let f = z.im.atan2(z.re).abs() * 11000.0 / (2.0 * std::f64::consts::PI);
            if (50.0..=5450.0).contains(&f) && found.len() < 5 {
                found.push((f, -z.norm().ln() * 11000.0 / std::f64::consts::PI));
            }
        }
        found.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (j, &(f, b)) in found.iter().take(3).enumerate() {
            out[2 * j] = f as f32;
            out[2 * j + 1] = b as f32;
        }
        out
    }

    /// ACF harmonics-to-noise ratio (dB) of F60 magnitudes `m` at F0 `f0 > 0`.
    fn hnr_acf(&mut self, m: &[f32], f0: f32) -> f32 {
        // openSMILE's cAcf (usePower): the f32 power spectrum in Ooura's
        // packing (imaginary parts 0), the inverse float rdft, then
        // |a[j] / 513| in f32.
        let b = &mut self.acf_buf;
        b[0] = m[0] * m[0];
        b[1] = m[NBINS60 - 1] * m[NBINS60 - 1];
        for (k, c) in b[2..].chunks_exact_mut(2).enumerate() {
            c[0] = m[k + 1] * m[k + 1];
            c[1] = 0.0;
        }
        self.acf_fft.inverse(b);
        for (a, &v) in self.acf.iter_mut().zip(b.iter()) {
            *a = (v / NBINS60 as f32).abs();
        }
        let acf = &self.acf;
        let b0 = (16000.0 / f0 as f64).floor() as isize;
        let top = (NBINS60 - 1) as isize;
        let peak = |k: isize| {
            k >= 1 && k < top && acf[k as usize] > acf[k as usize - 1] && acf[k as usize] > acf[k as usize + 1]
        };
        let mut idx: Option<isize> = None;
        if peak(b0) {
            idx = Some(b0);
        } else {
            let mut d = 1isize;
            loop {
                let (l, r) = (b0 - d, b0 + d);
                let l_in = (1..top).contains(&l);
                let r_in = (1..top).contains(&r);
                if !l_in && !r_in {
                    break;
                }
                if l_in && peak(l) {
                    idx = Some(l);
                    break;
                }
                if r_in && peak(r) {
                    idx = Some(r);
                    break;
                }
                d += 1;
            }
        }
        // cHarmonics::getClosestPeak without a peak: compare both ends with
        // the estimate (equal values keep it).
        let b = match idx {
            Some(b) => b as usize,
            None => {
                let (x0, xn, xi) = (acf[0], acf[NBINS60 - 1], acf[b0 as usize]);
                if x0 > xi && xn <= xi {
                    0
                } else if x0 <= xi && xn > xi {
                    NBINS60 - 1
                } else if x0 > xi && xn > xi {
                    if (b0 as usize) < NBINS60 / 2 {
                        0
                    } else {
                        NBINS60 - 1
                    }
                } else {
                    b0 as usize
                }
            }
        };
        if b == 0 {
            return 0.0;
        }
        // computeAcfHnr_dB: the difference in float, the ratio in double.
        let den = (acf[0] - acf[b]) as f64;
        let h = if den == 0.0 { 1e11 } else { acf[b] as f64 / den };
        if h > 1e11 {
            110.0
        } else if h < 1e-9 {
            -90.0
        } else {
            (10.0 * h.log10()) as f32
        }
    }

    /// Harmonic levels of F60 magnitudes `m` at F0 `f0 > 0` into `self.harm`.
    fn harmonics(&mut self, m: &[f32], f0: f32) {
        // cHarmonics::findHarmonicPeaks (frequency-axis branch) and
        // postProcessHarmonics: harmonic frequencies as float products, the
        // vertex by smileMath_quadFrom3pts, levels with log10f.
        let fb = |f: f32, start: usize| nearest_bin(f as f64, start);
        let mut last = fb(0.5f32 * f0, 1);
        let first = fb(0.5f32 * f0, last);
        // The `bin` field: the peak, else the candidate bin (-1 past the end).
        let mut bins = [0isize; NHARM];
        for i in 0..NHARM {
            let mut h = Harmonic { rel: -201.0, ..Default::default() };
            let c = fb((i + 1) as f32 * f0, last);
            if c >= NBINS60 {
                bins[i] = -1;
                self.harm[i] = h;
                continue;
            }
            let mut peak = None;
            if is_peak(m, c) {
                peak = Some(c);
            } else {
                let lo = fb((i as f32 + 0.5) * f0, last) as isize;
                let hi = fb((i as f32 + 1.5) * f0, c) as isize;
                let (mut l, mut r) = (c as isize - 1, c as isize + 1);
                while l >= lo || r <= hi {
                    if r <= hi {
                        if is_peak(m, r as usize) {
                            peak = Some(r as usize);
                            break;
                        }
                        r += 1;
                    }
                    if l >= lo {
                        if l >= 0 && is_peak(m, l as usize) {
                            peak = Some(l as usize);
                            break;
                        }
                        l -= 1;
                    }
                }
            }
            bins[i] = c as isize;
            if let Some(pk) = peak.filter(|&pk| pk >= first && pk < NBINS60 - 1) {
                let fx = |k: usize| k as f64 * DF60;
                let (fv, mv) = pitch::quad_from_3pts(
                    fx(pk - 1),
                    m[pk - 1] as f64,
                    fx(pk),
                    m[pk] as f64,
                    fx(pk + 1),
                    m[pk + 1] as f64,
                );
                bins[i] = pk as isize;
                h = Harmonic { found: true, mag: m[pk], freq: fv as f32, mag_interp: mv as f32, rel: -201.0 };
            }
            self.harm[i] = h;
            last = c;
        }
        let m0 = self.harm[0].mag;
        let log_rel = m0 != 0.0;
        let lm0 = if log_rel { m0.log10() } else { 0.0 };
        self.harm[0].rel = 0.0;
        for i in 1..NHARM {
            let h = &mut self.harm[i];
            h.rel = if !log_rel {
                -201.0
            } else if h.mag_interp > 0.0 {
                ((20.0 * (h.mag_interp.log10() as f64 - lm0 as f64)) as f32).max(-200.0)
            } else {
                -200.0
            };
            if bins[i] == bins[i - 1] {
                bins[i] = 0;
                *h = Harmonic { rel: -201.0, ..Default::default() };
            }
        }
    }

    fn formant_amplitude(&self, f: f32) -> Option<f32> {
        let (lo, hi) = (0.8 * f, 1.2 * f);
        let mut best: Option<&Harmonic> = None;
        let mut best_mag = 0f32;
        for h in self.harm.iter().filter(|h| h.found) {
            if h.freq >= lo && h.freq <= hi && h.mag > best_mag {
                best = Some(h);
                best_mag = h.mag;
            }
        }
        best.map(|h| h.rel)
    }

    /// Compute all raw and LLD-level contours of `x` into `self.c`.
    fn compute(&mut self, x: &[f32]) {
        let n20 = framing::frame_count(x.len(), LEN20);
        let n60 = framing::frame_count(x.len(), LEN60);
        self.c.n20 = n20;
        self.c.n60 = n60;
        self.c.raw_e.resize_with(N_E, Vec::new);
        self.c.raw_f.resize_with(N_F, Vec::new);
        for col in self.c.raw_e.iter_mut() {
            col.clear();
        }
        for col in self.c.raw_f.iter_mut() {
            col.clear();
        }
        self.formants.clear();
        self.ana.reset();
        let mut energy = 0f64;
        let mut e = [0f32; N_E];
        // Frame energies of eight frames at a time (window of ones: the
        // product v * 1.0 is v, so each sum is the frame's own, in order).
        framing::windowed_energies(x, &[1.0; LEN20], n20, &mut self.esum);
        for t in 0..n20 {
            let fr = &x[t * HOP..t * HOP + LEN20];
            let ef = self.esum[t];
            // cEnergy (energy2): the frame value is stored as float.
            energy += (ef / LEN20 as f64) as f32 as f64;
            self.f20.magnitude(fr, &mut self.mag20);
            self.ana.frame_with_energy(ef, LEN20, &self.mag20, &mut self.row);
            self.frame_e(t, &mut e);
            for (col, &v) in self.c.raw_e.iter_mut().zip(e.iter()) {
                col.push(v);
            }
            if t < n60 {
                let f = self.frame_formants();
                self.formants.push(f);
            }
        }
        self.c.mean_energy = if n20 > 0 { energy / n20 as f64 } else { 0.0 };
        // Pitch.
        self.cands.clear();
        self.e60.clear();
        self.mags60.clear();
        framing::windowed_energies(x, self.f60.window(), n60, &mut self.esum);
        for t in 0..n60 {
            let fr = &x[t * HOP..t * HOP + LEN60];
            self.f60.magnitude(fr, &mut self.mag60);
            let en = self.esum[t];
            self.e60.push((en / LEN60 as f64).sqrt() as f32);
            self.mags60.extend_from_slice(&self.mag60);
        }
        // SHS candidates of the frames in groups (side by side, the same
        // values as frame by frame).
        let frames: Vec<&[f32]> = self.mags60.chunks_exact(NBINS60).collect();
        self.shs.candidates_many(&frames, &mut self.cands);
        let (decided, p) = pitch::viterbi_buffered(&self.cands, 40);
        self.c.p = p;
        self.f0.clear();
        for (t, &(f, _)) in decided.iter().enumerate() {
            self.f0.push(if self.e60[t] > 0.001 { f } else { 0.0 });
        }
        pitch::voice_quality_range(x, &self.f0, 0.10, &mut self.vq);
        let mags = std::mem::take(&mut self.mags60);
        for t in 0..n60 {
            let f0 = self.f0[t];
            let fm = self.formants[t];
            let mut row = [0f32; N_F];
            if f0 > 0.0 {
                let m = &mags[t * NBINS60..(t + 1) * NBINS60];
                // cPitchSmootherViterbi: 12 logf(f0 / 27.5) / logf(2) in float
                // (C++ `log(float)`, as f32::ln), threshold compared in double.
                row[0] = if f0 as f64 <= 29.136 { 1.0 } else { 12.0f32 * (f0 / 27.5f32).ln() / 2f32.ln() };
                row[1] = self.vq[t].jitter_local;
                row[2] = (20.0 * (1.0 + self.vq[t].shimmer.min(1.0) as f64).log10()) as f32;
                row[3] = self.hnr_acf(m, f0);
                self.harmonics(m, f0);
                let r1 = self.harm[1].rel;
                let r2 = self.harm[2].rel;
                row[4] = (r1 - r2).clamp(-201.0, 201.0);
                let mut a3 = None;
                for j in 0..3 {
                    let amp = self.formant_amplitude(fm[2 * j]);
                    if j == 2 {
                        a3 = amp;
                    }
                    row[8 + 3 * j] = amp.unwrap_or(0.0);
                }
                row[5] = (r1 - a3.unwrap_or(201.0)).clamp(-201.0, 201.0);
            } else {
                for j in 0..3 {
                    row[8 + 3 * j] = -201.0;
                }
            }
            for j in 0..3 {
                row[6 + 3 * j] = fm[2 * j];
                row[7 + 3 * j] = fm[2 * j + 1];
            }
            for (col, &v) in self.c.raw_f.iter_mut().zip(row.iter()) {
                col.push(if v.is_finite() { v } else { 0.0 });
            }
        }
        self.mags60 = mags;
        // LLD level: set E plain smoothing cut to N60 + 1, set F zero-skipping
        // smoothing with the end-of-input rule at P - 1 and P.
        let c = &mut self.c;
        c.lld.resize_with(N_E + N_F, Vec::new);
        for i in 0..N_E {
            smooth3(&c.raw_e[i], &mut c.lld[i]);
            c.lld[i].truncate(if n60 == 0 { 0 } else { n60 + 1 });
        }
        for i in 0..N_F {
            smooth_nz_cut(&c.raw_f[i], p, &mut c.lld[N_E + i]);
        }
    }

    /// Raw and LLD-level contours of `x` (samples scaled as int16/32767).
    pub fn contours(&mut self, x: &[f32]) -> EgemapsContours {
        self.compute(x);
        self.c.clone()
    }

    /// Extract the 88 eGeMAPSv02 functionals ([`egemaps_names`] order) from
    /// `x` (mono 16 kHz samples scaled as int16/32767). Always returns a
    /// full row of finite values (all zeros for clips shorter than one
    /// 60 ms frame, where openSMILE gives none).
    pub fn extract(&mut self, x: &[f32]) -> Vec<f32> {
        if x.len() < LEN60 {
            // openSMILE outputs no row (the Python wrapper: NaN) for clips
            // shorter than one 60 ms frame; fedser gives a full row of zeros.
            return vec![0.0; egemaps_names().len()];
        }
        self.compute(x);
        let mut out = Vec::with_capacity(88);
        let c = &self.c;
        let (n20, n60, p) = (c.n20, c.n60, c.p);
        let fs = &mut self.fs;
        let voiced: Vec<bool> = c.raw_f[0].iter().map(|&v| v > 1e-6).collect();
        let pre = |v: &[f32], n: usize| -> Vec<f32> { v[..n.min(v.len())].to_vec() };
        // F0 (voiced frames, true raw values at the end) and loudness.
        let mut f0s = Vec::new();
        smooth_nz(&c.raw_f[0], None, &mut f0s);
        let f0p = pre(&f0s, p);
        let f0nz: Vec<f32> = f0p.iter().copied().filter(|&v| v != 0.0).collect();
        ten_functionals(&f0nz, fs, &mut out);
        smooth3(&c.raw_e[0], &mut self.tmp);
        let loud = pre(&self.tmp, n20);
        ten_functionals(&loud, fs, &mut out);
        // Z set: flux, mfcc1-4 (all frames).
        for i in 5..N_E {
            smooth3(&c.raw_e[i], &mut self.tmp2);
            amean_stddev_norm(&self.tmp2[..n20.min(self.tmp2.len())], &mut out);
        }
        // Voiced set: jitter .. F3 amplitude (formant frequencies and
        // bandwidths zeroed when unvoiced; the amplitudes keep their -201
        // there, as openSMILE's reference output shows), end-of-input cut at
        // P, then the voiced spectral set.
        let mut raw = Vec::with_capacity(n60);
        let mut sm = Vec::new();
        for i in 1..N_F {
            let amplitude = i >= 8 && (i - 8) % 3 == 0;
            raw.clear();
            raw.extend(c.raw_f[i].iter().zip(voiced.iter()).map(|(&v, &vo)| if vo || amplitude { v } else { 0.0 }));
            smooth_nz_cut(&raw, p, &mut sm);
            let nz: Vec<f32> = sm[..p.min(sm.len())].iter().copied().filter(|&v| v != 0.0).collect();
            amean_stddev_norm(&nz, &mut out);
        }
        for (vset, range) in [(true, 1..N_E), (false, 1..6)] {
            for i in range {
                raw.clear();
                raw.extend(
                    c.raw_e[i].iter().take(n60).zip(voiced.iter()).map(|(&v, &vo)| if vo == vset { v } else { 0.0 }),
                );
                smooth_nz(&raw, None, &mut sm);
                let nz: Vec<f32> = sm[..p.min(sm.len())].iter().copied().filter(|&v| v != 0.0).collect();
                if vset {
                    amean_stddev_norm(&nz, &mut out);
                } else {
                    let mut two = Vec::with_capacity(2);
                    amean_stddev_norm(&nz, &mut two);
                    out.push(two[0]);
                }
            }
        }
        // Temporal features.
        let secs = |n: usize| n as f32 * 0.01;
        if loud.is_empty() {
            out.push(0.0);
        } else {
            let b = functionals::basic(&loud);
            let mut tmp = Vec::with_capacity(12);
            let k = functionals::peaks2(&loud, &b, fs, &mut tmp);
            out.push(k as f32 / secs(loud.len()));
        }
        for eq in [false, true] {
            functionals::nonx_segments(&f0p, eq, 1000, &mut fs.segs);
            let nseg = fs.segs.len();
            let mut st = Vec::with_capacity(4);
            let segs = std::mem::take(&mut fs.segs);
            functionals::seg_stats(&segs, &mut st);
            fs.segs = segs;
            if !eq {
                out.push(if f0p.is_empty() { 0.0 } else { nseg as f32 / secs(f0p.len()) });
            }
            out.push(st[0]);
            out.push(st[3]);
        }
        // cVectorOperation dBp: f32(10 / ln 10) * logf(x) in float, x
        // floored at f32(1e-12) (-120 dB, openSMILE's value for digital
        // silence).
        let floor = 1e-12f32;
        let e = c.mean_energy as f32;
        let leq = (10.0 / 10f64.ln()) as f32 * if e > floor { e } else { floor }.ln();
        out.push(leq);
        let _ = n60;
        for v in out.iter_mut() {
            if !v.is_finite() {
                *v = 0.0;
            }
        }
        debug_assert_eq!(out.len(), egemaps_names().len());
        out
    }
}

/// Zero-skipping smoothing (`n + 1` frames) with the end-of-input rule:
/// values at indices `p - 1` and `p` are smoothed as if the raw contour
/// ended at `p - 1`.
fn smooth_nz_cut(raw: &[f32], p: usize, out: &mut Vec<f32>) {
    smooth_nz(raw, None, out);
    if p >= 1 {
        for t in [p - 1, p] {
            if t < out.len() {
                out[t] = smooth_nz_at(raw, t, p);
            }
        }
    }
}

/// The 10 functionals of the F0 and loudness blocks: amean, stddevNorm,
/// percentiles 20/50/80, pctlrange0-2 and the four Peaks2 slope statistics.
fn ten_functionals(x: &[f32], fs: &mut FuncScratch, out: &mut Vec<f32>) {
    if x.is_empty() {
        out.extend_from_slice(&[0.0; 10]);
        return;
    }
    amean_stddev_norm(x, out);
    let mut s = x.to_vec();
    s.sort_by(f32::total_cmp);
    let (p20, p50, p80) = (functionals::pctl(&s, 0.2), functionals::pctl(&s, 0.5), functionals::pctl(&s, 0.8));
    out.extend_from_slice(&[p20, p50, p80, (p80 - p20).abs()]);
    let b = functionals::basic(x);
    let mut pk = Vec::with_capacity(12);
    functionals::peaks2(x, &b, fs, &mut pk);
    out.extend_from_slice(&pk[8..12]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_88_and_lld_names_prefix_functionals() {
        let n = egemaps_names();
        assert_eq!(n.len(), 88);
        assert_eq!(n[0], "F0semitoneFrom27.5Hz_sma3nz_amean");
        assert_eq!(n[87], "equivalentSoundLevel_dBp");
    }

    /// The scan of the spec's nearest-bin function (reference for the
    /// closed form).
    fn nearest_bin_scan(f: f64, start: usize) -> usize {
        for b in start.max(1)..NBINS60 {
            let fb = b as f64 * DF60;
            if fb > f {
                let fp = (b - 1) as f64 * DF60;
                return if fb - f > f - fp { b - 1 } else { b };
            }
        }
        0
    }

    #[test]
    fn nearest_bin_matches_the_scan() {
        let mut fs: Vec<f64> = vec![-3.0, 0.0, 7.8125, 15.625, 15.625 * 512.0, 8000.0, 9000.0, f64::INFINITY, f64::NAN];
        // Exact bin frequencies, midpoints, their float neighbours and a dense sweep.
        for b in 0..NBINS60 + 2 {
            for f in [b as f64 * DF60, (b as f64 + 0.5) * DF60] {
                fs.extend([f, f.next_up(), f.next_down()]);
            }
        }
        fs.extend((0..20_000).map(|i| i as f64 * 0.4137));
        for &f in &fs {
            for start in [0, 1, 2, 7, 100, 511, 512, 513, 600] {
                assert_eq!(nearest_bin(f, start), nearest_bin_scan(f, start), "f {f} start {start}");
            }
        }
    }

    #[test]
    fn poly_roots_recover_known_roots() {
        // (z - 0.5)(z^2 - 2 r cos(w) z + r^2) with r = 0.9, w = 1.
        let (r, w) = (0.9f64, 1.0f64);
        let b = -2.0 * r * w.cos();
        let c = [1.0, b - 0.5, r * r - 0.5 * b, -0.5 * r * r];
        let mut roots = Vec::new();
        poly_roots(&c, &mut roots);
        let mut ims: Vec<f64> = roots.iter().map(|z| z.im).collect();
        ims.sort_by(f64::total_cmp);
        assert!((ims[2] - r * w.sin()).abs() < 1e-12, "{roots:?}");
        assert!(roots.iter().any(|z| (z.re - 0.5).abs() < 1e-12 && z.im.abs() < 1e-12), "{roots:?}");
    }

    #[test]
    fn db_slope_reproduces_the_n_quirk() {
        // Flat spectrum, L = -30 dB on bins 0..=16 (0-500 Hz). With n = kR - kL = 16
        // (one less than the 17 points, spec 2): slope = -L * Sf / (n S2f - Sf^2),
        // Sf = 31.25 * 136 = 4250, S2f = 31.25^2 * 1496 = 1,460,937.5,
        // n S2f - Sf^2 = 5,312,500 -> slope = 30 * 4250 / 5,312,500 = 0.024 dB/Hz.
        let p = vec![1e-3f32; NBINS20];
        assert!((db_slope(&p, 0.0, 500.0) - 0.024).abs() < 1e-6, "{}", db_slope(&p, 0.0, 500.0));
        // Floor: P <= 1e-14 counts as -140 dB.
        let z = vec![0f32; NBINS20];
        assert!((db_slope(&z, 0.0, 500.0) - 140.0 * 4250.0 / 5_312_500.0).abs() < 1e-5);
    }
}
