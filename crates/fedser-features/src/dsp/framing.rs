//! Framing, analysis windows and magnitude spectra (spec section 2).
//!
//! Two framers run on the same sample stream: F20 (320 samples, Hamming,
//! 512-point FFT) and F60 (960 samples, Gaussian sigma 0.4, 1024-point FFT).
//! Both use a hop of 160 samples, left-aligned frames and no partial frames.
//! The windowed frame is zero padded symmetrically to the FFT size and the
//! unnormalised magnitude spectrum `|X[k]|`, k = 0..NFFT/2, is returned.
//! The FFT is openSMILE's float32 real FFT ([`RealFft`], bit-exact) and the
//! magnitudes are computed in f32 as openSMILE's `cFFTmagphase` does.

use super::ooura::RealFft;

/// Hop size in samples (10 ms at 16 kHz).
pub const HOP: usize = 160;
/// F20 frame length in samples.
pub const LEN20: usize = 320;
/// F20 FFT size.
pub const NFFT20: usize = 512;
/// Number of F20 magnitude bins (`NFFT20 / 2 + 1`).
pub const NBINS20: usize = NFFT20 / 2 + 1;
/// F60 frame length in samples.
pub const LEN60: usize = 960;
/// F60 FFT size.
pub const NFFT60: usize = 1024;
/// Number of F60 magnitude bins (`NFFT60 / 2 + 1`).
pub const NBINS60: usize = NFFT60 / 2 + 1;

/// Number of complete frames of length `len` with hop [`HOP`] in `ns` samples.
pub fn frame_count(ns: usize, len: usize) -> usize {
    if ns < len {
        0
    } else {
        (ns - len) / HOP + 1
    }
}

/// Hamming window `0.54 - 0.46 cos(2 pi n / (L-1))`, computed in double, stored as f32.
pub fn hamming(len: usize) -> Vec<f32> {
    let d = (len.max(2) - 1) as f64;
    (0..len).map(|n| (0.54 - 0.46 * (2.0 * std::f64::consts::PI * n as f64 / d).cos()) as f32).collect()
}

/// Gaussian window `exp(-0.5 ((n - (L-1)/2) / (sigma (L-1)/2))^2)`, stored as f32.
pub fn gaussian(len: usize, sigma: f64) -> Vec<f32> {
    let h = (len.max(2) - 1) as f64 / 2.0;
    (0..len)
        .map(|n| {
            let z = (n as f64 - h) / (sigma * h);
            (-0.5 * z * z).exp() as f32
        })
        .collect()
}

/// One windowed-FFT framer: window, FFT tables and buffers, reused across frames.
pub struct Framer {
    window: Vec<f32>,
    pad: usize,
    fft: RealFft,
    /// Spectrum of the last frame in Ooura's packing (see [`Framer::packed`]).
    buf: Vec<f32>,
    /// Windowed samples of the last processed frame.
    windowed: Vec<f32>,
}

impl Framer {
    /// Create a framer with the given window and FFT size (a power of two
    /// >= 64 and >= the window length; builds the FFT tables once).
    pub fn new(window: Vec<f32>, nfft: usize) -> Self {
        let len = window.len();
        Self { pad: (nfft - len) / 2, windowed: vec![0.0; len], window, fft: RealFft::new(nfft), buf: vec![0.0; nfft] }
    }

    /// Frame length in samples.
    pub fn len(&self) -> usize {
        self.window.len()
    }

    /// Always false (a framer has a non-empty window).
    pub fn is_empty(&self) -> bool {
        self.window.is_empty()
    }

    /// Window `frame` (must have the window's length), FFT it and write the
    /// magnitudes of bins 0..=NFFT/2 into `mag`.
    pub fn magnitude(&mut self, frame: &[f32], mag: &mut [f32]) {
        // The FFT works in place: the zero padding on both sides is written
        // anew each frame, the middle by the windowed samples.
        let len = self.window.len();
        let (head, rest) = self.buf.split_at_mut(self.pad);
        let (mid, tail) = rest.split_at_mut(len);
        head.fill(0.0);
        tail.fill(0.0);
        for (((&x, &w), o), b) in frame.iter().zip(self.window.iter()).zip(self.windowed.iter_mut()).zip(mid.iter_mut())
        {
            let v = x * w;
            *o = v;
            *b = v;
        }
        self.fft.forward(&mut self.buf);
        // cFFTmagphase: |a0|, sqrt(re^2 + im^2) in f32, |a1| (Nyquist).
        let nh = self.buf.len() / 2;
        mag[0] = self.buf[0].abs();
        for (m, c) in mag[1..nh].iter_mut().zip(self.buf[2..].chunks_exact(2)) {
            *m = (c[0] * c[0] + c[1] * c[1]).sqrt();
        }
        mag[nh] = self.buf[1].abs();
    }

    /// Spectrum of the most recent frame passed to [`Framer::magnitude`] in
    /// Ooura's `rdft` packing (NFFT floats): `[X_0, X_{N/2}, Re X_1,
    /// -Im X_1, Re X_2, -Im X_2, ...]` for the standard DFT `X_k`.
    pub fn packed(&self) -> &[f32] {
        &self.buf
    }

    /// Windowed samples of the most recent frame passed to [`Framer::magnitude`].
    pub fn windowed(&self) -> &[f32] {
        &self.windowed
    }

    /// The analysis window.
    pub fn window(&self) -> &[f32] {
        &self.window
    }
}

/// Energy `sum_j (x[t HOP + j] w[j])^2` (the windowed sample squared in
/// f32, summed in f64 in sample order, as over [`Framer::windowed`]) of
/// each of the first `n` frames of length `w.len()` into `out`. Eight frames
/// are summed side by side (eight independent running sums, each in the
/// same order as frame by frame).
pub fn windowed_energies(x: &[f32], w: &[f32], n: usize, out: &mut Vec<f64>) {
    out.clear();
    let len = w.len();
    const K: usize = 8;
    let mut t = 0;
    while t + K <= n {
        let f: [&[f32]; K] = std::array::from_fn(|k| &x[(t + k) * HOP..(t + k) * HOP + len]);
        let mut acc = [0f64; K];
        for (j, &wj) in w.iter().enumerate() {
            for k in 0..K {
                let g = f[k][j] * wj;
                acc[k] += (g * g) as f64;
            }
        }
        out.extend_from_slice(&acc);
        t += K;
    }
    for t in t..n {
        let mut e = 0f64;
        for (&v, &wj) in x[t * HOP..t * HOP + len].iter().zip(w.iter()) {
            let g = v * wj;
            e += (g * g) as f64;
        }
        out.push(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windowed_energies_equal_the_frame_by_frame_sums() {
        let x: Vec<f32> = (0..20_000).map(|i| ((i as f32 * 0.37).sin() * 0.8) + (i % 7) as f32 * 1e-3).collect();
        let w = gaussian(LEN60, 0.4);
        let mut out = Vec::new();
        for n in [0, 1, 7, 8, 9, frame_count(x.len(), LEN60)] {
            windowed_energies(&x, &w, n, &mut out);
            assert_eq!(out.len(), n);
            for (t, &e) in out.iter().enumerate() {
                let want: f64 =
                    x[t * HOP..t * HOP + LEN60].iter().zip(&w).map(|(&v, &g)| ((v * g) * (v * g)) as f64).sum();
                assert_eq!(e.to_bits(), want.to_bits(), "n {n} frame {t}");
            }
        }
    }
}
