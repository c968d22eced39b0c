use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{atomic_write, CacheError, Result};

/// A BLAKE3 digest as lowercase hex.
pub type Digest = String;

/// BLAKE3 of a byte slice, as hex.
#[must_use]
pub fn hash_bytes(bytes: &[u8]) -> Digest {
    blake3::hash(bytes).to_hex().to_string()
}

/// BLAKE3 of a file's raw bytes, streamed.
///
/// # Errors
/// [`CacheError::Io`] naming the file.
pub fn hash_file(path: &Path) -> Result<Digest> {
    let mut file = File::open(path).map_err(|e| CacheError::io("cannot read", path, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| CacheError::io("cannot read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().to_hex().to_string())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StateEntry {
    size: u64,
    mtime_ns: i128,
    inode: u64,
    digest: Digest,
}

/// Remembers `(path, size, mtime_ns, inode) -> digest` so unchanged files are
/// not rehashed. It is a shortcut only: a key never contains an mtime, and a
/// file whose stat changed is rehashed, so `touch` costs one hash, not a rerun.
/// Files modified within the last two seconds are not remembered (their mtime
/// may not yet be distinguishable from a later write).
#[derive(Debug)]
pub struct StateDb {
    path: PathBuf,
    entries: Mutex<BTreeMap<String, StateEntry>>,
    changed: Mutex<bool>,
}

impl StateDb {
    /// Loads the state file, or starts empty if it is missing or unreadable
    /// (a damaged state file only costs rehashing).
    #[must_use]
    pub fn load(path: &Path) -> Self {
        let entries = fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Self { path: path.to_path_buf(), entries: Mutex::new(entries), changed: Mutex::new(false) }
    }

    /// Writes the state file atomically if anything changed.
    ///
    /// # Errors
    /// [`CacheError::Io`].
    pub fn save(&self) -> Result<()> {
        let mut changed = self.changed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !*changed {
            return Ok(());
        }
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bytes = serde_json::to_vec(&*entries)
            .map_err(|e| CacheError::Parse { path: self.path.clone(), message: e.to_string() })?;
        atomic_write(&self.path, &bytes)?;
        *changed = false;
        Ok(())
    }

    /// The digest of `path`, from the state if its stat is unchanged.
    ///
    /// # Errors
    /// [`CacheError::Io`] naming the file.
    pub fn digest(&self, path: &Path) -> Result<Digest> {
        let meta = fs::metadata(path).map_err(|e| CacheError::io("cannot stat", path, e))?;
        let key = path.to_string_lossy().into_owned();
        let mtime_ns = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        {
            let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(e) = entries.get(&key) {
                if e.size == meta.len() && e.mtime_ns == mtime_ns && e.inode == meta.ino() {
                    return Ok(e.digest.clone());
                }
            }
        }
        let digest = hash_file(path)?;
        let now_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
        if now_ns - mtime_ns > 2_000_000_000 {
            let entry = StateEntry { size: meta.len(), mtime_ns, inode: meta.ino(), digest: digest.clone() };
            self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, entry);
            *self.changed.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = true;
        }
        Ok(digest)
    }
}

/// The digest of a set of files: BLAKE3 over the sorted `(relative path,
/// file digest)` list (like REAPI's canonical `Directory`), so it changes
/// when a file is added, removed, renamed or edited, and never with mtimes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirDigest {
    /// Merkle digest.
    pub digest: Digest,
    /// Number of files.
    pub files: usize,
    /// Per file: relative `/`-separated path and digest, sorted by path.
    #[serde(skip)]
    pub entries: Vec<(String, Digest)>,
}

/// Lists every regular file under `root` whose relative path passes
/// `include`, hashes them in parallel (through `state`), and returns the
/// directory digest. Temp debris (`*.tmp-*`) is never included.
///
/// # Errors
/// [`CacheError::Io`] naming the folder or file.
pub fn dir_digest(state: &StateDb, root: &Path, include: &(dyn Fn(&str) -> bool + Sync)) -> Result<DirDigest> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| CacheError::io("cannot list", &dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| CacheError::io("cannot list", &dir, e))?;
            let path = entry.path();
            let ft = entry.file_type().map_err(|e| CacheError::io("cannot stat", &path, e))?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() || ft.is_symlink() {
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/");
                if !rel.contains(".tmp-") && include(&rel) {
                    files.push((rel, path));
                }
            }
        }
    }
    files.sort();
    let entries: Vec<(String, Digest)> =
        files.par_iter().map(|(rel, path)| Ok((rel.clone(), state.digest(path)?))).collect::<Result<_>>()?;
    let mut hasher = blake3::Hasher::new();
    for (rel, d) in &entries {
        hasher.update(rel.as_bytes());
        hasher.update(&[0]);
        hasher.update(d.as_bytes());
        hasher.update(b"\n");
    }
    Ok(DirDigest { digest: hasher.finalize().to_hex().to_string(), files: entries.len(), entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_digest_ignores_mtime_and_sees_content() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDb::load(&dir.path().join("state.json"));
        let root = dir.path().join("c");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(root.join("a.wav"), b"aaa").unwrap();
        fs::write(root.join("sub/b.wav"), b"bbb").unwrap();
        let all = |_: &str| true;
        let d1 = dir_digest(&state, &root, &all).unwrap();
        assert_eq!(d1.files, 2);
        assert_eq!(d1.entries[1].0, "sub/b.wav");
        // rewrite identical bytes (new mtime): same digest
        fs::write(root.join("a.wav"), b"aaa").unwrap();
        assert_eq!(dir_digest(&state, &root, &all).unwrap().digest, d1.digest);
        fs::write(root.join("a.wav"), b"aab").unwrap();
        assert_ne!(dir_digest(&state, &root, &all).unwrap().digest, d1.digest);
        let wav_only = |r: &str| r.ends_with("a.wav");
        assert_eq!(dir_digest(&state, &root, &wav_only).unwrap().files, 1);
    }
}
