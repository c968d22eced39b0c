//! fedser-federated: federated training of speech-emotion classifiers, one
//! client per actor, simulated in one process.
//!
//! # Pieces
//! - [`model`]: multinomial logistic regression and a one-hidden-layer MLP
//!   over one flat `f32` parameter vector, with the feature standardisation
//!   folded into the first layer; [`central`] fits the same models on pooled
//!   data through linfa's `Fit`/`Predict`.
//! - [`sgd`]: client-side mini-batch SGD (epochs, batch, lr with decay,
//!   momentum, L2, FedProx's `mu`).
//! - [`strategy`]: Flower-shaped [`Strategy`] trait with FedAvg, FedProx,
//!   FedAdam, FedYogi and FedAdagrad (Reddi et al. 2021).
//! - [`server`]: the one round loop ([`simulate`]) with client sampling,
//!   faults (dropout, stragglers, corrupt updates), update checks (length,
//!   NaN/Inf, norm bound) and the per-round history ([`RoundRecord`]).
//! - [`stats`]: federated standardisation from per-client counts, sums and
//!   sums of squares.
//! - [`stage`]: the `federate` pipeline stage (every protocol and fold of the
//!   partition table).
//!
//! # Extension points (privacy, attacks)
//! [`hooks`] defines what `fedser-privacy` plugs into [`simulate`] through
//! [`Hooks`], without changing the loop:
//! - [`UpdateTransform`]: client-side transform of each update before it is
//!   sent (clip to norm C, add local/distributed Gaussian noise), with a
//!   generator seeded by `(seed, fold, round, client)`.
//! - [`Aggregator`]: the server's weighted mean of accepted updates
//!   ([`PlainAggregator`] in the clear; secure aggregation masks/unmasks
//!   the sum; central DP adds noise to it). Use [`Weighting::Equal`]
//!   (`weighting = "equal"`) when the mechanism assumes equal client weights.
//! - [`RoundObserver`]: every individual update with its client id per
//!   round (for the attribute-inference attack), and each round's record.
//!
//! The server's checks run on what it receives (after the transform).
//!
//! # Determinism
//! Every random choice (initialisation, sampling, faults, shuffling, the
//! transform's noise) comes from a ChaCha8 generator seeded by
//! `(seed, stream, round, client, purpose)`; clients' results are
//! aggregated in ascending client order with f64 accumulators. Results are
//! identical for any thread count (tested).
//!
//! # Params
//! `[train.federated]`, see [`FederatedParams`].
//!
//! # Output schema (stage folder `cache/federate/`)
//! - `predictions.parquet`: as `fedser-train`'s: `experiment, protocol,
//!   fold, file, actor, label, pred`, final global model of each fold.
//! - `experiments.json`: [`stage::FedExperimentMeta`] per experiment
//!   (`training = "federated"`, strategy, rounds, pooled learning curve).
//! - `rounds/<experiment>.parquet`: one row per fold and round: `experiment,
//!   protocol, fold, round, sampled, reported, accepted, rejected, dropped,
//!   stragglers, skipped, train_loss, test_uar, test_accuracy, bytes_up,
//!   bytes_down, failures, fit_seconds, eval_seconds` (round 0 = initial
//!   model).
#![warn(unreachable_pub)]

pub mod central;
pub mod data;
pub mod hooks;
pub mod kernel;
pub mod model;
mod params;
pub mod privacy;
pub mod rowfile;
pub mod select;
pub mod server;
pub mod sgd;
pub mod stage;
pub mod stats;
pub mod strategy;

pub use hooks::{Aggregator, ClientUpdate, Hooks, PlainAggregator, RoundObserver, UpdateTransform};
pub use model::{Arch, Shape, Standardizer};
pub use params::{
    FaultParams, FederatedParams, LocalParams, ModelName, ServerParams, StragglerPolicy, StrategyKind, Weighting,
};
pub use rowfile::RowFile;
pub use server::{simulate, FeatureSource, Federation, RoundRecord, SimConfig, SimOutcome};
pub use stage::run;
pub use strategy::{FitFailure, FitIns, FitRes, Strategy};

/// Recipe version of the federate stage.
pub const VERSION: u32 = 4;

/// A client: the actor id.
pub type ClientId = i32;

/// Errors of federated training.
#[derive(Debug, thiserror::Error)]
pub enum FedError {
    /// Reading inputs or writing outputs failed.
    #[error(transparent)]
    Cache(#[from] fedser_cache::CacheError),
    /// A table is inconsistent with another.
    #[error("`{}`: {message}", .path.display())]
    Data {
        /// The table.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The aggregation backend failed.
    #[error("round {round}: aggregation failed: {message}")]
    Aggregation {
        /// Round.
        round: u32,
        /// The cause.
        message: String,
    },
    /// A fold failed.
    #[error("{experiment} fold {fold}: {source}")]
    Fold {
        /// Experiment id.
        experiment: String,
        /// Fold.
        fold: i32,
        /// The cause.
        source: Box<FedError>,
    },
    /// Writing `experiments.json` failed.
    #[error("cannot serialise `{}`: {message}", .path.display())]
    Json {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        message: String,
    },
    /// linfa rejected the dataset.
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
    /// A parameter is invalid (found when it is applied, e.g. a selection candidate).
    #[error(transparent)]
    Param(#[from] fedser_core::ParamError),
}
