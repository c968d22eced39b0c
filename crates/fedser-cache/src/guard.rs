use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{CacheError, Result};

/// An advisory, exclusive lock on `<cache>/.fedser/lock`, held for the whole
/// run. The OS releases it when the process dies (even on `kill -9`), so a
/// crashed run never blocks the next one.
#[derive(Debug)]
pub struct CacheGuard {
    file: File,
    path: PathBuf,
}

impl CacheGuard {
    /// Takes the lock. If another process holds it, calls `on_wait` with the
    /// holder's description and blocks until it is released; with `wait =
    /// false` returns [`CacheError::Busy`] instead.
    ///
    /// # Errors
    /// [`CacheError::Io`] when the cache folder cannot be created or the lock
    /// file opened; [`CacheError::Busy`] when busy and not waiting.
    pub fn acquire(cache_root: &Path, wait: bool, on_wait: impl FnOnce(&str)) -> Result<Self> {
        let dir = cache_root.join(".fedser");
        fs::create_dir_all(&dir).map_err(|e| CacheError::io("cannot create cache folder", &dir, e))?;
        let path = dir.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| CacheError::io("cannot open", &path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path).unwrap_or_default().trim().to_owned();
                let holder = if holder.is_empty() { "unknown pid".to_owned() } else { holder };
                if !wait {
                    return Err(CacheError::Busy { path, holder });
                }
                on_wait(&holder);
                file.lock().map_err(|e| CacheError::io("cannot lock", &path, e))?;
            }
            Err(fs::TryLockError::Error(e)) => return Err(CacheError::io("cannot lock", &path, e)),
        }
        file.set_len(0).map_err(|e| CacheError::io("cannot write", &path, e))?;
        let _ = write!(file, "pid {}", std::process::id());
        let _ = file.flush();
        Ok(Self { file, path })
    }

    /// The lock file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CacheGuard {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}
