use super::*;

/// A 6-row table: keys plus two float32 features, written with polars.
fn table(dir: &Path) -> PathBuf {
    let mut df = df!(
        "file" => ["a.wav", "b.wav", "c.wav", "d.wav", "e.wav", "f.wav"],
        "actor" => [1001i32, 1001, 1002, 1002, 1003, 1003],
        "emotion" => ["ANG", "NEU", "ANG", "NEU", "ANG", "SAD"],
        "mfcc_sma[1]_amean" => [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0],
        "mfcc_sma[10]_amean" => [0.5f32, 0.5, 0.5, 0.5, 0.5, 0.5],
        "pcm_RMSenergy_sma_amean" => [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6],
    )
    .unwrap();
    let p = dir.join("t.parquet");
    let f = File::create(&p).unwrap();
    ParquetWriter::new(f).finish(&mut df).unwrap();
    p
}

fn opts(p: &Path) -> Options {
    Options::new(p.to_str().unwrap(), "cache")
}

#[test]
fn resolves_names_and_reports_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(cache.join("features")).unwrap();
    std::fs::write(cache.join("features/features.parquet"), b"").unwrap();
    assert_eq!(resolve("features", &cache).unwrap(), cache.join("features/features.parquet"));
    let e = resolve("predictions", &cache).unwrap_err().to_string();
    assert!(e.contains("table predictions") && e.contains("predictions.parquet") && e.contains("--until train"), "{e}");
    let e = resolve("nonsense", &cache).unwrap_err().to_string();
    assert!(e.starts_with("unknown table `nonsense`") && e.contains("features") && !e.contains('\n'), "{e}");
    let e = resolve("x/y.parquet", &cache).unwrap_err().to_string();
    assert!(e.starts_with("file `x/y.parquet` does not exist"), "{e}");
    // The report's comparison table and a federated experiment's rounds.
    std::fs::create_dir_all(cache.join("report")).unwrap();
    std::fs::write(cache.join("report/comparison.parquet"), b"").unwrap();
    assert_eq!(resolve("comparison", &cache).unwrap(), cache.join("report/comparison.parquet"));
    std::fs::create_dir_all(cache.join("federate/rounds")).unwrap();
    std::fs::write(cache.join("federate/rounds/federated-fedavg-loso.privacy.parquet"), b"").unwrap();
    assert_eq!(
        resolve("rounds/federated-fedavg-loso.privacy", &cache).unwrap(),
        cache.join("federate/rounds/federated-fedavg-loso.privacy.parquet")
    );
    let e = resolve("rounds/nope", &cache).unwrap_err().to_string();
    assert!(e.starts_with("rounds table of nope `") && e.contains("--until federate"), "{e}");
}

#[test]
fn schema_head_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = table(dir.path());
    let out = inspect(&opts(&p)).unwrap();
    assert!(out.contains("rows     6\n"), "{out}");
    assert!(out.contains("columns  6\n"), "{out}");
    assert!(out.contains("mfcc_sma[1]_amean        f32"), "{out}");
    assert!(out.contains("head     6 rows"), "{out}");
    assert!(out.contains("f.wav"), "{out}");
}

#[test]
fn filter_columns_describe_by_csv() {
    let dir = tempfile::tempdir().unwrap();
    let p = table(dir.path());
    let mut o = opts(&p);
    o.filter = Some("actor == 1002 || x".into());
    let e = inspect(&o).unwrap_err().to_string();
    assert!(e.contains("bad --filter") && e.contains("`||`"), "{e}");
    o.filter = Some("actor >= 1002 && emotion != SAD".into());
    o.columns = Some("mfcc_sma[1]*".into());
    o.describe = Some("*".into());
    o.by = Some("emotion".into());
    o.csv = Some(dir.path().join("out.csv"));
    let out = inspect(&o).unwrap();
    assert!(out.contains("rows     3 of 6"), "{out}");
    // mfcc_sma[10]_amean is not matched by `mfcc_sma[1]*`; keys are kept.
    assert!(out.contains("columns  4 selected of 6"), "{out}");
    // rows 3, 4, 5: mean 4, std 1, min 3, max 5
    let d = out.lines().find(|l| l.starts_with("mfcc_sma[1]_amean")).unwrap();
    let f: Vec<&str> = d.split_whitespace().collect();
    assert_eq!(f[1..], ["f32", "3", "4", "1", "3", "5"], "{out}");
    assert!(out.contains("by       emotion (2 groups)"), "{out}");
    let csv = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "file,actor,emotion,mfcc_sma[1]_amean");
    assert_eq!(lines.len(), 4);
    assert!(!dir.path().read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains(".tmp-")));
}

#[test]
fn column_errors_name_the_glob() {
    let dir = tempfile::tempdir().unwrap();
    let p = table(dir.path());
    let mut o = opts(&p);
    o.columns = Some("zzz*".into());
    assert!(inspect(&o).unwrap_err().to_string().contains("--columns `zzz*` matches no column"));
    let mut o = opts(&p);
    o.by = Some("sex".into());
    assert!(inspect(&o).unwrap_err().to_string().contains("unknown column `sex` in --by"));
    let mut o = opts(&p);
    o.describe = Some("file".into());
    assert!(inspect(&o).unwrap_err().to_string().contains("--describe `file` matches no numeric column"));
    let mut o = opts(&p);
    o.filter = Some("emotion < 3 && nope == 1".into());
    assert!(inspect(&o).unwrap_err().to_string().contains("unknown column `nope`"));
}
