//! fedser-cache: content-addressed stage cache, lock file, atomic writes and
//! Parquet table helpers.
//!
//! The rules (see `cache/README.md` for the layout):
//!
//! * A stage's **key** is the BLAKE3 hash of the lock schema, the stage name,
//!   its recipe `VERSION`, its fully resolved params (canonical JSON) and the
//!   content digests of its inputs. Modification times never enter a key; they
//!   only let the [`StateDb`] skip rehashing files whose size, mtime and inode
//!   did not change.
//! * [`LockFile`] (`cache/fedser.lock`) records, per stage, the key, params,
//!   inputs, outputs (with digests) and timing. A stage is fresh only when its
//!   key matches **and** every recorded output exists with its recorded digest.
//! * Every write goes to a temp file in the same folder and is renamed into
//!   place ([`atomic_write`]); the stage's lock entry is removed before it runs
//!   and written after all outputs are in place, so a killed run is never
//!   mistaken for a finished one.
//! * One run at a time: [`CacheGuard`] takes an advisory lock on
//!   `cache/.fedser/lock`.
#![warn(unreachable_pub)]

mod atomic;
mod digest;
mod error;
mod guard;
mod lock;
mod plan;
pub mod table;

pub use atomic::{atomic_write, atomic_write_with, remove_stale_temps, temp_path};
pub use digest::{dir_digest, hash_bytes, hash_file, Digest, DirDigest, StateDb};
pub use error::{CacheError, Result};
pub use guard::CacheGuard;
pub use lock::{DepRecord, LockFile, OutRecord, StageEntry, LOCK_SCHEMA};
pub use plan::{freshness, params_diff, stage_key, DirtyReason, Freshness};
