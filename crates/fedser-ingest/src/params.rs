use std::path::PathBuf;

use fedser_core::{check, codes, ClipName, ParamError};
use serde::{Deserialize, Serialize};

/// `[ingest]` params.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `corpus` | none | corpus root or WAV folder (a path: not hashed; `CREMAD_DIR` and `--corpus` override it) | existing folder |
/// | `demographics` | beside the audio | `VideoDemographics.csv` (not hashed) | existing file |
/// | `min_duration_s` | `0.25` | shorter clips are rejected | `[0, 60]` |
/// | `clip_level` | `0.999` | `|x|` at or above this counts as clipped | `(0, 1.1]` |
/// | `actor_min`, `actor_max` | `1001`, `1091` | allowed actor ids | `actor_min <= actor_max` |
/// | `sentences`, `emotions`, `levels` | CREMA-D's | allowed codes (widen for your own corpus) | non-empty |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestParams {
    /// Corpus root (not hashed).
    #[serde(skip_serializing)]
    pub corpus: Option<PathBuf>,
    /// Demographics sheet (not hashed).
    #[serde(skip_serializing)]
    pub demographics: Option<PathBuf>,
    /// Minimum clip duration, seconds.
    pub min_duration_s: f64,
    /// Clipping threshold on the 16-bit scale.
    pub clip_level: f64,
    /// Lowest allowed actor id.
    pub actor_min: u32,
    /// Highest allowed actor id.
    pub actor_max: u32,
    /// Allowed sentence codes.
    pub sentences: Vec<String>,
    /// Allowed emotion codes (labels must stay within CREMA-D's six).
    pub emotions: Vec<String>,
    /// Allowed level codes.
    pub levels: Vec<String>,
}

impl Default for IngestParams {
    fn default() -> Self {
        let v = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect();
        Self {
            corpus: None,
            demographics: None,
            min_duration_s: 0.25,
            clip_level: 0.999,
            actor_min: codes::ACTOR_RANGE.0,
            actor_max: codes::ACTOR_RANGE.1,
            sentences: v(&codes::SENTENCES),
            emotions: v(&codes::EMOTIONS),
            levels: v(&codes::LEVELS),
        }
    }
}

impl IngestParams {
    /// Checks ranges and code sets.
    ///
    /// # Errors
    /// The first [`ParamError`] found.
    pub fn validate(&self) -> Result<(), ParamError> {
        check((0.0..=60.0).contains(&self.min_duration_s), "ingest.min_duration_s", || {
            format!("{} is out of range: must be in [0, 60] seconds", self.min_duration_s)
        })?;
        check(self.clip_level > 0.0 && self.clip_level <= 1.1, "ingest.clip_level", || {
            format!("{} is out of range: must be in (0, 1.1]", self.clip_level)
        })?;
        check(self.actor_min <= self.actor_max, "ingest.actor_min", || {
            format!("{} is above actor_max = {}", self.actor_min, self.actor_max)
        })?;
        for (key, list) in [("ingest.sentences", &self.sentences), ("ingest.levels", &self.levels)] {
            check(!list.is_empty(), key, || "must not be empty".into())?;
            for c in list {
                check(!c.is_empty() && c.chars().all(|ch| ch.is_ascii_alphanumeric()), key, || {
                    format!("code `{c}` must be non-empty ASCII letters/digits (no `_`)")
                })?;
            }
        }
        check(!self.emotions.is_empty(), "ingest.emotions", || "must not be empty".into())?;
        for e in &self.emotions {
            check(codes::EMOTIONS.contains(&e.as_str()), "ingest.emotions", || {
                format!("unknown emotion `{e}`: allowed values are {}", codes::EMOTIONS.join(", "))
            })?;
        }
        Ok(())
    }

    /// Checks a parsed name against the allowed code sets.
    ///
    /// # Errors
    /// A one-line reason.
    pub fn check_codes(&self, n: &ClipName) -> Result<(), String> {
        if n.actor < self.actor_min || n.actor > self.actor_max {
            return Err(format!("actor id {} outside {}..={}", n.actor, self.actor_min, self.actor_max));
        }
        let allowed = |list: &[String], c: &str| list.iter().any(|x| x == c);
        if !allowed(&self.sentences, &n.sentence) {
            return Err(format!("unknown sentence code `{}`", n.sentence));
        }
        if !allowed(&self.emotions, &n.emotion) {
            return Err(format!("unknown emotion code `{}`", n.emotion));
        }
        if !allowed(&self.levels, &n.level) {
            return Err(format!("unknown level code `{}`", n.level));
        }
        Ok(())
    }
}
