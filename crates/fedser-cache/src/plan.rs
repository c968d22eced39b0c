use std::fmt;
use std::path::Path;

use crate::{DepRecord, StageEntry, StateDb, LOCK_SCHEMA};

/// Why a stage must run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirtyReason {
    /// The stage never ran (or its entry was removed by an interrupted run).
    NoLockEntry,
    /// The recipe version changed.
    VersionBumped {
        /// Recorded version.
        from: u32,
        /// Current version.
        to: u32,
    },
    /// Params keys whose values differ (dotted).
    ParamsChanged {
        /// The keys.
        keys: Vec<String>,
    },
    /// An input's content changed.
    DepChanged {
        /// The input's name.
        name: String,
        /// Files added, removed or changed (for folders; first few).
        detail: String,
    },
    /// The set of inputs changed.
    DepSetChanged,
    /// A recorded output is missing.
    OutMissing {
        /// Its path.
        path: String,
    },
    /// A recorded output was modified after the stage wrote it.
    OutModified {
        /// Its path.
        path: String,
    },
    /// An upstream stage must run first.
    UpstreamDirty {
        /// Its name.
        stage: String,
    },
    /// `--force`.
    Forced,
}

impl fmt::Display for DirtyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoLockEntry => write!(f, "never ran (no lock entry)"),
            Self::VersionBumped { from, to } => write!(f, "recipe version changed {from} -> {to}"),
            Self::ParamsChanged { keys } => write!(f, "params changed: {}", keys.join(", ")),
            Self::DepChanged { name, detail } if detail.is_empty() => write!(f, "input `{name}` changed"),
            Self::DepChanged { name, detail } => write!(f, "input `{name}` changed ({detail})"),
            Self::DepSetChanged => write!(f, "set of inputs changed"),
            Self::OutMissing { path } => write!(f, "output `{path}` missing"),
            Self::OutModified { path } => write!(f, "output `{path}` modified"),
            Self::UpstreamDirty { stage } => write!(f, "upstream stage `{stage}` must run first"),
            Self::Forced => write!(f, "forced"),
        }
    }
}

/// A stage's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freshness {
    /// Key and outputs match the lock entry.
    Fresh,
    /// Must run.
    Dirty(DirtyReason),
}

/// The stage key: BLAKE3 of the lock schema, name, version, canonical params
/// JSON and the inputs' digests (in the given order, which callers keep fixed).
#[must_use]
pub fn stage_key(name: &str, version: u32, params_json: &str, deps: &[DepRecord]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(format!("fedser-lock-schema={LOCK_SCHEMA}\nstage={name}\nversion={version}\nparams=").as_bytes());
    h.update(params_json.as_bytes());
    for d in deps {
        h.update(format!("\ndep {}={}", d.name, d.digest).as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// Dotted keys whose values differ between two params tables (added,
/// removed or changed), sorted.
#[must_use]
pub fn params_diff(old: &toml::Table, new: &toml::Table) -> Vec<String> {
    fn walk(prefix: &str, a: Option<&toml::Value>, b: Option<&toml::Value>, out: &mut Vec<String>) {
        match (a, b) {
            (Some(toml::Value::Table(x)), Some(toml::Value::Table(y))) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&p, x.get(k), y.get(k), out);
                }
            }
            (a, b) if a == b => {}
            _ => out.push(prefix.to_owned()),
        }
    }
    let mut out = Vec::new();
    walk("", Some(&toml::Value::Table(old.clone())), Some(&toml::Value::Table(new.clone())), &mut out);
    out
}

/// Compares a stage's current key with its lock entry and checks its
/// outputs' digests. `cache_root` resolves the entry's output paths.
#[must_use]
pub fn freshness(
    entry: Option<&StageEntry>,
    key: &str,
    version: u32,
    params: &toml::Table,
    deps: &[DepRecord],
    cache_root: &Path,
    state: &StateDb,
) -> Freshness {
    let Some(e) = entry else { return Freshness::Dirty(DirtyReason::NoLockEntry) };
    if e.key != key {
        if e.version != version {
            return Freshness::Dirty(DirtyReason::VersionBumped { from: e.version, to: version });
        }
        let keys = params_diff(&e.params, params);
        if !keys.is_empty() {
            return Freshness::Dirty(DirtyReason::ParamsChanged { keys });
        }
        let names_old: Vec<&str> = e.deps.iter().map(|d| d.name.as_str()).collect();
        let names_new: Vec<&str> = deps.iter().map(|d| d.name.as_str()).collect();
        if names_old != names_new {
            return Freshness::Dirty(DirtyReason::DepSetChanged);
        }
        for (o, n) in e.deps.iter().zip(deps) {
            if o.digest != n.digest {
                let detail = match (o.files, n.files) {
                    (Some(a), Some(b)) if a != b => format!("{a} -> {b} files"),
                    _ => String::new(),
                };
                return Freshness::Dirty(DirtyReason::DepChanged { name: n.name.clone(), detail });
            }
        }
        // Same params/deps/version but another key: the hash scheme changed.
        return Freshness::Dirty(DirtyReason::DepSetChanged);
    }
    for out in &e.outs {
        let p = cache_root.join(&out.path);
        if !p.exists() {
            return Freshness::Dirty(DirtyReason::OutMissing { path: out.path.clone() });
        }
        let digest =
            if p.is_dir() { crate::dir_digest(state, &p, &|_| true).map(|d| d.digest) } else { state.digest(&p) };
        match digest {
            Ok(d) if d == out.blake3 => {}
            _ => return Freshness::Dirty(DirtyReason::OutModified { path: out.path.clone() }),
        }
    }
    Freshness::Fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_nested_keys() {
        let a: toml::Table = toml::from_str("x = 1\n[t]\nalpha = 1.0\nk = 'a'\n").unwrap();
        let b: toml::Table = toml::from_str("x = 1\n[t]\nalpha = 2.0\nk = 'a'\nnew = true\n").unwrap();
        assert_eq!(params_diff(&a, &b), vec!["t.alpha".to_owned(), "t.new".to_owned()]);
        assert!(params_diff(&a, &a).is_empty());
    }

    #[test]
    fn key_depends_on_everything() {
        let d = |dg: &str| vec![DepRecord { name: "m".into(), path: "p".into(), digest: dg.into(), files: None }];
        let k = stage_key("s", 1, "{}", &d("a"));
        assert_ne!(k, stage_key("s", 2, "{}", &d("a")));
        assert_ne!(k, stage_key("s", 1, "{\"a\":1}", &d("a")));
        assert_ne!(k, stage_key("s", 1, "{}", &d("b")));
        assert_ne!(k, stage_key("t", 1, "{}", &d("a")));
        assert_eq!(k, stage_key("s", 1, "{}", &d("a")));
    }
}
