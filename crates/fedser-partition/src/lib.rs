//! fedser-partition: assign every clip to a split or fold for each protocol.
//!
//! * `speaker_dependent_70_30`: within every (actor, emotion) cell the clips
//!   are shuffled (seeded per cell) and `round(n * test_fraction)` go to test,
//!   so every actor (federated client) keeps ~70 % of each emotion for
//!   training and the class balance of train and test match.
//! * `loso`: one fold per actor (sorted by id); fold `i` tests actor `i`.
//! * `group_kfold`: `k` folds of whole actors; actors are shuffled within
//!   each sex and dealt round-robin so folds are sex-balanced.
//!
//! # Output schema
//! `partition.parquet`: `protocol, fold (i32), role ("train" | "test"),
//! file, actor (i32), emotion`. For `speaker_dependent_70_30` there is one
//! fold (0) and `role` is the clip's side. For `loso` and `group_kfold`
//! every clip appears once with `role = "test"` and `fold` = the fold that
//! holds it out; it is a training clip of every other fold. A test asserts
//! that no actor is on both sides of any fold.
#![warn(unreachable_pub)]

use std::collections::BTreeMap;
use std::path::Path;

use fedser_cache::table::{self, Column};
use fedser_core::{check, ParamError, Protocol};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Recipe version of the partition stage.
pub const VERSION: u32 = 1;

/// Errors of the partition stage.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// Reading the manifest or writing the table failed.
    #[error(transparent)]
    Cache(#[from] fedser_cache::CacheError),
    /// The corpus cannot support the protocol.
    #[error("cannot build `{protocol}`: {message}")]
    Protocol {
        /// The protocol.
        protocol: Protocol,
        /// Why.
        message: String,
    },
}

/// `[partition]` params.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `seed` | `42` | shuffles of the 70:30 split and of group k-fold | any u64 |
/// | `protocols` | `["speaker_dependent_70_30", "loso"]` | protocols to build | non-empty, no duplicates |
/// | `test_fraction` | `0.3` | speaker-dependent test share | `(0, 1)` |
/// | `repeats` | `1` | independent speaker-dependent splits (folds `0..repeats`; fold 0 is the same split whatever `repeats` is) | `1..=100` |
/// | `k` | `5` | folds of `group_kfold` | `2..=actors` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PartitionParams {
    /// Seed.
    pub seed: u64,
    /// Protocols to build.
    pub protocols: Vec<Protocol>,
    /// Test share of the speaker-dependent split.
    pub test_fraction: f64,
    /// Independent speaker-dependent splits (repeated hold-out): every
    /// clip is tested in about `repeats x test_fraction` of them. Left out
    /// of the serialised params (and so of the cache key) at 1, so caches
    /// from before the key existed stay fresh.
    #[serde(skip_serializing_if = "is_one")]
    pub repeats: usize,
    /// Folds of group k-fold.
    pub k: usize,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_one(n: &usize) -> bool {
    *n == 1
}

impl Default for PartitionParams {
    fn default() -> Self {
        Self {
            seed: 42,
            protocols: vec![Protocol::SpeakerDependent7030, Protocol::Loso],
            test_fraction: 0.3,
            repeats: 1,
            k: 5,
        }
    }
}

impl PartitionParams {
    /// Checks ranges.
    ///
    /// # Errors
    /// The first [`ParamError`].
    pub fn validate(&self) -> Result<(), ParamError> {
        check(!self.protocols.is_empty(), "partition.protocols", || {
            "must name at least one of speaker_dependent_70_30, loso, group_kfold".into()
        })?;
        let mut seen = self.protocols.clone();
        seen.sort();
        seen.dedup();
        check(seen.len() == self.protocols.len(), "partition.protocols", || "lists a protocol twice".into())?;
        check(self.test_fraction > 0.0 && self.test_fraction < 1.0, "partition.test_fraction", || {
            format!("{} is out of range: must be in (0, 1)", self.test_fraction)
        })?;
        check((1..=100).contains(&self.repeats), "partition.repeats", || {
            format!("{} is out of range: must be in 1..=100", self.repeats)
        })?;
        check(self.k >= 2, "partition.k", || format!("{} is out of range: must be at least 2", self.k))?;
        Ok(())
    }
}

/// One clip as the partitioner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipRef {
    /// File name.
    pub file: String,
    /// Actor id.
    pub actor: i32,
    /// Emotion code.
    pub emotion: String,
    /// Sex (for balanced k-fold), if known.
    pub sex: Option<String>,
}

/// One row of the partition table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// Protocol.
    pub protocol: Protocol,
    /// Fold.
    pub fold: i32,
    /// `true` for test.
    pub test: bool,
    /// Index into the clip list.
    pub clip: usize,
}

fn rng_for(seed: u64, what: &str) -> ChaCha8Rng {
    let h = blake3::hash(format!("{seed}:{what}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    ChaCha8Rng::seed_from_u64(u64::from_le_bytes(b))
}

/// Builds the assignments (pure; deterministic in `params.seed` and the set
/// of clips, whatever their order).
///
/// # Errors
/// [`PartitionError::Protocol`] when a protocol needs more actors than exist.
pub fn assign(params: &PartitionParams, clips: &[ClipRef]) -> Result<Vec<Assignment>, PartitionError> {
    let mut out = Vec::new();
    let mut actors: Vec<i32> = clips.iter().map(|c| c.actor).collect();
    actors.sort_unstable();
    actors.dedup();
    for &protocol in &params.protocols {
        match protocol {
            Protocol::SpeakerDependent7030 => {
                let mut cells: BTreeMap<(i32, &str), Vec<usize>> = BTreeMap::new();
                for (i, c) in clips.iter().enumerate() {
                    cells.entry((c.actor, c.emotion.as_str())).or_default().push(i);
                }
                // file order first, so the shuffles do not depend on input order
                for idx in cells.values_mut() {
                    idx.sort_by(|&a, &b| clips[a].file.cmp(&clips[b].file));
                }
                for repeat in 0..params.repeats {
                    // repeat 0 keeps the single split's stream
                    let tag = if repeat == 0 { "sd".to_owned() } else { format!("sd{repeat}") };
                    for ((actor, emotion), idx) in &cells {
                        let mut idx = idx.clone();
                        idx.shuffle(&mut rng_for(params.seed, &format!("{tag}:{actor}:{emotion}")));
                        let n = idx.len();
                        let n_test = if n < 2 {
                            0
                        } else {
                            ((n as f64 * params.test_fraction).round() as usize).clamp(1, n - 1)
                        };
                        for (j, &clip) in idx.iter().enumerate() {
                            out.push(Assignment { protocol, fold: repeat as i32, test: j < n_test, clip });
                        }
                    }
                }
            }
            Protocol::Loso => {
                if actors.len() < 2 {
                    return Err(PartitionError::Protocol {
                        protocol,
                        message: format!("needs at least 2 actors, found {}", actors.len()),
                    });
                }
                for (i, c) in clips.iter().enumerate() {
                    let fold = actors.binary_search(&c.actor).unwrap_or(0) as i32;
                    out.push(Assignment { protocol, fold, test: true, clip: i });
                }
            }
            Protocol::GroupKfold => {
                if actors.len() < params.k {
                    return Err(PartitionError::Protocol {
                        protocol,
                        message: format!(
                            "k = {} folds need at least {} actors, found {}",
                            params.k,
                            params.k,
                            actors.len()
                        ),
                    });
                }
                let mut by_sex: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                for &a in &actors {
                    let sex = clips.iter().find(|c| c.actor == a).and_then(|c| c.sex.clone()).unwrap_or_default();
                    by_sex.entry(sex).or_default().push(a);
                }
                let mut fold_of = BTreeMap::new();
                let mut next = 0usize;
                for (sex, mut group) in by_sex {
                    group.shuffle(&mut rng_for(params.seed, &format!("kfold:{sex}")));
                    for a in group {
                        fold_of.insert(a, (next % params.k) as i32);
                        next += 1;
                    }
                }
                for (i, c) in clips.iter().enumerate() {
                    out.push(Assignment { protocol, fold: fold_of[&c.actor], test: true, clip: i });
                }
            }
        }
    }
    Ok(out)
}

/// Summary of a partition run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionSummary {
    /// Protocol -> number of folds.
    pub folds: BTreeMap<String, usize>,
}

/// Reads the manifest, builds the assignments and writes `partition.parquet`.
///
/// # Errors
/// [`PartitionError`].
pub fn run(
    params: &PartitionParams,
    manifest: &Path,
    out: &Path,
    meta: &[(&str, String)],
) -> Result<PartitionSummary, PartitionError> {
    let m = table::read_parquet(manifest, Some(&["file", "actor", "emotion", "sex"]))?;
    let files = table::strings(manifest, &m, "file")?;
    let actors = table::ints(manifest, &m, "actor")?;
    let emotions = table::strings(manifest, &m, "emotion")?;
    let sexes = table::opt_strings(manifest, &m, "sex")?;
    let clips: Vec<ClipRef> = (0..files.len())
        .map(|i| ClipRef {
            file: files[i].clone(),
            actor: actors[i].unwrap_or(0) as i32,
            emotion: emotions[i].clone(),
            sex: sexes[i].clone(),
        })
        .collect();
    let mut rows = assign(params, &clips)?;
    rows.sort_by(|a, b| {
        (a.protocol, a.fold, !a.test, &clips[a.clip].file).cmp(&(b.protocol, b.fold, !b.test, &clips[b.clip].file))
    });
    let mut folds = BTreeMap::new();
    for p in &params.protocols {
        let n = rows.iter().filter(|r| r.protocol == *p).map(|r| r.fold).max().map_or(0, |m| m as usize + 1);
        folds.insert(p.as_str().to_owned(), n);
    }
    let b = table::batch(
        out,
        vec![
            ("protocol".into(), Column::Str(rows.iter().map(|r| r.protocol.as_str().to_owned()).collect())),
            ("fold".into(), Column::I32(rows.iter().map(|r| r.fold).collect())),
            (
                "role".into(),
                Column::Str(rows.iter().map(|r| if r.test { "test" } else { "train" }.to_owned()).collect()),
            ),
            ("file".into(), Column::Str(rows.iter().map(|r| clips[r.clip].file.clone()).collect())),
            ("actor".into(), Column::I32(rows.iter().map(|r| clips[r.clip].actor).collect())),
            ("emotion".into(), Column::Str(rows.iter().map(|r| clips[r.clip].emotion.clone()).collect())),
        ],
    )?;
    table::write_parquet(out, &b, meta)?;
    Ok(PartitionSummary { folds })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(actors: i32, per_emotion: usize) -> Vec<ClipRef> {
        let mut v = Vec::new();
        for a in 0..actors {
            for e in fedser_core::codes::EMOTIONS {
                for s in 0..per_emotion {
                    v.push(ClipRef {
                        file: format!("{}_S{s}_{e}_XX.wav", 1001 + a),
                        actor: 1001 + a,
                        emotion: e.into(),
                        sex: Some(if a % 2 == 0 { "Male" } else { "Female" }.into()),
                    });
                }
            }
        }
        v
    }

    #[test]
    fn speaker_dependent_is_stratified_70_30_per_actor_and_emotion() {
        let clips = corpus(4, 10);
        let p = PartitionParams::default();
        let rows = assign(&p, &clips).unwrap();
        let sd: Vec<_> = rows.iter().filter(|r| r.protocol == Protocol::SpeakerDependent7030).collect();
        assert_eq!(sd.len(), clips.len());
        let mut cells: BTreeMap<(i32, String), (usize, usize)> = BTreeMap::new();
        for r in sd {
            let c = &clips[r.clip];
            let e = cells.entry((c.actor, c.emotion.clone())).or_default();
            if r.test {
                e.1 += 1
            } else {
                e.0 += 1
            }
        }
        assert!(cells.values().all(|&(tr, te)| tr == 7 && te == 3), "{cells:?}");
    }

    #[test]
    fn repeated_speaker_dependent_splits_are_independent_and_keep_the_first() {
        let clips = corpus(3, 10);
        let one = assign(&PartitionParams::default(), &clips).unwrap();
        let p = PartitionParams { repeats: 3, ..Default::default() };
        let three = assign(&p, &clips).unwrap();
        let test_set = |rows: &[Assignment], fold: i32| -> std::collections::BTreeSet<usize> {
            rows.iter()
                .filter(|r| r.protocol == Protocol::SpeakerDependent7030 && r.fold == fold && r.test)
                .map(|r| r.clip)
                .collect()
        };
        // fold 0 is the single split, clip for clip
        assert_eq!(test_set(&one, 0), test_set(&three, 0));
        for fold in 0..3 {
            let rows: Vec<_> =
                three.iter().filter(|r| r.protocol == Protocol::SpeakerDependent7030 && r.fold == fold).collect();
            assert_eq!(rows.len(), clips.len(), "fold {fold} places every clip once");
            assert_eq!(test_set(&three, fold).len(), 3 * 6 * 3, "3 of 10 clips per actor and emotion");
        }
        assert_ne!(test_set(&three, 1), test_set(&three, 0));
        assert_ne!(test_set(&three, 2), test_set(&three, 1));
        assert_eq!(three.iter().filter(|r| r.protocol == Protocol::Loso).count(), clips.len());
        let bad = PartitionParams { repeats: 0, ..Default::default() };
        assert_eq!(bad.validate().unwrap_err().key, "partition.repeats");
    }

    #[test]
    fn no_actor_on_both_sides_and_order_independent() {
        let clips = corpus(7, 2);
        let p = PartitionParams { protocols: vec![Protocol::Loso, Protocol::GroupKfold], k: 3, ..Default::default() };
        let rows = assign(&p, &clips).unwrap();
        for proto in [Protocol::Loso, Protocol::GroupKfold] {
            let mut fold_actors: BTreeMap<i32, std::collections::BTreeSet<i32>> = BTreeMap::new();
            for r in rows.iter().filter(|r| r.protocol == proto) {
                fold_actors.entry(r.fold).or_default().insert(clips[r.clip].actor);
            }
            let mut all = Vec::new();
            for s in fold_actors.values() {
                all.extend(s.iter().copied());
            }
            let n = all.len();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), n, "an actor is in two test folds of {proto}");
        }
        assert_eq!(rows.iter().filter(|r| r.protocol == Protocol::Loso).map(|r| r.fold).max(), Some(6));
        // shuffled input order gives the same assignment per file
        let mut rev = clips.clone();
        rev.reverse();
        let rows2 = assign(&p, &rev).unwrap();
        let key = |rows: &[Assignment], cl: &[ClipRef]| {
            let mut v: Vec<_> = rows.iter().map(|r| (r.protocol, cl[r.clip].file.clone(), r.fold, r.test)).collect();
            v.sort();
            v
        };
        assert_eq!(key(&rows, &clips), key(&rows2, &rev));
    }

    #[test]
    fn validation_names_keys() {
        let p = PartitionParams { test_fraction: 1.5, ..Default::default() };
        assert_eq!(p.validate().unwrap_err().key, "partition.test_fraction");
        let p = PartitionParams { protocols: vec![], ..Default::default() };
        assert_eq!(p.validate().unwrap_err().key, "partition.protocols");
        let clips = corpus(2, 1);
        let p = PartitionParams { protocols: vec![Protocol::GroupKfold], k: 3, ..Default::default() };
        assert!(assign(&p, &clips).is_err());
    }
}
