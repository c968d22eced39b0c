//! fedser-report: metrics from the prediction tables, `results.json`,
//! `report.md` and SVG plots.
//!
//! Every number of the report comes from `results.json`, which this crate
//! writes first and then renders; the Markdown never recomputes anything.
//!
//! # results.json (schema_version 1)
//! ```text
//! schema_version   1
//! fedser_version   crate version that wrote it
//! corpus           {name, clips, actors, rejected, audio_hours, by_emotion, by_sex, rejects}
//! features         {set, count, reference_count}
//! experiments[]    {id, protocol, training, model {name, library, params}, uar, accuracy, macro_f1,
//!                   labels, confusion (rows = true labels, columns = predictions, counts),
//!                   per_actor [{actor, sex, n, uar}], per_actor_uar {min, median, max, mean, std},
//!                   folds, n_features, seconds, fold_seconds,
//!                   federated (only when training = federated) {strategy, rounds, clients, skipped_rounds,
//!                              rejected_updates, rounds_table, learning_curve [{round, uar, accuracy,
//!                              train_loss, accepted, skipped_folds}]}}
//! ```
//! `federated` is an additive, optional field: schema_version stays 1.
#![warn(unreachable_pub)]

mod render;
mod svg;

use std::collections::BTreeMap;
use std::path::Path;

use fedser_cache::table;
use fedser_core::metrics;
use serde::{Deserialize, Serialize};

/// Recipe version of the report stage.
pub const VERSION: u32 = 2;
/// Version of the results.json layout.
pub const SCHEMA_VERSION: u32 = 1;

/// Errors of the report stage.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading a table or writing an output failed.
    #[error(transparent)]
    Cache(#[from] fedser_cache::CacheError),
    /// `experiments.json` could not be read.
    #[error("cannot read `{}`: {message}", .path.display())]
    Json {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        message: String,
    },
}

/// Corpus figures for the report (from ingest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CorpusInfo {
    /// `synthetic` or the corpus folder's name.
    pub name: String,
    /// Accepted clips.
    pub clips: usize,
    /// Actors.
    pub actors: usize,
    /// Rejected files.
    pub rejected: usize,
    /// Hours of accepted audio.
    pub audio_hours: f64,
    /// Clips per emotion.
    pub by_emotion: BTreeMap<String, usize>,
    /// Clips per sex.
    pub by_sex: BTreeMap<String, usize>,
    /// Rejected files with reasons (first 50).
    pub rejects: Vec<(String, String)>,
}

/// Feature-set figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FeatureInfo {
    /// `compare16`.
    pub set: String,
    /// Columns computed.
    pub count: usize,
    /// Columns of the full openSMILE set.
    pub reference_count: usize,
}

/// Per-actor result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorScore {
    /// Actor id.
    pub actor: i32,
    /// Sex, if known.
    pub sex: Option<String>,
    /// Test clips of the actor.
    pub n: usize,
    /// UAR over the actor's test clips.
    pub uar: f64,
}

/// Spread of per-actor UAR.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// Minimum.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// Maximum.
    pub max: f64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation (population).
    pub std: f64,
}

/// One experiment in results.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentResult {
    /// Id.
    pub id: String,
    /// Protocol.
    pub protocol: String,
    /// `centralized` / `federated`.
    pub training: String,
    /// Model name and params.
    pub model: serde_json::Value,
    /// Unweighted average recall over all test predictions pooled.
    pub uar: f64,
    /// Accuracy.
    pub accuracy: f64,
    /// Macro-F1.
    pub macro_f1: f64,
    /// Label order of `confusion`.
    pub labels: Vec<String>,
    /// Counts, rows = true labels.
    pub confusion: Vec<Vec<u64>>,
    /// Per actor.
    pub per_actor: Vec<ActorScore>,
    /// Spread of `per_actor[].uar`.
    pub per_actor_uar: Spread,
    /// Folds.
    pub folds: usize,
    /// Features used.
    pub n_features: usize,
    /// Wall time, seconds.
    pub seconds: f64,
    /// Per-fold seconds.
    pub fold_seconds: Vec<f64>,
    /// Federated runs only: strategy, rounds and the pooled learning curve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub federated: Option<FederatedInfo>,
}

/// The federated part of an experiment (from the federate stage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederatedInfo {
    /// Strategy name (`fedavg`).
    pub strategy: String,
    /// Rounds.
    pub rounds: u32,
    /// Clients per fold.
    pub clients: Vec<usize>,
    /// Rounds skipped for too few updates (summed over folds).
    pub skipped_rounds: usize,
    /// Updates rejected by the server (summed over folds and rounds).
    pub rejected_updates: usize,
    /// The per-round Parquet table, relative to the federate stage folder.
    pub rounds_table: String,
    /// Pooled test metrics per round: `{round, uar, accuracy, train_loss, accepted, skipped_folds}`.
    pub learning_curve: Vec<serde_json::Value>,
    /// `[privacy]` of the run (fedser-federated's `PrivacySummary`: `dp {epsilon, delta,
    /// noise_multiplier, sample_rate, rounds, ...}`, `secagg`, `attack {mean_round_uar,
    /// pooled_uar, chance, per_round_uar, observed}`, seconds per round); absent without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<serde_json::Value>,
}

/// The whole results.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Writer version.
    pub fedser_version: String,
    /// Pipeline file the run used.
    pub pipeline: String,
    /// Corpus.
    pub corpus: CorpusInfo,
    /// Features.
    pub features: FeatureInfo,
    /// Experiments.
    pub experiments: Vec<ExperimentResult>,
}

#[derive(Debug, Deserialize)]
struct ExperimentMetaIn {
    id: String,
    protocol: String,
    training: String,
    model: serde_json::Value,
    folds: usize,
    n_features: usize,
    seconds: f64,
    #[serde(default)]
    fold_seconds: Vec<f64>,
    #[serde(default)]
    strategy: Option<String>,
    #[serde(default)]
    rounds: u32,
    #[serde(default)]
    clients: Vec<usize>,
    #[serde(default)]
    skipped_rounds: usize,
    #[serde(default)]
    rejected_updates: usize,
    #[serde(default)]
    rounds_table: String,
    #[serde(default)]
    learning_curve: Vec<serde_json::Value>,
    #[serde(default)]
    privacy: Option<serde_json::Value>,
}

/// Inputs of the report stage.
#[derive(Debug, Clone)]
pub struct ReportInputs<'a> {
    /// `predictions.parquet` of train.
    pub predictions: &'a Path,
    /// `experiments.json` of train.
    pub experiments: &'a Path,
    /// `predictions.parquet` and `experiments.json` of federate, when it ran.
    pub federated: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Corpus figures.
    pub corpus: CorpusInfo,
    /// Feature figures.
    pub features: FeatureInfo,
    /// Actor -> sex (from the manifest).
    pub sex: BTreeMap<i32, Option<String>>,
    /// Pipeline file name.
    pub pipeline: String,
}

/// Computes the results and writes `results.json`, `report.md` and the
/// plots into `out_dir`.
///
/// # Errors
/// [`ReportError`].
pub fn run(inputs: &ReportInputs<'_>, out_dir: &Path) -> Result<Results, ReportError> {
    let mut experiments = score(inputs, inputs.predictions, inputs.experiments)?;
    if let Some((p, e)) = &inputs.federated {
        experiments.extend(score(inputs, p, e)?);
    }
    let results = Results {
        schema_version: SCHEMA_VERSION,
        fedser_version: env!("CARGO_PKG_VERSION").to_owned(),
        pipeline: inputs.pipeline.clone(),
        corpus: inputs.corpus.clone(),
        features: inputs.features.clone(),
        experiments,
    };
    write_outputs(&results, out_dir)?;
    Ok(results)
}

/// Metrics of every experiment of one (predictions, experiments.json) pair.
fn score(inputs: &ReportInputs<'_>, p: &Path, experiments_json: &Path) -> Result<Vec<ExperimentResult>, ReportError> {
    let text = std::fs::read(experiments_json)
        .map_err(|e| ReportError::Json { path: experiments_json.to_path_buf(), message: e.to_string() })?;
    let metas: Vec<ExperimentMetaIn> = serde_json::from_slice(&text)
        .map_err(|e| ReportError::Json { path: experiments_json.to_path_buf(), message: e.to_string() })?;
    let b = table::read_parquet(p, None)?;
    let exp = table::strings(p, &b, "experiment")?;
    let actor = table::ints(p, &b, "actor")?;
    let label = table::strings(p, &b, "label")?;
    let pred = table::strings(p, &b, "pred")?;
    let labels: Vec<String> = fedser_core::codes::EMOTIONS
        .iter()
        .filter(|e| label.iter().any(|l| l == *e))
        .map(|e| (*e).to_owned())
        .collect();
    let idx = |s: &str| labels.iter().position(|l| l == s).unwrap_or(usize::MAX);
    let mut experiments = Vec::new();
    for m in metas {
        let rows: Vec<usize> = (0..exp.len()).filter(|&i| exp[i] == m.id).collect();
        let yt: Vec<usize> = rows.iter().map(|&i| idx(&label[i])).collect();
        let yp: Vec<usize> = rows.iter().map(|&i| idx(&pred[i])).collect();
        let confusion = metrics::confusion(&yt, &yp, labels.len());
        let s = metrics::scores(&confusion);
        let mut by_actor: BTreeMap<i32, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
        for (k, &i) in rows.iter().enumerate() {
            let e = by_actor.entry(actor[i].unwrap_or(0) as i32).or_default();
            e.0.push(yt[k]);
            e.1.push(yp[k]);
        }
        let per_actor: Vec<ActorScore> = by_actor
            .into_iter()
            .map(|(a, (t, pr))| ActorScore {
                actor: a,
                sex: inputs.sex.get(&a).cloned().flatten(),
                n: t.len(),
                uar: metrics::scores(&metrics::confusion(&t, &pr, labels.len())).uar,
            })
            .collect();
        let per_actor_uar = spread(&per_actor.iter().map(|a| a.uar).collect::<Vec<_>>());
        let federated = m.strategy.map(|strategy| FederatedInfo {
            strategy,
            rounds: m.rounds,
            clients: m.clients,
            skipped_rounds: m.skipped_rounds,
            rejected_updates: m.rejected_updates,
            rounds_table: m.rounds_table,
            learning_curve: m.learning_curve,
            privacy: m.privacy,
        });
        experiments.push(ExperimentResult {
            id: m.id,
            protocol: m.protocol,
            training: m.training,
            model: m.model,
            uar: s.uar,
            accuracy: s.accuracy,
            macro_f1: s.macro_f1,
            labels: labels.clone(),
            confusion,
            per_actor,
            per_actor_uar,
            folds: m.folds,
            n_features: m.n_features,
            seconds: m.seconds,
            fold_seconds: m.fold_seconds,
            federated,
        });
    }
    Ok(experiments)
}

fn spread(v: &[f64]) -> Spread {
    if v.is_empty() {
        return Spread { min: 0.0, median: 0.0, max: 0.0, mean: 0.0, std: 0.0 };
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
    let mean = s.iter().sum::<f64>() / n as f64;
    let std = (s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64).sqrt();
    Spread { min: s[0], median, max: s[n - 1], mean, std }
}

/// Writes results.json, report.md and the SVG plots (each atomically).
///
/// # Errors
/// [`ReportError`].
pub fn write_outputs(results: &Results, out_dir: &Path) -> Result<(), ReportError> {
    let json = serde_json::to_vec_pretty(results)
        .map_err(|e| ReportError::Json { path: out_dir.join("results.json"), message: e.to_string() })?;
    fedser_cache::atomic_write(&out_dir.join("results.json"), &json)?;
    for e in &results.experiments {
        let svg = svg::confusion(&e.labels, &e.confusion, &format!("{} (row-normalised)", e.id));
        fedser_cache::atomic_write(&out_dir.join(format!("confusion_{}.svg", e.id)), svg.as_bytes())?;
        if e.per_actor.len() > 1 {
            let svg = svg::per_actor(&e.per_actor, &format!("{}: UAR per actor", e.id));
            fedser_cache::atomic_write(&out_dir.join(format!("per_actor_{}.svg", e.id)), svg.as_bytes())?;
        }
    }
    let md = render::markdown(results);
    fedser_cache::atomic_write(&out_dir.join("report.md"), md.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_values() {
        let s = spread(&[0.2, 0.4, 0.9]);
        assert_eq!((s.min, s.median, s.max), (0.2, 0.4, 0.9));
        assert!((s.mean - 0.5).abs() < 1e-12);
        assert_eq!(spread(&[0.1, 0.3]).median, 0.2);
    }
}
