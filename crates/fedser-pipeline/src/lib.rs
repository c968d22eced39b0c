//! fedser-pipeline: the stages wired together over the cache.
//!
//! ```text
//!  [synth] ──► corpus ──► ingest ──► manifest ──┬─► features ──► features.parquet ─┐
//!  (or CREMAD_DIR)                              └─► partition ─► partition.parquet ─┴┬► train ────► predictions ──┬─► report
//!                                                                                   └► federate ─► predictions ──┘
//! ```
//!
//! [`plan`] decides for every stage whether it is fresh or why it must run;
//! [`run`] executes the plan stage by stage and `fedser status` prints the
//! same plan, so the two never disagree.
#![warn(unreachable_pub)]

mod config;
mod stages;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use fedser_cache::{CacheGuard, DepRecord, DirtyReason, Freshness, LockFile, OutRecord, StageEntry, StateDb};

pub use config::{Pipeline, ReportParams};

/// Errors that stop a run.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The pipeline file is invalid.
    #[error("{}: {message}", .file.display())]
    Config {
        /// The pipeline file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The cache cannot be used.
    #[error(transparent)]
    Cache(#[from] fedser_cache::CacheError),
    /// A stage failed.
    #[error("stage `{stage}` failed: {source}")]
    Stage {
        /// The stage.
        stage: StageName,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The corpus cannot be used.
    #[error(transparent)]
    Corpus(#[from] fedser_ingest::IngestError),
}

/// The stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StageName {
    /// Built-in synthetic corpus.
    Synth,
    /// Manifest and rejects.
    Ingest,
    /// Feature table.
    Features,
    /// Splits and folds.
    Partition,
    /// Centralized training.
    Train,
    /// Federated training (`[train.federated]`; fresh no-op when absent).
    Federate,
    /// results.json, report.md, plots.
    Report,
}

impl StageName {
    /// All stages in order.
    pub const ALL: [StageName; 7] = [
        StageName::Synth,
        StageName::Ingest,
        StageName::Features,
        StageName::Partition,
        StageName::Train,
        StageName::Federate,
        StageName::Report,
    ];

    /// Name on the command line and in the lock file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Synth => "synth",
            StageName::Ingest => "ingest",
            StageName::Features => "features",
            StageName::Partition => "partition",
            StageName::Train => "train",
            StageName::Federate => "federate",
            StageName::Report => "report",
        }
    }

    /// Parses [`StageName::as_str`]'s spelling (also `evaluate` = report).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        if s == "evaluate" {
            return Some(StageName::Report);
        }
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Stages whose outputs this one reads.
    #[must_use]
    pub fn upstream(self) -> &'static [StageName] {
        match self {
            StageName::Synth => &[],
            StageName::Ingest => &[StageName::Synth],
            StageName::Features | StageName::Partition => &[StageName::Ingest],
            StageName::Train | StageName::Federate => &[StageName::Features, StageName::Partition],
            StageName::Report => &[StageName::Ingest, StageName::Features, StageName::Train, StageName::Federate],
        }
    }
}

impl fmt::Display for StageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Progress callback: `(stage, done, total)`.
pub type Progress = Arc<dyn Fn(&str, usize, usize) + Send + Sync>;

/// Settings that never enter a cache key: paths, what to run, waiting.
#[derive(Clone)]
pub struct RunOptions {
    /// Cache root (`cache/`).
    pub cache: PathBuf,
    /// External corpus (from `--corpus`, `CREMAD_DIR` or `[ingest] corpus`);
    /// `None` uses the synthetic corpus.
    pub corpus: Option<PathBuf>,
    /// The pipeline file (for the report's provenance).
    pub pipeline_path: PathBuf,
    /// Stop after this stage.
    pub until: Option<StageName>,
    /// Stages to rerun even if fresh (and everything downstream).
    pub force: Vec<StageName>,
    /// Wait for another run holding the cache (else fail at once).
    pub wait: bool,
    /// Progress reporting.
    pub progress: Option<Progress>,
}

impl fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOptions")
            .field("cache", &self.cache)
            .field("corpus", &self.corpus)
            .field("until", &self.until)
            .field("force", &self.force)
            .finish_non_exhaustive()
    }
}

/// A stage's state in the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageState {
    /// Up to date.
    Fresh,
    /// Must run, and why.
    Stale(DirtyReason),
    /// Not part of this pipeline (e.g. synth with an external corpus).
    Skipped(String),
}

/// One line of `fedser status`.
#[derive(Debug, Clone, PartialEq)]
pub struct StageStatus {
    /// Stage.
    pub stage: StageName,
    /// State.
    pub state: StageState,
    /// Recorded figures of the last successful run.
    pub info: BTreeMap<String, String>,
    /// Seconds the last run took.
    pub seconds: Option<f64>,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    /// Per stage: ran (with seconds) or was fresh.
    pub stages: Vec<(StageName, Option<f64>, BTreeMap<String, String>)>,
}

pub(crate) struct Ctx<'a> {
    pub(crate) pipeline: &'a Pipeline,
    pub(crate) opts: &'a RunOptions,
    pub(crate) lock: LockFile,
    pub(crate) state: StateDb,
}

impl Ctx<'_> {
    pub(crate) fn lock_path(&self) -> PathBuf {
        self.opts.cache.join("fedser.lock")
    }

    pub(crate) fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.opts.cache)
            .unwrap_or(p)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Digest of upstream `stage`'s output `file` as recorded in the lock.
    pub(crate) fn upstream_out(&self, stage: StageName, file: &str) -> Option<DepRecord> {
        let e = self.lock.stages.get(stage.as_str())?;
        let path = format!("{}/{file}", stage.as_str());
        let o = e.outs.iter().find(|o| o.path == path)?;
        Some(DepRecord { name: format!("{stage}:{file}"), path, digest: o.blake3.clone(), files: None })
    }
}

/// Opens the cache for reading the plan (no lock taken).
fn open_ctx<'a>(pipeline: &'a Pipeline, opts: &'a RunOptions) -> Result<Ctx<'a>, PipelineError> {
    let lock = LockFile::load(&opts.cache.join("fedser.lock"))?;
    let state = StateDb::load(&opts.cache.join(".fedser").join("state.json"));
    Ok(Ctx { pipeline, opts, lock, state })
}

/// Stages named by `--force` and everything downstream of them.
fn forced_set(opts: &RunOptions) -> Vec<StageName> {
    let mut set: Vec<StageName> = Vec::new();
    for s in StageName::ALL {
        if opts.force.contains(&s) || s.upstream().iter().any(|u| set.contains(u)) {
            set.push(s);
        }
    }
    set
}

fn stages_until(opts: &RunOptions) -> Vec<StageName> {
    let last = opts.until.unwrap_or(StageName::Report);
    StageName::ALL.into_iter().filter(|s| *s <= last).collect()
}

/// Evaluates one stage: its params, deps, key and freshness. `upstream_dirty`
/// names a dirty upstream stage, if any.
fn evaluate(ctx: &Ctx<'_>, stage: StageName, upstream_dirty: Option<StageName>) -> Result<Evaluated, PipelineError> {
    if stage == StageName::Synth && ctx.opts.corpus.is_some() {
        return Ok(Evaluated::Skipped("external corpus".into()));
    }
    if stage == StageName::Federate && ctx.pipeline.train.federated_enabled().is_none() {
        // no federated training: a no-op that is always fresh
        return Ok(Evaluated::Fresh);
    }
    if let Some(up) = upstream_dirty {
        return Ok(Evaluated::Dirty(DirtyReason::UpstreamDirty { stage: up.as_str().into() }, None));
    }
    let (params, deps, listing) = stages::inputs(ctx, stage)?;
    let params_json = serde_json::to_string(&params).unwrap_or_default();
    let version = stages::version(stage);
    let key = fedser_cache::stage_key(stage.as_str(), version, &params_json, &deps);
    let prepared = Prepared { params, params_json, deps, key, version, listing };
    if forced_set(ctx.opts).contains(&stage) {
        return Ok(Evaluated::Dirty(DirtyReason::Forced, Some(prepared)));
    }
    let fr = fedser_cache::freshness(
        ctx.lock.stages.get(stage.as_str()),
        &prepared.key,
        version,
        &prepared.params,
        &prepared.deps,
        &ctx.opts.cache,
        &ctx.state,
    );
    Ok(match fr {
        Freshness::Fresh => Evaluated::Fresh,
        Freshness::Dirty(r) => Evaluated::Dirty(r, Some(prepared)),
    })
}

pub(crate) struct Prepared {
    pub(crate) params: toml::Table,
    pub(crate) params_json: String,
    pub(crate) deps: Vec<DepRecord>,
    pub(crate) key: String,
    pub(crate) version: u32,
    pub(crate) listing: Option<fedser_cache::DirDigest>,
}

enum Evaluated {
    Fresh,
    Dirty(DirtyReason, Option<Prepared>),
    Skipped(String),
}

/// The plan: every stage's state, as `fedser status` prints it. Takes no
/// lock and changes nothing but the hash state file.
///
/// # Errors
/// [`PipelineError`] when the corpus or cache cannot be read.
pub fn plan(pipeline: &Pipeline, opts: &RunOptions) -> Result<Vec<StageStatus>, PipelineError> {
    let ctx = open_ctx(pipeline, opts)?;
    let mut out = Vec::new();
    let mut dirty: BTreeMap<StageName, bool> = BTreeMap::new();
    for stage in StageName::ALL {
        let up = stage.upstream().iter().copied().find(|u| dirty.get(u).copied().unwrap_or(false));
        let state = match evaluate(&ctx, stage, up)? {
            Evaluated::Fresh => StageState::Fresh,
            Evaluated::Dirty(r, _) => StageState::Stale(r),
            Evaluated::Skipped(why) => StageState::Skipped(why),
        };
        dirty.insert(stage, matches!(state, StageState::Stale(_)));
        let entry = ctx.lock.stages.get(stage.as_str());
        out.push(StageStatus {
            stage,
            state,
            info: entry.map(|e| e.info.clone()).unwrap_or_default(),
            seconds: entry.map(|e| e.seconds),
        });
    }
    let _ = ctx.state.save();
    Ok(out)
}

/// Runs every stage up to `opts.until`, skipping fresh ones.
///
/// # Errors
/// [`PipelineError`]; outputs of stages that finished stay valid.
pub fn run(pipeline: &Pipeline, opts: &RunOptions) -> Result<RunReport, PipelineError> {
    std::fs::create_dir_all(&opts.cache).map_err(|e| {
        PipelineError::Cache(fedser_cache::CacheError::Io {
            op: "cannot create cache folder",
            path: opts.cache.clone(),
            source: e,
        })
    })?;
    let _guard = CacheGuard::acquire(&opts.cache, opts.wait, |holder| {
        tracing::warn!(
            "another fedser run holds the cache `{}` ({holder}); waiting for it to finish",
            opts.cache.display()
        );
    })?;
    let removed = fedser_cache::remove_stale_temps(&opts.cache);
    if removed > 0 {
        tracing::info!("removed {removed} temp files left by an interrupted run");
    }
    let mut ctx = open_ctx(pipeline, opts)?;
    let mut report = RunReport { stages: Vec::new() };
    for stage in stages_until(opts) {
        // Upstream stages ran or were fresh, so nothing upstream is dirty now.
        let ev = evaluate(&ctx, stage, None)?;
        let (reason, prepared) = match ev {
            Evaluated::Skipped(why) => {
                tracing::info!("{stage}: skipped ({why})");
                continue;
            }
            Evaluated::Fresh => {
                tracing::info!("{stage}: fresh, reused");
                let info = ctx.lock.stages.get(stage.as_str()).map(|e| e.info.clone()).unwrap_or_default();
                report.stages.push((stage, None, info));
                continue;
            }
            Evaluated::Dirty(r, Some(p)) => (r, p),
            Evaluated::Dirty(r, None) => {
                return Err(PipelineError::Stage { stage, source: format!("cannot prepare inputs: {r}").into() });
            }
        };
        tracing::info!("{stage}: running ({reason})");
        // Remove the entry first: a run killed from here on leaves no entry,
        // so the next run reruns the stage instead of trusting partial output.
        ctx.lock.stages.remove(stage.as_str());
        ctx.lock.save(&ctx.lock_path())?;
        let t0 = Instant::now();
        let meta = vec![
            ("fedser.stage", stage.as_str().to_owned()),
            ("fedser.version", prepared.version.to_string()),
            ("fedser.key", prepared.key.clone()),
            ("fedser.params", prepared.params_json.clone()),
        ];
        let (outs, info) = stages::execute(&ctx, stage, prepared.listing.as_ref(), &meta)?;
        let seconds = t0.elapsed().as_secs_f64();
        let mut out_records = Vec::new();
        for p in outs {
            let (size, digest) = if p.is_dir() {
                let d = fedser_cache::dir_digest(&ctx.state, &p, &|_| true)?;
                let size =
                    d.entries.iter().filter_map(|(r, _)| std::fs::metadata(p.join(r)).ok()).map(|m| m.len()).sum();
                (size, d.digest)
            } else {
                let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                (size, ctx.state.digest(&p)?)
            };
            out_records.push(OutRecord { path: ctx.rel(&p), size, blake3: digest });
        }
        let finished_unix =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        ctx.lock.stages.insert(
            stage.as_str().to_owned(),
            StageEntry {
                key: prepared.key,
                version: prepared.version,
                params_hash: fedser_cache::hash_bytes(prepared.params_json.as_bytes()),
                params: prepared.params,
                deps: prepared.deps,
                outs: out_records,
                seconds,
                finished_unix,
                info: info.clone(),
            },
        );
        ctx.lock.save(&ctx.lock_path())?;
        ctx.state.save()?;
        tracing::info!("{stage}: done in {seconds:.2} s");
        report.stages.push((stage, Some(seconds), info));
    }
    ctx.state.save()?;
    Ok(report)
}

/// Deletes stage outputs and their lock entries: one stage, or everything
/// (the cache's README.md is kept).
///
/// # Errors
/// [`PipelineError::Cache`] when the cache is busy or cannot be written.
pub fn clean(cache: &Path, stage: Option<StageName>, wait: bool) -> Result<usize, PipelineError> {
    if !cache.exists() {
        return Ok(0);
    }
    let _guard = CacheGuard::acquire(cache, wait, |holder| {
        tracing::warn!("another fedser run holds the cache ({holder}); waiting");
    })?;
    let lock_path = cache.join("fedser.lock");
    let mut lock = LockFile::load(&lock_path)?;
    let mut removed = 0;
    let targets: Vec<StageName> = match stage {
        Some(s) => vec![s],
        None => StageName::ALL.to_vec(),
    };
    for s in &targets {
        lock.stages.remove(s.as_str());
        let dir = if *s == StageName::Synth { cache.join("corpus") } else { cache.join(s.as_str()) };
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| fedser_cache::CacheError::Io {
                op: "cannot remove",
                path: dir.clone(),
                source: e,
            })?;
            removed += 1;
        }
    }
    lock.save(&lock_path)?;
    if stage.is_none() {
        let _ = std::fs::remove_file(&lock_path);
        let _ = std::fs::remove_file(cache.join(".fedser").join("state.json"));
    }
    Ok(removed)
}
