//! Attribute inference from individual client updates (honest-but-curious server).
//!
//! Threat model: the server sees every client's update in every round (no
//! secure aggregation) and, in the *shadow* setting, knows the attribute (sex,
//! age group, …) of the other clients from public demographics. It trains a
//! classifier on their updates and predicts the held-out clients' attribute.
//! Evaluation is k-fold cross-validation **by client** (stratified, seeded):
//! no client's updates are on both sides. With secure aggregation the server
//! sees only the sum, and this attack has no per-client input at all.
//!
//! What the server sees depends on where the DP noise goes: with
//! [`crate::dp::Placement::Server`] it sees each *clipped but un-noised*
//! update (DP protects the released model, not the updates, against this
//! server); with [`crate::dp::Placement::Distributed`] each update carries
//! noise of std z·C/√n. Feed [`Observations::observe_round`] exactly that view.
//!
//! Pipeline (all unsupervised steps use only what the server sees):
//! 1. per round, every coordinate is z-scored across the clients of that
//!    round (removes the shared global-model direction and scale);
//! 2. a seeded sparse Johnson–Lindenstrauss projection (each input coordinate
//!    hashed to 4 output coordinates with random signs, Kane & Nelson 2014)
//!    reduces the ~38k-dimensional updates to `projection_dim` features;
//! 3. features are standardised with the training clients' statistics and a
//!    multinomial L2-regularised logistic regression is fitted (Nesterov
//!    accelerated gradient, step 1/L from a power-iteration bound);
//! 4. *per round*: one classifier per round, UAR of its out-of-fold
//!    predictions; *pooled*: one classifier on all (client, round) samples, a
//!    held-out client is predicted from its summed log-probabilities over rounds.
//!
//! The attribute is generic ([`Attribute`]: class names and one optional label
//! per client), so age groups or any other demographic can be attacked.

use fedser_core::metrics::{confusion, scores};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use crate::PrivacyError;

/// Attack settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AttackConfig {
    /// Folds of the cross-validation over clients.
    pub folds: usize,
    /// Dimension after the random projection.
    pub projection_dim: usize,
    /// L2 penalty of the logistic regression (on the mean loss).
    pub l2: f64,
    /// Gradient iterations.
    pub iterations: usize,
    /// Seed of the projection and the folds.
    pub seed: u64,
}

impl Default for AttackConfig {
    fn default() -> Self {
        Self { folds: 5, projection_dim: 256, l2: 0.05, iterations: 300, seed: 0 }
    }
}

/// The attribute under attack: class names and each client's class (`None`:
/// unknown, the client is neither trained on nor scored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attribute {
    /// Name (`sex`, `age_group`).
    pub name: String,
    /// Class names, indexed by label.
    pub classes: Vec<String>,
    /// One label per client.
    pub labels: Vec<Option<usize>>,
}

/// What the server observed, already reduced: `rounds[r][i]` is client i's
/// projected update in round r, if it sent one.
#[derive(Debug, Clone)]
pub struct Observations {
    n_clients: usize,
    dim: usize,
    config: AttackConfig,
    /// (output index, sign) × 4 per input coordinate.
    hash: Vec<[(u32, bool); SKETCH]>,
    rounds: Vec<Vec<Option<Vec<f64>>>>,
}

const SKETCH: usize = 4;

impl Observations {
    /// An empty record for `n_clients` clients with updates of length `dim`.
    ///
    /// # Errors
    /// [`PrivacyError::Invalid`] for a zero projection dimension or fewer than 2 folds.
    pub fn new(n_clients: usize, dim: usize, config: AttackConfig) -> Result<Self, PrivacyError> {
        if config.projection_dim == 0 || config.folds < 2 || config.iterations == 0 {
            return Err(PrivacyError::Invalid {
                what: "attack config".into(),
                message: "need projection_dim ≥ 1, folds ≥ 2, iterations ≥ 1".into(),
            });
        }
        let mut rng = ChaCha20Rng::seed_from_u64(config.seed ^ 0x5EED_0A77_ACC0);
        let k = u32::try_from(config.projection_dim).unwrap_or(u32::MAX);
        let hash = (0..dim).map(|_| std::array::from_fn(|_| (rng.gen_range(0..k), rng.gen_bool(0.5)))).collect();
        Ok(Self { n_clients, dim, config, hash, rounds: Vec::new() })
    }

    /// Rounds observed so far.
    #[must_use]
    pub fn rounds(&self) -> usize {
        self.rounds.len()
    }

    /// Records one round: `updates[i]` is client i's update (`None` when not sampled).
    ///
    /// # Errors
    /// [`PrivacyError::Shape`] for a wrong length or number of clients.
    pub fn observe_round<U: AsRef<[f32]>>(&mut self, updates: &[Option<U>]) -> Result<(), PrivacyError> {
        if updates.len() != self.n_clients {
            return Err(PrivacyError::Invalid {
                what: "round".into(),
                message: format!("{} clients, expected {}", updates.len(), self.n_clients),
            });
        }
        let present: Vec<(usize, &[f32])> =
            updates.iter().enumerate().filter_map(|(i, u)| u.as_ref().map(|u| (i, u.as_ref()))).collect();
        if let Some((i, u)) = present.iter().find(|(_, u)| u.len() != self.dim) {
            return Err(PrivacyError::Shape { client: *i, got: u.len(), expected: self.dim });
        }
        // Per-coordinate mean and std across this round's clients.
        let m = present.len().max(1) as f64;
        let mut mean = vec![0.0_f64; self.dim];
        let mut sq = vec![0.0_f64; self.dim];
        for (_, u) in &present {
            for (j, &x) in u.iter().enumerate() {
                mean[j] += f64::from(x);
                sq[j] += f64::from(x) * f64::from(x);
            }
        }
        let inv_std: Vec<f64> = mean
            .iter_mut()
            .zip(&sq)
            .map(|(mu, &s)| {
                *mu /= m;
                let var = (s / m - *mu * *mu).max(0.0);
                if var > 1e-24 {
                    1.0 / var.sqrt()
                } else {
                    0.0
                }
            })
            .collect();
        let scale = 1.0 / (SKETCH as f64).sqrt();
        let mut row = vec![None; self.n_clients];
        for (i, u) in present {
            let mut p = vec![0.0_f64; self.config.projection_dim];
            for (j, &x) in u.iter().enumerate() {
                let v = (f64::from(x) - mean[j]) * inv_std[j] * scale;
                for &(k, neg) in &self.hash[j] {
                    p[k as usize] += if neg { -v } else { v };
                }
            }
            row[i] = Some(p);
        }
        self.rounds.push(row);
        Ok(())
    }
}

/// Attack result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttackReport {
    /// Attribute attacked.
    pub attribute: String,
    /// Chance UAR (1 / number of classes present).
    pub chance: f64,
    /// Clients with a known label (scored).
    pub clients: usize,
    /// UAR of the per-round classifiers, one per round.
    pub per_round_uar: Vec<f64>,
    /// Mean of `per_round_uar`.
    pub mean_round_uar: f64,
    /// UAR of the classifier pooled over rounds (one prediction per client).
    pub pooled_uar: f64,
}

/// Runs the shadow attack on everything observed.
///
/// # Errors
/// [`PrivacyError::Attack`] when no round was observed, the labels do not
/// match the clients, or fewer than two classes have at least `folds` clients.
pub fn run_attack(obs: &Observations, attr: &Attribute) -> Result<AttackReport, PrivacyError> {
    let err = |message: String| PrivacyError::Attack { attribute: attr.name.clone(), message };
    if attr.labels.len() != obs.n_clients {
        return Err(err(format!("{} labels for {} clients", attr.labels.len(), obs.n_clients)));
    }
    if obs.rounds.is_empty() {
        return Err(err("no rounds observed".into()));
    }
    let k = attr.classes.len();
    if let Some(bad) = attr.labels.iter().flatten().find(|&&l| l >= k) {
        return Err(err(format!("label {bad} but only {k} classes")));
    }
    let cfg = obs.config;
    let mut per_class: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, l) in attr.labels.iter().enumerate() {
        if let Some(l) = l {
            per_class[*l].push(i);
        }
    }
    let present = per_class.iter().filter(|c| !c.is_empty()).count();
    if present < 2 || per_class.iter().any(|c| !c.is_empty() && c.len() < cfg.folds) {
        return Err(err(format!("need ≥ 2 classes with ≥ {} clients each (one per fold)", cfg.folds)));
    }
    // Stratified folds by client.
    let mut fold_of = vec![usize::MAX; obs.n_clients];
    let mut rng = ChaCha20Rng::seed_from_u64(cfg.seed ^ 0xF01D);
    let mut next = 0;
    for c in &mut per_class {
        for i in (1..c.len()).rev() {
            c.swap(i, rng.gen_range(0..=i));
        }
        for &i in c.iter() {
            fold_of[i] = next % cfg.folds;
            next += 1;
        }
    }
    let labelled: Vec<usize> = (0..obs.n_clients).filter(|&i| attr.labels[i].is_some()).collect();
    let label = |i: usize| attr.labels[i].unwrap_or(0);

    // Per round.
    let mut per_round_uar = Vec::with_capacity(obs.rounds.len());
    for round in &obs.rounds {
        let (mut yt, mut yp) = (Vec::new(), Vec::new());
        for f in 0..cfg.folds {
            let train: Vec<(&[f64], usize)> = labelled
                .iter()
                .filter(|&&i| fold_of[i] != f)
                .filter_map(|&i| round[i].as_deref().map(|x| (x, label(i))))
                .collect();
            let model = Logistic::fit(&train, k, cfg.l2, cfg.iterations);
            for &i in labelled.iter().filter(|&&i| fold_of[i] == f) {
                if let Some(x) = round[i].as_deref() {
                    yt.push(label(i));
                    yp.push(argmax(&model.log_proba(x)));
                }
            }
        }
        per_round_uar.push(scores(&confusion(&yt, &yp, k)).uar);
    }
    // Pooled over rounds.
    let (mut yt, mut yp) = (Vec::new(), Vec::new());
    for f in 0..cfg.folds {
        let train: Vec<(&[f64], usize)> = labelled
            .iter()
            .filter(|&&i| fold_of[i] != f)
            .flat_map(|&i| obs.rounds.iter().filter_map(move |r| r[i].as_deref().map(|x| (x, label(i)))))
            .collect();
        let model = Logistic::fit(&train, k, cfg.l2, cfg.iterations);
        for &i in labelled.iter().filter(|&&i| fold_of[i] == f) {
            let mut acc = vec![0.0; k];
            let mut seen = false;
            for r in &obs.rounds {
                if let Some(x) = r[i].as_deref() {
                    seen = true;
                    acc.iter_mut().zip(model.log_proba(x)).for_each(|(a, l)| *a += l);
                }
            }
            if seen {
                yt.push(label(i));
                yp.push(argmax(&acc));
            }
        }
    }
    let pooled_uar = scores(&confusion(&yt, &yp, k)).uar;
    let mean_round_uar = per_round_uar.iter().sum::<f64>() / per_round_uar.len() as f64;
    Ok(AttackReport {
        attribute: attr.name.clone(),
        chance: 1.0 / present as f64,
        clients: labelled.len(),
        per_round_uar,
        mean_round_uar,
        pooled_uar,
    })
}

fn argmax(v: &[f64]) -> usize {
    v.iter().enumerate().fold((0, f64::NEG_INFINITY), |b, (i, &x)| if x > b.1 { (i, x) } else { b }).0
}

/// Standardiser + multinomial logistic regression.
struct Logistic {
    mean: Vec<f64>,
    inv_std: Vec<f64>,
    /// k × (d + 1), bias last.
    w: Vec<Vec<f64>>,
}

impl Logistic {
    fn fit(data: &[(&[f64], usize)], k: usize, l2: f64, iterations: usize) -> Self {
        let d = data.first().map_or(0, |(x, _)| x.len());
        let n = data.len().max(1) as f64;
        let mut mean = vec![0.0; d];
        let mut sq = vec![0.0; d];
        for (x, _) in data {
            for j in 0..d {
                mean[j] += x[j];
                sq[j] += x[j] * x[j];
            }
        }
        let inv_std: Vec<f64> = (0..d)
            .map(|j| {
                mean[j] /= n;
                let var = (sq[j] / n - mean[j] * mean[j]).max(0.0);
                if var > 1e-24 {
                    1.0 / var.sqrt()
                } else {
                    0.0
                }
            })
            .collect();
        let xs: Vec<Vec<f64>> = data
            .iter()
            .map(|(x, _)| {
                let mut z: Vec<f64> = (0..d).map(|j| (x[j] - mean[j]) * inv_std[j]).collect();
                z.push(1.0);
                z
            })
            .collect();
        // Lipschitz bound of the mean softmax loss: ½·λmax(XᵀX/n) + l2 (power iteration).
        let mut v = vec![1.0 / ((d + 1) as f64).sqrt(); d + 1];
        let mut lam = 1.0;
        for _ in 0..30 {
            let mut u = vec![0.0; d + 1];
            for x in &xs {
                let s: f64 = x.iter().zip(&v).map(|(a, b)| a * b).sum();
                u.iter_mut().zip(x).for_each(|(ui, xi)| *ui += s * xi / n);
            }
            lam = u.iter().map(|a| a * a).sum::<f64>().sqrt();
            if lam <= 0.0 {
                break;
            }
            v = u.iter().map(|a| a / lam).collect();
        }
        let step = 1.0 / (0.5 * lam * 1.1 + l2);
        let mut w = vec![vec![0.0; d + 1]; k];
        let mut y = w.clone();
        let mut t = 1.0_f64;
        let mut p = vec![0.0; k];
        for _ in 0..iterations {
            let mut g = vec![vec![0.0; d + 1]; k];
            for (x, &(_, label)) in xs.iter().zip(data) {
                for c in 0..k {
                    p[c] = y[c].iter().zip(x).map(|(a, b)| a * b).sum();
                }
                softmax(&mut p);
                for c in 0..k {
                    let e = (p[c] - if c == label { 1.0 } else { 0.0 }) / n;
                    g[c].iter_mut().zip(x).for_each(|(gi, xi)| *gi += e * xi);
                }
            }
            let t_next = 0.5 * (1.0 + (1.0 + 4.0 * t * t).sqrt());
            for c in 0..k {
                for j in 0..=d {
                    let reg = if j < d { l2 * y[c][j] } else { 0.0 };
                    let w_new = y[c][j] - step * (g[c][j] + reg);
                    y[c][j] = w_new + (t - 1.0) / t_next * (w_new - w[c][j]);
                    w[c][j] = w_new;
                }
            }
            t = t_next;
        }
        Self { mean, inv_std, w }
    }

    fn log_proba(&self, x: &[f64]) -> Vec<f64> {
        let d = self.mean.len();
        let mut p: Vec<f64> = self
            .w
            .iter()
            .map(|w| (0..d).map(|j| w[j] * (x[j] - self.mean[j]) * self.inv_std[j]).sum::<f64>() + w[d])
            .collect();
        let m = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + p.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        p.iter_mut().for_each(|v| *v -= lse);
        p
    }
}

fn softmax(p: &mut [f64]) {
    let m = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let s: f64 = p
        .iter_mut()
        .map(|v| {
            *v = (*v - m).exp();
            *v
        })
        .sum();
    p.iter_mut().for_each(|v| *v /= s);
}

#[cfg(test)]
mod tests {
    use rand_distr::StandardNormal;

    use super::*;

    /// `n` clients, `rounds` rounds of `dim`-dim updates: a shared round
    /// direction, client noise, and `leak` × a class-specific direction
    /// (the class of client i is i % 2, with exceptions to avoid a pattern).
    fn synthetic(n: usize, rounds: usize, dim: usize, leak: f32, seed: u64) -> (Observations, Attribute) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let labels: Vec<usize> = (0..n).map(|_| usize::from(rng.gen_bool(0.5))).collect();
        let dir: Vec<f32> = (0..dim).map(|_| rng.sample::<f32, _>(StandardNormal)).collect();
        let cfg = AttackConfig { folds: 5, projection_dim: 256, l2: 1.0, iterations: 100, seed };
        let mut obs = Observations::new(n, dim, cfg).unwrap();
        for _ in 0..rounds {
            let shared: Vec<f32> = (0..dim).map(|_| 3.0 * rng.sample::<f32, _>(StandardNormal)).collect();
            let ups: Vec<Option<Vec<f32>>> = (0..n)
                .map(|i| {
                    let s = if labels[i] == 1 { leak } else { -leak };
                    Some(
                        (0..dim).map(|j| shared[j] + rng.sample::<f32, _>(StandardNormal) + s * dir[j] * 0.1).collect(),
                    )
                })
                .collect();
            obs.observe_round(&ups).unwrap();
        }
        let attr = Attribute {
            name: "sex".into(),
            classes: vec!["female".into(), "male".into()],
            labels: labels.into_iter().map(Some).collect(),
        };
        (obs, attr)
    }

    #[test]
    fn attack_finds_a_leaking_attribute() {
        let (obs, attr) = synthetic(60, 3, 1500, 1.0, 1);
        let r = run_attack(&obs, &attr).unwrap();
        assert!(r.pooled_uar > 0.85, "{r:?}");
        assert!(r.mean_round_uar > 0.75, "{r:?}");
        assert_eq!(r.per_round_uar.len(), 3);
    }

    #[test]
    fn attack_is_near_chance_without_leak() {
        let mut uars = Vec::new();
        for seed in 0..6 {
            let (obs, attr) = synthetic(60, 3, 600, 0.0, 10 + seed);
            uars.push(run_attack(&obs, &attr).unwrap().pooled_uar);
        }
        let mean = uars.iter().sum::<f64>() / uars.len() as f64;
        // Six independent no-leak studies: the mean UAR has std ≈ 0.065/√6 ≈ 0.027 around 0.5.
        assert!((mean - 0.5).abs() < 0.08, "{uars:?}");
    }

    #[test]
    fn unknown_labels_are_skipped_and_bad_input_rejected() {
        let (obs, mut attr) = synthetic(30, 1, 200, 1.0, 3);
        attr.labels[0] = None;
        let r = run_attack(&obs, &attr).unwrap();
        assert_eq!(r.clients, 29);
        attr.labels.pop();
        assert!(run_attack(&obs, &attr).is_err());
        let empty = Observations::new(30, 200, AttackConfig::default()).unwrap();
        let attr = Attribute { name: "sex".into(), classes: vec!["f".into(), "m".into()], labels: vec![Some(0); 30] };
        assert!(run_attack(&empty, &attr).is_err());
    }
}
