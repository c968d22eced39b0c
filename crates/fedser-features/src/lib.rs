//! fedser-features: openSMILE-compatible acoustic features in Rust.
pub mod dsp;
