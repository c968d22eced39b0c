//! fedser-pipeline
