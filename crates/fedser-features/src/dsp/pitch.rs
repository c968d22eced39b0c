//! Voice group (Nz): F0 by subharmonic summation + Viterbi smoothing,
//! voicing probability, jitter, shimmer and log HNR (spec sections 3.8, 3.9),
//! and the Nz smoothing / delta rules (sections 4.1-4.3).

// Index loops mirror the spec's formulas point by point.
#![allow(clippy::needless_range_loop)]

use super::contour::edge;
use super::framing::{HOP, LEN60, NBINS60};

/// Number of SHS candidates per frame.
pub const NCAND: usize = 6;
/// Number of F60 frames whose octave spectra [`Shs`] computes side by side.
pub const LANES: usize = 4;
const NSTATES: usize = NCAND + 1;
const VOICING_CUTOFF: f64 = 0.7;

/// SHS output of one F60 frame (after range filtering and best-first swap).
#[derive(Debug, Clone, Copy, Default)]
pub struct Candidates {
    /// Number of valid candidates.
    pub n: usize,
    /// Candidate frequencies in Hz (0 for empty slots).
    pub f: [f32; NCAND],
    /// Candidate voicing probabilities.
    pub v: [f32; NCAND],
    /// Candidate SHS scores.
    pub score: [f32; NCAND],
}

/// Precomputed tables and scratch for the octave spectrum and SHS.
pub struct Shs {
    aud: Vec<f64>,
    /// Spline tables that depend only on the knots `u` (see [`SplineTables`]).
    sp: SplineTables,
    shifts: Vec<usize>,
    factors: Vec<f32>,
    u0f: f32,
    duf: f32,
    /// Per-lane magnitudes (peak enhanced, smoothed) of the [`LANES`] frames
    /// analysed side by side.
    m: [Vec<f64>; LANES],
    /// Spline arrays, [`LANES`] frames side by side.
    y: Vec<[f64; LANES]>,
    e6: Vec<[f64; LANES]>,
    y2: Vec<[f64; LANES]>,
    uu: Vec<[f64; LANES]>,
    /// Octave spectra of the [`LANES`] frames.
    h: [Vec<f32>; LANES],
    ss: Vec<f32>,
    fmin: f32,
    fmax: f32,
}

/// Natural cubic spline tables through the fixed knots `u` (the log2 bin
/// frequencies) evaluated on the fixed octave grid `v`: everything of the
/// spline that does not depend on the magnitudes, computed once per
/// extractor, in the arithmetic of openSMILE's cached spline
/// (`smileMath_cspline_init` / `smileMath_cspline` / `smileMath_csplint_init`
/// / `smileMath_csplint`), so the per-frame values are bit-identical to it.
struct SplineTables {
    /// `sigma[i] = (x[i] - x[i-1]) / (x[i+1] - x[i-1])`, i in 1..n-1.
    sigma: Vec<f64>,
    /// `(x[i+1] - x[i]) (x[i+1] - x[i-1])`.
    diff1: Vec<f64>,
    /// `(x[i] - x[i-1]) (x[i+1] - x[i-1])`.
    diff2: Vec<f64>,
    /// Pivot reciprocal `p[i] = 1 / (sigma[i] y2f[i-1] + 2)`.
    p: Vec<f64>,
    /// Forward-sweep value of the second-derivative array `(sigma - 1) p`
    /// (it does not depend on the magnitudes).
    y2f: Vec<f64>,
    /// Per output point: lower knot index.
    klo: Vec<usize>,
    /// Per output point: `a = (x[khi] - v) / h`, `c = (a^3 - a) h^2 / 6`,
    /// `d = (b^3 - b) h^2 / 6` with `b = 1 - a`.
    a: Vec<f64>,
    c: Vec<f64>,
    d: Vec<f64>,
}

impl SplineTables {
    fn new(x: &[f64], v: &[f64]) -> Self {
        let n = x.len();
        let mut sigma = vec![0f64; n];
        let mut diff1 = vec![0f64; n];
        let mut diff2 = vec![0f64; n];
        let mut p = vec![0f64; n];
        let mut y2f = vec![0f64; n];
        for i in 1..n - 1 {
            sigma[i] = (x[i] - x[i - 1]) / (x[i + 1] - x[i - 1]);
            diff1[i] = (x[i + 1] - x[i]) * (x[i + 1] - x[i - 1]);
            diff2[i] = (x[i] - x[i - 1]) * (x[i + 1] - x[i - 1]);
            p[i] = 1.0 / (sigma[i] * y2f[i - 1] + 2.0);
            y2f[i] = (sigma[i] - 1.0) * p[i];
        }
        let m = v.len();
        let mut t = Self {
            sigma,
            diff1,
            diff2,
            p,
            y2f,
            klo: Vec::with_capacity(m),
            a: Vec::with_capacity(m),
            c: Vec::with_capacity(m),
            d: Vec::with_capacity(m),
        };
        // Upper knot: the first k >= 1 with x[k] >= v (v ascending).
        let mut khi = 1;
        for &vi in v {
            while khi < n - 1 && x[khi] < vi {
                khi += 1;
            }
            let klo = khi - 1;
            let h = x[khi] - x[klo];
            let a = (x[khi] - vi) / h;
            let b = 1.0 - a;
            let h6 = h * h / 6.0;
            t.klo.push(klo);
            t.a.push(a);
            t.c.push((a * a * a - a) * h6);
            t.d.push((b * b * b - b) * h6);
        }
        t
    }
}

impl Default for Shs {
    fn default() -> Self {
        Self::new()
    }
}

/// Vertex of the parabola through three points (double); `None` if degenerate.
pub(crate) fn parabola_vertex(x0: f64, y0: f64, x1: f64, y1: f64, x2: f64, y2: f64) -> Option<(f64, f64)> {
    let den = (x0 - x1) * (x0 - x2) * (x1 - x2);
    if den == 0.0 {
        return None;
    }
    let a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den;
    let b = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den;
    let c = (x1 * x2 * (x1 - x2) * y0 + x2 * x0 * (x2 - x0) * y1 + x0 * x1 * (x0 - x1) * y2) / den;
    if a == 0.0 {
        return None;
    }
    let xv = -b / (2.0 * a);
    Some((xv, c - b * b / (4.0 * a)))
}

/// Vertex `(x, y)` of the parabola through three points as openSMILE's
/// `smileMath_quadFrom3pts` computes it (same formulas, same order); if
/// the parabola is degenerate, the strictly highest point (else the first).
pub(crate) fn quad_from_3pts(x1: f64, y1: f64, x2: f64, y2: f64, x3: f64, y3: f64) -> (f64, f64) {
    let den = x1 * x1 * x2 + x2 * x2 * x3 + x3 * x3 * x1 - x3 * x3 * x2 - x2 * x2 * x1 - x1 * x1 * x3;
    if den != 0.0 {
        let a = (y1 * x2 + y2 * x3 + y3 * x1 - y3 * x2 - y2 * x1 - y1 * x3) / den;
        let b = (x1 * x1 * y2 + x2 * x2 * y3 + x3 * x3 * y1 - x3 * x3 * y2 - x2 * x2 * y1 - x1 * x1 * y3) / den;
        let c = (x1 * x1 * x2 * y3 + x2 * x2 * x3 * y1 + x3 * x3 * x1 * y2
            - x3 * x3 * x2 * y1
            - x2 * x2 * x1 * y3
            - x1 * x1 * x3 * y2)
            / den;
        if a != 0.0 {
            let x = -b / (2.0 * a);
            return (x, c - a * x * x);
        }
    }
    if y1 > y2 && y1 > y3 {
        (x1, y1)
    } else if y2 > y1 && y2 > y3 {
        (x2, y2)
    } else if y3 > y1 && y3 > y2 {
        (x3, y3)
    } else {
        (x1, y1)
    }
}

impl Shs {
    /// Precompute the octave grid, spline knots and SHS shifts (ComParE's
    /// candidate range [52, 620] Hz).
    pub fn new() -> Self {
        Self::with_range(52.0, 620.0)
    }

    /// As [`Shs::new`] with the candidate range filter `[fmin, fmax]` Hz
    /// (eGeMAPS: [55, 1000]).
    pub fn with_range(range_lo: f32, range_hi: f32) -> Self {
        // cSpecScale (octave scale, log base 2 as ln(x) / ln(2)) and
        // cPitchShs, in their precision.
        let n = NBINS60;
        let df = 1.0 / (0.064f32 as f64);
        let ln2 = 2f64.ln();
        let log2 = |x: f64| x.ln() / ln2;
        let mut u = vec![0f64; n];
        for k in 1..n {
            u[k] = log2(k as f64 * df);
        }
        u[0] = 2.0 * u[1] - u[2];
        let fmax = df * (n - 1) as f64;
        let lo = log2(25.0);
        let hi = log2(fmax);
        let dv = (hi - lo) / (n - 1) as f64;
        let v: Vec<f64> = (0..n).map(|i| lo + i as f64 * dv).collect();
        let n_oct = (fmax / 25.0).ln() / ln2;
        let ppo = n as f64 / n_oct;
        let s = ppo * log2(65.0 / 50.0) - 1.0;
        let aud = (0..n).map(|i| 0.5 + (3.0 * ((i + 1) as f64 - s) / ppo).atan() / std::f64::consts::PI).collect();
        // cPitchShs reads ppo, fmin_t and fmax_t as floats (level metadata).
        let ppof = ppo as f32;
        let mut shifts = Vec::new();
        let mut factors = Vec::new();
        let mut f = 1f32;
        for h in 2..=15u32 {
            f *= 0.85;
            shifts.push((ppof as f64 * log2(h as f64)).floor() as usize);
            factors.push(f);
        }
        let u0f = lo as f32;
        let duf = (hi as f32 - u0f) / (n - 1) as f32;
        let sp = SplineTables::new(&u, &v);
        Self {
            aud,
            sp,
            shifts,
            factors,
            u0f,
            duf,
            m: std::array::from_fn(|_| vec![0.0; n]),
            y: vec![[0.0; LANES]; n],
            e6: vec![[0.0; LANES]; n],
            y2: vec![[0.0; LANES]; n],
            uu: vec![[0.0; LANES]; n],
            h: std::array::from_fn(|_| vec![0.0; n]),
            ss: vec![0.0; n],
            fmin: range_lo,
            fmax: range_hi,
        }
    }

    /// Peak enhancement and smoothing (3.8.1) of one frame's magnitudes
    /// into `m`.
    fn enhance(mag: &[f32], m: &mut [f64]) {
        let n = NBINS60;
        for (d, &s) in m.iter_mut().zip(mag.iter()) {
            *d = s as f64;
        }
        // Peak enhancement: local maxima, then the bins more than two away
        // from the maxima on both sides zeroed. The maxima are found
        // branch-free as bit masks (64 bins a block, on the original values:
        // the zeroing for a maximum at b reaches b - 3 at most, below the
        // next block's first neighbour) and zeroed towards as they come.
        let mut nmax = 0usize;
        let mut prev = 0usize;
        let mut visit = |m: &mut [f64], b: usize| {
            if nmax >= 1 {
                let a = prev + 3;
                if b >= 3 && a <= b - 3 {
                    m[a..=b - 3].fill(0.0);
                }
            }
            prev = b;
            nmax += 1;
        };
        if m[0] > m[1] {
            visit(m, 0);
        }
        let mut i0 = 1;
        while i0 < n - 1 {
            let end = (i0 + 64).min(n - 1);
            let mut bits = 0u64;
            for (k, w) in m[i0 - 1..end + 1].windows(3).enumerate() {
                bits |= u64::from((w[1] > w[0]) & (w[1] >= w[2])) << k;
            }
            while bits != 0 {
                let b = i0 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                visit(m, b);
            }
            i0 = end;
        }
        if m[n - 1] > m[n - 2] {
            visit(m, n - 1);
        }
        if nmax == 1 {
            m[3..].fill(0.0);
        }
        // Smoothing (uses the original neighbours; the last bin is kept).
        let mut left = 0f64;
        for i in 0..n - 1 {
            let c = m[i];
            m[i] = (left + 2.0 * c + m[i + 1]) / 4.0;
            left = c;
        }
    }

    /// Octave-scale spectra (3.8.1) of [`LANES`] frames' F60 magnitudes into
    /// `self.h[lane]`. The spline of the frames is computed side by side
    /// (lanes doing the same operations), so the serial recurrences of one
    /// frame overlap those of the others; each lane's arithmetic is exactly
    /// that of a frame analysed alone.
    fn octave_lanes(&mut self, mags: [&[f32]; LANES]) {
        const L: usize = LANES;
        let n = NBINS60;
        for (lane, mag) in mags.into_iter().enumerate() {
            Self::enhance(mag, &mut self.m[lane]);
        }
        for (i, d) in self.y.iter_mut().enumerate() {
            *d = std::array::from_fn(|l| self.m[l][i]);
        }
        // Natural cubic spline through (u, m) as openSMILE's cached
        // spline: the second-difference term, the serial forward recurrence
        // u[i] = p_i (6 ut_i - sigma_i u[i-1]) and the back substitution.
        let sp = &self.sp;
        let (y, y2, uu, e6) = (&self.y, &mut self.y2, &mut self.uu, &mut self.e6);
        for (i, e) in e6.iter_mut().enumerate().take(n - 1).skip(1) {
            let (d1, d2) = (sp.diff1[i], sp.diff2[i]);
            for l in 0..L {
                let ut = (y[i + 1][l] - y[i][l]) / d1 - (y[i][l] - y[i - 1][l]) / d2;
                e[l] = 6.0 * ut;
            }
        }
        // The carried values stay in registers (no store-to-load round trip
        // on the serial chain).
        uu[0] = [0.0; L];
        let mut prev = uu[0];
        for i in 1..n - 1 {
            let (p, sg, e) = (sp.p[i], sp.sigma[i], e6[i]);
            for l in 0..L {
                prev[l] = p * (e[l] - sg * prev[l]);
            }
            uu[i] = prev;
        }
        y2[n - 1] = [0.0; L];
        let mut next = y2[n - 1];
        for ((d, &f), u) in y2[..n - 1].iter_mut().zip(sp.y2f[..n - 1].iter()).zip(uu[..n - 1].iter()).rev() {
            for l in 0..L {
                next[l] = f * next[l] + u[l];
            }
            *d = next;
        }
        let mut hv = [0f32; L];
        for i in 0..n {
            let klo = sp.klo[i];
            let (ylo, yhi, dlo, dhi) = (y[klo], y[klo + 1], y2[klo], y2[klo + 1]);
            let (a, c, d, aud) = (sp.a[i], sp.c[i], sp.d[i], self.aud[i]);
            let b = 1.0 - a;
            for l in 0..L {
                // The interpolated value is stored as float, then weighted
                // in double (cSpecScale); `if v > 0 { v aud } else { 0 }`
                // branch-free (NaN -> 0; `+ 0.0` turns -0.0 into +0.0).
                let v = (a * ylo[l] + b * yhi[l] + c * dlo[l] + d * dhi[l]) as f32;
                hv[l] = ((v.max(0.0) as f64) * aud) as f32 + 0.0;
            }
            for l in 0..L {
                self.h[l][i] = hv[l];
            }
        }
    }

    /// SHS pitch candidates (3.8.2) of one F60 magnitude spectrum.
    pub fn candidates(&mut self, mag: &[f32]) -> Candidates {
        self.octave_lanes([mag; LANES]);
        self.shs(0)
    }

    /// [`Shs::candidates`] of up to [`LANES`] F60 magnitude spectra (the
    /// same values as one by one, computed side by side), appended to `out`.
    pub fn candidates_many(&mut self, mags: &[&[f32]], out: &mut Vec<Candidates>) {
        for group in mags.chunks(LANES) {
            let lanes: [&[f32]; LANES] = std::array::from_fn(|l| group[l.min(group.len() - 1)]);
            self.octave_lanes(lanes);
            for lane in 0..group.len() {
                let c = self.shs(lane);
                out.push(c);
            }
        }
    }

    /// Subharmonic summation and candidate picking on the octave spectrum
    /// `self.h[lane]`.
    fn shs(&mut self, lane: usize) -> Candidates {
        let n = NBINS60;
        let ss = &mut self.ss;
        let h = &self.h[lane];
        // ss[j] = h[j] + sum over the shifts (in order) of fac h[j + sh],
        // for j + sh < n. Blocks of B bins are kept in registers over all
        // shifts; each ss[j] adds the same terms in the same order.
        const B: usize = 16;
        let mut j = 0;
        while j + B <= n {
            let mut acc = [0f32; B];
            acc.copy_from_slice(&h[j..j + B]);
            // The shifts ascend: those reaching past the end come last.
            let full = self.shifts.partition_point(|&sh| j + B + sh <= n);
            for (&sh, &fac) in self.shifts[..full].iter().zip(self.factors.iter()) {
                let hs: &[f32; B] = h[j + sh..j + sh + B].try_into().unwrap_or(&[0.0; B]);
                for k in 0..B {
                    acc[k] += hs[k] * fac;
                }
            }
            for (&sh, &fac) in self.shifts[full..].iter().zip(self.factors[full..].iter()) {
                for (a, &hv) in acc.iter_mut().zip(h[(j + sh).min(n)..].iter()) {
                    *a += hv * fac;
                }
            }
            ss[j..j + B].copy_from_slice(&acc);
            j += B;
        }
        for j in j..n {
            let mut a = h[j];
            for (&sh, &fac) in self.shifts.iter().zip(self.factors.iter()) {
                if j + sh < n {
                    a += h[j + sh] * fac;
                }
            }
            ss[j] = a;
        }
        for v in ss.iter_mut() {
            let q = *v / 15.0;
            *v = if q < 0.0 { 0.0 } else { q };
        }
        // cPitchShs: the mean of SS summed in double in bin order.
        let mean = ss.iter().fold(0f64, |a, &v| a + v as f64) / n as f64;
        // Greedy peak picking.
        let mut idx = [0usize; NCAND];
        let mut sc = [0f32; NCAND];
        let mut cnt = 0usize;
        // Local maxima, ranked in bin order: found branch-free as a bit mask
        // per block of 64 bins, then visited bit by bit.
        let mut i0 = 1;
        while i0 < n - 1 {
            let end = (i0 + 64).min(n - 1);
            let mut bits = 0u64;
            for (k, w) in ss[i0 - 1..end + 1].windows(3).enumerate() {
                bits |= u64::from((w[0] < w[1]) & (w[1] > w[2])) << k;
            }
            while bits != 0 {
                let i = i0 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                // Fast rejection (the search below would find no slot): the
                // list is full and its smallest score is at least ss[i].
                if sc[NCAND - 1] != 0.0 && sc[NCAND - 1] >= ss[i] {
                    continue;
                }
                if let Some(pos) = (0..NCAND).find(|&j| sc[j] == 0.0 || sc[j] < ss[i]) {
                    for j in (pos + 1..NCAND).rev() {
                        idx[j] = idx[j - 1];
                        sc[j] = sc[j - 1];
                    }
                    idx[pos] = i;
                    sc[pos] = ss[i];
                    cnt = (cnt + 1).min(NCAND);
                }
            }
            i0 = end;
        }
        let mut c = Candidates { n: cnt, ..Default::default() };
        for k in 0..cnt {
            let i = idx[k];
            let fi = i as f32;
            let x0 = self.u0f + (fi - 1.0) * self.duf;
            let x1 = self.u0f + fi * self.duf;
            let x2 = self.u0f + (fi + 1.0) * self.duf;
            let (y0, y1, y2) = (ss[i - 1] as f64, ss[i] as f64, ss[i + 1] as f64);
            let (xv, yv) = quad_from_3pts(x0 as f64, y0, x1 as f64, y1, x2 as f64, y2);
            // exp(x ln 2) as cPitchShs (not 2^x).
            c.f[k] = (xv * std::f64::consts::LN_2).exp() as f32;
            c.score[k] = yv as f32;
            c.v[k] = if yv > 0.0 && yv > mean { (1.0 - mean / yv) as f32 } else { 0.0 };
        }
        // Range filter.
        let mut i = 0;
        while i < NCAND {
            let f = c.f[i];
            if !(self.fmin..=self.fmax).contains(&f) {
                for j in i..NCAND - 1 {
                    c.f[j] = c.f[j + 1];
                    c.v[j] = c.v[j + 1];
                    c.score[j] = c.score[j + 1];
                }
                c.f[NCAND - 1] = 0.0;
                c.v[NCAND - 1] = 0.0;
                c.score[NCAND - 1] = 0.0;
                if f > 0.0 {
                    c.n = c.n.saturating_sub(1);
                    continue;
                }
            }
            i += 1;
        }
        // Best score into slot 0.
        let mut best = 0;
        for j in 1..NCAND {
            if c.score[j] > c.score[best] {
                best = j;
            }
        }
        c.f.swap(0, best);
        c.v.swap(0, best);
        c.score.swap(0, best);
        c
    }
}

fn range_cost(f: f64) -> f64 {
    if f <= 0.0 {
        2.0
    } else if f < 100.0 {
        1.0 - f / 100.0
    } else if f < 350.0 {
        0.0
    } else if f < 600.0 {
        (f - 350.0) / 250.0
    } else {
        1.2
    }
}

/// Viterbi smoothing of the SHS candidates (3.8.3). Returns the decided
/// (F0, voicing) per frame and P, the number of frames decided online
/// before the end-of-input flush. ComParE's buffer length (forced decision
/// when that many frames are undecided) is 30.
pub fn viterbi(cands: &[Candidates]) -> (Vec<(f32, f32)>, usize) {
    viterbi_buffered(cands, 30)
}

/// [`viterbi`] with a forced decision once `buffer` frames are undecided
/// (eGeMAPS: 40).
pub fn viterbi_buffered(cands: &[Candidates], buffer: usize) -> (Vec<(f32, f32)>, usize) {
    let n = cands.len();
    let mut out = vec![(0f32, 0f32); n];
    if n == 0 {
        return (out, 0);
    }
    let local = |c: &Candidates, s: usize| -> f64 {
        if s < NCAND {
            let pv = (c.v[s] as f64).clamp(0.01, 1.0);
            (-pv.ln() + if pv < VOICING_CUTOFF { 4.0 } else { 0.0 }) * 2.0 + range_cost(c.f[s] as f64)
        } else if c.v.iter().any(|&v| v as f64 >= VOICING_CUTOFF) {
            8.0
        } else {
            0.0
        }
    };
    let mut last_change = 1.0f64;
    let mut cost = [0f64; NSTATES];
    let mut bp: Vec<[u8; NSTATES]> = Vec::with_capacity(n);
    let mut dec: Vec<usize> = vec![NCAND; n];
    let mut conv = 0usize;
    let mut anc = vec![[0usize; NSTATES]; buffer + 2];
    let decide = |t: usize, s: usize, out: &mut Vec<(f32, f32)>| {
        let c = &cands[t];
        out[t] = if s < NCAND { (c.f[s], c.v[s]) } else { (0.0, c.v[0]) };
    };
    // State of the best path at frame m (tracing back from the last frame).
    let trace = |bp: &Vec<[u8; NSTATES]>, end: usize, s: usize, m: usize| -> usize {
        let mut st = s;
        let mut t = end;
        while t > m {
            st = bp[t][st] as usize;
            t -= 1;
        }
        st
    };
    for t in 0..n {
        let c = &cands[t];
        if t == 0 {
            for s in 0..NSTATES {
                cost[s] = local(c, s);
            }
            bp.push([0; NSTATES]);
        } else {
            let p = &cands[t - 1];
            let mut nc = [0f64; NSTATES];
            let mut b = [0u8; NSTATES];
            for i in 0..NSTATES {
                let mut best = f64::INFINITY;
                let mut bj = 0;
                for j in 0..NSTATES {
                    let tr = if i < NCAND && j < NCAND {
                        if c.f[i] == 0.0 || p.f[j] == 0.0 {
                            999.0
                        } else {
                            let r = ((c.f[i] / p.f[j]) as f64).ln();
                            let v = 10.0 * r.abs() + 10.0 * (r - last_change).abs();
                            last_change = r;
                            v
                        }
                    } else if i < NCAND || j < NCAND {
                        last_change = 0.0;
                        10.0
                    } else {
                        1.0
                    };
                    let v = cost[j] + tr;
                    if v < best {
                        best = v;
                        bj = j;
                    }
                }
                nc[i] = best + local(c, i);
                b[i] = bj as u8;
            }
            cost = nc;
            bp.push(b);
        }
        // Online decision.
        if (t + 1) - conv >= buffer {
            let best = (0..NSTATES).fold(0, |b, s| if cost[s] < cost[b] { s } else { b });
            let s = trace(&bp, t, best, conv);
            dec[conv] = s;
            decide(conv, s, &mut out);
            conv += 1;
        } else {
            // Ancestors of all states for frames conv..=t.
            let span = t + 1 - conv;
            if span <= anc.len() {
                let mut cur = [0usize; NSTATES];
                for (s, v) in cur.iter_mut().enumerate() {
                    *v = s;
                }
                let mut tt = t;
                loop {
                    anc[tt - conv] = cur;
                    if tt == conv {
                        break;
                    }
                    for v in cur.iter_mut() {
                        *v = bp[tt][*v] as usize;
                    }
                    tt -= 1;
                }
                let base = conv;
                for m in base..=t {
                    let a = anc[m - base];
                    if a.iter().all(|&s| s == a[0]) {
                        dec[m] = a[0];
                        decide(m, a[0], &mut out);
                        conv += 1;
                    } else {
                        break;
                    }
                }
            }
        }
    }
    let p = conv;
    let best = (0..NSTATES).fold(0, |b, s| if cost[s] < cost[b] { s } else { b });
    for m in conv..n {
        let s = trace(&bp, n - 1, best, m);
        dec[m] = s;
        decide(m, s, &mut out);
    }
    (out, p)
}

/// Per-frame jitter, shimmer and HNR outputs.
#[derive(Debug, Clone, Copy, Default)]
pub struct VoiceQuality {
    /// jitterLocal
    pub jitter_local: f32,
    /// jitterDDP
    pub jitter_ddp: f32,
    /// shimmerLocal
    pub shimmer: f32,
    /// logHNR (dB, floored at -100)
    pub log_hnr: f32,
}

fn pearson(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len() as f64;
    // Both sums in one pass (each still summed in order).
    let (mut sa, mut sb) = (0f64, 0f64);
    for (&x, &y) in a.iter().zip(b.iter()) {
        sa += x as f64;
        sb += y as f64;
    }
    let (ma, mb) = (sa / n, sb / n);
    let (mut sab, mut saa, mut sbb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b.iter()) {
        let (x, y) = (x as f64 - ma, y as f64 - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    // A constant window gives 0 / 0 = NaN, as in openSMILE: that lag can
    // then never be (or border) a correlation peak, since every comparison
    // with NaN is false.
    sab / (saa.sqrt() * sbb.sqrt())
}

/// Dot product in double with four independent partial sums (vectorisable).
#[inline]
fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] as f64 * y[k] as f64;
        }
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (&x, &y) in ra.iter().zip(rb.iter()) {
        s += x as f64 * y as f64;
    }
    s
}

/// Pearson correlations of `w[..l]` with `w[l..2l]` for every lag `l` in
/// `lo..hi` into `cc` (the period search of 3.9). Window sums and sums of
/// squares come from prefix sums over `w` (`p1`, `p2`: scratch), the cross
/// sum from one dot product per lag, and the moments by
/// `S_xy - S_x S_y / l`. Where that expansion is ill-conditioned (a window's
/// variance below 1e-6 of the energy seen so far, e.g. digital silence or a
/// clipped plateau) the lag falls back to the two-pass [`pearson`], so
/// constant windows still give NaN (openSMILE's 0 / 0). Agrees with
/// [`pearson`] to ~1e-12.
fn lag_correlations(w: &[f32], lo: usize, hi: usize, p1: &mut Vec<f64>, p2: &mut Vec<f64>, cc: &mut Vec<f64>) {
    cc.clear();
    let m = (2 * hi).min(w.len());
    p1.clear();
    p2.clear();
    let (mut s1, mut s2) = (0f64, 0f64);
    p1.push(0.0);
    p2.push(0.0);
    for &v in &w[..m] {
        let v = v as f64;
        s1 += v;
        s2 += v * v;
        p1.push(s1);
        p2.push(s2);
    }
    for l in lo..hi {
        let (a, b) = (&w[..l], &w[l..2 * l]);
        let n = l as f64;
        let (sa, sb) = (p1[l], p1[2 * l] - p1[l]);
        let (saa, sbb) = (p2[l], p2[2 * l] - p2[l]);
        let va = saa - sa * sa / n;
        let vb = sbb - sb * sb / n;
        let guard = 1e-6 * p2[2 * l];
        if va <= guard || vb <= guard {
            cc.push(pearson(a, b));
            continue;
        }
        let cov = dot_f64(a, b) - sa * sb / n;
        cc.push(cov / (va.sqrt() * vb.sqrt()));
    }
}

fn peak_to_peak(b: &[f32], s: usize, p: usize) -> f32 {
    let mut mx = f32::NEG_INFINITY;
    let mut mn = f32::INFINITY;
    for i in 1..p.saturating_sub(1) {
        if let Some(&v) = b.get(s + i) {
            mx = mx.max(v);
            mn = mn.min(v);
        }
    }
    if mx >= mn {
        mx - mn
    } else {
        0.0
    }
}

/// Jitter, shimmer and log HNR (3.9) from the waveform and the gated F0
/// contour (ComParE: relative period search range 0.25).
pub fn voice_quality(x: &[f32], f0: &[f32], out: &mut Vec<VoiceQuality>) {
    voice_quality_range(x, f0, 0.25, out);
}

/// [`voice_quality`] with the relative period search range `rel` (eGeMAPS: 0.10).
pub fn voice_quality_range(x: &[f32], f0: &[f32], rel: f64, out: &mut Vec<VoiceQuality>) {
    out.clear();
    const TS: f64 = 1.0 / 16000.0;
    let (mut pos, mut mis) = (0usize, 0usize);
    let (mut last_t0, mut last_diff) = (0f32, 0f32);
    let (mut last_jl, mut last_jd, mut last_sh) = (0f32, 0f32, 0f32);
    let mut cc: Vec<f64> = Vec::new();
    let (mut p1, mut p2): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut q: Vec<usize> = Vec::new();
    let mut avg: Vec<f32> = Vec::new();
    for (t, &f) in f0.iter().enumerate() {
        let st = t * HOP;
        let need0 = HOP + mis;
        let mut need = need0;
        let (mut t0, mut lo, mut hi) = (0usize, 0usize, 0usize);
        if f > 0.0 {
            let tf = (1.0 / f as f64) / TS;
            t0 = tf.round() as usize;
            lo = ((1.0 - rel) * tf).floor() as usize;
            hi = ((1.0 + rel) * tf).ceil() as usize;
            need = need.max(2 * hi + 2);
        }
        need = need.min(mis + LEN60);
        if st < mis || st - mis != pos {
            pos = st;
            need = need.min(LEN60);
        }
        let end = (pos + need).min(x.len());
        let b = &x[pos.min(end)..end];
        let nb = b.len();
        let mut vq = VoiceQuality { log_hnr: -100.0, ..Default::default() };
        let last_period;
        if f > 0.0 && t0 > 0 && hi > lo + 2 {
            let mut start = 0usize;
            let mut lp = 0usize;
            let mut p = 0usize;
            q.clear();
            avg.clear();
            avg.resize(t0, 0.0);
            let (mut np, mut npl, mut npd) = (0usize, 0usize, 0usize);
            let (mut sum_p, mut jl, mut jd, mut amp, mut amp_diff) = (0f32, 0f32, 0f32, 0f32, 0f32);
            while (start as isize) < nb as isize - 2 * hi as isize - 1 {
                lag_correlations(&b[start..], lo, hi, &mut p1, &mut p2, &mut cc);
                let mut idx: Option<usize> = None;
                for i in 1..=(hi - lo - 2) {
                    if cc[i - 1] < cc[i] && cc[i] > cc[i + 1] && idx.is_none_or(|k| cc[i] > cc[k]) {
                        idx = Some(i);
                    }
                }
                match idx {
                    None => {
                        p = t0;
                        start += t0;
                    }
                    Some(ix) => {
                        p = lo + ix;
                        let s0 = start;
                        start += p;
                        let a0 = peak_to_peak(b, s0, p);
                        let a1 = peak_to_peak(b, start, p);
                        let ad = (a0 - a1).abs();
                        q.push(s0);
                        for i in 0..t0 {
                            if let Some(&v) = b.get(s0 + i) {
                                avg[i] += v;
                            }
                        }
                        let (xv, cci) = parabola_vertex(
                            ix as f64 - 1.0,
                            cc[ix - 1],
                            ix as f64,
                            cc[ix],
                            ix as f64 + 1.0,
                            cc[ix + 1],
                        )
                        .unwrap_or((ix as f64, cc[ix]));
                        let period = ((lo as f64 + xv).abs() * TS) as f32;
                        if cci > 0.5 {
                            sum_p += period;
                            np += 1;
                            if last_t0 > 0.0 {
                                let d = (last_t0 - period).abs();
                                jl += d;
                                npl += 1;
                                if last_diff > 0.0 {
                                    jd += (last_diff - d).abs();
                                    npd += 1;
                                }
                                last_diff = d;
                            }
                            last_t0 = period;
                            amp += (a0 + a1) / 2.0;
                            amp_diff += ad;
                        }
                    }
                }
                if start + 1 < need0 {
                    lp = start;
                }
            }
            q.push(start);
            let k = q.len();
            let mut eh = 0f32;
            let mut i = 0usize;
            while i < t0 && start + i < nb {
                avg[i] = (avg[i] + b[start + i]) / k as f32;
                if i > 2 && i + 2 < t0 {
                    eh += avg[i] * avg[i];
                }
                i += 1;
            }
            if t0 > 4 {
                eh /= (t0 - 4) as f32;
            }
            let eh = eh.sqrt();
            if p > 0 {
                q.push(start + p);
            }
            let mut en = 0f32;
            let mut cnt = 0usize;
            for kk in 0..k {
                let Some(&qn) = q.get(kk + 1) else { break };
                let qk = q[kk];
                let hi_j = qn.min(qk + t0) as isize - 3;
                let mut j = qk as isize + 2;
                while j <= hi_j {
                    let ju = j as usize;
                    if let (Some(&bv), Some(&av)) = (b.get(ju), avg.get(ju - qk)) {
                        let d = bv - av;
                        en += d * d;
                        cnt += 1;
                    }
                    j += 1;
                }
            }
            if cnt > 0 {
                en /= cnt as f32;
            }
            let en = en.sqrt();
            let mut lh = 0f32;
            if en > 0.0 {
                let hnr = eh / en;
                lh = if hnr > 0.0 { (20.0 * (hnr as f64).log10()) as f32 } else { -100.0 };
            }
            vq.log_hnr = lh.max(-100.0);
            mis = need0 - lp;
            last_period = lp;
            // Outputs.
            if np > 0 && npl > 0 {
                last_jl = ((jl / npl as f32) / (sum_p / np as f32)).min(1.0);
                vq.jitter_local = last_jl;
            } else if np == 0 {
                vq.jitter_local = last_jl.min(1.0);
            }
            if np > 0 && npd > 0 {
                last_jd = ((jd / npd as f32) / (sum_p / np as f32)).min(1.0);
                vq.jitter_ddp = last_jd;
            } else if np == 0 {
                vq.jitter_ddp = last_jd.min(1.0);
            }
            if np > 0 {
                last_sh = if amp != 0.0 { amp_diff / amp } else { 0.0 };
                vq.shimmer = last_sh.min(1.0);
            } else {
                vq.shimmer = last_sh.min(1.0);
            }
        } else {
            last_period = need0;
            mis = 0;
            last_t0 = 0.0;
            last_diff = 0.0;
            last_jl = 0.0;
            last_jd = 0.0;
            last_sh = 0.0;
        }
        pos += last_period;
        for v in [&mut vq.jitter_local, &mut vq.jitter_ddp, &mut vq.shimmer, &mut vq.log_hnr] {
            if !v.is_finite() {
                *v = 0.0;
            }
        }
        out.push(vq);
    }
}

/// Nz ("noZero") 3-frame smoothing of one contour with the end-of-input
/// rule of 4.3: values at index >= `cut` are replaced by `x[cut-1]`.
pub fn smooth_nz(x: &[f32], cut: Option<usize>, out: &mut Vec<f32>) {
    out.clear();
    let n = x.len();
    if n == 0 {
        return;
    }
    for t in 0..=n {
        out.push(smooth_nz_at(x, t, cut.unwrap_or(n)));
    }
}

pub(crate) fn smooth_nz_at(x: &[f32], t: usize, cut: usize) -> f32 {
    let n = x.len().min(cut.max(1));
    let at = |i: isize| edge(x, n, i);
    let t = t as isize;
    let c = at(t);
    if c == 0.0 {
        return 0.0;
    }
    let mut s = c;
    let mut k = 1f32;
    let l = at(t - 1);
    if l != 0.0 {
        s += l;
        k += 1.0;
    }
    let r = at(t + 1);
    if r != 0.0 {
        s += r;
        k += 1.0;
    }
    s / k
}

/// Smoothed Nz contours (N60 + 1 frames each) from the 6 raw Nz contours,
/// applying the end-of-input rule at indices P-1 and P.
pub fn smooth_nz_group(raw: &[Vec<f32>; 6], p: usize, out: &mut [Vec<f32>; 6]) {
    for c in 0..6 {
        smooth_nz(&raw[c], None, &mut out[c]);
        if c >= 2 && p >= 1 {
            for t in [p - 1, p] {
                if t < out[c].len() {
                    out[c][t] = smooth_nz_at(&raw[c], t, p);
                }
            }
        }
    }
}

/// Nz deltas (4.2, 4.3) with the file-global growing normaliser and the
/// end-of-input truncation rules. `y` are the 6 smoothed contours (N60 + 1).
pub fn delta_nz_group(y: &[Vec<f32>; 6], n60: usize, p: usize, out: &mut [Vec<f32>; 6]) {
    for o in out.iter_mut() {
        o.clear();
    }
    let len = y[0].len();
    if len == 0 {
        return;
    }
    let s0 = (p + 1).max(n60.saturating_sub(1));
    let d0 = (p + 3).max(s0.saturating_sub(2));
    let mut norm = 10f32;
    for t in 0..len + 2 {
        let ct = if t <= p + 2 {
            p + 1
        } else if t < d0 {
            n60 + 1
        } else {
            (s0 + (t + 1 - d0)).min(n60 + 1)
        };
        let ct = ct.clamp(1, len);
        for c in 0..6 {
            let yc = &y[c];
            let at = |i: isize| edge(yc, ct, i);
            let mut num = 0f32;
            for i in 1..=2isize {
                let a = at(t as isize + i);
                let b = at(t as isize - i);
                if a != 0.0 && b != 0.0 && !a.is_nan() && !b.is_nan() {
                    num += i as f32 * (a - b);
                    norm += (i * i) as f32;
                }
            }
            out[c].push(num / norm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic noise in [-1, 1] (LCG), on the 16-bit sample grid.
    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let k = ((s >> 33) % 65535) as i32 - 32767;
                (f64::from(k) / 32767.0) as f32
            })
            .collect()
    }

    #[test]
    fn candidates_of_frames_side_by_side_equal_one_by_one() {
        let mut shs = Shs::new();
        let mut solo = Shs::new();
        let spec = |seed: u64| -> Vec<f32> {
            // Harmonic peaks on a noise floor, plus a silent frame.
            let f0 = 80.0 + (seed % 9) as f32 * 25.0;
            noise(NBINS60, seed)
                .iter()
                .enumerate()
                .map(|(k, &e)| {
                    let f = k as f32 * 15.625;
                    let h = (f / f0).fract();
                    let peak = if seed.is_multiple_of(5) { 0.0 } else { (-(h.min(1.0 - h) * 12.0).powi(2)).exp() };
                    (peak * 3.0 + 0.05 * e.abs()) * if seed.is_multiple_of(7) { 0.0 } else { 1.0 }
                })
                .collect()
        };
        for seed in 0..24u64 {
            let k = 1 + seed as usize % 7;
            let specs: Vec<Vec<f32>> = (0..k as u64).map(|j| spec(seed + 100 * j)).collect();
            let refs: Vec<&[f32]> = specs.iter().map(|v| &v[..]).collect();
            let mut many = Vec::new();
            shs.candidates_many(&refs, &mut many);
            assert_eq!(many.len(), k);
            for (c, m) in many.iter().zip(&specs) {
                let one = solo.candidates(m);
                assert_eq!(c.n, one.n, "seed {seed}");
                for s in 0..NCAND {
                    assert_eq!(c.f[s].to_bits(), one.f[s].to_bits(), "seed {seed} slot {s}");
                    assert_eq!(c.v[s].to_bits(), one.v[s].to_bits(), "seed {seed} slot {s}");
                    assert_eq!(c.score[s].to_bits(), one.score[s].to_bits(), "seed {seed} slot {s}");
                }
            }
        }
    }

    #[test]
    fn lag_correlations_agree_with_two_pass_pearson() {
        let n = 800;
        let voiced: Vec<f32> = noise(n, 1)
            .iter()
            .enumerate()
            .map(|(i, &e)| (0.6 * (i as f64 * 0.0785).sin() + 0.05 * e as f64 + 0.01) as f32)
            .collect();
        // Loud start, then a quiet stretch 80 dB down (the fallback path).
        let mut quiet = noise(n, 2);
        for v in quiet[200..].iter_mut() {
            *v *= 1e-4;
        }
        let silence = vec![0f32; n];
        // Clipped plateau: constant windows (0 / 0, see `pearson`).
        let mut clipped = vec![1f32; n];
        for v in clipped[300..].iter_mut() {
            *v = -1.0;
        }
        let (mut p1, mut p2, mut cc) = (Vec::new(), Vec::new(), Vec::new());
        for w in [&voiced, &quiet, &silence, &clipped] {
            let (lo, hi) = (60, 140);
            lag_correlations(w, lo, hi, &mut p1, &mut p2, &mut cc);
            assert_eq!(cc.len(), hi - lo);
            for (k, l) in (lo..hi).enumerate() {
                let want = pearson(&w[..l], &w[l..2 * l]);
                let same_nan = cc[k].is_nan() && want.is_nan();
                assert!(same_nan || (cc[k] - want).abs() < 1e-9, "lag {l}: {} vs {want}", cc[k]);
            }
        }
        // Constant windows: 0 / 0 = NaN, as openSMILE's correlation gives.
        lag_correlations(&clipped, 60, 140, &mut p1, &mut p2, &mut cc);
        assert!(cc.iter().all(|c| c.is_nan()), "constant windows: {cc:?}");
        lag_correlations(&silence, 60, 140, &mut p1, &mut p2, &mut cc);
        assert!(cc.iter().all(|c| c.is_nan()), "digital silence: {cc:?}");
    }
}
