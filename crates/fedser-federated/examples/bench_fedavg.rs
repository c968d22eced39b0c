//! `make bench`'s federated workload: FedAvg rounds of logistic regression
//! (6,373 x 6) on the speaker-dependent 70 % training rows, every actor one
//! client and all clients sampled, 1 local epoch of SGD with batch 16.
//!
//! ```text
//! bench_fedavg FEATURES.parquet PARTITION.parquet [ROUNDS] [--export DIR] [--scratch DIR] [--memory-budget MB] [--in-memory]
//! ```
//! As in a deployment, every client's rows stay on its "device": the feature
//! table is streamed (64 columns x 1,024 rows at a time) into a scratch
//! file (`--scratch`, default the system temp folder; unlinked, so nothing
//! is left behind) with each client's rows together, federated-standardised
//! there, and each client reads its own shard when it trains
//! ([`fedser_federated::FeatureSource::Disk`]); the first clients' shards,
//! up to `--memory-budget` MB (default 110: with the ~28 MB the process
//! needs besides, the run stays under 150 MB), stay in memory and are
//! trained on in place. So the process holds the model, the round's
//! updates and the shards being trained on, not the corpus (`--in-memory`
//! instead holds all rows in one matrix, as the federate stage does, to
//! show what the disk shards cost). The load runs in a thread of its own,
//! so its scratch memory goes back to the system before the shards are
//! cached. Prints one JSON line with the per-round seconds, peak memory
//! and a checksum of the final parameters (the same for every mode and
//! thread count).
//! `--export DIR` writes `x.npy` (float32, rows x features,
//! federated-standardised), `y.npy` and `client.npy` (int32) for
//! `benches/numpy_fedavg.py`, then exits.
#![allow(clippy::print_stdout, clippy::type_complexity, clippy::needless_range_loop)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use fedser_federated::data::{feature_layout, stream_features};
use fedser_federated::stats::{combine, ClientStats};
use fedser_federated::{simulate, Arch, FeatureSource, FederatedParams, Federation, Hooks, RowFile, Shape, SimConfig};

/// `--memory-budget`'s default, MB.
const DEFAULT_BUDGET_MB: usize = 110;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn train_files(partition: &Path) -> Res<BTreeSet<String>> {
    let b = fedser_cache::table::read_parquet(partition, Some(&["protocol", "role", "file"]))?;
    let p = fedser_cache::table::strings(partition, &b, "protocol")?;
    let r = fedser_cache::table::strings(partition, &b, "role")?;
    let f = fedser_cache::table::strings(partition, &b, "file")?;
    Ok((0..p.len()).filter(|&i| p[i] == "speaker_dependent_70_30" && r[i] == "train").map(|i| f[i].clone()).collect())
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

struct Loaded {
    keys: fedser_federated::data::FeatureKeys,
    clients: Vec<(i32, Vec<usize>)>,
    order: Vec<usize>,
    file: RowFile,
    d: usize,
}

/// Streams the feature table into a scratch file (each client's rows
/// together) and federated-standardises it there.
fn load(features: &Path, partition: &Path, scratch: &Path) -> Res<Loaded> {
    let keep = train_files(partition)?;
    let (keys, feat_idx, names) = feature_layout(features)?;
    let d = feat_idx.len();
    let mut by: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
    for (r, f) in keys.files.iter().enumerate() {
        if keep.contains(f) {
            by.entry(keys.actors[r]).or_default().push(r);
        }
    }
    let clients: Vec<(i32, Vec<usize>)> = by.into_iter().collect();
    // each client's rows together in the file: one read per client and round
    let order: Vec<usize> = clients.iter().flat_map(|(_, rows)| rows.iter().copied()).collect();
    let file = RowFile::create(scratch, keys.files.len(), &order, d)?;
    let mut failed = None;
    // 64 columns per pass: 6 MB of decoders instead of 25
    stream_features(features, &feat_idx, &names, 64, |row, first, values| {
        if failed.is_none() {
            failed = file.write(row, first, values).err();
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    // federated standardisation (clients send counts, sums, sums of squares),
    // applied by every client to its own shard
    let mut shard = Vec::new();
    let mut stats = Vec::with_capacity(clients.len());
    for (_, rows) in &clients {
        file.read(rows, &mut shard)?;
        stats.push(ClientStats::of(&shard, d, &(0..rows.len()).collect::<Vec<_>>()));
    }
    let st = combine(&stats, d);
    for (_, rows) in &clients {
        file.read(rows, &mut shard)?;
        for (&r, row) in rows.iter().zip(shard.chunks_mut(d)) {
            for ((v, m), s) in row.iter_mut().zip(&st.mean).zip(&st.scale) {
                *v = (*v - m) / s;
            }
            file.write(r, 0, row)?;
        }
    }
    Ok(Loaded { keys, clients, order, file, d })
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opt = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let export = opt("--export");
    let scratch = opt("--scratch").unwrap_or_else(std::env::temp_dir);
    let pos: Vec<&String> = args
        .iter()
        .enumerate()
        // flags, and the values of the flags that take one
        .filter(|(i, a)| {
            !(a.starts_with("--")
                || *i > 0 && ["--export", "--scratch", "--memory-budget"].contains(&args[i - 1].as_str()))
        })
        .map(|(_, a)| a)
        .collect();
    let (Some(features), Some(partition)) = (pos.first(), pos.get(1)) else {
        return Err(
            "usage: bench_fedavg FEATURES.parquet PARTITION.parquet [ROUNDS] [--export DIR] [--scratch DIR] [--memory-budget MB] [--in-memory]".into()
        );
    };
    let rounds: u32 = pos.get(2).map_or(Ok(30), |r| r.parse())?;
    let features = Path::new(features.as_str());
    let t_load = Instant::now();
    // the load runs in a thread of its own: its scratch memory (the Parquet
    // footer, decoders, per-client statistics) is freed in that thread's heap,
    // which the allocator hands back to the system when the thread ends,
    // instead of staying resident under the shards and the simulation
    let Loaded { keys, clients, order, file, d } =
        std::thread::scope(|sc| sc.spawn(|| load(features, Path::new(partition.as_str()), &scratch)).join())
            .map_err(|_| "the loading thread panicked")??;
    let n = order.len();
    // the first clients' shards stay in memory up to the budget; the others
    // are read from the scratch file when their client trains
    let budget_mb: usize = opt("--memory-budget").map_or(Ok(DEFAULT_BUDGET_MB), |v| v.to_string_lossy().parse())?;
    // `--in-memory` holds every row in one matrix instead: no shard cache
    let in_memory = args.iter().any(|a| a == "--in-memory");
    let budget_mb = if in_memory { 0 } else { budget_mb };
    let mut file = file;
    let cached = file.cache_prefix(budget_mb << 20)?;
    let load_s = t_load.elapsed().as_secs_f64();
    let y: Vec<usize> = {
        let emotions = fedser_core::codes::EMOTIONS;
        let label = |r: usize| -> Res<usize> {
            let code = keys.classes.get(keys.labels[r]).ok_or("label out of range")?;
            Ok(emotions.iter().position(|e| e == code).ok_or("unknown emotion")?)
        };
        (0..keys.files.len()).map(label).collect::<Res<_>>()?
    };
    if let Some(dir) = export {
        let mut xb: Vec<u8> = Vec::with_capacity(n * d * 4);
        let mut buf = Vec::new();
        for (_, rows) in &clients {
            file.read(rows, &mut buf)?;
            xb.extend(buf.iter().flat_map(|v| v.to_le_bytes()));
        }
        write_npy(&dir.join("x.npy"), "<f4", &[n, d], &xb)?;
        drop(xb);
        let yb: Vec<u8> = order.iter().flat_map(|&r| (y[r] as i32).to_le_bytes()).collect();
        write_npy(&dir.join("y.npy"), "<i4", &[n], &yb)?;
        let cb: Vec<u8> = order.iter().flat_map(|&r| keys.actors[r].to_le_bytes()).collect();
        write_npy(&dir.join("client.npy"), "<i4", &[n], &cb)?;
        println!("exported {n} x {d} to {}", dir.display());
        return Ok(());
    }
    let k = 6;
    // `--in-memory`: the same rows as one matrix (the federate stage's layout),
    // to measure what reading shards from disk costs
    let mut x = Vec::new();
    if in_memory {
        x.resize(keys.files.len() * d, 0.0);
        let mut buf = Vec::new();
        for (_, rows) in &clients {
            file.read(rows, &mut buf)?;
            for (&r, row) in rows.iter().zip(buf.chunks(d)) {
                x[r * d..(r + 1) * d].copy_from_slice(row);
            }
        }
    }
    let fed = Federation {
        shape: Shape { arch: Arch::Logistic, d, k },
        x: if in_memory { FeatureSource::Memory(&x) } else { FeatureSource::Disk(&file) },
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
    let cfg = SimConfig {
        rounds,
        seed: 1,
        stream: 0,
        faults: p.faults.clone(),
        max_update_norm: 0.0,
        final_eval_only: false,
    };
    let t = Instant::now();
    let out = simulate(&fed, strategy.as_mut(), &cfg, Hooks::default())?;
    let total = t.elapsed().as_secs_f64();
    let fit: Vec<f64> = out.history.iter().skip(1).map(|r| r.fit_seconds).collect();
    let mut sorted = fit.clone();
    sorted.sort_by(f64::total_cmp);
    let loss = out.history.last().map_or(f64::NAN, |r| r.train_loss);
    // FNV-1a of the final parameters' bits: every mode must print the same
    let checksum = out.params.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
        v.to_bits().to_le_bytes().iter().fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    });
    let mut so = std::io::stdout().lock();
    writeln!(
        so,
        "{{\"impl\": \"fedser\", \"data\": \"{}\", \"memory_budget_mb\": {}, \"rows_in_memory\": {}, \"rows\": {n}, \"features\": {d}, \"clients\": {}, \"rounds\": {rounds}, \"threads\": {}, \"load_seconds\": {load_s:.3}, \"round_seconds_mean\": {:.4}, \"round_seconds_median\": {:.4}, \"total_seconds\": {total:.3}, \"final_train_loss\": {loss:.4}, \"params_fnv1a\": \"{checksum:016x}\", \"peak_mb\": {:.1}}}",
        if in_memory { "memory" } else { "disk shards" },
        budget_mb,
        if in_memory { n } else { cached },
        fed.clients.len(),
        rayon::current_num_threads(),
        fit.iter().sum::<f64>() / fit.len().max(1) as f64,
        sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN),
        peak_mb()
    )?;
    Ok(())
}
