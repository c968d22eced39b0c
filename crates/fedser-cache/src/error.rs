use std::path::PathBuf;

/// Errors of the cache layer. Every variant carries the path involved.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// An I/O operation failed.
    #[error("{op} `{}`", .path.display())]
    Io {
        /// What was being done ("cannot read", "cannot write", ...).
        op: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The lock file or state file could not be parsed.
    #[error("cannot parse `{}`: {message}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A Parquet file could not be read or written.
    #[error("parquet error in `{}`", .path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// An Arrow batch could not be built.
    #[error("arrow error for `{}`", .path.display())]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: arrow_schema::ArrowError,
    },
    /// A table lacks a column or has it with another type.
    #[error("table `{}`: column `{column}` {problem}", .path.display())]
    Column {
        /// The table.
        path: PathBuf,
        /// The column.
        column: String,
        /// "is missing", "is not Utf8", ...
        problem: String,
    },
    /// Another process holds the cache and we were asked not to wait.
    #[error("another fedser run holds the cache `{}` ({holder})", .path.display())]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// Who holds it (pid, start time), as recorded in the lock file.
        holder: String,
    },
}

impl CacheError {
    /// An I/O error of `op` ("cannot read", ...) on `path`.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { op, path: path.into(), source }
    }
}

/// Result with [`CacheError`].
pub type Result<T, E = CacheError> = std::result::Result<T, E>;
