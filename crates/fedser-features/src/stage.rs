use std::path::{Path, PathBuf};

use fedser_cache::table::{self, Column};
use fedser_core::ParamError;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dsp;

/// Recipe version of the features stage (the table layout); the extractor's
/// own [`dsp::COMPARE16_VERSION`] is part of every key too.
pub const VERSION: u32 = 1;

/// Errors of the features stage.
#[derive(Debug, thiserror::Error)]
pub enum FeaturesError {
    /// Reading the manifest, the per-clip cache, or writing the table failed.
    #[error(transparent)]
    Cache(#[from] fedser_cache::CacheError),
    /// A clip accepted by ingest can no longer be decoded.
    #[error("cannot decode `{}`: {reason}", .path.display())]
    Clip {
        /// The clip.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Feature sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FeatureSetName {
    /// openSMILE ComParE_2016 functionals.
    #[default]
    Compare16,
}

/// `[features]` params.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `set` | `"compare16"` | feature set | `compare16` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureParams {
    /// Feature set.
    pub set: FeatureSetName,
}

impl FeatureParams {
    /// Checks the params. Every value of the only key (`set`) is valid once
    /// parsed, so this never fails today; it keeps the stage's contract.
    ///
    /// # Errors
    /// None yet.
    pub fn validate(&self) -> Result<(), ParamError> {
        Ok(())
    }

    /// Column names of the set, as computed by this build.
    #[must_use]
    pub fn names(&self) -> &'static [&'static str] {
        match self.set {
            FeatureSetName::Compare16 => dsp::compare16_names(),
        }
    }

    /// Name of the set for reports.
    #[must_use]
    pub fn set_name(&self) -> &'static str {
        match self.set {
            FeatureSetName::Compare16 => "compare16",
        }
    }

    /// Column count of openSMILE's full set.
    #[must_use]
    pub fn reference_count(&self) -> usize {
        match self.set {
            FeatureSetName::Compare16 => 6373,
        }
    }

    fn clip_key(&self, content_hash: &str) -> String {
        let names = self.names();
        let mut h = blake3::Hasher::new();
        h.update(format!("{}:{}:{}:{}:", self.set_name(), dsp::COMPARE16_VERSION, VERSION, names.len()).as_bytes());
        for n in names {
            h.update(n.as_bytes());
            h.update(b"\n");
        }
        h.update(content_hash.as_bytes());
        h.finalize().to_hex().to_string()
    }
}

/// Figures of a features run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeaturesSummary {
    /// Clips in the table.
    pub clips: usize,
    /// Clips extracted now (the rest came from the per-clip cache).
    pub extracted: usize,
    /// Feature columns.
    pub columns: usize,
}

fn clip_path(clip_dir: &Path, key: &str) -> PathBuf {
    clip_dir.join(&key[..2]).join(format!("{key}.f32"))
}

fn read_clip_cache(path: &Path, n: usize) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() != n * 4 {
        return None;
    }
    Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// Runs the features stage.
///
/// * `manifest`: ingest's table; `audio_dir`: where its files are;
/// * `clip_dir`: the per-clip cache (`cache/features/clips`), keyed by the
///   clip's content hash and the recipe, so only new or changed clips are
///   extracted;
/// * `progress(done, total)` is called as clips finish.
///
/// # Errors
/// [`FeaturesError`].
pub fn run(
    params: &FeatureParams,
    manifest: &Path,
    audio_dir: &Path,
    clip_dir: &Path,
    out: &Path,
    meta: &[(&str, String)],
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<FeaturesSummary, FeaturesError> {
    let m = table::read_parquet(
        manifest,
        Some(&["file", "actor", "sentence", "emotion", "level", "duration_s", "content_hash"]),
    )?;
    let files = table::strings(manifest, &m, "file")?;
    let hashes = table::strings(manifest, &m, "content_hash")?;
    let names = params.names();
    let n = names.len();
    let keys: Vec<String> = hashes.iter().map(|h| params.clip_key(h)).collect();
    let cached: Vec<Option<Vec<f32>>> = keys.par_iter().map(|k| read_clip_cache(&clip_path(clip_dir, k), n)).collect();
    let todo: Vec<usize> = (0..files.len()).filter(|&i| cached[i].is_none()).collect();
    let total = todo.len();
    tracing::info!("features: {} clips cached, {total} to extract", files.len() - total);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let fresh: Vec<(usize, Vec<f32>)> = todo
        .par_iter()
        .map_init(dsp::Compare16::new, |ex, &i| {
            let path = audio_dir.join(&files[i]);
            let clip = fedser_audio::read_clip(&path)
                .map_err(|e| FeaturesError::Clip { path: path.clone(), reason: e.to_string() })?;
            let v = ex.extract(&clip.samples);
            let mut bytes = Vec::with_capacity(v.len() * 4);
            for x in &v {
                bytes.extend_from_slice(&x.to_le_bytes());
            }
            fedser_cache::atomic_write(&clip_path(clip_dir, &keys[i]), &bytes)?;
            let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            progress(d, total);
            Ok((i, v))
        })
        .collect::<Result<_, FeaturesError>>()?;
    // Transpose straight into columns (no second copy of the whole table).
    let n_rows = files.len();
    let mut columns: Vec<Vec<f32>> = (0..n).map(|_| Vec::with_capacity(n_rows)).collect();
    let mut fresh = fresh.into_iter().peekable();
    for (i, c) in cached.into_iter().enumerate() {
        let row = match c {
            Some(v) => v,
            None => match fresh.next_if(|(j, _)| *j == i) {
                Some((_, v)) => v,
                None => vec![0.0; n],
            },
        };
        for (col, v) in columns.iter_mut().zip(row) {
            col.push(v);
        }
    }
    let mut cols: Vec<(String, Column)> = vec![
        ("file".into(), Column::Str(files.clone())),
        (
            "actor".into(),
            Column::I32(table::ints(manifest, &m, "actor")?.into_iter().map(|a| a.unwrap_or(0) as i32).collect()),
        ),
        ("sentence".into(), Column::Str(table::strings(manifest, &m, "sentence")?)),
        ("emotion".into(), Column::Str(table::strings(manifest, &m, "emotion")?)),
        ("level".into(), Column::Str(table::strings(manifest, &m, "level")?)),
        ("duration_s".into(), Column::F64(table::floats(manifest, &m, "duration_s")?)),
    ];
    for (name, col) in names.iter().zip(columns) {
        cols.push(((*name).to_owned(), Column::F32(col)));
    }
    let b = table::batch(out, cols)?;
    table::write_parquet(out, &b, meta)?;
    Ok(FeaturesSummary { clips: files.len(), extracted: total, columns: n })
}
