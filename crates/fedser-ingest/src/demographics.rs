use std::collections::BTreeMap;
use std::path::Path;

use crate::{IngestError, Result};

/// One actor's row of `VideoDemographics.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Age in years.
    pub age: Option<i32>,
    /// `Male` / `Female`.
    pub sex: Option<String>,
    /// Race as written.
    pub race: Option<String>,
    /// Ethnicity as written.
    pub ethnicity: Option<String>,
}

/// Actor id -> person.
pub type Demographics = BTreeMap<u32, Person>;

/// Splits one CSV line with `"`-quoted fields (`""` escapes a quote).
fn split_csv(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, '"') if cur.trim().is_empty() => {
                quoted = true;
                was_quoted = true;
                cur.clear();
            }
            (false, ',') => {
                fields.push(if was_quoted { cur.clone() } else { cur.trim().to_owned() });
                cur.clear();
                was_quoted = false;
            }
            (_, c) => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    fields.push(if was_quoted { cur } else { cur.trim().to_owned() });
    Ok(fields)
}

/// Reads `VideoDemographics.csv` (`"ActorID","Age","Sex","Race","Ethnicity"`,
/// columns found by header name).
///
/// # Errors
/// [`IngestError::NoDemographics`] when missing; [`IngestError::Demographics`]
/// naming the line for a bad header, a short row, a non-numeric id or age, or
/// a duplicate actor.
pub fn read_demographics(path: &Path) -> Result<Demographics> {
    let bad = |line: usize, message: String| IngestError::Demographics { path: path.to_path_buf(), line, message };
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(IngestError::NoDemographics(path.to_path_buf()))
        }
        Err(e) => return Err(bad(0, format!("cannot read: {e}"))),
    };
    let text = text.trim_start_matches('\u{feff}');
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let Some((_, header)) = lines.next() else { return Err(bad(1, "empty file (no header)".into())) };
    let header = split_csv(header).map_err(|m| bad(1, m))?;
    let idx = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(i_actor), Some(i_age), Some(i_sex), Some(i_race), Some(i_eth)) =
        (idx("ActorID"), idx("Age"), idx("Sex"), idx("Race"), idx("Ethnicity"))
    else {
        return Err(bad(
            1,
            format!("header must name ActorID, Age, Sex, Race, Ethnicity (found {})", header.join(",")),
        ));
    };
    let mut out = Demographics::new();
    for (i, line) in lines {
        let n = i + 1;
        let f = split_csv(line).map_err(|m| bad(n, m))?;
        if f.len() != header.len() {
            return Err(bad(n, format!("expected {} fields, found {}", header.len(), f.len())));
        }
        let actor: u32 = f[i_actor].parse().map_err(|_| bad(n, format!("ActorID `{}` is not a number", f[i_actor])))?;
        let age = if f[i_age].is_empty() {
            None
        } else {
            Some(f[i_age].parse::<i32>().map_err(|_| bad(n, format!("Age `{}` is not a number", f[i_age])))?)
        };
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let sex = match f[i_sex].as_str() {
            "" => None,
            s => Some(
                fedser_core::Sex::parse(s)
                    .ok_or_else(|| bad(n, format!("Sex `{s}` is not Male or Female")))?
                    .as_str()
                    .to_owned(),
            ),
        };
        let person = Person { age, sex, race: opt(&f[i_race]), ethnicity: opt(&f[i_eth]) };
        if out.insert(actor, person).is_some() {
            return Err(bad(n, format!("duplicate row for actor {actor}")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_quoted_sheet_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.csv");
        std::fs::write(&p, "\"ActorID\",\"Age\",\"Sex\",\"Race\",\"Ethnicity\"\n1001,51,\"Male\",\"African American\",\"Not Hispanic\"\n1002,21,\"Female\",\"Caucasian\",\"Not Hispanic\"\n").unwrap();
        let d = read_demographics(&p).unwrap();
        assert_eq!(d[&1001].race.as_deref(), Some("African American"));
        assert_eq!(d[&1002].sex.as_deref(), Some("Female"));
        std::fs::write(&p, "\"ActorID\",\"Age\",\"Sex\",\"Race\",\"Ethnicity\"\n1001,51,\"Male\",\"x\",\"y\"\n1001,52,\"Male\",\"x\",\"y\"\n").unwrap();
        let e = read_demographics(&p).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("duplicate"), "{e}");
        std::fs::write(&p, "\"ActorID\",\"Age\",\"Sex\",\"Race\",\"Ethnicity\"\n1001,old,\"Male\",\"x\",\"y\"\n")
            .unwrap();
        assert!(read_demographics(&p).unwrap_err().to_string().contains("line 2"));
        assert!(matches!(read_demographics(&dir.path().join("none.csv")), Err(IngestError::NoDemographics(_))));
    }
}
