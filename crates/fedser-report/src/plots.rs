//! The report's figures, drawn with plotters' SVG backend (no font files:
//! text is laid out approximately and drawn by the viewer).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{ActorScore, ComparisonRow, ExperimentResult, PrivacyResult};

/// Plot error: plotters' message.
pub(crate) type PlotResult = Result<String, String>;

const FEMALE: RGBColor = RGBColor(214, 39, 40);
const MALE: RGBColor = RGBColor(31, 119, 180);
const UNKNOWN: RGBColor = RGBColor(127, 127, 127);

fn e2s<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// The frame every figure shares: caption, margin, axis label areas.
fn chart_builder<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    title: &str,
    x_label_area: u32,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut b = ChartBuilder::on(root);
    b.caption(title, ("sans-serif", 15)).margin(12).x_label_area_size(x_label_area).y_label_area_size(45);
    b
}

/// The series legend every figure draws: framed, on a translucent white box.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(e2s)
}

fn series_color(i: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    C[i % C.len()]
}

fn text_style(size: u32, pos: Pos) -> TextStyle<'static> {
    TextStyle::from(("sans-serif", size).into_font()).pos(pos)
}

/// Row-normalised confusion matrix as a heat map; each cell shows the row
/// fraction and the count.
pub(crate) fn confusion(labels: &[String], m: &[Vec<u64>], title: &str) -> PlotResult {
    let n = labels.len().max(1);
    let cell = 60i32;
    let (x0, y0) = (80i32, 70i32);
    let w = (x0 + cell * n as i32 + 30) as u32;
    let h = (y0 + cell * n as i32 + 50) as u32;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(e2s)?;
        let centre = Pos::new(HPos::Center, VPos::Center);
        root.draw(&Text::new(title.to_owned(), (w as i32 / 2, 18), text_style(15, centre))).map_err(e2s)?;
        root.draw(&Text::new("predicted", (x0 + cell * n as i32 / 2, 42), text_style(12, centre))).map_err(e2s)?;
        root.draw(&Text::new(
            "true",
            (16, y0 + cell * n as i32 / 2),
            text_style(12, centre).transform(FontTransform::Rotate270),
        ))
        .map_err(e2s)?;
        for (j, l) in labels.iter().enumerate() {
            let x = x0 + cell * j as i32 + cell / 2;
            root.draw(&Text::new(l.clone(), (x, y0 - 10), text_style(12, centre))).map_err(e2s)?;
        }
        for (i, row) in m.iter().enumerate() {
            let y = y0 + cell * i as i32;
            if let Some(l) = labels.get(i) {
                root.draw(&Text::new(l.clone(), (x0 - 22, y + cell / 2), text_style(12, centre))).map_err(e2s)?;
            }
            let total: u64 = row.iter().sum();
            for (j, &c) in row.iter().enumerate() {
                let f = if total == 0 { 0.0 } else { c as f64 / total as f64 };
                let shade = (255.0 * (1.0 - f)).round() as u8;
                let x = x0 + cell * j as i32;
                root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], RGBColor(shade, shade, 255).filled()))
                    .map_err(e2s)?;
                root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], RGBColor(150, 150, 150).stroke_width(1)))
                    .map_err(e2s)?;
                let color = if f > 0.5 { WHITE } else { BLACK };
                let t = text_style(13, centre).color(&color);
                root.draw(&Text::new(format!("{:.2}", f), (x + cell / 2, y + cell / 2 - 7), t)).map_err(e2s)?;
                let t = text_style(10, centre).color(&color);
                root.draw(&Text::new(format!("{c}"), (x + cell / 2, y + cell / 2 + 10), t)).map_err(e2s)?;
            }
        }
        root.present().map_err(e2s)?;
    }
    Ok(buf)
}

fn sex_color(sex: Option<&str>) -> RGBColor {
    match sex.map(str::to_ascii_lowercase).as_deref() {
        Some("female") => FEMALE,
        Some("male") => MALE,
        _ => UNKNOWN,
    }
}

/// UAR per held-out actor, sorted, bars coloured by sex, with the mean UAR
/// of each sex as a dashed line and chance as a grey line.
pub(crate) fn per_actor(actors: &[ActorScore], chance: f64, title: &str) -> PlotResult {
    let mut a: Vec<&ActorScore> = actors.iter().collect();
    a.sort_by(|x, y| x.uar.total_cmp(&y.uar).then(x.actor.cmp(&y.actor)));
    let n = a.len().max(1);
    let w = (200 + 9 * n).clamp(520, 1000) as u32;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(e2s)?;
        let mut chart = chart_builder(&root, title, 30).build_cartesian_2d(0f64..n as f64, 0f64..1f64).map_err(e2s)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .x_desc(format!("{n} held-out actors, sorted by UAR"))
            .y_desc("UAR")
            .draw()
            .map_err(e2s)?;
        for (sex, color) in [("Female", FEMALE), ("Male", MALE), ("unknown", UNKNOWN)] {
            let idx: Vec<usize> = (0..a.len()).filter(|&i| sex_color(a[i].sex.as_deref()) == color).collect();
            if idx.is_empty() {
                continue;
            }
            let mean = idx.iter().map(|&i| a[i].uar).sum::<f64>() / idx.len() as f64;
            chart
                .draw_series(
                    idx.iter()
                        .map(|&i| Rectangle::new([(i as f64 + 0.1, 0.0), (i as f64 + 0.9, a[i].uar)], color.filled())),
                )
                .map_err(e2s)?
                .label(format!("{sex} (n = {}, mean UAR {:.1} %)", idx.len(), mean * 100.0))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
            chart
                .draw_series(DashedLineSeries::new(vec![(0.0, mean), (n as f64, mean)], 6, 4, color.stroke_width(2)))
                .map_err(e2s)?;
        }
        chart
            .draw_series(LineSeries::new(vec![(0.0, chance), (n as f64, chance)], RGBColor(160, 160, 160)))
            .map_err(e2s)?
            .label(format!("chance ({:.1} %)", chance * 100.0))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 12, y)], RGBColor(160, 160, 160)));
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(e2s)?;
    }
    Ok(buf)
}

/// Grouped bars: UAR per model (groups) and protocol (bars), with the 95 %
/// bootstrap interval as error bars.
pub(crate) fn comparison(rows: &[&ComparisonRow], chance: f64, title: &str) -> PlotResult {
    let mut models: Vec<String> = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    for r in rows {
        let m = model_label(r);
        if !models.contains(&m) {
            models.push(m);
        }
        let g = format!("{} / {}", r.protocol, r.training);
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let n = models.len().max(1);
    let k = groups.len().max(1);
    let w = (160 + 110 * n).clamp(520, 1100) as u32;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(e2s)?;
        let mut chart =
            chart_builder(&root, title, 40).build_cartesian_2d(-0.5f64..n as f64 - 0.5, 0f64..1f64).map_err(e2s)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("UAR (95 % bootstrap interval)")
            .draw()
            .map_err(e2s)?;
        let width = 0.8 / k as f64;
        for (g, group) in groups.iter().enumerate() {
            let color = series_color(g);
            let pts: Vec<(f64, &ComparisonRow)> = rows
                .iter()
                .filter(|r| &format!("{} / {}", r.protocol, r.training) == group)
                .filter_map(|r| {
                    let i = models.iter().position(|m| *m == model_label(r))?;
                    Some((i as f64 - 0.4 + width * (g as f64 + 0.5), *r))
                })
                .collect();
            chart
                .draw_series(
                    pts.iter().map(|(x, r)| {
                        Rectangle::new([(x - width * 0.45, 0.0), (x + width * 0.45, r.uar)], color.filled())
                    }),
                )
                .map_err(e2s)?
                .label(group.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
            for (x, r) in &pts {
                if let (Some(lo), Some(hi)) = (r.uar_ci_low, r.uar_ci_high) {
                    let d = width * 0.15;
                    for seg in
                        [vec![(*x, lo), (*x, hi)], vec![(x - d, lo), (x + d, lo)], vec![(x - d, hi), (x + d, hi)]]
                    {
                        chart.draw_series(std::iter::once(PathElement::new(seg, BLACK))).map_err(e2s)?;
                    }
                }
            }
        }
        chart
            .draw_series(LineSeries::new(vec![(-0.5, chance), (n as f64 - 0.5, chance)], RGBColor(160, 160, 160)))
            .map_err(e2s)?;
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        for (i, m) in models.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64, 0.0));
            root.draw(&Text::new(m.clone(), (px, py + 16), text_style(12, Pos::new(HPos::Center, VPos::Center))))
                .map_err(e2s)?;
        }
        root.present().map_err(e2s)?;
    }
    Ok(buf)
}

pub(crate) fn model_label(r: &ComparisonRow) -> String {
    if r.feature_set.is_empty() {
        r.model.clone()
    } else {
        format!("{} ({})", r.model, r.feature_set)
    }
}

/// Test UAR per round of every federated run of one protocol, with each
/// centralized experiment of that protocol as a horizontal dashed line.
pub(crate) fn learning_curves(
    federated: &[&ExperimentResult],
    centralized: &[&ExperimentResult],
    chance: f64,
    title: &str,
) -> PlotResult {
    let max_round = federated
        .iter()
        .filter_map(|e| e.curve.as_ref())
        .flat_map(|c| c.rounds.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (760, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(e2s)?;
        let mut chart =
            chart_builder(&root, title, 35).build_cartesian_2d(0f64..f64::from(max_round), 0f64..1f64).map_err(e2s)?;
        chart.configure_mesh().x_desc("round").y_desc("test UAR").draw().map_err(e2s)?;
        for (i, e) in federated.iter().enumerate() {
            let Some(c) = &e.curve else { continue };
            let color = series_color(i);
            let pts: Vec<(f64, f64)> = c.rounds.iter().zip(&c.test_uar).map(|(&r, &u)| (f64::from(r), u)).collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(e2s)?
                .label(e.id.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2)));
        }
        for e in centralized {
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(0.0, e.uar), (f64::from(max_round), e.uar)],
                    8,
                    5,
                    BLACK.stroke_width(1),
                ))
                .map_err(e2s)?
                .label(format!("{} (UAR {:.1} %)", e.id, e.uar * 100.0))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK));
        }
        chart
            .draw_series(LineSeries::new(vec![(0.0, chance), (f64::from(max_round), chance)], RGBColor(170, 170, 170)))
            .map_err(e2s)?
            .label("chance")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], RGBColor(170, 170, 170)));
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(e2s)?;
    }
    Ok(buf)
}

/// Emotion UAR and attack UAR against the privacy budget epsilon (log
/// axis); runs without DP (`epsilon = null`) are drawn as dashed lines.
pub(crate) fn privacy(rows: &[&PrivacyResult], chance: f64, title: &str) -> PlotResult {
    let eps: Vec<f64> = rows.iter().filter_map(|r| r.epsilon).filter(|e| *e > 0.0).collect();
    let lo = eps.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = eps.iter().copied().fold(0.0, f64::max);
    let (lo, hi) = if eps.is_empty() { (0.1, 100.0) } else { (lo / 2.0, hi * 2.0) };
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (760, 400)).into_drawing_area();
        root.fill(&WHITE).map_err(e2s)?;
        let mut chart =
            chart_builder(&root, title, 35).build_cartesian_2d((lo..hi).log_scale(), 0f64..1f64).map_err(e2s)?;
        chart.configure_mesh().x_desc("epsilon (log scale)").y_desc("UAR").draw().map_err(e2s)?;
        let mut dp: Vec<&&PrivacyResult> = rows.iter().filter(|r| r.epsilon.is_some_and(|e| e > 0.0)).collect();
        dp.sort_by(|a, b| a.epsilon.unwrap_or(0.0).total_cmp(&b.epsilon.unwrap_or(0.0)));
        type Series = (&'static str, RGBColor, fn(&PrivacyResult) -> Option<f64>);
        let series: [Series; 2] =
            [("emotion UAR", MALE, |r| Some(r.emotion_uar)), ("attack UAR", FEMALE, |r| r.attack_uar)];
        for (name, color, get) in series {
            let pts: Vec<(f64, f64)> = dp.iter().filter_map(|r| Some((r.epsilon.unwrap_or(lo), get(r)?))).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(e2s)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], color.stroke_width(2)));
            chart.draw_series(pts.iter().map(|p| Circle::new(*p, 4, color.filled()))).map_err(e2s)?;
            for y in rows.iter().filter(|r| r.epsilon.is_none()).filter_map(|r| get(r)) {
                chart
                    .draw_series(DashedLineSeries::new(vec![(lo, y), (hi, y)], 6, 4, color.stroke_width(1)))
                    .map_err(e2s)?;
            }
        }
        chart
            .draw_series(LineSeries::new(vec![(lo, chance), (hi, chance)], RGBColor(170, 170, 170)))
            .map_err(e2s)?
            .label("emotion chance")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], RGBColor(170, 170, 170)));
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(e2s)?;
    }
    Ok(buf)
}
