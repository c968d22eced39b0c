//! fedser-train: centralized baselines on the feature table, for every
//! protocol and fold of the partition table.
//!
//! Per fold: the training rows are standardised with statistics of the
//! training rows only (a zero-variance column is centred and left unscaled),
//! the model is fit, and the test rows are predicted. Every model of
//! `[train.centralized] model` and `compare` is trained on the same folds.
//! Folds run in parallel with rayon; every fold is independent, so results
//! do not depend on the thread count.
//!
//! # Models
//! | `model` | library | multi-class |
//! | :-- | :-- | :-- |
//! | `logistic` | fedser-train (softmax, L-BFGS, scikit-learn's objective) | multinomial |
//! | `linfa_logistic` | linfa-logistic | multinomial |
//! | `svm` | linfa-svm (C-SVM, RBF or linear) | one-vs-one voting |
//! | `tree` | linfa-trees (CART) | native |
//! | `gaussian_nb` | linfa-bayes | native |
//! | `knn` | linfa-nn (exact linear search, k = 5) | majority vote |
//! | `mlp` | reserved for fedser-federated | |
//!
//! # Output schema
//! `predictions.parquet`: `experiment, protocol, fold (i32), file, actor
//! (i32), label, pred` (emotion codes). `experiments.json`: one object per
//! experiment: `id, protocol, training, model {name, params}, folds,
//! n_features, n_train, seconds, fold_seconds`.
#![warn(unreachable_pub)]

mod classifiers;
mod model;
pub mod softmax;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use fedser_core::{Protocol, Training};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use classifiers::{
    Classifier, Criterion, Fitted, GaussianNbParams, KnnParams, MlpParams, SvmKernel, SvmParams, TreeParams,
};
pub use fedser_federated::data::{load_features, load_partition, FeatureMatrix, Fold};
use fedser_federated::data::{write_predictions, ExperimentCore, Prediction};
pub use fedser_federated::FederatedParams;
pub use model::{AlphaSelection, CentralizedParams, LogisticParams, ModelKind};

/// Recipe version of the train stage.
pub const VERSION: u32 = 4;

/// Errors of the train stage.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading inputs or writing outputs failed.
    #[error(transparent)]
    Cache(#[from] fedser_cache::CacheError),
    /// Loading the feature or partition table failed.
    #[error(transparent)]
    Load(#[from] fedser_federated::FedError),
    /// A table is inconsistent with another.
    #[error("`{}`: {message}", .path.display())]
    Data {
        /// The table.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The model failed to fit.
    #[error("{experiment} fold {fold}: {message}")]
    Fit {
        /// Experiment id.
        experiment: String,
        /// Fold.
        fold: i32,
        /// The cause.
        message: String,
    },
    /// Writing `experiments.json` failed.
    #[error("cannot serialise `{}`: {message}", .path.display())]
    Json {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        message: String,
    },
}

/// `[train]` params.
///
/// | Name | Default | Purpose |
/// | :-- | :-- | :-- |
/// | `centralized` | logistic | the centralized baseline (see [`CentralizedParams`]) |
/// | `federated` | absent (off) | federated training, run by its own stage (see [`FederatedParams`]) |
///
/// The train stage hashes only `centralized` ([`TrainParams::centralized_key`]);
/// `federated` belongs to the `federate` stage's key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TrainParams {
    /// The centralized baseline.
    pub centralized: CentralizedParams,
    /// Federated training (`[train.federated]`); `None` = off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub federated: Option<FederatedParams>,
}

impl TrainParams {
    /// Checks every nested table.
    ///
    /// # Errors
    /// The first [`fedser_core::ParamError`].
    pub fn validate(&self) -> Result<(), fedser_core::ParamError> {
        self.centralized.validate()?;
        if let Some(f) = &self.federated {
            f.validate()?;
        }
        Ok(())
    }

    /// The part of `[train]` the centralized train stage's key covers:
    /// `{centralized = ...}` (the same table as before `federated` existed,
    /// so adding federated training leaves centralized results cached).
    #[must_use]
    pub fn centralized_key(&self) -> TrainParams {
        TrainParams { centralized: self.centralized.clone(), federated: None }
    }

    /// The federated params when `[train.federated]` is present and enabled.
    #[must_use]
    pub fn federated_enabled(&self) -> Option<&FederatedParams> {
        self.federated.as_ref().filter(|f| f.enabled)
    }
}

/// One experiment's metadata in `experiments.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentMeta {
    /// Id, protocol, model, folds and timings (shared with the federate stage).
    #[serde(flatten)]
    pub core: ExperimentCore,
    /// Feature set the model was trained on (`compare16`, `egemaps02`).
    pub feature_set: String,
    /// Fit seconds summed over folds (standardisation included).
    pub fit_seconds: f64,
    /// Predict seconds summed over folds.
    pub predict_seconds: f64,
    /// The alpha each outer fold chose by inner cross-validation
    /// (`select_alpha`; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alpha_selection: Vec<model::AlphaSelection>,
}

/// Trains every model on every protocol of the partition and writes
/// `predictions.parquet` and `experiments.json` into `out_dir`.
/// `progress(done, total)` is called after each fold.
///
/// # Errors
/// [`TrainError`].
pub fn run(
    params: &TrainParams,
    features: &[(&str, &Path)],
    partition: &Path,
    out_dir: &Path,
    meta: &[(&str, String)],
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Vec<ExperimentMeta>, TrainError> {
    let spec = &params.centralized;
    let models = spec.models();
    let mut tables = Vec::new();
    for (set, path) in features {
        let fm = load_features(path)?;
        let folds = load_partition(partition, &fm)?;
        tables.push((*set, fm, folds));
    }
    let total = tables.iter().map(|t| t.2.len()).sum::<usize>() * models.len();
    let done = AtomicUsize::new(0);
    let mut metas = Vec::new();
    let mut parts: Vec<Vec<Prediction>> = Vec::new();
    for (si, (set, fm, folds)) in tables.iter().enumerate() {
        let mut preds: Vec<Prediction> = Vec::new();
        train_set(spec, &models, (si, set), fm, folds, (&done, total, progress), &mut preds, &mut metas)?;
        parts.push(preds);
    }
    let parts: Vec<(&FeatureMatrix, &[Prediction])> =
        tables.iter().zip(&parts).map(|(t, p)| (&t.1, p.as_slice())).collect();
    write_predictions(out_dir, &parts, &metas, meta)?;
    Ok(metas)
}

/// Every model on every protocol of one feature set. Experiment ids of the
/// primary set (index 0) are `centralized-<model>-<protocol>`; further sets
/// add their name: `centralized-<model>-<set>-<protocol>`.
#[allow(clippy::too_many_arguments)]
fn train_set(
    spec: &CentralizedParams,
    models: &[ModelKind],
    (si, set): (usize, &str),
    fm: &FeatureMatrix,
    folds: &[Fold],
    (done, total, progress): (&AtomicUsize, usize, &(dyn Fn(usize, usize) + Sync)),
    preds: &mut Vec<Prediction>,
    metas: &mut Vec<ExperimentMeta>,
) -> Result<(), TrainError> {
    let mut protocols: Vec<Protocol> = folds.iter().map(|f| f.protocol).collect();
    protocols.dedup();
    for &kind in models {
        let t_prep = Instant::now();
        let trainer = model::Trainer::new(spec, kind, fm);
        tracing::debug!("train {}: prepared in {:.2} s", kind.name(), t_prep.elapsed().as_secs_f64());
        for &protocol in &protocols {
            let id = if si == 0 {
                format!("centralized-{}-{}", kind.name(), protocol.as_str())
            } else {
                format!("centralized-{}-{set}-{}", kind.name(), protocol.as_str())
            };
            let t0 = Instant::now();
            let these: Vec<&Fold> = folds.iter().filter(|f| f.protocol == protocol).collect();
            let results: Vec<Result<(model::FoldFit, f64), TrainError>> = these
                .par_iter()
                .map(|f| {
                    let t = Instant::now();
                    let out = trainer
                        .fit_predict(protocol, f.fold, &f.train, &f.test)
                        .map_err(|message| TrainError::Fit { experiment: id.clone(), fold: f.fold, message })?;
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                    Ok((out, t.elapsed().as_secs_f64()))
                })
                .collect();
            let mut fold_seconds = Vec::new();
            let (mut fit_seconds, mut predict_seconds) = (0.0, 0.0);
            let mut n_train = 0;
            let mut alpha_selection = Vec::new();
            for (f, r) in these.iter().zip(results) {
                let (out, secs) = r?;
                fold_seconds.push(secs);
                fit_seconds += out.times.fit;
                predict_seconds += out.times.predict;
                n_train += f.train.len();
                alpha_selection.extend(out.selection);
                for (&row, &pred) in f.test.iter().zip(&out.pred) {
                    preds.push(Prediction { experiment: id.clone(), protocol, fold: f.fold, row, pred });
                }
            }
            let seconds = t0.elapsed().as_secs_f64();
            tracing::info!(
                "{id}: {} folds in {seconds:.2} s (fit {fit_seconds:.2} s, predict {predict_seconds:.2} s summed over folds)",
                these.len()
            );
            if !alpha_selection.is_empty() {
                let mut chosen: Vec<String> = alpha_selection.iter().map(|s| s.alpha.to_string()).collect();
                chosen.sort();
                chosen.dedup_by(|a, b| a == b);
                tracing::info!("{id}: alpha chosen by inner cross-validation: {}", chosen.join(", "));
            }
            metas.push(ExperimentMeta {
                core: ExperimentCore {
                    id,
                    protocol,
                    training: Training::Centralized,
                    model: spec.describe(kind),
                    folds: these.len(),
                    n_features: fm.names.len(),
                    n_train,
                    seconds,
                    fold_seconds,
                },
                feature_set: (*set).to_owned(),
                fit_seconds,
                predict_seconds,
                alpha_selection,
            });
        }
    }
    Ok(())
}
