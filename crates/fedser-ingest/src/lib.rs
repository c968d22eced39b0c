//! fedser-ingest: scan a CREMA-D-layout corpus, validate every WAV, join the
//! demographics, and write `manifest.parquet` and `rejects.parquet`.
//!
//! Every file in the audio folder ends up in exactly one of the two tables:
//! accepted clips in the manifest, everything else in the rejects table with
//! a one-line reason. A bad file never stops the run.
//!
//! # Output schema
//! `manifest.parquet` (sorted by `file`): `file, actor (i32), sentence,
//! emotion, level, sex?, age? (i32), race?, ethnicity?, sample_rate,
//! channels, bits (i32), format, samples (i64), duration_s, rms_dbfs, peak,
//! clipped_fraction, zero_fraction (f64), content_hash` (BLAKE3 of the file).
//! `rejects.parquet`: `file, reason`.
#![warn(unreachable_pub)]

mod demographics;
mod params;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fedser_cache::table::{self, Column};
use fedser_core::ClipName;
use rayon::prelude::*;
use serde::Serialize;

pub use demographics::{read_demographics, Demographics, Person};
pub use params::IngestParams;

/// Recipe version of the ingest stage: bump when the manifest's values change.
pub const VERSION: u32 = 2;

/// Errors that stop ingest (bad individual files never do: they are rejects).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The corpus folder does not exist or is not a folder.
    #[error("corpus folder `{}` does not exist", .0.display())]
    NoCorpus(PathBuf),
    /// The demographics sheet is missing.
    #[error("demographics sheet `{}` not found (give it with `[ingest] demographics`)", .0.display())]
    NoDemographics(PathBuf),
    /// The demographics sheet is malformed.
    #[error("`{}` line {line}: {message}", .path.display())]
    Demographics {
        /// The sheet.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// No clip was accepted.
    #[error("corpus `{}` has no usable clips ({rejected} files rejected)", .path.display())]
    EmptyCorpus {
        /// The audio folder.
        path: PathBuf,
        /// How many files were rejected.
        rejected: usize,
    },
    /// Reading the folder or writing a table failed.
    #[error(transparent)]
    Cache(#[from] fedser_cache::CacheError),
}

/// Result with [`IngestError`].
pub type Result<T, E = IngestError> = std::result::Result<T, E>;

/// Where the audio and the demographics of a corpus are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorpusLayout {
    /// Folder of WAV files.
    pub audio_dir: PathBuf,
    /// `VideoDemographics.csv`.
    pub demographics: PathBuf,
}

/// Resolves a corpus root: either the release root (with `AudioWAV/` and
/// `VideoDemographics.csv`) or a folder of WAVs, with the sheet given
/// explicitly or found beside or above it.
///
/// # Errors
/// [`IngestError::NoCorpus`], [`IngestError::NoDemographics`].
pub fn resolve_layout(root: &Path, demographics: Option<&Path>) -> Result<CorpusLayout> {
    if !root.is_dir() {
        return Err(IngestError::NoCorpus(root.to_path_buf()));
    }
    let audio_dir = if root.join("AudioWAV").is_dir() { root.join("AudioWAV") } else { root.to_path_buf() };
    let sheet = match demographics {
        Some(p) => p.to_path_buf(),
        None => {
            let candidates = [root.join("VideoDemographics.csv"), audio_dir.join("VideoDemographics.csv")];
            let parent = root.parent().map(|p| p.join("VideoDemographics.csv"));
            candidates
                .into_iter()
                .chain(parent)
                .find(|p| p.is_file())
                .unwrap_or_else(|| root.join("VideoDemographics.csv"))
        }
    };
    if !sheet.is_file() {
        return Err(IngestError::NoDemographics(sheet));
    }
    Ok(CorpusLayout { audio_dir, demographics: sheet })
}

/// Figures of one ingest run (also printed as the run summary).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IngestSummary {
    /// Accepted clips.
    pub clips: usize,
    /// Distinct actors among them.
    pub actors: usize,
    /// Rejected or ignored files.
    pub rejected: usize,
    /// Total accepted audio, seconds.
    pub audio_seconds: f64,
    /// Accepted clips per emotion code.
    pub by_emotion: BTreeMap<String, usize>,
    /// Accepted clips per sex (`unknown` when the actor is not in the sheet).
    pub by_sex: BTreeMap<String, usize>,
    /// Rejects per reason (the reason with file-specific numbers removed).
    pub rejects_by_reason: BTreeMap<String, usize>,
    /// Accepted clips flagged as mostly digital silence (> 50 % zeros).
    pub flagged_silent: usize,
    /// Accepted clips flagged as heavily clipped (> 1 % of samples).
    pub flagged_clipped: usize,
}

struct Accepted {
    file: String,
    name: ClipName,
    clip_rate: u32,
    channels: u16,
    bits: u16,
    format: &'static str,
    samples: usize,
    duration_s: f64,
    levels: fedser_audio::Levels,
    hash: String,
}

/// The audio files a corpus folder holds: `(file name, BLAKE3)` for every
/// regular file directly in `audio_dir` (as listed by the pipeline's
/// [`fedser_cache::dir_digest`], so nothing is hashed twice).
pub type FileList<'a> = &'a [(String, String)];

/// Validates every file, joins demographics and writes the two tables into
/// `out_dir` (atomically). `stage_meta` goes into the Parquet key-value
/// metadata.
///
/// # Errors
/// [`IngestError`] for a bad sheet, an empty result, or a failed write.
pub fn run(
    params: &IngestParams,
    layout: &CorpusLayout,
    files: FileList<'_>,
    out_dir: &Path,
    stage_meta: &[(&str, String)],
) -> Result<IngestSummary> {
    let people = read_demographics(&layout.demographics)?;
    let results: Vec<std::result::Result<Accepted, (String, String)>> =
        files.par_iter().map(|(file, hash)| check_file(params, &layout.audio_dir, file, hash)).collect();
    let mut accepted = Vec::new();
    let mut rejects: Vec<(String, String)> = Vec::new();
    for r in results {
        match r {
            Ok(a) => accepted.push(a),
            Err(rej) => rejects.push(rej),
        }
    }
    accepted.sort_by(|a, b| a.file.cmp(&b.file));
    rejects.sort();
    for (file, reason) in &rejects {
        tracing::warn!("rejected `{}`: {reason}", layout.audio_dir.join(file).display());
    }
    if accepted.is_empty() {
        return Err(IngestError::EmptyCorpus { path: layout.audio_dir.clone(), rejected: rejects.len() });
    }
    let mut summary = IngestSummary { clips: accepted.len(), rejected: rejects.len(), ..Default::default() };
    let mut missing_actors = std::collections::BTreeSet::new();
    let mut actors = std::collections::BTreeSet::new();
    for a in &accepted {
        actors.insert(a.name.actor);
        summary.audio_seconds += a.duration_s;
        *summary.by_emotion.entry(a.name.emotion.clone()).or_default() += 1;
        let sex = people.get(&a.name.actor).and_then(|p| p.sex.clone()).unwrap_or_else(|| "unknown".into());
        *summary.by_sex.entry(sex).or_default() += 1;
        if !people.contains_key(&a.name.actor) {
            missing_actors.insert(a.name.actor);
        }
        if a.levels.zero_fraction > 0.5 {
            summary.flagged_silent += 1;
            tracing::warn!("flagged `{}`: {:.0} % digital silence", a.file, a.levels.zero_fraction * 100.0);
        }
        if a.levels.clipped_fraction > 0.01 {
            summary.flagged_clipped += 1;
            tracing::warn!("flagged `{}`: {:.1} % clipped samples", a.file, a.levels.clipped_fraction * 100.0);
        }
    }
    for actor in &missing_actors {
        tracing::warn!(
            "actor {actor} is not in `{}`: its clips are kept with empty demographics",
            layout.demographics.display()
        );
    }
    summary.actors = actors.len();
    for (_, reason) in &rejects {
        *summary.rejects_by_reason.entry(reason_class(reason)).or_default() += 1;
    }
    write_tables(&accepted, &rejects, &people, out_dir, stage_meta)?;
    Ok(summary)
}

/// Strips numbers from a reason so reasons group (`clip shorter than ...`).
fn reason_class(reason: &str) -> String {
    reason.split(['(', ':']).next().unwrap_or(reason).trim().to_owned()
}

fn check_file(
    params: &IngestParams,
    dir: &Path,
    file: &str,
    hash: &str,
) -> std::result::Result<Accepted, (String, String)> {
    let rej = |reason: String| (file.to_owned(), reason);
    if !file.to_ascii_lowercase().ends_with(".wav") {
        return Err(rej("not a .wav file (ignored)".into()));
    }
    let name = ClipName::parse(file).map_err(|e| rej(format!("bad file name: {e}")))?;
    params.check_codes(&name).map_err(|e| rej(format!("bad file name: {e}")))?;
    let clip = fedser_audio::read_clip(&dir.join(file)).map_err(|e| rej(e.to_string()))?;
    let duration_s = clip.duration_s();
    if duration_s < params.min_duration_s {
        return Err(rej(format!(
            "clip shorter than the minimum: {duration_s:.3} s < {} s (`ingest.min_duration_s`)",
            params.min_duration_s
        )));
    }
    Ok(Accepted {
        file: file.to_owned(),
        levels: fedser_audio::levels(&clip.samples, params.clip_level),
        samples: clip.samples.len(),
        duration_s,
        clip_rate: clip.orig_rate,
        channels: clip.channels,
        bits: clip.bits,
        format: clip.format,
        name,
        hash: hash.to_owned(),
    })
}

fn write_tables(
    accepted: &[Accepted],
    rejects: &[(String, String)],
    people: &Demographics,
    out_dir: &Path,
    meta: &[(&str, String)],
) -> Result<()> {
    let person = |a: &Accepted| people.get(&a.name.actor);
    let s = |f: &dyn Fn(&Accepted) -> String| Column::Str(accepted.iter().map(f).collect());
    let f = |f: &dyn Fn(&Accepted) -> f64| Column::F64(accepted.iter().map(f).collect());
    let i = |f: &dyn Fn(&Accepted) -> i32| Column::I32(accepted.iter().map(f).collect());
    let manifest_path = out_dir.join("manifest.parquet");
    let cols = vec![
        ("file".to_owned(), s(&|a| a.file.clone())),
        ("actor".to_owned(), i(&|a| a.name.actor as i32)),
        ("sentence".to_owned(), s(&|a| a.name.sentence.clone())),
        ("emotion".to_owned(), s(&|a| a.name.emotion.clone())),
        ("level".to_owned(), s(&|a| a.name.level.clone())),
        ("sex".to_owned(), Column::OptStr(accepted.iter().map(|a| person(a).and_then(|p| p.sex.clone())).collect())),
        ("age".to_owned(), Column::OptI32(accepted.iter().map(|a| person(a).and_then(|p| p.age)).collect())),
        ("race".to_owned(), Column::OptStr(accepted.iter().map(|a| person(a).and_then(|p| p.race.clone())).collect())),
        (
            "ethnicity".to_owned(),
            Column::OptStr(accepted.iter().map(|a| person(a).and_then(|p| p.ethnicity.clone())).collect()),
        ),
        ("sample_rate".to_owned(), i(&|a| a.clip_rate as i32)),
        ("channels".to_owned(), i(&|a| i32::from(a.channels))),
        ("bits".to_owned(), i(&|a| i32::from(a.bits))),
        ("format".to_owned(), s(&|a| a.format.to_owned())),
        ("samples".to_owned(), Column::I64(accepted.iter().map(|a| a.samples as i64).collect())),
        ("duration_s".to_owned(), f(&|a| a.duration_s)),
        ("rms_dbfs".to_owned(), f(&|a| a.levels.rms_dbfs)),
        ("peak".to_owned(), f(&|a| a.levels.peak)),
        ("clipped_fraction".to_owned(), f(&|a| a.levels.clipped_fraction)),
        ("zero_fraction".to_owned(), f(&|a| a.levels.zero_fraction)),
        ("content_hash".to_owned(), s(&|a| a.hash.clone())),
    ];
    let b = table::batch(&manifest_path, cols)?;
    table::write_parquet(&manifest_path, &b, meta)?;
    let rejects_path = out_dir.join("rejects.parquet");
    let b = table::batch(
        &rejects_path,
        vec![
            ("file".to_owned(), Column::Str(rejects.iter().map(|r| r.0.clone()).collect())),
            ("reason".to_owned(), Column::Str(rejects.iter().map(|r| r.1.clone()).collect())),
        ],
    )?;
    table::write_parquet(&rejects_path, &b, meta)?;
    Ok(())
}

#[cfg(test)]
mod tests;
