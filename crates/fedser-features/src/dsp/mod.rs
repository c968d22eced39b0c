//! DSP framework: framing, windows, FFT, LLDs, smoothing, deltas, functionals.
//!
//! A Rust reimplementation of openSMILE's ComParE_2016 feature set following
//! the project specification (`compare16.md`). All six functional groups
//! (A, B, Nz, F0, LLD, Delta; 6,373 functionals) are computed.

pub mod contour;
pub mod egemaps;
pub mod framing;
pub mod functionals;
pub mod lld;
pub mod ooura;
pub mod pitch;

use std::sync::OnceLock;

use framing::{Framer, HOP, LEN20, LEN60, NBINS20, NBINS60, NFFT20, NFFT60};
use functionals::FuncScratch;
use lld::{F20Analyzer, NRAW20};

pub use egemaps::{egemaps_names, Egemaps, EgemapsContours, EGEMAPS02_VERSION};

/// Bump when output values change (recipe version, feeds the cache key).
pub const COMPARE16_VERSION: u32 = 4;

/// All 6,373 ComParE_2016 functional names in openSMILE's order.
const ALL_NAMES: &str = include_str!("../../data/compare16_names.txt");

/// Names of the columns this build computes, in openSMILE's order (all
/// 6,373 ComParE_2016 functionals).
pub fn compare16_names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| ALL_NAMES.lines().map(str::trim).filter(|l| !l.is_empty()).collect())
}

/// Names of the 6 Nz LLDs (smoothed, `_sma`) in LLD order.
pub const NZ_SMOOTHED_NAMES: [&str; 6] =
    ["F0final_sma", "voicingFinalUnclipped_sma", "jitterLocal_sma", "jitterDDP_sma", "shimmerLocal_sma", "logHNR_sma"];

/// Names of the 6 Nz delta contours (`_sma_de`) in LLD order.
pub const NZ_DELTA_NAMES: [&str; 6] = [
    "F0final_sma_de",
    "voicingFinalUnclipped_sma_de",
    "jitterLocal_sma_de",
    "jitterDDP_sma_de",
    "shimmerLocal_sma_de",
    "logHNR_sma_de",
];

/// Number of A+B LLD contours (4 of group A, 55 of group B).
pub const N_AB: usize = 59;
/// Number of group-A contours (the first 4 of the A+B order).
pub const N_A: usize = 4;

/// Base names of the 59 A+B LLDs in LLD order, as (name, optional index).
fn ab_base_names() -> Vec<(String, Option<usize>)> {
    let mut v: Vec<(String, Option<usize>)> = vec![
        ("audspec_lengthL1norm".into(), None),
        ("audspecRasta_lengthL1norm".into(), None),
        ("pcm_RMSenergy".into(), None),
        ("pcm_zcr".into(), None),
    ];
    for b in 0..lld::NBANDS {
        v.push(("audSpec_Rfilt".into(), Some(b)));
    }
    for s in lld::SPECTRAL_NAMES {
        v.push((format!("pcm_fftMag_{s}"), None));
    }
    for i in 1..=lld::NMFCC {
        v.push(("mfcc".into(), Some(i)));
    }
    v
}

fn contour_name(base: &(String, Option<usize>), suffix: &str) -> String {
    match base.1 {
        Some(i) => format!("{}{}[{}]", base.0, suffix, i),
        None => format!("{}{}", base.0, suffix),
    }
}

/// Names of the 59 smoothed A+B contours (`..._sma`) in LLD order.
pub fn ab_smoothed_names() -> Vec<String> {
    ab_base_names().iter().map(|b| contour_name(b, "_sma")).collect()
}

/// Names of the 59 A+B delta contours (`..._sma_de`) in LLD order.
pub fn ab_delta_names() -> Vec<String> {
    ab_base_names().iter().map(|b| contour_name(b, "_sma_de")).collect()
}

/// Functional names in the order [`Compare16::extract`] produces them
/// (generated from the group definitions; equals [`compare16_names`]).
pub fn generated_names() -> Vec<String> {
    let sma = ab_smoothed_names();
    let de = ab_delta_names();
    let mut v = Vec::new();
    let mut grp = |contours: &[String], funcs: &[&str]| {
        for c in contours {
            for f in funcs {
                v.push(format!("{c}_{f}"));
            }
        }
    };
    grp(&sma[..N_A], &functionals::AB_NAMES);
    grp(&de[..N_A], &functionals::AB_NAMES);
    grp(&sma[N_A..], &functionals::AB_NAMES);
    grp(&de[N_A..], &functionals::AB_NAMES);
    let nz: Vec<String> = NZ_SMOOTHED_NAMES.iter().chain(NZ_DELTA_NAMES.iter()).map(|s| s.to_string()).collect();
    grp(&nz, &functionals::NZ_NAMES);
    grp(&["F0final_sma_ff0".to_string()], &functionals::F0_NAMES);
    grp(&sma, &functionals::LLD_NAMES);
    grp(&de, &functionals::DELTA_NAMES);
    v
}

/// Per-clip LLD contours of groups A and B (for parity tests and inspection).
#[derive(Debug, Clone, Default)]
pub struct LldContours {
    /// Number of F20 frames.
    pub n20: usize,
    /// Number of F60 frames.
    pub n60: usize,
    /// Raw F20 LLDs, column-major, in [`lld::raw20_names`] order (each `n20` long).
    pub raw20: Vec<Vec<f32>>,
    /// Raw F60 zero-crossing rate (`n60` long).
    pub zcr60: Vec<f32>,
    /// Smoothed contours in [`ab_smoothed_names`] order: group A `n60 + 1`
    /// frames, group B `n20 + 1` frames.
    pub smoothed: Vec<Vec<f32>>,
    /// Delta contours in [`ab_delta_names`] order: group A `n60 + 3`,
    /// group B `n20 + 3` frames.
    pub deltas: Vec<Vec<f32>>,
    /// SHS candidates per F60 frame.
    pub candidates: Vec<pitch::Candidates>,
    /// Gaussian-window RMS energy per F60 frame (the voicing gate).
    pub e60: Vec<f32>,
    /// Number of F60 frames decided online by the Viterbi tracker (P).
    pub p: usize,
    /// Raw (gated) Nz LLDs per F60 frame in [`NZ_SMOOTHED_NAMES`] order.
    pub nz_raw: [Vec<f32>; 6],
    /// Smoothed Nz contours (`n60 + 1` frames).
    pub nz_smoothed: [Vec<f32>; 6],
    /// Nz delta contours (`n60 + 3` frames).
    pub nz_deltas: [Vec<f32>; 6],
}

/// Number of value columns of the frame-level LLD table: the 65 LLDs and
/// their 65 deltas.
pub const N_LLD_COLUMNS: usize = 130;

/// Names of the 130 value columns of the frame-level LLD table, as in
/// openSMILE's ComParE_2016 LLD CSV (`LowLevelDescriptors` then
/// `LowLevelDescriptors_Deltas`): the 6 Nz LLDs, the 59 A+B LLDs (all
/// `_sma`), then the same 65 as deltas (`_sma_de`).
pub fn lld_frame_names() -> Vec<String> {
    let mut v: Vec<String> = NZ_SMOOTHED_NAMES.iter().map(|s| s.to_string()).collect();
    v.extend(ab_smoothed_names());
    v.extend(NZ_DELTA_NAMES.iter().map(|s| s.to_string()));
    v.extend(ab_delta_names());
    v
}

/// Frame-level LLDs of one clip (the contours the functionals are computed
/// from), in openSMILE's LLD output layout (spec section 8): `rows = N60 + 3`
/// frames (0 for clips shorter than one 60 ms frame, where openSMILE has
/// none); the 65 LLD columns have values in the first `lld_rows = N60 + 1`
/// frames only, the 65 delta columns in all of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LldFrames {
    /// Number of frames.
    pub rows: usize,
    /// Frames with LLD (non-delta) values.
    pub lld_rows: usize,
    /// Row-major `rows x` [`N_LLD_COLUMNS`] values in [`lld_frame_names`]
    /// order; NaN where openSMILE outputs no value (LLD columns of the last
    /// two frames).
    pub values: Vec<f32>,
}

impl LldContours {
    /// The frame-level LLD table of these contours ([`LldFrames`]).
    pub fn frames(&self) -> LldFrames {
        if self.n60 == 0 {
            return LldFrames::default();
        }
        let rows = self.n60 + 3;
        let lld_rows = self.n60 + 1;
        let mut values = Vec::with_capacity(rows * N_LLD_COLUMNS);
        let at =
            |c: &Vec<f32>, t: usize, n: usize| if t < n { c.get(t).copied().unwrap_or(f32::NAN) } else { f32::NAN };
        for t in 0..rows {
            for c in self.nz_smoothed.iter().chain(self.smoothed.iter()) {
                values.push(at(c, t, lld_rows));
            }
            for c in self.nz_deltas.iter().chain(self.deltas.iter()) {
                values.push(at(c, t, rows));
            }
        }
        LldFrames { rows, lld_rows, values }
    }
}

/// Reusable per-thread ComParE_2016 extractor (FFT plans and scratch buffers).
pub struct Compare16 {
    f20: Framer,
    f60: Framer,
    ana: F20Analyzer,
    shs: pitch::Shs,
    vq: Vec<pitch::VoiceQuality>,
    mag20: Vec<f32>,
    mag60s: [Vec<f32>; pitch::LANES],
    row: [f32; NRAW20],
    c: LldContours,
    tmp: Vec<f32>,
    fs: FuncScratch,
    zcr_prefix: Vec<u32>,
    e60sum: Vec<f64>,
    e20sum: Vec<f64>,
}

impl Default for Compare16 {
    fn default() -> Self {
        Self::new()
    }
}

/// Map from the A+B LLD order to the raw20 column (None = ZCR from F60).
const fn raw_col(i: usize) -> Option<usize> {
    match i {
        0 => Some(1),
        1 => Some(2),
        2 => Some(0),
        3 => None,
        _ => Some(i - 1),
    }
}

impl Compare16 {
    /// Create an extractor (plans the 512- and 1024-point FFTs once).
    pub fn new() -> Self {
        let f20 = Framer::new(framing::hamming(LEN20), NFFT20);
        let f60 = Framer::new(framing::gaussian(LEN60, 0.4), NFFT60);
        Self {
            f20,
            f60,
            ana: F20Analyzer::new(),
            shs: pitch::Shs::new(),
            vq: Vec::new(),
            mag20: vec![0.0; NBINS20],
            mag60s: std::array::from_fn(|_| vec![0.0; NBINS60]),
            row: [0.0; NRAW20],
            c: LldContours::default(),
            tmp: Vec::new(),
            fs: FuncScratch::default(),
            zcr_prefix: Vec::new(),
            e60sum: Vec::new(),
            e20sum: Vec::new(),
        }
    }

    /// Compute raw, smoothed and delta contours of groups A and B into `self.c`.
    fn compute_contours(&mut self, x: &[f32]) {
        let n20 = framing::frame_count(x.len(), LEN20);
        let n60 = framing::frame_count(x.len(), LEN60);
        let c = &mut self.c;
        c.n20 = n20;
        c.n60 = n60;
        c.raw20.resize_with(NRAW20, Vec::new);
        for col in c.raw20.iter_mut() {
            col.clear();
            col.reserve(n20);
        }
        self.ana.reset();
        // Frame energies of eight frames at a time (window of ones: the
        // product v * 1.0 is v, so the sums are those of `frame`).
        framing::windowed_energies(x, &[1.0; LEN20], n20, &mut self.e20sum);
        for t in 0..n20 {
            let fr = &x[t * HOP..t * HOP + LEN20];
            self.f20.magnitude(fr, &mut self.mag20);
            self.ana.frame_with_energy(self.e20sum[t], LEN20, &self.mag20, &mut self.row);
            for (col, &v) in c.raw20.iter_mut().zip(self.row.iter()) {
                col.push(v);
            }
        }
        lld::zcr_frames(x, n60, &mut c.zcr60, &mut self.zcr_prefix);
        c.smoothed.resize_with(N_AB, Vec::new);
        c.deltas.resize_with(N_AB, Vec::new);
        for i in 0..N_AB {
            let raw: &[f32] = match raw_col(i) {
                Some(k) => &c.raw20[k],
                None => &c.zcr60,
            };
            contour::smooth3(raw, &mut c.smoothed[i]);
            if i < N_A {
                // Group A contours all have N60 + 1 frames.
                c.smoothed[i].truncate(n60 + 1);
                if n60 == 0 {
                    c.smoothed[i].clear();
                }
            }
            contour::delta2(&c.smoothed[i], &mut self.tmp);
            std::mem::swap(&mut c.deltas[i], &mut self.tmp);
        }
        // Voice group: SHS candidates, Viterbi, energy gate, voice quality.
        c.candidates.clear();
        c.e60.clear();
        framing::windowed_energies(x, self.f60.window(), n60, &mut self.e60sum);
        for &e in &self.e60sum {
            c.e60.push((e / LEN60 as f64).sqrt() as f32);
        }
        // SHS in groups of frames (their splines side by side): the
        // magnitudes of a group, then its candidates.
        let mut t = 0;
        while t < n60 {
            let k = pitch::LANES.min(n60 - t);
            for (j, m) in self.mag60s[..k].iter_mut().enumerate() {
                let s = (t + j) * HOP;
                self.f60.magnitude(&x[s..s + LEN60], m);
            }
            let refs: [&[f32]; pitch::LANES] = std::array::from_fn(|j| &self.mag60s[j.min(k - 1)][..]);
            self.shs.candidates_many(&refs[..k], &mut c.candidates);
            t += k;
        }
        let (decided, p) = pitch::viterbi(&c.candidates);
        c.p = p;
        for col in c.nz_raw.iter_mut() {
            col.clear();
        }
        for (t, &(f, v)) in decided.iter().enumerate() {
            let keep = c.e60[t] > 0.001;
            c.nz_raw[0].push(if keep { f } else { 0.0 });
            c.nz_raw[1].push(if keep { v } else { 0.0 });
        }
        pitch::voice_quality(x, &c.nz_raw[0], &mut self.vq);
        for q in &self.vq {
            c.nz_raw[2].push(q.jitter_local);
            c.nz_raw[3].push(q.jitter_ddp);
            c.nz_raw[4].push(q.shimmer);
            c.nz_raw[5].push(q.log_hnr);
        }
        pitch::smooth_nz_group(&c.nz_raw, p, &mut c.nz_smoothed);
        pitch::delta_nz_group(&c.nz_smoothed, n60, p, &mut c.nz_deltas);
    }

    /// Raw F20 LLDs and smoothed/delta contours of groups A and B for `x`
    /// (samples scaled as int16/32767).
    pub fn lld_contours(&mut self, x: &[f32]) -> LldContours {
        self.compute_contours(x);
        self.c.clone()
    }

    /// The frame-level LLD table of `x` ([`LldFrames`]), without the functionals.
    pub fn lld_frames(&mut self, x: &[f32]) -> LldFrames {
        if x.len() < LEN60 {
            return LldFrames::default();
        }
        self.compute_contours(x);
        self.c.frames()
    }

    /// [`Compare16::extract`] and the frame-level LLD table of the same
    /// contours (computed once).
    pub fn extract_with_lld(&mut self, x: &[f32]) -> (Vec<f32>, LldFrames) {
        let row = self.extract(x);
        let frames = if x.len() < LEN60 { LldFrames::default() } else { self.c.frames() };
        (row, frames)
    }

    /// Raw per-frame F20 LLDs (column-major, [`lld::raw20_names`] order).
    pub fn lld_raw20(&mut self, x: &[f32]) -> Vec<Vec<f32>> {
        self.compute_contours(x);
        self.c.raw20.clone()
    }

    /// Extract the functionals listed by [`compare16_names`] from `x` (mono
    /// 16 kHz samples scaled as int16/32767). Always returns a full row of
    /// finite values; clips too short for a group's frames give zeros there,
    /// clips shorter than one 60 ms frame (no openSMILE row) all zeros.
    pub fn extract(&mut self, x: &[f32]) -> Vec<f32> {
        if x.len() < LEN60 {
            // openSMILE outputs no row (the Python wrapper: NaN) for clips
            // shorter than one 60 ms frame; fedser gives a full row of zeros.
            return vec![0.0; compare16_names().len()];
        }
        self.compute_contours(x);
        let n60 = self.c.n60 as isize;
        let n20 = self.c.n20 as isize;
        let prefix = |v: &Vec<f32>, n: isize| -> std::ops::Range<usize> { 0..(n.max(0) as usize).min(v.len()) };
        let mut out = Vec::with_capacity(compare16_names().len());
        let c = &self.c;
        let fs = &mut self.fs;
        // Group A (N60 - 2 frames), then group B (N20 - 2 frames).
        for (range, len) in [(0..N_A, n60 - 2), (N_A..N_AB, n20 - 2)] {
            for i in range.clone() {
                let v = &c.smoothed[i];
                functionals::ab_into(&v[prefix(v, len)], fs, &mut out);
            }
            for i in range {
                let v = &c.deltas[i];
                functionals::ab_into(&v[prefix(v, len)], fs, &mut out);
            }
        }
        // Nz group (P - 2 frames, zeros removed) and F0 group (P frames).
        let p = c.p as isize;
        for v in c.nz_smoothed.iter().chain(c.nz_deltas.iter()) {
            functionals::nz_into(&v[prefix(v, p - 2)], fs, &mut out);
        }
        let f0 = &c.nz_smoothed[0];
        functionals::f0_into(&f0[prefix(f0, p)], fs, &mut out);
        // LLD group (N60 frames) and Delta group (N60 - 2 frames).
        for v in &c.smoothed {
            functionals::lld_into(&v[prefix(v, n60)], fs, &mut out);
        }
        for v in &c.deltas {
            functionals::delta_into(&v[prefix(v, n60 - 2)], fs, &mut out);
        }
        for v in out.iter_mut() {
            if !v.is_finite() {
                *v = 0.0;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_match_file() {
        let g = generated_names();
        let f = compare16_names();
        assert_eq!(g.len(), f.len());
        for (a, b) in g.iter().zip(f.iter()) {
            assert_eq!(a, b);
        }
        assert_eq!(f.len(), 6373);
    }
}
