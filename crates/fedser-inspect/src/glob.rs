//! Column-name globs: `*` matches any run of characters (also none), `?`
//! matches exactly one character, and **every other character is literal**,
//! `[` and `]` included. There are no character classes, because the feature
//! tables' own names use brackets (`mfcc_sma[1]_amean`): `'mfcc_sma[1]*'`
//! selects the first MFCC's columns, not `mfcc_sma1...`.
//!
//! A list (`--columns`, `--describe`) is comma-separated; an entry that
//! starts with `!` excludes what it matches.

/// One glob pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
}

impl Glob {
    /// A pattern (never fails: every string is a valid glob).
    pub fn new(pattern: &str) -> Self {
        Self { pattern: pattern.chars().collect() }
    }

    /// The pattern as given.
    pub fn as_str(&self) -> String {
        self.pattern.iter().collect()
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &str) -> bool {
        let s: Vec<char> = name.chars().collect();
        let p = &self.pattern;
        // Iterative wildcard matching with one backtrack point (the last `*`).
        let (mut i, mut j) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while i < s.len() {
            if j < p.len() && (p[j] == '?' || p[j] == s[i]) {
                i += 1;
                j += 1;
            } else if j < p.len() && p[j] == '*' {
                star = Some((j, i));
                j += 1;
            } else if let Some((sj, si)) = star {
                j = sj + 1;
                i = si + 1;
                star = Some((sj, si + 1));
            } else {
                return false;
            }
        }
        while j < p.len() && p[j] == '*' {
            j += 1;
        }
        j == p.len()
    }
}

/// A comma-separated list of globs: includes, and `!`-prefixed excludes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GlobList {
    /// Patterns that select.
    pub include: Vec<Glob>,
    /// Patterns that remove (written `!pattern`).
    pub exclude: Vec<Glob>,
}

impl GlobList {
    /// Parses `a*,b?,!c*`. Blank entries are ignored.
    pub fn parse(list: &str) -> Self {
        let mut out = Self::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match entry.strip_prefix('!') {
                Some(rest) => out.exclude.push(Glob::new(rest.trim())),
                None => out.include.push(Glob::new(entry)),
            }
        }
        out
    }

    /// Whether any include pattern matches (true when there are none).
    pub fn included(&self, name: &str) -> bool {
        self.include.is_empty() || self.include.iter().any(|g| g.matches(name))
    }

    /// Whether an exclude pattern matches.
    pub fn excluded(&self, name: &str) -> bool {
        self.exclude.iter().any(|g| g.matches(name))
    }

    /// Whether `name` is selected: included and not excluded.
    pub fn selects(&self, name: &str) -> bool {
        self.included(name) && !self.excluded(name)
    }

    /// The first include pattern that matches none of `names`, if any.
    pub fn unmatched<'a>(&self, names: impl Iterator<Item = &'a str> + Clone) -> Option<String> {
        self.include.iter().find(|g| !names.clone().any(|n| g.matches(n))).map(Glob::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question_mark() {
        let g = Glob::new("mfcc*");
        assert!(g.matches("mfcc"));
        assert!(g.matches("mfcc_sma[1]_amean"));
        assert!(!g.matches("pcm_mfcc"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("a?c").matches("abc"));
        assert!(!Glob::new("a?c").matches("ac"));
        assert!(Glob::new("*_amean").matches("pcm_RMSenergy_sma_amean"));
        assert!(!Glob::new("*_amean").matches("pcm_RMSenergy_sma_amean_de"));
        assert!(Glob::new("a*b*c").matches("axxbyyc"));
        assert!(Glob::new("a*b*c").matches("abcbc"));
        assert!(!Glob::new("a*b*c").matches("acb"));
        assert!(Glob::new("**x").matches("x"));
    }

    #[test]
    fn brackets_are_literal() {
        let g = Glob::new("mfcc_sma[1]*");
        assert!(g.matches("mfcc_sma[1]_amean"));
        assert!(g.matches("mfcc_sma[1]"));
        assert!(!g.matches("mfcc_sma[10]_amean"));
        assert!(!g.matches("mfcc_sma1_amean"));
        assert!(!g.matches("mfcc_sma_de[1]_amean"));
        assert!(Glob::new("mfcc_sma[?]_*").matches("mfcc_sma[7]_x"));
        assert!(!Glob::new("mfcc_sma[?]_*").matches("mfcc_sma[12]_x"));
        assert!(Glob::new("[").matches("["));
        assert!(!Glob::new("[ab]").matches("a"));
    }

    #[test]
    fn non_ascii_names() {
        assert!(Glob::new("é?x").matches("éüx"));
    }

    #[test]
    fn lists_with_excludes() {
        let l = GlobList::parse("mfcc*, pcm_RMS*, !*_de*,,");
        assert_eq!(l.include.len(), 2);
        assert_eq!(l.exclude.len(), 1);
        assert!(l.selects("mfcc_sma[1]_amean"));
        assert!(!l.selects("mfcc_sma_de[1]_amean"));
        assert!(!l.selects("actor"));
        let only_ex = GlobList::parse("!file");
        assert!(only_ex.selects("actor"));
        assert!(!only_ex.selects("file"));
        assert_eq!(l.unmatched(["mfcc_a", "x"].into_iter()), Some("pcm_RMS*".to_owned()));
        assert_eq!(GlobList::parse("").include.len(), 0);
    }
}
