//! Column names shared by the stages' Parquet tables.

/// Key columns that open the feature table, in order (as openSMILE's tables in
/// `shared/data/dev-sample-opensmile`).
pub const FEATURE_KEYS: [&str; 6] = ["file", "actor", "sentence", "emotion", "level", "duration_s"];
/// File name of the clip (`1001_DFA_ANG_XX.wav`).
pub const FILE: &str = "file";
/// Actor id (int32).
pub const ACTOR: &str = "actor";
/// Emotion code.
pub const EMOTION: &str = "emotion";
