//! End-to-end tests of `fedser inspect`: the real binary on the tables of a
//! tiny pipeline (3 synthetic actors x 2 sentences), run once and shared by
//! the tests (each test only reads the cache).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

const BIN: &str = env!("CARGO_BIN_EXE_fedser");

const TINY: &str = r#"
[synth]
seed = 3
actors = 3
sentences = ["DFA", "IEO"]

[partition]
seed = 1
protocols = ["speaker_dependent_70_30"]

[train.centralized.logistic]
max_iterations = 50
"#;

/// The study folder, after `fedser run --until train`.
fn study() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.toml"), TINY).unwrap();
        let o = fedser(dir.path(), &["run", "--until", "train"]);
        assert!(o.status.success(), "run failed: {}", String::from_utf8_lossy(&o.stderr));
        dir
    })
    .path()
}

fn fedser(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .env_remove("CREMAD_DIR")
        .env_remove("POLARS_FMT_MAX_COLS")
        .args(["--pipeline", "p.toml", "--cache", "cache", "--quiet"])
        .args(args)
        .output()
        .unwrap()
}

/// `fedser inspect ARGS` must succeed; returns stdout.
fn inspect(args: &[&str]) -> String {
    let mut a = vec!["inspect"];
    a.extend_from_slice(args);
    let o = fedser(study(), &a);
    assert!(
        o.status.success(),
        "fedser {a:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// `fedser inspect ARGS` must fail with exit code 2 and one error line.
fn inspect_err(args: &[&str]) -> String {
    let mut a = vec!["inspect"];
    a.extend_from_slice(args);
    let o = fedser(study(), &a);
    assert_eq!(o.status.code(), Some(2), "fedser {a:?}: {o:?}");
    assert!(o.stdout.is_empty());
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

/// `rows     N` or `rows     N of M (...)`: N.
fn rows(out: &str) -> usize {
    let l = out.lines().find(|l| l.starts_with("rows ")).unwrap();
    l.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn features_path() -> PathBuf {
    study().join("cache/features/features.parquet")
}

/// Column `name` of a CSV produced by `fedser inspect --csv` (no quoted commas
/// in these tables).
fn csv_column(text: &str, name: &str) -> Vec<String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let i = header.iter().position(|h| *h == name).unwrap();
    lines.map(|l| l.split(',').nth(i).unwrap().to_owned()).collect()
}

#[test]
fn schema_row_count_and_head() {
    let out = inspect(&["features"]);
    assert!(out.starts_with("table    features ("), "{out}");
    assert_eq!(rows(&out), 36, "{out}");
    let cols = out.lines().find(|l| l.starts_with("columns ")).unwrap();
    assert!(cols.contains("file, actor, sentence, emotion, level, duration_s"), "{cols}");
    assert!(out.lines().any(|l| l.starts_with("dtypes ") && l.contains("f32 x")), "{out}");
    let head = out.lines().skip_while(|l| !l.starts_with("head ")).collect::<Vec<_>>();
    assert!(head[0].contains("10 rows") && head[0].contains("first 10 of"), "{out}");
    assert_eq!(head.len(), 1 + 1 + 10, "{out}");
    assert!(head[1].starts_with("file") && head[1].contains("duration_s"), "{out}");

    // The same file by path; --head 3.
    let out = inspect(&[features_path().to_str().unwrap(), "--head", "3"]);
    assert!(out.contains("head     3 rows"), "{out}");

    // Other tables.
    let m = inspect(&["manifest"]);
    assert_eq!(rows(&m), 36);
    assert!(m.contains("cache/ingest/manifest.parquet"), "{m}");
    let i = inspect(&["ingest", "--head", "0"]);
    assert!(i.starts_with("table    ingest (cache/ingest/manifest.parquet)"), "{i}");
    assert_eq!(i.lines().nth(1), m.lines().nth(1));
    let p = inspect(&["predictions"]);
    assert!(rows(&p) > 0, "{p}");
    assert!(inspect(&["train", "--head", "1"]).contains("predictions.parquet"));
    assert!(rows(&inspect(&["partition", "--head", "1"])) > 0);
}

#[test]
fn describe_matches_an_independent_mean() {
    let col = "pcm_RMSenergy_sma_amean";
    // Values from the CSV export, averaged here.
    let csv = study().join("rms.csv");
    inspect(&["features", "--columns", col, "--csv", csv.to_str().unwrap()]);
    let text = std::fs::read_to_string(&csv).unwrap();
    let v: Vec<f64> = csv_column(&text, col).iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(v.len(), 36);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);

    let out = inspect(&["features", "--describe", col]);
    let line = out.lines().find(|l| l.starts_with(col)).unwrap_or_else(|| panic!("{out}"));
    let f: Vec<&str> = line.split_whitespace().collect();
    // column dtype count mean std min max
    assert_eq!(f[2], "36", "{line}");
    let got: f64 = f[3].parse().unwrap();
    assert!((got - mean).abs() <= 1e-5 * mean.abs().max(1.0), "describe mean {got} vs {mean}");
    let got_min: f64 = f[5].parse().unwrap();
    assert!((got_min - min).abs() <= 1e-5 * min.abs().max(1.0), "describe min {got_min} vs {min}");
    // Default glob: every numeric column.
    let all = inspect(&["features", "--describe"]);
    assert!(all.contains("describe ") && all.lines().any(|l| l.starts_with(col)), "{all}");
    assert!(inspect(&["features", "--describe", "mfcc*"]).lines().any(|l| l.starts_with("mfcc_sma[1]")));
}

#[test]
fn by_counts_sum_to_the_rows() {
    let out = inspect(&["features", "--by", "emotion"]);
    let body: Vec<&str> = out.lines().skip_while(|l| !l.starts_with("by ")).skip(2).collect();
    assert_eq!(body.len(), 6, "six emotions\n{out}");
    let n: usize = body.iter().map(|l| l.split_whitespace().nth(1).unwrap().parse::<usize>().unwrap()).sum();
    assert_eq!(n, 36, "{out}");
    // Two group columns; means of the chosen columns.
    let out = inspect(&["manifest", "--by", "emotion,sex", "--columns", "duration_s"]);
    assert!(out.contains("by       emotion, sex (12 groups)"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("emotion") && l.contains("duration_s")), "{out}");
}

#[test]
fn filter_and_columns() {
    let out = inspect(&["features", "--filter", "actor == 1001"]);
    assert!(out.contains("rows     12 of 36 (filter: actor == 1001)"), "{out}");
    let out = inspect(&["features", "--filter", "actor != 1001 && emotion == 'ANG'", "--head", "50"]);
    assert_eq!(rows(&out), 4, "{out}");
    assert_eq!(out.lines().skip_while(|l| !l.starts_with("head ")).count(), 2 + 4);

    // Brackets are literal: mfcc_sma[1]* matches mfcc_sma[1]_..., not [10]..[12]
    // (nor mfcc_sma_de[1]_...). The CSV header lists every selected column.
    let csv = study().join("mfcc1.csv");
    let out = inspect(&["features", "--columns", "mfcc_sma[1]*", "--head", "0", "--csv", csv.to_str().unwrap()]);
    assert!(out.contains("columns  60 selected of"), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let names: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let keys = ["file", "actor", "sentence", "emotion", "level", "duration_s"];
    assert_eq!(names[..6], keys, "key columns are kept, first");
    assert_eq!(names.len(), 6 + 54, "{names:?}");
    assert!(names[6..].iter().all(|n| n.starts_with("mfcc_sma[1]_")), "{names:?}");
    // Key columns are kept unless excluded.
    let out = inspect(&["features", "--columns", "mfcc_sma[1]_amean,!file,!actor", "--head", "0"]);
    let listed: Vec<&str> =
        out.lines().filter_map(|l| l.strip_prefix("  ")).map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(listed, ["sentence", "emotion", "level", "duration_s", "mfcc_sma[1]_amean"], "{out}");
}

#[test]
fn csv_export() {
    let csv = study().join("actor1002.csv");
    let out = inspect(&[
        "features",
        "--filter",
        "actor == 1002",
        "--columns",
        "pcm_RMSenergy_sma_amean",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(out.contains("wrote 12 rows x 7 columns"), "{out}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "file,actor,sentence,emotion,level,duration_s,pcm_RMSenergy_sma_amean");
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.len(), 12);
    for l in body {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 7, "{l}");
        assert_eq!(f[1], "1002");
        let _: f64 = f[6].parse().unwrap();
    }
    // Atomic: no temp file left.
    assert!(!std::fs::read_dir(study()).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains(".tmp-")));
}

#[test]
fn errors_are_one_line_with_exit_code_2() {
    let e = inspect_err(&["nonsense"]);
    assert!(e.contains("unknown table `nonsense`") && e.contains("features") && e.contains("predictions"), "{e}");
    let e = inspect_err(&["missing.parquet"]);
    assert!(e.contains("missing.parquet") && e.contains("does not exist"), "{e}");
    let e = inspect_err(&["features", "--filter", "actor = 1001"]);
    assert!(e.contains("bad --filter") && e.contains("unknown operator `=`"), "{e}");
    let e = inspect_err(&["features", "--filter", "actr == 1001"]);
    assert!(e.contains("unknown column `actr`"), "{e}");
    let e = inspect_err(&["features", "--filter", "actor == ANG"]);
    assert!(e.contains("column `actor` is numeric"), "{e}");
    let e = inspect_err(&["features", "--columns", "nothing*"]);
    assert!(e.contains("`nothing*` matches no column"), "{e}");
    // A stage that has not run in a fresh cache.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.toml"), TINY).unwrap();
    let o = fedser(dir.path(), &["inspect", "features"]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8(o.stderr).unwrap();
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("table features") && e.contains("run `fedser run --until features` first"), "{e}");
}
