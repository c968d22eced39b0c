//! fedser-core: the vocabulary every stage shares, with no I/O.
//!
//! * [`Emotion`], [`Sex`] and [`ClipName`]: CREMA-D's file-name grammar
//!   `{ActorID}_{Sentence}_{Emotion}_{Level}.wav` and its code sets ([`codes`]).
//! * [`Protocol`]: the evaluation protocols (speaker-dependent 70:30,
//!   leave-one-speaker-out, group k-fold by actor).
//! * [`metrics`]: UAR, accuracy, macro-F1 and confusion matrices.
//! * [`ParamError`]: the one error type for pipeline-file validation, naming
//!   the key and the allowed values.
//! * [`columns`]: the names of the key columns of every Parquet table.
#![warn(unreachable_pub)]

pub mod codes;
pub mod columns;
pub mod metrics;
mod params;
mod types;

pub use params::{check, ParamError};
pub use types::{ClipName, ClipNameError, Emotion, Protocol, Sex, Training};
