//! fedser-train
