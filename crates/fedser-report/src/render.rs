//! results.json -> the report's blocks (rendered to report.md and
//! report.html by [`crate::doc`]).

use std::collections::BTreeMap;

use crate::doc::Block;
use crate::{plots, ComparisonRow, ExperimentResult, ReportError, Results};

fn pct(x: f64) -> String {
    format!("{:.1}", x * 100.0)
}

fn secs(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), |s| format!("{s:.2}"))
}

fn speaker_independent(protocol: &str) -> bool {
    fedser_core::Protocol::parse(protocol).is_some_and(|p| p.speaker_independent())
}

fn plot_err(file: &str) -> impl Fn(String) -> ReportError + '_ {
    move |message| ReportError::Plot { file: file.to_owned(), message }
}

fn figure(file: String, svg: Result<String, String>, caption: String) -> Result<Block, ReportError> {
    let svg = svg.map_err(plot_err(&file))?;
    Ok(Block::Figure { file, svg, caption })
}

/// Chance UAR: 1 / number of classes (of the first experiment; 6 by default).
fn chance(r: &Results) -> f64 {
    1.0 / r.experiments.first().map_or(6, |e| e.labels.len().max(1)) as f64
}

/// The report, section by section.
pub(crate) fn blocks(r: &Results, title: &str) -> Result<Vec<Block>, ReportError> {
    let mut b = Vec::new();
    let c = &r.corpus;
    b.push(Block::Heading(1, title.to_owned()));
    b.push(Block::Para(format!(
        "Corpus **{}**: {} clips from {} actors ({:.2} h of audio), {} files rejected. Features: **{}**, {} of {} columns. Pipeline `{}`, fedser {}.",
        c.name, c.clips, c.actors, c.audio_hours, c.rejected, r.features.set, r.features.count, r.features.reference_count, r.pipeline, r.fedser_version
    )));
    headline(r, &mut b);
    confusions(r, &mut b)?;
    per_actor(r, &mut b)?;
    comparison(r, &mut b)?;
    federated_vs_centralized(r, &mut b);
    learning_curves(r, &mut b)?;
    privacy(r, &mut b)?;
    provenance(r, &mut b);
    corpus(r, &mut b);
    Ok(b)
}

fn headline(r: &Results, b: &mut Vec<Block>) {
    b.push(Block::Heading(2, "Results".into()));
    if r.experiments.is_empty() {
        b.push(Block::Para("No data: no experiment ran (no protocol selected).".into()));
        return;
    }
    let level = r.provenance.bootstrap.map_or(0.95, |x| x.level);
    b.push(Block::Para(format!(
        "UAR (unweighted average recall, chance = {:.1} %) is the main metric; values in %. The interval is a {:.0} % percentile bootstrap of UAR ({}; resampling unit: the test actor for speaker-independent protocols, the clip, with its predictions from every repeated split, for speaker-dependent ones). The per-actor column gives the median (min–max) and standard deviation of UAR over held-out actors (speaker-independent protocols only).",
        chance(r) * 100.0,
        level * 100.0,
        r.provenance.bootstrap.map_or_else(|| "settings not recorded".to_owned(), |x| format!("{} resamples, seed {}", x.resamples, x.seed)),
    )));
    let header = [
        "protocol",
        "training",
        "model",
        "features",
        "UAR",
        "UAR 95 % CI",
        "accuracy",
        "macro-F1",
        "per-actor UAR median (min–max), sd",
        "folds",
    ];
    let mut rows = Vec::new();
    let mut sorted: Vec<&ExperimentResult> = r.experiments.iter().collect();
    sorted.sort_by(|a, b| (&a.protocol, &a.training).cmp(&(&b.protocol, &b.training)));
    for e in sorted {
        let spread = if speaker_independent(&e.protocol) && e.per_actor.len() > 1 {
            let s = &e.per_actor_uar;
            format!("{} ({}–{}), {}", pct(s.median), pct(s.min), pct(s.max), pct(s.std))
        } else {
            "–".into()
        };
        rows.push(vec![
            e.protocol.clone(),
            e.training.clone(),
            e.model_name().to_owned(),
            e.feature_set.clone(),
            format!("**{}**", pct(e.uar)),
            e.uar_ci.map_or_else(|| "–".into(), |ci| format!("[{}, {}]", pct(ci.low), pct(ci.high))),
            pct(e.accuracy),
            pct(e.macro_f1),
            spread,
            e.folds.to_string(),
        ]);
    }
    b.push(Block::Table {
        header: header.iter().map(|s| (*s).to_owned()).collect(),
        rows,
        right: vec![false, false, false, false, true, true, true, true, true, true],
    });
    for e in r.experiments.iter().filter(|e| !e.alpha_selection.is_empty()) {
        let mut counts: Vec<(f64, usize)> = Vec::new();
        for a in e.alpha_selection.iter().filter_map(|s| s["alpha"].as_f64()) {
            match counts.iter_mut().find(|c| c.0 == a) {
                Some(c) => c.1 += 1,
                None => counts.push((a, 1)),
            }
        }
        counts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let chosen: Vec<String> = counts.iter().map(|(a, n)| format!("{a} in {n}")).collect();
        b.push(Block::Para(format!(
            "`{}`: alpha chosen per fold by inner cross-validation on the fold's training rows only: {} of {} folds.",
            e.id,
            chosen.join(", "),
            e.alpha_selection.len()
        )));
    }
    let sd = r.experiments.iter().find(|e| !speaker_independent(&e.protocol) && e.training == "centralized");
    let si = r.experiments.iter().find(|e| speaker_independent(&e.protocol) && e.training == "centralized");
    if let (Some(sd), Some(si)) = (sd, si) {
        if sd.model_name() == si.model_name() {
            b.push(Block::Para(format!(
                "Speaker-dependent {} vs speaker-independent {} ({}): UAR {} vs {} %, a gap of {:.1} points; the speaker-dependent model has heard the test speakers.",
                sd.protocol,
                si.protocol,
                sd.model_name(),
                pct(sd.uar),
                pct(si.uar),
                (sd.uar - si.uar) * 100.0
            )));
        }
    }
}

fn confusions(r: &Results, b: &mut Vec<Block>) -> Result<(), ReportError> {
    b.push(Block::Heading(2, "Confusion matrices".into()));
    if r.experiments.is_empty() {
        b.push(Block::Para("No data.".into()));
        return Ok(());
    }
    b.push(Block::Para(
        "Rows are the true emotion, normalised to 1; each cell shows the row fraction and the count, pooled over all folds."
            .into(),
    ));
    for training in ["centralized", "federated"] {
        let es: Vec<&ExperimentResult> = r.experiments.iter().filter(|e| e.training == training).collect();
        b.push(Block::Heading(3, training.to_owned()));
        if es.is_empty() {
            b.push(Block::Para(format!("No data: no {training} run in results.json.")));
            continue;
        }
        for e in es {
            let file = format!("confusion_{}.svg", e.id);
            let svg = plots::confusion(&e.labels, &e.confusion, &format!("{} (row-normalised)", e.id));
            b.push(figure(file, svg, format!("Confusion matrix of `{}`: UAR {} %.", e.id, pct(e.uar)))?);
        }
    }
    Ok(())
}

fn per_actor(r: &Results, b: &mut Vec<Block>) -> Result<(), ReportError> {
    b.push(Block::Heading(2, "Per-actor UAR (speaker-independent)".into()));
    let es: Vec<&ExperimentResult> =
        r.experiments.iter().filter(|e| speaker_independent(&e.protocol) && e.per_actor.len() > 1).collect();
    if es.is_empty() {
        b.push(Block::Para("No data: no speaker-independent experiment with more than one test actor.".into()));
        return Ok(());
    }
    b.push(Block::Para(
        "UAR of each held-out actor, sorted; colour = the actor's sex from the demographics sheet, dashed lines = mean UAR per sex."
            .into(),
    ));
    let mut rows = Vec::new();
    for e in &es {
        let mut by_sex: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        for a in &e.per_actor {
            by_sex.entry(a.sex.clone().unwrap_or_else(|| "unknown".into())).or_default().push(a.uar);
        }
        for (sex, v) in &by_sex {
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
            rows.push(vec![e.id.clone(), sex.clone(), v.len().to_string(), pct(mean), pct(sd)]);
        }
    }
    b.push(Block::Table {
        header: vec!["experiment".into(), "sex".into(), "actors".into(), "mean UAR".into(), "sd".into()],
        rows,
        right: vec![false, false, true, true, true],
    });
    for e in es {
        let file = format!("per_actor_{}.svg", e.id);
        let svg = plots::per_actor(&e.per_actor, chance(r), &format!("{}: UAR per held-out actor", e.id));
        b.push(figure(file, svg, format!("Per-actor UAR of `{}`.", e.id))?);
    }
    Ok(())
}

fn comparison(r: &Results, b: &mut Vec<Block>) -> Result<(), ReportError> {
    b.push(Block::Heading(2, "Classifier and feature-set comparison".into()));
    let rows: Vec<&ComparisonRow> = r.comparison.iter().collect();
    let models: Vec<&str> = {
        let mut m: Vec<&str> = rows.iter().map(|x| x.model.as_str()).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    let sets: Vec<&str> = {
        let mut m: Vec<&str> = rows.iter().map(|x| x.feature_set.as_str()).collect();
        m.sort_unstable();
        m.dedup();
        m
    };
    if models.len() < 2 && sets.len() < 2 {
        b.push(Block::Para(format!(
            "No comparison: one model ({}) and one feature set ({}). List more models in `[train.centralized] compare` (see `pipelines/compare.toml`).",
            models.first().unwrap_or(&"none"),
            sets.first().unwrap_or(&"none")
        )));
        return Ok(());
    }
    b.push(Block::Para(
        "All models are trained on the same folds. Fit and predict seconds are summed over folds (each fold timed on its own thread), values in %."
            .into(),
    ));
    let mut sorted = rows.clone();
    sorted.sort_by(|a, b| {
        (&a.protocol, &a.training, &a.feature_set)
            .cmp(&(&b.protocol, &b.training, &b.feature_set))
            .then(b.uar.total_cmp(&a.uar))
    });
    b.push(Block::Table {
        header: [
            "protocol",
            "training",
            "feature set",
            "model",
            "library",
            "UAR",
            "UAR 95 % CI",
            "accuracy",
            "macro-F1",
            "fit s",
            "predict s",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        rows: sorted
            .iter()
            .map(|x| {
                vec![
                    x.protocol.clone(),
                    x.training.clone(),
                    x.feature_set.clone(),
                    x.model.clone(),
                    x.library.clone(),
                    format!("**{}**", pct(x.uar)),
                    match (x.uar_ci_low, x.uar_ci_high) {
                        (Some(l), Some(h)) => format!("[{}, {}]", pct(l), pct(h)),
                        _ => "–".into(),
                    },
                    pct(x.accuracy),
                    pct(x.macro_f1),
                    secs(x.fit_seconds),
                    secs(x.predict_seconds),
                ]
            })
            .collect(),
        right: vec![false, false, false, false, false, true, true, true, true, true, true],
    });
    if sets.len() < 2 {
        b.push(Block::Para(format!(
            "Feature-set comparison: no data (one feature set, {}).",
            sets.first().unwrap_or(&"none")
        )));
    }
    let svg = plots::comparison(&rows, chance(r), "UAR by model and protocol");
    b.push(figure(
        "comparison.svg".into(),
        svg,
        "UAR per model; error bars: 95 % bootstrap interval; grey: chance.".into(),
    )?);
    Ok(())
}

/// Federated versus centralized per protocol (same split, same model
/// family), with the federate stage's fault counts.
fn federated_vs_centralized(r: &Results, b: &mut Vec<Block>) {
    b.push(Block::Heading(2, "Federated versus centralized".into()));
    let fed: Vec<&ExperimentResult> = r.experiments.iter().filter(|e| e.training == "federated").collect();
    if fed.is_empty() {
        b.push(Block::Para("No data: no federated run in results.json (add `[train.federated]`).".into()));
        return;
    }
    let level = r.provenance.bootstrap.map_or(0.95, |x| x.level);
    b.push(Block::Para(format!(
        "Every actor is one client; the held-out actors never train. UAR / accuracy / macro-F1 in %, Δ UAR = federated − centralized (same split, same model family) with its paired {:.0} % bootstrap interval in brackets (both runs scored on the same resampled test clips, or test actors for speaker-independent protocols; an interval that spans 0 means the two cannot be told apart on this test set). Per-round tables: `cache/federate/rounds/<experiment>.parquet`.",
        level * 100.0
    )));
    let rows = fed
        .iter()
        .map(|e| {
            let model = e.model_name();
            let central = r
                .experiments
                .iter()
                .find(|c| c.training == "centralized" && c.protocol == e.protocol && c.model_name() == model);
            let f = e.federated.as_ref();
            let (cu, du) = central.map_or(("–".to_owned(), "–".to_owned()), |c| {
                let paired = f.and_then(|f| f.delta_uar.as_ref()).filter(|d| d.centralized == c.id);
                let du = match paired {
                    Some(d) => match d.ci {
                        Some(ci) => {
                            format!("{:+.1} [{:+.1}, {:+.1}]", d.delta * 100.0, ci.low * 100.0, ci.high * 100.0)
                        }
                        None => format!("{:+.1}", d.delta * 100.0),
                    },
                    None => format!("{:+.1}", (e.uar - c.uar) * 100.0),
                };
                (pct(c.uar), du)
            });
            vec![
                e.protocol.clone(),
                cu,
                e.id.clone(),
                f.map_or_else(|| "–".into(), |f| f.strategy.clone()),
                f.map_or_else(|| "–".into(), |f| f.rounds.to_string()),
                format!("**{}**", pct(e.uar)),
                du,
                pct(e.accuracy),
                pct(e.macro_f1),
                f.map_or_else(|| "–".into(), |f| f.skipped_rounds.to_string()),
                f.map_or_else(|| "–".into(), |f| f.rejected_updates.to_string()),
            ]
        })
        .collect();
    b.push(Block::Table {
        header: [
            "protocol",
            "centralized UAR",
            "federated",
            "strategy",
            "rounds",
            "UAR",
            "Δ UAR",
            "accuracy",
            "macro-F1",
            "skipped rounds",
            "rejected updates",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        rows,
        right: vec![false, true, false, false, true, true, true, true, true, true, true],
    });
    for e in &fed {
        if let Some(f) = e.federated.as_ref().filter(|f| !f.selection.is_empty()) {
            b.push(Block::Para(selection_sentence(&e.id, &f.selection)));
        }
    }
}

/// "`id`: hyperparameters chosen per fold by federated inner validation:
/// local.lr 0.01, local.l2 0.2 in 3 of 5 folds; ...".
pub(crate) fn selection_sentence(id: &str, selection: &[serde_json::Value]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for s in selection {
        let chosen = s["chosen"].as_object().map_or_else(
            || "–".to_owned(),
            |m| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", "),
        );
        match counts.iter_mut().find(|c| c.0 == chosen) {
            Some(c) => c.1 += 1,
            None => counts.push((chosen, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let n_cand = selection.first().and_then(|s| s["candidates"].as_array()).map_or(0, Vec::len);
    let parts: Vec<String> = counts.iter().map(|(c, n)| format!("{c} in {n} of {}", selection.len())).collect();
    format!(
        "`{id}`: hyperparameters chosen per fold by federated inner validation on the fold's training clients only ({n_cand} candidates): {}.",
        parts.join("; ")
    )
}

fn learning_curves(r: &Results, b: &mut Vec<Block>) -> Result<(), ReportError> {
    b.push(Block::Heading(2, "Learning curves (federated)".into()));
    let fed: Vec<&ExperimentResult> =
        r.experiments.iter().filter(|e| e.training == "federated" && e.curve.is_some()).collect();
    if fed.is_empty() {
        b.push(Block::Para(
            "No data: results.json has no federated run with a learning curve (`training = \"federated\"` with `curve {rounds, test_uar}`)."
                .into(),
        ));
        return Ok(());
    }
    let mut protocols: Vec<&str> = fed.iter().map(|e| e.protocol.as_str()).collect();
    protocols.sort_unstable();
    protocols.dedup();
    let mut rows = Vec::new();
    for p in &protocols {
        let these: Vec<&ExperimentResult> = fed.iter().copied().filter(|e| e.protocol == *p).collect();
        let cent: Vec<&ExperimentResult> =
            r.experiments.iter().filter(|e| e.training == "centralized" && e.protocol == *p).collect();
        for e in &these {
            if let Some(c) = &e.curve {
                let best = c.test_uar.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let last = c.test_uar.last().copied().unwrap_or(f64::NAN);
                rows.push(vec![
                    e.id.clone(),
                    c.rounds.last().map_or_else(|| "0".into(), u32::to_string),
                    pct(last),
                    pct(best),
                    cent.first().map_or_else(|| "–".into(), |c| pct(c.uar)),
                ]);
            }
        }
        let file = format!("curve_{p}.svg");
        let svg = plots::learning_curves(&these, &cent, chance(r), &format!("{p}: test UAR per round"));
        let caption = if cent.is_empty() {
            format!("Test UAR per round ({p}); no centralized run of this protocol to compare.")
        } else {
            format!("Test UAR per round ({p}); dashed: centralized runs of the same protocol.")
        };
        b.push(figure(file, svg, caption)?);
    }
    b.push(Block::Table {
        header: ["run", "rounds", "final UAR", "best UAR", "centralized UAR"].iter().map(|s| (*s).to_owned()).collect(),
        rows,
        right: vec![false, true, true, true, true],
    });
    Ok(())
}

fn privacy(r: &Results, b: &mut Vec<Block>) -> Result<(), ReportError> {
    b.push(Block::Heading(2, "Privacy–utility".into()));
    if r.privacy.is_empty() {
        b.push(Block::Para(
            "No data: results.json has no privacy runs (`privacy[]` with epsilon, emotion UAR, attack UAR).".into(),
        ));
        return Ok(());
    }
    let mut sorted: Vec<&crate::PrivacyResult> = r.privacy.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.protocol, &a.mechanism)
            .cmp(&(&b.protocol, &b.mechanism))
            .then(a.epsilon.unwrap_or(f64::INFINITY).total_cmp(&b.epsilon.unwrap_or(f64::INFINITY)))
    });
    b.push(Block::Para(
        "Client-level DP: ε at the δ shown (RDP accountant; ∞ = no DP), z = noise multiplier. Attack = sex inference by an honest-but-curious server from the individual updates, UAR pooled over rounds / mean per round (n/a with secure aggregation: the server sees only the sum). s/round = client training and aggregation; DP and SecAgg = the server's extra seconds per round."
            .into(),
    ));
    let opt = |x: Option<f64>, f: fn(f64) -> String| x.map_or_else(|| "–".to_owned(), f);
    let s3 = |x: f64| format!("{x:.3}");
    b.push(Block::Table {
        header: [
            "run",
            "protocol",
            "mechanism",
            "z",
            "epsilon",
            "δ",
            "emotion UAR",
            "attack UAR (pooled / per round)",
            "attack chance",
            "s/round",
            "DP s/round",
            "SecAgg s/round",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        rows: sorted
            .iter()
            .map(|p| {
                let attack = match (p.attack_uar, p.attack_round_uar) {
                    (Some(a), Some(r)) => format!("{} / {}", pct(a), pct(r)),
                    (Some(a), None) => pct(a),
                    (None, _) if p.mechanism.contains("secagg") => "n/a (SecAgg)".to_owned(),
                    (None, _) => "–".to_owned(),
                };
                vec![
                    p.id.clone(),
                    p.protocol.clone(),
                    p.mechanism.clone(),
                    opt(p.noise_multiplier, |z| format!("{z}")),
                    p.epsilon.map_or_else(|| "∞ (no DP)".into(), |e| format!("{e:.2}")),
                    opt(p.delta, |d| format!("{d:e}")),
                    pct(p.emotion_uar),
                    attack,
                    opt(p.attack_chance, pct),
                    opt(p.seconds_per_round, s3),
                    opt(p.dp_seconds_per_round, s3),
                    opt(p.secagg_seconds_per_round, s3),
                ]
            })
            .collect(),
        right: vec![false, false, false, true, true, true, true, true, true, true, true, true],
    });
    let mut protocols: Vec<&str> = sorted.iter().map(|p| p.protocol.as_str()).collect();
    protocols.dedup();
    for p in protocols {
        let these: Vec<&crate::PrivacyResult> = sorted.iter().copied().filter(|x| x.protocol == p).collect();
        let name = if p.is_empty() { "all" } else { p };
        let svg = plots::privacy(&these, chance(r), &format!("{name}: utility and attack success vs epsilon"));
        b.push(figure(
            format!("privacy_{name}.svg"),
            svg,
            "Emotion UAR (utility) and attack UAR (leakage) against epsilon; dashed: runs without DP.".into(),
        )?);
    }
    Ok(())
}

fn provenance(r: &Results, b: &mut Vec<Block>) {
    b.push(Block::Heading(2, "Provenance".into()));
    let p = &r.provenance;
    let mut items = vec![
        format!("pipeline file: `{}`", if p.pipeline.is_empty() { &r.pipeline } else { &p.pipeline }),
        format!(
            "code version: {}",
            if p.code_version.is_empty() { format!("fedser {}", r.fedser_version) } else { p.code_version.clone() }
        ),
        format!("feature set: {} ({} of {} columns)", r.features.set, r.features.count, r.features.reference_count),
    ];
    if p.seeds.is_empty() {
        items.push("seeds: not recorded".into());
    } else {
        let s: Vec<String> = p.seeds.iter().map(|(k, v)| format!("`{k}` = {v}")).collect();
        items.push(format!("seeds: {}", s.join(", ")));
    }
    if let Some(bs) = p.bootstrap {
        items.push(format!(
            "bootstrap: {} resamples, {:.0} % percentile interval, seed {}",
            bs.resamples,
            bs.level * 100.0,
            bs.seed
        ));
    }
    b.push(Block::List(items));
    if p.stages.is_empty() {
        b.push(Block::Para("Stage timings: no data (no cache lock entries recorded).".into()));
    } else {
        b.push(Block::Para("Stage timings of the runs that produced these results (from `cache/fedser.lock`):".into()));
        b.push(Block::Table {
            header: ["stage", "seconds", "finished (Unix)", "key"].iter().map(|s| (*s).to_owned()).collect(),
            rows: p
                .stages
                .iter()
                .map(|s| {
                    vec![
                        s.stage.clone(),
                        format!("{:.2}", s.seconds),
                        s.finished_unix.to_string(),
                        format!("`{}`", s.key.get(..16).unwrap_or(&s.key)),
                    ]
                })
                .collect(),
            right: vec![false, true, true, false],
        });
    }
    let timed: Vec<&ExperimentResult> = r.experiments.iter().filter(|e| e.fit_seconds.is_some()).collect();
    if !timed.is_empty() {
        b.push(Block::Table {
            header: ["experiment", "wall s", "fit s (sum)", "predict s (sum)", "folds"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            rows: timed
                .iter()
                .map(|e| {
                    vec![
                        e.id.clone(),
                        format!("{:.2}", e.seconds),
                        secs(e.fit_seconds),
                        secs(e.predict_seconds),
                        e.folds.to_string(),
                    ]
                })
                .collect(),
            right: vec![false, true, true, true, true],
        });
    }
}

fn corpus(r: &Results, b: &mut Vec<Block>) {
    let c = &r.corpus;
    b.push(Block::Heading(2, "Corpus".into()));
    b.push(Block::Table {
        header: vec!["emotion".into(), "clips".into()],
        rows: c.by_emotion.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect(),
        right: vec![false, true],
    });
    b.push(Block::Table {
        header: vec!["sex".into(), "clips".into()],
        rows: c.by_sex.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect(),
        right: vec![false, true],
    });
    if c.rejects.is_empty() {
        b.push(Block::Para("No file was rejected.".into()));
    } else {
        b.push(Block::Para(format!(
            "{} files rejected (first {} below; all in `cache/ingest/rejects.parquet`):",
            c.rejected,
            c.rejects.len()
        )));
        b.push(Block::List(c.rejects.iter().map(|(f, why)| format!("`{f}`: {why}")).collect()));
    }
}
