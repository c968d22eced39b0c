//! Validation errors for pipeline files.

use std::fmt;

/// A rejected pipeline parameter: which key, what was wrong, what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// Dotted key (`train.logistic.alpha`).
    pub key: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl ParamError {
    /// A new error for `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self { key: key.into(), message: message.into() }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for ParamError {}

/// Returns `Err(ParamError)` for `key` unless `ok`.
///
/// # Errors
/// When `ok` is false.
pub fn check(ok: bool, key: &str, message: impl FnOnce() -> String) -> Result<(), ParamError> {
    if ok {
        Ok(())
    } else {
        Err(ParamError::new(key, message()))
    }
}
