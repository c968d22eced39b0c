//! Bit-exact float32 real FFT in the arithmetic of openSMILE's FFT.
//!
//! openSMILE (3.0.x, as shipped in the Python package `opensmile` 2.6 that
//! produced the reference tables) transforms every frame with
//! `rdft(n, 1, a, ip, w)` from Takuya Ooura's split-radix FFT package
//! (`fftsg.c`, http://www.kurims.kyoto-u.ac.jp/~ooura/fft.html, Copyright
//! Takuya Ooura 1996-2001, "you may use, copy, modify and distribute this
//! code for any purpose"), compiled with `float` as its element type. This
//! module is a Rust port of the parts of that algorithm that real
//! transforms of power-of-two sizes >= 64 use. To be bit-identical it
//! performs the same f32 operations in the same order, including the
//! twiddle tables built in f32 from double `cos`/`sin`, the on-the-fly
//! twiddles of the first radix-4 pass and the recursion order of the
//! radix-4 tree. Only the final bit-reversal permutation is done
//! differently (it moves values, it does no arithmetic).
//!
//! Packing (Ooura's `rdft` convention), forward, for `a[0..n]`:
//! `a[2k] = sum_j x_j cos(2 pi j k / n)`, `a[2k+1] = sum_j x_j sin(2 pi j k / n)`
//! for `0 < k < n/2`, `a[0] = X_0`, `a[1] = X_{n/2}`. So
//! `a[2k] = Re X_k` and `a[2k+1] = -Im X_k` of the standard DFT
//! `X_k = sum_j x_j e^{-2 pi i j k / n}`.
//! The inverse ([`RealFft::inverse`]) takes that packing and returns
//! `x_j = (a[0] + (-1)^j a[1]) / 2 + sum_{0<k<n/2} (a[2k] cos(2 pi j k / n) + a[2k+1] sin(2 pi j k / n))`,
//! i.e. `n/2` times the inverse DFT (no normalisation), as Ooura's
//! `rdft(n, -1, ...)`.

/// A real FFT of one power-of-two size: twiddle tables and the
/// bit-reversal permutation, built once and shared read-only.
#[derive(Debug, Clone)]
pub struct RealFft {
    n: usize,
    /// Complex-FFT twiddles (`n/4` values, Ooura's `makewt` layout).
    w: Vec<f32>,
    /// Real-split twiddles (`n/4` values, Ooura's `makect` layout).
    c: Vec<f32>,
    /// Complex index pairs `(i, j)`, `i < j`, swapped by the bit reversal.
    swaps: Vec<(u32, u32)>,
    /// The real-split twiddles arranged two iterations at a time ([`make_rt`]).
    rt: Vec<[f32; 8]>,
}

impl RealFft {
    /// Plan a transform of `n` real values. `n` must be a power of two, at
    /// least 64 (the sizes openSMILE's frames use are 512 and 1024).
    ///
    /// # Panics
    /// If `n` is not a power of two >= 64 (a programming error: the frame
    /// sizes are constants).
    pub fn new(n: usize) -> Self {
        assert!(n.is_power_of_two() && n >= 64, "RealFft size {n} must be a power of two >= 64");
        let nw = n >> 2;
        let nc = n >> 2;
        let mut w = vec![0f32; nw];
        make_wt(nw, &mut w);
        let mut c = vec![0f32; nc];
        make_ct(nc, &mut c);
        // Bit reversal of the n/2 complex values.
        let nh = n >> 1;
        let bits = nh.trailing_zeros();
        let mut swaps = Vec::new();
        for i in 0..nh {
            let j = i.reverse_bits() >> (usize::BITS - bits);
            if i < j {
                swaps.push((i as u32, j as u32));
            }
        }
        let rt = make_rt(n, &c);
        Self { n, w, c, swaps, rt }
    }

    /// Transform size (number of real values).
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false (the smallest size is 64).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Forward transform of `a` (length [`RealFft::len`]) in place, in the
    /// packing described in the module docs (`rdft(n, 1, a)`).
    pub fn forward(&self, a: &mut [f32]) {
        let n = self.n;
        assert_eq!(a.len(), n, "RealFft::forward: buffer length");
        self.cft_forward(a);
        rft_sub(a, &self.c, &self.rt, true);
        let xi = a[0] - a[1];
        a[0] += a[1];
        a[1] = xi;
    }

    /// Inverse transform of `a` (Ooura packing) in place, unnormalised
    /// (`rdft(n, -1, a)`; multiply by `2/n` for the inverse DFT).
    pub fn inverse(&self, a: &mut [f32]) {
        let n = self.n;
        assert_eq!(a.len(), n, "RealFft::inverse: buffer length");
        a[1] = 0.5f32 * (a[0] - a[1]);
        a[0] -= a[1];
        rft_sub(a, &self.c, &self.rt, false);
        // Ooura's backward complex FFT equals conj(forward(conj(a))) to the
        // last bit: its first pass negates the imaginary inputs where the
        // forward pass adds them, the later passes are shared and the final
        // bit reversal negates the imaginary outputs; IEEE negation is exact
        // and rounding to nearest is symmetric.
        negate_imag(a);
        self.cft_forward(a);
        negate_imag(a);
    }

    /// Ooura's `cftfsub` for n >= 64 floats: first radix-4 pass, the
    /// radix-4 tree, bit reversal.
    fn cft_forward(&self, a: &mut [f32]) {
        let n = self.n;
        let w = &self.w;
        let nw = w.len();
        cftf1st(n, a, &w[nw - (n >> 2)..]);
        if n > 512 {
            cftrec4(n, a, nw, w);
        } else if n > 128 {
            cftleaf(n, true, a, nw, w);
        } else {
            cftfx41(n, a, nw, w);
        }
        // Swap whole complex values (pairs of floats), one index check each.
        let (z, _) = a.as_chunks_mut::<2>();
        for &(i, j) in &self.swaps {
            z.swap(i as usize, j as usize);
        }
    }
}

/// Negate the odd (imaginary) entries in place (exact).
fn negate_imag(a: &mut [f32]) {
    for c in a.chunks_exact_mut(2) {
        c[1] = -c[1];
    }
}

/// `atan(1)` rounded to f32, divided by `h` in f32 (the angle step of
/// Ooura's table builders).
fn table_delta(h: usize) -> f32 {
    (1f64.atan() as f32) / h as f32
}

/// `cos` / `sin` of an f32 angle, evaluated in double (as C's `cos(float)`).
fn dcos(x: f32) -> f64 {
    (x as f64).cos()
}

fn dsin(x: f32) -> f64 {
    (x as f64).sin()
}

/// Ooura's `makewt` (complex FFT twiddles) in f32.
fn make_wt(nw: usize, w: &mut [f32]) {
    if nw <= 2 {
        return;
    }
    let mut nwh = nw >> 1;
    let delta = table_delta(nwh);
    let wn4r = dcos(delta * nwh as f32) as f32;
    w[0] = 1.0;
    w[1] = wn4r;
    if nwh == 4 {
        w[2] = dcos(delta * 2.0) as f32;
        w[3] = dsin(delta * 2.0) as f32;
    } else if nwh > 4 {
        w[2] = (0.5 / dcos(delta * 2.0)) as f32;
        w[3] = (0.5 / dcos(delta * 6.0)) as f32;
        for j in (4..nwh).step_by(4) {
            let a1 = delta * j as f32;
            let a3 = 3.0 * delta * j as f32;
            w[j] = dcos(a1) as f32;
            w[j + 1] = dsin(a1) as f32;
            w[j + 2] = dcos(a3) as f32;
            w[j + 3] = (-dsin(a3)) as f32;
        }
    }
    // Tables of the smaller sub-transforms follow, taken from the first.
    let mut nw0 = 0;
    while nwh > 2 {
        let nw1 = nw0 + nwh;
        nwh >>= 1;
        w[nw1] = 1.0;
        w[nw1 + 1] = wn4r;
        if nwh == 4 {
            w[nw1 + 2] = w[nw0 + 4];
            w[nw1 + 3] = w[nw0 + 5];
        } else if nwh > 4 {
            w[nw1 + 2] = 0.5f32 / w[nw0 + 4];
            w[nw1 + 3] = 0.5f32 / w[nw0 + 6];
            for j in (4..nwh).step_by(4) {
                w[nw1 + j] = w[nw0 + 2 * j];
                w[nw1 + j + 1] = w[nw0 + 2 * j + 1];
                w[nw1 + j + 2] = w[nw0 + 2 * j + 2];
                w[nw1 + j + 3] = w[nw0 + 2 * j + 3];
            }
        }
        nw0 = nw1;
    }
}

/// Ooura's `makect` (real-split twiddles) in f32.
fn make_ct(nc: usize, c: &mut [f32]) {
    if nc <= 1 {
        return;
    }
    let nch = nc >> 1;
    let delta = table_delta(nch);
    c[0] = dcos(delta * nch as f32) as f32;
    c[nch] = 0.5f32 * c[0];
    for j in 1..nch {
        c[j] = (0.5 * dcos(delta * j as f32)) as f32;
        c[nc - j] = (0.5 * dsin(delta * j as f32)) as f32;
    }
}

/// Split step of the forward (`rftfsub`, `sign` = 1) or inverse
/// (`rftbsub`, `sign` = -1) real transform, dispatched with the sizes fedser
/// uses as constants (the index checks of the inlined loop then fold away).
fn rft_sub(a: &mut [f32], c: &[f32], rt: &[[f32; 8]], forward: bool) {
    match (a.len(), forward) {
        (512, true) => rft_sub_body::<true>(&mut a[..512], &c[..128], rt),
        (1024, true) => rft_sub_body::<true>(&mut a[..1024], &c[..256], rt),
        (_, true) => rft_sub_body::<true>(a, c, rt),
        (512, false) => rft_sub_body::<false>(&mut a[..512], &c[..128], rt),
        (1024, false) => rft_sub_body::<false>(&mut a[..1024], &c[..256], rt),
        (_, false) => rft_sub_body::<false>(a, c, rt),
    }
}

/// The twiddles of the split step's iterations `j` and `j + 2`
/// (`j = 2, 6, 10, ...`, `j + 2 < n/2`) arranged for [`rft_sub_body`]:
/// `[wkr_j, wkr_j, wkr_j2, wkr_j2, -wki_j, wki_j, -wki_j2, wki_j2]` with
/// `wkr = 0.5 - c[nc - kk]` (rounded in f32 as in the loop) and `wki = c[kk]`, `kk = j / 2`.
fn make_rt(n: usize, c: &[f32]) -> Vec<[f32; 8]> {
    let nc = c.len();
    let m = n >> 1;
    (0..(m - 2) / 4)
        .map(|b| {
            let kk = 1 + 2 * b;
            let (r0, r1) = (0.5f32 - c[nc - kk], 0.5f32 - c[nc - kk - 1]);
            let (i0, i1) = (c[kk], c[kk + 1]);
            [r0, r0, r1, r1, -i0, i0, -i1, i1]
        })
        .collect()
}

#[inline(always)]
fn rft_sub_body<const FORWARD: bool>(a: &mut [f32], c: &[f32], rt: &[[f32; 8]]) {
    let n = a.len();
    let nc = c.len();
    let m = n >> 1;
    let ks = 2 * nc / m;
    let mut j = 2;
    if ks == 1 && rt.len() == (m - 2) / 4 {
        // Two iterations (j, j + 2) at a time, their complex values side by
        // side as stored, with the twiddles pre-arranged in `rt`. Each lane
        // computes its output with the scalar loop's operations; the only
        // rewrites are exact: `p - q` as `p + (-q)` and `-(w q)` as `(-w) q`.
        let (lo, hi) = a.split_at_mut(m);
        for (b, t) in rt.iter().enumerate() {
            let j = 2 + 4 * b;
            let xj: &mut [f32; 4] = (&mut lo[j..j + 4]).try_into().expect("rft_sub: 4 lower values");
            // k = n - j and n - j - 2, stored as [k(j + 2), k(j)].
            let xk: &mut [f32; 4] = (&mut hi[m - j - 2..m - j + 2]).try_into().expect("rft_sub: 4 upper values");
            let h = [xk[2], xk[3], xk[0], xk[1]];
            // [xr, xi] = [a[j] - a[k], a[j + 1] + a[k + 1]] per iteration.
            let x = [xj[0] + -h[0], xj[1] + h[1], xj[2] + -h[2], xj[3] + h[3]];
            let xs = [x[1], x[0], x[3], x[2]];
            let wr: [f32; 4] = t[..4].try_into().expect("rft_sub: twiddles");
            let wi: [f32; 4] = t[4..].try_into().expect("rft_sub: twiddles");
            // Forward: [wkr xr - wki xi, wkr xi + wki xr] with wi = [-wki, wki];
            // inverse: [wkr xr + wki xi, wkr xi - wki xr].
            let y: [f32; 4] =
                std::array::from_fn(
                    |l| {
                        if FORWARD {
                            wr[l] * x[l] + wi[l] * xs[l]
                        } else {
                            wr[l] * x[l] - wi[l] * xs[l]
                        }
                    },
                );
            for l in 0..4 {
                xj[l] -= y[l];
            }
            // a[k] += yr, a[k + 1] -= yi.
            let o = [h[0] + y[0], h[1] + -y[1], h[2] + y[2], h[3] + -y[3]];
            *xk = [o[2], o[3], o[0], o[1]];
        }
        j += 4 * rt.len();
    }
    let mut kk = (j / 2 - 1) * ks;
    for j in (j..m).step_by(2) {
        let k = n - j;
        kk += ks;
        let wkr = 0.5f32 - c[nc - kk];
        let wki = c[kk];
        let xr = a[j] - a[k];
        let xi = a[j + 1] + a[k + 1];
        let (yr, yi) = if FORWARD {
            (wkr * xr - wki * xi, wkr * xi + wki * xr)
        } else {
            (wkr * xr + wki * xi, wkr * xi - wki * xr)
        };
        a[j] -= yr;
        a[j + 1] -= yi;
        a[k] += yr;
        a[k + 1] -= yi;
    }
}

/// Radix-4 tree over blocks of 512 floats for n > 512 (`cftrec4`).
fn cftrec4(n: usize, a: &mut [f32], nw: usize, w: &[f32]) {
    let mut m = n;
    while m > 512 {
        m >>= 2;
        cftmdl1(m, &mut a[n - m..], &w[nw - (m >> 1)..]);
    }
    cftleaf(m, true, &mut a[n - m..], nw, w);
    let mut k = 0;
    let mut j = n - m;
    while j > 0 {
        k += 1;
        let isplt = cfttree(m, j, k, a, nw, w);
        cftleaf(m, isplt, &mut a[j - m..], nw, w);
        j -= m;
    }
}

/// Middle passes above block `j` of the radix-4 tree (`cfttree`).
fn cfttree(n: usize, j: usize, k: usize, a: &mut [f32], nw: usize, w: &[f32]) -> bool {
    if k & 3 != 0 {
        let isplt = k & 1 != 0;
        if isplt {
            cftmdl1(n, &mut a[j - n..], &w[nw - (n >> 1)..]);
        } else {
            cftmdl2(n, &mut a[j - n..], &w[nw - n..]);
        }
        isplt
    } else {
        let mut m = n;
        let mut i = k;
        while i & 3 == 0 {
            m <<= 2;
            i >>= 2;
        }
        let isplt = i & 1 != 0;
        while m > 128 {
            if isplt {
                cftmdl1(m, &mut a[j - m..], &w[nw - (m >> 1)..]);
            } else {
                cftmdl2(m, &mut a[j - m..], &w[nw - m..]);
            }
            m >>= 2;
        }
        isplt
    }
}

/// Leaf of the radix-4 tree: a block of 512 or 256 floats (`cftleaf`).
fn cftleaf(n: usize, isplt: bool, a: &mut [f32], nw: usize, w: &[f32]) {
    let w8 = &w[nw - 8..];
    if n == 512 {
        let w32 = &w[nw - 32..];
        cftmdl1(128, a, &w[nw - 64..]);
        cftf161(a, w8);
        cftf162(&mut a[32..], w32);
        cftf161(&mut a[64..], w8);
        cftf161(&mut a[96..], w8);
        cftmdl2(128, &mut a[128..], &w[nw - 128..]);
        cftf161(&mut a[128..], w8);
        cftf162(&mut a[160..], w32);
        cftf161(&mut a[192..], w8);
        cftf162(&mut a[224..], w32);
        cftmdl1(128, &mut a[256..], &w[nw - 64..]);
        cftf161(&mut a[256..], w8);
        cftf162(&mut a[288..], w32);
        cftf161(&mut a[320..], w8);
        cftf161(&mut a[352..], w8);
        if isplt {
            cftmdl1(128, &mut a[384..], &w[nw - 64..]);
            cftf161(&mut a[480..], w8);
        } else {
            cftmdl2(128, &mut a[384..], &w[nw - 128..]);
            cftf162(&mut a[480..], w32);
        }
        cftf161(&mut a[384..], w8);
        cftf162(&mut a[416..], w32);
        cftf161(&mut a[448..], w8);
    } else {
        cftmdl1(64, a, &w[nw - 32..]);
        cftf081(a, w8);
        cftf082(&mut a[16..], w8);
        cftf081(&mut a[32..], w8);
        cftf081(&mut a[48..], w8);
        cftmdl2(64, &mut a[64..], &w[nw - 64..]);
        cftf081(&mut a[64..], w8);
        cftf082(&mut a[80..], w8);
        cftf081(&mut a[96..], w8);
        cftf082(&mut a[112..], w8);
        cftmdl1(64, &mut a[128..], &w[nw - 32..]);
        cftf081(&mut a[128..], w8);
        cftf082(&mut a[144..], w8);
        cftf081(&mut a[160..], w8);
        cftf081(&mut a[176..], w8);
        if isplt {
            cftmdl1(64, &mut a[192..], &w[nw - 32..]);
            cftf081(&mut a[240..], w8);
        } else {
            cftmdl2(64, &mut a[192..], &w[nw - 64..]);
            cftf082(&mut a[240..], w8);
        }
        cftf081(&mut a[192..], w8);
        cftf082(&mut a[208..], w8);
        cftf081(&mut a[224..], w8);
    }
}

/// Last passes for n = 64 or 128 floats (`cftfx41`).
fn cftfx41(n: usize, a: &mut [f32], nw: usize, w: &[f32]) {
    let w8 = &w[nw - 8..];
    if n == 128 {
        cftf161(a, w8);
        cftf162(&mut a[32..], &w[nw - 32..]);
        cftf161(&mut a[64..], w8);
        cftf161(&mut a[96..], w8);
    } else {
        cftf081(a, w8);
        cftf082(&mut a[16..], w8);
        cftf081(&mut a[32..], w8);
        cftf081(&mut a[48..], w8);
    }
}

// The butterfly kernels below follow Ooura's statement order exactly
// (`cftf1st`, `cftmdl1`, `cftmdl2`: radix-4 passes; `cftf161`, `cftf162`,
// `cftf081`, `cftf082`: 16- and 8-point leaves).

fn cftf161(a: &mut [f32], w: &[f32]) {
    // Fixed-size views: the constant indices below need no bounds checks.
    let a: &mut [f32; 32] = a.first_chunk_mut().expect("cftf161: block of 32 values");
    let w: &[f32; 4] = w.first_chunk().expect("cftf161: twiddle table");
    let wn4r = w[1];
    let wk1r = w[2];
    let wk1i = w[3];
    let x0r = a[0] + a[16];
    let x0i = a[1] + a[17];
    let x1r = a[0] - a[16];
    let x1i = a[1] - a[17];
    let x2r = a[8] + a[24];
    let x2i = a[9] + a[25];
    let x3r = a[8] - a[24];
    let x3i = a[9] - a[25];
    let y0r = x0r + x2r;
    let y0i = x0i + x2i;
    let y4r = x0r - x2r;
    let y4i = x0i - x2i;
    let y8r = x1r - x3i;
    let y8i = x1i + x3r;
    let y12r = x1r + x3i;
    let y12i = x1i - x3r;
    let x0r = a[2] + a[18];
    let x0i = a[3] + a[19];
    let x1r = a[2] - a[18];
    let x1i = a[3] - a[19];
    let x2r = a[10] + a[26];
    let x2i = a[11] + a[27];
    let x3r = a[10] - a[26];
    let x3i = a[11] - a[27];
    let y1r = x0r + x2r;
    let y1i = x0i + x2i;
    let y5r = x0r - x2r;
    let y5i = x0i - x2i;
    let x0r = x1r - x3i;
    let x0i = x1i + x3r;
    let y9r = wk1r * x0r - wk1i * x0i;
    let y9i = wk1r * x0i + wk1i * x0r;
    let x0r = x1r + x3i;
    let x0i = x1i - x3r;
    let y13r = wk1i * x0r - wk1r * x0i;
    let y13i = wk1i * x0i + wk1r * x0r;
    let x0r = a[4] + a[20];
    let x0i = a[5] + a[21];
    let x1r = a[4] - a[20];
    let x1i = a[5] - a[21];
    let x2r = a[12] + a[28];
    let x2i = a[13] + a[29];
    let x3r = a[12] - a[28];
    let x3i = a[13] - a[29];
    let y2r = x0r + x2r;
    let y2i = x0i + x2i;
    let y6r = x0r - x2r;
    let y6i = x0i - x2i;
    let x0r = x1r - x3i;
    let x0i = x1i + x3r;
    let y10r = wn4r * (x0r - x0i);
    let y10i = wn4r * (x0i + x0r);
    let x0r = x1r + x3i;
    let x0i = x1i - x3r;
    let y14r = wn4r * (x0r + x0i);
    let y14i = wn4r * (x0i - x0r);
    let x0r = a[6] + a[22];
    let x0i = a[7] + a[23];
    let x1r = a[6] - a[22];
    let x1i = a[7] - a[23];
    let x2r = a[14] + a[30];
    let x2i = a[15] + a[31];
    let x3r = a[14] - a[30];
    let x3i = a[15] - a[31];
    let y3r = x0r + x2r;
    let y3i = x0i + x2i;
    let y7r = x0r - x2r;
    let y7i = x0i - x2i;
    let x0r = x1r - x3i;
    let x0i = x1i + x3r;
    let y11r = wk1i * x0r - wk1r * x0i;
    let y11i = wk1i * x0i + wk1r * x0r;
    let x0r = x1r + x3i;
    let x0i = x1i - x3r;
    let y15r = wk1r * x0r - wk1i * x0i;
    let y15i = wk1r * x0i + wk1i * x0r;
    let x0r = y12r - y14r;
    let x0i = y12i - y14i;
    let x1r = y12r + y14r;
    let x1i = y12i + y14i;
    let x2r = y13r - y15r;
    let x2i = y13i - y15i;
    let x3r = y13r + y15r;
    let x3i = y13i + y15i;
    a[24] = x0r + x2r;
    a[25] = x0i + x2i;
    a[26] = x0r - x2r;
    a[27] = x0i - x2i;
    a[28] = x1r - x3i;
    a[29] = x1i + x3r;
    a[30] = x1r + x3i;
    a[31] = x1i - x3r;
    let x0r = y8r + y10r;
    let x0i = y8i + y10i;
    let x1r = y8r - y10r;
    let x1i = y8i - y10i;
    let x2r = y9r + y11r;
    let x2i = y9i + y11i;
    let x3r = y9r - y11r;
    let x3i = y9i - y11i;
    a[16] = x0r + x2r;
    a[17] = x0i + x2i;
    a[18] = x0r - x2r;
    a[19] = x0i - x2i;
    a[20] = x1r - x3i;
    a[21] = x1i + x3r;
    a[22] = x1r + x3i;
    a[23] = x1i - x3r;
    let x0r = y5r - y7i;
    let x0i = y5i + y7r;
    let x2r = wn4r * (x0r - x0i);
    let x2i = wn4r * (x0i + x0r);
    let x0r = y5r + y7i;
    let x0i = y5i - y7r;
    let x3r = wn4r * (x0r - x0i);
    let x3i = wn4r * (x0i + x0r);
    let x0r = y4r - y6i;
    let x0i = y4i + y6r;
    let x1r = y4r + y6i;
    let x1i = y4i - y6r;
    a[8] = x0r + x2r;
    a[9] = x0i + x2i;
    a[10] = x0r - x2r;
    a[11] = x0i - x2i;
    a[12] = x1r - x3i;
    a[13] = x1i + x3r;
    a[14] = x1r + x3i;
    a[15] = x1i - x3r;
    let x0r = y0r + y2r;
    let x0i = y0i + y2i;
    let x1r = y0r - y2r;
    let x1i = y0i - y2i;
    let x2r = y1r + y3r;
    let x2i = y1i + y3i;
    let x3r = y1r - y3r;
    let x3i = y1i - y3i;
    a[0] = x0r + x2r;
    a[1] = x0i + x2i;
    a[2] = x0r - x2r;
    a[3] = x0i - x2i;
    a[4] = x1r - x3i;
    a[5] = x1i + x3r;
    a[6] = x1r + x3i;
    a[7] = x1i - x3r;
}

fn cftf162(a: &mut [f32], w: &[f32]) {
    // Fixed-size views: the constant indices below need no bounds checks.
    let a: &mut [f32; 32] = a.first_chunk_mut().expect("cftf162: block of 32 values");
    let w: &[f32; 10] = w.first_chunk().expect("cftf162: twiddle table");
    let wn4r = w[1];
    let wk1r = w[4];
    let wk1i = w[5];
    let wk3r = w[6];
    let wk3i = -w[7];
    let wk2r = w[8];
    let wk2i = w[9];
    let x1r = a[0] - a[17];
    let x1i = a[1] + a[16];
    let x0r = a[8] - a[25];
    let x0i = a[9] + a[24];
    let x2r = wn4r * (x0r - x0i);
    let x2i = wn4r * (x0i + x0r);
    let y0r = x1r + x2r;
    let y0i = x1i + x2i;
    let y4r = x1r - x2r;
    let y4i = x1i - x2i;
    let x1r = a[0] + a[17];
    let x1i = a[1] - a[16];
    let x0r = a[8] + a[25];
    let x0i = a[9] - a[24];
    let x2r = wn4r * (x0r - x0i);
    let x2i = wn4r * (x0i + x0r);
    let y8r = x1r - x2i;
    let y8i = x1i + x2r;
    let y12r = x1r + x2i;
    let y12i = x1i - x2r;
    let x0r = a[2] - a[19];
    let x0i = a[3] + a[18];
    let x1r = wk1r * x0r - wk1i * x0i;
    let x1i = wk1r * x0i + wk1i * x0r;
    let x0r = a[10] - a[27];
    let x0i = a[11] + a[26];
    let x2r = wk3i * x0r - wk3r * x0i;
    let x2i = wk3i * x0i + wk3r * x0r;
    let y1r = x1r + x2r;
    let y1i = x1i + x2i;
    let y5r = x1r - x2r;
    let y5i = x1i - x2i;
    let x0r = a[2] + a[19];
    let x0i = a[3] - a[18];
    let x1r = wk3r * x0r - wk3i * x0i;
    let x1i = wk3r * x0i + wk3i * x0r;
    let x0r = a[10] + a[27];
    let x0i = a[11] - a[26];
    let x2r = wk1r * x0r + wk1i * x0i;
    let x2i = wk1r * x0i - wk1i * x0r;
    let y9r = x1r - x2r;
    let y9i = x1i - x2i;
    let y13r = x1r + x2r;
    let y13i = x1i + x2i;
    let x0r = a[4] - a[21];
    let x0i = a[5] + a[20];
    let x1r = wk2r * x0r - wk2i * x0i;
    let x1i = wk2r * x0i + wk2i * x0r;
    let x0r = a[12] - a[29];
    let x0i = a[13] + a[28];
    let x2r = wk2i * x0r - wk2r * x0i;
    let x2i = wk2i * x0i + wk2r * x0r;
    let y2r = x1r + x2r;
    let y2i = x1i + x2i;
    let y6r = x1r - x2r;
    let y6i = x1i - x2i;
    let x0r = a[4] + a[21];
    let x0i = a[5] - a[20];
    let x1r = wk2i * x0r - wk2r * x0i;
    let x1i = wk2i * x0i + wk2r * x0r;
    let x0r = a[12] + a[29];
    let x0i = a[13] - a[28];
    let x2r = wk2r * x0r - wk2i * x0i;
    let x2i = wk2r * x0i + wk2i * x0r;
    let y10r = x1r - x2r;
    let y10i = x1i - x2i;
    let y14r = x1r + x2r;
    let y14i = x1i + x2i;
    let x0r = a[6] - a[23];
    let x0i = a[7] + a[22];
    let x1r = wk3r * x0r - wk3i * x0i;
    let x1i = wk3r * x0i + wk3i * x0r;
    let x0r = a[14] - a[31];
    let x0i = a[15] + a[30];
    let x2r = wk1i * x0r - wk1r * x0i;
    let x2i = wk1i * x0i + wk1r * x0r;
    let y3r = x1r + x2r;
    let y3i = x1i + x2i;
    let y7r = x1r - x2r;
    let y7i = x1i - x2i;
    let x0r = a[6] + a[23];
    let x0i = a[7] - a[22];
    let x1r = wk1i * x0r + wk1r * x0i;
    let x1i = wk1i * x0i - wk1r * x0r;
    let x0r = a[14] + a[31];
    let x0i = a[15] - a[30];
    let x2r = wk3i * x0r - wk3r * x0i;
    let x2i = wk3i * x0i + wk3r * x0r;
    let y11r = x1r + x2r;
    let y11i = x1i + x2i;
    let y15r = x1r - x2r;
    let y15i = x1i - x2i;
    let x1r = y0r + y2r;
    let x1i = y0i + y2i;
    let x2r = y1r + y3r;
    let x2i = y1i + y3i;
    a[0] = x1r + x2r;
    a[1] = x1i + x2i;
    a[2] = x1r - x2r;
    a[3] = x1i - x2i;
    let x1r = y0r - y2r;
    let x1i = y0i - y2i;
    let x2r = y1r - y3r;
    let x2i = y1i - y3i;
    a[4] = x1r - x2i;
    a[5] = x1i + x2r;
    a[6] = x1r + x2i;
    a[7] = x1i - x2r;
    let x1r = y4r - y6i;
    let x1i = y4i + y6r;
    let x0r = y5r - y7i;
    let x0i = y5i + y7r;
    let x2r = wn4r * (x0r - x0i);
    let x2i = wn4r * (x0i + x0r);
    a[8] = x1r + x2r;
    a[9] = x1i + x2i;
    a[10] = x1r - x2r;
    a[11] = x1i - x2i;
    let x1r = y4r + y6i;
    let x1i = y4i - y6r;
    let x0r = y5r + y7i;
    let x0i = y5i - y7r;
    let x2r = wn4r * (x0r - x0i);
    let x2i = wn4r * (x0i + x0r);
    a[12] = x1r - x2i;
    a[13] = x1i + x2r;
    a[14] = x1r + x2i;
    a[15] = x1i - x2r;
    let x1r = y8r + y10r;
    let x1i = y8i + y10i;
    let x2r = y9r - y11r;
    let x2i = y9i - y11i;
    a[16] = x1r + x2r;
    a[17] = x1i + x2i;
    a[18] = x1r - x2r;
    a[19] = x1i - x2i;
    let x1r = y8r - y10r;
    let x1i = y8i - y10i;
    let x2r = y9r + y11r;
    let x2i = y9i + y11i;
    a[20] = x1r - x2i;
    a[21] = x1i + x2r;
    a[22] = x1r + x2i;
    a[23] = x1i - x2r;
    let x1r = y12r - y14i;
    let x1i = y12i + y14r;
    let x0r = y13r + y15i;
    let x0i = y13i - y15r;
    let x2r = wn4r * (x0r - x0i);
    let x2i = wn4r * (x0i + x0r);
    a[24] = x1r + x2r;
    a[25] = x1i + x2i;
    a[26] = x1r - x2r;
    a[27] = x1i - x2i;
    let x1r = y12r + y14i;
    let x1i = y12i - y14r;
    let x0r = y13r - y15i;
    let x0i = y13i + y15r;
    let x2r = wn4r * (x0r - x0i);
    let x2i = wn4r * (x0i + x0r);
    a[28] = x1r - x2i;
    a[29] = x1i + x2r;
    a[30] = x1r + x2i;
    a[31] = x1i - x2r;
}

fn cftf081(a: &mut [f32], w: &[f32]) {
    // Fixed-size views: the constant indices below need no bounds checks.
    let a: &mut [f32; 16] = a.first_chunk_mut().expect("cftf081: block of 16 values");
    let w: &[f32; 2] = w.first_chunk().expect("cftf081: twiddle table");
    let wn4r = w[1];
    let x0r = a[0] + a[8];
    let x0i = a[1] + a[9];
    let x1r = a[0] - a[8];
    let x1i = a[1] - a[9];
    let x2r = a[4] + a[12];
    let x2i = a[5] + a[13];
    let x3r = a[4] - a[12];
    let x3i = a[5] - a[13];
    let y0r = x0r + x2r;
    let y0i = x0i + x2i;
    let y2r = x0r - x2r;
    let y2i = x0i - x2i;
    let y1r = x1r - x3i;
    let y1i = x1i + x3r;
    let y3r = x1r + x3i;
    let y3i = x1i - x3r;
    let x0r = a[2] + a[10];
    let x0i = a[3] + a[11];
    let x1r = a[2] - a[10];
    let x1i = a[3] - a[11];
    let x2r = a[6] + a[14];
    let x2i = a[7] + a[15];
    let x3r = a[6] - a[14];
    let x3i = a[7] - a[15];
    let y4r = x0r + x2r;
    let y4i = x0i + x2i;
    let y6r = x0r - x2r;
    let y6i = x0i - x2i;
    let x0r = x1r - x3i;
    let x0i = x1i + x3r;
    let x2r = x1r + x3i;
    let x2i = x1i - x3r;
    let y5r = wn4r * (x0r - x0i);
    let y5i = wn4r * (x0r + x0i);
    let y7r = wn4r * (x2r - x2i);
    let y7i = wn4r * (x2r + x2i);
    a[8] = y1r + y5r;
    a[9] = y1i + y5i;
    a[10] = y1r - y5r;
    a[11] = y1i - y5i;
    a[12] = y3r - y7i;
    a[13] = y3i + y7r;
    a[14] = y3r + y7i;
    a[15] = y3i - y7r;
    a[0] = y0r + y4r;
    a[1] = y0i + y4i;
    a[2] = y0r - y4r;
    a[3] = y0i - y4i;
    a[4] = y2r - y6i;
    a[5] = y2i + y6r;
    a[6] = y2r + y6i;
    a[7] = y2i - y6r;
}

fn cftf082(a: &mut [f32], w: &[f32]) {
    // Fixed-size views: the constant indices below need no bounds checks.
    let a: &mut [f32; 16] = a.first_chunk_mut().expect("cftf082: block of 16 values");
    let w: &[f32; 4] = w.first_chunk().expect("cftf082: twiddle table");
    let wn4r = w[1];
    let wk1r = w[2];
    let wk1i = w[3];
    let y0r = a[0] - a[9];
    let y0i = a[1] + a[8];
    let y1r = a[0] + a[9];
    let y1i = a[1] - a[8];
    let x0r = a[4] - a[13];
    let x0i = a[5] + a[12];
    let y2r = wn4r * (x0r - x0i);
    let y2i = wn4r * (x0i + x0r);
    let x0r = a[4] + a[13];
    let x0i = a[5] - a[12];
    let y3r = wn4r * (x0r - x0i);
    let y3i = wn4r * (x0i + x0r);
    let x0r = a[2] - a[11];
    let x0i = a[3] + a[10];
    let y4r = wk1r * x0r - wk1i * x0i;
    let y4i = wk1r * x0i + wk1i * x0r;
    let x0r = a[2] + a[11];
    let x0i = a[3] - a[10];
    let y5r = wk1i * x0r - wk1r * x0i;
    let y5i = wk1i * x0i + wk1r * x0r;
    let x0r = a[6] - a[15];
    let x0i = a[7] + a[14];
    let y6r = wk1i * x0r - wk1r * x0i;
    let y6i = wk1i * x0i + wk1r * x0r;
    let x0r = a[6] + a[15];
    let x0i = a[7] - a[14];
    let y7r = wk1r * x0r - wk1i * x0i;
    let y7i = wk1r * x0i + wk1i * x0r;
    let x0r = y0r + y2r;
    let x0i = y0i + y2i;
    let x1r = y4r + y6r;
    let x1i = y4i + y6i;
    a[0] = x0r + x1r;
    a[1] = x0i + x1i;
    a[2] = x0r - x1r;
    a[3] = x0i - x1i;
    let x0r = y0r - y2r;
    let x0i = y0i - y2i;
    let x1r = y4r - y6r;
    let x1i = y4i - y6i;
    a[4] = x0r - x1i;
    a[5] = x0i + x1r;
    a[6] = x0r + x1i;
    a[7] = x0i - x1r;
    let x0r = y1r - y3i;
    let x0i = y1i + y3r;
    let x1r = y5r - y7r;
    let x1i = y5i - y7i;
    a[8] = x0r + x1r;
    a[9] = x0i + x1i;
    a[10] = x0r - x1r;
    a[11] = x0i - x1i;
    let x0r = y1r + y3i;
    let x0i = y1i - y3r;
    let x1r = y5r + y7r;
    let x1i = y5i + y7i;
    a[12] = x0r - x1i;
    a[13] = x0i + x1r;
    a[14] = x0r + x1i;
    a[15] = x0i - x1r;
}

/// Dispatch to [`cftf1st_body`] with the sizes fedser uses as constants (the
/// index checks of the inlined body then fold away).
fn cftf1st(n: usize, a: &mut [f32], w: &[f32]) {
    match n {
        512 => cftf1st_body(512, &mut a[..512], &w[..128]),
        1024 => cftf1st_body(1024, &mut a[..1024], &w[..256]),
        _ => cftf1st_body(n, &mut a[..n], &w[..n >> 2]),
    }
}

#[inline(always)]
fn cftf1st_body(n: usize, a: &mut [f32], w: &[f32]) {
    let mh = n >> 3;
    let m = 2 * mh;
    let j1 = m;
    let j2 = j1 + m;
    let j3 = j2 + m;
    let x0r = a[0] + a[j2];
    let x0i = a[1] + a[j2 + 1];
    let x1r = a[0] - a[j2];
    let x1i = a[1] - a[j2 + 1];
    let x2r = a[j1] + a[j3];
    let x2i = a[j1 + 1] + a[j3 + 1];
    let x3r = a[j1] - a[j3];
    let x3i = a[j1 + 1] - a[j3 + 1];
    a[0] = x0r + x2r;
    a[1] = x0i + x2i;
    a[j1] = x0r - x2r;
    a[j1 + 1] = x0i - x2i;
    a[j2] = x1r - x3i;
    a[j2 + 1] = x1i + x3r;
    a[j3] = x1r + x3i;
    a[j3 + 1] = x1i - x3r;
    let wn4r = w[1];
    let csc1 = w[2];
    let csc3 = w[3];
    let mut wd1r: f32 = 1.0;
    let mut wd1i: f32 = 0.0;
    let mut wd3r: f32 = 1.0;
    let mut wd3i: f32 = 0.0;
    let mut k = 0;
    let mut j = 2;
    while j < mh - 2 {
        k += 4;
        let wk1r = csc1 * (wd1r + w[k]);
        let wk1i = csc1 * (wd1i + w[k + 1]);
        let wk3r = csc3 * (wd3r + w[k + 2]);
        let wk3i = csc3 * (wd3i + w[k + 3]);
        wd1r = w[k];
        wd1i = w[k + 1];
        wd3r = w[k + 2];
        wd3i = w[k + 3];
        // The butterflies at j (twiddles wk) and j + 2 (wd) side by side as
        // stored, then the mirrored ones at m - j - 2 (wd) and m - j (wk),
        // with the exact rewrites of `mdl1_pair`.
        let tw = [
            [wk1r, wk1r, wd1r, wd1r],
            [-wk1i, wk1i, -wd1i, wd1i],
            [wk3r, wk3r, wd3r, wd3r],
            [wk3i, -wk3i, wd3i, -wd3i],
        ];
        mdl1_pair(a, j, m, &tw);
        let tw = [
            [wd1i, wd1i, wk1i, wk1i],
            [-wd1r, wd1r, -wk1r, wk1r],
            [wd3i, wd3i, wk3i, wk3i],
            [wd3r, -wd3r, wk3r, -wk3r],
        ];
        mdl1_pair(a, m - j - 2, m, &tw);
        j += 4;
    }
    let wk1r = csc1 * (wd1r + wn4r);
    let wk1i = csc1 * (wd1i + wn4r);
    let wk3r = csc3 * (wd3r - wn4r);
    let wk3i = csc3 * (wd3i - wn4r);
    let j0 = mh;
    let j1 = j0 + m;
    let j2 = j1 + m;
    let j3 = j2 + m;
    let x0r = a[j0 - 2] + a[j2 - 2];
    let x0i = a[j0 - 1] + a[j2 - 1];
    let x1r = a[j0 - 2] - a[j2 - 2];
    let x1i = a[j0 - 1] - a[j2 - 1];
    let x2r = a[j1 - 2] + a[j3 - 2];
    let x2i = a[j1 - 1] + a[j3 - 1];
    let x3r = a[j1 - 2] - a[j3 - 2];
    let x3i = a[j1 - 1] - a[j3 - 1];
    a[j0 - 2] = x0r + x2r;
    a[j0 - 1] = x0i + x2i;
    a[j1 - 2] = x0r - x2r;
    a[j1 - 1] = x0i - x2i;
    let x0r = x1r - x3i;
    let x0i = x1i + x3r;
    a[j2 - 2] = wk1r * x0r - wk1i * x0i;
    a[j2 - 1] = wk1r * x0i + wk1i * x0r;
    let x0r = x1r + x3i;
    let x0i = x1i - x3r;
    a[j3 - 2] = wk3r * x0r + wk3i * x0i;
    a[j3 - 1] = wk3r * x0i - wk3i * x0r;
    let x0r = a[j0] + a[j2];
    let x0i = a[j0 + 1] + a[j2 + 1];
    let x1r = a[j0] - a[j2];
    let x1i = a[j0 + 1] - a[j2 + 1];
    let x2r = a[j1] + a[j3];
    let x2i = a[j1 + 1] + a[j3 + 1];
    let x3r = a[j1] - a[j3];
    let x3i = a[j1 + 1] - a[j3 + 1];
    a[j0] = x0r + x2r;
    a[j0 + 1] = x0i + x2i;
    a[j1] = x0r - x2r;
    a[j1 + 1] = x0i - x2i;
    let x0r = x1r - x3i;
    let x0i = x1i + x3r;
    a[j2] = wn4r * (x0r - x0i);
    a[j2 + 1] = wn4r * (x0i + x0r);
    let x0r = x1r + x3i;
    let x0i = x1i - x3r;
    a[j3] = -wn4r * (x0r + x0i);
    a[j3 + 1] = -wn4r * (x0i - x0r);
    let x0r = a[j0 + 2] + a[j2 + 2];
    let x0i = a[j0 + 3] + a[j2 + 3];
    let x1r = a[j0 + 2] - a[j2 + 2];
    let x1i = a[j0 + 3] - a[j2 + 3];
    let x2r = a[j1 + 2] + a[j3 + 2];
    let x2i = a[j1 + 3] + a[j3 + 3];
    let x3r = a[j1 + 2] - a[j3 + 2];
    let x3i = a[j1 + 3] - a[j3 + 3];
    a[j0 + 2] = x0r + x2r;
    a[j0 + 3] = x0i + x2i;
    a[j1 + 2] = x0r - x2r;
    a[j1 + 3] = x0i - x2i;
    let x0r = x1r - x3i;
    let x0i = x1i + x3r;
    a[j2 + 2] = wk1i * x0r - wk1r * x0i;
    a[j2 + 3] = wk1i * x0i + wk1r * x0r;
    let x0r = x1r + x3i;
    let x0i = x1i - x3r;
    a[j3 + 2] = wk3i * x0r + wk3r * x0i;
    a[j3 + 3] = wk3i * x0i - wk3r * x0r;
}

/// Dispatch to [`cftmdl1_body`] with the sizes fedser uses as constants (the
/// index checks of the inlined body then fold away).
fn cftmdl1(n: usize, a: &mut [f32], w: &[f32]) {
    match n {
        64 => cftmdl1_body(64, &mut a[..64], &w[..32]),
        128 => cftmdl1_body(128, &mut a[..128], &w[..64]),
        256 => cftmdl1_body(256, &mut a[..256], &w[..128]),
        _ => cftmdl1_body(n, &mut a[..n], &w[..n >> 1]),
    }
}

#[inline(always)]
fn cftmdl1_body(n: usize, a: &mut [f32], w: &[f32]) {
    let mh = n >> 3;
    let m = 2 * mh;
    let j1 = m;
    let j2 = j1 + m;
    let j3 = j2 + m;
    let x0r = a[0] + a[j2];
    let x0i = a[1] + a[j2 + 1];
    let x1r = a[0] - a[j2];
    let x1i = a[1] - a[j2 + 1];
    let x2r = a[j1] + a[j3];
    let x2i = a[j1 + 1] + a[j3 + 1];
    let x3r = a[j1] - a[j3];
    let x3i = a[j1 + 1] - a[j3 + 1];
    a[0] = x0r + x2r;
    a[1] = x0i + x2i;
    a[j1] = x0r - x2r;
    a[j1 + 1] = x0i - x2i;
    a[j2] = x1r - x3i;
    a[j2 + 1] = x1i + x3r;
    a[j3] = x1r + x3i;
    a[j3 + 1] = x1i - x3r;
    let wn4r = w[1];
    let mut j = 2;
    // Iterations j and j + 2 at a time: their two ascending butterflies
    // (complex values j, j + 2 side by side as stored) and their two
    // mirrored ones (m - j - 2, m - j), each lane with the scalar loop's
    // operations (see `mdl1_pair` for the exact rewrites).
    while j + 2 < mh {
        let t: &[f32; 8] = w[2 * j..2 * j + 8].try_into().expect("cftmdl1: 8 twiddles");
        // Ascending: (wk1r, wk1i, wk3r, wk3i) of iterations j, j + 2.
        let tw = [
            [t[0], t[0], t[4], t[4]],
            [-t[1], t[1], -t[5], t[5]],
            [t[2], t[2], t[6], t[6]],
            [t[3], -t[3], t[7], -t[7]],
        ];
        mdl1_pair(a, j, m, &tw);
        // Mirrored: (wk1i, wk1r, wk3i, wk3r) of iterations j + 2, j.
        let tw = [
            [t[5], t[5], t[1], t[1]],
            [-t[4], t[4], -t[0], t[0]],
            [t[7], t[7], t[3], t[3]],
            [t[6], -t[6], t[2], -t[2]],
        ];
        mdl1_pair(a, m - j - 2, m, &tw);
        j += 4;
    }
    let mut k = 2 * j - 4;
    while j < mh {
        k += 4;
        let wk1r = w[k];
        let wk1i = w[k + 1];
        let wk3r = w[k + 2];
        let wk3i = w[k + 3];
        let j1 = j + m;
        let j2 = j1 + m;
        let j3 = j2 + m;
        let x0r = a[j] + a[j2];
        let x0i = a[j + 1] + a[j2 + 1];
        let x1r = a[j] - a[j2];
        let x1i = a[j + 1] - a[j2 + 1];
        let x2r = a[j1] + a[j3];
        let x2i = a[j1 + 1] + a[j3 + 1];
        let x3r = a[j1] - a[j3];
        let x3i = a[j1 + 1] - a[j3 + 1];
        a[j] = x0r + x2r;
        a[j + 1] = x0i + x2i;
        a[j1] = x0r - x2r;
        a[j1 + 1] = x0i - x2i;
        let x0r = x1r - x3i;
        let x0i = x1i + x3r;
        a[j2] = wk1r * x0r - wk1i * x0i;
        a[j2 + 1] = wk1r * x0i + wk1i * x0r;
        let x0r = x1r + x3i;
        let x0i = x1i - x3r;
        a[j3] = wk3r * x0r + wk3i * x0i;
        a[j3 + 1] = wk3r * x0i - wk3i * x0r;
        let j0 = m - j;
        let j1 = j0 + m;
        let j2 = j1 + m;
        let j3 = j2 + m;
        let x0r = a[j0] + a[j2];
        let x0i = a[j0 + 1] + a[j2 + 1];
        let x1r = a[j0] - a[j2];
        let x1i = a[j0 + 1] - a[j2 + 1];
        let x2r = a[j1] + a[j3];
        let x2i = a[j1 + 1] + a[j3 + 1];
        let x3r = a[j1] - a[j3];
        let x3i = a[j1 + 1] - a[j3 + 1];
        a[j0] = x0r + x2r;
        a[j0 + 1] = x0i + x2i;
        a[j1] = x0r - x2r;
        a[j1 + 1] = x0i - x2i;
        let x0r = x1r - x3i;
        let x0i = x1i + x3r;
        a[j2] = wk1i * x0r - wk1r * x0i;
        a[j2 + 1] = wk1i * x0i + wk1r * x0r;
        let x0r = x1r + x3i;
        let x0i = x1i - x3r;
        a[j3] = wk3i * x0r + wk3r * x0i;
        a[j3 + 1] = wk3i * x0i - wk3r * x0r;
        j += 2;
    }
    let j0 = mh;
    let j1 = j0 + m;
    let j2 = j1 + m;
    let j3 = j2 + m;
    let x0r = a[j0] + a[j2];
    let x0i = a[j0 + 1] + a[j2 + 1];
    let x1r = a[j0] - a[j2];
    let x1i = a[j0 + 1] - a[j2 + 1];
    let x2r = a[j1] + a[j3];
    let x2i = a[j1 + 1] + a[j3 + 1];
    let x3r = a[j1] - a[j3];
    let x3i = a[j1 + 1] - a[j3 + 1];
    a[j0] = x0r + x2r;
    a[j0 + 1] = x0i + x2i;
    a[j1] = x0r - x2r;
    a[j1 + 1] = x0i - x2i;
    let x0r = x1r - x3i;
    let x0i = x1i + x3r;
    a[j2] = wn4r * (x0r - x0i);
    a[j2 + 1] = wn4r * (x0i + x0r);
    let x0r = x1r + x3i;
    let x0i = x1i - x3r;
    a[j3] = -wn4r * (x0r + x0i);
    a[j3 + 1] = -wn4r * (x0i - x0r);
}

/// Two radix-4 butterflies of `cftmdl1`'s loop on the complex values at `p`
/// and `p + 2` (and `+ m`, `+ 2m`, `+ 3m`), in storage order. For a lane
/// pair with twiddles (A, B, C, D) `tw` holds `[A, A]`, `[-B, B]`, `[C, C]`,
/// `[D, -D]`: `A yr - B yi` is computed as `A yr + (-B) yi` and
/// `x1r - x3i` as `x1r + (-x3i)`, which are equal bit for bit in IEEE
/// arithmetic (negation is exact and rounding is sign-symmetric).
#[inline(always)]
fn mdl1_pair(a: &mut [f32], p: usize, m: usize, tw: &[[f32; 4]; 4]) {
    let ld = |a: &[f32], s: usize| -> [f32; 4] { a[s..s + 4].try_into().expect("cftmdl1: 4 values") };
    let q0 = ld(a, p);
    let q1 = ld(a, p + m);
    let q2 = ld(a, p + 2 * m);
    let q3 = ld(a, p + 3 * m);
    let lane = |f: &dyn Fn(usize) -> f32| -> [f32; 4] { std::array::from_fn(f) };
    let x0 = lane(&|l| q0[l] + q2[l]);
    let x1 = lane(&|l| q0[l] - q2[l]);
    let x2 = lane(&|l| q1[l] + q3[l]);
    let x3 = lane(&|l| q1[l] - q3[l]);
    let o0 = lane(&|l| x0[l] + x2[l]);
    let o1 = lane(&|l| x0[l] - x2[l]);
    // [x1r - x3i, x1i + x3r] and [x1r + x3i, x1i - x3r] per butterfly.
    let y = [x1[0] + -x3[1], x1[1] + x3[0], x1[2] + -x3[3], x1[3] + x3[2]];
    let z = [x1[0] + x3[1], x1[1] + -x3[0], x1[2] + x3[3], x1[3] + -x3[2]];
    let ys = [y[1], y[0], y[3], y[2]];
    let zs = [z[1], z[0], z[3], z[2]];
    let o2 = lane(&|l| tw[0][l] * y[l] + tw[1][l] * ys[l]);
    let o3 = lane(&|l| tw[2][l] * z[l] + tw[3][l] * zs[l]);
    a[p..p + 4].copy_from_slice(&o0);
    a[p + m..p + m + 4].copy_from_slice(&o1);
    a[p + 2 * m..p + 2 * m + 4].copy_from_slice(&o2);
    a[p + 3 * m..p + 3 * m + 4].copy_from_slice(&o3);
}

/// Dispatch to [`cftmdl2_body`] with the sizes fedser uses as constants (the
/// index checks of the inlined body then fold away).
fn cftmdl2(n: usize, a: &mut [f32], w: &[f32]) {
    match n {
        64 => cftmdl2_body(64, &mut a[..64], &w[..64]),
        128 => cftmdl2_body(128, &mut a[..128], &w[..128]),
        256 => cftmdl2_body(256, &mut a[..256], &w[..256]),
        _ => cftmdl2_body(n, &mut a[..n], &w[..n]),
    }
}

#[inline(always)]
fn cftmdl2_body(n: usize, a: &mut [f32], w: &[f32]) {
    let mh = n >> 3;
    let m = 2 * mh;
    let wn4r = w[1];
    let j1 = m;
    let j2 = j1 + m;
    let j3 = j2 + m;
    let x0r = a[0] - a[j2 + 1];
    let x0i = a[1] + a[j2];
    let x1r = a[0] + a[j2 + 1];
    let x1i = a[1] - a[j2];
    let x2r = a[j1] - a[j3 + 1];
    let x2i = a[j1 + 1] + a[j3];
    let x3r = a[j1] + a[j3 + 1];
    let x3i = a[j1 + 1] - a[j3];
    let y0r = wn4r * (x2r - x2i);
    let y0i = wn4r * (x2i + x2r);
    a[0] = x0r + y0r;
    a[1] = x0i + y0i;
    a[j1] = x0r - y0r;
    a[j1 + 1] = x0i - y0i;
    let y0r = wn4r * (x3r - x3i);
    let y0i = wn4r * (x3i + x3r);
    a[j2] = x1r - y0i;
    a[j2 + 1] = x1i + y0r;
    a[j3] = x1r + y0i;
    a[j3 + 1] = x1i - y0r;
    let mut j = 2;
    // Iterations j and j + 2 at a time, as in `cftmdl1_body` (see
    // `mdl2_pair`): twiddles (wk*) of both from `t`, (wd*) from `u`.
    while j + 2 < mh {
        let t: &[f32; 8] = w[2 * j..2 * j + 8].try_into().expect("cftmdl2: 8 twiddles");
        let kr = 2 * m - 2 * j - 4;
        let u: &[f32; 8] = w[kr..kr + 8].try_into().expect("cftmdl2: 8 twiddles");
        // Ascending (iterations j, j + 2): wk1, wd1, wk3, wd3.
        let tw = [
            [t[0], t[0], t[4], t[4]],
            [-t[1], t[1], -t[5], t[5]],
            [u[5], u[5], u[1], u[1]],
            [-u[4], u[4], -u[0], u[0]],
            [t[2], t[2], t[6], t[6]],
            [t[3], -t[3], t[7], -t[7]],
            [u[7], u[7], u[3], u[3]],
            [u[6], -u[6], u[2], -u[2]],
        ];
        mdl2_pair(a, j, m, &tw);
        // Mirrored (iterations j + 2, j): wd1 and wk1, wd3 and wk3 swapped
        // in role, real and imaginary parts too.
        let tw = [
            [u[0], u[0], u[4], u[4]],
            [-u[1], u[1], -u[5], u[5]],
            [t[5], t[5], t[1], t[1]],
            [-t[4], t[4], -t[0], t[0]],
            [u[2], u[2], u[6], u[6]],
            [u[3], -u[3], u[7], -u[7]],
            [t[7], t[7], t[3], t[3]],
            [t[6], -t[6], t[2], -t[2]],
        ];
        mdl2_pair(a, m - j - 2, m, &tw);
        j += 4;
    }
    let mut k = 2 * j - 4;
    let mut kr = 2 * m - k;
    while j < mh {
        k += 4;
        let wk1r = w[k];
        let wk1i = w[k + 1];
        let wk3r = w[k + 2];
        let wk3i = w[k + 3];
        kr -= 4;
        let wd1i = w[kr];
        let wd1r = w[kr + 1];
        let wd3i = w[kr + 2];
        let wd3r = w[kr + 3];
        let j1 = j + m;
        let j2 = j1 + m;
        let j3 = j2 + m;
        let x0r = a[j] - a[j2 + 1];
        let x0i = a[j + 1] + a[j2];
        let x1r = a[j] + a[j2 + 1];
        let x1i = a[j + 1] - a[j2];
        let x2r = a[j1] - a[j3 + 1];
        let x2i = a[j1 + 1] + a[j3];
        let x3r = a[j1] + a[j3 + 1];
        let x3i = a[j1 + 1] - a[j3];
        let y0r = wk1r * x0r - wk1i * x0i;
        let y0i = wk1r * x0i + wk1i * x0r;
        let y2r = wd1r * x2r - wd1i * x2i;
        let y2i = wd1r * x2i + wd1i * x2r;
        a[j] = y0r + y2r;
        a[j + 1] = y0i + y2i;
        a[j1] = y0r - y2r;
        a[j1 + 1] = y0i - y2i;
        let y0r = wk3r * x1r + wk3i * x1i;
        let y0i = wk3r * x1i - wk3i * x1r;
        let y2r = wd3r * x3r + wd3i * x3i;
        let y2i = wd3r * x3i - wd3i * x3r;
        a[j2] = y0r + y2r;
        a[j2 + 1] = y0i + y2i;
        a[j3] = y0r - y2r;
        a[j3 + 1] = y0i - y2i;
        let j0 = m - j;
        let j1 = j0 + m;
        let j2 = j1 + m;
        let j3 = j2 + m;
        let x0r = a[j0] - a[j2 + 1];
        let x0i = a[j0 + 1] + a[j2];
        let x1r = a[j0] + a[j2 + 1];
        let x1i = a[j0 + 1] - a[j2];
        let x2r = a[j1] - a[j3 + 1];
        let x2i = a[j1 + 1] + a[j3];
        let x3r = a[j1] + a[j3 + 1];
        let x3i = a[j1 + 1] - a[j3];
        let y0r = wd1i * x0r - wd1r * x0i;
        let y0i = wd1i * x0i + wd1r * x0r;
        let y2r = wk1i * x2r - wk1r * x2i;
        let y2i = wk1i * x2i + wk1r * x2r;
        a[j0] = y0r + y2r;
        a[j0 + 1] = y0i + y2i;
        a[j1] = y0r - y2r;
        a[j1 + 1] = y0i - y2i;
        let y0r = wd3i * x1r + wd3r * x1i;
        let y0i = wd3i * x1i - wd3r * x1r;
        let y2r = wk3i * x3r + wk3r * x3i;
        let y2i = wk3i * x3i - wk3r * x3r;
        a[j2] = y0r + y2r;
        a[j2 + 1] = y0i + y2i;
        a[j3] = y0r - y2r;
        a[j3 + 1] = y0i - y2i;
        j += 2;
    }
    let wk1r = w[m];
    let wk1i = w[m + 1];
    let j0 = mh;
    let j1 = j0 + m;
    let j2 = j1 + m;
    let j3 = j2 + m;
    let x0r = a[j0] - a[j2 + 1];
    let x0i = a[j0 + 1] + a[j2];
    let x1r = a[j0] + a[j2 + 1];
    let x1i = a[j0 + 1] - a[j2];
    let x2r = a[j1] - a[j3 + 1];
    let x2i = a[j1 + 1] + a[j3];
    let x3r = a[j1] + a[j3 + 1];
    let x3i = a[j1 + 1] - a[j3];
    let y0r = wk1r * x0r - wk1i * x0i;
    let y0i = wk1r * x0i + wk1i * x0r;
    let y2r = wk1i * x2r - wk1r * x2i;
    let y2i = wk1i * x2i + wk1r * x2r;
    a[j0] = y0r + y2r;
    a[j0 + 1] = y0i + y2i;
    a[j1] = y0r - y2r;
    a[j1 + 1] = y0i - y2i;
    let y0r = wk1i * x1r - wk1r * x1i;
    let y0i = wk1i * x1i + wk1r * x1r;
    let y2r = wk1r * x3r - wk1i * x3i;
    let y2i = wk1r * x3i + wk1i * x3r;
    a[j2] = y0r - y2r;
    a[j2 + 1] = y0i - y2i;
    a[j3] = y0r + y2r;
    a[j3 + 1] = y0i + y2i;
}

/// Two radix-4 butterflies of `cftmdl2`'s loop on the complex values at `p`
/// and `p + 2` (and `+ m`, `+ 2m`, `+ 3m`), in storage order, with the
/// rewrites of [`mdl1_pair`]. `tw` holds, per lane pair, `[A, A]`, `[-B, B]`
/// for each of the two products `A xr - B xi, A xi + B xr` and `[C, C]`,
/// `[D, -D]` for each of the two products `C xr + D xi, C xi - D xr`.
#[inline(always)]
fn mdl2_pair(a: &mut [f32], p: usize, m: usize, tw: &[[f32; 4]; 8]) {
    let ld = |a: &[f32], s: usize| -> [f32; 4] { a[s..s + 4].try_into().expect("cftmdl2: 4 values") };
    let q0 = ld(a, p);
    let q1 = ld(a, p + m);
    let q2 = ld(a, p + 2 * m);
    let q3 = ld(a, p + 3 * m);
    let lane = |f: &dyn Fn(usize) -> f32| -> [f32; 4] { std::array::from_fn(f) };
    let sw = |v: [f32; 4]| [v[1], v[0], v[3], v[2]];
    // [a[j] - a[j2 + 1], a[j + 1] + a[j2]] and [a[j] + a[j2 + 1], a[j + 1] - a[j2]].
    let x0 = [q0[0] + -q2[1], q0[1] + q2[0], q0[2] + -q2[3], q0[3] + q2[2]];
    let x1 = [q0[0] + q2[1], q0[1] + -q2[0], q0[2] + q2[3], q0[3] + -q2[2]];
    let x2 = [q1[0] + -q3[1], q1[1] + q3[0], q1[2] + -q3[3], q1[3] + q3[2]];
    let x3 = [q1[0] + q3[1], q1[1] + -q3[0], q1[2] + q3[3], q1[3] + -q3[2]];
    let (x0s, x1s, x2s, x3s) = (sw(x0), sw(x1), sw(x2), sw(x3));
    let y0 = lane(&|l| tw[0][l] * x0[l] + tw[1][l] * x0s[l]);
    let y2 = lane(&|l| tw[2][l] * x2[l] + tw[3][l] * x2s[l]);
    let o0 = lane(&|l| y0[l] + y2[l]);
    let o1 = lane(&|l| y0[l] - y2[l]);
    let y0 = lane(&|l| tw[4][l] * x1[l] + tw[5][l] * x1s[l]);
    let y2 = lane(&|l| tw[6][l] * x3[l] + tw[7][l] * x3s[l]);
    let o2 = lane(&|l| y0[l] + y2[l]);
    let o3 = lane(&|l| y0[l] - y2[l]);
    a[p..p + 4].copy_from_slice(&o0);
    a[p + m..p + m + 4].copy_from_slice(&o1);
    a[p + 2 * m..p + 2 * m + 4].copy_from_slice(&o2);
    a[p + 3 * m..p + 3 * m + 4].copy_from_slice(&o3);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness input: xorshift32 from 12345, `(s >> 8) / 2^23 - 1` in double, rounded to f32.
    fn input(n: usize) -> Vec<f32> {
        let mut s: u32 = 12345;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                ((s >> 8) as f64 * (1.0 / 8_388_608.0) - 1.0) as f32
            })
            .collect()
    }

    /// FNV-1a 64 over the little-endian bytes of every output (after `+ 0.0`,
    /// which maps -0 to +0).
    fn fnv(a: &[f32]) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &v in a {
            for b in (v + 0.0).to_bits().to_le_bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        h
    }

    /// Every output bit of the forward and inverse transforms equals that of
    /// Ooura's `fftsg.c` as openSMILE 3.0 builds it (`FLOAT_TYPE_FFT float`).
    /// The expected values come from a C harness (not part of this
    /// repository) that fills `a` with [`input`], calls `rdft(n, isgn, a, ip, w)`
    /// of openSMILE's `src/dspcore/fftsg.c` (gcc -O2, x86-64, no FMA) with
    /// zeroed `ip`/`w`, and prints the FNV-1a hash of the outputs and the
    /// raw bits of `a[3]` and `a[n/2+5]`. Any change to the order of the
    /// float operations or to the tables changes these.
    #[test]
    fn outputs_are_bit_identical_to_oouras_float_rdft() {
        let want: [(usize, u64, u32, u32, u64, u32, u32); 8] = [
            (64, 0x32559c3894a1b04a, 0xbff0eb3c, 0xbf39dce4, 0x6ec03b744badfe05, 0x3e19445c, 0x40d58424),
            (128, 0xad62e42853b11595, 0xc03b0d3f, 0xc1107af4, 0xeb949e93ac49a78a, 0x403a7ab0, 0x40c1b125),
            (256, 0x13eb3141c16d2462, 0x3f3e300c, 0x415dba0e, 0x3518fdf9f746787d, 0xbe8935b0, 0xbfb7027e),
            (512, 0x23b789c070ace348, 0x40c8c300, 0xc0fabc41, 0xb95f2b3d8e817e96, 0xc055ebde, 0x40e82ab5),
            (1024, 0x4156735fb8f8d28f, 0xc0608f9e, 0xc0d79e6f, 0xd49b6724a26aa784, 0x4022913c, 0x40866698),
            (2048, 0x6c4aabdfa8d06bb3, 0xc196ccda, 0xc0c0276f, 0x607f3471bcf5b857, 0xc111b45f, 0x40a8c125),
            (4096, 0x25f4c3c4dd69a0f5, 0xc1a5be2a, 0xc1f09fd0, 0x46fbf79ed9cc7844, 0xc1df4dd4, 0xc151f70c),
            (8192, 0x2f0d59f530627ecf, 0xc2060744, 0xc22af651, 0x52cb90877a0027af, 0x422c535c, 0x41808ae9),
        ];
        for (n, fh, f3, f5, ih, i3, i5) in want {
            let fft = RealFft::new(n);
            let mut a = input(n);
            fft.forward(&mut a);
            assert_eq!((fnv(&a), a[3].to_bits(), a[n / 2 + 5].to_bits()), (fh, f3, f5), "forward n = {n}");
            let mut a = input(n);
            fft.inverse(&mut a);
            assert_eq!((fnv(&a), a[3].to_bits(), a[n / 2 + 5].to_bits()), (ih, i3, i5), "inverse n = {n}");
        }
    }

    /// Against a naive double DFT: the error of a float FFT of size n on
    /// inputs in [-1, 1) is a few f32 ulps of the spectrum scale
    /// (sqrt(n) for random input), so we allow 1e-5 * n.
    #[test]
    fn forward_and_inverse_match_a_naive_dft() {
        for n in [64usize, 512, 1024] {
            let fft = RealFft::new(n);
            let x = input(n);
            let mut a = x.clone();
            fft.forward(&mut a);
            let tol = 1e-5 * n as f64;
            for k in 0..=n / 2 {
                let (mut re, mut im) = (0f64, 0f64);
                for (j, &v) in x.iter().enumerate() {
                    let ph = 2.0 * std::f64::consts::PI * ((j * k) % n) as f64 / n as f64;
                    re += v as f64 * ph.cos();
                    im -= v as f64 * ph.sin();
                }
                let (gr, gi) = match k {
                    0 => (a[0] as f64, 0.0),
                    k if k == n / 2 => (a[1] as f64, 0.0),
                    k => (a[2 * k] as f64, -(a[2 * k + 1] as f64)),
                };
                assert!((gr - re).abs() < tol && (gi - im).abs() < tol, "n {n} k {k}: {gr} {gi} vs {re} {im}");
            }
            // The inverse returns n/2 times the input.
            fft.inverse(&mut a);
            for (j, (&y, &v)) in a.iter().zip(&x).enumerate() {
                assert!((y as f64 * 2.0 / n as f64 - v as f64).abs() < 1e-5, "n {n} j {j}");
            }
        }
    }
}
