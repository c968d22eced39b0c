//! Plain aligned text tables (no box drawing, so the output greps and
//! diffs well) and compact cell formatting.

use polars::prelude::AnyValue;

/// Longest string cell before it is cut with `…`.
const MAX_CELL: usize = 40;

/// Columns of strings, left-aligned up to `right_from`, right-aligned after.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    right_from: usize,
}

impl Table {
    pub(crate) fn new(header: Vec<String>) -> Self {
        let right_from = header.len();
        Self { header, rows: Vec::new(), right_from }
    }

    /// Right-align column `i` and every later one.
    pub(crate) fn right_from(&mut self, i: usize) {
        self.right_from = i;
    }

    pub(crate) fn row(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub(crate) fn render(&self) -> String {
        let n = self.header.len();
        let mut w: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        let mut emit = |cells: &[String]| {
            let mut s = String::new();
            for (i, width) in w.iter().enumerate() {
                let c = cells.get(i).map_or("", String::as_str);
                let pad = width.saturating_sub(c.chars().count());
                if i > 0 {
                    s.push_str("  ");
                }
                if i >= self.right_from {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                } else {
                    s.push_str(c);
                    s.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        emit(&self.header);
        for r in &self.rows {
            emit(r);
        }
        out
    }
}

/// A float in at most 6 significant digits, scientific when very large or
/// small.
pub(crate) fn fmt_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let a = v.abs();
    if !(1e-4..1e7).contains(&a) {
        return format!("{v:.4e}");
    }
    let digits = a.log10().floor() as i32 + 1; // digits before the point
    let decimals = (6 - digits).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// One cell of the head or a group table.
pub(crate) fn cell(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => "null".to_owned(),
        AnyValue::Float32(x) => fmt_float(f64::from(*x)),
        AnyValue::Float64(x) => fmt_float(*x),
        AnyValue::String(s) => cut(s),
        AnyValue::StringOwned(s) => cut(s.as_str()),
        other => cut(&other.to_string()),
    }
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_CELL {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(MAX_CELL - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats() {
        assert_eq!(fmt_float(0.0), "0");
        assert_eq!(fmt_float(1.0), "1");
        assert_eq!(fmt_float(-2.5), "-2.5");
        assert_eq!(fmt_float(0.123456789), "0.123457");
        assert_eq!(fmt_float(1234.56789), "1234.57");
        assert_eq!(fmt_float(1e-7), "1.0000e-7");
        assert_eq!(fmt_float(f64::NAN), "NaN");
    }

    #[test]
    fn table_alignment() {
        let mut t = Table::new(vec!["a".into(), "n".into()]);
        t.right_from(1);
        t.row(vec!["xyz".into(), "5".into()]);
        t.row(vec!["q".into(), "123".into()]);
        assert_eq!(t.render(), "a      n\nxyz    5\nq    123\n");
    }
}
