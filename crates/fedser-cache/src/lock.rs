use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{atomic_write, CacheError, Result};

/// Version of the lock-file layout and key scheme. A new scheme is a new
/// namespace: entries written under another schema are simply misses.
pub const LOCK_SCHEMA: u32 = 1;

/// `cache/fedser.lock`: one entry per stage, like `dvc.lock`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockFile {
    /// [`LOCK_SCHEMA`] of the writer.
    pub lock_schema: u32,
    /// Hash algorithm of every digest.
    pub algo: String,
    /// Stage name -> entry (sorted).
    #[serde(default)]
    pub stages: BTreeMap<String, StageEntry>,
}

impl Default for LockFile {
    fn default() -> Self {
        Self { lock_schema: LOCK_SCHEMA, algo: "blake3".into(), stages: BTreeMap::new() }
    }
}

/// What a stage was run with and what it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageEntry {
    /// The stage key.
    pub key: String,
    /// The stage's recipe version.
    pub version: u32,
    /// BLAKE3 of the canonical params JSON.
    pub params_hash: String,
    /// The fully resolved params (defaults included).
    pub params: toml::Table,
    /// Inputs with their digests.
    pub deps: Vec<DepRecord>,
    /// Outputs with their digests.
    pub outs: Vec<OutRecord>,
    /// Wall time of the stage, seconds.
    pub seconds: f64,
    /// Unix time the stage finished.
    pub finished_unix: u64,
    /// Free-form figures the stage reported (clips, rejects, ...).
    #[serde(default)]
    pub info: BTreeMap<String, String>,
}

/// An input of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepRecord {
    /// What it is (`corpus`, `ingest:manifest.parquet`).
    pub name: String,
    /// Path relative to the cache root, or a description for external inputs.
    pub path: String,
    /// Content digest.
    pub digest: String,
    /// For folders: number of files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
}

/// An output of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutRecord {
    /// Path relative to the cache root, `/`-separated.
    pub path: String,
    /// Size in bytes (for folders: total over files).
    pub size: u64,
    /// Content digest (for folders: the directory digest).
    pub blake3: String,
}

impl LockFile {
    /// Reads the lock file; a missing file is an empty lock, and a lock of
    /// another schema is treated as empty (every stage a miss).
    ///
    /// # Errors
    /// [`CacheError::Parse`] when the file exists but is not a lock file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(CacheError::io("cannot read", path, e)),
        };
        let lock: Self = toml::from_str(&text)
            .map_err(|e| CacheError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        if lock.lock_schema != LOCK_SCHEMA || lock.algo != "blake3" {
            return Ok(Self::default());
        }
        Ok(lock)
    }

    /// Writes the lock file atomically.
    ///
    /// # Errors
    /// [`CacheError::Io`] or [`CacheError::Parse`] (serialisation).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self)
            .map_err(|e| CacheError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
        atomic_write(path, text.as_bytes())
    }
}
