//! `[train.federated]`: every key of a federated run, validated once.

use fedser_core::{check, ParamError};
use serde::{Deserialize, Serialize};

use crate::model::Arch;

/// The server strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// FedAvg (McMahan et al. 2017): example-weighted mean of client models.
    #[default]
    Fedavg,
    /// FedProx (Li et al. 2020): FedAvg with the proximal term `mu/2 ||w - w_t||^2` in every client's objective.
    Fedprox,
    /// FedAdam (Reddi et al. 2021, Algorithm 2).
    Fedadam,
    /// FedYogi (Reddi et al. 2021, Algorithm 2).
    Fedyogi,
    /// FedAdagrad (Reddi et al. 2021, Algorithm 2).
    Fedadagrad,
}

impl StrategyKind {
    /// Name in ids and results.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Fedavg => "fedavg",
            StrategyKind::Fedprox => "fedprox",
            StrategyKind::Fedadam => "fedadam",
            StrategyKind::Fedyogi => "fedyogi",
            StrategyKind::Fedadagrad => "fedadagrad",
        }
    }

    /// Whether the strategy is a server optimizer (FedOpt family).
    #[must_use]
    pub fn is_fedopt(self) -> bool {
        matches!(self, StrategyKind::Fedadam | StrategyKind::Fedyogi | StrategyKind::Fedadagrad)
    }
}

/// How client updates are weighted in the mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// By training examples (FedAvg's `n_k / n`).
    #[default]
    Examples,
    /// Every accepted client counts the same (what client-level DP assumes).
    Equal,
}

/// What a straggler does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StragglerPolicy {
    /// Its update arrives after the round's deadline and is discarded.
    #[default]
    Drop,
    /// It sends what it has after `straggler_work` of its local steps (FedProx's partial work).
    Partial,
}

/// `[train.federated.local]`: client-side mini-batch SGD.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `epochs` | `1` | passes over the client's data per round | `1..=1000` |
/// | `batch_size` | `16` | mini-batch rows | `1..=65536` |
/// | `lr` | `0.01` | learning rate in round 1 | `(0, 10]` |
/// | `lr_decay` | `1.0` | learning rate of round `r` is `lr * lr_decay^(r-1)` | `(0, 1]` |
/// | `momentum` | `0.0` | heavy-ball momentum (reset every round) | `[0, 1)` |
/// | `l2` | `0.0` | weight decay on weights (not biases), added to the gradient | `[0, 10]` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalParams {
    /// Local epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// Per-round decay factor.
    pub lr_decay: f64,
    /// Momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub l2: f64,
}

impl Default for LocalParams {
    fn default() -> Self {
        Self { epochs: 1, batch_size: 16, lr: 0.01, lr_decay: 1.0, momentum: 0.0, l2: 0.0 }
    }
}

/// `[train.federated.server]`: server-side step.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `lr` | `1.0` | FedAvg/FedProx server learning rate (1 = plain averaging) | `(0, 10]` |
/// | `eta` | `0.01` | FedOpt server learning rate η | `(0, 10]` |
/// | `beta1` | `0.9` | FedOpt first-moment decay β1 | `[0, 1)` |
/// | `beta2` | `0.99` | FedAdam/FedYogi second-moment decay β2 | `[0, 1)` |
/// | `tau` | `1e-3` | FedOpt adaptivity τ (also `v_{-1} = τ²`) | `(0, 1]` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerParams {
    /// FedAvg server learning rate.
    pub lr: f64,
    /// FedOpt η.
    pub eta: f64,
    /// FedOpt β1.
    pub beta1: f64,
    /// FedOpt β2.
    pub beta2: f64,
    /// FedOpt τ.
    pub tau: f64,
}

impl Default for ServerParams {
    fn default() -> Self {
        Self { lr: 1.0, eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3 }
    }
}

/// `[train.federated.faults]`: simulated failures. Every draw comes from
/// `(seed, fold, round, client)`.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `dropout` | `0.0` | probability that a sampled client never reports | `[0, 1]` |
/// | `stragglers` | `0.0` | probability that a reporting client is slow | `[0, 1]` |
/// | `straggler_policy` | `"drop"` | `drop` (late update discarded) or `partial` | |
/// | `straggler_work` | `0.5` | fraction of local steps a `partial` straggler completes | `(0, 1]` |
/// | `corrupt` | `0.0` | probability that a client sends a non-finite update (tests the server's checks) | `[0, 1]` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultParams {
    /// Dropout probability.
    pub dropout: f64,
    /// Straggler probability.
    pub stragglers: f64,
    /// Straggler behaviour.
    pub straggler_policy: StragglerPolicy,
    /// Work fraction of a partial straggler.
    pub straggler_work: f64,
    /// Corruption probability.
    pub corrupt: f64,
}

impl Default for FaultParams {
    fn default() -> Self {
        Self {
            dropout: 0.0,
            stragglers: 0.0,
            straggler_policy: StragglerPolicy::Drop,
            straggler_work: 0.5,
            corrupt: 0.0,
        }
    }
}

/// `[train.federated]`.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `enabled` | `true` | run federated training (an absent table also means off) | |
/// | `model` | `"logistic"` | `logistic` (multinomial logistic regression) or `mlp` | |
/// | `hidden` | `64` | hidden units of `mlp` (ReLU) | `1..=4096` |
/// | `strategy` | `"fedavg"` | `fedavg`, `fedprox`, `fedadam`, `fedyogi`, `fedadagrad` | |
/// | `mu` | `0.0` | FedProx proximal weight (only `fedprox`, must be > 0 there) | `[0, 100]` |
/// | `rounds` | `30` | communication rounds | `1..=100000` |
/// | `fraction` | `1.0` | fraction of available clients sampled per round | `(0, 1]` |
/// | `min_clients` | `2` | clients sampled at least, and accepted updates needed, per round | `>= 1` |
/// | `weighting` | `"examples"` | `examples` or `equal` client weights in the mean | |
/// | `max_update_norm` | `0.0` | reject updates with L2 norm above this (0 = no bound) | `>= 0` |
/// | `seed` | `0` | every random choice (init, sampling, shuffling, faults) | |
/// | `local` | see [`LocalParams`] | client SGD | |
/// | `server` | see [`ServerParams`] | server step | |
/// | `faults` | see [`FaultParams`] | simulated failures | |
/// | `select` | see [`crate::select::SelectParams`] | hyperparameters chosen per fold by federated inner validation | |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederatedParams {
    /// Whether the federate stage runs.
    pub enabled: bool,
    /// Model family.
    pub model: ModelName,
    /// Hidden units (mlp).
    pub hidden: usize,
    /// Strategy.
    pub strategy: StrategyKind,
    /// FedProx mu.
    pub mu: f64,
    /// Rounds.
    pub rounds: u32,
    /// Sampling fraction.
    pub fraction: f64,
    /// Minimum clients.
    pub min_clients: usize,
    /// Weights of the mean.
    pub weighting: Weighting,
    /// Norm bound (0 = none).
    pub max_update_norm: f64,
    /// Seed.
    pub seed: u64,
    /// Client SGD.
    pub local: LocalParams,
    /// Server step.
    pub server: ServerParams,
    /// Faults.
    pub faults: FaultParams,
    /// Per-fold selection (absent = off; not serialised then, so caches of
    /// pipelines without it keep their keys).
    #[serde(skip_serializing_if = "crate::select::SelectParams::is_off")]
    pub select: crate::select::SelectParams,
}

/// Model family name in the pipeline file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ModelName {
    /// Multinomial logistic regression.
    #[default]
    Logistic,
    /// One-hidden-layer perceptron.
    Mlp,
}

impl Default for FederatedParams {
    fn default() -> Self {
        Self {
            enabled: true,
            model: ModelName::Logistic,
            hidden: 64,
            strategy: StrategyKind::Fedavg,
            mu: 0.0,
            rounds: 30,
            fraction: 1.0,
            min_clients: 2,
            weighting: Weighting::Examples,
            max_update_norm: 0.0,
            seed: 0,
            local: LocalParams::default(),
            server: ServerParams::default(),
            faults: FaultParams::default(),
            select: crate::select::SelectParams::default(),
        }
    }
}

fn in_range(ok: bool, key: &str, v: impl std::fmt::Display, range: &str) -> Result<(), ParamError> {
    check(ok, &format!("train.federated.{key}"), || format!("{v} is out of range: must be in {range}"))
}

impl FederatedParams {
    /// The model architecture.
    #[must_use]
    pub fn arch(&self) -> Arch {
        match self.model {
            ModelName::Logistic => Arch::Logistic,
            ModelName::Mlp => Arch::Mlp { hidden: self.hidden },
        }
    }

    /// Checks ranges and combinations.
    ///
    /// # Errors
    /// The first [`ParamError`], naming the key.
    pub fn validate(&self) -> Result<(), ParamError> {
        let unit = |x: f64| x.is_finite() && (0.0..=1.0).contains(&x);
        in_range((1..=4096).contains(&self.hidden), "hidden", self.hidden, "1..=4096")?;
        in_range(self.mu.is_finite() && (0.0..=100.0).contains(&self.mu), "mu", self.mu, "[0, 100]")?;
        check(self.strategy != StrategyKind::Fedprox || self.mu > 0.0, "train.federated.mu", || {
            "fedprox needs mu > 0 (mu = 0 is fedavg)".to_owned()
        })?;
        check(self.strategy == StrategyKind::Fedprox || self.mu == 0.0, "train.federated.mu", || {
            format!("mu is only used by strategy = \"fedprox\", not \"{}\"", self.strategy.name())
        })?;
        in_range((1..=100_000).contains(&self.rounds), "rounds", self.rounds, "1..=100000")?;
        in_range(self.fraction > 0.0 && self.fraction <= 1.0, "fraction", self.fraction, "(0, 1]")?;
        in_range(self.min_clients >= 1, "min_clients", self.min_clients, ">= 1")?;
        in_range(
            self.max_update_norm.is_finite() && self.max_update_norm >= 0.0,
            "max_update_norm",
            self.max_update_norm,
            "[0, inf) (0 = no bound)",
        )?;
        let l = &self.local;
        in_range((1..=1000).contains(&l.epochs), "local.epochs", l.epochs, "1..=1000")?;
        in_range((1..=65536).contains(&l.batch_size), "local.batch_size", l.batch_size, "1..=65536")?;
        in_range(l.lr > 0.0 && l.lr <= 10.0, "local.lr", l.lr, "(0, 10]")?;
        in_range(l.lr_decay > 0.0 && l.lr_decay <= 1.0, "local.lr_decay", l.lr_decay, "(0, 1]")?;
        in_range(l.momentum >= 0.0 && l.momentum < 1.0, "local.momentum", l.momentum, "[0, 1)")?;
        in_range(l.l2.is_finite() && (0.0..=10.0).contains(&l.l2), "local.l2", l.l2, "[0, 10]")?;
        let s = &self.server;
        in_range(s.lr > 0.0 && s.lr <= 10.0, "server.lr", s.lr, "(0, 10]")?;
        in_range(s.eta > 0.0 && s.eta <= 10.0, "server.eta", s.eta, "(0, 10]")?;
        in_range(s.beta1 >= 0.0 && s.beta1 < 1.0, "server.beta1", s.beta1, "[0, 1)")?;
        in_range(s.beta2 >= 0.0 && s.beta2 < 1.0, "server.beta2", s.beta2, "[0, 1)")?;
        in_range(s.tau > 0.0 && s.tau <= 1.0, "server.tau", s.tau, "(0, 1]")?;
        let f = &self.faults;
        in_range(unit(f.dropout), "faults.dropout", f.dropout, "[0, 1]")?;
        in_range(unit(f.stragglers), "faults.stragglers", f.stragglers, "[0, 1]")?;
        in_range(
            f.straggler_work > 0.0 && f.straggler_work <= 1.0,
            "faults.straggler_work",
            f.straggler_work,
            "(0, 1]",
        )?;
        in_range(unit(f.corrupt), "faults.corrupt", f.corrupt, "[0, 1]")?;
        if !self.select.is_off() {
            self.select.validate(self)?;
        }
        Ok(())
    }

    /// `{name, library, params}` for results.json.
    #[must_use]
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "name": match self.model { ModelName::Logistic => "logistic", ModelName::Mlp => "mlp" },
            "library": "fedser-federated",
            "params": serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_key() {
        assert!(FederatedParams::default().validate().is_ok());
        let e = FederatedParams { strategy: StrategyKind::Fedprox, ..Default::default() }.validate().unwrap_err();
        assert!(e.to_string().contains("train.federated.mu"), "{e}");
        let e = FederatedParams { mu: 0.1, ..Default::default() }.validate().unwrap_err();
        assert!(e.to_string().contains("only used by"), "{e}");
        let mut p = FederatedParams::default();
        p.local.lr = 0.0;
        assert!(p.validate().unwrap_err().to_string().contains("train.federated.local.lr"));
        let mut p = FederatedParams::default();
        p.faults.dropout = 1.5;
        assert!(p.validate().unwrap_err().to_string().contains("train.federated.faults.dropout"));
        let p: FederatedParams = toml::from_str("strategy = \"fedadam\"\n[server]\neta = 0.1\n").unwrap();
        assert_eq!((p.strategy, p.server.eta, p.rounds), (StrategyKind::Fedadam, 0.1, 30));
        assert!(toml::from_str::<FederatedParams>("bogus = 1").is_err());
    }
}
