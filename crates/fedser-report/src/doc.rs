//! A tiny document model rendered twice: to Markdown (figures as links to
//! the SVG files next to it) and to a self-contained HTML page (figures
//! inlined, no script, no network).

use std::fmt::Write;

/// One block of the report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Block {
    /// Heading of level 1..=3.
    Heading(u8, String),
    /// Paragraph (inline `**bold**` and `` `code` `` are kept in Markdown and
    /// translated in HTML).
    Para(String),
    /// Table: header and rows; `right` marks right-aligned columns.
    Table { header: Vec<String>, rows: Vec<Vec<String>>, right: Vec<bool> },
    /// Bullet list.
    List(Vec<String>),
    /// A figure: file name (Markdown link), SVG text (inlined in HTML), caption.
    Figure { file: String, svg: String, caption: String },
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Markdown.
pub(crate) fn markdown(blocks: &[Block]) -> String {
    let mut s = String::new();
    for b in blocks {
        match b {
            Block::Heading(l, t) => {
                let _ = writeln!(s, "{} {t}\n", "#".repeat(usize::from(*l)));
            }
            Block::Para(t) => {
                let _ = writeln!(s, "{t}\n");
            }
            Block::Table { header, rows, right } => {
                let h: Vec<String> = header.iter().map(|c| md_cell(c)).collect();
                let _ = writeln!(s, "| {} |", h.join(" | "));
                let sep: Vec<&str> = (0..header.len())
                    .map(|i| if right.get(i).copied().unwrap_or(false) { "---:" } else { "---" })
                    .collect();
                let _ = writeln!(s, "|{}|", sep.join("|"));
                for r in rows {
                    let cells: Vec<String> = r.iter().map(|c| md_cell(c)).collect();
                    let _ = writeln!(s, "| {} |", cells.join(" | "));
                }
                s.push('\n');
            }
            Block::List(items) => {
                for i in items {
                    let _ = writeln!(s, "- {i}");
                }
                s.push('\n');
            }
            Block::Figure { file, caption, .. } => {
                let _ = writeln!(s, "![{}]({file})\n", md_cell(caption));
                let _ = writeln!(s, "*{caption}*\n");
            }
        }
    }
    s
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Escapes and translates the Markdown inline marks used in the report
/// (`**bold**`, `` `code` ``).
fn inline(s: &str) -> String {
    let e = esc(s);
    let mut out = String::new();
    let mut bold = false;
    let mut code = false;
    let mut rest = e.as_str();
    while !rest.is_empty() {
        if !code && rest.starts_with("**") {
            out.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
            rest = &rest[2..];
        } else if rest.starts_with('`') {
            out.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
            rest = &rest[1..];
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if code {
        out.push_str("</code>");
    }
    if bold {
        out.push_str("</strong>");
    }
    out
}

/// Strips the XML declaration so the SVG can be inlined.
fn inline_svg(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:3px 8px}\
th{background:#f2f2f2}td.r{text-align:right;font-variant-numeric:tabular-nums}\
figure{margin:1.5em 0}figcaption{font-size:13px;color:#555}code{background:#f4f4f4;padding:0 3px}\
h1{border-bottom:2px solid #ddd}h2{border-bottom:1px solid #eee;margin-top:2em}";

/// Self-contained HTML.
pub(crate) fn html(title: &str, blocks: &[Block]) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(title)
    );
    for b in blocks {
        match b {
            Block::Heading(l, t) => {
                let _ = writeln!(s, "<h{l}>{}</h{l}>", inline(t));
            }
            Block::Para(t) => {
                let _ = writeln!(s, "<p>{}</p>", inline(t));
            }
            Block::Table { header, rows, right } => {
                s.push_str("<table>\n<thead><tr>");
                for h in header {
                    let _ = write!(s, "<th>{}</th>", inline(h));
                }
                s.push_str("</tr></thead>\n<tbody>\n");
                for r in rows {
                    s.push_str("<tr>");
                    for (i, c) in r.iter().enumerate() {
                        let class = if right.get(i).copied().unwrap_or(false) { " class=\"r\"" } else { "" };
                        let _ = write!(s, "<td{class}>{}</td>", inline(c));
                    }
                    s.push_str("</tr>\n");
                }
                s.push_str("</tbody>\n</table>\n");
            }
            Block::List(items) => {
                s.push_str("<ul>\n");
                for i in items {
                    let _ = writeln!(s, "<li>{}</li>", inline(i));
                }
                s.push_str("</ul>\n");
            }
            Block::Figure { svg, caption, .. } => {
                let _ = writeln!(
                    s,
                    "<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>",
                    inline_svg(svg),
                    inline(caption)
                );
            }
        }
    }
    s.push_str("</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_formats() {
        let blocks = vec![
            Block::Heading(1, "T".into()),
            Block::Para("a **b** `c<d>` x|y".into()),
            Block::Table {
                header: vec!["k".into(), "v".into()],
                rows: vec![vec!["a|b".into(), "1".into()]],
                right: vec![false, true],
            },
            Block::Figure {
                file: "f.svg".into(),
                svg: "<?xml version=\"1.0\"?><svg></svg>".into(),
                caption: "cap".into(),
            },
        ];
        let md = markdown(&blocks);
        assert!(md.contains("# T\n"), "{md}");
        assert!(md.contains("| a\\|b | 1 |") && md.contains("|---|---:|"), "{md}");
        assert!(md.contains("![cap](f.svg)"), "{md}");
        let h = html("T", &blocks);
        assert!(h.contains("<strong>b</strong> <code>c&lt;d&gt;</code> x|y"), "{h}");
        assert!(h.contains("<td class=\"r\">1</td>"), "{h}");
        assert!(h.contains("<figure>\n<svg></svg>") && !h.contains("<?xml"), "{h}");
        assert!(!h.contains("<script") && !h.contains("src=\"http"), "{h}");
    }
}
