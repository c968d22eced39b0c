//! The `[privacy]` pipeline table. Every sub-table is optional: absent means off.
//!
//! ```toml
//! [privacy.dp]
//! clip = 0.5                 # L2 clip norm C (initial C when adaptive)
//! target_epsilon = 8.0       # or: noise_multiplier = 1.0 (exactly one of the two)
//! delta = 1e-3
//! adaptive = true            # Andrew et al. 2021 quantile clipping
//! target_quantile = 0.5
//! clip_learning_rate = 0.2
//! # count_noise = 4.55       # σ_b of the unclipped count; default: max(expected clients / 20, z)
//! placement = "server"       # or "distributed" (σ/√n per client, with secure aggregation)
//! weighting = "equal"        # or "bounded" with weight_cap = examples per client for weight 1
//!
//! [privacy.secagg]
//! threshold = 0.67           # Shamir t as a fraction of the round's clients (> 1/2)
//! bits = 24                  # fixed-point bits per value; n·(2^bits − 1) < 2^32
//! range = 1.0                # values clamped to [−range, range] before quantisation
//!
//! [privacy.attack]
//! attribute = "sex"          # demographics column: sex, age_group, ...
//! rounds = [1, 10, 30]       # rounds whose updates the attacker records (empty: all)
//! folds = 5
//! projection_dim = 256
//! ```

use fedser_core::{check, ParamError};
use serde::{Deserialize, Serialize};

use crate::dp::Placement;

/// `[privacy]`.
///
/// | Name | Default | Purpose |
/// | :-- | :-- | :-- |
/// | `dp` | off | [`DpParams`] |
/// | `secagg` | off | [`SecAggParams`] |
/// | `attack` | off | [`AttackParams`] |
/// | `sweep` | `[]` | noise multipliers of a privacy–utility sweep (plus a no-DP baseline) |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyParams {
    /// Client-level differential privacy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<DpParams>,
    /// Secure aggregation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secagg: Option<SecAggParams>,
    /// Attribute-inference attack measurement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attack: Option<AttackParams>,
    /// Privacy–utility sweep: noise multipliers, one federated experiment
    /// each (replacing `dp.noise_multiplier`/`target_epsilon`), plus a no-DP
    /// baseline with the same secagg/attack settings. Needs `[privacy.dp]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sweep: Vec<f64>,
}

/// How client updates are weighted in the DP sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// Every client weight 1 (sensitivity C).
    #[default]
    Equal,
    /// `min(n_i / weight_cap, 1)` (McMahan et al. 2018), sensitivity C.
    Bounded,
}

/// `[privacy.dp]`.
///
/// | Name | Default | Purpose |
/// | :-- | :-- | :-- |
/// | `clip` | 0.5 | L2 clip norm C (initial C when `adaptive`) |
/// | `noise_multiplier` | – | z (noise std z·C); exclusive with `target_epsilon` |
/// | `target_epsilon` | – | solve z for this ε over the run |
/// | `delta` | 1e-3 | δ of the (ε, δ) guarantee (< 1/clients) |
/// | `adaptive` | false | track a norm quantile (Andrew et al. 2021) |
/// | `target_quantile` | 0.5 | γ |
/// | `clip_learning_rate` | 0.2 | η of the geometric update |
/// | `count_noise` | max(clients/20, z) | σ_b of the unclipped count (must exceed z/2) |
/// | `placement` | `server` | `server` or `distributed` |
/// | `weighting` | `equal` | `equal` or `bounded` |
/// | `weight_cap` | – | examples for weight 1 (needed by `bounded`) |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DpParams {
    /// L2 clip norm.
    pub clip: f64,
    /// Noise multiplier z.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise_multiplier: Option<f64>,
    /// Target ε (z solved by the accountant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_epsilon: Option<f64>,
    /// δ.
    pub delta: f64,
    /// Adaptive clipping.
    pub adaptive: bool,
    /// Target quantile γ.
    pub target_quantile: f64,
    /// Clip learning rate η.
    pub clip_learning_rate: f64,
    /// σ_b of the count (default: expected clients / 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_noise: Option<f64>,
    /// Noise placement.
    pub placement: Placement,
    /// Client weighting.
    pub weighting: Weighting,
    /// Examples per client for weight 1 (bounded weighting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_cap: Option<f64>,
}

impl Default for DpParams {
    fn default() -> Self {
        Self {
            clip: 0.5,
            noise_multiplier: None,
            target_epsilon: None,
            delta: 1e-3,
            adaptive: false,
            target_quantile: 0.5,
            clip_learning_rate: 0.2,
            count_noise: None,
            placement: Placement::Server,
            weighting: Weighting::Equal,
            weight_cap: None,
        }
    }
}

/// `[privacy.secagg]`.
///
/// | Name | Default | Purpose |
/// | :-- | :-- | :-- |
/// | `threshold` | 0.67 | Shamir t as a fraction of the round's clients, in (0.5, 1] |
/// | `bits` | 24 | fixed-point bits per value (1..=32) |
/// | `range` | 1.0 | clamp range [−range, range] |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecAggParams {
    /// Threshold fraction.
    pub threshold: f64,
    /// Bits per value.
    pub bits: u32,
    /// Clamp range.
    pub range: f64,
}

impl Default for SecAggParams {
    fn default() -> Self {
        Self { threshold: 0.67, bits: 24, range: 1.0 }
    }
}

/// `[privacy.attack]`.
///
/// | Name | Default | Purpose |
/// | :-- | :-- | :-- |
/// | `attribute` | `"sex"` | demographics column to infer |
/// | `rounds` | `[]` (all) | rounds recorded by the attacker (1-based) |
/// | `folds` | 5 | cross-validation folds over clients |
/// | `projection_dim` | 256 | random-projection dimension |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttackParams {
    /// Attribute name.
    pub attribute: String,
    /// Rounds observed (empty: all).
    pub rounds: Vec<u32>,
    /// Folds.
    pub folds: usize,
    /// Projection dimension.
    pub projection_dim: usize,
}

impl Default for AttackParams {
    fn default() -> Self {
        Self { attribute: "sex".into(), rounds: Vec::new(), folds: 5, projection_dim: 256 }
    }
}

/// Attributes the attack knows how to read from the demographics.
pub const ATTRIBUTES: [&str; 2] = ["sex", "age_group"];

impl PrivacyParams {
    /// Validates every present sub-table.
    ///
    /// # Errors
    /// [`ParamError`] naming the first bad key (`privacy.dp.delta`, …).
    pub fn validate(&self) -> Result<(), ParamError> {
        if let Some(dp) = &self.dp {
            dp.validate()?;
        }
        if let Some(s) = &self.secagg {
            s.validate()?;
        }
        if let Some(a) = &self.attack {
            a.validate()?;
        }
        check(self.sweep.is_empty() || self.dp.is_some(), "privacy.sweep", || "needs [privacy.dp]".into())?;
        check(self.sweep.iter().all(|z| *z >= 0.0 && z.is_finite()), "privacy.sweep", || {
            format!("{:?}: noise multipliers must be finite and ≥ 0", self.sweep)
        })?;
        if let (Some(dp), None) = (&self.dp, &self.secagg) {
            check(dp.placement != Placement::Distributed, "privacy.dp.placement", || {
                "`distributed` noise needs [privacy.secagg]: without it the server sees each noised update".into()
            })?;
        }
        Ok(())
    }
}

impl DpParams {
    /// # Errors
    /// [`ParamError`] naming the key.
    pub fn validate(&self) -> Result<(), ParamError> {
        let pos = |v: f64| v > 0.0 && v.is_finite();
        check(pos(self.clip), "privacy.dp.clip", || format!("{} must be positive", self.clip))?;
        match (self.noise_multiplier, self.target_epsilon) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(ParamError::new(
                    "privacy.dp.noise_multiplier",
                    "give exactly one of `noise_multiplier` and `target_epsilon`",
                ))
            }
            (Some(z), None) => {
                check(z >= 0.0 && z.is_finite(), "privacy.dp.noise_multiplier", || format!("{z} must be ≥ 0"))?;
            }
            (None, Some(e)) => check(pos(e), "privacy.dp.target_epsilon", || format!("{e} must be positive"))?,
        }
        check(self.delta > 0.0 && self.delta < 1.0, "privacy.dp.delta", || format!("{} is not in (0, 1)", self.delta))?;
        check(self.target_quantile > 0.0 && self.target_quantile < 1.0, "privacy.dp.target_quantile", || {
            format!("{} is not in (0, 1)", self.target_quantile)
        })?;
        check(pos(self.clip_learning_rate), "privacy.dp.clip_learning_rate", || {
            format!("{} must be positive", self.clip_learning_rate)
        })?;
        if let Some(s) = self.count_noise {
            check(pos(s), "privacy.dp.count_noise", || format!("{s} must be positive"))?;
        }
        match (self.weighting, self.weight_cap) {
            (Weighting::Bounded, None) => {
                return Err(ParamError::new("privacy.dp.weight_cap", "`weighting = \"bounded\"` needs `weight_cap`"))
            }
            (Weighting::Bounded, Some(c)) => {
                check(pos(c), "privacy.dp.weight_cap", || format!("{c} must be positive"))?
            }
            (Weighting::Equal, Some(_)) => {
                return Err(ParamError::new("privacy.dp.weight_cap", "only used with `weighting = \"bounded\"`"))
            }
            (Weighting::Equal, None) => {}
        }
        Ok(())
    }
}

impl SecAggParams {
    /// # Errors
    /// [`ParamError`] naming the key.
    pub fn validate(&self) -> Result<(), ParamError> {
        check(self.threshold > 0.5 && self.threshold <= 1.0, "privacy.secagg.threshold", || {
            format!("{} is not in (0.5, 1]: below a majority, two disjoint groups could unmask", self.threshold)
        })?;
        check((1..=32).contains(&self.bits), "privacy.secagg.bits", || format!("{} is not in 1..=32", self.bits))?;
        check(self.range > 0.0 && self.range.is_finite(), "privacy.secagg.range", || {
            format!("{} must be positive", self.range)
        })
    }
}

impl AttackParams {
    /// # Errors
    /// [`ParamError`] naming the key.
    pub fn validate(&self) -> Result<(), ParamError> {
        check(ATTRIBUTES.contains(&self.attribute.as_str()), "privacy.attack.attribute", || {
            format!("`{}` is not one of {}", self.attribute, ATTRIBUTES.join(", "))
        })?;
        check(self.rounds.iter().all(|&r| r >= 1), "privacy.attack.rounds", || "rounds are 1-based".into())?;
        check(self.folds >= 2, "privacy.attack.folds", || format!("{} must be ≥ 2", self.folds))?;
        check(self.projection_dim >= 1, "privacy.attack.projection_dim", || "must be ≥ 1".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<PrivacyParams, String> {
        let p: PrivacyParams = toml::from_str(s).map_err(|e| e.to_string())?;
        p.validate().map_err(|e| e.to_string())?;
        Ok(p)
    }

    #[test]
    fn empty_table_is_all_off() {
        assert_eq!(parse("").unwrap(), PrivacyParams::default());
    }

    #[test]
    fn full_table_round_trips() {
        let p = parse(
            "[dp]\nclip = 0.3\ntarget_epsilon = 8.0\nadaptive = true\nplacement = \"distributed\"\n\
             [secagg]\nbits = 20\n[attack]\nattribute = \"age_group\"\nrounds = [1, 30]\n",
        )
        .unwrap();
        let dp = p.dp.as_ref().unwrap();
        assert_eq!((dp.clip, dp.target_epsilon, dp.placement), (0.3, Some(8.0), Placement::Distributed));
        assert_eq!(p.secagg.as_ref().unwrap().bits, 20);
        let back: PrivacyParams = toml::from_str(&toml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn errors_name_the_key() {
        for (text, key) in [
            ("[dp]\nclip = 0.5\n", "privacy.dp.noise_multiplier"),
            ("[dp]\nnoise_multiplier = 1.0\ntarget_epsilon = 3.0\n", "privacy.dp.noise_multiplier"),
            ("[dp]\nnoise_multiplier = 1.0\ndelta = 1.5\n", "privacy.dp.delta"),
            ("[dp]\nnoise_multiplier = 1.0\nweighting = \"bounded\"\n", "privacy.dp.weight_cap"),
            ("[dp]\nnoise_multiplier = 1.0\nplacement = \"distributed\"\n", "privacy.dp.placement"),
            ("[secagg]\nthreshold = 0.4\n", "privacy.secagg.threshold"),
            ("[secagg]\nbits = 40\n", "privacy.secagg.bits"),
            ("[attack]\nattribute = \"race\"\n", "privacy.attack.attribute"),
            ("sweep = [1.0]\n", "privacy.sweep"),
            ("sweep = [-1.0]\n[dp]\nnoise_multiplier = 1.0\n", "privacy.sweep"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(key), "{text:?}: {e}");
        }
        assert!(parse("[dp]\nnoise_multiplier = 1.0\nclipp = 2\n").unwrap_err().contains("clipp"));
    }
}
