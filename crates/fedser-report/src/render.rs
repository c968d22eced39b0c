//! results.json -> report.md.

use std::fmt::Write;

use crate::Results;

fn pct(x: f64) -> String {
    format!("{:.1}", x * 100.0)
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
