//! fedser's own multinomial logistic regression: f32 data, f64 optimiser
//! state, L-BFGS, scikit-learn's objective.
//!
//! Objective (scikit-learn's `LogisticRegression(C = 1/alpha)`, multinomial,
//! divided by the number of rows `n`):
//! `mean_i -log softmax(x_i W + b)[y_i] + alpha / (2 n) * ||W||^2`
//! (the intercept is not penalised), where `x_i` is standardised with the
//! training rows' mean and standard deviation.
//!
//! Standardisation per fold without copying the data: the caller hands a
//! matrix standardised once with *global* statistics (`x_g`), plus the
//! fold's mean `m` and scale `s` of `x_g` over the training rows. The fold's
//! standardised features are `(x_g - m) / s`, so the logits are
//! `x_g V + c` with `V = W / s` (row-wise) and `c = b - m V`, and the
//! gradient is `dW = (x_gᵀ G - m (1ᵀG)) / s`. This is exactly the model fit
//! on per-fold standardised data.
//!
//! The objective is evaluated in blocks of [`BLOCK`] rows by a fused kernel
//! (`kernel.rs`: explicit SIMD with runtime AVX2/FMA dispatch through
//! `pulp`) that reads the training rows of `x_g` in place, computes the `k`
//! logits of each row as simultaneous dot products with `Vᵀ`, and adds
//! `g_q x_i` into `GVᵀ` right after the softmax, while the rows are still in
//! cache; the block's f32 gradient is then added into an f64 sum.
//!
//! Deterministic: block order and all reductions are fixed; no threads
//! inside a fit. (Results depend on the SIMD width picked at run time, so
//! they can differ in the last bits between CPUs, never between runs.)

use ndarray::{Array1, Array2, ArrayView2, Axis};

use fedser_federated::kernel;

const BLOCK: usize = 256;

/// Fit settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxConfig {
    /// L2 strength (scikit-learn's `1/C`).
    pub alpha: f64,
    /// L-BFGS iterations cap.
    pub max_iterations: usize,
    /// Stop when the max-abs gradient is below this.
    pub tolerance: f64,
    /// L-BFGS memory.
    pub memory: usize,
}

/// A fitted model in the caller's (globally standardised) feature space.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxModel {
    /// Weights in the fold-standardised space, `d x k` (warm-start state).
    pub w: Array2<f64>,
    /// Intercepts, `k`.
    pub b: Array1<f64>,
    /// `V = W / s` for prediction on `x_g`, `d x k`.
    v: Array2<f32>,
    /// `c = b - m V`.
    c: Array1<f32>,
    /// Iterations run.
    pub iterations: usize,
    /// Objective evaluations.
    pub evaluations: usize,
    /// Final max-abs gradient.
    pub gradient: f64,
}

impl SoftmaxModel {
    /// Class scores for rows of `x_g`.
    #[must_use]
    pub fn decision(&self, x: ArrayView2<'_, f32>) -> Array2<f32> {
        let mut z = x.dot(&self.v);
        z += &self.c;
        z
    }

    /// Predicted class indices for the given rows of `x_g`.
    #[must_use]
    pub fn predict_rows(&self, x: &Array2<f32>, rows: &[usize]) -> Vec<usize> {
        let mut out = Vec::with_capacity(rows.len());
        let d = x.ncols();
        let mut buf = Array2::<f32>::zeros((BLOCK.min(rows.len().max(1)), d));
        for chunk in rows.chunks(BLOCK) {
            let mut blk = buf.slice_axis_mut(Axis(0), ndarray::Slice::from(0..chunk.len()));
            for (i, &r) in chunk.iter().enumerate() {
                blk.row_mut(i).assign(&x.row(r));
            }
            let z = self.decision(blk.view());
            for row in z.rows() {
                let mut best = 0;
                for j in 1..row.len() {
                    if row[j] > row[best] {
                        best = j;
                    }
                }
                out.push(best);
            }
        }
        let _ = &mut buf;
        out
    }
}

struct Problem<'a> {
    /// `x_g`, row-major, `d` columns.
    x: &'a [f32],
    d: usize,
    rows: &'a [usize],
    y: &'a [usize],
    k: usize,
    mean: &'a [f32],
    scale: &'a [f32],
    alpha: f64,
    arch: pulp::Arch,
}

impl<'a> Problem<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        x: &'a [f32],
        d: usize,
        rows: &'a [usize],
        y: &'a [usize],
        k: usize,
        mean: &'a [f32],
        scale: &'a [f32],
        alpha: f64,
    ) -> Self {
        assert_eq!(x.len() % d.max(1), 0);
        Self { x, d, rows, y, k, mean, scale, alpha, arch: pulp::Arch::new() }
    }

    /// Objective and gradient at `theta = [W (d*k row-major), b (k)]`.
    ///
    /// Blocks of [`BLOCK`] rows: logits `x_i V + c` and the gradient
    /// `x_iᵀ g_i` by the fused kernel (f32, fixed order), block sums of the
    /// gradient added in f64.
    fn eval(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let d = self.d;
        let k = self.k;
        let n = self.rows.len() as f64;
        // Vᵀ = (W / s)ᵀ (rows of stride dp, zero padded), c = b - m V
        let dp = kernel::stride(d);
        let mut vt = vec![0f32; k * dp];
        let mut c = vec![0f64; k];
        c.copy_from_slice(&theta[d * k..]);
        for j in 0..d {
            let sj = f64::from(self.scale[j]);
            let mj = f64::from(self.mean[j]);
            for q in 0..k {
                let vjq = theta[j * k + q] / sj;
                vt[q * dp + j] = vjq as f32;
                c[q] -= mj * vjq;
            }
        }
        let c32: Vec<f32> = c.iter().map(|&x| x as f32).collect();
        let mut gvt = vec![0f32; k * dp];
        let mut gvt64 = vec![0f64; k * dp];
        let mut gc = vec![0f64; k];
        let mut loss = 0f64;
        for chunk in self.rows.chunks(BLOCK) {
            gvt.fill(0.0);
            let softmax = |i: usize, z: &mut [f32]| {
                let yi = self.y[chunk[i]];
                let mut mx = f32::NEG_INFINITY;
                for (e, &cq) in z.iter_mut().zip(&c32) {
                    *e += cq;
                    mx = mx.max(*e);
                }
                let mut sum = 0f64;
                for e in z.iter_mut() {
                    let ex = f64::from(*e - mx).exp();
                    sum += ex;
                    *e = ex as f32;
                }
                loss -= (f64::from(z[yi]) / sum).max(1e-300).ln();
                for (q, e) in z.iter_mut().enumerate() {
                    let p = f64::from(*e) / sum;
                    let g = (p - if q == yi { 1.0 } else { 0.0 }) / n;
                    gc[q] += g;
                    *e = g as f32;
                }
            };
            kernel::BlockEval { x: self.x, d, rows: chunk, vt: &vt, k, gvt: &mut gvt, softmax }.run(self.arch);
            for (acc, &g) in gvt64.iter_mut().zip(&gvt) {
                *acc += f64::from(g);
            }
        }
        let mut reg = 0f64;
        let a_n = self.alpha / n;
        for j in 0..d {
            let sj = f64::from(self.scale[j]);
            let mj = f64::from(self.mean[j]);
            for q in 0..k {
                let w = theta[j * k + q];
                reg += w * w;
                grad[j * k + q] = (gvt64[q * dp + j] - mj * gc[q]) / sj + a_n * w;
            }
        }
        grad[d * k..].copy_from_slice(&gc);
        loss / n + 0.5 * a_n * reg
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, &x| m.max(x.abs()))
}

/// Fits the model on `rows` of `x` (globally standardised), with the fold's
/// `mean`/`scale` of `x` over those rows. `init` warm-starts from `(W, b)`.
///
/// # Panics
/// If `y`, `mean`, `scale` do not match `x`'s shape (caller bug).
#[must_use]
#[allow(clippy::too_many_arguments)]
pub fn fit(
    x: &Array2<f32>,
    rows: &[usize],
    y: &[usize],
    k: usize,
    mean: &[f32],
    scale: &[f32],
    cfg: &SoftmaxConfig,
    init: Option<(&Array2<f64>, &Array1<f64>)>,
) -> SoftmaxModel {
    let d = x.ncols();
    assert_eq!(mean.len(), d);
    assert_eq!(scale.len(), d);
    let xs = x.as_standard_layout();
    let p = Problem::new(xs.as_slice().expect("standard layout"), d, rows, y, k, mean, scale, cfg.alpha);
    let dim = d * k + k;
    let mut theta = vec![0f64; dim];
    if let Some((w, b)) = init {
        for j in 0..d {
            for q in 0..k {
                theta[j * k + q] = w[[j, q]];
            }
        }
        theta[d * k..].copy_from_slice(b.as_slice().unwrap_or(&vec![0.0; k]));
    }
    let mut g = vec![0f64; dim];
    let mut f = p.eval(&theta, &mut g);
    let mut evals = 1;
    let mut s_hist: Vec<Vec<f64>> = Vec::new();
    let mut y_hist: Vec<Vec<f64>> = Vec::new();
    let mut iters = 0;
    let mut new_theta = vec![0f64; dim];
    let mut new_g = vec![0f64; dim];
    while iters < cfg.max_iterations && max_abs(&g) > cfg.tolerance {
        // two-loop recursion
        let mut q: Vec<f64> = g.clone();
        let m = s_hist.len();
        let mut alphas = vec![0f64; m];
        for i in (0..m).rev() {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            alphas[i] = rho * dot(&s_hist[i], &q);
            for (qj, yj) in q.iter_mut().zip(&y_hist[i]) {
                *qj -= alphas[i] * yj;
            }
        }
        let gamma = if m > 0 {
            dot(&s_hist[m - 1], &y_hist[m - 1]) / dot(&y_hist[m - 1], &y_hist[m - 1])
        } else {
            1.0 / max_abs(&g).max(1e-12)
        };
        for qj in &mut q {
            *qj *= gamma;
        }
        for i in 0..m {
            let rho = 1.0 / dot(&y_hist[i], &s_hist[i]);
            let beta = rho * dot(&y_hist[i], &q);
            for (qj, sj) in q.iter_mut().zip(&s_hist[i]) {
                *qj += (alphas[i] - beta) * sj;
            }
        }
        // direction = -q; backtracking Armijo line search
        let mut slope = -dot(&g, &q);
        if slope >= 0.0 {
            // not a descent direction: restart with steepest descent
            s_hist.clear();
            y_hist.clear();
            q.clone_from(&g);
            let sc = 1.0 / max_abs(&g).max(1e-12);
            for qj in &mut q {
                *qj *= sc;
            }
            slope = -dot(&g, &q);
        }
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            for j in 0..dim {
                new_theta[j] = theta[j] - step * q[j];
            }
            let nf = p.eval(&new_theta, &mut new_g);
            evals += 1;
            if nf.is_finite() && nf <= f + 1e-4 * step * slope {
                let sv: Vec<f64> = (0..dim).map(|j| new_theta[j] - theta[j]).collect();
                let yv: Vec<f64> = (0..dim).map(|j| new_g[j] - g[j]).collect();
                if dot(&sv, &yv) > 1e-12 * dot(&yv, &yv).max(1e-300) {
                    s_hist.push(sv);
                    y_hist.push(yv);
                    if s_hist.len() > cfg.memory {
                        s_hist.remove(0);
                        y_hist.remove(0);
                    }
                }
                std::mem::swap(&mut theta, &mut new_theta);
                std::mem::swap(&mut g, &mut new_g);
                f = nf;
                accepted = true;
                break;
            }
            step *= 0.5;
        }
        iters += 1;
        if !accepted {
            break;
        }
    }
    let w = Array2::from_shape_fn((d, k), |(j, q)| theta[j * k + q]);
    let b = Array1::from_iter(theta[d * k..].iter().copied());
    let mut v = Array2::<f32>::zeros((d, k));
    let mut c: Vec<f64> = b.to_vec();
    for j in 0..d {
        for q in 0..k {
            let vjq = w[[j, q]] / f64::from(scale[j]);
            v[[j, q]] = vjq as f32;
            c[q] -= f64::from(mean[j]) * vjq;
        }
    }
    SoftmaxModel {
        w,
        b,
        v,
        c: c.iter().map(|&x| x as f32).collect(),
        iterations: iters,
        evaluations: evals,
        gradient: max_abs(&g),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic uniform numbers in `[-0.5, 0.5)`.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((self.0 >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        }
    }

    /// The objective and gradient straight from the documented formula, in
    /// f64, on explicitly standardised rows, one row at a time.
    fn eval_scalar(p: &Problem<'_>, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (d, k) = (p.d, p.k);
        let n = p.rows.len() as f64;
        grad.fill(0.0);
        let mut loss = 0.0;
        for &r in p.rows {
            let xr: Vec<f64> =
                (0..d).map(|j| (f64::from(p.x[r * d + j]) - f64::from(p.mean[j])) / f64::from(p.scale[j])).collect();
            let z: Vec<f64> =
                (0..k).map(|q| theta[d * k + q] + (0..d).map(|j| xr[j] * theta[j * k + q]).sum::<f64>()).collect();
            let mx = z.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
            let sum: f64 = z.iter().map(|&zq| (zq - mx).exp()).sum();
            let y = p.y[r];
            loss -= z[y] - mx - sum.ln();
            for q in 0..k {
                let g = (z[q] - mx).exp() / sum - if q == y { 1.0 } else { 0.0 };
                for j in 0..d {
                    grad[j * k + q] += g * xr[j] / n;
                }
                grad[d * k + q] += g / n;
            }
        }
        let a_n = p.alpha / n;
        let mut reg = 0.0;
        for i in 0..d * k {
            reg += theta[i] * theta[i];
            grad[i] += a_n * theta[i];
        }
        loss / n + 0.5 * a_n * reg
    }

    /// The previous implementation of [`Problem::eval`]: rows gathered into a
    /// block buffer, logits and gradient by ndarray's (matrixmultiply's)
    /// matrix products. Kept for comparison and timing.
    fn eval_reference(p: &Problem<'_>, theta: &[f64], grad: &mut [f64], buf: &mut Array2<f32>) -> f64 {
        let d = p.d;
        let k = p.k;
        let n = p.rows.len() as f64;
        let x = ArrayView2::from_shape((p.x.len() / d, d), p.x).unwrap();
        let mut v = Array2::<f32>::zeros((d, k));
        let mut c = vec![0f64; k];
        c.copy_from_slice(&theta[d * k..]);
        for j in 0..d {
            let sj = f64::from(p.scale[j]);
            let mj = f64::from(p.mean[j]);
            for q in 0..k {
                let vjq = theta[j * k + q] / sj;
                v[[j, q]] = vjq as f32;
                c[q] -= mj * vjq;
            }
        }
        let c32: Array1<f32> = c.iter().map(|&x| x as f32).collect();
        let mut gv = Array2::<f32>::zeros((d, k));
        let mut gv64 = vec![0f64; d * k];
        let mut gc = vec![0f64; k];
        let mut loss = 0f64;
        for chunk in p.rows.chunks(BLOCK) {
            let mut blk = buf.slice_axis_mut(Axis(0), ndarray::Slice::from(0..chunk.len()));
            for (i, &r) in chunk.iter().enumerate() {
                blk.row_mut(i).assign(&x.row(r));
            }
            let mut z = blk.dot(&v);
            z += &c32;
            for (i, mut row) in z.axis_iter_mut(Axis(0)).enumerate() {
                let yi = p.y[chunk[i]];
                let mx = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                let mut sum = 0f64;
                for e in row.iter_mut() {
                    let ex = f64::from(*e - mx).exp();
                    sum += ex;
                    *e = ex as f32;
                }
                let zy = row[yi];
                loss -= (f64::from(zy) / sum).max(1e-300).ln();
                for (q, e) in row.iter_mut().enumerate() {
                    let pr = f64::from(*e) / sum;
                    let g = (pr - if q == yi { 1.0 } else { 0.0 }) / n;
                    gc[q] += g;
                    *e = g as f32;
                }
            }
            ndarray::linalg::general_mat_mul(1.0, &blk.t(), &z, 0.0, &mut gv);
            for (acc, &g) in gv64.iter_mut().zip(gv.iter()) {
                *acc += f64::from(g);
            }
        }
        let mut reg = 0f64;
        let a_n = p.alpha / n;
        for j in 0..d {
            let sj = f64::from(p.scale[j]);
            let mj = f64::from(p.mean[j]);
            for q in 0..k {
                let w = theta[j * k + q];
                reg += w * w;
                grad[j * k + q] = (gv64[j * k + q] - mj * gc[q]) / sj + a_n * w;
            }
        }
        grad[d * k..].copy_from_slice(&gc);
        loss / n + 0.5 * a_n * reg
    }

    /// Max-abs difference relative to the max-abs reference value.
    fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
        let diff = a.iter().zip(b).fold(0f64, |m, (x, y)| m.max((x - y).abs()));
        diff / max_abs(b).max(1e-30)
    }

    /// The fused SIMD eval equals the straightforward f64 formula on random
    /// data: several `d` (below, above and not a multiple of the SIMD width),
    /// several `k` (including more classes than one register tile), rows as a
    /// shuffled index list with repeats and as a contiguous range, more rows
    /// than one block and a row count not a multiple of the row group.
    #[test]
    fn eval_matches_scalar_reference() {
        let mut rng = Lcg(987654321);
        let n_all = 600;
        for &(d, k) in &[(1usize, 2usize), (7, 3), (37, 6), (133, 7), (64, 13), (301, 6)] {
            let x: Vec<f32> = (0..n_all * d).map(|_| 3.0 * rng.next() + 0.5).collect();
            let y: Vec<usize> = (0..n_all).map(|i| (i * 5 + i / 7) % k).collect();
            let mean: Vec<f32> = (0..d).map(|_| rng.next()).collect();
            let scale: Vec<f32> = (0..d).map(|_| 0.5 + rng.next().abs() * 2.0).collect();
            let theta: Vec<f64> = (0..d * k + k).map(|_| f64::from(rng.next()) * 0.4).collect();
            let contiguous: Vec<usize> = (3..n_all - 20).collect();
            let mut scattered: Vec<usize> = (0..n_all).filter(|i| i % 3 != 1).collect();
            for i in (1..scattered.len()).rev() {
                let j = ((rng.next() + 0.5) * (i + 1) as f32) as usize % (i + 1);
                scattered.swap(i, j);
            }
            scattered.extend([4, 4, 17, 599]);
            for rows in [&contiguous, &scattered] {
                let p = Problem::new(&x, d, rows, &y, k, &mean, &scale, 0.3);
                let mut g = vec![0.0; d * k + k];
                let mut g_ref = vec![0.0; d * k + k];
                let f = p.eval(&theta, &mut g);
                let f_ref = eval_scalar(&p, &theta, &mut g_ref);
                assert!((f - f_ref).abs() <= 1e-5 * f_ref.abs(), "d={d} k={k}: loss {f} vs {f_ref}");
                let e = rel_diff(&g, &g_ref);
                assert!(e <= 1e-5, "d={d} k={k}: gradient rel. error {e}");
                // and the previous ndarray implementation
                let mut buf = Array2::<f32>::zeros((BLOCK, d));
                let mut g_old = vec![0.0; d * k + k];
                let f_old = eval_reference(&p, &theta, &mut g_old, &mut buf);
                assert!((f - f_old).abs() <= 1e-5 * f_old.abs(), "d={d} k={k}: loss {f} vs old {f_old}");
                assert!(rel_diff(&g, &g_old) <= 1e-5, "d={d} k={k}: gradient vs old");
                // bit-identical when repeated
                let mut g2 = vec![0.0; d * k + k];
                assert_eq!(p.eval(&theta, &mut g2).to_bits(), f.to_bits());
                assert!(g2.iter().zip(&g).all(|(a, b)| a.to_bits() == b.to_bits()));
                // the scalar (no SIMD) path of the kernel
                #[cfg(target_arch = "x86_64")]
                {
                    let mut p = Problem::new(&x, d, rows, &y, k, &mean, &scale, 0.3);
                    p.arch = pulp::Arch::Scalar;
                    let f_s = p.eval(&theta, &mut g2);
                    assert!(
                        (f_s - f_ref).abs() <= 1e-5 * f_ref.abs(),
                        "scalar path d={d} k={k}: loss {f_s} vs {f_ref}"
                    );
                    assert!(rel_diff(&g2, &g_ref) <= 1e-5, "scalar path d={d} k={k}: gradient");
                }
            }
        }
        // no features at all: uniform probabilities
        let y = [0usize, 2, 1];
        let p = Problem::new(&[], 0, &[0, 1, 2], &y, 3, &[], &[], 1.0);
        let mut g = vec![1.0; 3];
        let f = p.eval(&[0.0; 3], &mut g);
        assert!((f - 3f64.ln()).abs() < 1e-6, "{f}");
        assert!(g.iter().all(|gq| gq.abs() < 1e-7), "{g:?}");
    }

    /// Three Gaussian blobs; the fit must separate them and its gradient
    /// must vanish (first-order optimality of the stated objective).
    #[test]
    fn converges_to_optimum_and_classifies_blobs() {
        let centres = [[2.0f32, 0.0, 1.0], [-2.0, 1.0, 0.0], [0.0, -2.0, -1.0]];
        let mut x = Array2::<f32>::zeros((90, 3));
        let mut y = Vec::new();
        let mut state = 12345u64;
        let mut rnd = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        };
        for i in 0..90 {
            let c = i % 3;
            for j in 0..3 {
                x[[i, j]] = centres[c][j] + 1.5 * rnd();
            }
            y.push(c);
        }
        let rows: Vec<usize> = (0..90).collect();
        let mean = [0.0f32; 3];
        let scale = [1.0f32; 3];
        // f32 logits limit the attainable gradient to ~1e-7
        let cfg = SoftmaxConfig { alpha: 1.0, max_iterations: 500, tolerance: 1e-5, memory: 10 };
        let m = fit(&x, &rows, &y, 3, &mean, &scale, &cfg, None);
        assert!(m.gradient < 1e-5, "gradient {}", m.gradient);
        let pred = m.predict_rows(&x, &rows);
        let acc = pred.iter().zip(&y).filter(|(a, b)| a == b).count() as f64 / 90.0;
        assert!(acc > 0.9, "accuracy {acc}");
        // numerical gradient check at a random point
        let xs = x.as_slice().unwrap();
        let p = Problem::new(xs, 3, &rows, &y, 3, &mean, &[2.0, 0.5, 1.0], 0.7);
        let theta: Vec<f64> = (0..12).map(|i| (i as f64 * 0.37).sin() * 0.3).collect();
        let mut g = vec![0.0; 12];
        p.eval(&theta, &mut g);
        for i in 0..12 {
            let h = 1e-3;
            let mut tp = theta.clone();
            tp[i] += h;
            let mut tm = theta.clone();
            tm[i] -= h;
            let mut dummy = vec![0.0; 12];
            let num = (p.eval(&tp, &mut dummy) - p.eval(&tm, &mut dummy)) / (2.0 * h);
            assert!((num - g[i]).abs() < 2e-4, "grad[{i}] analytic {} numeric {num}", g[i]);
        }
    }

    /// Folding the per-fold standardisation into the weights gives the same
    /// predictions as fitting on explicitly standardised rows.
    #[test]
    fn folded_standardisation_equals_explicit() {
        let mut x = Array2::<f32>::zeros((60, 2));
        let mut y = Vec::new();
        for i in 0..60 {
            let c = i % 2;
            x[[i, 0]] = (i as f32 * 0.7).sin() + if c == 1 { 1.0 } else { -1.0 };
            x[[i, 1]] = (i as f32 * 1.3).cos() * 3.0 + 5.0;
            y.push(c);
        }
        let rows: Vec<usize> = (0..40).collect();
        let mean: Vec<f32> = (0..2).map(|j| rows.iter().map(|&r| x[[r, j]]).sum::<f32>() / 40.0).collect();
        let scale: Vec<f32> =
            (0..2).map(|j| (rows.iter().map(|&r| (x[[r, j]] - mean[j]).powi(2)).sum::<f32>() / 40.0).sqrt()).collect();
        let cfg = SoftmaxConfig { alpha: 1.0, max_iterations: 500, tolerance: 1e-9, memory: 10 };
        let folded = fit(&x, &rows, &y, 2, &mean, &scale, &cfg, None);
        let xs = Array2::from_shape_fn((60, 2), |(i, j)| (x[[i, j]] - mean[j]) / scale[j]);
        let explicit = fit(&xs, &rows, &y, 2, &[0.0, 0.0], &[1.0, 1.0], &cfg, None);
        for (a, b) in folded.w.iter().zip(explicit.w.iter()) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
        let all: Vec<usize> = (0..60).collect();
        assert_eq!(folded.predict_rows(&x, &all), explicit.predict_rows(&xs, &all));
    }
}
