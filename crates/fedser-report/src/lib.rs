//! fedser-report
