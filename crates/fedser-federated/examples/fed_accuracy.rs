//! Accuracy check of federated against centralized training on a cache
//! whose train stage ran: `fed_accuracy CACHE LOSO_FOLDS STRATEGY [KEY=VALUE...]`
//! runs the speaker-dependent split and the first LOSO_FOLDS LOSO folds
//! (0 = all) with `[train.federated]` built from the KEY=VALUE pairs, and
//! prints pooled UAR per round next to centralized UAR on the same folds.
#![allow(clippy::print_stdout)]

use std::path::Path;

use fedser_core::{metrics, Protocol};
use fedser_federated::data::{load_features, load_partition};
use fedser_federated::stage::fold_federation;
use fedser_federated::{simulate, FederatedParams, Hooks, Shape, SimConfig};
use rayon::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let cache = Path::new(&a[0]);
    let max_folds: usize = a[1].parse()?;
    let mut toml_src = format!("strategy = \"{}\"\n", a[2]);
    for kv in &a[3..] {
        toml_src.push_str(kv);
        toml_src.push('\n');
    }
    let p: FederatedParams = toml::from_str(&toml_src)?;
    p.validate()?;
    let mut fm = load_features(&cache.join("features/features.parquet"))?;
    let folds = load_partition(&cache.join("partition/partition.parquet"), &fm)?;
    let d = fm.x.ncols();
    // same preconditioning as the stage (global column standardisation, folded out again per fold)
    let x = fm.x.as_slice_mut().ok_or("not contiguous")?;
    fedser_federated::stage::precondition(x, d);
    let x: &[f32] = x;
    let shape = Shape { arch: p.arch(), d, k: fm.classes.len() };
    // centralized predictions of the train stage
    let cp = cache.join("train/predictions.parquet");
    let b = fedser_cache::table::read_parquet(&cp, None)?;
    let (cprot, cfold, cfile, cpred) = (
        fedser_cache::table::strings(&cp, &b, "protocol")?,
        fedser_cache::table::ints(&cp, &b, "fold")?,
        fedser_cache::table::strings(&cp, &b, "file")?,
        fedser_cache::table::strings(&cp, &b, "pred")?,
    );
    for protocol in [Protocol::SpeakerDependent7030, Protocol::Loso, Protocol::GroupKfold] {
        // FED_SD_ONLY=1: the speaker-dependent split alone (quick scans)
        if protocol != Protocol::SpeakerDependent7030 && std::env::var_os("FED_SD_ONLY").is_some() {
            continue;
        }
        let mut these: Vec<_> = folds.iter().filter(|f| f.protocol == protocol).collect();
        if protocol != Protocol::SpeakerDependent7030 && max_folds > 0 {
            these.truncate(max_folds);
        }
        let t = std::time::Instant::now();
        let outs: Vec<_> = these
            .par_iter()
            .map(|f| {
                let fed = fold_federation(shape, x, &fm.labels, &fm.actors, f);
                let cfg = SimConfig {
                    rounds: p.rounds,
                    seed: p.seed,
                    stream: u64::from(f.fold as u32),
                    faults: p.faults.clone(),
                    max_update_norm: p.max_update_norm,
                    final_eval_only: false,
                };
                simulate(&fed, fedser_federated::strategy::from_params(&p).as_mut(), &cfg, Hooks::default())
            })
            .collect::<Result<_, _>>()?;
        let k = shape.k;
        let rounds = p.rounds as usize + 1;
        let mut curve = Vec::new();
        for r in 0..rounds {
            let mut conf = vec![vec![0u64; k]; k];
            for o in &outs {
                for (i, row) in o.history[r].confusion.iter().enumerate() {
                    for (j, c) in row.iter().enumerate() {
                        conf[i][j] += c;
                    }
                }
            }
            curve.push(metrics::scores(&conf).uar);
        }
        // centralized on the same test clips
        let mut truth = Vec::new();
        let mut pred = Vec::new();
        let fold_set: Vec<i32> = these.iter().map(|f| f.fold).collect();
        let row_of: std::collections::BTreeMap<&str, usize> =
            fm.files.iter().enumerate().map(|(i, f)| (f.as_str(), i)).collect();
        for i in 0..cprot.len() {
            if cprot[i] == protocol.as_str() && fold_set.contains(&(cfold[i].unwrap_or(0) as i32)) {
                let r = row_of[cfile[i].as_str()];
                truth.push(fm.labels[r]);
                pred.push(fm.classes.iter().position(|c| *c == cpred[i]).unwrap_or(0));
            }
        }
        let cu = metrics::scores(&metrics::confusion(&truth, &pred, k)).uar;
        let pts: Vec<String> = [1usize, 5, 10, 15, 20, 25, 30]
            .iter()
            .filter(|&&r| r < rounds)
            .map(|&r| format!("r{r}={:.1}", curve[r] * 100.0))
            .collect();
        println!(
            "{} {} folds={} centralized={:.1} federated={:.1} delta={:+.1} [{}] {:.0}s",
            protocol.as_str(),
            a[2..].join(" "),
            these.len(),
            cu * 100.0,
            curve[rounds - 1] * 100.0,
            (curve[rounds - 1] - cu) * 100.0,
            pts.join(" "),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
