//! Framing, analysis windows and magnitude spectra (spec section 2).
//!
//! Two framers run on the same sample stream: F20 (320 samples, Hamming,
//! 512-point FFT) and F60 (960 samples, Gaussian sigma 0.4, 1024-point FFT).
//! Both use a hop of 160 samples, left-aligned frames and no partial frames.
//! The windowed frame is zero padded symmetrically to the FFT size and the
//! unnormalised magnitude spectrum `|X[k]|`, k = 0..NFFT/2, is returned.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

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

/// One windowed-FFT framer: window, FFT plan and scratch buffers, reused across frames.
pub struct Framer {
    window: Vec<f32>,
    nfft: usize,
    pad: usize,
    fft: Arc<dyn Fft<f64>>,
    buf: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    /// Windowed samples of the last processed frame.
    windowed: Vec<f32>,
}

impl Framer {
    /// Create a framer with the given window and FFT size, planning with `planner`.
    pub fn new(window: Vec<f32>, nfft: usize, planner: &mut FftPlanner<f64>) -> Self {
        let fft = planner.plan_fft_forward(nfft);
        let scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
        let len = window.len();
        Self {
            pad: (nfft - len) / 2,
            windowed: vec![0.0; len],
            window,
            nfft,
            fft,
            buf: vec![Complex::new(0.0, 0.0); nfft],
            scratch,
        }
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
        for c in self.buf.iter_mut() {
            *c = Complex::new(0.0, 0.0);
        }
        for (i, ((&x, &w), o)) in frame.iter().zip(self.window.iter()).zip(self.windowed.iter_mut()).enumerate() {
            let v = x * w;
            *o = v;
            self.buf[self.pad + i] = Complex::new(v as f64, 0.0);
        }
        self.fft.process_with_scratch(&mut self.buf, &mut self.scratch);
        let nb = self.nfft / 2 + 1;
        for (m, c) in mag.iter_mut().zip(self.buf[..nb].iter()) {
            let (re, im) = (c.re, c.im);
            *m = (re * re + im * im).sqrt() as f32;
        }
    }

    /// Complex spectrum (all NFFT bins, standard DFT sign) of the most recent
    /// frame passed to [`Framer::magnitude`].
    pub fn spectrum(&self) -> &[Complex<f64>] {
        &self.buf
    }

    /// Windowed samples of the most recent frame passed to [`Framer::magnitude`].
    pub fn windowed(&self) -> &[f32] {
        &self.windowed
    }
}
