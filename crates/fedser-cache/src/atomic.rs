use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{CacheError, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temp path beside `path`: `<name>.tmp-<pid>-<n>`. Temp files never
/// carry a final name, so a killed writer leaves only `*.tmp-*` debris, which
/// [`remove_stale_temps`] deletes.
#[must_use]
pub fn temp_path(path: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes `bytes` to `path` atomically (temp file in the same folder, fsync,
/// rename). Creates the parent folder.
///
/// # Errors
/// [`CacheError::Io`] naming the path.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write_with(path, |w| w.write_all(bytes))
}

/// Like [`atomic_write`], with a writer callback.
///
/// # Errors
/// [`CacheError::Io`] naming the path.
pub fn atomic_write_with(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>) -> Result<()> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            fs::create_dir_all(parent).map_err(|e| CacheError::io("cannot create folder", parent, e))?;
        }
    }
    let tmp = temp_path(path);
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        let file = w.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(CacheError::io("cannot write", path, e));
    }
    Ok(())
}

/// Deletes `*.tmp-*` debris left by killed runs under `root` (recursively).
/// Only call while holding the [`crate::CacheGuard`]. Returns how many were removed.
pub fn remove_stale_temps(root: &Path) -> usize {
    let mut removed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if name.contains(".tmp-") {
                let ok = if is_dir { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
                if ok.is_ok() {
                    removed += 1;
                }
            } else if is_dir {
                stack.push(path);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_cleans_debris() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.txt");
        atomic_write(&p, b"hello").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"hello");
        let debris = temp_path(&p);
        fs::write(&debris, b"partial").unwrap();
        assert_eq!(remove_stale_temps(dir.path()), 1);
        assert!(!debris.exists());
        assert!(p.exists());
    }
}
