//! fedser-partition
