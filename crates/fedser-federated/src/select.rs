//! `[train.federated.select]`: hyperparameters chosen per outer fold by
//! federated inner validation, the federated counterpart of the centralized
//! baseline's nested `select_alpha`.
//!
//! For every candidate of the grid, the fold's federation is run for the
//! configured rounds on each inner split and scored on that split's
//! validation rows. Under a speaker-dependent protocol every client splits
//! its own training clips (stratified by emotion, seeded per client), so the
//! validation clips stay on their clients and only confusion counts reach
//! the server; under a speaker-independent one whole clients are held out.
//! The candidate with the highest pooled validation UAR after the last round
//! is used for the outer run. The outer test rows are never seen.

use std::collections::BTreeMap;

use fedser_core::{check, metrics, ParamError, Protocol};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::data::Fold;
use crate::hooks::Hooks;
use crate::model::Shape;
use crate::params::FederatedParams;
use crate::server::{simulate, SimConfig};
use crate::stage::fold_federation;
use crate::{strategy, FedError};

/// Keys a grid may vary (dotted as in the pipeline file).
pub const SELECTABLE: [&str; 9] = [
    "local.lr",
    "local.lr_decay",
    "local.momentum",
    "local.l2",
    "local.epochs",
    "local.batch_size",
    "server.lr",
    "server.eta",
    "mu",
];

/// Most candidates a grid may have (each costs `inner_folds` federated runs per fold).
pub const MAX_CANDIDATES: usize = 64;

/// `[train.federated.select]`.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `grid` | `{}` (no selection) | candidate values per key of [`SELECTABLE`], e.g. `"local.lr" = [0.01, 0.03]`; the candidates are the grid's product | at most 64 |
/// | `inner_folds` | `3` | inner splits: of every client's clips (speaker-dependent) or of clients (speaker-independent) | `2..=10` |
/// | `seed` | `1` | the inner splits | |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelectParams {
    /// Candidate values per key.
    pub grid: BTreeMap<String, Vec<f64>>,
    /// Inner splits.
    pub inner_folds: usize,
    /// Seed of the inner splits.
    pub seed: u64,
}

impl Default for SelectParams {
    fn default() -> Self {
        Self { grid: BTreeMap::new(), inner_folds: 3, seed: 1 }
    }
}

impl SelectParams {
    /// No grid: no selection.
    #[must_use]
    pub fn is_off(&self) -> bool {
        self.grid.is_empty()
    }

    /// The grid's candidates in a fixed order: keys ascending, each key's
    /// values as listed, the last key varying fastest.
    #[must_use]
    pub fn candidates(&self) -> Vec<Vec<(String, f64)>> {
        let mut out: Vec<Vec<(String, f64)>> = vec![Vec::new()];
        for (k, vs) in &self.grid {
            out = out
                .into_iter()
                .flat_map(|c| {
                    vs.iter().map(move |&v| {
                        let mut c = c.clone();
                        c.push((k.clone(), v));
                        c
                    })
                })
                .collect();
        }
        if self.grid.is_empty() {
            Vec::new()
        } else {
            out
        }
    }

    /// Checks the keys, the size of the grid and that every candidate is a
    /// valid `[train.federated]` when applied to `base`.
    ///
    /// # Errors
    /// The first [`ParamError`], naming the key.
    pub fn validate(&self, base: &FederatedParams) -> Result<(), ParamError> {
        check((2..=10).contains(&self.inner_folds), "train.federated.select.inner_folds", || {
            format!("{} is out of range: must be in 2..=10", self.inner_folds)
        })?;
        let mut n = 1usize;
        for (k, vs) in &self.grid {
            let key = format!("train.federated.select.grid.\"{k}\"");
            check(SELECTABLE.contains(&k.as_str()), &key, || {
                format!("unknown key: selectable are {}", SELECTABLE.join(", "))
            })?;
            check(!vs.is_empty(), &key, || "lists no values".to_owned())?;
            n = n.saturating_mul(vs.len());
            for &v in vs {
                let mut p = base.clone();
                p.select = SelectParams::default();
                apply(&mut p, k, v).map_err(|m| ParamError::new(&key, m))?;
                p.validate().map_err(|e| ParamError::new(&key, format!("{v}: {e}")))?;
            }
        }
        check(n <= MAX_CANDIDATES, "train.federated.select.grid", || {
            format!("{n} candidates: at most {MAX_CANDIDATES} (each costs inner_folds runs per fold)")
        })
    }
}

/// Sets one [`SELECTABLE`] key.
fn apply(p: &mut FederatedParams, key: &str, v: f64) -> Result<(), String> {
    let count = |v: f64| {
        if v.is_finite() && v >= 1.0 && v.fract() == 0.0 && v <= 65536.0 {
            Ok(v as usize)
        } else {
            Err(format!("{v} is not a whole number in 1..=65536"))
        }
    };
    match key {
        "local.lr" => p.local.lr = v,
        "local.lr_decay" => p.local.lr_decay = v,
        "local.momentum" => p.local.momentum = v,
        "local.l2" => p.local.l2 = v,
        "local.epochs" => p.local.epochs = count(v)?,
        "local.batch_size" => p.local.batch_size = count(v)?,
        "server.lr" => p.server.lr = v,
        "server.eta" => p.server.eta = v,
        "mu" => p.mu = v,
        _ => return Err(format!("unknown key: selectable are {}", SELECTABLE.join(", "))),
    }
    Ok(())
}

/// `params` with one candidate applied and selection switched off.
///
/// # Errors
/// A message if a key is unknown or a count is not whole.
pub fn with_candidate(params: &FederatedParams, candidate: &[(String, f64)]) -> Result<FederatedParams, String> {
    let mut p = params.clone();
    p.select = SelectParams::default();
    for (k, v) in candidate {
        apply(&mut p, k, *v)?;
    }
    Ok(p)
}

/// One candidate's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateScore {
    /// The candidate's values by key.
    pub params: BTreeMap<String, f64>,
    /// Validation UAR after the last round, pooled over the inner splits.
    pub uar: f64,
}

/// The choice made for one outer fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// Outer fold.
    pub fold: i32,
    /// The chosen values by key.
    pub chosen: BTreeMap<String, f64>,
    /// Every candidate, in grid order.
    pub candidates: Vec<CandidateScore>,
}

/// Validation rows (sorted) of each inner split of `train` (see the module
/// docs). Fewer than two non-empty splits means no split is possible.
#[must_use]
pub fn inner_splits(
    protocol: Protocol,
    train: &[usize],
    labels: &[usize],
    actors: &[i32],
    k: usize,
    seed: u64,
    outer: i32,
) -> Vec<Vec<usize>> {
    let base = seed ^ (u64::from(outer as u32) << 32) ^ 0x00fe_d5e1_ec7e_d000;
    let k = k.max(1);
    let mut folds = vec![Vec::new(); k];
    let mut by_actor: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for &r in train {
        by_actor.entry(actors[r]).or_default().push(r);
    }
    if protocol.speaker_independent() {
        let mut ids: Vec<i32> = by_actor.keys().copied().collect();
        ids.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(base));
        for (i, a) in ids.iter().enumerate() {
            folds[i % k].extend_from_slice(&by_actor[a]);
        }
    } else {
        // every client deals its own clips, class by class, round-robin
        // from a random start, so each split gets its share of every class
        for (&a, rows) in &by_actor {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(base ^ u64::from(a as u32).rotate_left(17));
            let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for &r in rows {
                by_class.entry(labels[r]).or_default().push(r);
            }
            let mut next = rand::Rng::gen_range(&mut rng, 0..k);
            for rows in by_class.values_mut() {
                rows.shuffle(&mut rng);
                for &r in rows.iter() {
                    folds[next % k].push(r);
                    next += 1;
                }
            }
        }
    }
    folds.retain(|f| !f.is_empty());
    for f in &mut folds {
        f.sort_unstable();
    }
    if folds.len() < 2 {
        folds.clear();
    }
    folds
}

/// Runs the grid of `params.select` on the inner splits of `fold` and
/// returns the chosen parameters (selection off) with the record; `None`
/// when the fold's training rows cannot be split (the base parameters are
/// then used, with a warning).
///
/// # Errors
/// [`FedError`] of a failing inner run.
pub fn select(
    params: &FederatedParams,
    shape: Shape,
    x: &[f32],
    labels: &[usize],
    actors: &[i32],
    fold: &Fold,
    stream: u64,
) -> Result<Option<(FederatedParams, Selection)>, FedError> {
    let s = &params.select;
    let splits = inner_splits(fold.protocol, &fold.train, labels, actors, s.inner_folds, s.seed, fold.fold);
    if splits.is_empty() {
        tracing::warn!("fold {}: training rows cannot be split for inner validation; no selection", fold.fold);
        return Ok(None);
    }
    let too_small = splits.iter().any(|val| {
        let mut left: Vec<i32> =
            fold.train.iter().filter(|r| val.binary_search(r).is_err()).map(|&r| actors[r]).collect();
        left.sort_unstable();
        left.dedup();
        left.len() < params.min_clients
    });
    if too_small {
        tracing::warn!(
            "fold {}: an inner split leaves fewer than min_clients = {} training clients; no selection",
            fold.fold,
            params.min_clients
        );
        return Ok(None);
    }
    let inner: Vec<Fold> = splits
        .into_iter()
        .map(|val| Fold {
            protocol: fold.protocol,
            fold: fold.fold,
            train: fold.train.iter().copied().filter(|r| val.binary_search(r).is_err()).collect(),
            test: val,
        })
        .collect();
    let mut scores = Vec::new();
    let mut best: Option<(f64, FederatedParams, BTreeMap<String, f64>)> = None;
    // the inner federations (clients, federated standardisation) are the
    // same for every candidate
    let feds: Vec<_> = inner.iter().map(|f| fold_federation(shape, x, labels, actors, f)).collect();
    for cand in s.candidates() {
        let p = with_candidate(params, &cand)
            .map_err(|message| FedError::Param(ParamError::new("train.federated.select.grid", message)))?;
        let mut conf = vec![vec![0u64; shape.k]; shape.k];
        for (i, fed) in feds.iter().enumerate() {
            let cfg = SimConfig {
                rounds: p.rounds,
                seed: p.seed,
                stream: stream ^ ((i as u64 + 1) << 56),
                faults: p.faults.clone(),
                max_update_norm: p.max_update_norm,
                final_eval_only: true,
            };
            let out = simulate(fed, strategy::from_params(&p).as_mut(), &cfg, Hooks::default())?;
            if let Some(last) = out.history.last() {
                for (row, src) in conf.iter_mut().zip(&last.confusion) {
                    for (c, v) in row.iter_mut().zip(src) {
                        *c += v;
                    }
                }
            }
        }
        let uar = metrics::scores(&conf).uar;
        let values: BTreeMap<String, f64> = cand.into_iter().collect();
        tracing::debug!("fold {}: candidate {values:?}: inner UAR {uar:.4}", fold.fold);
        // highest UAR; ties to the earlier candidate
        if best.as_ref().is_none_or(|(b, _, _)| uar > *b) {
            best = Some((uar, p, values.clone()));
        }
        scores.push(CandidateScore { params: values, uar });
    }
    Ok(best.map(|(_, p, chosen)| (p, Selection { fold: fold.fold, chosen, candidates: scores })))
}

#[cfg(test)]
mod tests;
