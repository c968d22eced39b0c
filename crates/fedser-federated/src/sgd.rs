//! Client-side mini-batch SGD (also the central MLP/logistic fit).
//!
//! Per step on a batch `B` (rows shuffled every epoch by the client's own
//! generator): `g = (1/|B|) Σ ∇CE + l2 · w_weights + mu (w - w_global)`,
//! `v = momentum · v + g`, `w -= lr · v`. The last batch of an epoch may be
//! smaller. Deterministic: the only randomness is the shuffle.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::model::{FoldedLogistic, Scratch, Shape, Standardizer};

/// What a client is asked to do in one round (part of Flower's `FitIns`).
#[derive(Debug, Clone, PartialEq)]
pub struct LocalConfig {
    /// Epochs over the client's rows.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Learning rate for this round.
    pub lr: f32,
    /// Momentum.
    pub momentum: f32,
    /// L2 weight decay (weights only).
    pub l2: f32,
    /// FedProx proximal weight (0 = none).
    pub mu: f32,
    /// Stop after this many steps (a partial straggler); `None` = all.
    pub max_steps: Option<usize>,
}

/// The data a model trains on: a shared row-major matrix, labels, and the
/// rows that belong to this client.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    /// Features, row-major, `d` columns.
    pub x: &'a [f32],
    /// Label of every row of `x`.
    pub y: &'a [usize],
    /// The rows to use.
    pub rows: &'a [usize],
}

/// Result of local training.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalOutcome {
    /// Trained parameters.
    pub params: Vec<f32>,
    /// Mean training loss over all examples visited.
    pub loss: f64,
    /// Steps taken.
    pub steps: usize,
}

/// The buffers of local training, reused from run to run: a simulation
/// keeps one per worker thread, so training a client allocates nothing but
/// its result. The state left between runs never changes a result.
#[derive(Debug, Default)]
pub struct Workspace {
    folded: FoldedLogistic,
    scratch: Scratch,
    w: Vec<f32>,
    vel: Vec<f32>,
    grad: Vec<f32>,
    order: Vec<usize>,
}

/// Runs local SGD from `start` (`global` anchors the FedProx term).
#[must_use]
pub fn train(
    shape: &Shape,
    start: &[f32],
    data: Rows<'_>,
    st: &Standardizer,
    cfg: &LocalConfig,
    rng: &mut ChaCha8Rng,
) -> LocalOutcome {
    train_in(&mut Workspace::default(), shape, start, data, st, cfg, rng)
}

/// [`train`] with the buffers of `ws` (the same result as with a fresh one).
#[must_use]
pub fn train_in(
    ws: &mut Workspace,
    shape: &Shape,
    start: &[f32],
    data: Rows<'_>,
    st: &Standardizer,
    cfg: &LocalConfig,
    rng: &mut ChaCha8Rng,
) -> LocalOutcome {
    let Workspace { folded, scratch, w, vel, grad, order } = ws;
    if cfg.l2 <= 0.0 && cfg.mu <= 0.0 && cfg.momentum <= 0.0 && shape.arch == crate::model::Arch::Logistic {
        return train_folded(folded, order, shape, start, data, st, cfg, rng);
    }
    let np = shape.n_params();
    w.clear();
    w.extend_from_slice(start);
    vel.clear();
    vel.resize(if cfg.momentum > 0.0 { np } else { 0 }, 0.0);
    grad.clear();
    grad.resize(np, 0.0);
    let arch = pulp::Arch::new();
    let weights = shape.weight_ranges();
    let plain = cfg.l2 <= 0.0 && cfg.mu <= 0.0 && cfg.momentum <= 0.0;
    let (loss, seen, steps) = run_batches(order, data.rows, cfg, rng, |batch| {
        let loss = shape.loss_grad(w, data.x, data.y, batch, st, grad, scratch, arch);
        let inv = 1.0 / batch.len() as f32;
        if plain {
            // the common case in one pass: w -= lr * g / n
            let step = cfg.lr * inv;
            for (wi, &g) in w.iter_mut().zip(grad.iter()) {
                *wi -= step * g;
            }
            return loss;
        }
        for g in grad.iter_mut() {
            *g *= inv;
        }
        if cfg.l2 > 0.0 {
            for r in &weights {
                for i in r.clone() {
                    grad[i] += cfg.l2 * w[i];
                }
            }
        }
        if cfg.mu > 0.0 {
            for ((g, &wi), &w0) in grad.iter_mut().zip(w.iter()).zip(start) {
                *g += cfg.mu * (wi - w0);
            }
        }
        if cfg.momentum > 0.0 {
            for ((wi, vi), &g) in w.iter_mut().zip(vel.iter_mut()).zip(grad.iter()) {
                *vi = cfg.momentum * *vi + g;
                *wi -= cfg.lr * *vi;
            }
        } else {
            for (wi, &g) in w.iter_mut().zip(grad.iter()) {
                *wi -= cfg.lr * g;
            }
        }
        loss
    });
    LocalOutcome { params: std::mem::take(w), loss: if seen > 0 { loss / seen as f64 } else { f64::NAN }, steps }
}

/// Runs `step` on every mini-batch of `rows`, reshuffled each epoch (in
/// `order`), for `cfg.epochs` epochs or `cfg.max_steps` steps: (summed loss,
/// rows seen, steps).
fn run_batches(
    order: &mut Vec<usize>,
    rows: &[usize],
    cfg: &LocalConfig,
    rng: &mut ChaCha8Rng,
    mut step: impl FnMut(&[usize]) -> f64,
) -> (f64, usize, usize) {
    order.clear();
    order.extend_from_slice(rows);
    let (mut steps, mut loss, mut seen) = (0, 0f64, 0usize);
    let limit = cfg.max_steps.unwrap_or(usize::MAX);
    'epochs: for _ in 0..cfg.epochs {
        order.shuffle(rng);
        for batch in order.chunks(cfg.batch_size.max(1)) {
            if steps >= limit {
                break 'epochs;
            }
            loss += step(batch);
            seen += batch.len();
            steps += 1;
        }
    }
    (loss, seen, steps)
}

/// [`train`]'s plain logistic case (no L2, proximal term or momentum) in
/// folded coordinates ([`FoldedLogistic`]): the same batches in the same
/// order, one pass over the weights per step.
#[allow(clippy::too_many_arguments)]
fn train_folded(
    model: &mut FoldedLogistic,
    order: &mut Vec<usize>,
    shape: &Shape,
    start: &[f32],
    data: Rows<'_>,
    st: &Standardizer,
    cfg: &LocalConfig,
    rng: &mut ChaCha8Rng,
) -> LocalOutcome {
    model.reset(shape, start, st);
    let arch = pulp::Arch::new();
    let (loss, seen, steps) =
        run_batches(order, data.rows, cfg, rng, |batch| model.step(data.x, data.y, batch, cfg.lr, arch));
    LocalOutcome { params: model.params(), loss: if seen > 0 { loss / seen as f64 } else { f64::NAN }, steps }
}

/// Steps a full local run takes on `n` rows.
#[must_use]
pub fn full_steps(n: usize, cfg: &LocalConfig) -> usize {
    cfg.epochs * n.div_ceil(cfg.batch_size.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    use crate::model::Arch;

    #[test]
    fn sgd_reduces_loss_and_is_deterministic_and_prox_pulls_to_start() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (n, d, k) = (60, 10, 3);
        let y: Vec<usize> = (0..n).map(|i| i % k).collect();
        let x: Vec<f32> =
            (0..n * d).map(|i| (if i % d == y[i / d] { 2.0 } else { 0.0 }) + rng.gen_range(-1.0..1.0)).collect();
        let rows: Vec<usize> = (0..n).collect();
        let shape = Shape { arch: Arch::Logistic, d, k };
        let st = Standardizer::identity(d);
        let data = Rows { x: &x, y: &y, rows: &rows };
        let cfg = LocalConfig { epochs: 5, batch_size: 8, lr: 0.1, momentum: 0.5, l2: 0.0, mu: 0.0, max_steps: None };
        let start = vec![0f32; shape.n_params()];
        let a = train(&shape, &start, data, &st, &cfg, &mut ChaCha8Rng::seed_from_u64(2));
        let b = train(&shape, &start, data, &st, &cfg, &mut ChaCha8Rng::seed_from_u64(2));
        assert_eq!(a, b);
        assert_eq!(a.steps, full_steps(n, &cfg));
        assert!(a.loss < (k as f64).ln(), "{}", a.loss);
        let norm = |p: &[f32]| p.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
        let prox = train(
            &shape,
            &start,
            data,
            &st,
            &LocalConfig { mu: 5.0, ..cfg.clone() },
            &mut ChaCha8Rng::seed_from_u64(2),
        );
        assert!(norm(&prox.params) < norm(&a.params));
        let partial = train(
            &shape,
            &start,
            data,
            &st,
            &LocalConfig { max_steps: Some(3), ..cfg },
            &mut ChaCha8Rng::seed_from_u64(2),
        );
        assert_eq!(partial.steps, 3);
    }

    #[test]
    fn a_reused_workspace_gives_the_results_of_a_fresh_one() {
        // one workspace through runs of both paths, two shapes and two
        // standardisers, interleaved: no state may leak from run to run
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let (n, k) = (41, 3);
        let y: Vec<usize> = (0..n).map(|i| (i * 2) % k).collect();
        let mut ws = Workspace::default();
        let mut runs = 0;
        for round in 0..2 {
            for (d, arch, momentum, l2) in [
                (19, Arch::Logistic, 0.0, 0.0),
                (19, Arch::Mlp { hidden: 4 }, 0.9, 0.0),
                (7, Arch::Logistic, 0.0, 0.0),
                (19, Arch::Logistic, 0.5, 1e-3),
                (19, Arch::Logistic, 0.0, 0.0),
            ] {
                let x: Vec<f32> = (0..n * d).map(|i| (i % d) as f32 + rng.gen_range(-2.0..2.0)).collect();
                let rows: Vec<usize> = (0..n).rev().collect();
                let st = if round == 0 {
                    crate::stats::combine(&[crate::stats::ClientStats::of(&x, d, &rows)], d)
                } else {
                    Standardizer::identity(d)
                };
                let shape = Shape { arch, d, k };
                let start: Vec<f32> = (0..shape.n_params()).map(|_| rng.gen_range(-0.1..0.1)).collect();
                let cfg = LocalConfig { epochs: 2, batch_size: 6, lr: 0.05, momentum, l2, mu: 0.0, max_steps: None };
                let data = Rows { x: &x, y: &y, rows: &rows };
                let fresh = train(&shape, &start, data, &st, &cfg, &mut ChaCha8Rng::seed_from_u64(runs));
                let reused = train_in(&mut ws, &shape, &start, data, &st, &cfg, &mut ChaCha8Rng::seed_from_u64(runs));
                assert_eq!(fresh.steps, reused.steps);
                assert_eq!(fresh.loss.to_bits(), reused.loss.to_bits(), "run {runs}: {arch:?} d {d}");
                assert!(
                    fresh.params.iter().zip(&reused.params).all(|(a, b)| a.to_bits() == b.to_bits()),
                    "run {runs}: {arch:?} d {d}"
                );
                assert!(fresh.loss.is_finite() && fresh.params != start, "run {runs} trained");
                runs += 1;
            }
        }
    }

    #[test]
    fn folded_plain_logistic_sgd_matches_the_generic_step() {
        // train()'s folded path against loss_grad + `w -= lr g / n` batch by
        // batch, with a real (non-identity) standardiser and a partial batch
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let (n, d, k) = (53, 21, 4);
        let y: Vec<usize> = (0..n).map(|i| (i * 5) % k).collect();
        let x: Vec<f32> = (0..n * d)
            .map(|i| 3.0 + (i % d) as f32 + if i % d == y[i / d] { 1.5 } else { 0.0 } + rng.gen_range(-1.0..1.0))
            .collect();
        let rows: Vec<usize> = (0..n).rev().collect();
        let shape = Shape { arch: Arch::Logistic, d, k };
        let st = crate::stats::combine(&[crate::stats::ClientStats::of(&x, d, &rows)], d);
        let cfg = LocalConfig { epochs: 3, batch_size: 8, lr: 0.2, momentum: 0.0, l2: 0.0, mu: 0.0, max_steps: None };
        let start: Vec<f32> = (0..shape.n_params()).map(|i| ((i % 7) as f32 - 3.0) * 0.01).collect();
        let data = Rows { x: &x, y: &y, rows: &rows };
        let got = train(&shape, &start, data, &st, &cfg, &mut ChaCha8Rng::seed_from_u64(9));
        // the generic step by hand, same shuffles
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let mut w = start.clone();
        let mut grad = vec![0f32; w.len()];
        let mut scratch = Scratch::default();
        let mut order = rows.clone();
        let (mut loss, mut steps) = (0f64, 0);
        for _ in 0..cfg.epochs {
            order.shuffle(&mut rng);
            for batch in order.chunks(cfg.batch_size) {
                loss += shape.loss_grad(&w, &x, &y, batch, &st, &mut grad, &mut scratch, pulp::Arch::new());
                for (wi, g) in w.iter_mut().zip(&grad) {
                    *wi -= cfg.lr * g / batch.len() as f32;
                }
                steps += 1;
            }
        }
        assert_eq!(got.steps, steps);
        assert!((got.loss - loss / (n * cfg.epochs) as f64).abs() < 1e-4, "{} vs {}", got.loss, loss);
        let scale = w.iter().fold(0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in got.params.iter().zip(&w).enumerate() {
            assert!((a - b).abs() <= 2e-4 * scale, "param {i}: {a} vs {b} (scale {scale})");
        }
        assert!(got.loss < (k as f64).ln(), "it learns: {}", got.loss);
    }
}
