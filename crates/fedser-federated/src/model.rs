//! The models, written once over a flat `f32` parameter vector: the same
//! code trains a client in a federation and a model on pooled data.
//!
//! # Parameter layout
//! - [`Arch::Logistic`] (`k` classes, `d` features): `W` (`k x d`, class-major)
//!   then `b` (`k`).
//! - [`Arch::Mlp`] (`h` hidden ReLU units): `W1` (`h x d`), `b1` (`h`),
//!   `W2` (`k x h`), `b2` (`k`).
//!
//! # Standardisation folded into the first layer
//! The model sees `(x - m) / s`; rows are read in place from a shared
//! matrix and the affine map is folded into the first layer: the
//! pre-activations are `x V + c` with `V = W / s` and `c = b - m V`, and the
//! gradient of `W` is `(xᵀG - m (1ᵀG)) / s` (the same identity as
//! `fedser-train`'s softmax). This is exactly the model trained on
//! standardised rows, without copying any data.
//!
//! # Objective
//! Mean cross-entropy over the rows of a batch; L2 (weights only) and the
//! FedProx term are added by the optimiser ([`crate::sgd`]).

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::kernel;

/// Model architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arch {
    /// Multinomial logistic regression.
    Logistic,
    /// One hidden ReLU layer of `hidden` units, softmax output.
    Mlp {
        /// Hidden units.
        hidden: usize,
    },
}

/// An architecture with its input and output sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Architecture.
    pub arch: Arch,
    /// Input features.
    pub d: usize,
    /// Classes.
    pub k: usize,
}

/// Column-wise affine map `(x - mean) / scale` applied to every row.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardizer {
    /// Per-feature mean.
    pub mean: Vec<f32>,
    /// Per-feature scale (1 for zero-variance columns).
    pub scale: Vec<f32>,
}

impl Standardizer {
    /// The identity map for `d` features.
    #[must_use]
    pub fn identity(d: usize) -> Self {
        Self { mean: vec![0.0; d], scale: vec![1.0; d] }
    }
}

/// Reusable buffers of one gradient evaluation (one per client thread).
#[derive(Debug, Default)]
pub struct Scratch {
    /// `1 / scale` of the standardiser whose `scale` is `inv_of` (computed
    /// when the scale changes, not once per mini-batch).
    inv32: Vec<f32>,
    inv_of: Vec<f32>,
    vt: Vec<f32>,
    gvt: Vec<f32>,
    c: Vec<f32>,
    gc: Vec<f64>,
    a: Vec<f32>,
    l: Vec<f32>,
    g2: Vec<f64>,
}

impl Shape {
    /// Width of the first layer (`k` for logistic, `h` for the MLP).
    #[must_use]
    pub fn width(&self) -> usize {
        match self.arch {
            Arch::Logistic => self.k,
            Arch::Mlp { hidden } => hidden,
        }
    }

    /// Length of the flat parameter vector.
    #[must_use]
    pub fn n_params(&self) -> usize {
        match self.arch {
            Arch::Logistic => self.k * self.d + self.k,
            Arch::Mlp { hidden: h } => h * self.d + h + self.k * h + self.k,
        }
    }

    /// Index ranges of weights (L2 applies to them, not to biases).
    #[must_use]
    pub fn weight_ranges(&self) -> Vec<std::ops::Range<usize>> {
        let m = self.width();
        match self.arch {
            Arch::Logistic => std::iter::once(0..m * self.d).collect(),
            Arch::Mlp { hidden: h } => {
                let w2 = h * self.d + h;
                vec![0..h * self.d, w2..w2 + self.k * h]
            }
        }
    }

    /// Initial parameters: zeros for logistic regression (its loss is
    /// convex); He-uniform first layer and Glorot-uniform output layer with
    /// zero biases for the MLP, drawn from `rng`.
    #[must_use]
    pub fn init(&self, rng: &mut ChaCha8Rng) -> Vec<f32> {
        let mut p = vec![0f32; self.n_params()];
        if let Arch::Mlp { hidden: h } = self.arch {
            let d = self.d;
            let b1 = (6.0 / d.max(1) as f64).sqrt() as f32;
            for v in &mut p[..h * d] {
                *v = rng.gen_range(-b1..=b1);
            }
            let b2 = (6.0 / (h + self.k) as f64).sqrt() as f32;
            let o = h * d + h;
            for v in &mut p[o..o + self.k * h] {
                *v = rng.gen_range(-b2..=b2);
            }
        }
        p
    }

    /// `Vᵀ` (stride [`kernel::stride`]) and `c` of the first layer.
    ///
    /// This runs once per mini-batch, so it is written for speed: one pass,
    /// `c`'s dot product in eight independent f32 lanes (a single running sum
    /// is one long dependency chain; the inputs are preconditioned to unit
    /// scale, so f32 lanes lose nothing that matters), and `vt` is only
    /// zero-filled where it grows (the stride padding is never written, so
    /// it stays zero).
    pub(crate) fn fold_first_layer(
        &self,
        theta: &[f32],
        mean: &[f32],
        inv_scale: &[f32],
        vt: &mut Vec<f32>,
        c: &mut Vec<f32>,
    ) {
        let (d, m) = (self.d, self.width());
        let dp = kernel::stride(d);
        if vt.len() != m * dp {
            vt.clear();
            vt.resize(m * dp, 0.0);
        }
        c.clear();
        pulp::Arch::new().dispatch(Fold { d, m, theta, mean, inv_scale, vt, c });
    }

    /// Summed cross-entropy over `rows` of `x` (row-major, `d` columns, labels
    /// `y[row]`), and its gradient (summed over rows, not averaged) written
    /// into `grad`.
    ///
    /// # Panics
    /// When `theta` or `grad` do not have [`Shape::n_params`] elements.
    #[allow(clippy::too_many_arguments)]
    pub fn loss_grad(
        &self,
        theta: &[f32],
        x: &[f32],
        y: &[usize],
        rows: &[usize],
        st: &Standardizer,
        grad: &mut [f32],
        s: &mut Scratch,
        arch: pulp::Arch,
    ) -> f64 {
        assert_eq!(theta.len(), self.n_params());
        assert_eq!(grad.len(), self.n_params());
        let (d, k, m) = (self.d, self.k, self.width());
        let dp = kernel::stride(d);
        if s.inv_of != st.scale {
            s.inv32 = st.scale.iter().map(|&v| (1.0 / f64::from(v)) as f32).collect();
            s.inv_of.clone_from(&st.scale);
        }
        let Scratch { inv32, vt, gvt, c, gc, a, l, g2, .. } = s;
        self.fold_first_layer(theta, &st.mean, inv32, vt, c);
        gvt.clear();
        gvt.resize(m * dp, 0.0);
        gc.clear();
        gc.resize(m, 0.0);
        let mut loss = 0f64;
        match self.arch {
            Arch::Logistic => {
                let softmax = |i: usize, z: &mut [f32]| {
                    let yi = y[rows[i]];
                    loss += softmax_grad(z, c, yi);
                    for (acc, &g) in gc.iter_mut().zip(z.iter()) {
                        *acc += f64::from(g);
                    }
                };
                kernel::BlockEval { x, d, rows, vt, k: m, gvt, softmax }.run(arch);
            }
            Arch::Mlp { hidden: h } => {
                let o = h * d + h;
                let w2 = &theta[o..o + k * h];
                let b2 = &theta[o + k * h..];
                g2.clear();
                g2.resize(k * h + k, 0.0);
                a.resize(h, 0.0);
                l.resize(k, 0.0);
                let zero = vec![0f32; k];
                let back = |i: usize, z: &mut [f32]| {
                    let yi = y[rows[i]];
                    for ((aj, &zj), &cj) in a.iter_mut().zip(z.iter()).zip(c.iter()) {
                        *aj = (zj + cj).max(0.0);
                    }
                    for q in 0..k {
                        let wq = &w2[q * h..(q + 1) * h];
                        l[q] = b2[q] + wq.iter().zip(a.iter()).map(|(w, a)| w * a).sum::<f32>();
                    }
                    loss += softmax_grad(l, &zero, yi);
                    // output layer gradient, then back through the ReLU
                    for q in 0..k {
                        let e = l[q];
                        let gq = &mut g2[q * h..(q + 1) * h];
                        for (g, &aj) in gq.iter_mut().zip(a.iter()) {
                            *g += f64::from(e * aj);
                        }
                        g2[k * h + q] += f64::from(e);
                    }
                    for (j, zj) in z.iter_mut().enumerate() {
                        *zj = if a[j] > 0.0 { (0..k).map(|q| l[q] * w2[q * h + j]).sum() } else { 0.0 };
                        gc[j] += f64::from(*zj);
                    }
                };
                kernel::BlockEval { x, d, rows, vt, k: m, gvt, softmax: back }.run(arch);
                for (g, &v) in grad[o..].iter_mut().zip(g2.iter()) {
                    *g = v as f32;
                }
            }
        }
        // first layer: dW = (Σ g xᵀ - m Σ g) / s, db = Σ g
        for q in 0..m {
            let gq = gc[q] as f32;
            for (((g, &gv), &mu), &inv) in
                grad[q * d..(q + 1) * d].iter_mut().zip(&gvt[q * dp..q * dp + d]).zip(&st.mean).zip(inv32.iter())
            {
                *g = (gv - mu * gq) * inv;
            }
            grad[m * d + q] = gc[q] as f32;
        }
        loss
    }

    /// Class scores of `rows` of `x` (row-major, `d` columns).
    #[must_use]
    pub fn decision(&self, theta: &[f32], x: ArrayView2<'_, f32>, st: &Standardizer) -> Array2<f32> {
        let (d, k, m) = (self.d, self.k, self.width());
        let mut vt = Vec::new();
        let mut c = Vec::new();
        let inv: Vec<f32> = st.scale.iter().map(|&v| (1.0 / f64::from(v)) as f32).collect();
        self.fold_first_layer(theta, &st.mean, &inv, &mut vt, &mut c);
        let dp = kernel::stride(d);
        let v = Array2::from_shape_fn((d, m), |(j, q)| vt[q * dp + j]);
        let mut z = x.dot(&v);
        z += &Array1::from(c);
        match self.arch {
            Arch::Logistic => z,
            Arch::Mlp { hidden: h } => {
                z.mapv_inplace(|t| t.max(0.0));
                let o = h * d + h;
                let w2 = ndarray::ArrayView2::from_shape((k, h), &theta[o..o + k * h]).expect("layout");
                let mut out = z.dot(&w2.t());
                out += &ndarray::ArrayView1::from(&theta[o + k * h..]);
                out
            }
        }
    }

    /// Predicted class of each row in `rows` of the matrix `x`.
    #[must_use]
    pub fn predict_rows(&self, theta: &[f32], x: ArrayView2<'_, f32>, rows: &[usize], st: &Standardizer) -> Vec<usize> {
        const BLOCK: usize = 256;
        let mut out = Vec::with_capacity(rows.len());
        let mut buf = Array2::<f32>::zeros((BLOCK.min(rows.len().max(1)), x.ncols()));
        for chunk in rows.chunks(BLOCK) {
            let mut blk = buf.slice_axis_mut(Axis(0), ndarray::Slice::from(0..chunk.len()));
            for (i, &r) in chunk.iter().enumerate() {
                blk.row_mut(i).assign(&x.row(r));
            }
            let z = self.decision(theta, blk.view(), st);
            out.extend(z.rows().into_iter().map(|r| argmax(r.as_slice().unwrap_or(&[]))));
        }
        out
    }
}

/// Plain mini-batch SGD of the logistic model (no L2, proximal term or
/// momentum), kept in folded coordinates: `V = W / s` (stride
/// [`kernel::stride`]) and `c = b - m V`, so a step needs no re-fold.
///
/// The SGD step of the standardised model, `W -= η/n (Gx - m g) / s` and
/// `b -= η/n g` (with `Gx = Σ g xᵀ` on raw rows), becomes
/// `V -= η/n (Gx - m g) / s²` and `c = b - m V`: one pass over the weights
/// per mini-batch that also clears the gradient buffer, instead of forming
/// the gradient, updating and folding again (three passes and a memset).
/// Same maths as [`Shape::loss_grad`] plus the plain update; the rounding
/// differs in the last bits.
#[derive(Debug, Default)]
pub(crate) struct FoldedLogistic {
    d: usize,
    k: usize,
    dp: usize,
    vt: Vec<f32>,
    gvt: Vec<f32>,
    c: Vec<f32>,
    b: Vec<f32>,
    gc: Vec<f64>,
    mean: Vec<f32>,
    scale: Vec<f32>,
    inv: Vec<f32>,
    inv2: Vec<f32>,
}

impl FoldedLogistic {
    /// Folds `theta` (a logistic model of `shape`) with `st`, reusing this
    /// model's buffers: the same state as a fresh model, without allocating
    /// when the shape is unchanged (one model serves client after client).
    pub(crate) fn reset(&mut self, shape: &Shape, theta: &[f32], st: &Standardizer) {
        let (d, k) = (shape.d, shape.k);
        let dp = kernel::stride(d);
        if self.scale != st.scale || self.inv.len() != d {
            self.inv.clear();
            self.inv.extend(st.scale.iter().map(|&v| (1.0 / f64::from(v)) as f32));
            self.inv2.clear();
            self.inv2.extend(st.scale.iter().map(|&v| (1.0 / (f64::from(v) * f64::from(v))) as f32));
            self.scale.clone_from(&st.scale);
        }
        self.mean.clone_from(&st.mean);
        (self.d, self.k, self.dp) = (d, k, dp);
        shape.fold_first_layer(theta, &st.mean, &self.inv, &mut self.vt, &mut self.c);
        self.gvt.clear();
        self.gvt.resize(k * dp, 0.0);
        self.b.clear();
        self.b.extend_from_slice(&theta[k * d..]);
        self.gc.clear();
        self.gc.resize(k, 0.0);
    }

    /// One step on `rows` with learning rate `lr` (the gradient is averaged
    /// over the rows); returns the summed loss before the step.
    pub(crate) fn step(&mut self, x: &[f32], y: &[usize], rows: &[usize], lr: f32, arch: pulp::Arch) -> f64 {
        let (d, dp) = (self.d, self.dp);
        let mut loss = 0f64;
        self.gc.fill(0.0);
        {
            let (c, gc) = (&self.c, &mut self.gc);
            let softmax = |i: usize, z: &mut [f32]| {
                loss += softmax_grad(z, c, y[rows[i]]);
                for (acc, &g) in gc.iter_mut().zip(z.iter()) {
                    *acc += f64::from(g);
                }
            };
            kernel::BlockEval { x, d, rows, vt: &self.vt, k: self.k, gvt: &mut self.gvt, softmax }.run(arch);
        }
        let step = lr / rows.len().max(1) as f32;
        for q in 0..self.k {
            let gq = self.gc[q] as f32;
            let v = &mut self.vt[q * dp..q * dp + d];
            let g = &mut self.gvt[q * dp..q * dp + d];
            let acc = arch.dispatch(RowUpdate { v, g, mean: &self.mean, inv2: &self.inv2, step, gq });
            self.b[q] -= step * gq;
            let dot: f64 = acc.iter().map(|&a| f64::from(a)).sum();
            self.c[q] = (f64::from(self.b[q]) - dot) as f32;
        }
        loss
    }

    /// The model as a flat parameter vector (`W = V s`, then `b`).
    pub(crate) fn params(&self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.k * self.d + self.k);
        for q in 0..self.k {
            out.extend(self.vt[q * self.dp..q * self.dp + self.d].iter().zip(&self.scale).map(|(v, s)| v * s));
        }
        out.extend(&self.b);
        out
    }
}

/// [`Shape::fold_first_layer`]'s pass: `v = w / s` row by row and `c = b -
/// m · v` with the dot product in 8 f32 lanes (element `j` in lane `j % 8`).
/// Plain element-wise code compiled for the best instruction set of the
/// CPU (no fused multiply-add): the same bits on any of them.
struct Fold<'a> {
    d: usize,
    m: usize,
    theta: &'a [f32],
    mean: &'a [f32],
    inv_scale: &'a [f32],
    vt: &'a mut [f32],
    c: &'a mut Vec<f32>,
}

impl pulp::WithSimd for Fold<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        const LANES: usize = 8;
        let Self { d, m, theta, mean, inv_scale, vt, c } = self;
        let dp = kernel::stride(d);
        let body = d / LANES * LANES;
        for q in 0..m {
            let w = &theta[q * d..(q + 1) * d];
            let row = &mut vt[q * dp..q * dp + d];
            // one pass: v = w / s and the lanes of m . v
            let mut acc = [0f32; LANES];
            for (((r, w), s), mu) in row[..body]
                .chunks_exact_mut(LANES)
                .zip(w[..body].chunks_exact(LANES))
                .zip(inv_scale[..body].chunks_exact(LANES))
                .zip(mean[..body].chunks_exact(LANES))
            {
                for l in 0..LANES {
                    r[l] = w[l] * s[l];
                    acc[l] += mu[l] * r[l];
                }
            }
            for j in body..d {
                row[j] = w[j] * inv_scale[j];
                acc[j - body] += mean[j] * row[j];
            }
            let dot: f64 = acc.iter().map(|&a| f64::from(a)).sum();
            c.push((f64::from(theta[m * d + q]) - dot) as f32);
        }
    }
}

/// [`FoldedLogistic::step`]'s pass over one class's row: `v -= step ·
/// inv2 · (g - m gq)`, `g = 0`, and `m · v` (the new `v`) in [`RowUpdate::LANES`]
/// f32 lanes, element `j` in lane `j % LANES`. Plain element-wise code (no
/// fused multiply-add), compiled for the best instruction set of the CPU:
/// the same bits on any of them.
struct RowUpdate<'a> {
    v: &'a mut [f32],
    g: &'a mut [f32],
    mean: &'a [f32],
    inv2: &'a [f32],
    step: f32,
    gq: f32,
}

impl RowUpdate<'_> {
    const LANES: usize = 8;
}

impl pulp::WithSimd for RowUpdate<'_> {
    type Output = [f32; RowUpdate::LANES];

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        const LANES: usize = RowUpdate::LANES;
        let Self { v, g, mean, inv2, step, gq } = self;
        // two simple loops over the row (25 KB for ComParE: the second pass
        // reads it from L1), so each vectorises
        for (((v, g), &m), &i2) in v.iter_mut().zip(g.iter_mut()).zip(mean).zip(inv2) {
            *v -= step * i2 * (*g - m * gq);
            *g = 0.0;
        }
        let mut acc = [0f32; LANES];
        let (v8, vr) = v.as_chunks::<LANES>();
        let (m8, mr) = mean.as_chunks::<LANES>();
        for (v, m) in v8.iter().zip(m8) {
            for l in 0..LANES {
                acc[l] += m[l] * v[l];
            }
        }
        for (l, (v, m)) in vr.iter().zip(mr).enumerate() {
            acc[l] += m * v;
        }
        acc
    }
}

/// Index of the largest value (the first on ties).
pub(crate) fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for j in 1..v.len() {
        if v[j] > v[best] {
            best = j;
        }
    }
    best
}

/// Adds `c` to the logits `z`, returns `-log softmax(z)[y]` and leaves
/// `softmax(z) - onehot(y)` in `z`.
fn softmax_grad(z: &mut [f32], c: &[f32], y: usize) -> f64 {
    let mut mx = f32::NEG_INFINITY;
    for (e, &cq) in z.iter_mut().zip(c) {
        *e += cq;
        mx = mx.max(*e);
    }
    let mut sum = 0f64;
    for e in z.iter_mut() {
        let ex = f64::from(*e - mx).exp();
        sum += ex;
        *e = ex as f32;
    }
    let loss = -(f64::from(z[y]) / sum).max(1e-300).ln();
    for (q, e) in z.iter_mut().enumerate() {
        *e = (f64::from(*e) / sum - if q == y { 1.0 } else { 0.0 }) as f32;
    }
    loss
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// Scalar reference: standardise, forward, cross-entropy, summed over rows.
    fn reference_loss(shape: &Shape, theta: &[f32], x: &[f32], y: &[usize], rows: &[usize], st: &Standardizer) -> f64 {
        let (d, k) = (shape.d, shape.k);
        let mut total = 0.0;
        for &r in rows {
            let xs: Vec<f64> =
                (0..d).map(|j| (f64::from(x[r * d + j]) - f64::from(st.mean[j])) / f64::from(st.scale[j])).collect();
            let layer = |w: &[f32], b: &[f32], inp: &[f64], n_out: usize| -> Vec<f64> {
                let n_in = inp.len();
                (0..n_out)
                    .map(|q| f64::from(b[q]) + (0..n_in).map(|j| f64::from(w[q * n_in + j]) * inp[j]).sum::<f64>())
                    .collect()
            };
            let logits = match shape.arch {
                Arch::Logistic => layer(&theta[..k * d], &theta[k * d..], &xs, k),
                Arch::Mlp { hidden: h } => {
                    let a: Vec<f64> =
                        layer(&theta[..h * d], &theta[h * d..h * d + h], &xs, h).iter().map(|v| v.max(0.0)).collect();
                    let o = h * d + h;
                    layer(&theta[o..o + k * h], &theta[o + k * h..], &a, k)
                }
            };
            let mx = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = mx + logits.iter().map(|l| (l - mx).exp()).sum::<f64>().ln();
            total += lse - logits[y[r]];
        }
        total
    }

    /// Gradient of the kernel path against central finite differences of the
    /// scalar reference, for both architectures and a non-trivial standardiser.
    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (n, d, k) = (23, 19, 4);
        let x: Vec<f32> = (0..n * d).map(|_| rng.gen_range(-3.0..3.0)).collect();
        let y: Vec<usize> = (0..n).map(|i| i % k).collect();
        let rows: Vec<usize> = (0..n).filter(|i| i % 5 != 0).collect();
        let st = Standardizer {
            mean: (0..d).map(|j| j as f32 * 0.1).collect(),
            scale: (0..d).map(|j| 0.5 + j as f32 * 0.05).collect(),
        };
        for arch in [Arch::Logistic, Arch::Mlp { hidden: 7 }] {
            let shape = Shape { arch, d, k };
            let mut theta = shape.init(&mut rng);
            for v in &mut theta {
                *v += rng.gen_range(-0.2..0.2);
            }
            let mut grad = vec![0f32; shape.n_params()];
            let loss =
                shape.loss_grad(&theta, &x, &y, &rows, &st, &mut grad, &mut Scratch::default(), pulp::Arch::new());
            let want = reference_loss(&shape, &theta, &x, &y, &rows, &st);
            assert!((loss - want).abs() < 1e-4 * want.abs().max(1.0), "{arch:?}: loss {loss} vs {want}");
            for i in (0..shape.n_params()).step_by(3) {
                let h = 1e-3f32;
                let mut tp = theta.clone();
                tp[i] += h;
                let mut tm = theta.clone();
                tm[i] -= h;
                let fd = (reference_loss(&shape, &tp, &x, &y, &rows, &st)
                    - reference_loss(&shape, &tm, &x, &y, &rows, &st))
                    / (2.0 * f64::from(h));
                assert!(
                    (f64::from(grad[i]) - fd).abs() < 2e-2 * fd.abs().max(1.0),
                    "{arch:?} param {i}: {} vs {fd}",
                    grad[i]
                );
            }
            // predictions agree with the reference logits' argmax
            let xa = ArrayView2::from_shape((n, d), &x).unwrap();
            let pred = shape.predict_rows(&theta, xa, &rows, &st);
            let z = shape.decision(&theta, xa, &st);
            for (p, &r) in pred.iter().zip(&rows) {
                assert_eq!(*p, argmax(z.row(r).as_slice().unwrap()));
            }
        }
    }
}
