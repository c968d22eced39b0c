//! `make bench` (features part): ComParE_2016 and eGeMAPSv02 extraction
//! throughput on a folder of WAV clips (default: the 216 dev-sample clips),
//! single-threaded and on all cores, with the peak resident memory of each
//! run.
//!
//! Usage:
//! `cargo run --release -p fedser-features --example throughput -- [AUDIO_DIR] [--limit N] [--threads N] [--repeat N] [--sets compare16,egemaps02] [--dump DIR]`
//!
//! * Each clip is decoded inside the timed loop (as the pipeline stage does:
//!   one clip in memory per worker thread), with one extractor per worker
//!   thread (FFT plans and scratch reused across clips).
//! * `x RT per core` = audio seconds / (wall seconds x threads);
//!   `x RT` = audio seconds / wall seconds; `x RT per cpu` = audio seconds /
//!   CPU seconds used (user + system, from `/proc/self/stat`), which is less
//!   sensitive to other processes on a shared machine.
//! * Peak memory: `VmHWM` of `/proc/self/status`, reset before each run by
//!   writing `5` to `/proc/self/clear_refs` (when the kernel allows it; the
//!   figure is then the peak of that run, else of the process so far).
//! * `--limit N`: only the first N clips (file-name order).
//! * `--threads N`: only the run on N threads (default: 1 and all cores).
//! * `--repeat N`: each run N times, the fastest reported (the machine may be
//!   shared).
//! * `--dump DIR`: writes the single-thread feature rows of each set as
//!   little-endian f32 (`DIR/<set>.f32`, clips in file-name order), for
//!   comparing two builds value by value.
//!
//! * `--stage MANIFEST AUDIO_DIR OUT_DIR [--lld]`: instead, runs the whole
//!   features stage ([`fedser_features::run`], ComParE_2016, per-clip cache
//!   in `OUT_DIR/clips`) on an ingest manifest, e.g. of the 7,442-clip
//!   synthetic corpus, and prints its wall time and peak resident memory
//!   (threads: `RAYON_NUM_THREADS`, default all cores).
//!
//! Besides the table, one machine-readable line per run is printed:
//! `RESULT set=.. threads=.. clips=.. audio_s=.. wall_s=.. cpu_s=.. xrt_core=.. xrt=.. xrt_cpu=.. peak_mb=..`.

use std::path::PathBuf;
use std::time::Instant;

use fedser_features::dsp::{Compare16, Egemaps};
use rayon::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Set {
    Compare16,
    Egemaps02,
}

impl Set {
    fn name(self) -> &'static str {
        match self {
            Self::Compare16 => "compare16",
            Self::Egemaps02 => "egemaps02",
        }
    }
}

enum Extractor {
    Compare16(Box<Compare16>),
    Egemaps02(Box<Egemaps>),
}

impl Extractor {
    fn new(set: Set) -> Self {
        match set {
            Set::Compare16 => Self::Compare16(Box::new(Compare16::new())),
            Set::Egemaps02 => Self::Egemaps02(Box::new(Egemaps::new())),
        }
    }

    fn extract(&mut self, x: &[f32]) -> Vec<f32> {
        match self {
            Self::Compare16(e) => e.extract(x),
            Self::Egemaps02(e) => e.extract(x),
        }
    }
}

/// `VmHWM` (peak resident set) of this process in MB, if readable.
fn peak_mb() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resets the peak resident set to the current one (Linux >= 4.0).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU seconds (user + system, all threads) of this process so far, from
/// `/proc/self/stat` (clock ticks of 1/100 s).
fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (u, k): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    Some((u + k) / 100.0)
}

struct Run {
    audio_s: f64,
    wall_s: f64,
    cpu_s: f64,
    rows: Vec<Vec<f32>>,
}

fn run(set: Set, files: &[PathBuf], threads: usize) -> Result<Run, String> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| e.to_string())?;
    let c0 = cpu_seconds().unwrap_or(0.0);
    let t0 = Instant::now();
    let out: Result<Vec<(f64, Vec<f32>)>, String> = pool.install(|| {
        files
            .par_iter()
            .map_init(
                || Extractor::new(set),
                |ex, path| {
                    let clip = fedser_audio::read_clip(path).map_err(|e| format!("{}: {e}", path.display()))?;
                    Ok((clip.duration_s(), ex.extract(&clip.samples)))
                },
            )
            .collect()
    });
    let wall_s = t0.elapsed().as_secs_f64();
    let cpu_s = cpu_seconds().unwrap_or(0.0) - c0;
    let out = out?;
    let audio_s = out.iter().map(|o| o.0).sum();
    Ok(Run { audio_s, wall_s, cpu_s, rows: out.into_iter().map(|o| o.1).collect() })
}

/// The whole features stage on an ingest manifest: wall time and peak memory.
fn run_stage(
    manifest: &std::path::Path,
    audio: &std::path::Path,
    out: &std::path::Path,
    lld: bool,
) -> Result<(), String> {
    let params = fedser_features::FeatureParams { lld, ..Default::default() };
    reset_peak();
    let t0 = Instant::now();
    let s = fedser_features::run(&params, manifest, audio, &out.join("clips"), out, &[], &|_, _| {})
        .map_err(|e| e.to_string())?;
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "features stage: {} clips ({} extracted), {} columns, {} LLD frames, {wall:.1} s on {} threads, peak {:.0} MB",
        s.clips,
        s.extracted,
        s.columns,
        s.lld_frames,
        rayon::current_num_threads(),
        peak_mb().unwrap_or(0.0)
    );
    Ok(())
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("throughput: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<(), String> {
    let mut dir = PathBuf::from("/work/shared/data/dev-sample/AudioWAV");
    let mut repeat = 1usize;
    let mut sets = vec![Set::Compare16, Set::Egemaps02];
    let mut dump: Option<PathBuf> = None;
    let mut limit: Option<usize> = None;
    let mut stage: Option<[PathBuf; 3]> = None;
    let mut lld = false;
    let mut threads_only: Option<usize> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--repeat" => {
                repeat = args.next().and_then(|v| v.parse().ok()).filter(|&r| r >= 1).ok_or("--repeat N (N >= 1)")?;
            }
            "--sets" => {
                let v = args.next().ok_or("--sets compare16,egemaps02")?;
                sets = v
                    .split(',')
                    .map(|s| match s {
                        "compare16" => Ok(Set::Compare16),
                        "egemaps02" => Ok(Set::Egemaps02),
                        o => Err(format!("unknown set `{o}`")),
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--limit" => limit = Some(args.next().and_then(|v| v.parse().ok()).ok_or("--limit N")?),
            "--stage" => {
                let mut p = || args.next().map(PathBuf::from).ok_or("--stage MANIFEST AUDIO_DIR OUT_DIR");
                stage = Some([p()?, p()?, p()?]);
            }
            "--lld" => lld = true,
            "--threads" => {
                threads_only =
                    Some(args.next().and_then(|v| v.parse().ok()).filter(|&t| t >= 1).ok_or("--threads N (N >= 1)")?);
            }
            "--dump" => dump = Some(PathBuf::from(args.next().ok_or("--dump DIR")?)),
            _ if a.starts_with("--") => return Err(format!("unknown option `{a}`")),
            _ => dir = PathBuf::from(a),
        }
    }
    if let Some([manifest, audio, out]) = stage {
        return run_stage(&manifest, &audio, &out, lld);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")))
        .collect();
    files.sort();
    if let Some(n) = limit {
        files.truncate(n);
    }
    if files.is_empty() {
        return Err(format!("no .wav files in {}", dir.display()));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let can_reset = reset_peak();
    println!(
        "== fedser feature extraction: {} clips in {}, {cores} cores, best of {repeat}{}",
        files.len(),
        dir.display(),
        if can_reset { "" } else { " (peak memory: whole process, clear_refs not writable)" }
    );
    println!(
        "{:<10} {:>7} {:>9} {:>8} {:>7} {:>14} {:>9} {:>12} {:>8}",
        "set", "threads", "audio s", "wall s", "cpu s", "x RT per core", "x RT", "x RT per cpu", "peak MB"
    );
    let mut thread_counts = vec![1];
    if cores > 1 {
        thread_counts.push(cores);
    }
    if let Some(t) = threads_only {
        thread_counts = vec![t];
    }
    for &set in &sets {
        for &threads in &thread_counts {
            let mut best: Option<Run> = None;
            let mut peak = 0f64;
            for _ in 0..repeat {
                reset_peak();
                let r = run(set, &files, threads)?;
                peak = peak.max(peak_mb().unwrap_or(0.0));
                if best.as_ref().is_none_or(|b| r.wall_s < b.wall_s) {
                    best = Some(r);
                }
            }
            let r = best.ok_or("no run")?;
            let xrt = r.audio_s / r.wall_s;
            let xrt_core = xrt / threads as f64;
            let xrt_cpu = if r.cpu_s > 0.0 { r.audio_s / r.cpu_s } else { f64::NAN };
            println!(
                "{:<10} {threads:>7} {:>9.1} {:>8.2} {:>7.2} {xrt_core:>14.1} {xrt:>9.1} {xrt_cpu:>12.1} {peak:>8.0}",
                set.name(),
                r.audio_s,
                r.wall_s,
                r.cpu_s
            );
            println!(
                "RESULT set={} threads={threads} clips={} audio_s={:.3} wall_s={:.4} cpu_s={:.2} xrt_core={xrt_core:.2} xrt={xrt:.2} xrt_cpu={xrt_cpu:.2} peak_mb={peak:.1}",
                set.name(),
                files.len(),
                r.audio_s,
                r.wall_s,
                r.cpu_s
            );
            if let (Some(d), 1) = (&dump, threads) {
                let mut bytes = Vec::new();
                for row in &r.rows {
                    for v in row {
                        bytes.extend_from_slice(&v.to_le_bytes());
                    }
                }
                let p = d.join(format!("{}.f32", set.name()));
                fedser_cache::atomic_write(&p, &bytes).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}
