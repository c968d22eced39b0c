//! fedser-inspect: a quick look at the pipeline's Parquet tables, for
//! `fedser inspect`.
//!
//! [`inspect`] resolves a stage or table name under the cache folder (or
//! takes a `.parquet` path), scans it lazily with polars and renders, as
//! text:
//!
//! * the table's name and path, its row count (and the filtered count) and
//!   its schema (compact for wide tables: first and last names plus dtype
//!   counts);
//! * the first rows (`--head N`, at most [`MAX_HEAD_COLUMNS`] columns, or
//!   `$POLARS_FMT_MAX_COLS`), unless `--describe` or `--by` is given;
//! * `--describe [GLOB]`: count, mean, std, min and max of the matching
//!   numeric columns;
//! * `--by COL[,COL]`: rows and means per group (at most
//!   [`MAX_GROUP_MEANS`] mean columns).
//!
//! `--filter` ([`filter`]) restricts the rows of every section and of the
//! `--csv` export; `--columns` ([`glob`]) selects columns and keeps the key
//! columns ([`fedser_core::columns::FEATURE_KEYS`]) unless a `!glob`
//! excludes them. Only the parquet metadata and the needed columns/rows are
//! read: the schema and head of the 7,442 x 6,379 ComParE table take well
//! under a second.
#![warn(unreachable_pub)]

pub mod filter;
pub mod glob;
mod text;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use fedser_core::columns::FEATURE_KEYS;
use polars::prelude::*;

use crate::glob::GlobList;
use crate::text::{cell, fmt_float, Table};

/// Default `--head`.
pub const DEFAULT_HEAD: usize = 10;
/// Columns shown by the head when `$POLARS_FMT_MAX_COLS` is not set.
pub const MAX_HEAD_COLUMNS: usize = 10;
/// Mean columns shown (and computed) by `--by`.
pub const MAX_GROUP_MEANS: usize = 6;
/// Schemas up to this many columns are listed one column a line.
pub const MAX_LISTED_COLUMNS: usize = 24;

/// Stage/table names and their files: (name, stage folder, file).
pub const TABLES: [(&str, &str, &str); 10] = [
    ("ingest", "ingest", "manifest.parquet"),
    ("manifest", "ingest", "manifest.parquet"),
    ("rejects", "ingest", "rejects.parquet"),
    ("features", "features", "features.parquet"),
    ("egemaps", "features", "egemaps02.parquet"),
    ("partition", "partition", "partition.parquet"),
    ("train", "train", "predictions.parquet"),
    ("predictions", "train", "predictions.parquet"),
    ("federate", "federate", "predictions.parquet"),
    ("comparison", "report", "comparison.parquet"),
];

/// `rounds/<experiment>` names a federated experiment's per-round table
/// (`cache/federate/rounds/<experiment>.parquet`; `<experiment>.privacy`
/// for its privacy rounds).
const ROUNDS_PREFIX: &str = "rounds/";

const VALID: &str = "ingest (= manifest), rejects, features, egemaps, partition, train (= predictions), federate, \
     comparison, rounds/<federated experiment>[.privacy], or a path to a .parquet file";

/// Errors of `fedser inspect`; each names the table or file.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Neither a known table name nor a Parquet file.
    #[error("unknown table `{}`: valid names are {VALID}", .path.display())]
    Unknown {
        /// What was asked for.
        path: PathBuf,
    },
    /// A known table whose file is not there (stage not run yet), or a
    /// missing file.
    #[error("{what} `{}` does not exist{hint}; valid names are {VALID}", .path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// `table features` or `file`.
        what: String,
        /// How to make it.
        hint: String,
    },
    /// `--filter` does not parse or does not fit the table.
    #[error("bad --filter for `{}`: {message}", .path.display())]
    Filter {
        /// The table.
        path: PathBuf,
        /// One line naming the column or operator.
        message: String,
    },
    /// `--columns`, `--describe` or `--by` names nothing usable.
    #[error("{message} in `{}`", .path.display())]
    Columns {
        /// The table.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// polars could not read or compute.
    #[error("cannot read `{}`: {error}", .path.display())]
    Polars {
        /// The table.
        path: PathBuf,
        /// The cause.
        error: PolarsError,
    },
    /// Writing the CSV export failed.
    #[error("cannot write `{}`: {error}", .path.display())]
    Write {
        /// The output (or its temporary file).
        path: PathBuf,
        /// The cause.
        error: String,
    },
}

/// What to show.
#[derive(Debug, Clone)]
pub struct Options {
    /// A stage/table name (see [`TABLES`]) or a `.parquet` path.
    pub target: String,
    /// Cache folder the names resolve under.
    pub cache: PathBuf,
    /// Comma-separated column globs (`!glob` excludes).
    pub columns: Option<String>,
    /// `COL OP VALUE [&& ...]`.
    pub filter: Option<String>,
    /// Describe the numeric columns matching these globs.
    pub describe: Option<String>,
    /// Comma-separated group columns.
    pub by: Option<String>,
    /// Rows of the head (0: none).
    pub head: usize,
    /// Write the filtered, selected table here as CSV.
    pub csv: Option<PathBuf>,
}

impl Options {
    /// Defaults for `target` under `cache`: schema and a 10-row head.
    pub fn new(target: impl Into<String>, cache: impl Into<PathBuf>) -> Self {
        Self {
            target: target.into(),
            cache: cache.into(),
            columns: None,
            filter: None,
            describe: None,
            by: None,
            head: DEFAULT_HEAD,
            csv: None,
        }
    }
}

/// Resolves a table name under `cache`, or checks a `.parquet` path.
///
/// # Errors
/// [`InspectError::Unknown`] / [`InspectError::Missing`].
pub fn resolve(target: &str, cache: &Path) -> Result<PathBuf, InspectError> {
    if let Some((name, dir, file)) = TABLES.iter().find(|(n, ..)| *n == target) {
        let path = cache.join(dir).join(file);
        if path.is_file() {
            return Ok(path);
        }
        return Err(InspectError::Missing {
            path,
            what: format!("table {name}"),
            hint: format!(" (run `fedser run --until {dir}` first)"),
        });
    }
    let path = PathBuf::from(target);
    if path.is_file() {
        return Ok(path);
    }
    if let Some(exp) = target.strip_prefix(ROUNDS_PREFIX).filter(|e| !e.is_empty() && !e.contains('/')) {
        let path = cache.join("federate").join("rounds").join(format!("{exp}.parquet"));
        if path.is_file() {
            return Ok(path);
        }
        return Err(InspectError::Missing {
            path,
            what: format!("rounds table of {exp}"),
            hint: " (a federated experiment id from results.json; run `fedser run --until federate` first)".to_owned(),
        });
    }
    let looks_like_path =
        target.ends_with(".parquet") || target.contains(std::path::MAIN_SEPARATOR) || target.contains('/');
    if looks_like_path || path.exists() {
        let what = if path.exists() { "file (not a regular file)" } else { "file" };
        return Err(InspectError::Missing { path, what: what.to_owned(), hint: String::new() });
    }
    Err(InspectError::Unknown { path })
}

/// Runs `fedser inspect` and returns the text for stdout (the CSV export,
/// if asked for, is written before this returns).
///
/// # Errors
/// See [`InspectError`]; every error is one line naming the table.
pub fn inspect(opts: &Options) -> Result<String, InspectError> {
    let path = resolve(&opts.target, &opts.cache)?;
    let pe = |error: PolarsError| InspectError::Polars { path: path.clone(), error };
    let cols_err = |message: String| InspectError::Columns { path: path.clone(), message };

    let scan = scan(&path).map_err(pe)?;
    let schema = scan.clone().collect_schema().map_err(pe)?;
    let names: Vec<&str> = schema.iter_names().map(PlSmallStr::as_str).collect();

    // --filter
    let predicate = match &opts.filter {
        Some(f) => Some(
            filter::parse(f)
                .and_then(|p| p.to_expr(&schema))
                .map_err(|message| InspectError::Filter { path: path.clone(), message })?,
        ),
        None => None,
    };
    let lf = match &predicate {
        Some(p) => scan.clone().filter(p.clone()),
        None => scan.clone(),
    };

    // --columns
    let selected: Vec<&str> = match &opts.columns {
        Some(list) => {
            let g = GlobList::parse(list);
            if let Some(p) = g.unmatched(names.iter().copied()) {
                return Err(cols_err(format!("--columns `{p}` matches no column")));
            }
            let keep = |n: &str| (g.included(n) || FEATURE_KEYS.contains(&n)) && !g.excluded(n);
            names.iter().copied().filter(|n| keep(n)).collect()
        }
        None => names.clone(),
    };
    if selected.is_empty() {
        return Err(cols_err("--columns selects no column".to_owned()));
    }

    // --by (validated before any work)
    let by: Vec<&str> = opts.by.as_deref().map(split_list).unwrap_or_default();
    if let Some(b) = by.iter().find(|b| schema.get(b).is_none()) {
        return Err(cols_err(format!("unknown column `{b}` in --by")));
    }

    let mut out = String::new();
    let name = if TABLES.iter().any(|(n, ..)| *n == opts.target) || opts.target.starts_with(ROUNDS_PREFIX) {
        format!("{} ({})", opts.target, path.display())
    } else {
        path.display().to_string()
    };
    let total = count(scan.clone()).map_err(pe)?;
    line(&mut out, format!("table    {name}"));
    match (&opts.filter, &predicate) {
        (Some(f), Some(p)) => {
            let n = count(scan.clone().filter(p.clone())).map_err(pe)?;
            line(&mut out, format!("rows     {n} of {total} (filter: {})", f.trim()));
        }
        _ => line(&mut out, format!("rows     {total}")),
    }
    schema_section(&mut out, &schema, &selected);

    if let Some(d) = &opts.describe {
        out.push('\n');
        describe_section(&mut out, &lf, &schema, &selected, d, &cols_err, &pe)?;
    }
    if !by.is_empty() {
        out.push('\n');
        let user_columns = opts.columns.is_some();
        group_section(&mut out, &lf, &schema, &selected, &by, user_columns).map_err(pe)?;
    }
    if opts.describe.is_none() && by.is_empty() && opts.head > 0 {
        out.push('\n');
        head_section(&mut out, &lf, &selected, opts.head).map_err(pe)?;
    }
    if let Some(csv) = &opts.csv {
        let (rows, cols) = write_csv(&lf, &selected, csv, &pe)?;
        out.push('\n');
        line(&mut out, format!("wrote {rows} rows x {cols} columns to {}", csv.display()));
    }
    Ok(out)
}

fn line(out: &mut String, s: String) {
    out.push_str(&s);
    out.push('\n');
}

fn split_list(s: &str) -> Vec<&str> {
    s.split(',').map(str::trim).filter(|e| !e.is_empty()).collect()
}

fn scan(path: &Path) -> PolarsResult<LazyFrame> {
    let p = PlRefPath::try_from_path(path)?;
    LazyFrame::scan_parquet(p, ScanArgsParquet::default())
}

fn count(lf: LazyFrame) -> PolarsResult<usize> {
    let df = lf.select([len()]).collect()?;
    let n = df.columns().first().and_then(|c| c.get(0).ok()).and_then(|v| v.extract::<u64>());
    Ok(n.unwrap_or(0) as usize)
}

fn schema_section(out: &mut String, schema: &Schema, selected: &[&str]) {
    let total = schema.len();
    let dtype = |n: &str| schema.get(n).map_or_else(|| "?".to_owned(), |d| d.to_string());
    let head = if selected.len() == total {
        format!("columns  {total}")
    } else {
        format!("columns  {} selected of {total}", selected.len())
    };
    if selected.len() <= MAX_LISTED_COLUMNS {
        line(out, head);
        let w = selected.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        for n in selected {
            line(out, format!("  {n:<w$}  {}", dtype(n)));
        }
        return;
    }
    let first: Vec<&str> = selected.iter().take(8).copied().collect();
    let last: Vec<&str> = selected[selected.len() - 4..].to_vec();
    line(out, format!("{head}: {} ... {}", first.join(", "), last.join(", ")));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for n in selected {
        *counts.entry(dtype(n)).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let parts: Vec<String> = counts.iter().map(|(d, n)| format!("{d} x {n}")).collect();
    line(out, format!("dtypes   {}", parts.join(", ")));
}

fn head_columns() -> usize {
    std::env::var("POLARS_FMT_MAX_COLS").ok().and_then(|v| v.trim().parse::<i64>().ok()).map_or(MAX_HEAD_COLUMNS, |n| {
        if n < 0 {
            usize::MAX
        } else {
            (n as usize).max(1)
        }
    })
}

fn head_section(out: &mut String, lf: &LazyFrame, selected: &[&str], n: usize) -> PolarsResult<()> {
    let cap = head_columns();
    let shown: Vec<&str> = selected.iter().take(cap).copied().collect();
    let df = lf.clone().select(shown.iter().map(|c| col(*c)).collect::<Vec<_>>()).limit(n as IdxSize).collect()?;
    let mut note = format!("head     {} rows", df.height());
    if shown.len() < selected.len() {
        note.push_str(&format!(
            ", first {} of {} columns (choose with --columns, or set POLARS_FMT_MAX_COLS)",
            shown.len(),
            selected.len()
        ));
    }
    line(out, note);
    let mut t = Table::new(shown.iter().map(|s| (*s).to_owned()).collect());
    for r in 0..df.height() {
        t.row(df.columns().iter().map(|c| c.get(r).map(|v| cell(&v)).unwrap_or_default()).collect());
    }
    out.push_str(&t.render());
    Ok(())
}

fn numeric(schema: &Schema, n: &str) -> bool {
    schema.get(n).is_some_and(DataType::is_primitive_numeric)
}

#[allow(clippy::too_many_arguments)]
fn describe_section(
    out: &mut String,
    lf: &LazyFrame,
    schema: &Schema,
    selected: &[&str],
    globs: &str,
    cols_err: &dyn Fn(String) -> InspectError,
    pe: &dyn Fn(PolarsError) -> InspectError,
) -> Result<(), InspectError> {
    let g = GlobList::parse(globs);
    let numeric_selected: Vec<&str> = selected.iter().copied().filter(|n| numeric(schema, n)).collect();
    if let Some(p) = g.unmatched(numeric_selected.iter().copied()) {
        return Err(cols_err(format!("--describe `{p}` matches no numeric column")));
    }
    let cols: Vec<&str> = numeric_selected.into_iter().filter(|n| g.selects(n)).collect();
    if cols.is_empty() {
        return Err(cols_err("--describe selects no numeric column".to_owned()));
    }
    let mut exprs = Vec::with_capacity(cols.len() * 5);
    for (k, c) in cols.iter().enumerate() {
        let x = col(*c).cast(DataType::Float64);
        exprs.push(col(*c).count().cast(DataType::Float64).alias(format!("{k}:count")));
        exprs.push(x.clone().mean().alias(format!("{k}:mean")));
        exprs.push(x.clone().std(1).alias(format!("{k}:std")));
        exprs.push(x.clone().min().alias(format!("{k}:min")));
        exprs.push(x.max().alias(format!("{k}:max")));
    }
    let df = lf.clone().select(exprs).collect().map_err(pe)?;
    let stat =
        |i: usize| -> Option<f64> { df.columns().get(i).and_then(|c| c.get(0).ok()).and_then(|v| v.extract::<f64>()) };
    line(out, format!("describe {} numeric columns", cols.len()));
    let mut t = Table::new(["column", "dtype", "count", "mean", "std", "min", "max"].map(str::to_owned).to_vec());
    t.right_from(2);
    for (k, c) in cols.iter().enumerate() {
        let f = |j: usize| stat(5 * k + j).map_or_else(|| "null".to_owned(), fmt_float);
        let n = stat(5 * k).map_or_else(|| "0".to_owned(), |v| format!("{v:.0}"));
        let dt = schema.get(c).map(ToString::to_string).unwrap_or_default();
        t.row(vec![(*c).to_owned(), dt, n, f(1), f(2), f(3), f(4)]);
    }
    out.push_str(&t.render());
    Ok(())
}

fn group_section(
    out: &mut String,
    lf: &LazyFrame,
    schema: &Schema,
    selected: &[&str],
    by: &[&str],
    user_columns: bool,
) -> PolarsResult<()> {
    // `actor` is an id: never averaged.
    let candidates: Vec<&str> =
        if user_columns { selected.to_vec() } else { schema.iter_names().map(PlSmallStr::as_str).collect() };
    let means: Vec<&str> = candidates
        .into_iter()
        .filter(|n| numeric(schema, n) && !by.contains(n) && *n != fedser_core::columns::ACTOR)
        .collect();
    let shown: Vec<&str> = means.iter().take(MAX_GROUP_MEANS).copied().collect();
    let mut aggs = vec![len().alias("n")];
    aggs.extend(shown.iter().map(|c| col(*c).cast(DataType::Float64).mean()));
    let df = lf
        .clone()
        .group_by(by.iter().map(|b| col(*b)).collect::<Vec<_>>())
        .agg(aggs)
        .sort(by.iter().map(|b| PlSmallStr::from(*b)).collect::<Vec<_>>(), SortMultipleOptions::default())
        .collect()?;
    let mut note = format!("by       {} ({} groups)", by.join(", "), df.height());
    if means.len() > shown.len() {
        note.push_str(&format!(
            "; means of the first {} of {} numeric columns (choose with --columns)",
            shown.len(),
            means.len()
        ));
    } else if !shown.is_empty() {
        note.push_str("; columns after n are means");
    }
    line(out, note);
    let mut header: Vec<String> = by.iter().map(|s| (*s).to_owned()).collect();
    header.push("n".to_owned());
    header.extend(shown.iter().map(|s| (*s).to_owned()));
    let mut t = Table::new(header);
    t.right_from(by.len());
    for r in 0..df.height() {
        t.row(df.columns().iter().map(|c| c.get(r).map(|v| cell(&v)).unwrap_or_default()).collect());
    }
    out.push_str(&t.render());
    Ok(())
}

fn write_csv(
    lf: &LazyFrame,
    selected: &[&str],
    out: &Path,
    pe: &dyn Fn(PolarsError) -> InspectError,
) -> Result<(usize, usize), InspectError> {
    let mut df = lf.clone().select(selected.iter().map(|c| col(*c)).collect::<Vec<_>>()).collect().map_err(pe)?;
    let mut tmp_name = out.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_else(|| "out.csv".into());
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    let werr = |path: &Path, error: String| InspectError::Write { path: path.to_path_buf(), error };
    let result = (|| -> Result<(), InspectError> {
        let mut file = File::create(&tmp).map_err(|e| werr(&tmp, e.to_string()))?;
        CsvWriter::new(&mut file).include_header(true).finish(&mut df).map_err(|e| werr(&tmp, e.to_string()))?;
        file.flush().map_err(|e| werr(&tmp, e.to_string()))?;
        file.sync_all().map_err(|e| werr(&tmp, e.to_string()))?;
        std::fs::rename(&tmp, out).map_err(|e| werr(out, e.to_string()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| (df.height(), df.width()))
}

#[cfg(test)]
mod tests;
