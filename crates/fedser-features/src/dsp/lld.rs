//! Per-frame low-level descriptors of groups A and B (spec section 3.1-3.7).

// Index loops mirror the spec's formulas bin by bin.
#![allow(clippy::needless_range_loop)]

use super::framing::{LEN60, NBINS20};

/// Number of mel / auditory bands.
pub const NBANDS: usize = 26;
/// Number of MFCCs (1..14).
pub const NMFCC: usize = 14;
/// Number of raw F20 LLD columns (order of `reference_raw20.csv`).
pub const NRAW20: usize = 3 + NBANDS + 15 + NMFCC;

/// Column names of the raw F20 LLDs, in the order of [`F20Analyzer::frame`] output.
pub fn raw20_names() -> Vec<String> {
    let mut v =
        vec!["pcm_RMSenergy".to_string(), "audspec_lengthL1norm".to_string(), "audspecRasta_lengthL1norm".to_string()];
    for b in 0..NBANDS {
        v.push(format!("audSpec_Rfilt[{b}]"));
    }
    for s in SPECTRAL_NAMES {
        v.push(format!("pcm_fftMag_{s}"));
    }
    for i in 1..=NMFCC {
        v.push(format!("mfcc[{i}]"));
    }
    v
}

/// Names (without the `pcm_fftMag_` prefix) of the 15 spectral features.
pub const SPECTRAL_NAMES: [&str; 15] = [
    "fband250-650",
    "fband1000-4000",
    "spectralRollOff25.0",
    "spectralRollOff50.0",
    "spectralRollOff75.0",
    "spectralRollOff90.0",
    "spectralFlux",
    "spectralCentroid",
    "spectralEntropy",
    "spectralVariance",
    "spectralSkewness",
    "spectralKurtosis",
    "spectralSlope",
    "psySharpness",
    "spectralHarmonicity",
];

const DF20: f64 = 31.25;
const AUD_FLOOR: f32 = 9.3e-10;
/// Loudness compression exponent of the auditory spectrum (a float in cPlp).
const COMPRESSION: f32 = 0.33;

fn mel(f: f64) -> f64 {
    1127.0 * (1.0 + f / 700.0).ln()
}

fn imel(m: f64) -> f64 {
    700.0 * ((m / 1127.0).exp() - 1.0)
}

/// Stateful analyser of F20 magnitude spectra (RASTA filter state and the
/// previous spectrum for the flux are carried across frames; call
/// [`F20Analyzer::reset`] between clips).
pub struct F20Analyzer {
    /// Per bin 2..=255: (falling band or -1, weight, rising band or -1).
    mel_map: Vec<(usize, i32, f32, i32)>,
    eq: [f32; NBANDS],
    ln_eq: [f32; NBANDS],
    cos_tab: Vec<[f32; NBANDS]>,
    lift: [f32; NMFCC],
    sharp_w: Vec<f64>,
    freqs: Vec<f64>,
    slope_sf: f64,
    slope_s2f: f64,
    rasta_b: [f32; 5],
    rasta_g: f32,
    rasta_state: [[f32; 4]; NBANDS],
    frames_done: usize,
    prev_mag: Vec<f32>,
    power: Vec<f32>,
    bands: [f32; NBANDS],
    band_edges: [BandEdges; 2],
}

impl Default for F20Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl F20Analyzer {
    /// Precompute filterbank, equal-loudness curve, DCT and spectral tables.
    pub fn new() -> Self {
        // Mel filterbank.
        let lof = mel(20.0) as f32;
        let hif = mel(8000.0) as f32;
        // cMelspec::computeFilters: half bandwidth, centres and weights in f32.
        let bw = (hif - lof) / 27.0f32;
        let c: Vec<f32> = (0..28).map(|m| lof + m as f32 * bw).collect();
        let n_lo = (20.0 / DF20).round() as usize;
        let n_hi = (8000.0 / DF20).round() as usize;
        let mut mel_map = Vec::new();
        for n in (n_lo + 1)..n_hi {
            let mf = mel(n as f64 * DF20) as f32;
            let Some(j) = c.iter().position(|&cj| cj >= mf) else { continue };
            if j == 0 {
                continue;
            }
            let w = (c[j] - mf) / (c[j] - c[j - 1]);
            let fall = j as i32 - 2;
            let rise = j as i32 - 1;
            let fall = if (0..NBANDS as i32).contains(&fall) { fall } else { -1 };
            let rise = if (0..NBANDS as i32).contains(&rise) { rise } else { -1 };
            mel_map.push((n, fall, w, rise));
        }
        // Equal loudness at the band centres.
        let mut eq = [0f32; NBANDS];
        let mut ln_eq = [0f32; NBANDS];
        for b in 0..NBANDS {
            let fc = imel(c[b + 1] as f64);
            let w = 2.0 * std::f64::consts::PI * fc;
            let w2 = w * w;
            let cc = w2 + 6.3e6;
            let e = 1e32 * (w2 + 56.8e6) * w2 * w2 / (cc * cc * (w2 + 0.38e9) * (w2 * w2 * w2 * w + 1.7e31));
            eq[b] = e as f32;
            // cPlp takes `log` of the float weight: C++ `log(float)` is logf
            // (f32::ln calls the same libm function).
            ln_eq[b] = eq[b].ln();
        }
        // DCT and lifter.
        let cos_tab = (1..=NMFCC)
            .map(|i| {
                let mut r = [0f32; NBANDS];
                for (m, v) in r.iter_mut().enumerate() {
                    *v = (std::f64::consts::PI * (i as f64 / NBANDS as f64) * (m as f64 + 0.5)).cos() as f32;
                }
                r
            })
            .collect();
        let sq = (2.0f64 / NBANDS as f64).sqrt() as f32;
        let mut lift = [0f32; NMFCC];
        // cMfcc::initTables: the lifter in float (C++ `sin(float)` is sinf,
        // as f32::sin).
        let cep_lifter = 22f32;
        for (k, l) in lift.iter_mut().enumerate() {
            let i = (k + 1) as f32;
            let li = 1.0f32 + cep_lifter / 2.0 * (std::f32::consts::PI * i / cep_lifter).sin();
            *l = li * sq;
        }
        // Spectral tables.
        let freqs: Vec<f64> = (0..NBINS20).map(|k| k as f64 * DF20).collect();
        let sharp_w = freqs
            .iter()
            .map(|&f| {
                if f <= 0.0 {
                    return 0.0;
                }
                let z0 = 26.81 / (1.0 + 1960.0 / f) - 0.53;
                let z = if z0 < 2.0 {
                    0.85 * z0 + 0.3
                } else if z0 > 20.1 {
                    1.22 * z0 - 0.22 * 20.1
                } else {
                    z0
                };
                let g = if z <= 16.0 { 1.0 } else { ((z - 16.0) / 4.0).powf(1.584_962_5) + 1.0 };
                z * g
            })
            .collect();
        let slope_sf = freqs[1..].iter().sum();
        let slope_s2f = freqs[1..].iter().map(|f| f * f).sum();
        // RASTA.
        let t = 0.01f64;
        let g = (1.0 - (2.0 * std::f64::consts::PI * t).sin()) as f32;
        let om = (2.0 * std::f64::consts::PI * 29.0 * t).cos() as f32;
        let nrm = (10.0 * (32.0 * om as f64 * om as f64 + 8.0)).sqrt() as f32;
        let rasta_b = [
            (2.0 / nrm as f64) as f32,
            (-4.0 * om as f64 / nrm as f64) as f32,
            0.0,
            (4.0 * om as f64 / nrm as f64) as f32,
            (-2.0 / nrm as f64) as f32,
        ];
        Self {
            mel_map,
            eq,
            ln_eq,
            cos_tab,
            lift,
            sharp_w,
            freqs,
            slope_sf,
            slope_s2f,
            rasta_b,
            rasta_g: g,
            rasta_state: [[0.0; 4]; NBANDS],
            frames_done: 0,
            prev_mag: vec![0.0; NBINS20],
            power: vec![0.0; NBINS20],
            bands: [0.0; NBANDS],
            band_edges: [band_edges(NBINS20, 250.0, 650.0), band_edges(NBINS20, 1000.0, 4000.0)],
        }
    }

    /// Reset the per-clip state (RASTA filter, flux history).
    pub fn reset(&mut self) {
        self.rasta_state = [[0.0; 4]; NBANDS];
        self.frames_done = 0;
    }

    /// Analyse one F20 frame: `raw` is the unwindowed frame (320 samples),
    /// `mag` its Hamming magnitude spectrum (257 bins). Writes the
    /// [`NRAW20`] raw LLDs into `out` in [`raw20_names`] order.
    pub fn frame(&mut self, raw: &[f32], mag: &[f32], out: &mut [f32; NRAW20]) {
        let e: f64 = raw.iter().map(|&v| (v * v) as f64).sum();
        self.frame_with_energy(e, raw.len(), mag, out);
    }

    /// [`F20Analyzer::frame`] with the frame's energy `e = sum (v v) as f64`
    /// (in sample order) and length given, e.g. computed for many frames at
    /// once by [`super::framing::windowed_energies`] with a window of ones.
    pub fn frame_with_energy(&mut self, e: f64, len: usize, mag: &[f32], out: &mut [f32; NRAW20]) {
        // RMS energy.
        out[0] = (e / len.max(1) as f64).sqrt() as f32;

        for (p, &m) in self.power.iter_mut().zip(mag.iter()) {
            *p = m * m;
        }
        // Mel bands (unscaled power).
        self.bands = [0.0; NBANDS];
        for &(n, fall, w, rise) in &self.mel_map {
            let p = self.power[n];
            let pw = p * w;
            if fall >= 0 {
                self.bands[fall as usize] += pw;
            }
            if rise >= 0 {
                self.bands[rise as usize] += p - pw;
            }
        }
        // Auditory spectrum and RASTA.
        let mut sum_a = 0f32;
        let mut sum_r = 0f32;
        let b = self.rasta_b;
        let fb = self.frames_done >= 5;
        for k in 0..NBANDS {
            let s = self.bands[k];
            // cPlp: pow((double) x, (double) compression) with compression
            // stored as float (f32(0.33) = 0.33000001311...).
            let a = ((s.max(AUD_FLOOR) * self.eq[k]) as f64).powf(COMPRESSION as f64) as f32;
            sum_a += a;
            // C++ `log(float)` / `exp(float)` in cPlp are logf / expf, the
            // functions f32::ln / f32::exp call.
            let l = if s >= AUD_FLOOR { s.ln() } else { AUD_FLOOR.ln() };
            let st = &mut self.rasta_state[k];
            let y = b[0] * l + st[0];
            st[0] = b[1] * l + st[1] + if fb { self.rasta_g * y } else { 0.0 };
            st[1] = b[2] * l + st[2];
            st[2] = b[3] * l + st[3];
            st[3] = b[4] * l;
            let y = if fb { y } else { 0.0 };
            let r = ((y + self.ln_eq[k]) * COMPRESSION).exp();
            out[3 + k] = r;
            sum_r += r;
        }
        out[1] = sum_a / NBANDS as f32;
        out[2] = sum_r / NBANDS as f32;

        self.spectral(mag, &mut out[3 + NBANDS..3 + NBANDS + 15]);

        // MFCC from the 32767^2-scaled bands.
        let scale = (32767.0f64 * 32767.0) as f32;
        let mut lg = [0f32; NBANDS];
        for (l, &s) in lg.iter_mut().zip(self.bands.iter()) {
            // cMfcc: C++ `log(float)` is logf, as f32::ln.
            *l = (s * scale).max(1.0).ln();
        }
        let o = &mut out[3 + NBANDS + 15..];
        for i in 0..NMFCC {
            let mut acc = 0f32;
            for m in 0..NBANDS {
                acc += lg[m] * self.cos_tab[i][m];
            }
            o[i] = acc * self.lift[i];
        }

        self.prev_mag.copy_from_slice(mag);
        self.frames_done += 1;
    }

    fn spectral(&self, mag: &[f32], o: &mut [f32]) {
        let p = &self.power;
        let f = &self.freqs;
        let nb = (NBINS20 - 1) as f64;
        // One pass for the sums that need no other result (power, first
        // moment, flux, sharpness): independent running sums, each in bin
        // order as in a separate loop.
        let mut sp = 0f64;
        let mut sa = 0f64;
        let mut flux = 0f64;
        let mut sharp = 0f32;
        let prev = &self.prev_mag;
        for k in 1..NBINS20 {
            let pk = p[k] as f64;
            sp += pk;
            sa += f[k] * pk;
            // cSpectral: the difference of the magnitudes in double.
            let d = mag[k] as f64 - prev[k] as f64;
            flux += d * d;
            sharp += (self.sharp_w[k] * pk) as f32;
        }
        // Band energies.
        o[0] = band_sum(p, &self.band_edges[0]) as f32;
        o[1] = band_sum(p, &self.band_edges[1]) as f32;
        // Roll-off.
        // One cumulative pass for the four (increasing) thresholds; the
        // running sum is the same as a separate pass per threshold.
        let thr = [0.25f64, 0.5, 0.75, 0.9].map(|x| x * sp);
        let mut roll = [DF20; 4];
        if sp > 0.0 {
            let mut cum = 0f64;
            let mut j = 0;
            for k in 1..NBINS20 {
                cum += p[k] as f64;
                while j < 4 && cum >= thr[j] {
                    roll[j] = f[k];
                    j += 1;
                }
                if j == 4 {
                    break;
                }
            }
        }
        for (o, r) in o[2..6].iter_mut().zip(roll) {
            *o = r as f32;
        }
        // Flux.
        o[6] = if self.frames_done == 0 { 0.0 } else { (flux / nb).sqrt() as f32 };
        // Centroid.
        let u = if sp > 0.0 { (sa / sp) as f32 } else { 0.0 };
        o[7] = u;
        // Entropy.
        let d = sp.max(1e-7f32 as f64);
        let mut h = 0f64;
        for &pk in &p[1..] {
            let q = (pk as f64).max(1e-7) / d;
            h -= q * q.log2();
        }
        o[8] = h as f32;
        // Moments.
        let uu = u as f64;
        let (mut m2, mut m3, mut m4) = (0f64, 0f64, 0f64);
        for k in 1..NBINS20 {
            let dd = f[k] - uu;
            let pk = p[k] as f64;
            let d2 = dd * dd;
            m2 += d2 * pk;
            m3 += d2 * dd * pk;
            m4 += d2 * d2 * pk;
        }
        let var = if sp > 0.0 { m2 / sp } else { 0.0 };
        o[9] = var as f32;
        o[10] = if var > 0.0 && sp > 0.0 { (m3 / (sp * var.powf(1.5))) as f32 } else { 0.0 };
        o[11] = if var > 0.0 && sp > 0.0 { (m4 / (sp * var * var)) as f32 } else { 0.0 };
        // Slope.
        let den = nb * self.slope_s2f - self.slope_sf * self.slope_sf;
        o[12] = if den != 0.0 { ((nb * sa - self.slope_sf * sp) / den * (nb - 1.0)) as f32 } else { 0.0 };
        // Sharpness.
        // cSpectral: ctr = f32(sumAA / frameSum), output f32(0.11 * ctr) in double.
        o[13] = if sp > 0.0 { (0.11 * ((sharp as f64 / sp) as f32) as f64) as f32 } else { 0.0 };
        // Harmonicity: the local extrema of bins 3..=254 as bit masks (64
        // bins a block, found branch-free), then the absolute differences of
        // consecutive extrema summed in bin order.
        let mut acc = 0f32;
        let mut last: Option<f32> = None;
        let mut j0 = 3usize;
        while j0 <= 254 {
            let end = (j0 + 64).min(255);
            let mut bits = 0u64;
            for (k, w) in p[j0 - 2..end + 2].windows(5).enumerate() {
                let v = w[2];
                let is_max = (w[0] < v) & (w[1] < v) & (v > w[3]) & (v > w[4]);
                let is_min = (w[0] > v) & (w[1] > v) & (v < w[3]) & (v < w[4]);
                bits |= u64::from(is_max | is_min) << k;
            }
            while bits != 0 {
                let v = p[j0 + bits.trailing_zeros() as usize];
                bits &= bits - 1;
                if let Some(l) = last {
                    acc += (v - l).abs();
                }
                last = Some(v);
            }
            j0 = end;
        }
        o[14] = acc / 2.0 / nb as f32;
    }
}

/// Edge bins and weights of a band energy (see [`band_edges`]).
#[derive(Clone, Copy)]
struct BandEdges {
    kl: usize,
    wl: f64,
    kr: usize,
    wr: f64,
    n: usize,
}

/// Band energy over [lo, hi] Hz with fractional edge bins, divided by 256,
/// with the edges precomputed by [`band_edges`].
fn band_sum(p: &[f32], e: &BandEdges) -> f64 {
    let BandEdges { kl, wl, kr, wr, n } = *e;
    let mut s = p[kl] as f64 * wl;
    for &v in &p[kl + 1..kr.max(kl + 1)] {
        s += v as f64;
    }
    s += p[kr] as f64 * wr;
    s / (n - 1) as f64
}

/// Edge bins and weights of the band [lo, hi] Hz over `n` bins.
fn band_edges(n: usize, lo: f64, hi: f64) -> BandEdges {
    let i = (0..n).find(|&k| k as f64 * DF20 > lo).unwrap_or(n - 1).max(1);
    let kl = i - 1;
    let mut wl = (i as f64 * DF20 - lo) / DF20;
    let j = (0..n).find(|&k| k as f64 * DF20 >= hi).unwrap_or(n - 1).max(1);
    let mut wr = (hi - (j - 1) as f64 * DF20) / DF20;
    let kr = if j as f64 * DF20 == hi { j } else { j - 1 };
    if wl == 0.0 {
        wl = 1.0;
    }
    if wr == 0.0 {
        wr = 1.0;
    }
    BandEdges { kl, wl, kr, wr, n }
}

/// Zero-crossing rates of the first `n` raw F60 frames of `x` into `out`
/// (the values of [`zcr`] frame by frame): the crossings are counted once
/// per hop-sized block, and each frame adds its six blocks and removes its
/// two end samples (which [`zcr`] does not test). `blocks` is scratch.
pub fn zcr_frames(x: &[f32], n: usize, out: &mut Vec<f32>, blocks: &mut Vec<u32>) {
    use super::framing::HOP;
    out.clear();
    if n == 0 {
        return;
    }
    // Samples 0..m; sample j (1 <= j <= m - 2) is tested with its neighbours.
    let m = (n - 1) * HOP + LEN60;
    let test = |w: &[f32]| {
        let (a, b, c) = (w[0], w[1], w[2]);
        u32::from(((a * c <= 0.0) & (b == 0.0)) | (a * b < 0.0))
    };
    let flag = |j: usize| if j == 0 || j + 1 >= m { 0 } else { test(&x[j - 1..j + 2]) };
    blocks.clear();
    for b in 0..m / HOP {
        let (lo, hi) = ((b * HOP).max(1), ((b + 1) * HOP).min(m - 1));
        blocks.push(x[lo - 1..hi + 1].windows(3).map(test).sum());
    }
    for t in 0..n {
        let s = t * HOP;
        let cnt: u32 = blocks[t..t + LEN60 / HOP].iter().sum::<u32>() - flag(s) - flag(s + LEN60 - 1);
        out.push((cnt as usize as f64 / LEN60 as f64) as f32);
    }
}

/// Zero-crossing rate of one raw F60 frame (spec 3.2).
pub fn zcr(frame: &[f32]) -> f32 {
    let l = frame.len();
    if l < 3 {
        return 0.0;
    }
    let mut cnt = 0usize;
    for i in 1..l - 1 {
        let (a, b, c) = (frame[i - 1], frame[i], frame[i + 1]);
        if (a * c <= 0.0 && b == 0.0) || (a * b < 0.0) {
            cnt += 1;
        }
    }
    (cnt as f64 / LEN60 as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::super::framing::{frame_count, HOP};
    use super::*;

    #[test]
    fn zcr_frames_equal_zcr_frame_by_frame() {
        // Sign changes, exact zeros (runs and single) and plateaus.
        let mut s = 11u64;
        let x: Vec<f32> = (0..16000 + 77)
            .map(|i| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                match (s >> 61, i / 700 % 3) {
                    (_, 2) => 0.0,
                    (0, _) => 0.0,
                    _ => ((s >> 33) as f32 / 2f32.powi(31) - 0.5) * if i % 5 == 0 { -1.0 } else { 1.0 },
                }
            })
            .collect();
        let (mut out, mut blocks) = (Vec::new(), Vec::new());
        for len in [LEN60 - 1, LEN60, LEN60 + HOP - 1, LEN60 + HOP, 5000, x.len()] {
            let n = frame_count(len, LEN60);
            zcr_frames(&x[..len], n, &mut out, &mut blocks);
            assert_eq!(out.len(), n);
            for (t, &z) in out.iter().enumerate() {
                assert_eq!(z.to_bits(), zcr(&x[t * HOP..t * HOP + LEN60]).to_bits(), "len {len} frame {t}");
            }
        }
    }
}
