use std::time::Instant;

use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::classifiers::{self, Classifier, GaussianNbParams, KnnParams, MlpParams, SvmParams, TreeParams};
use crate::softmax::{self, SoftmaxConfig};
use crate::FeatureMatrix;
use fedser_core::{check, ParamError};

/// Which centralized model to train.
///
/// Adding a model: one variant here (with its [`ModelKind::name`] and
/// [`ModelKind::library`]), one params table in [`CentralizedParams`] and one
/// [`Classifier`] impl in `classifiers.rs`, wired in
/// [`CentralizedParams::classifier`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// fedser's multinomial logistic regression (f32 data, L-BFGS,
    /// scikit-learn's objective, standardisation folded into the weights,
    /// warm starts): the fast default.
    #[default]
    Logistic,
    /// linfa-logistic's `MultiLogisticRegression` (f64, argmin L-BFGS): the
    /// reference implementation.
    LinfaLogistic,
    /// C-SVM (linfa-svm), one-vs-one (see [`SvmParams`]).
    Svm,
    /// CART decision tree (linfa-trees, see [`TreeParams`]).
    Tree,
    /// Gaussian naive Bayes (linfa-bayes, see [`GaussianNbParams`]).
    GaussianNb,
    /// k nearest neighbours (linfa-nn, see [`KnnParams`]).
    Knn,
    /// The one-hidden-layer perceptron of `fedser-federated` (the model
    /// federated training uses), trained centrally by mini-batch SGD (see
    /// [`MlpParams`]).
    Mlp,
}

impl ModelKind {
    /// Every model, in table order.
    pub const ALL: [ModelKind; 7] = [
        ModelKind::Logistic,
        ModelKind::LinfaLogistic,
        ModelKind::Svm,
        ModelKind::Tree,
        ModelKind::GaussianNb,
        ModelKind::Knn,
        ModelKind::Mlp,
    ];

    /// Name used in ids and results.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Logistic => "logistic",
            ModelKind::LinfaLogistic => "linfa_logistic",
            ModelKind::Svm => "svm",
            ModelKind::Tree => "tree",
            ModelKind::GaussianNb => "gaussian_nb",
            ModelKind::Knn => "knn",
            ModelKind::Mlp => "mlp",
        }
    }

    /// The library that implements it.
    #[must_use]
    pub fn library(self) -> &'static str {
        match self {
            ModelKind::Logistic => "fedser-train",
            ModelKind::LinfaLogistic => "linfa-logistic",
            ModelKind::Svm => "linfa-svm",
            ModelKind::Tree => "linfa-trees",
            ModelKind::GaussianNb => "linfa-bayes",
            ModelKind::Knn => "linfa-nn",
            ModelKind::Mlp => "fedser-federated",
        }
    }
}

/// `[train.centralized.logistic]`.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `alpha` | `1.0` | L2 weight (scikit-learn's `1/C`) | `[0, 1e6]` |
/// | `max_iterations` | `100` | L-BFGS iterations (scikit-learn's `max_iter`) | `1..=100000` |
/// | `gradient_tolerance` | `1e-4` | stop when the max-abs gradient of the mean loss is below (scikit-learn's `tol`) | `(0, 1)` |
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
        Self { alpha: 1.0, max_iterations: 100, gradient_tolerance: 1e-4 }
    }
}

/// `[train.centralized]`.
///
/// | Name | Default | Purpose |
/// | :-- | :-- | :-- |
/// | `model` | `"logistic"` | the model: `logistic`, `linfa_logistic`, `svm`, `tree`, `gaussian_nb`, `knn` (`mlp`: reserved for fedser-federated) |
/// | `compare` | `[]` | more models trained on the same folds (the classifier comparison) |
/// | `standardize` | `true` | z-score features with training-fold statistics |
/// | `logistic` | see [`LogisticParams`] | params of `logistic` and `linfa_logistic` |
/// | `svm` | see [`SvmParams`] | params of `svm` |
/// | `tree` | see [`TreeParams`] | params of `tree` |
/// | `gaussian_nb` | see [`GaussianNbParams`] | params of `gaussian_nb` |
/// | `knn` | see [`KnnParams`] | params of `knn` |
/// | `mlp` | see [`MlpParams`] | params of `mlp` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CentralizedParams {
    /// The model.
    pub model: ModelKind,
    /// More models for the comparison.
    pub compare: Vec<ModelKind>,
    /// Standardise features.
    pub standardize: bool,
    /// Logistic params.
    pub logistic: LogisticParams,
    /// SVM params.
    pub svm: SvmParams,
    /// Tree params.
    pub tree: TreeParams,
    /// Gaussian naive Bayes params.
    pub gaussian_nb: GaussianNbParams,
    /// kNN params.
    pub knn: KnnParams,
    /// MLP params.
    pub mlp: MlpParams,
}

impl Default for CentralizedParams {
    fn default() -> Self {
        Self {
            model: ModelKind::Logistic,
            compare: Vec::new(),
            standardize: true,
            logistic: LogisticParams::default(),
            svm: SvmParams::default(),
            tree: TreeParams::default(),
            gaussian_nb: GaussianNbParams::default(),
            knn: KnnParams::default(),
            mlp: MlpParams::default(),
        }
    }
}

impl CentralizedParams {
    /// Checks ranges and the model list.
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
        self.svm.validate()?;
        self.tree.validate()?;
        self.gaussian_nb.validate()?;
        self.knn.validate()?;
        self.mlp.validate()?;
        let models = self.models();
        check(models.len() == self.compare.len() + 1, "train.centralized.compare", || {
            format!("lists a model twice or repeats `model` (\"{}\"): each model is trained once", self.model.name())
        })?;
        Ok(())
    }

    /// `model` followed by `compare`, without repeats.
    #[must_use]
    pub fn models(&self) -> Vec<ModelKind> {
        let mut out = vec![self.model];
        for m in &self.compare {
            if !out.contains(m) {
                out.push(*m);
            }
        }
        out
    }

    /// `{name, library, params}` of `kind` for results.json: the params of
    /// that model only, plus `standardize`.
    #[must_use]
    pub fn describe(&self, kind: ModelKind) -> serde_json::Value {
        let mut params = match kind {
            ModelKind::Logistic | ModelKind::LinfaLogistic => classifiers::to_json(&self.logistic),
            ModelKind::Svm => classifiers::to_json(&self.svm),
            ModelKind::Tree => classifiers::to_json(&self.tree),
            ModelKind::GaussianNb => classifiers::to_json(&self.gaussian_nb),
            ModelKind::Knn => classifiers::to_json(&self.knn),
            ModelKind::Mlp => classifiers::to_json(&self.mlp),
        };
        if kind == ModelKind::Svm {
            params.insert("multiclass".into(), "one_vs_one".into());
        }
        params.insert("standardize".into(), self.standardize.into());
        serde_json::json!({ "name": kind.name(), "library": kind.library(), "params": params })
    }

    /// The [`Classifier`] of a linfa-backed `kind` (`None` for fedser's own
    /// `logistic`, which has its own fast path, and for `mlp`).
    #[must_use]
    pub fn classifier(&self, kind: ModelKind) -> Option<Box<dyn Classifier>> {
        match kind {
            ModelKind::Logistic => None,
            ModelKind::Mlp => Some(classifiers::mlp(&self.mlp)),
            ModelKind::LinfaLogistic => Some(classifiers::linfa_logistic(&self.logistic)),
            ModelKind::Svm => Some(classifiers::svm(&self.svm)),
            ModelKind::Tree => Some(classifiers::tree(&self.tree)),
            ModelKind::GaussianNb => Some(classifiers::gaussian_nb(&self.gaussian_nb)),
            ModelKind::Knn => Some(classifiers::knn(&self.knn)),
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

/// Timings of one fold, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct FoldTimes {
    /// Fit (including the fold's standardisation).
    pub(crate) fit: f64,
    /// Predict.
    pub(crate) predict: f64,
}

/// Shared state of one model's training run.
///
/// For fedser's `logistic`: the matrix standardised once with global
/// statistics (each fold then folds its own training-row statistics into the
/// weights, see [`softmax`]). For the linfa models: the fold's rows are
/// copied to f64 and standardised with the training rows' statistics.
///
/// Folds start cold on purpose: a warm start from any model that saw the
/// held-out actor leaks that actor into a fit stopped at scikit-learn's
/// tolerance (measured: LOSO UAR 0.54 cold vs 0.96 warm-started from an
/// all-clips fit on the default corpus).
pub(crate) struct Trainer<'a> {
    spec: &'a CentralizedParams,
    fm: &'a FeatureMatrix,
    xg: Array2<f32>,
    classifier: Option<Box<dyn Classifier>>,
}

impl<'a> Trainer<'a> {
    pub(crate) fn new(spec: &'a CentralizedParams, kind: ModelKind, fm: &'a FeatureMatrix) -> Self {
        let classifier = spec.classifier(kind);
        let xg = if classifier.is_some() {
            Array2::zeros((0, 0))
        } else {
            let all: Vec<usize> = (0..fm.x.nrows()).collect();
            let (mean, scale) = col_stats(&fm.x, &all, spec.standardize);
            Array2::from_shape_fn(fm.x.dim(), |(i, j)| (fm.x[[i, j]] - mean[j]) / scale[j])
        };
        Self { spec, fm, xg, classifier }
    }

    /// Fits on `train` rows and predicts `test` rows (label indices).
    pub(crate) fn fit_predict(&self, train: &[usize], test: &[usize]) -> Result<(Vec<usize>, FoldTimes), String> {
        if train.is_empty() {
            return Err("no training rows".into());
        }
        if let Some(c) = &self.classifier {
            let t = Instant::now();
            let (xtr, xte) = prepare(self.fm, train, test, self.spec.standardize);
            let ytr: Vec<usize> = train.iter().map(|&r| self.fm.labels[r]).collect();
            let fitted = c.fit(xtr.view(), &ytr, self.fm.classes.len())?;
            let fit = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let p = fitted.predict(xte.view());
            return Ok((p, FoldTimes { fit, predict: t.elapsed().as_secs_f64() }));
        }
        let t = Instant::now();
        let (mean, scale) = col_stats(&self.xg, train, self.spec.standardize);
        let m = softmax::fit(
            &self.xg,
            train,
            &self.fm.labels,
            self.fm.classes.len(),
            &mean,
            &scale,
            &self_cfg(self.spec),
            None,
        );
        let fit = t.elapsed().as_secs_f64();
        tracing::debug!(
            "fold fit: {} iterations, {} evaluations, gradient {:.2e}",
            m.iterations,
            m.evaluations,
            m.gradient
        );
        let t = Instant::now();
        let p = m.predict_rows(&self.xg, test);
        Ok((p, FoldTimes { fit, predict: t.elapsed().as_secs_f64() }))
    }
}

fn self_cfg(spec: &CentralizedParams) -> SoftmaxConfig {
    SoftmaxConfig {
        alpha: spec.logistic.alpha,
        max_iterations: spec.logistic.max_iterations as usize,
        tolerance: spec.logistic.gradient_tolerance,
        memory: 10,
    }
}

/// Column mean and standard deviation over `rows` (f64 accumulation);
/// zero-variance columns get scale 1. Without standardisation: 0 and 1.
fn col_stats(x: &Array2<f32>, rows: &[usize], standardize: bool) -> (Vec<f32>, Vec<f32>) {
    let d = x.ncols();
    if !standardize || rows.is_empty() {
        return (vec![0.0; d], vec![1.0; d]);
    }
    let mut sum = vec![0f64; d];
    let mut sum2 = vec![0f64; d];
    for &r in rows {
        for (j, &v) in x.row(r).iter().enumerate() {
            let v = f64::from(v);
            sum[j] += v;
            sum2[j] += v * v;
        }
    }
    let n = rows.len() as f64;
    let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
    let scale: Vec<f32> = (0..d)
        .map(|j| {
            let var = (sum2[j] / n - mean[j] * mean[j]).max(0.0);
            let sd = var.sqrt();
            if sd > 1e-6 * mean[j].abs().max(1.0) {
                sd as f32
            } else {
                1.0
            }
        })
        .collect();
    (mean.iter().map(|&m| m as f32).collect(), scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_list_is_validated() {
        let mut p = CentralizedParams::default();
        p.validate().unwrap();
        p.compare = vec![ModelKind::Svm, ModelKind::Knn];
        p.validate().unwrap();
        assert_eq!(p.models(), vec![ModelKind::Logistic, ModelKind::Svm, ModelKind::Knn]);
        p.compare = vec![ModelKind::Svm, ModelKind::Svm];
        assert_eq!(p.validate().unwrap_err().key, "train.centralized.compare");
        p.compare = vec![ModelKind::Logistic];
        assert_eq!(p.validate().unwrap_err().key, "train.centralized.compare");
        p.compare = vec![];
        p.model = ModelKind::Mlp;
        p.validate().unwrap();
        p.mlp.hidden = 0;
        assert_eq!(p.validate().unwrap_err().key, "train.centralized.mlp.hidden");
    }

    #[test]
    fn describe_names_library_and_own_params() {
        let p = CentralizedParams::default();
        let d = p.describe(ModelKind::Knn);
        assert_eq!(d["library"], "linfa-nn");
        assert_eq!(d["params"]["k"], 5);
        assert!(d["params"].get("alpha").is_none());
        assert_eq!(p.describe(ModelKind::Svm)["params"]["multiclass"], "one_vs_one");
        for k in ModelKind::ALL {
            assert_eq!(p.classifier(k).is_none(), k == ModelKind::Logistic, "{k:?}");
        }
    }
}
