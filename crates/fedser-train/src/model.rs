use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::FeatureMatrix;
use fedser_core::{check, ParamError};

/// Which centralized model to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Multinomial logistic regression (linfa-logistic, L-BFGS).
    #[default]
    Logistic,
}

impl ModelKind {
    /// Name used in ids and results.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Logistic => "logistic",
        }
    }
}

/// `[train.centralized.logistic]`.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `alpha` | `1.0` | L2 weight on the summed log-loss (scikit-learn's `1/C`) | `[0, 1e6]` |
/// | `max_iterations` | `200` | L-BFGS iterations | `1..=100000` |
/// | `gradient_tolerance` | `1e-4` | stop when the gradient norm is below | `(0, 1)` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogisticParams {
    /// L2 strength.
    pub alpha: f64,
    /// Iteration cap.
    pub max_iterations: u64,
    /// Gradient tolerance.
    pub gradient_tolerance: f64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self { alpha: 1.0, max_iterations: 200, gradient_tolerance: 1e-4 }
    }
}

/// `[train.centralized]`.
///
/// | Name | Default | Purpose |
/// | :-- | :-- | :-- |
/// | `model` | `"logistic"` | which model: `logistic` |
/// | `standardize` | `true` | z-score features with training-fold statistics |
/// | `logistic` | see [`LogisticParams`] | params of the logistic model |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CentralizedParams {
    /// The model.
    pub model: ModelKind,
    /// Standardise features.
    pub standardize: bool,
    /// Logistic params.
    pub logistic: LogisticParams,
}

impl Default for CentralizedParams {
    fn default() -> Self {
        Self { model: ModelKind::Logistic, standardize: true, logistic: LogisticParams::default() }
    }
}

impl CentralizedParams {
    /// Checks ranges.
    ///
    /// # Errors
    /// The first [`ParamError`].
    pub fn validate(&self) -> Result<(), ParamError> {
        let l = &self.logistic;
        check(l.alpha.is_finite() && (0.0..=1e6).contains(&l.alpha), "train.centralized.logistic.alpha", || {
            format!("{} is out of range: must be in [0, 1e6]", l.alpha)
        })?;
        check((1..=100_000).contains(&l.max_iterations), "train.centralized.logistic.max_iterations", || {
            format!("{} is out of range: must be in 1..=100000", l.max_iterations)
        })?;
        check(
            l.gradient_tolerance > 0.0 && l.gradient_tolerance < 1.0,
            "train.centralized.logistic.gradient_tolerance",
            || format!("{} is out of range: must be in (0, 1)", l.gradient_tolerance),
        )?;
        Ok(())
    }

    /// `{name, params}` for results.json.
    #[must_use]
    pub fn describe(&self) -> serde_json::Value {
        match self.model {
            ModelKind::Logistic => serde_json::json!({
                "name": "logistic",
                "library": "linfa-logistic",
                "params": { "alpha": self.logistic.alpha, "max_iterations": self.logistic.max_iterations,
                            "gradient_tolerance": self.logistic.gradient_tolerance, "standardize": self.standardize },
            }),
        }
    }
}

/// Selects rows and standardises them with the training rows' mean and
/// standard deviation (zero-variance columns are only centred).
fn prepare(fm: &FeatureMatrix, train: &[usize], test: &[usize], standardize: bool) -> (Array2<f64>, Array2<f64>) {
    let d = fm.x.ncols();
    let take = |rows: &[usize]| -> Array2<f64> {
        let mut m = Array2::<f64>::zeros((rows.len(), d));
        for (i, &r) in rows.iter().enumerate() {
            m.row_mut(i).assign(&fm.x.row(r).mapv(f64::from));
        }
        m
    };
    let mut xtr = take(train);
    let mut xte = take(test);
    if standardize && !train.is_empty() {
        let mean = xtr.mean_axis(Axis(0)).unwrap_or_else(|| Array1::zeros(d));
        let std = xtr.std_axis(Axis(0), 0.0).mapv(|s| if s > 1e-12 { s } else { 1.0 });
        for m in [&mut xtr, &mut xte] {
            *m -= &mean;
            *m /= &std;
        }
    }
    (xtr, xte)
}

/// Fits on `train` rows and predicts `test` rows (label indices).
///
/// # Errors
/// The model's error message.
pub(crate) fn fit_predict(
    spec: &CentralizedParams,
    fm: &FeatureMatrix,
    train: &[usize],
    test: &[usize],
) -> Result<Vec<usize>, String> {
    if train.is_empty() {
        return Err("no training rows".into());
    }
    let (xtr, xte) = prepare(fm, train, test, spec.standardize);
    let ytr: Array1<usize> = train.iter().map(|&r| fm.labels[r]).collect();
    match spec.model {
        ModelKind::Logistic => {
            let l = &spec.logistic;
            let ds = Dataset::new(xtr, ytr);
            let model = MultiLogisticRegression::default()
                .alpha(l.alpha)
                .max_iterations(l.max_iterations)
                .gradient_tolerance(l.gradient_tolerance)
                .fit(&ds)
                .map_err(|e| e.to_string())?;
            Ok(model.predict(&xte).to_vec())
        }
    }
}
