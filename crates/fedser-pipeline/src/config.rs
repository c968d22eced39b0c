//! The pipeline file: one TOML table per stage, validated once.

use std::path::{Path, PathBuf};

use fedser_features::FeatureParams;
use fedser_ingest::IngestParams;
use fedser_partition::PartitionParams;
use fedser_privacy::PrivacyParams;
use fedser_synth::SynthParams;
use fedser_train::TrainParams;
use serde::{Deserialize, Serialize};

use crate::PipelineError;

/// `[report]` params.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `title` | `"fedser report"` | heading of report.md / report.html | |
/// | `seed` | `42` | seed of the bootstrap intervals | any u64 |
/// | `bootstrap_resamples` | `1000` | bootstrap resamples for the UAR interval (0 = none) | `0..=100000` |
/// | `ci_level` | `0.95` | interval level | `(0.5, 1)` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportParams {
    /// Report title.
    pub title: String,
    /// Bootstrap seed.
    pub seed: u64,
    /// Bootstrap resamples.
    pub bootstrap_resamples: usize,
    /// Interval level.
    pub ci_level: f64,
}

impl Default for ReportParams {
    fn default() -> Self {
        Self { title: "fedser report".into(), seed: 42, bootstrap_resamples: 1000, ci_level: 0.95 }
    }
}

impl ReportParams {
    /// Checks ranges.
    ///
    /// # Errors
    /// The first [`fedser_core::ParamError`].
    pub fn validate(&self) -> Result<(), fedser_core::ParamError> {
        fedser_core::check(self.bootstrap_resamples <= 100_000, "report.bootstrap_resamples", || {
            format!("{} is out of range: must be in 0..=100000", self.bootstrap_resamples)
        })?;
        fedser_core::check(self.ci_level > 0.5 && self.ci_level < 1.0, "report.ci_level", || {
            format!("{} is out of range: must be in (0.5, 1)", self.ci_level)
        })
    }
}

/// A whole pipeline file (`pipelines/*.toml`). Missing tables and keys take
/// their defaults; unknown keys are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Pipeline {
    /// The built-in synthetic corpus (used when no corpus is given).
    pub synth: SynthParams,
    /// Ingest.
    pub ingest: IngestParams,
    /// Features.
    pub features: FeatureParams,
    /// Partition.
    pub partition: PartitionParams,
    /// Train.
    pub train: TrainParams,
    /// Report.
    pub report: ReportParams,
    /// Differential privacy, secure aggregation and the attribute-inference
    /// attack for federated training (all off by default).
    pub privacy: PrivacyParams,
}

impl Pipeline {
    /// Parses and validates a pipeline file. `overrides` are `key=value`
    /// pairs (`train.centralized.logistic.alpha=0.5`) applied before
    /// validation; values are TOML (strings may be bare).
    ///
    /// # Errors
    /// [`PipelineError::Config`] naming the file, the key and the problem.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::Config { file: path.to_path_buf(), message: format!("cannot read: {e}") })?;
        Self::parse(&text, path, overrides)
    }

    /// Like [`Pipeline::load`] from a string (`path` only names it in errors).
    ///
    /// # Errors
    /// [`PipelineError::Config`].
    pub fn parse(text: &str, path: &Path, overrides: &[String]) -> Result<Self, PipelineError> {
        let err = |message: String| PipelineError::Config { file: path.to_path_buf(), message };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| err(one_line(&e.to_string())))?;
        for o in overrides {
            apply_override(&mut table, o).map_err(err)?;
        }
        let p: Pipeline =
            Pipeline::deserialize(toml::Value::Table(table)).map_err(|e| err(one_line(&e.to_string())))?;
        p.validate().map_err(|e| err(e.to_string()))?;
        Ok(p)
    }

    /// Validates every stage's params.
    ///
    /// # Errors
    /// The first [`fedser_core::ParamError`].
    pub fn validate(&self) -> Result<(), fedser_core::ParamError> {
        self.synth.validate().map_err(|e| {
            let msg = e.to_string();
            let key = msg.split([' ', '=']).next().unwrap_or("synth").to_owned();
            fedser_core::ParamError::new(key, msg)
        })?;
        self.ingest.validate()?;
        self.features.validate()?;
        self.partition.validate()?;
        self.train.validate()?;
        self.privacy.validate()?;
        if let Some(f) = &self.train.federated {
            fedser_core::check(
                f.select.is_off() || (self.privacy.dp.is_none() && self.privacy.secagg.is_none()),
                "train.federated.select",
                || {
                    "cannot be combined with [privacy.dp] or [privacy.secagg]: the inner validation runs \
                     would use the clients' data outside the accounted, securely aggregated rounds"
                        .to_owned()
                },
            )?;
        }
        self.report.validate()?;
        Ok(())
    }

    /// The resolved TOML (defaults included), as `fedser show-params` prints it.
    ///
    /// # Errors
    /// Serialisation errors (not expected).
    pub fn to_toml(&self) -> Result<String, PipelineError> {
        toml::to_string(self)
            .map_err(|e| PipelineError::Config { file: PathBuf::from("<resolved>"), message: e.to_string() })
    }
}

fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('|')).collect::<Vec<_>>().join(": ")
}

fn apply_override(table: &mut toml::Table, o: &str) -> Result<(), String> {
    let (key, value) = o.split_once('=').ok_or_else(|| format!("--set `{o}`: expected KEY=VALUE"))?;
    let key = key.trim();
    let value = value.trim();
    let parsed: toml::Value = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let parts: Vec<&str> = key.split('.').collect();
    let mut cur = table;
    for p in &parts[..parts.len() - 1] {
        let entry = cur.entry((*p).to_owned()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry.as_table_mut().ok_or_else(|| format!("--set `{key}`: `{p}` is not a table"))?;
    }
    cur.insert(parts[parts.len() - 1].to_owned(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_unknown_keys_and_ranges() {
        let p = Pipeline::parse("", Path::new("p.toml"), &[]).unwrap();
        assert_eq!(p, Pipeline::default());
        let e = Pipeline::parse("[train]\nbogus = 1\n", Path::new("p.toml"), &[]).unwrap_err().to_string();
        assert!(e.contains("p.toml") && e.contains("bogus"), "{e}");
        let e =
            Pipeline::parse("[partition]\ntest_fraction = 2.0\n", Path::new("p.toml"), &[]).unwrap_err().to_string();
        assert!(e.contains("partition.test_fraction") && e.contains("(0, 1)"), "{e}");
        let e =
            Pipeline::parse("[partition]\ntest_fraction = \"x\"\n", Path::new("p.toml"), &[]).unwrap_err().to_string();
        assert!(e.contains("test_fraction"), "{e}");
        let e = Pipeline::parse("[synth]\nactors = 0\n", Path::new("p.toml"), &[]).unwrap_err().to_string();
        assert!(e.contains("synth.actors"), "{e}");
        let e =
            Pipeline::parse("[partition]\nprotocols = [\"nope\"]\n", Path::new("p.toml"), &[]).unwrap_err().to_string();
        assert!(e.contains("nope") && e.contains("loso"), "{e}");
        let e = Pipeline::parse("[train.centralized]\nmodel = \"forest\"\n", Path::new("p.toml"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("forest") && e.contains("svm") && e.contains("knn"), "{e}");
        let e =
            Pipeline::parse("[train.centralized.svm]\ndegree = 3\n", Path::new("p.toml"), &[]).unwrap_err().to_string();
        assert!(e.contains("degree") && e.contains("gamma"), "{e}");
        let e = Pipeline::parse(
            "[train.centralized]\nmodel = \"mlp\"\n[train.centralized.mlp]\nhidden = 0\n",
            Path::new("p.toml"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("train.centralized.mlp.hidden"), "{e}");
        let e = Pipeline::parse("[report]\nci_level = 1.5\n", Path::new("p.toml"), &[]).unwrap_err().to_string();
        assert!(e.contains("report.ci_level"), "{e}");
        let p =
            Pipeline::parse("[train.centralized]\ncompare = [\"svm\", \"knn\"]\n", Path::new("p.toml"), &[]).unwrap();
        assert_eq!(p.train.centralized.models().len(), 3);
    }

    #[test]
    fn overrides_apply_before_validation() {
        let p = Pipeline::parse("", Path::new("p.toml"), &["train.centralized.logistic.alpha=0.5".into()]).unwrap();
        assert_eq!(p.train.centralized.logistic.alpha, 0.5);
        let p = Pipeline::parse("", Path::new("p.toml"), &["partition.protocols=[\"loso\"]".into()]).unwrap();
        assert_eq!(p.partition.protocols, vec![fedser_core::Protocol::Loso]);
        assert!(Pipeline::parse("", Path::new("p.toml"), &["synth.actors=1".into()]).is_err());
    }
}
