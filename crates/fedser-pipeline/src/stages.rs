//! Each stage's inputs (params + deps) and execution.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fedser_cache::{table, DepRecord};
use fedser_ingest::CorpusLayout;

use crate::{Ctx, PipelineError, StageName};

fn to_table<T: serde::Serialize>(stage: StageName, v: &T) -> Result<toml::Table, PipelineError> {
    toml::Table::try_from(v).map_err(|e| PipelineError::Stage { stage, source: Box::new(e) })
}

fn stage_err(stage: StageName) -> impl Fn(Box<dyn std::error::Error + Send + Sync>) -> PipelineError {
    move |source| PipelineError::Stage { stage, source }
}

pub(crate) fn version(stage: StageName) -> u32 {
    match stage {
        StageName::Synth => fedser_synth::VERSION,
        StageName::Ingest => fedser_ingest::VERSION,
        StageName::Features => {
            fedser_features::VERSION * 1_000_000
                + fedser_features::dsp::COMPARE16_VERSION * 1000
                + fedser_features::dsp::EGEMAPS02_VERSION
        }
        StageName::Partition => fedser_partition::VERSION,
        StageName::Train => fedser_train::VERSION,
        StageName::Federate => fedser_federated::VERSION,
        StageName::Report => fedser_report::VERSION,
    }
}

pub(crate) fn synth_dir(ctx: &Ctx<'_>) -> PathBuf {
    ctx.opts.cache.join("corpus").join("synthetic")
}

/// Where the corpus is: external, or the generated synthetic one.
pub(crate) fn layout(ctx: &Ctx<'_>) -> Result<CorpusLayout, PipelineError> {
    let root = ctx.opts.corpus.clone().unwrap_or_else(|| synth_dir(ctx));
    Ok(fedser_ingest::resolve_layout(&root, ctx.pipeline.ingest.demographics.as_deref())?)
}

fn corpus_listing(ctx: &Ctx<'_>, layout: &CorpusLayout) -> Result<fedser_cache::DirDigest, PipelineError> {
    // Only files directly in the audio folder are clips (CREMA-D's AudioWAV is flat).
    Ok(fedser_cache::dir_digest(&ctx.state, &layout.audio_dir, &|rel: &str| !rel.contains('/'))?)
}

fn need(ctx: &Ctx<'_>, stage: StageName, up: StageName, file: &str) -> Result<DepRecord, PipelineError> {
    ctx.upstream_out(up, file).ok_or_else(|| PipelineError::Stage {
        stage,
        source: format!("upstream output `{up}/{file}` is not in the lock file").into(),
    })
}

/// A stage's params table, its inputs with digests, and (for ingest) the
/// corpus listing those digests came from, so `execute` does not list and
/// stat the corpus a second time.
pub(crate) type Inputs = (toml::Table, Vec<DepRecord>, Option<fedser_cache::DirDigest>);

pub(crate) fn inputs(ctx: &Ctx<'_>, stage: StageName) -> Result<Inputs, PipelineError> {
    let p = ctx.pipeline;
    if stage == StageName::Ingest {
        let layout = layout(ctx)?;
        let listing = corpus_listing(ctx, &layout)?;
        let sheet = ctx.state.digest(&layout.demographics)?;
        let deps = vec![
            DepRecord {
                name: "corpus".into(),
                path: if ctx.opts.corpus.is_some() { "<external corpus>".into() } else { ctx.rel(&layout.audio_dir) },
                digest: listing.digest.clone(),
                files: Some(listing.files),
            },
            DepRecord { name: "demographics".into(), path: "VideoDemographics.csv".into(), digest: sheet, files: None },
        ];
        return Ok((to_table(stage, &p.ingest)?, deps, Some(listing)));
    }
    let (params, deps) = match stage {
        StageName::Synth => (to_table(stage, &p.synth)?, vec![]),
        StageName::Features => {
            (to_table(stage, &p.features)?, vec![need(ctx, stage, StageName::Ingest, "manifest.parquet")?])
        }
        StageName::Partition => {
            (to_table(stage, &p.partition)?, vec![need(ctx, stage, StageName::Ingest, "manifest.parquet")?])
        }
        // each training stage hashes only its own part of `[train]`
        StageName::Train => {
            // every feature-set table (set = "both": the comparison trains on each)
            let mut deps = Vec::new();
            for (_, file) in p.features.outputs() {
                deps.push(need(ctx, stage, StageName::Features, file)?);
            }
            deps.push(need(ctx, stage, StageName::Partition, "partition.parquet")?);
            (to_table(stage, &p.train.centralized_key())?, deps)
        }
        StageName::Federate => {
            // `[privacy]` changes the federated runs, so it is part of the key
            #[derive(serde::Serialize)]
            struct FederateKey<'a> {
                #[serde(skip_serializing_if = "Option::is_none")]
                federated: Option<&'a fedser_federated::FederatedParams>,
                privacy: &'a fedser_privacy::PrivacyParams,
            }
            let key = FederateKey { federated: p.train.federated_enabled(), privacy: &p.privacy };
            let mut deps = vec![
                need(ctx, stage, StageName::Features, "features.parquet")?,
                need(ctx, stage, StageName::Partition, "partition.parquet")?,
            ];
            if p.privacy.attack.is_some() {
                deps.push(need(ctx, stage, StageName::Ingest, "manifest.parquet")?);
            }
            (to_table(stage, &key)?, deps)
        }
        StageName::Report => {
            let mut deps = vec![
                need(ctx, stage, StageName::Ingest, "manifest.parquet")?,
                need(ctx, stage, StageName::Ingest, "rejects.parquet")?,
                need(ctx, stage, StageName::Features, "features.parquet")?,
                need(ctx, stage, StageName::Train, "predictions.parquet")?,
                need(ctx, stage, StageName::Train, "experiments.json")?,
            ];
            if p.train.federated_enabled().is_some() {
                deps.push(need(ctx, stage, StageName::Federate, "predictions.parquet")?);
                deps.push(need(ctx, stage, StageName::Federate, "experiments.json")?);
            }
            (to_table(stage, &p.report)?, deps)
        }
        StageName::Ingest => unreachable!("handled above"),
    };
    Ok((params, deps, None))
}

type Executed = (Vec<PathBuf>, BTreeMap<String, String>);

pub(crate) fn execute(
    ctx: &Ctx<'_>,
    stage: StageName,
    listing: Option<&fedser_cache::DirDigest>,
    meta: &[(&str, String)],
) -> Result<Executed, PipelineError> {
    let p = ctx.pipeline;
    let cache = &ctx.opts.cache;
    let dir = cache.join(stage.as_str());
    let err = stage_err(stage);
    let mut info = BTreeMap::new();
    let outs = match stage {
        StageName::Synth => {
            let out = synth_dir(ctx);
            let s = fedser_synth::generate(&p.synth, &out).map_err(|e| err(Box::new(e)))?;
            info.insert("clips".into(), s.clips.to_string());
            info.insert("actors".into(), s.actors.to_string());
            info.insert("audio_hours".into(), format!("{:.3}", s.audio_seconds / 3600.0));
            vec![out]
        }
        StageName::Ingest => {
            let layout = layout(ctx)?;
            let owned;
            let listing = match listing {
                Some(l) => l,
                None => {
                    owned = corpus_listing(ctx, &layout)?;
                    &owned
                }
            };
            let s = fedser_ingest::run(&p.ingest, &layout, &listing.entries, &dir, meta)?;
            info.insert("clips".into(), s.clips.to_string());
            info.insert("actors".into(), s.actors.to_string());
            info.insert("rejected".into(), s.rejected.to_string());
            info.insert("audio_hours".into(), format!("{:.3}", s.audio_seconds / 3600.0));
            let fmt_map =
                |m: &BTreeMap<String, usize>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
            info.insert("by_emotion".into(), fmt_map(&s.by_emotion));
            info.insert("by_sex".into(), fmt_map(&s.by_sex));
            if !s.rejects_by_reason.is_empty() {
                info.insert("rejects_by_reason".into(), fmt_map(&s.rejects_by_reason));
            }
            vec![dir.join("manifest.parquet"), dir.join("rejects.parquet")]
        }
        StageName::Features => {
            let layout = layout(ctx)?;
            let progress = ctx.opts.progress.clone();
            let cb = move |done: usize, total: usize| {
                if let Some(p) = &progress {
                    p("features", done, total);
                }
            };
            let s = fedser_features::run(
                &p.features,
                &cache.join("ingest").join("manifest.parquet"),
                &layout.audio_dir,
                &dir.join("clips"),
                &dir,
                meta,
                &cb,
            )
            .map_err(|e| err(Box::new(e)))?;
            info.insert("clips".into(), s.clips.to_string());
            info.insert("extracted".into(), s.extracted.to_string());
            info.insert("columns".into(), s.columns.to_string());
            if p.features.lld {
                info.insert("lld_frames".into(), s.lld_frames.to_string());
            }
            p.features.files().iter().map(|f| dir.join(f)).collect()
        }
        StageName::Partition => {
            let out = dir.join("partition.parquet");
            let s = fedser_partition::run(&p.partition, &cache.join("ingest").join("manifest.parquet"), &out, meta)
                .map_err(|e| err(Box::new(e)))?;
            for (k, v) in s.folds {
                info.insert(format!("folds.{k}"), v.to_string());
            }
            vec![out]
        }
        StageName::Train => {
            let progress = ctx.opts.progress.clone();
            let cb = move |done: usize, total: usize| {
                if let Some(p) = &progress {
                    p("train", done, total);
                }
            };
            let tables: Vec<(&str, PathBuf)> = p
                .features
                .outputs()
                .iter()
                .map(|(set, file)| (set.name(), cache.join("features").join(file)))
                .collect();
            let tables: Vec<(&str, &Path)> = tables.iter().map(|(s, f)| (*s, f.as_path())).collect();
            let metas = fedser_train::run(
                &p.train,
                &tables,
                &cache.join("partition").join("partition.parquet"),
                &dir,
                meta,
                &cb,
            )
            .map_err(|e| err(Box::new(e)))?;
            for m in metas {
                info.insert(format!("seconds.{}", m.core.id), format!("{:.2}", m.core.seconds));
            }
            vec![dir.join("predictions.parquet"), dir.join("experiments.json")]
        }
        StageName::Federate => {
            let fp = p.train.federated_enabled().ok_or_else(|| PipelineError::Stage {
                stage,
                source: "[train.federated] is absent or disabled".into(),
            })?;
            let manifest = cache.join("ingest").join("manifest.parquet");
            let metas = fedser_federated::stage::run_private(
                fp,
                &p.privacy,
                &cache.join("features").join("features.parquet"),
                &cache.join("partition").join("partition.parquet"),
                p.privacy.attack.as_ref().map(|_| manifest.as_path()),
                &dir,
                meta,
            )
            .map_err(|e| err(Box::new(e)))?;
            for m in metas {
                info.insert(format!("seconds.{}", m.core.id), format!("{:.2}", m.core.seconds));
                if let Some(c) = m.learning_curve.last() {
                    info.insert(format!("uar.{}", m.core.id), format!("{:.4}", c.uar));
                }
                if let Some(e) = m.privacy.as_ref().and_then(|p| p.dp.as_ref()).and_then(|d| d.epsilon) {
                    info.insert(format!("epsilon.{}", m.core.id), format!("{e:.4}"));
                }
                if let Some(a) = m.privacy.as_ref().and_then(|p| p.attack.as_ref()).and_then(|a| a.pooled_uar) {
                    info.insert(format!("attack_uar.{}", m.core.id), format!("{a:.4}"));
                }
                if m.skipped_rounds > 0 || m.rejected_updates > 0 {
                    info.insert(
                        format!("faults.{}", m.core.id),
                        format!("{} rounds skipped, {} updates rejected", m.skipped_rounds, m.rejected_updates),
                    );
                }
            }
            vec![dir.join("predictions.parquet"), dir.join("experiments.json"), dir.join("rounds")]
        }
        StageName::Report => {
            let results = report(ctx, &dir).map_err(err)?;
            for e in &results.experiments {
                info.insert(format!("uar.{}", e.id), format!("{:.4}", e.uar));
            }
            vec![dir]
        }
    };
    Ok((outs, info))
}

fn report(
    ctx: &Ctx<'_>,
    dir: &std::path::Path,
) -> Result<fedser_report::Results, Box<dyn std::error::Error + Send + Sync>> {
    let cache = &ctx.opts.cache;
    let manifest = cache.join("ingest").join("manifest.parquet");
    let m = table::read_parquet(&manifest, Some(&["actor", "emotion", "sex", "duration_s"]))?;
    let actors = table::ints(&manifest, &m, "actor")?;
    let emotions = table::strings(&manifest, &m, "emotion")?;
    let sexes = table::opt_strings(&manifest, &m, "sex")?;
    let durations = table::floats(&manifest, &m, "duration_s")?;
    let rejects_path = cache.join("ingest").join("rejects.parquet");
    let r = table::read_parquet(&rejects_path, None)?;
    let rf = table::strings(&rejects_path, &r, "file")?;
    let rr = table::strings(&rejects_path, &r, "reason")?;
    let mut corpus = fedser_report::CorpusInfo {
        name: match &ctx.opts.corpus {
            None => "synthetic (built-in)".into(),
            Some(p) => p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned()),
        },
        clips: actors.len(),
        rejected: rf.len(),
        audio_hours: durations.iter().sum::<f64>() / 3600.0,
        rejects: rf.into_iter().zip(rr).take(50).collect(),
        ..Default::default()
    };
    let mut sex_of = BTreeMap::new();
    for i in 0..actors.len() {
        let a = actors[i].unwrap_or(0) as i32;
        sex_of.insert(a, sexes[i].clone());
        *corpus.by_emotion.entry(emotions[i].clone()).or_default() += 1;
        *corpus.by_sex.entry(sexes[i].clone().unwrap_or_else(|| "unknown".into())).or_default() += 1;
    }
    corpus.actors = sex_of.len();
    let features = fedser_report::FeatureInfo {
        set: ctx.pipeline.features.set_name().into(),
        count: ctx.pipeline.features.names().len(),
        reference_count: ctx.pipeline.features.reference_count(),
    };
    // The report folder holds only this stage's outputs: clear old plots.
    if dir.exists() {
        for e in std::fs::read_dir(dir)?.flatten() {
            if e.path().is_file() {
                std::fs::remove_file(e.path())?;
            }
        }
    }
    let rp = &ctx.pipeline.report;
    let mut seeds = BTreeMap::new();
    if ctx.opts.corpus.is_none() {
        seeds.insert("synth.seed".to_owned(), ctx.pipeline.synth.seed);
    }
    seeds.insert("partition.seed".to_owned(), ctx.pipeline.partition.seed);
    seeds.insert("report.seed".to_owned(), rp.seed);
    if let Some(f) = ctx.pipeline.train.federated_enabled() {
        seeds.insert("train.federated.seed".to_owned(), f.seed);
    }
    // Upstream stages' last runs, in pipeline order (this stage's own entry
    // is written after it finishes).
    let stages = crate::StageName::ALL
        .iter()
        .filter_map(|s| {
            let e = ctx.lock.stages.get(s.as_str())?;
            Some(fedser_report::StageTiming {
                stage: s.as_str().to_owned(),
                seconds: e.seconds,
                finished_unix: e.finished_unix,
                key: e.key.clone(),
            })
        })
        .collect();
    let pipeline = ctx.opts.pipeline_path.display().to_string();
    let predictions = cache.join("train").join("predictions.parquet");
    let experiments = cache.join("train").join("experiments.json");
    let fed_predictions = cache.join("federate").join("predictions.parquet");
    let fed_experiments = cache.join("federate").join("experiments.json");
    let mut sources = vec![fedser_report::Source { predictions: &predictions, experiments: &experiments }];
    if ctx.pipeline.train.federated_enabled().is_some() {
        sources.push(fedser_report::Source { predictions: &fed_predictions, experiments: &fed_experiments });
    }
    let inputs = fedser_report::ReportInputs {
        sources,
        privacy: Vec::new(),
        corpus,
        features,
        sex: sex_of,
        pipeline: pipeline.clone(),
        provenance: fedser_report::Provenance {
            pipeline,
            code_version: code_version(),
            seeds,
            bootstrap: None,
            stages,
        },
        bootstrap: fedser_report::Bootstrap { resamples: rp.bootstrap_resamples, level: rp.ci_level, seed: rp.seed },
        title: rp.title.clone(),
    };
    Ok(fedser_report::run(&inputs, dir)?)
}

/// `fedser <version>` plus the git commit the binary was built from, when
/// the build saw one (`FEDSER_GIT_COMMIT`, set by fedser-pipeline's build
/// script).
fn code_version() -> String {
    match option_env!("FEDSER_GIT_COMMIT") {
        Some(c) if !c.is_empty() => format!("fedser {} (git {c})", env!("CARGO_PKG_VERSION")),
        _ => format!("fedser {}", env!("CARGO_PKG_VERSION")),
    }
}
