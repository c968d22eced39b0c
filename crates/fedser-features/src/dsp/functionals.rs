//! Functionals applied to LLD contours (spec section 5).
//!
//! Each public `*_into` function appends its outputs (as f32) to `out` in
//! openSMILE's order. All of them accept any contour length, including 0,
//! and never produce NaN or infinity (non-finite results become 0).

/// Frame period in seconds.
const T: f32 = 0.01;

/// Names of the 31 functionals of groups A and B.
pub const AB_NAMES: [&str; 31] = [
    "range",
    "maxPos",
    "minPos",
    "quartile1",
    "quartile2",
    "quartile3",
    "iqr1-2",
    "iqr2-3",
    "iqr1-3",
    "percentile1.0",
    "percentile99.0",
    "pctlrange0-1",
    "stddev",
    "skewness",
    "kurtosis",
    "meanSegLen",
    "maxSegLen",
    "minSegLen",
    "segLenStddev",
    "upleveltime25",
    "upleveltime50",
    "upleveltime75",
    "upleveltime90",
    "risetime",
    "leftctime",
    "lpgain",
    "lpc0",
    "lpc1",
    "lpc2",
    "lpc3",
    "lpc4",
];

/// Names of the 23 functionals of the LLD group.
pub const LLD_NAMES: [&str; 23] = [
    "amean",
    "flatness",
    "rqmean",
    "meanPeakDist",
    "peakDistStddev",
    "peakRangeAbs",
    "peakRangeRel",
    "peakMeanAbs",
    "peakMeanMeanDist",
    "peakMeanRel",
    "minRangeRel",
    "meanRisingSlope",
    "stddevRisingSlope",
    "meanFallingSlope",
    "stddevFallingSlope",
    "linregc1",
    "linregc2",
    "linregerrQ",
    "qregc1",
    "qregc2",
    "qregc3",
    "qregerrQ",
    "centroid",
];

/// Names of the 15 functionals of the Delta group.
pub const DELTA_NAMES: [&str; 15] = [
    "flatness",
    "posamean",
    "rqmean",
    "meanPeakDist",
    "peakDistStddev",
    "peakRangeAbs",
    "peakRangeRel",
    "peakMeanAbs",
    "peakMeanMeanDist",
    "peakMeanRel",
    "minRangeRel",
    "meanRisingSlope",
    "stddevRisingSlope",
    "meanFallingSlope",
    "stddevFallingSlope",
];

/// Names of the 39 functionals of the Nz group.
pub const NZ_NAMES: [&str; 39] = [
    "amean",
    "flatness",
    "posamean",
    "rqmean",
    "range",
    "maxPos",
    "minPos",
    "linregc1",
    "linregc2",
    "linregerrQ",
    "qregc1",
    "qregc2",
    "qregc3",
    "qregerrQ",
    "centroid",
    "quartile1",
    "quartile2",
    "quartile3",
    "iqr1-2",
    "iqr2-3",
    "iqr1-3",
    "percentile1.0",
    "percentile99.0",
    "pctlrange0-1",
    "stddev",
    "skewness",
    "kurtosis",
    "upleveltime25",
    "upleveltime50",
    "upleveltime75",
    "upleveltime90",
    "risetime",
    "leftctime",
    "lpgain",
    "lpc0",
    "lpc1",
    "lpc2",
    "lpc3",
    "lpc4",
];

/// Names of the 5 functionals of the F0 group.
pub const F0_NAMES: [&str; 5] = ["nnz", "meanSegLen", "maxSegLen", "minSegLen", "segLenStddev"];

/// Reusable scratch space for the functionals.
#[derive(Default)]
pub struct FuncScratch {
    keys: Vec<i32>,
    peaks: Vec<PeakEl>,
    pub(crate) segs: Vec<usize>,
    rising: Vec<f32>,
    falling: Vec<f32>,
}

#[derive(Clone, Copy)]
struct PeakEl {
    is_max: bool,
    y: f32,
    idx: usize,
    alive: bool,
}

/// Basic statistics shared by several functionals.
#[derive(Clone, Copy)]
pub(crate) struct Basic {
    pub(crate) min: f32,
    pub(crate) max: f32,
    pub(crate) mean: f32,
}

pub(crate) fn basic(x: &[f32]) -> Basic {
    let mut min = f32::INFINITY;
    let mut max = f32::NEG_INFINITY;
    let mut s = 0f64;
    for &v in x {
        min = min.min(v);
        max = max.max(v);
        s += v as f64;
    }
    if x.is_empty() {
        return Basic { min: 0.0, max: 0.0, mean: 0.0 };
    }
    Basic { min, max, mean: (s / x.len() as f64) as f32 }
}

#[inline]
fn fin(v: f64) -> f32 {
    let f = v as f32;
    if f.is_finite() {
        f
    } else {
        0.0
    }
}

fn push_zeros(out: &mut Vec<f32>, n: usize) {
    out.extend(std::iter::repeat_n(0.0, n));
}

/// The 31 functionals of groups A and B (relative-threshold segments).
pub fn ab_into(x: &[f32], sc: &mut FuncScratch, out: &mut Vec<f32>) {
    if x.is_empty() {
        push_zeros(out, AB_NAMES.len());
        return;
    }
    let b = basic(x);
    extremes(x, &b, out);
    percentiles(x, sc, out);
    moments(x, &b, out);
    segments_rel(x, &b, sc, out);
    times(x, &b, out);
    lpc(x, out);
}

/// The 23 functionals of the LLD group (regression per second).
pub fn lld_into(x: &[f32], sc: &mut FuncScratch, out: &mut Vec<f32>) {
    if x.is_empty() {
        push_zeros(out, LLD_NAMES.len());
        return;
    }
    let b = basic(x);
    out.push(b.mean);
    out.push(flatness(x));
    out.push(rqmean(x));
    peaks2(x, &b, sc, out);
    regression(x, &b, true, out);
}

/// The 15 functionals of the Delta group.
pub fn delta_into(x: &[f32], sc: &mut FuncScratch, out: &mut Vec<f32>) {
    if x.is_empty() {
        push_zeros(out, DELTA_NAMES.len());
        return;
    }
    let b = basic(x);
    out.push(flatness(x));
    out.push(posamean(x));
    out.push(rqmean(x));
    peaks2(x, &b, sc, out);
}

/// The 39 functionals of the Nz group; zeros are removed from `x` first.
pub fn nz_into(x: &[f32], sc: &mut FuncScratch, out: &mut Vec<f32>) {
    let nz: Vec<f32> = x.iter().copied().filter(|&v| v != 0.0).collect();
    let x = &nz[..];
    if x.is_empty() {
        push_zeros(out, NZ_NAMES.len());
        return;
    }
    let b = basic(x);
    out.push(b.mean);
    out.push(flatness(x));
    out.push(posamean(x));
    out.push(rqmean(x));
    extremes(x, &b, out);
    regression(x, &b, false, out);
    percentiles(x, sc, out);
    moments(x, &b, out);
    times(x, &b, out);
    lpc(x, out);
}

/// The 5 functionals of the F0 group (non-zero ratio and non-zero segments).
pub fn f0_into(x: &[f32], sc: &mut FuncScratch, out: &mut Vec<f32>) {
    if x.is_empty() {
        push_zeros(out, F0_NAMES.len());
        return;
    }
    let nnz = x.iter().filter(|&&v| v != 0.0).count();
    out.push((nnz as f64 / x.len() as f64) as f32);
    nonx_segments(x, false, usize::MAX, &mut sc.segs);
    seg_stats(&sc.segs, out);
}

/// Segments of the "non-X" state machine (X = 0, minimum segment 3,
/// minimum pause 2; spec 5) into `segs`, at most `max_segs`. With `eq` the
/// roles are swapped ("eq-X": runs of exact zeros are the segments).
pub(crate) fn nonx_segments(x: &[f32], eq: bool, max_segs: usize, segs: &mut Vec<usize>) {
    segs.clear();
    let (mut state, mut cs, mut ce, mut sidx) = (0u8, 0usize, 0usize, 0usize);
    for (i, &v) in x.iter().enumerate() {
        if (v != 0.0) != eq {
            match state {
                1 => {
                    ce = 0;
                    cs += 1;
                    if cs >= 3 {
                        cs = 0;
                        state = 2;
                    }
                }
                0 => {
                    cs += 1;
                    sidx = i;
                    state = 1;
                }
                _ => ce = 0,
            }
        } else {
            match state {
                2 => {
                    cs = 0;
                    ce += 1;
                    if ce >= 2 {
                        state = 0;
                        if segs.len() < max_segs {
                            segs.push((i - ce).saturating_sub(sidx));
                        }
                        ce = 0;
                    }
                }
                1 => {
                    ce += 1;
                    if ce >= 2 {
                        state = 0;
                        ce = 0;
                        cs = 0;
                    }
                }
                _ => {}
            }
        }
    }
    if state == 2 && segs.len() < max_segs {
        ce += 1;
        segs.push((x.len().saturating_sub(ce)).saturating_sub(sidx));
    }
}

fn extremes(x: &[f32], b: &Basic, out: &mut Vec<f32>) {
    let n = x.len() as f32;
    let maxpos = x.iter().position(|&v| v == b.max).unwrap_or(0);
    let minpos = x.iter().position(|&v| v == b.min).unwrap_or(0);
    out.push(b.max - b.min);
    out.push(maxpos as f32 / n);
    out.push(minpos as f32 / n);
}

pub(crate) fn pctl(s: &[f32], p: f64) -> f32 {
    let n = s.len();
    let r = p * (n - 1) as f64;
    let i1 = r.floor();
    let i2 = r.ceil();
    let (a, b) = (i1 as usize, i2 as usize);
    if a != b {
        s[a] * ((i2 - r) as f32) + s[b] * ((r - i1) as f32)
    } else {
        s[a]
    }
}

/// Key of `v` whose signed integer order is `f32::total_cmp`'s order (the
/// same transform as `total_cmp`; applying it twice gives `v`'s bits back).
#[inline]
fn total_key(bits: i32) -> i32 {
    bits ^ ((((bits >> 31) as u32) >> 1) as i32)
}

/// The values at the sorted positions `pos` (ascending, distinct, absolute
/// indices; `k` holds the elements of positions `base..`) of the `total_key`
/// order into `vals`, by nested selection instead of a full sort.
fn select_positions(k: &mut [i32], base: usize, pos: &[usize], vals: &mut [i32]) {
    if pos.is_empty() {
        return;
    }
    let mid = pos.len() / 2;
    let (lo, v, hi) = k.select_nth_unstable(pos[mid] - base);
    vals[mid] = *v;
    let (vl, vr) = vals.split_at_mut(mid);
    select_positions(lo, base, &pos[..mid], vl);
    select_positions(hi, pos[mid] + 1, &pos[mid + 1..], &mut vr[1..]);
}

/// [`pctl`] of `x` at each of `ps` into `out` (the same values as on the
/// sorted `x`: elements equal under `total_cmp` are bit-identical, so any
/// order statistic is unique), from at most 2 `ps.len()` selected order
/// statistics. `keys` is scratch. `x` must be non-empty, `ps.len() <= 8`.
pub(crate) fn percentiles_of(x: &[f32], ps: &[f64], keys: &mut Vec<i32>, out: &mut [f32]) {
    const MAXP: usize = 8;
    keys.clear();
    keys.extend(x.iter().map(|&v| total_key(v.to_bits() as i32)));
    let n = x.len();
    let mut pos = [0usize; 2 * MAXP];
    let mut np = 0;
    for &p in ps {
        let r = p * (n - 1) as f64;
        pos[np] = r.floor() as usize;
        pos[np + 1] = r.ceil() as usize;
        np += 2;
    }
    let pos = &mut pos[..np];
    pos.sort_unstable();
    let mut m = 0;
    for i in 0..pos.len() {
        if i == 0 || pos[i] != pos[m - 1] {
            pos[m] = pos[i];
            m += 1;
        }
    }
    let pos = &pos[..m];
    let mut vals = [0i32; 2 * MAXP];
    select_positions(keys, 0, pos, &mut vals[..m]);
    let at = |i: usize| -> f32 {
        let j = pos.partition_point(|&q| q < i);
        f32::from_bits(total_key(vals[j]) as u32)
    };
    for (o, &p) in out.iter_mut().zip(ps) {
        let r = p * (n - 1) as f64;
        let i1 = r.floor();
        let i2 = r.ceil();
        let (a, b) = (i1 as usize, i2 as usize);
        *o = if a != b { at(a) * ((i2 - r) as f32) + at(b) * ((r - i1) as f32) } else { at(a) };
    }
}

fn percentiles(x: &[f32], sc: &mut FuncScratch, out: &mut Vec<f32>) {
    let mut v = [0f32; 5];
    percentiles_of(x, &[0.25, 0.5, 0.75, 0.01, 0.99], &mut sc.keys, &mut v);
    let [q1, q2, q3, p1, p99] = v;
    out.extend_from_slice(&[q1, q2, q3, q2 - q1, q3 - q2, q3 - q1, p1, p99, (p99 - p1).abs()]);
}

fn moments(x: &[f32], b: &Basic, out: &mut Vec<f32>) {
    let m = b.mean as f64;
    let (mut s2, mut s3, mut s4) = (0f64, 0f64, 0f64);
    for &v in x {
        let d = v as f64 - m;
        let d2 = d * d;
        s2 += d2;
        s3 += d2 * d;
        s4 += d2 * d2;
    }
    let n = x.len() as f64;
    let var = s2 / n;
    out.push(fin(var.sqrt()));
    if var > 0.0 {
        out.push(fin(s3 / (n * var.powf(1.5))));
        out.push(fin(s4 / (n * var * var)));
    } else {
        out.push(0.0);
        out.push(0.0);
    }
}

pub(crate) fn seg_stats(segs: &[usize], out: &mut Vec<f32>) {
    if segs.is_empty() {
        push_zeros(out, 4);
        return;
    }
    let k = segs.len() as f32;
    let mut sum = 0f32;
    let mut mx = 0usize;
    let mut mn = usize::MAX;
    for &s in segs {
        sum += s as f32;
        mx = mx.max(s);
        mn = mn.min(s);
    }
    let mean = sum / k;
    let sd = if segs.len() >= 2 {
        let mut acc = 0f32;
        for &s in segs {
            let d = s as f32 - mean;
            acc += d * d;
        }
        (acc / k).sqrt()
    } else {
        0.0
    };
    out.extend_from_slice(&[mean * T, mx as f32 * T, mn as f32 * T, sd * T]);
}

fn segments_rel(x: &[f32], b: &Basic, sc: &mut FuncScratch, out: &mut Vec<f32>) {
    let n = x.len();
    let range = b.max - b.min;
    let th = [b.min + 0.25 * range, b.min + 0.75 * range];
    let seg_min = ((n / 100) as isize - 1).max(2);
    let mut last: isize = -(seg_min / 2);
    let mut sum = 0f32;
    let mut ra_prev = 0f32;
    sc.segs.clear();
    for i in 0..n {
        sum += x[i];
        if i >= 3 {
            sum -= x[i - 3];
        }
        let ra = sum / (i + 1).min(3) as f32;
        let crossing = th.iter().any(|&t| (ra > t && ra_prev <= t) || (ra < t && ra_prev >= t));
        ra_prev = ra;
        if crossing && (i as isize - last) > seg_min {
            if sc.segs.len() < 100 {
                sc.segs.push((i as isize - last) as usize);
            }
            last = i as isize;
        }
    }
    let segs = std::mem::take(&mut sc.segs);
    seg_stats(&segs, out);
    sc.segs = segs;
}

fn times(x: &[f32], b: &Basic, out: &mut Vec<f32>) {
    let n = x.len();
    let range = b.max - b.min;
    let l = [0.25f32, 0.5, 0.75, 0.9].map(|p| b.min + p * range);
    // One branch-free pass for the four level counts.
    let mut below = [0usize; 4];
    for &v in x {
        for (c, &lk) in below.iter_mut().zip(l.iter()) {
            *c += usize::from(v <= lk);
        }
    }
    for c in below {
        out.push(((n - c) as f64 / n as f64) as f32);
    }
    let rise = if n > 1 {
        let c: usize = x.windows(2).map(|w| usize::from(w[1] > w[0])).sum();
        (c as f64 / (n - 1) as f64) as f32
    } else {
        0.0
    };
    out.push(rise);
    let left = if n > 2 {
        let c: usize = x.windows(3).map(|w| usize::from((w[1] - w[0]) < (w[2] - w[1]))).sum();
        (c as f64 / (n - 2) as f64) as f32
    } else {
        0.0
    };
    out.push(left);
}

fn lpc(x: &[f32], out: &mut Vec<f32>) {
    const P: usize = 5;
    let mut a = [0f32; P + 1];
    match lpc_coeffs(x, &mut a) {
        None => push_zeros(out, P + 1),
        Some(e) => {
            let g = e / x.len() as f32;
            out.push(if g.is_finite() { g } else { 0.0 });
            for &ai in &a[1..] {
                out.push(if ai.is_finite() { ai } else { 0.0 });
            }
        }
    }
}

/// Autocorrelation lags `r[k] = sum_{i >= k} x[i] x[i - k]`, k < Q, in one
/// pass over `x`: Q independent sums, each accumulated in the same order (i
/// ascending) as a loop per lag.
fn autocorr<const Q: usize>(x: &[f32]) -> [f32; Q] {
    let mut acc = [0f32; Q];
    for i in 0..x.len().min(Q - 1) {
        for k in 0..=i {
            acc[k] += x[i] * x[i - k];
        }
    }
    for w in x.windows(Q) {
        let xi = w[Q - 1];
        for k in 0..Q {
            acc[k] += xi * w[Q - 1 - k];
        }
    }
    acc
}

/// LPC of order `a.len() - 1` by the autocorrelation method (float
/// autocorrelation and Levinson-Durbin, `A(z) = 1 + sum a_k z^-k`; `a[0]`
/// is set to 1). Returns the final prediction error, or `None` (and all
/// coefficients 0) if `r[0] = 0`.
pub(crate) fn lpc_coeffs(x: &[f32], a: &mut [f32]) -> Option<f32> {
    let p = a.len() - 1;
    let n = x.len();
    let mut r = [0f32; 32];
    let r = &mut r[..=p];
    match p {
        5 => r.copy_from_slice(&autocorr::<6>(x)),
        11 => r.copy_from_slice(&autocorr::<12>(x)),
        _ => {
            for (k, rk) in r.iter_mut().enumerate() {
                let mut s = 0f32;
                for i in k..n {
                    s += x[i] * x[i - k];
                }
                *rk = s;
            }
        }
    }
    a.fill(0.0);
    if r[0] == 0.0 {
        return None;
    }
    a[0] = 1.0;
    let mut e = r[0];
    for m in 1..=p {
        let mut acc = r[m];
        for i in 1..m {
            acc += a[i] * r[m - i];
        }
        // openSMILE multiplies by the reciprocal; -acc / e differs by an ulp,
        // which this ill-conditioned recursion amplifies to ~1e-2.
        let k = (-1.0 / e) * acc;
        a[m] = k;
        for i in 1..=m / 2 {
            let ai = a[i];
            let ami = a[m - i];
            a[i] = ai + k * ami;
            if i != m - i {
                a[m - i] = ami + k * ai;
            }
        }
        e *= 1.0 - k * k;
        if e == 0.0 {
            break;
        }
    }
    Some(e)
}

fn flatness(x: &[f32]) -> f32 {
    let n = x.len() as f64;
    let mut sa = 0f64;
    let mut sl = 0f64;
    let mut nnz = 0usize;
    for &v in x {
        let a = (v as f64).abs();
        sa += a;
        if v != 0.0 {
            sl += a.ln();
            nnz += 1;
        }
    }
    if sa == 0.0 {
        return 1.0;
    }
    let g = if nnz > 0 { (sl / nnz as f64).exp() } else { 0.0 };
    fin(g / (sa / n))
}

fn posamean(x: &[f32]) -> f32 {
    let mut s = 0f64;
    let mut c = 0usize;
    for &v in x {
        if v > 0.0 {
            s += v as f64;
            c += 1;
        }
    }
    if c > 0 {
        (s / c as f64) as f32
    } else {
        0.0
    }
}

fn rqmean(x: &[f32]) -> f32 {
    let s: f64 = x.iter().map(|&v| v as f64 * v as f64).sum();
    fin((s / x.len() as f64).sqrt())
}

fn logistic(v: f32) -> f32 {
    // smileMath_logistic (C): the limit and the formula in double, the
    // result stored as float.
    let lm = (f32::MAX as f64).ln();
    let x = v as f64;
    if x > lm {
        1.0
    } else if x < -lm {
        0.0
    } else {
        (1.0 / (1.0 + (-x).exp())) as f32
    }
}

fn tanh2(z: f32) -> f32 {
    2.0 * logistic(2.0 * z) - 1.0
}

/// openSMILE's soft limiter (`smileMath_ratioLimit`: the square root and
/// the scaling in double, the tanh argument and result as float).
fn lim(x: f32, l1: f32, l2: f32) -> f32 {
    if x > l1 {
        tanh2(((((x - l1) as f64 + 1.0).sqrt() - 1.0) / (l2 as f64 * 0.5)) as f32) * l2 + l1
    } else if x < -l1 {
        tanh2((-((-((x + l1) as f64) + 1.0).sqrt() - 1.0) / (l2 as f64 * 0.5)) as f32) * l2 - l1
    } else {
        x
    }
}

fn regression(x: &[f32], b: &Basic, per_second: bool, out: &mut Vec<f32>) {
    let n = x.len();
    let nf = n as f64;
    let mut range0 = (b.max - b.min) as f64;
    let rinv = if range0 <= 0.0 {
        range0 = 1.0;
        0.0
    } else {
        1.0 / range0
    };
    let s1 = nf * (nf - 1.0) / 2.0;
    let s2 = nf * (nf - 1.0) * (2.0 * nf - 1.0) / 6.0;
    let s3 = s1 * s1;
    let nm1 = nf - 1.0;
    let s4 = s2 * (3.0 * (nm1 * nm1 + nm1) - 1.0) / 5.0;
    let sx = b.mean as f64 * nf;
    let mut six = 0f64;
    let mut si2x = 0f64;
    let mut sabs = 0f64;
    let mut siabs = 0f64;
    for (i, &v) in x.iter().enumerate() {
        let fi = i as f64;
        let v = v as f64;
        // cFunctionalRegression: (v i) i, not v (i i).
        let vi = v * fi;
        six += vi;
        si2x += vi * fi;
        sabs += v.abs();
        siabs += fi * v.abs();
    }
    let (mut m, mut t, mut a, mut bq, mut c);
    if n == 1 {
        m = 0.0;
        t = x[0] as f64;
        c = x[0] as f64;
        a = 0.0;
        bq = 0.0;
    } else {
        // cFunctionalRegression's grouping of the products.
        let s1ds2 = s1 / s2;
        let den = nf - s1 * s1ds2;
        t = if den != 0.0 { (sx - six * s1ds2) / den } else { 0.0 };
        m = (six - t * s1) / s2;
        let s1s2 = s1 * s2;
        let det = s4 * s2 * nf + 2.0 * s3 * s1s2 - s2 * s2 * s2 - s3 * s3 * nf - s3 * s4;
        if det != 0.0 {
            a = ((s2 * nf - s3) * si2x + (s1 * s2 - s3 * nf) * six + (s3 * s1 - s2 * s2) * sx) / det;
            bq = ((s1 * s2 - s3 * nf) * si2x + (s4 * nf - s2 * s2) * six + (s3 * s2 - s4 * s1) * sx) / det;
            c = ((s3 * s1 - s2 * s2) * si2x + (s3 * s2 - s4 * s1) * six + (s4 * s2 - s3 * s3) * sx) / det;
        } else {
            a = 0.0;
            bq = 0.0;
            c = 0.0;
        }
    }
    let mut e1 = 0f64;
    let mut e2 = 0f64;
    for (i, &v) in x.iter().enumerate() {
        let fi = i as f64;
        let v = v as f64;
        let d1 = (v - (m * fi + t)) * rinv;
        let d2 = (v - (a * fi * fi + bq * fi + c)) * rinv;
        e1 += d1 * d1;
        e2 += d2 * d2;
    }
    e1 /= nf;
    e2 /= nf;
    let mut cen = if sabs != 0.0 { (siabs / sabs) as f32 } else { 0.0 };
    cen = lim(cen, n as f32, n as f32);
    let cen = (cen as f64 / nf) as f32;
    // The limits computed in double, passed as floats.
    let r10 = range0 / 10.0;
    let sr10 = r10.sqrt();
    m = lim(m as f32, r10 as f32, (r10 + 0.01) as f32) as f64;
    a = lim(a as f32, sr10 as f32, (sr10 + 0.01) as f32) as f64;
    bq = lim(bq as f32, r10 as f32, (r10 + 0.01) as f32) as f64;
    if per_second {
        m *= 100.0;
        a *= 100.0 * 100.0;
        bq *= 100.0;
    }
    let mn = b.min as f64;
    m *= rinv;
    t = (t - mn) * rinv;
    a *= rinv;
    bq *= rinv;
    c = (c - mn) * rinv;
    out.extend_from_slice(&[fin(m), fin(t), fin(e1), fin(a), fin(bq), fin(c), fin(e2), fin(cen as f64)]);
}

/// The 12 Peaks2 outputs (meanPeakDist .. stddevFallingSlope) of `x`
/// (non-empty) appended to `out`; returns the number of maxima left after
/// the pruning passes.
pub(crate) fn peaks2(x: &[f32], b: &Basic, sc: &mut FuncScratch, out: &mut Vec<f32>) -> usize {
    let n = x.len();
    let range = b.max - b.min;
    let thr = 0.1 * range;
    let FuncScratch { peaks: el, rising, falling, .. } = sc;
    el.clear();
    rising.clear();
    falling.clear();
    if n >= 5 {
        // Local maxima and minima of x[2..n-2] as bit masks (64 points a
        // block, found branch-free), then listed in index order.
        let mut i0 = 2;
        while i0 < n - 2 {
            let end = (i0 + 64).min(n - 2);
            let (mut maxb, mut minb) = (0u64, 0u64);
            for (k, w) in x[i0 - 1..end + 1].windows(3).enumerate() {
                maxb |= u64::from((w[1] > w[0]) & (w[1] > w[2])) << k;
                minb |= u64::from((w[1] < w[0]) & (w[1] < w[2])) << k;
            }
            let mut bits = maxb | minb;
            while bits != 0 {
                let k = bits.trailing_zeros();
                bits &= bits - 1;
                let i = i0 + k as usize;
                el.push(PeakEl { is_max: (maxb >> k) & 1 == 1, y: x[i], idx: i, alive: true });
            }
            i0 = end;
        }
    }
    // Pass 1: prune small maxima.
    let (mut last_val, mut last_min, mut last_max) = (x[0], x[0], x[0]);
    let mut min_flag = false;
    let mut last_max_el: Option<usize> = None;
    for e in 0..el.len() {
        let y = el[e].y;
        if el[e].is_max {
            if (y - last_val).abs() < thr {
                if (y - last_min) < thr {
                    el[e].alive = false;
                } else {
                    // cFunctionalPeaks2: float times the double 1.05.
                    if y as f64 > last_max as f64 * 1.05 {
                        if let Some(l) = last_max_el {
                            el[l].alive = false;
                        }
                        last_max = y;
                        last_max_el = Some(e);
                    } else if min_flag {
                        last_max = y;
                        last_max_el = Some(e);
                    } else {
                        el[e].alive = false;
                    }
                    min_flag = false;
                }
            } else {
                min_flag = false;
                last_max = y;
                last_max_el = Some(e);
            }
        } else if (y - last_val).abs() >= thr {
            min_flag = true;
            last_min = y;
        }
        last_val = y;
    }
    // Pass 2: prune minima too close to the previous maximum.
    let mut last_max = x[0];
    for e in el.iter_mut().filter(|e| e.alive) {
        if e.is_max {
            last_max = e.y;
        } else if (last_max - e.y) < thr {
            e.alive = false;
        }
    }
    // Pass 3: force alternation.
    let mut init = true;
    let mut min_flag = false;
    let mut cur_min: usize = 0;
    let mut cur_max: usize = 0;
    for e in 0..el.len() {
        if !el[e].alive {
            continue;
        }
        let y = el[e].y;
        if !el[e].is_max {
            if !min_flag || init {
                cur_min = e;
                min_flag = true;
                init = false;
            } else if y >= el[cur_min].y {
                el[e].alive = false;
            } else {
                el[cur_min].alive = false;
                cur_min = e;
            }
        } else if min_flag || init {
            cur_max = e;
            min_flag = false;
            init = false;
        } else if y <= el[cur_max].y {
            el[e].alive = false;
        } else {
            el[cur_max].alive = false;
            cur_max = e;
        }
    }
    el.retain(|e| e.alive);

    // Statistics of maxima.
    let mut k = 0usize;
    let mut psum = 0f32;
    let (mut pmax, mut pmin) = (f32::NEG_INFINITY, f32::INFINITY);
    let (mut mmax, mut mmin) = (f32::NEG_INFINITY, f32::INFINITY);
    let mut nmin = 0usize;
    let mut last_max_idx: Option<usize> = None;
    let mut dist_sum = 0f32;
    for e in el.iter() {
        if e.is_max {
            k += 1;
            psum += e.y;
            pmax = pmax.max(e.y);
            pmin = pmin.min(e.y);
            if let Some(l) = last_max_idx {
                dist_sum += (e.idx - l) as f32;
            }
            last_max_idx = Some(e.idx);
        } else {
            nmin += 1;
            mmax = mmax.max(e.y);
            mmin = mmin.min(e.y);
        }
    }
    let mean_dist = if k >= 2 { dist_sum / (k - 1) as f32 } else { 0.0 };
    let mut dev = 0f32;
    let mut ndist = 0usize;
    {
        let mut seen_max = false;
        let mut last_min_idx: usize = 0;
        for e in el.iter() {
            if e.is_max {
                if seen_max {
                    let d = e.idx as f32 - last_min_idx as f32 - mean_dist;
                    dev += d * d;
                    ndist += 1;
                }
                seen_max = true;
            } else {
                last_min_idx = e.idx;
            }
        }
    }
    let dist_sd = if ndist > 1 { (dev / ndist as f32).sqrt() } else { dev.sqrt() };
    let peak_mean = if k > 0 { psum / k as f32 } else { 0.0 };
    let peak_range = if k > 0 { pmax - pmin } else { 0.0 };
    let peak_range_rel = if range == 0.0 { peak_range } else { (peak_range / range).abs().clamp(-1.0, 1.0) };
    let peak_mean_rel = if b.mean == 0.0 { 20.0 } else { lim(peak_mean / b.mean, 10.0, 10.0) };
    let min_range_rel = if nmin == 0 || range == 0.0 { 0.0 } else { ((mmax - mmin) / range).abs().clamp(-1.0, 1.0) };

    // Slopes.
    let (mut lmax_v, mut lmax_p, mut lmin_v, mut lmin_p) = (x[0], 0usize, x[0], 0usize);
    #[derive(PartialEq)]
    enum St {
        None,
        AfterMin,
        AfterMax,
    }
    let mut st = St::None;
    let (mut rsum, mut rcnt, mut fsum, mut fcnt) = (0f32, 0usize, 0f32, 0usize);
    for e in el.iter() {
        if e.is_max {
            lmax_v = e.y;
            lmax_p = e.idx;
            if e.idx > lmin_p {
                let s = (e.y - lmin_v) / ((e.idx - lmin_p) as f32 * T);
                rising.push(s);
                rsum += s;
                rcnt += 1;
                st = St::AfterMax;
            }
        } else {
            lmin_v = e.y;
            lmin_p = e.idx;
            if e.idx > lmax_p {
                let s = (lmax_v - e.y) / ((e.idx - lmax_p) as f32 * T);
                falling.push(s);
                fsum += s;
                fcnt += 1;
                st = St::AfterMin;
            }
        }
    }
    let last = n - 1;
    if st == St::AfterMax && last > lmax_p {
        fsum += (x[last] - lmax_v) / ((last - lmax_p) as f32 * T);
        fcnt += 1;
    } else if st == St::AfterMin && last > lmin_p {
        rsum += (x[last] - lmin_v) / ((last - lmin_p) as f32 * T);
        rcnt += 1;
    }
    if rcnt == 0 && fcnt == 0 {
        let s = (x[last] - x[0]) / n as f32;
        if s > 0.0 {
            rsum += s;
            rcnt += 1;
        } else if s < 0.0 {
            fsum += s;
            fcnt += 1;
        }
    }
    let rmean = if rcnt > 0 { rsum / rcnt as f32 } else { 0.0 };
    let fmean = if fcnt > 0 { fsum / fcnt as f32 } else { 0.0 };
    let sd = |list: &[f32], mean: f32, cnt: usize| -> f32 {
        let mut acc = 0f32;
        for &s in list {
            let d = s - mean;
            acc += d * d;
        }
        if acc == 0.0 {
            0.0
        } else if cnt > 1 {
            (acc / cnt as f32).sqrt()
        } else {
            acc.sqrt()
        }
    };
    let rsd = sd(rising, rmean, rcnt);
    let fsd = sd(falling, fmean, fcnt);

    let vals = [
        mean_dist * T,
        dist_sd * T,
        peak_range,
        peak_range_rel,
        peak_mean,
        peak_mean - b.mean,
        peak_mean_rel,
        min_range_rel,
        rmean,
        rsd,
        fmean,
        fsd,
    ];
    out.extend(vals.iter().map(|&v| if v.is_finite() { v } else { 0.0 }));
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values with repeats, signed zeros and a wide range (LCG).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                match (s >> 60) % 8 {
                    0 => 0.0,
                    1 => -0.0,
                    2 => 1.5,
                    _ => ((s >> 20) as u32 as f32 / 1e6 - 2000.0) * 10f32.powi(((s >> 8) % 7) as i32 - 3),
                }
            })
            .collect()
    }

    #[test]
    fn selected_percentiles_equal_percentiles_of_the_sorted_values() {
        let ps = [0.25, 0.5, 0.75, 0.01, 0.99, 0.2, 0.8];
        let mut keys = Vec::new();
        for n in (1..60).chain([99, 100, 101, 257, 1000]) {
            let x = values(n, n as u64);
            let mut s = x.clone();
            s.sort_by(f32::total_cmp);
            let mut got = [0f32; 7];
            percentiles_of(&x, &ps, &mut keys, &mut got);
            for (g, &p) in got.iter().zip(ps.iter()) {
                assert_eq!(g.to_bits(), pctl(&s, p).to_bits(), "n {n} p {p}");
            }
        }
    }

    #[test]
    fn one_pass_lags_equal_the_per_lag_sums() {
        for n in [0usize, 1, 5, 11, 12, 13, 220] {
            let x: Vec<f32> = values(n, 3 + n as u64).iter().map(|v| v / 1000.0).collect();
            let r = autocorr::<12>(&x);
            for (k, &rk) in r.iter().enumerate() {
                let mut s = 0f32;
                for i in k..n {
                    s += x[i] * x[i - k];
                }
                assert_eq!(rk.to_bits(), s.to_bits(), "n {n} lag {k}");
            }
        }
    }

    #[test]
    fn one_pass_lpc_lags_equal_the_per_lag_sums() {
        for n in [0usize, 1, 2, 5, 6, 7, 50, 301] {
            let x: Vec<f32> = values(n, 7 + n as u64).iter().map(|v| v / 1000.0).collect();
            let mut a = [0f32; 6];
            let e = lpc_coeffs(&x, &mut a);
            // Reference: the lags summed lag by lag, then the same recursion.
            let mut r = [0f32; 6];
            for (k, rk) in r.iter_mut().enumerate() {
                for i in k..n {
                    *rk += x[i] * x[i - k];
                }
            }
            let mut b = [0f32; 6];
            let e_ref = levinson(&r, &mut b);
            assert_eq!(e.map(f32::to_bits), e_ref.map(f32::to_bits), "n {n}");
            assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits), "n {n}");
        }
    }

    /// The Levinson-Durbin recursion of `lpc_coeffs` on given lags.
    fn levinson(r: &[f32; 6], a: &mut [f32; 6]) -> Option<f32> {
        a.fill(0.0);
        if r[0] == 0.0 {
            return None;
        }
        a[0] = 1.0;
        let mut e = r[0];
        for m in 1..6 {
            let mut acc = r[m];
            for i in 1..m {
                acc += a[i] * r[m - i];
            }
            let k = (-1.0 / e) * acc;
            a[m] = k;
            for i in 1..=m / 2 {
                let (ai, ami) = (a[i], a[m - i]);
                a[i] = ai + k * ami;
                if i != m - i {
                    a[m - i] = ami + k * ai;
                }
            }
            e *= 1.0 - k * k;
            if e == 0.0 {
                break;
            }
        }
        Some(e)
    }
}
