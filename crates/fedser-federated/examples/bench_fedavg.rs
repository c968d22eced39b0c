//! `make bench`'s federated workload: FedAvg rounds of logistic regression
//! (6,373 x 6) on the speaker-dependent 70 % training rows, every actor one
//! client and all clients sampled, 1 local epoch of SGD with batch 16.
//!
//! ```text
//! bench_fedavg FEATURES.parquet PARTITION.parquet [ROUNDS] [--export DIR]
//! ```
//! Streams the feature table (256 rows at a time, only training rows kept)
//! so the matrix is the only large allocation. Prints one JSON line with
//! the per-round seconds and peak memory. `--export DIR` writes `x.npy`
//! (float32, rows x features, federated-standardised), `y.npy` and
//! `client.npy` (int32) for `benches/numpy_fedavg.py`, then exits.
#![allow(clippy::print_stdout, clippy::type_complexity, clippy::needless_range_loop)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow_array::{Array, Float32Array, Int32Array, Int64Array, StringArray};
use fedser_federated::stats::{combine, ClientStats};
use fedser_federated::{simulate, Arch, FederatedParams, Federation, Hooks, Shape, SimConfig};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn train_files(partition: &Path) -> Res<BTreeSet<String>> {
    let b = fedser_cache::table::read_parquet(partition, Some(&["protocol", "role", "file"]))?;
    let p = fedser_cache::table::strings(partition, &b, "protocol")?;
    let r = fedser_cache::table::strings(partition, &b, "role")?;
    let f = fedser_cache::table::strings(partition, &b, "file")?;
    Ok((0..p.len()).filter(|&i| p[i] == "speaker_dependent_70_30" && r[i] == "train").map(|i| f[i].clone()).collect())
}

/// (x row-major, d, labels, actors) of the training rows.
fn load(features: &Path, keep: &BTreeSet<String>) -> Res<(Vec<f32>, usize, Vec<usize>, Vec<i32>)> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(features)?)?;
    let schema = builder.schema().clone();
    let feat: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| !fedser_core::columns::FEATURE_KEYS.contains(&schema.field(i).name().as_str()))
        .collect();
    let d = feat.len();
    let mut x = Vec::with_capacity(keep.len() * d);
    let (mut y, mut actors) = (Vec::new(), Vec::new());
    let emotions = fedser_core::codes::EMOTIONS;
    for batch in builder.with_batch_size(256).build()? {
        let b = batch?;
        let col = |n: &str| b.column_by_name(n).ok_or_else(|| format!("column {n} missing"));
        let files = col("file")?.as_any().downcast_ref::<StringArray>().ok_or("file is not Utf8")?.clone();
        let emo = col("emotion")?.as_any().downcast_ref::<StringArray>().ok_or("emotion is not Utf8")?.clone();
        let act: Vec<i32> = match col("actor")?.as_any().downcast_ref::<Int32Array>() {
            Some(a) => a.values().to_vec(),
            None => col("actor")?
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or("actor is not an integer")?
                .values()
                .iter()
                .map(|&v| v as i32)
                .collect(),
        };
        let cols: Vec<&Float32Array> = feat
            .iter()
            .map(|&i| b.column(i).as_any().downcast_ref::<Float32Array>().ok_or("feature is not Float32"))
            .collect::<Result<_, _>>()?;
        for r in 0..b.num_rows() {
            if !keep.contains(files.value(r)) {
                continue;
            }
            x.extend(cols.iter().map(|c| if c.is_valid(r) && c.value(r).is_finite() { c.value(r) } else { 0.0 }));
            y.push(emotions.iter().position(|e| *e == emo.value(r)).ok_or("unknown emotion")?);
            actors.push(act[r]);
        }
    }
    Ok((x, d, y, actors))
}

fn write_npy(path: &Path, descr: &str, shape: &[usize], bytes: &[u8]) -> Res<()> {
    let dims = if shape.len() == 1 { format!("({},)", shape[0]) } else { format!("({}, {})", shape[0], shape[1]) };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + bytes.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(bytes);
    fedser_cache::atomic_write(path, &out)?;
    Ok(())
}

fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .map_or(f64::NAN, |kb: f64| kb / 1024.0)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let export = args.iter().position(|a| a == "--export").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--") && Some(PathBuf::from(a)) != export).collect();
    let (Some(features), Some(partition)) = (pos.first(), pos.get(1)) else {
        return Err("usage: bench_fedavg FEATURES.parquet PARTITION.parquet [ROUNDS] [--export DIR]".into());
    };
    let rounds: u32 = pos.get(2).map_or(Ok(30), |r| r.parse())?;
    let t_load = Instant::now();
    let keep = train_files(Path::new(partition.as_str()))?;
    let (mut x, d, y, actors) = load(Path::new(features.as_str()), &keep)?;
    let n = y.len();
    let mut by: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (r, &a) in actors.iter().enumerate() {
        by.entry(a).or_default().push(r);
    }
    let clients: Vec<(i32, Vec<usize>)> = by.into_iter().collect();
    // federated standardisation, then applied in place (the bench's numpy
    // twin gets the same standardised matrix)
    let stats: Vec<ClientStats> = clients.iter().map(|(_, rows)| ClientStats::of(&x, d, rows)).collect();
    let st = combine(&stats, d);
    for row in x.chunks_mut(d) {
        for ((v, m), s) in row.iter_mut().zip(&st.mean).zip(&st.scale) {
            *v = (*v - m) / s;
        }
    }
    let load_s = t_load.elapsed().as_secs_f64();
    if let Some(dir) = export {
        let xb: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        write_npy(&dir.join("x.npy"), "<f4", &[n, d], &xb)?;
        drop(xb);
        let yb: Vec<u8> = y.iter().flat_map(|&v| (v as i32).to_le_bytes()).collect();
        write_npy(&dir.join("y.npy"), "<i4", &[n], &yb)?;
        let cb: Vec<u8> = actors.iter().flat_map(|v| v.to_le_bytes()).collect();
        write_npy(&dir.join("client.npy"), "<i4", &[n], &cb)?;
        println!("exported {n} x {d} to {}", dir.display());
        return Ok(());
    }
    let k = 6;
    let fed = Federation {
        shape: Shape { arch: Arch::Logistic, d, k },
        x: &x,
        y: &y,
        clients,
        test: &[],
        standardizer: fedser_federated::Standardizer::identity(d),
    };
    let mut p = FederatedParams::default();
    p.local.batch_size = 16;
    p.local.epochs = 1;
    p.local.lr = 0.01;
    p.rounds = rounds;
    let mut strategy = fedser_federated::strategy::from_params(&p);
    let cfg = SimConfig { rounds, seed: 1, stream: 0, faults: p.faults.clone(), max_update_norm: 0.0 };
    let t = Instant::now();
    let out = simulate(&fed, strategy.as_mut(), &cfg, Hooks::default())?;
    let total = t.elapsed().as_secs_f64();
    let fit: Vec<f64> = out.history.iter().skip(1).map(|r| r.fit_seconds).collect();
    let mut sorted = fit.clone();
    sorted.sort_by(f64::total_cmp);
    let loss = out.history.last().map_or(f64::NAN, |r| r.train_loss);
    let mut so = std::io::stdout().lock();
    writeln!(
        so,
        "{{\"impl\": \"fedser\", \"rows\": {n}, \"features\": {d}, \"clients\": {}, \"rounds\": {rounds}, \"threads\": {}, \"load_seconds\": {load_s:.3}, \"round_seconds_mean\": {:.4}, \"round_seconds_median\": {:.4}, \"total_seconds\": {total:.3}, \"final_train_loss\": {loss:.4}, \"peak_mb\": {:.1}}}",
        fed.clients.len(),
        rayon::current_num_threads(),
        fit.iter().sum::<f64>() / fit.len().max(1) as f64,
        sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN),
        peak_mb()
    )?;
    Ok(())
}
