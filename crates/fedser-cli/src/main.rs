//! `fedser`: the command-line front end. Glue only: it resolves arguments
//! into a [`fedser_pipeline::Pipeline`] and [`fedser_pipeline::RunOptions`]
//! once, then calls the library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use fedser_pipeline::{Pipeline, RunOptions, StageName, StageState};

/// Speech emotion recognition under federated learning: a cached,
/// reproducible pipeline from WAV files to a report.
#[derive(Debug, Parser)]
#[command(name = "fedser", version, about)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct GlobalArgs {
    /// Pipeline file (TOML). Defaults to pipelines/default.toml if present.
    #[arg(long, global = true, value_name = "FILE")]
    pipeline: Option<PathBuf>,
    /// Override a pipeline key, e.g. --set train.centralized.logistic.alpha=0.5
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Cache folder.
    #[arg(long, global = true, value_name = "DIR", default_value = "cache")]
    cache: PathBuf,
    /// Corpus root (CREMA-D release root or a folder of WAVs). Defaults to
    /// $CREMAD_DIR, then `[ingest] corpus`, then the built-in synthetic corpus.
    #[arg(long, global = true, value_name = "DIR")]
    corpus: Option<PathBuf>,
    /// Worker threads (default: all cores). Never changes results.
    #[arg(short = 'j', long, global = true, value_name = "N")]
    jobs: Option<usize>,
    /// More logging.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    verbose: bool,
    /// Only warnings and errors; no progress bars (bars also stay off when
    /// stderr is not a terminal).
    #[arg(short, long, global = true)]
    quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the stages in order, skipping fresh ones.
    Run(RunArgs),
    /// Run up to and including ingest.
    Ingest(StageArgs),
    /// Run up to and including features.
    Features(StageArgs),
    /// Run up to and including partition.
    Partition(StageArgs),
    /// Run up to and including train.
    Train(StageArgs),
    /// Run up to and including federated training (`[train.federated]`).
    Federate(StageArgs),
    /// Run everything and write the report (same as `run`).
    Evaluate(StageArgs),
    /// Print every stage as fresh, stale (with the reason) or skipped.
    Status {
        /// Exit with 1 if any stage would run.
        #[arg(long)]
        check: bool,
    },
    /// Print the resolved pipeline (defaults included).
    ShowParams,
    /// Delete cached outputs (all, or one stage).
    Clean {
        /// Only this stage.
        #[arg(long, value_name = "STAGE")]
        stage: Option<String>,
    },
    /// Show a table: schema, rows and head; --describe, --by, --filter, --csv.
    Inspect(InspectArgs),
    /// Differential-privacy accounting (no pipeline or cache needed).
    #[command(subcommand)]
    Privacy(PrivacyCommand),
}

#[derive(Debug, Subcommand)]
enum PrivacyCommand {
    /// ε of client-level DP-FedAvg: Poisson-sampled Gaussian mechanism, RDP accountant.
    Epsilon {
        /// Noise multiplier z of the update sum (noise std / clip norm).
        #[arg(long, value_name = "Z")]
        noise_multiplier: f64,
        #[command(flatten)]
        run: AccountingArgs,
    },
    /// Smallest noise multiplier that meets a target ε.
    Noise {
        /// Target ε over all rounds.
        #[arg(long, value_name = "E")]
        target_epsilon: f64,
        #[command(flatten)]
        run: AccountingArgs,
    },
}

#[derive(Debug, Args)]
struct AccountingArgs {
    /// Probability that a client takes part in a round (Poisson sampling).
    #[arg(long, value_name = "Q")]
    sample_rate: f64,
    /// Rounds.
    #[arg(long, value_name = "T")]
    rounds: u64,
    /// δ of the (ε, δ) guarantee.
    #[arg(long, value_name = "D")]
    delta: f64,
    /// Adaptive clipping: std σ_b of the noised unclipped-client count, accounted
    /// together with the update noise (Andrew et al. 2021).
    #[arg(long, value_name = "SIGMA_B")]
    count_noise: Option<f64>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Stop after this stage (synth, ingest, features, partition, train, federate, report).
    #[arg(long, value_name = "STAGE")]
    until: Option<String>,
    #[command(flatten)]
    stage: StageArgs,
}

#[derive(Debug, Args)]
struct StageArgs {
    /// Rerun this stage (and everything downstream) even if fresh.
    #[arg(long, value_name = "STAGE")]
    force: Vec<String>,
    /// Fail at once if another run holds the cache, instead of waiting.
    #[arg(long)]
    no_wait: bool,
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// A .parquet file, or a table in the cache: ingest (= manifest), rejects,
    /// features, partition, train (= predictions).
    #[arg(value_name = "TABLE_OR_STAGE")]
    table: String,
    /// Count, mean, std, min, max of the numeric columns matching GLOB
    /// (default all). Put it after TABLE_OR_STAGE when giving no GLOB.
    #[arg(long, value_name = "GLOB", num_args = 0..=1, default_missing_value = "*")]
    describe: Option<String>,
    /// Rows and column means per group, e.g. emotion,sex.
    #[arg(long, value_name = "COL[,COL]")]
    by: Option<String>,
    /// Keep rows matching e.g. 'actor == 1001 && emotion != NEU'
    /// (==, !=, <, <=, >, >=; clauses joined by &&).
    #[arg(long, value_name = "EXPR")]
    filter: Option<String>,
    /// Comma-separated column globs: * and ? are wildcards, [ and ] are literal,
    /// !GLOB excludes. Key columns (file, actor, ...) are kept unless excluded.
    #[arg(long, value_name = "GLOBS")]
    columns: Option<String>,
    /// Rows of the head.
    #[arg(long, value_name = "N", default_value_t = fedser_inspect::DEFAULT_HEAD)]
    head: usize,
    /// Write the filtered, selected table as CSV.
    #[arg(long, value_name = "OUT")]
    csv: Option<PathBuf>,
}

fn parse_stage(s: &str) -> Result<StageName> {
    StageName::parse(s).with_context(|| {
        format!("unknown stage `{s}`: allowed values are synth, ingest, features, partition, train, federate, report")
    })
}

fn load_pipeline(g: &GlobalArgs) -> Result<(Pipeline, PathBuf)> {
    let (path, explicit) = match &g.pipeline {
        Some(p) => (p.clone(), true),
        None => (PathBuf::from("pipelines/default.toml"), false),
    };
    if !explicit && !path.exists() {
        return Ok((Pipeline::parse("", &path, &g.set)?, PathBuf::from("<defaults>")));
    }
    if !path.exists() {
        anyhow::bail!("pipeline file `{}` does not exist", path.display());
    }
    Ok((Pipeline::load(&path, &g.set)?, path))
}

fn resolve_corpus(g: &GlobalArgs, p: &Pipeline) -> Result<Option<PathBuf>> {
    let corpus = g
        .corpus
        .clone()
        .or_else(|| std::env::var_os("CREMAD_DIR").filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(|| p.ingest.corpus.clone());
    if let Some(c) = &corpus {
        if !c.is_dir() {
            anyhow::bail!("corpus folder `{}` does not exist", c.display());
        }
    }
    Ok(corpus)
}

fn progress(quiet: bool) -> Option<fedser_pipeline::Progress> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar: Arc<Mutex<Option<indicatif::ProgressBar>>> = Arc::new(Mutex::new(None));
    Some(Arc::new(move |stage: &str, done: usize, total: usize| {
        let mut guard = bar.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let b = guard.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("{prefix:>9} [{bar:40}] {pos}/{len} {msg} {per_sec} eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            b.set_prefix(stage.to_owned());
            b.set_message(if stage == "train" { "folds" } else { "clips" });
            b
        });
        b.set_position(done as u64);
        if done >= total {
            b.finish_and_clear();
            *guard = None;
        }
    }))
}

fn run_stages(g: &GlobalArgs, until: Option<StageName>, args: &StageArgs) -> Result<ExitCode> {
    let (pipeline, path) = load_pipeline(g)?;
    let corpus = resolve_corpus(g, &pipeline)?;
    let force = args.force.iter().map(|s| parse_stage(s)).collect::<Result<Vec<_>>>()?;
    let opts = RunOptions {
        cache: g.cache.clone(),
        corpus,
        pipeline_path: path,
        until,
        force,
        wait: !args.no_wait,
        progress: progress(g.quiet),
    };
    let t0 = std::time::Instant::now();
    let report = fedser_pipeline::run(&pipeline, &opts)?;
    let mut out = std::io::stdout().lock();
    for (stage, seconds, info) in &report.stages {
        let what = match seconds {
            Some(s) => format!("ran in {s:.2} s"),
            None => "fresh".to_owned(),
        };
        let figures: Vec<String> = info.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(out, "{:<10} {:<16} {}", stage.as_str(), what, figures.join("  "))?;
    }
    writeln!(
        out,
        "total {:.2} s; peak memory {}; report: {}",
        t0.elapsed().as_secs_f64(),
        peak_memory().map_or_else(|| "unknown".to_owned(), |kb| format!("{:.0} MB", kb as f64 / 1024.0)),
        g.cache.join("report").join("report.md").display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Peak resident set size of this process in KiB (Linux `VmHWM`).
fn peak_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn status(g: &GlobalArgs, check: bool) -> Result<ExitCode> {
    let (pipeline, path) = load_pipeline(g)?;
    let corpus = resolve_corpus(g, &pipeline)?;
    let opts = RunOptions {
        cache: g.cache.clone(),
        corpus,
        pipeline_path: path,
        until: None,
        force: vec![],
        wait: true,
        progress: None,
    };
    let plan = fedser_pipeline::plan(&pipeline, &opts)?;
    let mut out = std::io::stdout().lock();
    let mut work = false;
    for s in &plan {
        let line = match &s.state {
            StageState::Fresh => "fresh".to_owned(),
            StageState::Stale(r) => {
                work = true;
                format!("stale: {r}")
            }
            StageState::Skipped(why) => format!("skipped: {why}"),
        };
        writeln!(out, "{:<10} {line}", s.stage.as_str())?;
    }
    Ok(if check && work { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn real_main(cli: Cli) -> Result<ExitCode> {
    let g = &cli.global;
    if let Some(n) = g.jobs {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("cannot configure the thread pool")?;
    }
    match &cli.command {
        Command::Run(a) => {
            let until = a.until.as_deref().map(parse_stage).transpose()?;
            run_stages(g, until, &a.stage)
        }
        Command::Ingest(a) => run_stages(g, Some(StageName::Ingest), a),
        Command::Features(a) => run_stages(g, Some(StageName::Features), a),
        Command::Partition(a) => run_stages(g, Some(StageName::Partition), a),
        Command::Train(a) => run_stages(g, Some(StageName::Train), a),
        Command::Federate(a) => run_stages(g, Some(StageName::Federate), a),
        Command::Evaluate(a) => run_stages(g, None, a),
        Command::Status { check } => status(g, *check),
        Command::ShowParams => {
            let (pipeline, _) = load_pipeline(g)?;
            print!("{}", pipeline.to_toml()?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Clean { stage } => {
            let stage = stage.as_deref().map(parse_stage).transpose()?;
            let n = fedser_pipeline::clean(&g.cache, stage, true)?;
            println!("removed {n} stage folders from {}", g.cache.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect(a) => {
            let opts = fedser_inspect::Options {
                target: a.table.clone(),
                cache: g.cache.clone(),
                columns: a.columns.clone(),
                filter: a.filter.clone(),
                describe: a.describe.clone(),
                by: a.by.clone(),
                head: a.head,
                csv: a.csv.clone(),
            };
            std::io::stdout().lock().write_all(fedser_inspect::inspect(&opts)?.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Privacy(p) => privacy(p),
    }
}

/// `fedser privacy …`: z and ε of the whole run, with the update noise
/// multiplier when adaptive clipping shares the budget.
fn privacy(cmd: &PrivacyCommand) -> Result<ExitCode> {
    use fedser_privacy::accountant;
    let (run, z_total, z_update) = match cmd {
        PrivacyCommand::Epsilon { noise_multiplier, run } => {
            let total = match run.count_noise {
                Some(s) => accountant::effective_noise_multiplier(*noise_multiplier, s),
                None => *noise_multiplier,
            };
            (run, total, *noise_multiplier)
        }
        PrivacyCommand::Noise { target_epsilon, run } => {
            let total =
                accountant::noise_multiplier_for_epsilon(*target_epsilon, run.sample_rate, run.rounds, run.delta)?;
            let update = match run.count_noise {
                Some(s) => accountant::update_noise_multiplier(total, s)?,
                None => total,
            };
            (run, total, update)
        }
    };
    let spent = accountant::epsilon(z_total, run.sample_rate, run.rounds, run.delta)?;
    let mut out = std::io::stdout().lock();
    if run.json {
        let v = serde_json::json!({
            "epsilon": spent.epsilon,
            "delta": spent.delta,
            "order": spent.order,
            "noise_multiplier": z_update,
            "effective_noise_multiplier": z_total,
            "count_noise": run.count_noise,
            "sample_rate": run.sample_rate,
            "rounds": run.rounds,
            "accountant": "rdp (Poisson-sampled Gaussian; dp-accounting 0.6 orders and conversion)",
        });
        writeln!(out, "{v}")?;
    } else {
        if matches!(cmd, PrivacyCommand::Noise { .. }) {
            writeln!(out, "noise_multiplier = {z_update:.4}")?;
        }
        writeln!(
            out,
            "epsilon = {:.4}  (delta = {}, RDP order {}; z = {z_update:.4}{}, q = {}, rounds = {})",
            spent.epsilon,
            spent.delta,
            spent.order,
            run.count_noise.map_or_else(String::new, |_| format!(", effective z with the count = {z_total:.4}")),
            run.sample_rate,
            run.rounds
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if cli.global.quiet {
        "warn"
    } else if cli.global.verbose {
        "debug"
    } else {
        "info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FEDSER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("warn,fedser={level},fedser_pipeline={level},fedser_ingest={level},fedser_features={level},fedser_train={level},fedser_federated={level},fedser_partition={level},fedser_report={level},fedser_synth={level},fedser_cache={level},fedser_privacy={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::BrokenPipe {
                    return ExitCode::SUCCESS;
                }
            }
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  cause: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
