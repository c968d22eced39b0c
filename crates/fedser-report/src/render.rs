//! results.json -> report.md.

use std::fmt::Write;

use crate::{ExperimentResult, Results};

fn pct(x: f64) -> String {
    format!("{:.1}", x * 100.0)
}

/// Federated versus centralized per protocol, and the learning curves.
fn federated_section(s: &mut String, r: &Results) {
    let fed: Vec<_> = r.experiments.iter().filter(|e| e.federated.is_some()).collect();
    if fed.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Federated versus centralized\n");
    let _ = writeln!(s, "Every actor is one client; the held-out actors never train. UAR / accuracy / macro-F1 in %, Δ UAR = federated - centralized (same split, same model family).\n");
    let _ = writeln!(s, "| protocol | centralized UAR | federated | strategy | rounds | UAR | Δ UAR | accuracy | macro-F1 | skipped rounds | rejected updates |");
    let _ = writeln!(s, "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for e in &fed {
        let Some(f) = &e.federated else { continue };
        let model = e.model.get("name").and_then(|v| v.as_str()).unwrap_or("?");
        let central = r.experiments.iter().find(|c| {
            c.federated.is_none()
                && c.protocol == e.protocol
                && c.model.get("name").and_then(|v| v.as_str()) == Some(model)
        });
        let (cu, du) = central
            .map_or(("-".to_owned(), "-".to_owned()), |c| (pct(c.uar), format!("{:+.1}", (e.uar - c.uar) * 100.0)));
        let _ = writeln!(
            s,
            "| {} | {cu} | {} | {} | {} | {} | {du} | {} | {} | {} | {} |",
            e.protocol,
            e.id,
            f.strategy,
            f.rounds,
            pct(e.uar),
            pct(e.accuracy),
            pct(e.macro_f1),
            f.skipped_rounds,
            f.rejected_updates
        );
    }
    let _ = writeln!(s, "\n### Learning curves\n");
    let _ = writeln!(s, "Test UAR (%) of the global model after each round, test predictions of all folds pooled (round 0 = initial model). Per-round tables: `cache/federate/rounds/<experiment>.parquet`.\n");
    let _ = writeln!(s, "| round | {} |", fed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(s, "|---:|{}", "---:|".repeat(fed.len()));
    let rounds = fed.iter().filter_map(|e| e.federated.as_ref()).map(|f| f.learning_curve.len()).max().unwrap_or(0);
    for i in 0..rounds {
        let cells: Vec<String> = fed
            .iter()
            .map(|e| {
                e.federated
                    .as_ref()
                    .and_then(|f| f.learning_curve.get(i))
                    .and_then(|p| p.get("uar"))
                    .and_then(serde_json::Value::as_f64)
                    .map_or_else(|| "-".to_owned(), pct)
            })
            .collect();
        let _ = writeln!(s, "| {i} | {} |", cells.join(" | "));
    }
}

/// Renders the Markdown report from the results alone.
pub(crate) fn markdown(r: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# fedser report\n");
    let c = &r.corpus;
    let _ = writeln!(
        s,
        "Corpus **{}**: {} clips from {} actors ({:.2} h of audio), {} files rejected. Features: **{}**, {} of {} columns. Pipeline `{}`, fedser {}.\n",
        c.name, c.clips, c.actors, c.audio_hours, c.rejected, r.features.set, r.features.count, r.features.reference_count, r.pipeline, r.fedser_version
    );
    let _ = writeln!(s, "## Results\n");
    let _ = writeln!(s, "UAR (unweighted average recall, chance = {:.1} %) is the main metric. Values in %. Per-actor columns give the spread of UAR over test actors.\n", 100.0 / r.experiments.first().map_or(6, |e| e.labels.len().max(1)) as f64);
    let _ = writeln!(s, "| experiment | protocol | training | model | UAR | accuracy | macro-F1 | per-actor UAR min / median / max | folds | seconds |");
    let _ = writeln!(s, "|---|---|---|---|---:|---:|---:|---|---:|---:|");
    for e in &r.experiments {
        let model = e.model.get("name").and_then(|v| v.as_str()).unwrap_or("?");
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} / {} | {} | {:.2} |",
            e.id,
            e.protocol,
            e.training,
            model,
            pct(e.uar),
            pct(e.accuracy),
            pct(e.macro_f1),
            pct(e.per_actor_uar.min),
            pct(e.per_actor_uar.median),
            pct(e.per_actor_uar.max),
            e.folds,
            e.seconds
        );
    }
    if r.experiments.is_empty() {
        let _ = writeln!(s, "\nNo experiments ran (no protocol selected).");
    }
    federated_section(&mut s, r);
    privacy_section(&mut s, r);
    for e in &r.experiments {
        let _ = writeln!(s, "\n### {}\n", e.id);
        let _ = writeln!(s, "Confusion matrix (rows = true, columns = predicted, counts):\n");
        let _ = writeln!(s, "| true \\ pred | {} |", e.labels.join(" | "));
        let _ = writeln!(s, "|---|{}", "---:|".repeat(e.labels.len()));
        for (l, row) in e.labels.iter().zip(&e.confusion) {
            let cells: Vec<String> = row.iter().map(u64::to_string).collect();
            let _ = writeln!(s, "| **{l}** | {} |", cells.join(" | "));
        }
        let _ = writeln!(s, "\n![confusion](confusion_{}.svg)", e.id);
        if e.per_actor.len() > 1 {
            let _ = writeln!(s, "\n![per-actor UAR](per_actor_{}.svg)", e.id);
        }
    }
    let _ = writeln!(s, "\n## Corpus\n");
    let _ = writeln!(s, "| emotion | clips |\n|---|---:|");
    for (k, v) in &c.by_emotion {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    let _ = writeln!(s, "\n| sex | clips |\n|---|---:|");
    for (k, v) in &c.by_sex {
        let _ = writeln!(s, "| {k} | {v} |");
    }
    if c.rejects.is_empty() {
        let _ = writeln!(s, "\nNo file was rejected.");
    } else {
        let _ = writeln!(s, "\nRejected files (see `fedser inspect` / `cache/ingest/rejects.parquet` for all):\n");
        for (f, why) in &c.rejects {
            let _ = writeln!(s, "- `{f}`: {why}");
        }
    }
    s
}

/// Privacy–utility table: one row per federated experiment with `[privacy]`.
fn privacy_section(s: &mut String, r: &Results) {
    let rows: Vec<(&ExperimentResult, &serde_json::Value)> = r
        .experiments
        .iter()
        .filter_map(|e| e.federated.as_ref().and_then(|f| f.privacy.as_ref()).map(|p| (e, p)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(s, "\n## Privacy–utility\n");
    let _ = writeln!(
        s,
        "Client-level DP-FedAvg: ε at the δ shown (RDP accountant; ∞ = no DP); attack = sex inference by an honest-but-curious server from individual updates (UAR pooled over rounds / mean per round, chance 0.5; n/a with secure aggregation: the server sees only the sum). s/round = client training + aggregation, DP and SecAgg server time per round.\n"
    );
    let _ = writeln!(s, "| setting | protocol | z | ε | δ | emotion UAR | attack UAR (pooled / per round) | s/round | DP s/round | SecAgg s/round |");
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let num = |v: &serde_json::Value| v.as_f64();
    for (e, p) in rows {
        let dp = &p["dp"];
        let eps = num(&dp["epsilon"]).map_or_else(|| "∞".to_owned(), |x| format!("{x:.2}"));
        let z = num(&dp["noise_multiplier"]).map_or_else(|| "–".to_owned(), |x| format!("{x}"));
        let delta = num(&dp["delta"]).map_or_else(|| "–".to_owned(), |x| format!("{x:e}"));
        let a = &p["attack"];
        let attack = match (num(&a["pooled_uar"]), num(&a["mean_round_uar"])) {
            (Some(x), Some(y)) => format!("{x:.3} / {y:.3}"),
            _ if a.is_null() => "–".to_owned(),
            _ => "n/a (SecAgg)".to_owned(),
        };
        let f = |k: &str| num(&p[k]).map_or_else(|| "–".to_owned(), |x| format!("{x:.3}"));
        let setting = e.id.rsplit_once('-').map_or(e.id.as_str(), |(_, t)| t);
        let _ = writeln!(
            s,
            "| {} | {} | {z} | {eps} | {delta} | {:.3} | {attack} | {} | {} | {} |",
            setting,
            e.protocol.as_str(),
            e.uar,
            f("fit_seconds_per_round"),
            f("dp_seconds_per_round"),
            f("secagg_seconds_per_round"),
        );
    }
}
