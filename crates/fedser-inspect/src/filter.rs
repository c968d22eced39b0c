//! `--filter` expressions: `COLUMN OP VALUE` clauses joined by `&&`.
//!
//! * `OP` is one of `==`, `!=`, `<`, `<=`, `>`, `>=`.
//! * `COLUMN` is a column name (it may contain brackets and any character
//!   but an operator, a quote or `&`); it may be wrapped in backticks.
//! * `VALUE` is a number (`1001`, `-0.5`, `1e-3`), a quoted string (`'ANG'`
//!   or `"ANG"`), or a bare word (`ANG`, `true`).
//!
//! Parsing ([`parse`]) needs no table; [`Filter::to_expr`] checks the
//! clauses against the table's schema (the column exists, the value fits
//! its type) and builds the polars predicate.

use polars::prelude::{col, lit, DataType, Expr, Schema};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// The right-hand side of a clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An unquoted number; `text` is kept for string columns.
    Number {
        /// The value.
        value: f64,
        /// Whether it was written as an integer.
        integer: bool,
        /// As written.
        text: String,
    },
    /// A quoted string.
    Quoted(String),
    /// An unquoted word that is not a number.
    Bare(String),
}

impl Value {
    fn text(&self) -> &str {
        match self {
            Value::Number { text, .. } => text,
            Value::Quoted(s) | Value::Bare(s) => s,
        }
    }
}

/// `COLUMN OP VALUE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// Column name.
    pub column: String,
    /// Operator.
    pub op: Op,
    /// Right-hand side.
    pub value: Value,
}

/// A conjunction of clauses.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// All must hold.
    pub clauses: Vec<Clause>,
}

const OP_CHARS: &[char] = &['=', '!', '<', '>'];

/// Parses `actor == 1001 && emotion != 'NEU'`. The error is one line that
/// names the offending clause, column or operator.
///
/// # Errors
/// A message when the text is not a valid filter.
pub fn parse(text: &str) -> Result<Filter, String> {
    if text.trim().is_empty() {
        return Err("empty filter (expected e.g. `actor == 1001`)".to_owned());
    }
    let mut clauses = Vec::new();
    for part in split_and(text)? {
        clauses.push(parse_clause(part.trim())?);
    }
    Ok(Filter { clauses })
}

/// Splits on `&&` outside quotes; rejects `||` and a lone `&`/`|`.
fn split_and(text: &str) -> Result<Vec<&str>, String> {
    let b = text.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i) = (0usize, 0usize);
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if c == b'&' && b.get(i + 1) == Some(&b'&') => {
                parts.push(&text[start..i]);
                i += 2;
                start = i;
                continue;
            }
            None if c == b'|' && b.get(i + 1) == Some(&b'|') => {
                return Err("`||` is not supported: only `&&`-joined clauses".to_owned());
            }
            None if c == b'&' => return Err("single `&`: join clauses with `&&`".to_owned()),
            None => {}
        }
        i += 1;
    }
    if let Some(q) = quote {
        return Err(format!("unterminated {} quote", q as char));
    }
    parts.push(&text[start..]);
    if parts.iter().any(|p| p.trim().is_empty()) {
        return Err("empty clause next to `&&`".to_owned());
    }
    Ok(parts)
}

fn parse_clause(clause: &str) -> Result<Clause, String> {
    // The operator is the first run of operator characters outside quotes.
    let Some(pos) = clause.find(|c| OP_CHARS.contains(&c) || c == '\'' || c == '"') else {
        return Err(format!(
            "no operator in `{clause}` (expected COLUMN OP VALUE with OP one of ==, !=, <, <=, >, >=)"
        ));
    };
    let lhs = clause[..pos].trim();
    let rest = &clause[pos..];
    let op_len = rest.find(|c| !OP_CHARS.contains(&c)).unwrap_or(rest.len());
    let op_text = &rest[..op_len];
    let op = match op_text {
        "==" => Op::Eq,
        "!=" => Op::Ne,
        "<" => Op::Lt,
        "<=" => Op::Le,
        ">" => Op::Gt,
        ">=" => Op::Ge,
        "" => return Err(format!("no operator before the quote in `{clause}`")),
        "=" => return Err(format!("unknown operator `=` in `{clause}` (use `==`)")),
        other => {
            return Err(format!("unknown operator `{other}` in `{clause}` (expected one of ==, !=, <, <=, >, >=)"))
        }
    };
    let column = lhs.strip_prefix('`').and_then(|s| s.strip_suffix('`')).unwrap_or(lhs);
    if column.is_empty() {
        return Err(format!("missing column name before `{}` in `{clause}`", op.as_str()));
    }
    let rhs = rest[op_len..].trim();
    let value = parse_value(rhs).map_err(|e| format!("{e} after `{column} {}`", op.as_str()))?;
    Ok(Clause { column: column.to_owned(), op, value })
}

fn parse_value(rhs: &str) -> Result<Value, String> {
    if rhs.is_empty() {
        return Err("missing value".to_owned());
    }
    let first = rhs.as_bytes()[0];
    if first == b'\'' || first == b'"' {
        let q = first as char;
        let inner = &rhs[1..];
        let Some(end) = inner.find(q) else {
            return Err(format!("unterminated {q} quote"));
        };
        if !inner[end + 1..].trim().is_empty() {
            return Err(format!("unexpected `{}` after the quoted value", inner[end + 1..].trim()));
        }
        return Ok(Value::Quoted(inner[..end].to_owned()));
    }
    if rhs.contains(char::is_whitespace) {
        return Err(format!("value `{rhs}` has spaces (quote it)"));
    }
    if rhs.contains(OP_CHARS) || rhs.contains(['\'', '"']) {
        return Err(format!("bad value `{rhs}`"));
    }
    let integer = rhs.parse::<i64>().is_ok();
    match rhs.parse::<f64>() {
        Ok(value) if value.is_finite() || integer => Ok(Value::Number { value, integer, text: rhs.to_owned() }),
        _ => Ok(Value::Bare(rhs.to_owned())),
    }
}

impl Filter {
    /// The predicate for a table with `schema`.
    ///
    /// # Errors
    /// A one-line message when a column is unknown or a value does not fit
    /// the column's type.
    pub fn to_expr(&self, schema: &Schema) -> Result<Expr, String> {
        let mut out: Option<Expr> = None;
        for c in &self.clauses {
            let e = clause_expr(c, schema)?;
            out = Some(match out {
                Some(acc) => acc.and(e),
                None => e,
            });
        }
        out.ok_or_else(|| "empty filter".to_owned())
    }

    /// The columns the clauses name.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.clauses.iter().map(|c| c.column.as_str())
    }
}

fn clause_expr(c: &Clause, schema: &Schema) -> Result<Expr, String> {
    let Some(dtype) = schema.get(c.column.as_str()) else {
        return Err(format!("unknown column `{}` in --filter", c.column));
    };
    let rhs = if dtype.is_primitive_numeric() {
        match &c.value {
            Value::Number { value, integer: true, .. } if dtype.is_integer() => lit(*value as i64),
            Value::Number { value, .. } => lit(*value),
            other => {
                return Err(format!(
                    "column `{}` is numeric ({dtype}) but `{}` is not a number",
                    c.column,
                    other.text()
                ))
            }
        }
    } else if *dtype == DataType::String {
        lit(c.value.text().to_owned())
    } else if *dtype == DataType::Boolean {
        match c.value.text() {
            "true" => lit(true),
            "false" => lit(false),
            other => return Err(format!("column `{}` is boolean but `{other}` is not true/false", c.column)),
        }
    } else {
        return Err(format!("cannot filter on column `{}` of type {dtype}", c.column));
    };
    let lhs = col(c.column.as_str());
    Ok(match c.op {
        Op::Eq => lhs.eq(rhs),
        Op::Ne => lhs.neq(rhs),
        Op::Lt => lhs.lt(rhs),
        Op::Le => lhs.lt_eq(rhs),
        Op::Gt => lhs.gt(rhs),
        Op::Ge => lhs.gt_eq(rhs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(v: f64, text: &str) -> Value {
        Value::Number { value: v, integer: text.parse::<i64>().is_ok(), text: text.to_owned() }
    }

    #[test]
    fn parses_each_operator() {
        for (s, op) in [("==", Op::Eq), ("!=", Op::Ne), ("<", Op::Lt), ("<=", Op::Le), (">", Op::Gt), (">=", Op::Ge)] {
            let f = parse(&format!("actor {s} 1001")).unwrap();
            assert_eq!(f.clauses, vec![Clause { column: "actor".into(), op, value: num(1001.0, "1001") }]);
            // no spaces
            let f = parse(&format!("actor{s}1001")).unwrap();
            assert_eq!(f.clauses[0].op, op);
        }
    }

    #[test]
    fn values_and_conjunctions() {
        let f =
            parse("actor >= 1002 && emotion == 'ANG' && level != \"X X\" && sentence == DFA && d < -1.5e-3").unwrap();
        assert_eq!(f.clauses.len(), 5);
        assert_eq!(f.clauses[1].value, Value::Quoted("ANG".into()));
        assert_eq!(f.clauses[2].value, Value::Quoted("X X".into()));
        assert_eq!(f.clauses[3].value, Value::Bare("DFA".into()));
        assert_eq!(f.clauses[4].value, num(-1.5e-3, "-1.5e-3"));
        let f = parse("`mfcc_sma[1]_amean` > 0 && mfcc_sma[2]_amean<=1").unwrap();
        assert_eq!(f.clauses[0].column, "mfcc_sma[1]_amean");
        assert_eq!(f.clauses[1].column, "mfcc_sma[2]_amean");
        assert_eq!(f.clauses[1].op, Op::Le);
        // `&&` inside quotes is part of the value
        let f = parse("file == 'a&&b'").unwrap();
        assert_eq!(f.clauses.len(), 1);
        assert_eq!(f.clauses[0].value, Value::Quoted("a&&b".into()));
    }

    #[test]
    fn clear_errors() {
        let e = |s: &str| parse(s).unwrap_err();
        assert!(e("actor = 1001").contains("unknown operator `=`"), "{}", e("actor = 1001"));
        assert!(e("actor === 1001").contains("unknown operator `===`"));
        assert!(e("actor => 1001").contains("unknown operator `=>`"));
        assert!(e("actor 1001").contains("no operator"));
        assert!(e("== 1001").contains("missing column"));
        assert!(e("actor ==").contains("missing value after `actor ==`"));
        assert!(e("actor == 1 || actor == 2").contains("`||`"));
        assert!(e("actor == 1 & actor == 2").contains("`&&`"));
        assert!(e("actor == 1 &&").contains("empty clause"));
        assert!(e("emotion == 'ANG").contains("unterminated"));
        assert!(e("emotion == A B").contains("quote it"));
        assert!(e("emotion == 'A' x").contains("unexpected"));
        assert!(e("   ").contains("empty filter"));
        for s in ["actor = 1001", "actor == 1 || x", "emotion == 'A"] {
            assert!(!e(s).contains('\n'));
        }
    }

    #[test]
    fn checks_against_the_schema() {
        let schema = Schema::from_iter([
            ("actor".into(), DataType::Int32),
            ("emotion".into(), DataType::String),
            ("x".into(), DataType::Float32),
            ("ok".into(), DataType::Boolean),
        ]);
        let ok = |s: &str| parse(s).unwrap().to_expr(&schema);
        assert!(ok("actor == 1001 && emotion == ANG && x < 0.5 && ok == true").is_ok());
        assert!(ok("emotion == 1").is_ok(), "numbers compare as text on string columns");
        assert!(ok("nope == 1").unwrap_err().contains("unknown column `nope`"));
        assert!(ok("actor == ANG").unwrap_err().contains("column `actor` is numeric"));
        assert!(ok("ok == yes").unwrap_err().contains("boolean"));
    }
}
