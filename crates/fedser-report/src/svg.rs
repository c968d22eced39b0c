//! Small self-contained SVG plots (no fonts or network needed: text is drawn
//! by the viewer).

use std::fmt::Write;

use crate::ActorScore;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Row-normalised confusion matrix as a heat map with counts.
pub(crate) fn confusion(labels: &[String], m: &[Vec<u64>], title: &str) -> String {
    let n = labels.len();
    let cell = 56.0;
    let (x0, y0) = (90.0, 60.0);
    let w = x0 + cell * n as f64 + 30.0;
    let h = y0 + cell * n as f64 + 60.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(s, r#"<text x="{}" y="20" text-anchor="middle" font-size="14">{}</text>"#, w / 2.0, esc(title));
    for (i, row) in m.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (j, &c) in row.iter().enumerate() {
            let f = if total == 0 { 0.0 } else { c as f64 / total as f64 };
            let shade = (255.0 * (1.0 - f)).round() as u8;
            let (x, y) = (x0 + cell * j as f64, y0 + cell * i as f64);
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="rgb({shade},{shade},255)" stroke="#888"/>"##
            );
            let color = if f > 0.5 { "white" } else { "black" };
            let _ = write!(
                s,
                r#"<text x="{}" y="{}" text-anchor="middle" fill="{color}">{:.2}</text><text x="{}" y="{}" text-anchor="middle" fill="{color}" font-size="9">n={c}</text>"#,
                x + cell / 2.0,
                y + cell / 2.0,
                f,
                x + cell / 2.0,
                y + cell / 2.0 + 13.0
            );
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            x0 - 6.0,
            y0 + cell * i as f64 + cell / 2.0 + 4.0,
            esc(&labels[i])
        );
    }
    for (j, l) in labels.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            x0 + cell * j as f64 + cell / 2.0,
            y0 - 8.0,
            esc(l)
        );
    }
    let _ =
        write!(s, r#"<text x="{}" y="{}" text-anchor="middle">predicted</text>"#, x0 + cell * n as f64 / 2.0, h - 20.0);
    let _ = write!(
        s,
        r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">true</text>"#,
        y0 + cell * n as f64 / 2.0,
        y0 + cell * n as f64 / 2.0
    );
    s.push_str("</svg>\n");
    s
}

/// Per-actor UAR as bars (sorted by UAR), coloured by sex, with chance level.
pub(crate) fn per_actor(actors: &[ActorScore], title: &str) -> String {
    let mut a: Vec<&ActorScore> = actors.iter().collect();
    a.sort_by(|x, y| x.uar.total_cmp(&y.uar).then(x.actor.cmp(&y.actor)));
    let bw = if a.len() > 40 { 8.0 } else { 18.0 };
    let (x0, y0, ph) = (50.0, 40.0, 220.0);
    let w = x0 + bw * a.len() as f64 + 140.0;
    let h = y0 + ph + 60.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(s, r#"<text x="{}" y="20" text-anchor="middle" font-size="14">{}</text>"#, w / 2.0, esc(title));
    for t in 0..=5 {
        let v = f64::from(t) / 5.0;
        let y = y0 + ph * (1.0 - v);
        let _ = write!(
            s,
            r##"<line x1="{x0}" y1="{y}" x2="{}" y2="{y}" stroke="#ddd"/><text x="{}" y="{}" text-anchor="end">{v:.1}</text>"##,
            x0 + bw * a.len() as f64,
            x0 - 4.0,
            y + 4.0
        );
    }
    for (i, s_) in a.iter().enumerate() {
        let color = match s_.sex.as_deref() {
            Some("Female") => "#d9544d",
            Some("Male") => "#3b75af",
            _ => "#999999",
        };
        let bh = ph * s_.uar.clamp(0.0, 1.0);
        let x = x0 + bw * i as f64;
        let _ = write!(
            s,
            r#"<rect x="{}" y="{}" width="{}" height="{bh}" fill="{color}"><title>actor {} ({}): UAR {:.3}, n={}</title></rect>"#,
            x + 1.0,
            y0 + ph - bh,
            bw - 2.0,
            s_.actor,
            s_.sex.as_deref().unwrap_or("unknown"),
            s_.uar,
            s_.n
        );
    }
    let chance = y0 + ph * (1.0 - 1.0 / 6.0);
    let right = x0 + bw * a.len() as f64;
    let _ = write!(
        s,
        r#"<line x1="{x0}" y1="{chance}" x2="{right}" y2="{chance}" stroke="black" stroke-dasharray="4 3"/><text x="{}" y="{}">chance (1/6)</text>"#,
        right + 4.0,
        chance + 4.0
    );
    let _ = write!(
        s,
        r##"<rect x="{}" y="{}" width="10" height="10" fill="#d9544d"/><text x="{}" y="{}">Female</text><rect x="{}" y="{}" width="10" height="10" fill="#3b75af"/><text x="{}" y="{}">Male</text>"##,
        right + 4.0,
        y0,
        right + 18.0,
        y0 + 9.0,
        right + 4.0,
        y0 + 16.0,
        right + 18.0,
        y0 + 25.0
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">actors, sorted by UAR</text>"#,
        x0 + bw * a.len() as f64 / 2.0,
        h - 20.0
    );
    s.push_str("</svg>\n");
    s
}
