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

/// One feature set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeatureSet {
    /// openSMILE ComParE_2016 functionals (6,373).
    Compare16,
    /// openSMILE eGeMAPSv02 functionals (88).
    Egemaps02,
}

impl FeatureSet {
    /// Name in tables, reports and cache keys.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Compare16 => "compare16",
            Self::Egemaps02 => "egemaps02",
        }
    }

    /// Column names, in openSMILE's order.
    #[must_use]
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Self::Compare16 => dsp::compare16_names(),
            Self::Egemaps02 => dsp::egemaps_names(),
        }
    }

    /// Column count of openSMILE's full set.
    #[must_use]
    pub fn reference_count(self) -> usize {
        match self {
            Self::Compare16 => 6373,
            Self::Egemaps02 => 88,
        }
    }

    /// Recipe version of the set's extractor.
    #[must_use]
    pub fn version(self) -> u32 {
        match self {
            Self::Compare16 => dsp::COMPARE16_VERSION,
            Self::Egemaps02 => dsp::EGEMAPS02_VERSION,
        }
    }

    fn clip_key(self, content_hash: &str) -> String {
        let names = self.names();
        let mut h = blake3::Hasher::new();
        h.update(format!("{}:{}:{}:{}:", self.name(), self.version(), VERSION, names.len()).as_bytes());
        for n in names {
            h.update(n.as_bytes());
            h.update(b"\n");
        }
        h.update(content_hash.as_bytes());
        h.finalize().to_hex().to_string()
    }
}

/// The `set` key: one set, or both at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum FeatureSetName {
    /// openSMILE ComParE_2016 functionals.
    #[default]
    Compare16,
    /// openSMILE eGeMAPSv02 functionals.
    Egemaps02,
    /// Both: `features.parquet` holds ComParE_2016, `egemaps02.parquet` eGeMAPSv02.
    Both,
}

/// `[features]` params.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `set` | `"compare16"` | feature set(s) | `compare16`, `egemaps02`, `both` |
/// | `lld` | `false` | also write the frame-level ComParE LLD table `lld.parquet` | bool |
///
/// Output files: `features.parquet` holds the primary set (the one train
/// and report read: ComParE_2016 for `compare16` and `both`, eGeMAPSv02 for
/// `egemaps02`); with `both`, `egemaps02.parquet` holds eGeMAPSv02 as well.
/// Both tables have the same key columns and rows.
///
/// With `lld = true`, `lld.parquet` is a long table, one row per clip and
/// frame: `file, actor (i32), frame (i32), start_s (f64, frame * 0.01)`,
/// then the 65 ComParE_2016 LLDs and their 65 deltas (Float32, named and
/// ordered as openSMILE's LLD CSV, [`dsp::lld_frame_names`]). A clip has
/// `N60 + 3` frames (none if shorter than one 60 ms frame); the 65 LLD
/// columns are null in its last two frames, where openSMILE's LLD output has
/// deltas only (spec section 8). The values are exactly the contours the
/// functionals are computed from. `lld` is part of the stage key (only when
/// true, so existing caches stay valid); the LLDs are cached per clip like
/// the functionals and the table is written clip by clip (memory does not
/// grow with the corpus).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureParams {
    /// Feature set(s).
    pub set: FeatureSetName,
    /// Write the frame-level LLD table `lld.parquet`.
    #[serde(skip_serializing_if = "is_false")]
    pub lld: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if signature
fn is_false(b: &bool) -> bool {
    !*b
}

/// File name of the frame-level LLD table (`[features] lld = true`).
pub const LLD_FILE: &str = "lld.parquet";

/// Rows per row group (and per in-memory chunk) of the feature tables,
/// which are written uncompressed ([`table::Codec::None`]). With zstd the
/// writer held one compression context per column of the open row group,
/// so the stage peaked at 676 MB with 1,024-row groups and 421 MB with 256
/// on the 7,442-clip synthetic corpus (extraction included); and 256-row
/// groups gave the ComParE table 30 x 6,379 column chunks whose footer
/// parses to 84 MB in every reader. Uncompressed, 2,048-row groups cost
/// neither (measured figures in `table::Codec::None`).
const FEATURE_ROW_GROUP: usize = 2048;

/// Rows per row group of the LLD table.
const LLD_ROW_GROUP: usize = 16_384;

/// File name of the primary table.
pub const PRIMARY_FILE: &str = "features.parquet";

impl FeatureParams {
    /// Checks the params. Every value of the only key (`set`) is valid once
    /// parsed, so this never fails today; it keeps the stage's contract.
    ///
    /// # Errors
    /// None yet.
    pub fn validate(&self) -> Result<(), ParamError> {
        Ok(())
    }

    /// The sets extracted, primary first, with their output file names.
    #[must_use]
    pub fn outputs(&self) -> Vec<(FeatureSet, &'static str)> {
        match self.set {
            FeatureSetName::Compare16 => vec![(FeatureSet::Compare16, PRIMARY_FILE)],
            FeatureSetName::Egemaps02 => vec![(FeatureSet::Egemaps02, PRIMARY_FILE)],
            FeatureSetName::Both => {
                vec![(FeatureSet::Compare16, PRIMARY_FILE), (FeatureSet::Egemaps02, "egemaps02.parquet")]
            }
        }
    }

    /// All files the stage writes: the set tables ([`FeatureParams::outputs`])
    /// and, with `lld = true`, [`LLD_FILE`].
    #[must_use]
    pub fn files(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.outputs().iter().map(|o| o.1).collect();
        if self.lld {
            v.push(LLD_FILE);
        }
        v
    }

    /// The primary set (the one in `features.parquet`).
    #[must_use]
    pub fn primary(&self) -> FeatureSet {
        self.outputs()[0].0
    }

    /// Column names of the primary set, as computed by this build.
    #[must_use]
    pub fn names(&self) -> &'static [&'static str] {
        self.primary().names()
    }

    /// Name of the primary set for reports.
    #[must_use]
    pub fn set_name(&self) -> &'static str {
        self.primary().name()
    }

    /// Column count of openSMILE's full primary set.
    #[must_use]
    pub fn reference_count(&self) -> usize {
        self.primary().reference_count()
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
    /// Rows of the LLD table (0 without `lld = true`).
    pub lld_frames: usize,
}

fn clip_path(clip_dir: &Path, key: &str) -> PathBuf {
    clip_dir.join(&key[..2]).join(format!("{key}.f32"))
}

/// Per-clip key of the frame-level LLDs (ComParE recipe, column names,
/// clip content).
fn lld_clip_key(content_hash: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(format!("lld:{}:{}:{}:", dsp::COMPARE16_VERSION, VERSION, dsp::N_LLD_COLUMNS).as_bytes());
    for n in dsp::lld_frame_names() {
        h.update(n.as_bytes());
        h.update(b"\n");
    }
    h.update(content_hash.as_bytes());
    h.finalize().to_hex().to_string()
}

fn lld_path(clip_dir: &Path, key: &str) -> PathBuf {
    clip_dir.join(&key[..2]).join(format!("{key}.lld.f32"))
}

/// Bytes of one LLD frame in the per-clip cache.
const LLD_ROW_BYTES: u64 = 4 * dsp::N_LLD_COLUMNS as u64;

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for x in v {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes
}

fn read_clip_cache(path: &Path, n: usize) -> Option<Vec<f32>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() != n * 4 {
        return None;
    }
    Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// Per-thread extractors, created on first use.
#[derive(Default)]
struct Extractors {
    compare16: Option<dsp::Compare16>,
    egemaps02: Option<dsp::Egemaps>,
}

impl Extractors {
    /// The functionals of `set` and, with `lld`, the frame-level LLDs (from
    /// the same ComParE contours when `set` is ComParE).
    fn extract(&mut self, set: FeatureSet, x: &[f32], lld: bool) -> (Vec<f32>, Option<dsp::LldFrames>) {
        match set {
            FeatureSet::Compare16 => {
                let ex = self.compare16.get_or_insert_with(dsp::Compare16::new);
                if lld {
                    let (row, frames) = ex.extract_with_lld(x);
                    (row, Some(frames))
                } else {
                    (ex.extract(x), None)
                }
            }
            FeatureSet::Egemaps02 => (self.egemaps02.get_or_insert_with(dsp::Egemaps::new).extract(x), None),
        }
    }

    fn lld_frames(&mut self, x: &[f32]) -> dsp::LldFrames {
        self.compare16.get_or_insert_with(dsp::Compare16::new).lld_frames(x)
    }
}

/// Runs the features stage.
///
/// * `manifest`: ingest's table; `audio_dir`: where its files are;
/// * `clip_dir`: the per-clip cache (`cache/features/clips`), keyed by the
///   clip's content hash and the recipe of each set, so only new or changed
///   clips are extracted (each clip is decoded once for all sets);
/// * `out_dir`: where the tables go ([`FeatureParams::outputs`]);
/// * `progress(done, total)` is called as clips finish.
///
/// # Errors
/// [`FeaturesError`].
pub fn run(
    params: &FeatureParams,
    manifest: &Path,
    audio_dir: &Path,
    clip_dir: &Path,
    out_dir: &Path,
    meta: &[(&str, String)],
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<FeaturesSummary, FeaturesError> {
    let m = table::read_parquet(
        manifest,
        Some(&["file", "actor", "sentence", "emotion", "level", "duration_s", "content_hash"]),
    )?;
    let files = table::strings(manifest, &m, "file")?;
    let hashes = table::strings(manifest, &m, "content_hash")?;
    let outputs = params.outputs();
    let sets: Vec<FeatureSet> = outputs.iter().map(|o| o.0).collect();
    let keys: Vec<Vec<String>> = sets.iter().map(|s| hashes.iter().map(|h| s.clip_key(h)).collect()).collect();
    let lld_keys: Vec<String> = if params.lld { hashes.iter().map(|h| lld_clip_key(h)).collect() } else { Vec::new() };
    let is_cached = |si: usize, i: usize| {
        std::fs::metadata(clip_path(clip_dir, &keys[si][i]))
            .is_ok_and(|md| md.len() == 4 * sets[si].names().len() as u64)
    };
    let lld_cached = |i: usize| {
        std::fs::metadata(lld_path(clip_dir, &lld_keys[i])).is_ok_and(|md| md.len().is_multiple_of(LLD_ROW_BYTES))
    };
    // Per clip: the sets to extract and whether its LLDs are missing.
    let todo: Vec<(usize, Vec<usize>, bool)> = (0..files.len())
        .into_par_iter()
        .filter_map(|i| {
            let missing: Vec<usize> = (0..sets.len()).filter(|&si| !is_cached(si, i)).collect();
            let lld = params.lld && !lld_cached(i);
            (!missing.is_empty() || lld).then_some((i, missing, lld))
        })
        .collect();
    let total = todo.len();
    tracing::info!("features: {} clips cached, {total} to extract", files.len() - total);
    let done = std::sync::atomic::AtomicUsize::new(0);
    todo.par_iter().try_for_each_init(Extractors::default, |ex, (i, missing, lld)| {
        let path = audio_dir.join(&files[*i]);
        let clip = fedser_audio::read_clip(&path)
            .map_err(|e| FeaturesError::Clip { path: path.clone(), reason: e.to_string() })?;
        let mut frames: Option<dsp::LldFrames> = None;
        for &si in missing {
            let want_lld = *lld && frames.is_none();
            let (v, f) = ex.extract(sets[si], &clip.samples, want_lld);
            if f.is_some() {
                frames = f;
            }
            fedser_cache::atomic_write(&clip_path(clip_dir, &keys[si][*i]), &f32_bytes(&v))?;
        }
        if *lld {
            let f = frames.unwrap_or_else(|| ex.lld_frames(&clip.samples));
            fedser_cache::atomic_write(&lld_path(clip_dir, &lld_keys[*i]), &f32_bytes(&f.values))?;
        }
        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(d, total);
        Ok::<(), FeaturesError>(())
    })?;
    let actors: Vec<i32> = table::ints(manifest, &m, "actor")?.into_iter().map(|a| a.unwrap_or(0) as i32).collect();
    let sentences = table::strings(manifest, &m, "sentence")?;
    let emotions = table::strings(manifest, &m, "emotion")?;
    let levels = table::strings(manifest, &m, "level")?;
    let durations = table::floats(manifest, &m, "duration_s")?;
    let key_cols = |r: std::ops::Range<usize>| -> Vec<(String, Column)> {
        vec![
            ("file".into(), Column::Str(files[r.clone()].to_vec())),
            ("actor".into(), Column::I32(actors[r.clone()].to_vec())),
            ("sentence".into(), Column::Str(sentences[r.clone()].to_vec())),
            ("emotion".into(), Column::Str(emotions[r.clone()].to_vec())),
            ("level".into(), Column::Str(levels[r.clone()].to_vec())),
            ("duration_s".into(), Column::F64(durations[r].to_vec())),
        ]
    };
    let mut columns_total = 0;
    for (si, (set, file)) in outputs.iter().enumerate() {
        let names = set.names();
        let n = names.len();
        columns_total += n;
        let out = out_dir.join(file);
        let mut meta: Vec<(&str, String)> = meta.to_vec();
        meta.push(("fedser.feature_set", set.name().to_string()));
        // One row group at a time: the cached rows of FEATURE_ROW_GROUP clips
        // transposed into columns and streamed out, so memory does not grow
        // with the corpus (an empty manifest still gives a table with the schema).
        let n_rows = files.len();
        let mut w: Option<table::ParquetStream> = None;
        let mut start = 0;
        loop {
            let end = (start + FEATURE_ROW_GROUP).min(n_rows);
            let mut columns: Vec<Vec<f32>> = (0..n).map(|_| Vec::with_capacity(end - start)).collect();
            for key in &keys[si][start..end] {
                let p = clip_path(clip_dir, key);
                let row = read_clip_cache(&p, n).ok_or_else(|| FeaturesError::Clip {
                    path: p.clone(),
                    reason: "per-clip feature cache missing or truncated after extraction".into(),
                })?;
                for (col, v) in columns.iter_mut().zip(row) {
                    col.push(v);
                }
            }
            let mut cols = key_cols(start..end);
            for (name, col) in names.iter().zip(columns) {
                cols.push(((*name).to_owned(), Column::F32(col)));
            }
            let b = table::batch(&out, cols)?;
            let stream = match &mut w {
                Some(s) => s,
                None => w.insert(table::ParquetStream::create_with(
                    &out,
                    b.schema(),
                    &meta,
                    FEATURE_ROW_GROUP,
                    table::Codec::None,
                )?),
            };
            stream.write(&b)?;
            start = end;
            if start >= n_rows {
                break;
            }
        }
        if let Some(w) = w {
            w.finish()?;
        }
    }
    let lld_out = out_dir.join(LLD_FILE);
    let lld_frames = if params.lld {
        let mut meta: Vec<(&str, String)> = meta.to_vec();
        meta.push(("fedser.feature_set", "compare16_lld".to_string()));
        write_lld_table(&lld_out, clip_dir, &files, &actors, &lld_keys, &meta)?
    } else {
        // A table of an earlier `lld = true` run no longer belongs to this stage's output.
        if lld_out.exists() {
            std::fs::remove_file(&lld_out)
                .map_err(|e| FeaturesError::Clip { path: lld_out.clone(), reason: format!("cannot remove: {e}") })?;
        }
        0
    };
    Ok(FeaturesSummary { clips: files.len(), extracted: total, columns: columns_total, lld_frames })
}

/// Columns of one clip's LLD frames (`frames` empty: a schema-only batch).
fn lld_columns(file: &str, actor: i32, frames: &[f32], names: &[String]) -> Vec<(String, Column)> {
    let nc = dsp::N_LLD_COLUMNS;
    let rows = frames.len() / nc;
    let mut cols = vec![
        ("file".to_string(), Column::Str(vec![file.to_string(); rows])),
        ("actor".to_string(), Column::I32(vec![actor; rows])),
        ("frame".to_string(), Column::I32((0..rows as i32).collect())),
        ("start_s".to_string(), Column::F64((0..rows).map(|t| t as f64 / 100.0).collect())),
    ];
    for (j, name) in names.iter().enumerate() {
        let v = frames.iter().skip(j).step_by(nc).copied();
        // LLD columns: null where openSMILE has no value (NaN in the cache);
        // delta columns always have values.
        let col = if j < nc / 2 {
            Column::OptF32(v.map(|x| (!x.is_nan()).then_some(x)).collect())
        } else {
            Column::F32(v.collect())
        };
        cols.push((name.clone(), col));
    }
    cols
}

/// Streams the per-clip LLD caches into `out` clip by clip; returns the rows.
fn write_lld_table(
    out: &Path,
    clip_dir: &Path,
    files: &[String],
    actors: &[i32],
    keys: &[String],
    meta: &[(&str, String)],
) -> Result<usize, FeaturesError> {
    let names = dsp::lld_frame_names();
    let schema = table::batch(out, lld_columns("", 0, &[], &names))?.schema();
    let mut w = table::ParquetStream::create(out, schema, meta, LLD_ROW_GROUP)?;
    let mut rows = 0usize;
    for ((file, &actor), key) in files.iter().zip(actors.iter()).zip(keys.iter()) {
        let p = lld_path(clip_dir, key);
        let bytes =
            std::fs::read(&p).ok().filter(|b| (b.len() as u64).is_multiple_of(LLD_ROW_BYTES)).ok_or_else(|| {
                FeaturesError::Clip {
                    path: p.clone(),
                    reason: "per-clip LLD cache missing or truncated after extraction".into(),
                }
            })?;
        if bytes.is_empty() {
            continue;
        }
        let frames: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        rows += frames.len() / dsp::N_LLD_COLUMNS;
        w.write(&table::batch(out, lld_columns(file, actor, &frames, &names))?)?;
    }
    w.finish()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Wrap {
        features: FeatureParams,
    }

    fn parse(s: &str) -> Result<FeatureParams, toml::de::Error> {
        toml::from_str::<Wrap>(s).map(|w| w.features)
    }

    #[test]
    fn set_key_selects_outputs() {
        let both = parse("[features]\nset = \"both\"").expect("both");
        let o: Vec<(&str, &str)> = both.outputs().iter().map(|(s, f)| (s.name(), *f)).collect();
        assert_eq!(o, vec![("compare16", "features.parquet"), ("egemaps02", "egemaps02.parquet")]);
        let e = parse("[features]\nset = \"egemaps02\"").expect("egemaps02");
        assert_eq!(e.names().len(), 88);
        assert_eq!(e.outputs()[0].1, PRIMARY_FILE);
        assert_eq!(parse("[features]").expect("default").names().len(), 6373);
        assert!(parse("[features]\nset = \"gemaps\"").is_err());
        assert!(parse("[features]\nsets = [\"compare16\"]").is_err());
    }

    #[test]
    fn lld_key_is_hashed_only_when_set() {
        let t = |s: &str| toml::Table::try_from(parse(s).expect("parse")).expect("table");
        assert!(!t("[features]").contains_key("lld"), "default params serialise as before");
        assert_eq!(t("[features]\nlld = true").get("lld"), Some(&toml::Value::Boolean(true)));
        let p = parse("[features]\nset = \"egemaps02\"\nlld = true").expect("lld");
        assert_eq!(p.files(), vec![PRIMARY_FILE, LLD_FILE]);
        assert_eq!(parse("[features]").expect("default").files(), vec![PRIMARY_FILE]);
    }

    #[test]
    fn clip_keys_differ_by_set() {
        assert_ne!(FeatureSet::Compare16.clip_key("abc"), FeatureSet::Egemaps02.clip_key("abc"));
    }
}
