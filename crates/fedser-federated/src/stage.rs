//! The `federate` pipeline stage: every protocol and fold of the partition
//! table, one client per training actor.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use fedser_cache::table::{self, Column};
use fedser_core::{metrics, Protocol, Training};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{load_features, load_partition, write_predictions, ExperimentCore, Fold, Prediction};
use crate::hooks::Hooks;
use crate::model::Shape;
use crate::params::FederatedParams;
use crate::privacy::FoldOut;
use crate::select::Selection;
use crate::server::{simulate, Federation, RoundRecord, SimConfig, SimOutcome};
use crate::stats::{combine, ClientStats};
use crate::{strategy, FedError};
use fedser_privacy::PrivacyParams;

/// One point of an experiment's learning curve: the global models of all
/// folds after `round`, their test predictions pooled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Round (0 = initial model).
    pub round: u32,
    /// Pooled test UAR.
    pub uar: f64,
    /// Pooled test accuracy.
    pub accuracy: f64,
    /// Mean over folds of the example-weighted local training loss (null in round 0).
    pub train_loss: Option<f64>,
    /// Accepted updates summed over folds.
    pub accepted: usize,
    /// Folds in which this round was skipped.
    pub skipped_folds: usize,
}

/// One federated experiment in `experiments.json` (the fields of
/// `fedser-train`'s entries plus the federated ones).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FedExperimentMeta {
    /// Id, protocol, model, folds and timings (as in the train stage's entries).
    #[serde(flatten)]
    pub core: ExperimentCore,
    /// Strategy name.
    pub strategy: String,
    /// Rounds run.
    pub rounds: u32,
    /// Clients per fold (training actors).
    pub clients: Vec<usize>,
    /// Rounds skipped (summed over folds).
    pub skipped_rounds: usize,
    /// Updates rejected (summed over folds and rounds).
    pub rejected_updates: usize,
    /// Pooled learning curve, rounds 0..=R.
    pub learning_curve: Vec<CurvePoint>,
    /// The per-round table, relative to the stage folder.
    pub rounds_table: String,
    /// Privacy of the run (`[privacy]`): ε, SecAgg, attack, costs; absent without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<crate::privacy::PrivacySummary>,
    /// `[train.federated.select]`: per outer fold, the chosen values and
    /// every candidate's inner validation UAR; empty without.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selection: Vec<Selection>,
}

/// Column-wise mean/std of all rows, applied in place. This is a numerical
/// reparametrisation only: every fold standardises again with its own
/// federated statistics, folded exactly into the first layer, so the model
/// is the one trained on the fold's federated-standardised data; starting
/// from roughly unit-scale columns keeps that fold numerically exact in f32.
pub fn precondition(x: &mut [f32], d: usize) {
    let n = x.len().checked_div(d).unwrap_or(0);
    let all: Vec<usize> = (0..n).collect();
    let st = combine(&[ClientStats::of(x, d, &all)], d);
    for row in x.chunks_mut(d.max(1)) {
        for ((v, &m), &s) in row.iter_mut().zip(&st.mean).zip(&st.scale) {
            *v = (*v - m) / s;
        }
    }
}

/// The federation of one fold: its training actors as clients (each with
/// its rows), the server's test rows, and the federated standardisation of
/// the clients' statistics.
#[must_use]
pub fn fold_federation<'a>(
    shape: Shape,
    x: &'a [f32],
    labels: &'a [usize],
    actors: &[i32],
    fold: &'a Fold,
) -> Federation<'a> {
    let clients = clients_of(fold, actors);
    let stats: Vec<ClientStats> = clients.iter().map(|(_, rows)| ClientStats::of(x, shape.d, rows)).collect();
    Federation { shape, x: x.into(), y: labels, standardizer: combine(&stats, shape.d), test: &fold.test, clients }
}

/// The clients of a fold: its training rows grouped by actor, ascending.
#[must_use]
pub fn clients_of(fold: &Fold, actors: &[i32]) -> Vec<(i32, Vec<usize>)> {
    let mut by: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for &r in &fold.train {
        by.entry(actors[r]).or_default().push(r);
    }
    by.into_iter().collect()
}

/// Trains every protocol of the partition federatedly and writes
/// `predictions.parquet`, `experiments.json` and `rounds/<id>.parquet` into
/// `out_dir`.
///
/// # Errors
/// [`FedError`].
pub fn run(
    params: &FederatedParams,
    features: &Path,
    partition: &Path,
    out_dir: &Path,
    meta: &[(&str, String)],
) -> Result<Vec<FedExperimentMeta>, FedError> {
    run_private(params, &PrivacyParams::default(), features, partition, None, out_dir, meta)
}

/// [`run`] with `[privacy]`: one experiment per setting of
/// [`crate::privacy::settings`] and protocol; `manifest` (the ingest
/// manifest) gives the attacked attribute.
///
/// # Errors
/// [`FedError`].
#[allow(clippy::too_many_lines, reason = "the stage's one loop")]
pub fn run_private(
    params: &FederatedParams,
    privacy: &PrivacyParams,
    features: &Path,
    partition: &Path,
    manifest: Option<&Path>,
    out_dir: &Path,
    meta: &[(&str, String)],
) -> Result<Vec<FedExperimentMeta>, FedError> {
    let mut fm = load_features(features)?;
    let folds = load_partition(partition, &fm)?;
    let d = fm.x.ncols();
    let shape = Shape { arch: params.arch(), d, k: fm.classes.len() };
    let x = fm.x.as_slice_mut().ok_or_else(|| FedError::Data {
        path: features.to_path_buf(),
        message: "feature matrix is not contiguous".into(),
    })?;
    precondition(x, d);
    let x: &[f32] = x;
    let mut protocols: Vec<Protocol> = folds.iter().map(|f| f.protocol).collect();
    protocols.dedup();
    // the rounds folder holds only this run's tables
    let rounds_dir = out_dir.join("rounds");
    if rounds_dir.exists() {
        std::fs::remove_dir_all(&rounds_dir).map_err(|e| fedser_cache::CacheError::Io {
            op: "cannot remove",
            path: rounds_dir.clone(),
            source: e,
        })?;
    }
    fedser_cache::atomic_write(&rounds_dir.join(".keep"), b"")?;
    let mut metas = Vec::new();
    let mut preds: Vec<Prediction> = Vec::new();
    let base_params = params;
    for (protocol, (suffix, pp)) in
        protocols.iter().flat_map(|p| crate::privacy::settings(privacy).into_iter().map(move |s| (*p, s)))
    {
        let private = pp.dp.is_some() || pp.secagg.is_some();
        // DP's sensitivity and SecAgg's plain sum assume equal client weights;
        // a DP sweep's no-DP baseline uses them too, so that the sweep's
        // utility loss is the noise's alone
        let owned = FederatedParams { weighting: crate::Weighting::Equal, ..base_params.clone() };
        let params = if private || privacy.dp.is_some() { &owned } else { base_params };
        let name = params.strategy.name();
        let id = format!("federated-{name}-{}-{}{suffix}", shape_name(params), protocol.as_str());
        let t0 = Instant::now();
        let these: Vec<&Fold> = folds.iter().filter(|f| f.protocol == protocol).collect();
        let first_fold = these.iter().map(|f| f.fold).min();
        #[allow(clippy::type_complexity, reason = "one fold's results, used right below")]
        let outcomes: Vec<Result<(SimOutcome, usize, f64, Option<FoldOut>, Option<Selection>), FedError>> = these
            .par_iter()
            .map(|f| {
                let t = Instant::now();
                let fed = fold_federation(shape, x, &fm.labels, &fm.actors, f);
                let clients = &fed.clients;
                let ids: Vec<i32> = clients.iter().map(|c| c.0).collect();
                let attr = match (&pp.attack, manifest, &pp.secagg) {
                    (Some(a), Some(m), None) if Some(f.fold) == first_fold => {
                        Some(crate::privacy::attribute_of(m, &a.attribute, &ids)?)
                    }
                    _ => None,
                };
                let sizes: Vec<(i32, usize)> = clients.iter().map(|(c, r)| (*c, r.len())).collect();
                let m =
                    ((params.fraction * sizes.len() as f64).ceil() as usize).max(params.min_clients).min(sizes.len());
                let fp = crate::privacy::FoldPrivacy::new(
                    &pp,
                    &sizes,
                    m,
                    params.rounds,
                    params.seed,
                    stream_of(protocol, f.fold),
                    params.faults.dropout,
                    attr.clone(),
                )
                .map_err(|e| FedError::Fold {
                    experiment: id.clone(),
                    fold: f.fold,
                    source: Box::new(e),
                })?;
                let fold_err = |e| FedError::Fold { experiment: id.clone(), fold: f.fold, source: Box::new(e) };
                // selection is off under DP/SecAgg (the pipeline rejects the combination)
                let chosen = if params.select.is_off() || private {
                    None
                } else {
                    crate::select::select(params, shape, x, &fm.labels, &fm.actors, f, stream_of(protocol, f.fold))
                        .map_err(fold_err)?
                };
                let (params, selection) = match &chosen {
                    Some((p, s)) => (p, Some(s.clone())),
                    None => (params, None),
                };
                let mut strat = strategy::from_params(params);
                let cfg = SimConfig {
                    rounds: params.rounds,
                    seed: params.seed,
                    stream: stream_of(protocol, f.fold),
                    faults: params.faults.clone(),
                    max_update_norm: params.max_update_norm,
                    final_eval_only: false,
                };
                let n_clients = fed.clients.len();
                let hooks = if private || attr.is_some() { fp.hooks() } else { Hooks::default() };
                let out = simulate(&fed, strat.as_mut(), &cfg, hooks).map_err(fold_err)?;
                let attacked = fp.attacked();
                let (log, clip, report) = fp.finish(attr.as_ref()).map_err(fold_err)?;
                let q = m as f64 / n_clients.max(1) as f64;
                let fo = FoldOut { log, clip, report, attacked, q, m };
                Ok((out, n_clients, t.elapsed().as_secs_f64(), Some(fo), selection))
            })
            .collect();
        let mut fold_seconds = Vec::new();
        let mut clients = Vec::new();
        let mut n_train = 0;
        let mut histories: Vec<(i32, Vec<RoundRecord>)> = Vec::new();
        let mut fold_outs: Vec<(i32, FoldOut)> = Vec::new();
        let mut selection = Vec::new();
        for (f, r) in these.iter().zip(outcomes) {
            let (out, n_clients, secs, fo, sel) = r?;
            selection.extend(sel);
            if let Some(fo) = fo {
                fold_outs.push((f.fold, fo));
            }
            fold_seconds.push(secs);
            clients.push(n_clients);
            n_train += f.train.len();
            for (&row, &p) in f.test.iter().zip(&out.test_pred) {
                preds.push(Prediction { experiment: id.clone(), protocol, fold: f.fold, row, pred: p });
            }
            histories.push((f.fold, out.history));
        }
        let seconds = t0.elapsed().as_secs_f64();
        let curve = learning_curve(&histories, shape.k);
        let skipped_rounds = histories.iter().flat_map(|(_, h)| h).filter(|r| r.skipped).count();
        let rejected_updates = histories.iter().flat_map(|(_, h)| h).map(|r| r.rejected).sum();
        let rounds_table = format!("rounds/{id}.parquet");
        write_rounds(&out_dir.join(&rounds_table), &id, protocol, &histories, meta)?;
        let privacy_summary = if private || pp.attack.is_some() {
            let t = format!("rounds/{id}.privacy.parquet");
            crate::privacy::write_privacy_rounds(&out_dir.join(&t), &id, &fold_outs, meta)?;
            Some(crate::privacy::summarise(&pp, params.rounds, &histories, &fold_outs)?)
        } else {
            None
        };
        tracing::info!(
            "{id}: {} folds x {} rounds in {seconds:.2} s, final pooled UAR {:.4}",
            these.len(),
            params.rounds,
            curve.last().map_or(f64::NAN, |c| c.uar)
        );
        metas.push(FedExperimentMeta {
            core: ExperimentCore {
                id,
                protocol,
                training: Training::Federated,
                model: params.describe(),
                folds: these.len(),
                n_features: fm.names.len(),
                n_train,
                seconds,
                fold_seconds,
            },
            strategy: name.to_owned(),
            rounds: params.rounds,
            clients,
            skipped_rounds,
            rejected_updates,
            learning_curve: curve,
            rounds_table,
            privacy: privacy_summary,
            selection,
        });
    }
    write_predictions(out_dir, &[(&fm, &preds)], &metas, meta)?;
    Ok(metas)
}

fn shape_name(p: &FederatedParams) -> String {
    match p.arch() {
        crate::Arch::Logistic => "logistic".into(),
        crate::Arch::Mlp { hidden } => format!("mlp{hidden}"),
    }
}

/// Independent random streams per protocol and fold.
fn stream_of(protocol: Protocol, fold: i32) -> u64 {
    let p = Protocol::ALL.iter().position(|x| *x == protocol).unwrap_or(0) as u64;
    (p << 32) | u64::from(fold as u32)
}

/// Pools the folds' confusion matrices round by round.
fn learning_curve(histories: &[(i32, Vec<RoundRecord>)], k: usize) -> Vec<CurvePoint> {
    let rounds = histories.iter().map(|(_, h)| h.len()).min().unwrap_or(0);
    (0..rounds)
        .map(|r| {
            let mut conf = vec![vec![0u64; k]; k];
            let mut losses = Vec::new();
            let (mut accepted, mut skipped) = (0, 0);
            for (_, h) in histories {
                let rec = &h[r];
                for (row, src) in conf.iter_mut().zip(&rec.confusion) {
                    for (c, s) in row.iter_mut().zip(src) {
                        *c += s;
                    }
                }
                if rec.train_loss.is_finite() {
                    losses.push(rec.train_loss);
                }
                accepted += rec.accepted;
                skipped += usize::from(rec.skipped);
            }
            let s = metrics::scores(&conf);
            CurvePoint {
                round: r as u32,
                uar: s.uar,
                accuracy: s.accuracy,
                train_loss: (!losses.is_empty()).then(|| losses.iter().sum::<f64>() / losses.len() as f64),
                accepted,
                skipped_folds: skipped,
            }
        })
        .collect()
}

fn write_rounds(
    path: &Path,
    id: &str,
    protocol: Protocol,
    histories: &[(i32, Vec<RoundRecord>)],
    meta: &[(&str, String)],
) -> Result<(), FedError> {
    let rows: Vec<(i32, &RoundRecord)> = histories.iter().flat_map(|(f, h)| h.iter().map(move |r| (*f, r))).collect();
    let u = |g: fn(&RoundRecord) -> usize| Column::I32(rows.iter().map(|(_, r)| g(r) as i32).collect());
    let b = table::batch(
        path,
        vec![
            ("experiment".into(), Column::Str(rows.iter().map(|_| id.to_owned()).collect())),
            ("protocol".into(), Column::Str(rows.iter().map(|_| protocol.as_str().to_owned()).collect())),
            ("fold".into(), Column::I32(rows.iter().map(|(f, _)| *f).collect())),
            ("round".into(), Column::I32(rows.iter().map(|(_, r)| r.round as i32).collect())),
            ("sampled".into(), u(|r| r.sampled)),
            ("reported".into(), u(|r| r.reported)),
            ("accepted".into(), u(|r| r.accepted)),
            ("rejected".into(), u(|r| r.rejected)),
            ("dropped".into(), u(|r| r.dropped)),
            ("stragglers".into(), u(|r| r.stragglers)),
            ("skipped".into(), Column::Bool(rows.iter().map(|(_, r)| r.skipped).collect())),
            ("train_loss".into(), Column::F64(rows.iter().map(|(_, r)| r.train_loss).collect())),
            ("test_uar".into(), Column::F64(rows.iter().map(|(_, r)| r.test_uar).collect())),
            ("test_accuracy".into(), Column::F64(rows.iter().map(|(_, r)| r.test_accuracy).collect())),
            ("bytes_up".into(), Column::U64(rows.iter().map(|(_, r)| r.bytes_up).collect())),
            ("bytes_down".into(), Column::U64(rows.iter().map(|(_, r)| r.bytes_down).collect())),
            ("failures".into(), Column::Str(rows.iter().map(|(_, r)| r.failures.clone()).collect())),
            ("fit_seconds".into(), Column::F64(rows.iter().map(|(_, r)| r.fit_seconds).collect())),
            ("eval_seconds".into(), Column::F64(rows.iter().map(|(_, r)| r.eval_seconds).collect())),
        ],
    )?;
    table::write_parquet(path, &b, meta)?;
    Ok(())
}
