//! Strategies in Flower's shape: `configure_fit` picks the clients and
//! their instructions, `aggregate_fit` turns accepted updates (and the
//! list of failures) into the next global model through an
//! [`Aggregator`], `evaluate` scores a global model.
//!
//! Updates are deltas `Δ_i = w_i - w_t`. With the aggregator's weighted
//! mean `Δ = Σ a_i Δ_i / Σ a_i`:
//! - FedAvg / FedProx: `w_{t+1} = w_t + η_s Δ` (`η_s = 1` is McMahan's
//!   weighted model average).
//! - FedOpt (Reddi et al. 2021, Algorithm 2, no bias correction,
//!   `m_{-1} = 0`, `v_{-1} = τ²`): `m_t = β1 m_{t-1} + (1 - β1) Δ`;
//!   FedAdagrad `v_t = v_{t-1} + Δ²`; FedYogi
//!   `v_t = v_{t-1} - (1 - β2) Δ² sign(v_{t-1} - Δ²)`; FedAdam
//!   `v_t = β2 v_{t-1} + (1 - β2) Δ²`; then `w_{t+1} = w_t + η m_t / (√v_t + τ)`.

use rand::seq::index;
use rand_chacha::ChaCha8Rng;

use crate::hooks::{Aggregator, ClientUpdate};
use crate::params::{FederatedParams, StrategyKind, Weighting};
use crate::sgd::LocalConfig;
use crate::{ClientId, FedError};

/// Instructions for one client in one round.
#[derive(Debug, Clone, PartialEq)]
pub struct FitIns {
    /// Local training settings.
    pub local: LocalConfig,
}

/// A client's answer: its update and how much data produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct FitRes {
    /// `w_client - w_global`, [`crate::Shape::n_params`] values (unless broken).
    pub update: Vec<f32>,
    /// Training examples used.
    pub num_examples: usize,
    /// Mean local training loss.
    pub loss: f64,
}

/// Why a client produced no usable update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FitFailure {
    /// The client dropped out of the round.
    Dropped,
    /// The client was too slow; its update missed the deadline.
    Straggler,
    /// The server rejected the update (reason).
    Rejected(String),
}

impl FitFailure {
    /// Short label for tables and logs.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            FitFailure::Dropped => "dropped".into(),
            FitFailure::Straggler => "straggler (late)".into(),
            FitFailure::Rejected(why) => format!("rejected: {why}"),
        }
    }
}

/// Client sampling: `max(ceil(fraction · n), min_clients)` clients (capped
/// at `n`) drawn without replacement, returned in ascending id order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Fraction of available clients.
    pub fraction: f64,
    /// Minimum clients sampled and accepted updates required per round.
    pub min_clients: usize,
}

impl Sampling {
    /// Samples clients from `available` (sorted ids).
    #[must_use]
    pub fn sample(&self, available: &[ClientId], rng: &mut ChaCha8Rng) -> Vec<ClientId> {
        let n = available.len();
        let want = ((self.fraction * n as f64).ceil() as usize).max(self.min_clients).min(n);
        if want == n {
            return available.to_vec();
        }
        let mut idx = index::sample(rng, n, want).into_vec();
        idx.sort_unstable();
        idx.into_iter().map(|i| available[i]).collect()
    }
}

/// A federated strategy (Flower's `Strategy`).
pub trait Strategy: Send {
    /// Name in ids and results (`fedavg`).
    fn name(&self) -> &'static str;

    /// Clients and instructions for `round` (1-based).
    fn configure_fit(
        &mut self,
        round: u32,
        global: &[f32],
        available: &[ClientId],
        rng: &mut ChaCha8Rng,
    ) -> Vec<(ClientId, FitIns)>;

    /// Accepted updates needed for a round to count (else it is skipped).
    fn min_results(&self) -> usize;

    /// Client weights in the mean.
    fn weighting(&self) -> Weighting;

    /// The next global model from accepted `results` (failures listed for
    /// strategies that react to them); `Ok(None)` keeps `global`.
    ///
    /// # Errors
    /// [`FedError`] from the aggregator.
    fn aggregate_fit(
        &mut self,
        round: u32,
        global: &[f32],
        results: &[(ClientId, FitRes)],
        failures: &[(ClientId, FitFailure)],
        aggregator: &dyn Aggregator,
    ) -> Result<Option<Vec<f32>>, FedError>;
}

/// The sampled clients of a round, each with the round's local instructions
/// (shared by every strategy that samples uniformly).
fn sample_with_instructions(
    sampling: &Sampling,
    local: &LocalTemplate,
    round: u32,
    available: &[ClientId],
    rng: &mut ChaCha8Rng,
) -> Vec<(ClientId, FitIns)> {
    let local = local.for_round(round);
    sampling.sample(available, rng).into_iter().map(|c| (c, FitIns { local: local.clone() })).collect()
}

/// [`mean_update`], or `None` when no client reported (the round keeps the model).
fn mean_update_of(
    round: u32,
    results: &[(ClientId, FitRes)],
    weighting: Weighting,
    aggregator: &dyn Aggregator,
) -> Result<Option<Vec<f32>>, FedError> {
    if results.is_empty() {
        return Ok(None);
    }
    mean_update(round, results, weighting, aggregator).map(Some)
}

/// The weighted mean update of `results` through `aggregator`.
///
/// # Errors
/// The aggregator's.
pub fn mean_update(
    round: u32,
    results: &[(ClientId, FitRes)],
    weighting: Weighting,
    aggregator: &dyn Aggregator,
) -> Result<Vec<f32>, FedError> {
    let ups: Vec<ClientUpdate<'_>> = results
        .iter()
        .map(|(c, r)| ClientUpdate {
            client: *c,
            weight: match weighting {
                Weighting::Examples => r.num_examples as f64,
                Weighting::Equal => 1.0,
            },
            update: &r.update,
        })
        .collect();
    aggregator.weighted_mean(round, &ups)
}

/// Local settings template shared by the strategies.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalTemplate {
    /// Settings of round 1.
    pub base: LocalConfig,
    /// Learning-rate decay per round.
    pub lr_decay: f64,
}

impl LocalTemplate {
    fn for_round(&self, round: u32) -> LocalConfig {
        let lr = f64::from(self.base.lr) * self.lr_decay.powi(round.saturating_sub(1) as i32);
        LocalConfig { lr: lr as f32, ..self.base.clone() }
    }
}

/// FedAvg and FedProx (`local.mu > 0`).
#[derive(Debug, Clone)]
pub struct FedAvg {
    /// Sampling.
    pub sampling: Sampling,
    /// Client settings.
    pub local: LocalTemplate,
    /// Server learning rate.
    pub server_lr: f32,
    /// Weights of the mean.
    pub weighting: Weighting,
}

impl Strategy for FedAvg {
    fn name(&self) -> &'static str {
        if self.local.base.mu > 0.0 {
            "fedprox"
        } else {
            "fedavg"
        }
    }

    fn configure_fit(
        &mut self,
        round: u32,
        _global: &[f32],
        available: &[ClientId],
        rng: &mut ChaCha8Rng,
    ) -> Vec<(ClientId, FitIns)> {
        sample_with_instructions(&self.sampling, &self.local, round, available, rng)
    }

    fn min_results(&self) -> usize {
        self.sampling.min_clients
    }

    fn weighting(&self) -> Weighting {
        self.weighting
    }

    fn aggregate_fit(
        &mut self,
        round: u32,
        global: &[f32],
        results: &[(ClientId, FitRes)],
        _failures: &[(ClientId, FitFailure)],
        aggregator: &dyn Aggregator,
    ) -> Result<Option<Vec<f32>>, FedError> {
        let Some(delta) = mean_update_of(round, results, self.weighting, aggregator)? else {
            return Ok(None);
        };
        Ok(Some(global.iter().zip(&delta).map(|(w, d)| w + self.server_lr * d).collect()))
    }
}

/// Which adaptive server optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FedOptKind {
    /// FedAdagrad.
    Adagrad,
    /// FedYogi.
    Yogi,
    /// FedAdam.
    Adam,
}

/// FedAdam / FedYogi / FedAdagrad (Reddi et al. 2021).
#[derive(Debug, Clone)]
pub struct FedOpt {
    /// Variant.
    pub kind: FedOptKind,
    /// Sampling.
    pub sampling: Sampling,
    /// Client settings.
    pub local: LocalTemplate,
    /// Weights of the mean.
    pub weighting: Weighting,
    /// η.
    pub eta: f64,
    /// β1.
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// τ.
    pub tau: f64,
    /// First moment (f64 state).
    pub m: Vec<f64>,
    /// Second moment.
    pub v: Vec<f64>,
}

impl FedOpt {
    /// One server step from the mean update `delta`.
    pub fn step(&mut self, global: &[f32], delta: &[f32]) -> Vec<f32> {
        if self.m.len() != delta.len() {
            self.m = vec![0.0; delta.len()];
            self.v = vec![self.tau * self.tau; delta.len()];
        }
        let (b1, b2) = (self.beta1, self.beta2);
        global
            .iter()
            .zip(delta)
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
            .map(|((&w, &d), (m, v))| {
                let d = f64::from(d);
                let d2 = d * d;
                *m = b1 * *m + (1.0 - b1) * d;
                *v = match self.kind {
                    FedOptKind::Adagrad => *v + d2,
                    FedOptKind::Yogi => *v - (1.0 - b2) * d2 * (*v - d2).signum(),
                    FedOptKind::Adam => b2 * *v + (1.0 - b2) * d2,
                };
                (f64::from(w) + self.eta * *m / (v.max(0.0).sqrt() + self.tau)) as f32
            })
            .collect()
    }
}

impl Strategy for FedOpt {
    fn name(&self) -> &'static str {
        match self.kind {
            FedOptKind::Adagrad => "fedadagrad",
            FedOptKind::Yogi => "fedyogi",
            FedOptKind::Adam => "fedadam",
        }
    }

    fn configure_fit(
        &mut self,
        round: u32,
        _global: &[f32],
        available: &[ClientId],
        rng: &mut ChaCha8Rng,
    ) -> Vec<(ClientId, FitIns)> {
        sample_with_instructions(&self.sampling, &self.local, round, available, rng)
    }

    fn min_results(&self) -> usize {
        self.sampling.min_clients
    }

    fn weighting(&self) -> Weighting {
        self.weighting
    }

    fn aggregate_fit(
        &mut self,
        round: u32,
        global: &[f32],
        results: &[(ClientId, FitRes)],
        _failures: &[(ClientId, FitFailure)],
        aggregator: &dyn Aggregator,
    ) -> Result<Option<Vec<f32>>, FedError> {
        let Some(delta) = mean_update_of(round, results, self.weighting, aggregator)? else {
            return Ok(None);
        };
        Ok(Some(self.step(global, &delta)))
    }
}

/// The strategy `params` describe.
#[must_use]
pub fn from_params(p: &FederatedParams) -> Box<dyn Strategy> {
    let sampling = Sampling { fraction: p.fraction, min_clients: p.min_clients };
    let l = &p.local;
    let local = LocalTemplate {
        base: LocalConfig {
            epochs: l.epochs,
            batch_size: l.batch_size,
            lr: l.lr as f32,
            momentum: l.momentum as f32,
            l2: l.l2 as f32,
            mu: p.mu as f32,
            max_steps: None,
        },
        lr_decay: l.lr_decay,
    };
    let s = &p.server;
    let opt = |kind| {
        Box::new(FedOpt {
            kind,
            sampling,
            local: local.clone(),
            weighting: p.weighting,
            eta: s.eta,
            beta1: s.beta1,
            beta2: s.beta2,
            tau: s.tau,
            m: Vec::new(),
            v: Vec::new(),
        }) as Box<dyn Strategy>
    };
    match p.strategy {
        StrategyKind::Fedavg | StrategyKind::Fedprox => {
            Box::new(FedAvg { sampling, local: local.clone(), server_lr: s.lr as f32, weighting: p.weighting })
        }
        StrategyKind::Fedadam => opt(FedOptKind::Adam),
        StrategyKind::Fedyogi => opt(FedOptKind::Yogi),
        StrategyKind::Fedadagrad => opt(FedOptKind::Adagrad),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hooks::PlainAggregator;
    use rand::SeedableRng;

    fn res(update: Vec<f32>, n: usize) -> FitRes {
        FitRes { update, num_examples: n, loss: 0.0 }
    }

    /// FedAvg by hand: models w_t + Δ_i with n = 1, 3 -> (1 w1 + 3 w2) / 4.
    #[test]
    fn fedavg_is_the_example_weighted_model_average() {
        let p = FederatedParams::default();
        let mut s = from_params(&p);
        let global = [1.0f32, -2.0];
        let results = vec![(1, res(vec![1.0, 0.0], 1)), (2, res(vec![-1.0, 4.0], 3))];
        let w = s.aggregate_fit(1, &global, &results, &[], &PlainAggregator).unwrap().unwrap();
        // client models: [2, -2] and [0, 2]; (1*[2,-2] + 3*[0,2]) / 4 = [0.5, 1.0]
        assert_eq!(w, vec![0.5, 1.0]);
        let eq = FederatedParams { weighting: Weighting::Equal, ..Default::default() };
        let w = from_params(&eq).aggregate_fit(1, &global, &results, &[], &PlainAggregator).unwrap().unwrap();
        assert_eq!(w, vec![1.0, 0.0]);
        assert!(s.aggregate_fit(1, &global, &[], &[], &PlainAggregator).unwrap().is_none());
    }

    /// Two server steps of each FedOpt variant against Algorithm 2 of Reddi
    /// et al. (2021) evaluated by hand in f64.
    #[test]
    fn fedopt_steps_follow_the_paper() {
        let (eta, b1, b2, tau) = (0.1, 0.9, 0.99, 1e-3);
        let deltas = [[0.5f32, -0.2], [0.1, 0.3]];
        for (strategy, kind) in [
            (StrategyKind::Fedadam, FedOptKind::Adam),
            (StrategyKind::Fedyogi, FedOptKind::Yogi),
            (StrategyKind::Fedadagrad, FedOptKind::Adagrad),
        ] {
            let mut p = FederatedParams { strategy, ..Default::default() };
            p.server.eta = eta;
            let mut s = from_params(&p);
            let mut w = vec![1.0f32, 2.0];
            let (mut m, mut v) = ([0f64; 2], [tau * tau; 2]);
            let mut want = [1.0f64, 2.0];
            for d in deltas {
                w = s.aggregate_fit(1, &w, &[(1, res(d.to_vec(), 5))], &[], &PlainAggregator).unwrap().unwrap();
                for i in 0..2 {
                    let di = f64::from(d[i]);
                    m[i] = b1 * m[i] + (1.0 - b1) * di;
                    v[i] = match kind {
                        FedOptKind::Adam => b2 * v[i] + (1.0 - b2) * di * di,
                        FedOptKind::Yogi => v[i] - (1.0 - b2) * di * di * (v[i] - di * di).signum(),
                        FedOptKind::Adagrad => v[i] + di * di,
                    };
                    want[i] += eta * m[i] / (v[i].sqrt() + tau);
                }
            }
            for i in 0..2 {
                assert!((f64::from(w[i]) - want[i]).abs() < 1e-5, "{kind:?}: {w:?} vs {want:?}");
            }
            // Adam's first step moves each coordinate by about eta * sign: check the direction
            assert!(w[0] > 1.0, "{kind:?}");
        }
    }

    #[test]
    fn sampling_respects_fraction_min_and_seed() {
        let avail: Vec<ClientId> = (1001..=1010).collect();
        let s = Sampling { fraction: 0.3, min_clients: 2 };
        let a = s.sample(&avail, &mut ChaCha8Rng::seed_from_u64(4));
        assert_eq!(a.len(), 3);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(a, s.sample(&avail, &mut ChaCha8Rng::seed_from_u64(4)));
        let s = Sampling { fraction: 0.05, min_clients: 4 };
        assert_eq!(s.sample(&avail, &mut ChaCha8Rng::seed_from_u64(4)).len(), 4);
        assert_eq!(Sampling { fraction: 1.0, min_clients: 1 }.sample(&avail, &mut ChaCha8Rng::seed_from_u64(4)), avail);
    }
}
