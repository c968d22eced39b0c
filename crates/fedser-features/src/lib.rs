//! fedser-features: openSMILE's ComParE_2016 and eGeMAPSv02 functionals in Rust.
//!
//! # Usage
//! The [`dsp`] module holds the extractors ([`dsp::Compare16`],
//! [`dsp::Egemaps`] after `shared/spec/egemaps.md`): framing,
//! windows, a reused FFT plan, the low-level descriptors, smoothing, deltas
//! and functionals, following `shared/spec/compare16.md`. The [`run`]
//! function is the pipeline stage: it reads the manifest, extracts every clip
//! that is not yet in the per-clip cache (in parallel, one extractor per
//! worker thread, each clip decoded once for all sets) and writes
//! `features.parquet` (the primary set) and, with `set = "both"`,
//! `egemaps02.parquet`; with `lld = true` also the frame-level LLD table
//! `lld.parquet` (see [`FeatureParams`]).
//!
//! # Params
//! See [`FeatureParams`].
//!
//! # Output schema
//! `features.parquet` (and `egemaps02.parquet`): `file, actor (i32),
//! sentence, emotion, level, duration_s (f64)`, then one Float32 column per
//! feature, named and ordered exactly as openSMILE names them
//! ([`dsp::compare16_names`], 6,373; [`dsp::egemaps_names`], 88), the same
//! layout as openSMILE's dev-sample tables; the Parquet key-value metadata
//! `fedser.feature_set` names the set.
//!
//! `lld.parquet` (`[features] lld = true`): `file, actor (i32), frame
//! (i32), start_s (f64)`, then the 65 ComParE_2016 LLDs (nullable Float32)
//! and their 65 deltas (Float32), one row per clip and frame, named as in
//! openSMILE's LLD CSV ([`dsp::lld_frame_names`]); see [`FeatureParams`].
//!
//! # Normalization
//! Samples on openSMILE's scale (16-bit `s / 32767`), see `fedser-audio`.
//!
//! # Frame alignment
//! Frames start at sample `160 * t` (left-aligned), no partial frames.

pub mod dsp;
mod stage;

pub use stage::{
    run, FeatureParams, FeatureSet, FeatureSetName, FeaturesError, FeaturesSummary, LLD_FILE, PRIMARY_FILE, VERSION,
};
