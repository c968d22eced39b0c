//! fedser-ingest
