//! fedser-report: metrics from the prediction tables, `results.json`,
//! `comparison.parquet`, `report.md` and a self-contained `report.html`
//! (figures drawn with plotters and inlined as SVG; no script, no network).
//!
//! Every number of the report comes from `results.json`: [`write_outputs`]
//! serialises the results, parses that JSON back and renders only from it,
//! so [`render_results_file`] reproduces the report from a results.json
//! alone (including entries other crates add). A section without data says
//! so plainly.
//!
//! # results.json (schema_version 5)
//! ```text
//! schema_version   5 (3 added experiments[].alpha_selection, 4 experiments[].federated.selection,
//!                     5 experiments[].federated.delta_uar)
//! fedser_version   crate version that wrote it
//! pipeline         pipeline file
//! provenance       {pipeline, code_version, seeds {name: seed}, bootstrap {resamples, level, seed},
//!                   stages [{stage, seconds, finished_unix, key}]}        (stage timings from cache/fedser.lock)
//! corpus           {name, clips, actors, rejected, audio_hours, by_emotion, by_sex, rejects}
//! features         {set, count, reference_count}
//! experiments[]    {id, protocol, training: centralized | federated, model {name, library, params}, feature_set,
//!                   uar, uar_ci {low, high} | null, accuracy, macro_f1,
//!                   labels, confusion (rows = true labels, columns = predictions, counts),
//!                   per_actor [{actor, sex, n, uar}], per_actor_uar {min, median, max, mean, std},
//!                   folds, n_features, seconds, fold_seconds, fit_seconds | null, predict_seconds | null,
//!                   alpha_selection [{fold, alpha, inner_uar [[alpha, uar]]}] (only with select_alpha),
//!                   curve {rounds [u32], test_uar [f64]} | null,       (federated runs: test UAR per round)
//!                   federated (only when training = federated) {strategy, rounds, clients, skipped_rounds,
//!                              rejected_updates, rounds_table, learning_curve [{round, uar, accuracy,
//!                              train_loss, accepted, skipped_folds}],
//!                              privacy {params, dp, secagg, attack, *_seconds_per_round} | null,
//!                              selection [{fold, chosen {key: value}, candidates [{params {key: value}, uar}]}]
//!                              (only with [train.federated.select]),
//!                              delta_uar {centralized, paired, delta, ci {low, high} | null}
//!                              (federated − centralized UAR on the same test clips, paired bootstrap;
//!                              only when a centralized run of the same protocol and model exists)}}
//! comparison[]     {feature_set, model, library, protocol, training, uar, uar_ci_low, uar_ci_high,
//!                   accuracy, macro_f1, fit_seconds, predict_seconds, folds}   (one row per experiment)
//! privacy[]        {id, protocol, mechanism, epsilon | null (no DP), emotion_uar, attack_uar | null,
//!                   attack_chance | null, attack_round_uar | null, delta | null, noise_multiplier | null,
//!                   seconds_per_round | null, dp_seconds_per_round | null, secagg_seconds_per_round | null}
//!                   (one point per federated experiment run with `[privacy]`, from its `federated.privacy`)
//! ```
//! Optional fields may be missing in files written by other crates.
//!
//! # 95 % interval for UAR
//! Percentile bootstrap of the pooled test predictions, seeded from the
//! pipeline (`[report] seed`, one ChaCha8 stream per experiment id). For
//! speaker-independent protocols the resampling unit is the test actor (a
//! cluster bootstrap: clips of one speaker are not independent); for
//! speaker-dependent splits it is the clip, with all its predictions when
//! `[partition] repeats` tests it in several splits.
//!
//! # Federated minus centralized
//! `experiments[].federated.delta_uar` pairs a federated run with the
//! centralized run of the same protocol and model, matches their test
//! predictions by file, and bootstraps the UAR difference with the same
//! resampled units for both runs (clips, or test actors for
//! speaker-independent protocols), one stream per pair.
#![warn(unreachable_pub)]

mod doc;
mod plots;
mod render;

use std::collections::BTreeMap;
use std::path::Path;

use fedser_cache::table::{self, Column};
use fedser_core::metrics;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Recipe version of the report stage.
pub const VERSION: u32 = 5;
/// Version of the results.json layout.
pub const SCHEMA_VERSION: u32 = 5;

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
    /// A figure could not be drawn.
    #[error("cannot draw `{file}`: {message}")]
    Plot {
        /// The figure's file name.
        file: String,
        /// plotters' message.
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
    /// Feature set the model was trained on (`compare16`).
    #[serde(default)]
    pub feature_set: String,
    /// Unweighted average recall over all test predictions pooled.
    pub uar: f64,
    /// Bootstrap interval of `uar`.
    #[serde(default)]
    pub uar_ci: Option<Interval>,
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
    #[serde(default)]
    pub fold_seconds: Vec<f64>,
    /// Fit seconds summed over folds.
    #[serde(default)]
    pub fit_seconds: Option<f64>,
    /// Predict seconds summed over folds.
    #[serde(default)]
    pub predict_seconds: Option<f64>,
    /// Centralized logistic with `select_alpha`: per outer fold, the alpha
    /// chosen by inner cross-validation and every candidate's inner UAR
    /// (`{fold, alpha, inner_uar: [[alpha, uar], ...]}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alpha_selection: Vec<serde_json::Value>,
    /// Federated runs: test UAR per round.
    #[serde(default)]
    pub curve: Option<Curve>,
    /// Federated runs only: strategy, rounds, faults and the pooled learning curve.
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
    /// `[train.federated.select]`: per outer fold, the values chosen by
    /// federated inner validation and every candidate's inner UAR
    /// (`{fold, chosen {key: value}, candidates [{params, uar}]}`); empty without.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selection: Vec<serde_json::Value>,
    /// Federated minus centralized UAR on the same test clips, with a paired
    /// bootstrap interval (absent when no centralized run of the same
    /// protocol and model family exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta_uar: Option<PairedDelta>,
}

/// `UAR(federated) − UAR(centralized)` on the test clips both predicted
/// (matched by file), with a paired percentile bootstrap interval: every
/// resample draws the same units (clips, or test actors for
/// speaker-independent protocols) for both runs, so the interval is that of
/// the difference, not of two independent UARs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedDelta {
    /// The centralized experiment compared with.
    pub centralized: String,
    /// Test predictions matched between the two runs.
    pub paired: usize,
    /// UAR difference on the matched predictions.
    pub delta: f64,
    /// Paired bootstrap interval of `delta` (absent with 0 resamples).
    pub ci: Option<Interval>,
}

impl ExperimentResult {
    /// `model.name` (`"?"` when missing).
    #[must_use]
    pub fn model_name(&self) -> &str {
        self.model.get("name").and_then(|v| v.as_str()).unwrap_or("?")
    }
}

impl FederatedInfo {
    /// The learning curve in the report's [`Curve`] form (points without a
    /// round number or a UAR are left out).
    #[must_use]
    pub fn curve(&self) -> Option<Curve> {
        let (rounds, test_uar): (Vec<u32>, Vec<f64>) = self
            .learning_curve
            .iter()
            .filter_map(|p| {
                let round = u32::try_from(p.get("round")?.as_u64()?).ok()?;
                Some((round, p.get("uar")?.as_f64()?))
            })
            .unzip();
        (!rounds.is_empty()).then_some(Curve { rounds, test_uar })
    }
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// A federated run's learning curve: the global model's test UAR after each
/// round (round 0 = the initial model, if evaluated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Round numbers.
    pub rounds: Vec<u32>,
    /// Test UAR per round (same length as `rounds`).
    pub test_uar: Vec<f64>,
}

/// One point of the privacy–utility trade-off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacyResult {
    /// Run id.
    pub id: String,
    /// Protocol.
    #[serde(default)]
    pub protocol: String,
    /// DP mechanism / setting label (`dp-fedavg`, `secagg`).
    #[serde(default)]
    pub mechanism: String,
    /// Privacy budget; `None` = no differential privacy.
    pub epsilon: Option<f64>,
    /// Emotion UAR of the trained model.
    pub emotion_uar: f64,
    /// UAR of the attack (e.g. sex inference from updates), pooled over
    /// rounds; `None` = no attack run, or nothing to attack (SecAgg: the
    /// server sees only the sum).
    #[serde(default)]
    pub attack_uar: Option<f64>,
    /// The attack's chance level, if known.
    #[serde(default)]
    pub attack_chance: Option<f64>,
    /// Mean of the attack's per-round UAR.
    #[serde(default)]
    pub attack_round_uar: Option<f64>,
    /// δ of the (ε, δ) guarantee.
    #[serde(default)]
    pub delta: Option<f64>,
    /// Noise multiplier z.
    #[serde(default)]
    pub noise_multiplier: Option<f64>,
    /// Mean seconds per round of client training and aggregation.
    #[serde(default)]
    pub seconds_per_round: Option<f64>,
    /// Mean seconds per round in the DP server side.
    #[serde(default)]
    pub dp_seconds_per_round: Option<f64>,
    /// Mean seconds per round in secure aggregation.
    #[serde(default)]
    pub secagg_seconds_per_round: Option<f64>,
}

impl PrivacyResult {
    /// The privacy–utility point of a federated experiment run with
    /// `[privacy]` (its `federated.privacy` summary); `None` for runs
    /// without.
    #[must_use]
    pub fn from_experiment(e: &ExperimentResult) -> Option<Self> {
        let p = e.federated.as_ref()?.privacy.as_ref()?;
        let num = |v: &serde_json::Value| v.as_f64();
        let dp = p.get("dp").filter(|v| !v.is_null());
        let secagg = p.get("secagg").is_some_and(|v| !v.is_null());
        let z = dp.and_then(|d| num(&d["noise_multiplier"]));
        let mechanism = match (z.is_some_and(|z| z > 0.0), dp.is_some(), secagg) {
            (true, _, true) => "dp-fedavg + secagg",
            (true, _, false) => "dp-fedavg",
            (false, true, true) => "clip + secagg",
            (false, true, false) => "clip only",
            (false, false, true) => "secagg",
            (false, false, false) => "none",
        };
        let attack = p.get("attack").filter(|v| !v.is_null());
        Some(Self {
            id: e.id.clone(),
            protocol: e.protocol.clone(),
            mechanism: mechanism.to_owned(),
            epsilon: dp.and_then(|d| num(&d["epsilon"])),
            emotion_uar: e.uar,
            attack_uar: attack.and_then(|a| num(&a["pooled_uar"])),
            attack_chance: attack.and_then(|a| num(&a["chance"])),
            attack_round_uar: attack.and_then(|a| num(&a["mean_round_uar"])),
            delta: dp.and_then(|d| num(&d["delta"])),
            noise_multiplier: z,
            seconds_per_round: num(&p["fit_seconds_per_round"]),
            dp_seconds_per_round: num(&p["dp_seconds_per_round"]),
            secagg_seconds_per_round: num(&p["secagg_seconds_per_round"]),
        })
    }
}

/// One row of the classifier / feature-set comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparisonRow {
    /// Feature set.
    pub feature_set: String,
    /// Model name.
    pub model: String,
    /// Library.
    pub library: String,
    /// Protocol.
    pub protocol: String,
    /// Training.
    pub training: String,
    /// UAR.
    pub uar: f64,
    /// Bootstrap interval, low.
    pub uar_ci_low: Option<f64>,
    /// Bootstrap interval, high.
    pub uar_ci_high: Option<f64>,
    /// Accuracy.
    pub accuracy: f64,
    /// Macro-F1.
    pub macro_f1: f64,
    /// Fit seconds summed over folds.
    pub fit_seconds: Option<f64>,
    /// Predict seconds summed over folds.
    pub predict_seconds: Option<f64>,
    /// Folds.
    pub folds: usize,
}

/// Bootstrap settings (from `[report]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bootstrap {
    /// Resamples (0 = no interval).
    pub resamples: usize,
    /// Interval level (0.95).
    pub level: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for Bootstrap {
    fn default() -> Self {
        Self { resamples: 1000, level: 0.95, seed: 0 }
    }
}

/// A stage's last run, from the cache lock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTiming {
    /// Stage.
    pub stage: String,
    /// Seconds of its last run.
    pub seconds: f64,
    /// When it finished (Unix seconds).
    pub finished_unix: u64,
    /// Cache key (BLAKE3, hex).
    pub key: String,
}

/// Where the results come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Provenance {
    /// Pipeline file.
    pub pipeline: String,
    /// fedser version and git commit when known.
    pub code_version: String,
    /// Every seed of the pipeline by key (`synth.seed`).
    pub seeds: BTreeMap<String, u64>,
    /// Bootstrap settings.
    pub bootstrap: Option<Bootstrap>,
    /// Upstream stages' last runs.
    pub stages: Vec<StageTiming>,
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
    /// Provenance.
    #[serde(default)]
    pub provenance: Provenance,
    /// Experiments.
    pub experiments: Vec<ExperimentResult>,
    /// Comparison table (one row per experiment).
    #[serde(default)]
    pub comparison: Vec<ComparisonRow>,
    /// Privacy–utility points.
    #[serde(default)]
    pub privacy: Vec<PrivacyResult>,
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
    fit_seconds: Option<f64>,
    #[serde(default)]
    predict_seconds: Option<f64>,
    #[serde(default)]
    feature_set: Option<String>,
    #[serde(default)]
    alpha_selection: Vec<serde_json::Value>,
    #[serde(default)]
    curve: Option<Curve>,
    // Federated runs (the federate stage's flat fields).
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
    #[serde(default)]
    selection: Vec<serde_json::Value>,
}

/// One producer of experiments: its `experiments.json` and the predictions
/// table its ids refer to (`experiment, protocol, fold, file, actor, label,
/// pred`).
#[derive(Debug, Clone)]
pub struct Source<'a> {
    /// `predictions.parquet`.
    pub predictions: &'a Path,
    /// `experiments.json`.
    pub experiments: &'a Path,
}

/// Inputs of the report stage.
#[derive(Debug, Clone)]
pub struct ReportInputs<'a> {
    /// Experiment producers (train; later federate).
    pub sources: Vec<Source<'a>>,
    /// Privacy–utility points (empty until privacy runs exist).
    pub privacy: Vec<PrivacyResult>,
    /// Corpus figures.
    pub corpus: CorpusInfo,
    /// Feature figures.
    pub features: FeatureInfo,
    /// Actor -> sex (from the manifest).
    pub sex: BTreeMap<i32, Option<String>>,
    /// Pipeline file name.
    pub pipeline: String,
    /// Provenance (stage timings, seeds, code version).
    pub provenance: Provenance,
    /// Bootstrap settings.
    pub bootstrap: Bootstrap,
    /// Report title.
    pub title: String,
}

/// Computes the results and writes `results.json`, `comparison.parquet`,
/// `report.md`, `report.html` and the SVG figures into `out_dir`.
///
/// # Errors
/// [`ReportError`].
pub fn run(inputs: &ReportInputs<'_>, out_dir: &Path) -> Result<Results, ReportError> {
    let mut experiments = Vec::new();
    let mut pred_rows = Vec::new();
    for src in &inputs.sources {
        for (e, r) in read_source(inputs, src)? {
            experiments.push(e);
            pred_rows.push(r);
        }
    }
    pair_federated(&mut experiments, &pred_rows, &inputs.bootstrap);
    drop(pred_rows);
    let comparison = experiments
        .iter()
        .map(|e| ComparisonRow {
            feature_set: e.feature_set.clone(),
            model: e.model.get("name").and_then(|v| v.as_str()).unwrap_or("?").to_owned(),
            library: e.model.get("library").and_then(|v| v.as_str()).unwrap_or("").to_owned(),
            protocol: e.protocol.clone(),
            training: e.training.clone(),
            uar: e.uar,
            uar_ci_low: e.uar_ci.map(|c| c.low),
            uar_ci_high: e.uar_ci.map(|c| c.high),
            accuracy: e.accuracy,
            macro_f1: e.macro_f1,
            fit_seconds: e.fit_seconds,
            predict_seconds: e.predict_seconds,
            folds: e.folds,
        })
        .collect();
    let mut provenance = inputs.provenance.clone();
    provenance.bootstrap = Some(inputs.bootstrap);
    let results = Results {
        schema_version: SCHEMA_VERSION,
        fedser_version: env!("CARGO_PKG_VERSION").to_owned(),
        pipeline: inputs.pipeline.clone(),
        corpus: inputs.corpus.clone(),
        features: inputs.features.clone(),
        provenance,
        comparison,
        privacy: inputs
            .privacy
            .iter()
            .cloned()
            .chain(experiments.iter().filter_map(PrivacyResult::from_experiment))
            .collect(),
        experiments,
    };
    write_outputs(&results, &inputs.title, out_dir)?;
    Ok(results)
}

/// One test prediction of an experiment.
#[derive(Debug, Clone, PartialEq)]
struct PredRow {
    /// Outer fold (a clip is tested once per fold that holds it out:
    /// once per repeat of a repeated speaker-dependent split).
    fold: i32,
    file: String,
    actor: i32,
    /// True label.
    label: String,
    /// Predicted label.
    pred: String,
}

/// One resampling group per distinct clip, numbered in order of first
/// appearance: a clip tested in several repeated splits is drawn (or left
/// out) whole, and with one prediction per clip the groups are the rows.
fn clip_groups<'a>(files: impl Iterator<Item = &'a str>) -> Vec<i32> {
    let mut id: BTreeMap<&str, i32> = BTreeMap::new();
    files
        .map(|f| {
            let next = id.len() as i32;
            *id.entry(f).or_insert(next)
        })
        .collect()
}

fn read_source(
    inputs: &ReportInputs<'_>,
    src: &Source<'_>,
) -> Result<Vec<(ExperimentResult, Vec<PredRow>)>, ReportError> {
    let text = std::fs::read(src.experiments)
        .map_err(|e| ReportError::Json { path: src.experiments.to_path_buf(), message: e.to_string() })?;
    let metas: Vec<ExperimentMetaIn> = serde_json::from_slice(&text)
        .map_err(|e| ReportError::Json { path: src.experiments.to_path_buf(), message: e.to_string() })?;
    let p = src.predictions;
    let b = table::read_parquet(p, None)?;
    let exp = table::strings(p, &b, "experiment")?;
    let fold = table::ints(p, &b, "fold")?;
    let file = table::strings(p, &b, "file")?;
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
        let actors: Vec<i32> = rows.iter().map(|&i| actor[i].unwrap_or(0) as i32).collect();
        let confusion = metrics::confusion(&yt, &yp, labels.len());
        let s = metrics::scores(&confusion);
        let mut by_actor: BTreeMap<i32, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
        for (k, &a) in actors.iter().enumerate() {
            let e = by_actor.entry(a).or_default();
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
        let independent = fedser_core::Protocol::parse(&m.protocol).is_some_and(|p| p.speaker_independent());
        // units: actors when speakers are unseen, else clips
        let clips;
        let groups: &[i32] = if independent {
            &actors
        } else {
            clips = clip_groups(rows.iter().map(|&i| file[i].as_str()));
            &clips
        };
        let uar_ci = bootstrap_uar(&yt, &yp, groups, labels.len(), &inputs.bootstrap, &m.id);
        let federated = m.strategy.map(|strategy| FederatedInfo {
            strategy,
            rounds: m.rounds,
            clients: m.clients,
            skipped_rounds: m.skipped_rounds,
            rejected_updates: m.rejected_updates,
            rounds_table: m.rounds_table,
            learning_curve: m.learning_curve,
            privacy: m.privacy,
            selection: m.selection,
            delta_uar: None,
        });
        // The federate stage writes its pooled learning curve; the report's
        // plots and tables read `curve`.
        let curve = m.curve.or_else(|| federated.as_ref().and_then(FederatedInfo::curve));
        let pred_rows: Vec<PredRow> = rows
            .iter()
            .zip(&actors)
            .map(|(&i, &a)| PredRow {
                fold: fold[i].unwrap_or(0) as i32,
                file: file[i].clone(),
                actor: a,
                label: label[i].clone(),
                pred: pred[i].clone(),
            })
            .collect();
        experiments.push((
            ExperimentResult {
                id: m.id,
                protocol: m.protocol,
                training: m.training,
                model: m.model,
                feature_set: m.feature_set.unwrap_or_else(|| inputs.features.set.clone()),
                uar: s.uar,
                uar_ci,
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
                fit_seconds: m.fit_seconds,
                predict_seconds: m.predict_seconds,
                alpha_selection: m.alpha_selection,
                curve,
                federated,
            },
            pred_rows,
        ));
    }
    Ok(experiments)
}

/// Fills `federated.delta_uar` of every federated experiment from the first
/// centralized experiment of the same protocol and model name (the pairing
/// the report's federated-versus-centralized table uses).
fn pair_federated(experiments: &mut [ExperimentResult], rows: &[Vec<PredRow>], b: &Bootstrap) {
    for i in 0..experiments.len() {
        if experiments[i].training != "federated" {
            continue;
        }
        let Some(j) = experiments.iter().position(|c| {
            c.training == "centralized"
                && c.protocol == experiments[i].protocol
                && c.model_name() == experiments[i].model_name()
        }) else {
            continue;
        };
        let independent =
            fedser_core::Protocol::parse(&experiments[i].protocol).is_some_and(|p| p.speaker_independent());
        let id = format!("{} vs {}", experiments[i].id, experiments[j].id);
        let delta = paired_delta(&rows[i], &rows[j], independent, b, &id).map(|(paired, delta, ci)| PairedDelta {
            centralized: experiments[j].id.clone(),
            paired,
            delta,
            ci,
        });
        if let Some(f) = experiments[i].federated.as_mut() {
            f.delta_uar = delta;
        }
    }
}

/// `(matched predictions, UAR(a) − UAR(b), paired bootstrap interval)` over
/// the (fold, file) pairs both `a` and `b` predicted (`None` when none
/// match). Units are clips (all of a clip's folds together), or actors when
/// `by_actor`; the stream is seeded from `id`.
fn paired_delta(
    a: &[PredRow],
    b: &[PredRow],
    by_actor: bool,
    boot: &Bootstrap,
    id: &str,
) -> Option<(usize, f64, Option<Interval>)> {
    let k = fedser_core::codes::EMOTIONS.len();
    let code = |s: &str| fedser_core::codes::EMOTIONS.iter().position(|e| *e == s);
    let of_b: BTreeMap<(i32, &str), &PredRow> = b.iter().map(|r| ((r.fold, r.file.as_str()), r)).collect();
    // (actor, truth, a's prediction, b's prediction) and the file
    let mut m: Vec<(i32, usize, usize, usize)> = Vec::new();
    let mut files: Vec<&str> = Vec::new();
    for ra in a {
        let Some(rb) = of_b.get(&(ra.fold, ra.file.as_str())) else { continue };
        if let (Some(t), Some(pa), Some(pb)) = (code(&ra.label), code(&ra.pred), code(&rb.pred)) {
            m.push((ra.actor, t, pa, pb));
            files.push(&ra.file);
        }
    }
    if m.is_empty() {
        return None;
    }
    let diff = |idx: &mut dyn Iterator<Item = usize>| {
        let (mut ca, mut cb) = (vec![vec![0u64; k]; k], vec![vec![0u64; k]; k]);
        for i in idx {
            let (_, t, pa, pb) = m[i];
            ca[t][pa] += 1;
            cb[t][pb] += 1;
        }
        metrics::scores(&ca).uar - metrics::scores(&cb).uar
    };
    let delta = diff(&mut (0..m.len()));
    let groups: Vec<i32> = if by_actor { m.iter().map(|r| r.0).collect() } else { clip_groups(files.iter().copied()) };
    let units = resampling_units(&groups);
    Some((m.len(), delta, percentile_bootstrap(&units, boot, id, diff)))
}

/// The units a bootstrap resamples: the rows of each group id in `groups`
/// (one id per row), in id order.
fn resampling_units(groups: &[i32]) -> Vec<Vec<usize>> {
    let mut m: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (i, &a) in groups.iter().enumerate() {
        m.entry(a).or_default().push(i);
    }
    m.into_values().collect()
}

/// Percentile interval of `stat` over `b.resamples` resamples of `units`
/// (each draws `units.len()` units with replacement and hands `stat` their
/// rows), from the ChaCha8 stream of `b.seed` named by `stream`. `None`
/// with no resamples or no units.
fn percentile_bootstrap(
    units: &[Vec<usize>],
    b: &Bootstrap,
    stream: &str,
    mut stat: impl FnMut(&mut dyn Iterator<Item = usize>) -> f64,
) -> Option<Interval> {
    if b.resamples == 0 || units.is_empty() {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(b.seed);
    rng.set_stream(fnv(stream));
    let mut draw = Vec::with_capacity(units.len());
    let mut stats: Vec<f64> = (0..b.resamples)
        .map(|_| {
            draw.clear();
            draw.extend((0..units.len()).map(|_| rng.gen_range(0..units.len())));
            stat(&mut draw.iter().flat_map(|&u| units[u].iter().copied()))
        })
        .collect();
    stats.sort_by(f64::total_cmp);
    let alpha = (1.0 - b.level) / 2.0;
    Some(Interval { low: quantile(&stats, alpha), high: quantile(&stats, 1.0 - alpha) })
}

/// FNV-1a of a string: a stable per-experiment stream id.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Percentile bootstrap interval of the pooled UAR, resampling `groups`
/// (one id per prediction: actors, or clips). `None` when there is nothing
/// to resample.
fn bootstrap_uar(
    yt: &[usize],
    yp: &[usize],
    groups: &[i32],
    n_classes: usize,
    b: &Bootstrap,
    id: &str,
) -> Option<Interval> {
    let units = resampling_units(groups);
    percentile_bootstrap(&units, b, id, |rows| {
        let mut conf = vec![vec![0u64; n_classes]; n_classes];
        for i in rows {
            if yt[i] < n_classes && yp[i] < n_classes {
                conf[yt[i]][yp[i]] += 1;
            }
        }
        metrics::scores(&conf).uar
    })
}

/// Linear-interpolation quantile of sorted values (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
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

/// Writes results.json and comparison.parquet, then renders report.md,
/// report.html and the SVG figures from the JSON just written.
///
/// # Errors
/// [`ReportError`].
pub fn write_outputs(results: &Results, title: &str, out_dir: &Path) -> Result<(), ReportError> {
    let json_path = out_dir.join("results.json");
    let json = serde_json::to_vec_pretty(results)
        .map_err(|e| ReportError::Json { path: json_path.clone(), message: e.to_string() })?;
    fedser_cache::atomic_write(&json_path, &json)?;
    write_comparison(&results.comparison, &out_dir.join("comparison.parquet"))?;
    let reread: Results =
        serde_json::from_slice(&json).map_err(|e| ReportError::Json { path: json_path, message: e.to_string() })?;
    render(&reread, title, out_dir)
}

/// Renders report.md, report.html and the figures from a results.json file
/// (for results written or extended by other tools).
///
/// # Errors
/// [`ReportError`].
pub fn render_results_file(results_json: &Path, title: &str, out_dir: &Path) -> Result<(), ReportError> {
    let text = std::fs::read(results_json)
        .map_err(|e| ReportError::Json { path: results_json.to_path_buf(), message: e.to_string() })?;
    let r: Results = serde_json::from_slice(&text)
        .map_err(|e| ReportError::Json { path: results_json.to_path_buf(), message: e.to_string() })?;
    render(&r, title, out_dir)
}

fn render(r: &Results, title: &str, out_dir: &Path) -> Result<(), ReportError> {
    let blocks = render::blocks(r, title)?;
    for b in &blocks {
        if let doc::Block::Figure { file, svg, .. } = b {
            fedser_cache::atomic_write(&out_dir.join(file), svg.as_bytes())?;
        }
    }
    fedser_cache::atomic_write(&out_dir.join("report.md"), doc::markdown(&blocks).as_bytes())?;
    fedser_cache::atomic_write(&out_dir.join("report.html"), doc::html(title, &blocks).as_bytes())?;
    Ok(())
}

/// `comparison.parquet`: one row per experiment.
fn write_comparison(rows: &[ComparisonRow], path: &Path) -> Result<(), ReportError> {
    let f = |g: fn(&ComparisonRow) -> Option<f64>| Column::F64(rows.iter().map(|r| g(r).unwrap_or(f64::NAN)).collect());
    let b = table::batch(
        path,
        vec![
            ("feature_set".into(), Column::Str(rows.iter().map(|r| r.feature_set.clone()).collect())),
            ("model".into(), Column::Str(rows.iter().map(|r| r.model.clone()).collect())),
            ("library".into(), Column::Str(rows.iter().map(|r| r.library.clone()).collect())),
            ("protocol".into(), Column::Str(rows.iter().map(|r| r.protocol.clone()).collect())),
            ("training".into(), Column::Str(rows.iter().map(|r| r.training.clone()).collect())),
            ("uar".into(), f(|r| Some(r.uar))),
            ("uar_ci_low".into(), f(|r| r.uar_ci_low)),
            ("uar_ci_high".into(), f(|r| r.uar_ci_high)),
            ("accuracy".into(), f(|r| Some(r.accuracy))),
            ("macro_f1".into(), f(|r| Some(r.macro_f1))),
            ("fit_seconds".into(), f(|r| r.fit_seconds)),
            ("predict_seconds".into(), f(|r| r.predict_seconds)),
            ("folds".into(), Column::I32(rows.iter().map(|r| r.folds as i32).collect())),
        ],
    )?;
    table::write_parquet(path, &b, &[("fedser.stage", "report".to_owned())])?;
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

    #[test]
    fn quantile_interpolates_like_numpy() {
        // numpy.quantile([1, 2, 3, 4], 0.25) == 1.75
        assert!((quantile(&[1.0, 2.0, 3.0, 4.0], 0.25) - 1.75).abs() < 1e-12);
        assert_eq!(quantile(&[5.0], 0.9), 5.0);
    }

    /// 10 actors x 12 clips, 2 classes; actors 0..5 always right, 5..10
    /// always wrong: UAR 0.5, and clips of an actor are perfectly correlated.
    fn clustered() -> (Vec<usize>, Vec<usize>, Vec<i32>) {
        let (mut yt, mut yp, mut g) = (Vec::new(), Vec::new(), Vec::new());
        for a in 0..10 {
            for i in 0..12 {
                let t = i % 2;
                yt.push(t);
                yp.push(if a < 5 { t } else { 1 - t });
                g.push(a);
            }
        }
        (yt, yp, g)
    }

    #[test]
    fn bootstrap_is_seeded_and_cluster_aware() {
        let (yt, yp, g) = clustered();
        let b = Bootstrap { resamples: 400, level: 0.95, seed: 7 };
        let rows: Vec<i32> = (0..yt.len() as i32).collect();
        let clip = bootstrap_uar(&yt, &yp, &rows, 2, &b, "x").unwrap();
        let actor = bootstrap_uar(&yt, &yp, &g, 2, &b, "x").unwrap();
        assert!(clip.low < 0.5 && clip.high > 0.5, "{clip:?}");
        // Resampling 10 actors instead of 120 clips: a much wider interval.
        assert!(actor.high - actor.low > 2.0 * (clip.high - clip.low), "{actor:?} vs {clip:?}");
        assert_eq!(bootstrap_uar(&yt, &yp, &g, 2, &b, "x"), Some(actor));
        // Another seed or another experiment id draws other resamples.
        let other = |seed, id| bootstrap_uar(&yt, &yp, &rows, 2, &Bootstrap { resamples: 5, seed, ..b }, id);
        let draws: Vec<_> = [(7, "x"), (8, "x"), (7, "y")].iter().map(|&(s, id)| other(s, id)).collect();
        assert!(draws[0] != draws[1] && draws[0] != draws[2], "{draws:?}");
        assert_eq!(bootstrap_uar(&yt, &yp, &rows, 2, &Bootstrap { resamples: 0, ..b }, "x"), None);
    }

    /// 10 actors x 12 clips of ANG/SAD; `b` is right on the first 6 clips
    /// of every actor, `a` on those and on all 12 clips of actors 0 and 1.
    fn pair_rows() -> (Vec<PredRow>, Vec<PredRow>) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for actor in 0..10 {
            for i in 0..12 {
                let t = if i % 2 == 0 { "ANG" } else { "SAD" };
                let wrong = if i % 2 == 0 { "SAD" } else { "ANG" };
                let file = format!("{actor}_{i}.wav");
                let pb = if i < 6 { t } else { wrong };
                let pa = if i < 6 || actor < 2 { t } else { wrong };
                let row = |pred: &str| PredRow {
                    fold: 0,
                    file: file.clone(),
                    actor,
                    label: t.to_owned(),
                    pred: pred.to_owned(),
                };
                a.push(row(pa));
                b.push(row(pb));
            }
        }
        (a, b)
    }

    #[test]
    fn paired_delta_matches_files_and_resamples_both_runs_together() {
        let (mut a, mut b) = pair_rows();
        let boot = Bootstrap { resamples: 300, level: 0.95, seed: 3 };
        // by hand: b's UAR is 0.5 (3 of 6 right in each class); a adds 3
        // ANG and 3 SAD clips in each of 2 actors: recall 36/60 in both
        let want = 36.0 / 60.0 - 0.5;
        // rows only one run predicted are left out, in any order
        a.push(PredRow { fold: 0, file: "extra.wav".into(), actor: 99, label: "ANG".into(), pred: "ANG".into() });
        b.reverse();
        let (n, d, ci) = paired_delta(&a, &b, false, &boot, "p").unwrap();
        assert_eq!(n, 120);
        assert!((d - want).abs() < 1e-12, "{d} vs {want}");
        // a is never worse than b on any clip: every paired resample has
        // delta >= 0, which two independent intervals could not show
        let ci = ci.unwrap();
        assert!(ci.low >= 0.0 && ci.high > ci.low && ci.low <= d && d <= ci.high, "{ci:?}");
        // identical runs: exactly zero on every resample
        let (_, d0, ci0) = paired_delta(&b, &b, true, &boot, "p").unwrap();
        assert_eq!((d0, ci0.map(|c| (c.low, c.high))), (0.0, Some((0.0, 0.0))));
        // actors as units: the whole gain sits in 2 of 10 actors, so the
        // interval is wider than with clips as units
        let by_actor = paired_delta(&a, &b, true, &boot, "p").unwrap().2.unwrap();
        assert!(by_actor.high - by_actor.low > ci.high - ci.low, "{by_actor:?} vs {ci:?}");
        // seeded; no resamples, no interval; nothing matched, nothing
        assert_eq!(paired_delta(&a, &b, false, &boot, "p").unwrap().2, Some(ci));
        assert_eq!(paired_delta(&a, &b, false, &Bootstrap { resamples: 0, ..boot }, "p").unwrap().2, None);
        assert_eq!(paired_delta(&a[120..], &b, false, &boot, "p"), None);
    }

    #[test]
    fn repeated_splits_pair_by_fold_and_resample_whole_clips() {
        let (a, b) = pair_rows();
        let boot = Bootstrap { resamples: 300, level: 0.95, seed: 3 };
        let one = paired_delta(&a, &b, false, &boot, "p").unwrap();
        // the same clips tested again in a second split, predicted alike
        let twice = |rows: &[PredRow]| -> Vec<PredRow> {
            rows.iter().cloned().chain(rows.iter().map(|r| PredRow { fold: 1, ..r.clone() })).collect()
        };
        let (a2, b2) = (twice(&a), twice(&b));
        let two = paired_delta(&a2, &b2, false, &boot, "p").unwrap();
        assert_eq!(two.0, 240, "each (fold, file) pairs with its own fold");
        // a clip's two predictions are drawn together: no narrower interval
        // than one split gives (rows as units would shrink it by ~1/sqrt 2)
        assert_eq!((two.1, two.2), (one.1, one.2));
        // a centralized run with only fold 0 pairs with fold 0 alone, not
        // with fold 1's predictions of the same files
        assert_eq!(paired_delta(&a2, &b, false, &boot, "p").unwrap(), one);
        let mut b_other = b2.clone();
        for r in b_other.iter_mut().filter(|r| r.fold == 1) {
            r.pred = r.label.clone();
        }
        let mixed = paired_delta(&a2, &b_other, false, &boot, "p").unwrap();
        assert!(mixed.1 < one.1, "fold 1 compares with fold 1's (perfect) predictions: {mixed:?}");
        // the UAR interval clusters the same way
        let code = |s: &str| usize::from(s == "SAD");
        let (yt, yp): (Vec<usize>, Vec<usize>) = a.iter().map(|r| (code(&r.label), code(&r.pred))).unzip();
        let g1 = clip_groups(a.iter().map(|r| r.file.as_str()));
        let g2 = clip_groups(a2.iter().map(|r| r.file.as_str()));
        assert_eq!(g2[..120], g1[..]);
        assert_eq!(g2[120..], g1[..]);
        let (yt2, yp2) = (yt.repeat(2), yp.repeat(2));
        assert_eq!(bootstrap_uar(&yt2, &yp2, &g2, 2, &boot, "u"), bootstrap_uar(&yt, &yp, &g1, 2, &boot, "u"));
    }

    #[test]
    fn federated_runs_are_paired_with_the_centralized_run_of_their_protocol_and_model() {
        let v = synthetic(true, false);
        let mut ex: Vec<ExperimentResult> = serde_json::from_value(v["experiments"].clone()).unwrap();
        let (a, b) = pair_rows();
        // centralized logistic = b, centralized svm = a, federated = a
        let rows = vec![b.clone(), a.clone(), a];
        pair_federated(&mut ex, &rows, &Bootstrap { resamples: 50, level: 0.9, seed: 1 });
        let d = ex[2].federated.as_ref().unwrap().delta_uar.clone().unwrap();
        assert_eq!(d.centralized, "centralized-logistic-loso");
        assert_eq!(d.paired, 120);
        assert!(d.delta > 0.0 && d.ci.is_some(), "{d:?}");
        assert!(ex[0].federated.is_none() && ex[1].federated.is_none());
        // and the report's Δ column shows it with its interval
        let mut v = v;
        v["experiments"][2]["federated"]["delta_uar"] = serde_json::json!({"centralized": "centralized-logistic-loso", "paired": 20, "delta": -0.07,
                               "ci": {"low": -0.121, "high": -0.018}});
        let (md, _, _dir) = render_synthetic(&v);
        let fvc = section(&md, "## Federated versus centralized");
        assert!(fvc.contains("| **55.0** | -7.0 [-12.1, -1.8] |"), "{fvc}");
    }

    fn experiment(id: &str, protocol: &str, training: &str, model: &str, uar: f64) -> serde_json::Value {
        serde_json::json!({
            "id": id, "protocol": protocol, "training": training,
            "model": {"name": model, "library": "x", "params": {}},
            "feature_set": "compare16", "uar": uar, "uar_ci": {"low": uar - 0.05, "high": uar + 0.05},
            "accuracy": uar, "macro_f1": uar, "labels": ["ANG", "SAD"],
            "confusion": [[8, 2], [3, 7]],
            "per_actor": [{"actor": 1001, "sex": "Male", "n": 10, "uar": 0.6},
                          {"actor": 1002, "sex": "Female", "n": 10, "uar": 0.8}],
            "per_actor_uar": {"min": 0.6, "median": 0.7, "max": 0.8, "mean": 0.7, "std": 0.1},
            "folds": 2, "n_features": 10, "seconds": 1.0, "fold_seconds": [0.5, 0.5],
            "fit_seconds": 0.8, "predict_seconds": 0.1
        })
    }

    fn synthetic(federated: bool, privacy: bool) -> serde_json::Value {
        let mut ex = vec![
            experiment("centralized-logistic-loso", "loso", "centralized", "logistic", 0.62),
            experiment("centralized-svm-loso", "loso", "centralized", "svm", 0.58),
        ];
        if federated {
            let mut f = experiment("federated-fedavg-loso", "loso", "federated", "logistic", 0.55);
            f["curve"] = serde_json::json!({"rounds": [0, 1, 2, 3], "test_uar": [0.17, 0.4, 0.5, 0.55]});
            f["federated"] = serde_json::json!({"strategy": "fedavg", "rounds": 3, "clients": [1, 1],
                "skipped_rounds": 1, "rejected_updates": 4, "rounds_table": "rounds/federated-fedavg-loso.parquet",
                "learning_curve": []});
            ex.push(f);
        }
        let pr = if privacy {
            serde_json::json!([
                {"id": "dp-1", "protocol": "loso", "mechanism": "dp-fedavg", "epsilon": 1.0,
                 "emotion_uar": 0.31, "attack_uar": 0.52, "attack_chance": 0.5},
                {"id": "dp-8", "protocol": "loso", "mechanism": "dp-fedavg", "epsilon": 8.0,
                 "emotion_uar": 0.49, "attack_uar": 0.61},
                {"id": "nodp", "protocol": "loso", "mechanism": "fedavg", "epsilon": null,
                 "emotion_uar": 0.55, "attack_uar": 0.83}
            ])
        } else {
            serde_json::json!([])
        };
        serde_json::json!({
            "schema_version": 2, "fedser_version": "0.1.0", "pipeline": "p.toml",
            "corpus": {"name": "synthetic", "clips": 20, "actors": 2, "rejected": 0, "audio_hours": 0.01,
                       "by_emotion": {"ANG": 10, "SAD": 10}, "by_sex": {"Female": 10, "Male": 10}, "rejects": []},
            "features": {"set": "compare16", "count": 10, "reference_count": 6373},
            "experiments": ex,
            "comparison": [],
            "privacy": pr
        })
    }

    fn render_synthetic(v: &serde_json::Value) -> (String, String, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("results.json");
        std::fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
        render_results_file(&p, "T", dir.path()).unwrap();
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        (md, html, dir)
    }

    fn section<'a>(md: &'a str, heading: &str) -> &'a str {
        let start = md.find(heading).unwrap_or_else(|| panic!("no section {heading}"));
        let rest = &md[start + heading.len()..];
        &rest[..rest.find("\n## ").unwrap_or(rest.len())]
    }

    #[test]
    fn federated_and_privacy_sections_render_from_results_json() {
        let (md, html, dir) = render_synthetic(&synthetic(true, true));
        let curves = section(&md, "## Learning curves (federated)");
        assert!(curves.contains("curve_loso.svg") && curves.contains("federated-fedavg-loso"), "{curves}");
        // final UAR 55.0, best 55.0, centralized (first of the protocol) 62.0
        assert!(curves.contains("| federated-fedavg-loso | 3 | 55.0 | 55.0 | 62.0 |"), "{curves}");
        let svg = std::fs::read_to_string(dir.path().join("curve_loso.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("centralized-logistic-loso"), "centralized line labelled");
        let privacy = section(&md, "## Privacy–utility");
        assert!(
            privacy.contains("| nodp | loso | fedavg | – | ∞ (no DP) | – | 55.0 | 83.0 | – | – | – | – |"),
            "{privacy}"
        );
        assert!(privacy.find("dp-1").unwrap() < privacy.find("dp-8").unwrap(), "sorted by epsilon");
        assert!(dir.path().join("privacy_loso.svg").exists());
        let conf = section(&md, "## Confusion matrices");
        assert!(conf.contains("confusion_federated-fedavg-loso.svg"), "{conf}");
        // Against the centralized run of the same protocol and model family (logistic, 62.0): Δ = 55 - 62.
        let fvc = section(&md, "## Federated versus centralized");
        assert!(
            fvc.contains(
                "| loso | 62.0 | federated-fedavg-loso | fedavg | 3 | **55.0** | -7.0 | 55.0 | 55.0 | 1 | 4 |"
            ),
            "{fvc}"
        );
        // The HTML is self-contained: figures inline, nothing fetched.
        assert_eq!(html.matches("<figure>").count(), md.matches("![").count());
        assert!(!html.contains("<img") && !html.contains("<script") && !html.contains("<link"), "self-contained");
    }

    #[test]
    fn federated_privacy_summary_becomes_a_privacy_point() {
        let mut e: ExperimentResult =
            serde_json::from_value(experiment("federated-fedavg-sd", "sd", "federated", "logistic", 0.4)).unwrap();
        assert_eq!(PrivacyResult::from_experiment(&e), None, "not federated");
        let info = |privacy: serde_json::Value| FederatedInfo {
            strategy: "fedavg".into(),
            rounds: 3,
            clients: vec![4],
            skipped_rounds: 0,
            rejected_updates: 0,
            rounds_table: String::new(),
            learning_curve: Vec::new(),
            privacy: Some(privacy),
            selection: Vec::new(),
            delta_uar: None,
        };
        e.federated = Some(info(serde_json::json!({
            "params": {}, "secagg": null,
            "dp": {"epsilon": 7.49, "delta": 1e-3, "noise_multiplier": 3.0, "rounds": 3},
            "attack": {"chance": 0.5, "pooled_uar": 0.61, "mean_round_uar": 0.57},
            "fit_seconds_per_round": 0.2, "dp_seconds_per_round": 0.01, "secagg_seconds_per_round": 0.0
        })));
        let p = PrivacyResult::from_experiment(&e).unwrap();
        assert_eq!(p.mechanism, "dp-fedavg");
        assert_eq!((p.epsilon, p.delta, p.noise_multiplier), (Some(7.49), Some(1e-3), Some(3.0)));
        assert_eq!((p.attack_uar, p.attack_round_uar, p.attack_chance), (Some(0.61), Some(0.57), Some(0.5)));
        assert!((p.emotion_uar - 0.4).abs() < 1e-12 && p.seconds_per_round == Some(0.2));
        // SecAgg without DP: no epsilon, and the attack has nothing to observe.
        e.federated = Some(info(serde_json::json!({
            "params": {}, "dp": null, "secagg": {"bits": 16},
            "attack": {"chance": 0.5, "pooled_uar": null, "mean_round_uar": null},
            "fit_seconds_per_round": 0.2, "dp_seconds_per_round": 0.0, "secagg_seconds_per_round": 8.7
        })));
        let p = PrivacyResult::from_experiment(&e).unwrap();
        assert_eq!((p.mechanism.as_str(), p.epsilon, p.attack_uar), ("secagg", None, None));
        assert_eq!(p.secagg_seconds_per_round, Some(8.7));
    }

    #[test]
    fn federate_learning_curve_becomes_the_report_curve() {
        let info: FederatedInfo = serde_json::from_value(serde_json::json!({
            "strategy": "fedavg", "rounds": 2, "clients": [3], "skipped_rounds": 0, "rejected_updates": 0,
            "rounds_table": "rounds/x.parquet",
            "learning_curve": [
                {"round": 0, "uar": 0.2, "accuracy": 0.2, "train_loss": null, "accepted": 0, "skipped_folds": 0},
                {"round": 1, "uar": null, "accuracy": 0.3, "train_loss": 1.0, "accepted": 3, "skipped_folds": 1},
                {"round": 2, "uar": 0.45, "accuracy": 0.5, "train_loss": 0.8, "accepted": 3, "skipped_folds": 0}
            ]
        }))
        .unwrap();
        // The point without a UAR is left out rather than drawn as 0.
        assert_eq!(info.curve(), Some(Curve { rounds: vec![0, 2], test_uar: vec![0.2, 0.45] }));
        assert_eq!(FederatedInfo { learning_curve: Vec::new(), ..info }.curve(), None);
    }

    #[test]
    fn federated_selection_is_kept_and_summarised() {
        let sel = serde_json::json!([
            {"fold": 0, "chosen": {"local.lr": 0.01, "local.l2": 0.2},
             "candidates": [{"params": {"local.lr": 0.01, "local.l2": 0.2}, "uar": 0.5},
                            {"params": {"local.lr": 0.03, "local.l2": 0.2}, "uar": 0.4}]},
            {"fold": 1, "chosen": {"local.lr": 0.03, "local.l2": 0.2}, "candidates": []},
            {"fold": 2, "chosen": {"local.lr": 0.01, "local.l2": 0.2}, "candidates": []}
        ]);
        let info: FederatedInfo = serde_json::from_value(serde_json::json!({
            "strategy": "fedavg", "rounds": 2, "clients": [3], "skipped_rounds": 0, "rejected_updates": 0,
            "rounds_table": "rounds/x.parquet", "learning_curve": [], "selection": sel
        }))
        .unwrap();
        assert_eq!(info.selection.len(), 3);
        let back = serde_json::to_value(&info).unwrap();
        assert_eq!(back["selection"], sel, "results.json keeps every fold's choice");
        assert!(serde_json::to_value(FederatedInfo { selection: Vec::new(), ..info.clone() })
            .unwrap()
            .get("selection")
            .is_none());
        assert_eq!(
            render::selection_sentence("federated-fedavg-loso", &info.selection),
            "`federated-fedavg-loso`: hyperparameters chosen per fold by federated inner validation on the fold's \
             training clients only (2 candidates): local.l2 0.2, local.lr 0.01 in 2 of 3; local.l2 0.2, local.lr 0.03 \
             in 1 of 3."
        );
    }

    #[test]
    fn sections_without_data_say_so() {
        let (md, _, _) = render_synthetic(&synthetic(false, false));
        assert!(section(&md, "## Learning curves (federated)").contains("No data"), "{md}");
        assert!(section(&md, "## Privacy–utility").contains("No data"), "{md}");
        assert!(section(&md, "### federated").contains("No data"), "{md}");
        assert!(section(&md, "## Federated versus centralized").contains("No data"), "{md}");
        assert!(section(&md, "## Classifier and feature-set comparison").contains("No comparison"), "{md}");
        assert!(section(&md, "## Provenance").contains("Stage timings: no data"), "{md}");
    }
}
