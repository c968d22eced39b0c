use std::time::Instant;

use ndarray::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::classifiers::{self, Classifier, GaussianNbParams, KnnParams, MlpParams, SvmParams, TreeParams};
use crate::softmax::{self, SoftmaxConfig};
use crate::FeatureMatrix;
use fedser_core::{check, ParamError, Protocol};

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
/// | `select_alpha` | `[]` (off) | candidate alphas: each outer fold picks one by inner cross-validation on its own training rows (`alpha` is then unused) | each in `[0, 1e6]`, at most 12 |
/// | `inner_folds` | `3` | inner folds: stratified folds of clips under speaker-dependent protocols, folds of actors under speaker-independent ones | `2..=10` |
/// | `inner_seed` | `1` | seed of the inner folds | |
///
/// The selection never sees the outer fold's test rows: the winner is the
/// alpha with the highest UAR pooled over the inner folds (ties go to the
/// larger alpha), refit on all the fold's training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogisticParams {
    /// L2 strength.
    pub alpha: f64,
    /// Iteration cap.
    pub max_iterations: u64,
    /// Gradient tolerance.
    pub gradient_tolerance: f64,
    /// Candidate alphas for nested selection (empty = use `alpha`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub select_alpha: Vec<f64>,
    /// Inner folds of the selection.
    pub inner_folds: usize,
    /// Seed of the inner folds.
    pub inner_seed: u64,
}

impl Default for LogisticParams {
    fn default() -> Self {
        Self {
            alpha: 1.0,
            max_iterations: 100,
            gradient_tolerance: 1e-4,
            select_alpha: Vec::new(),
            inner_folds: 3,
            inner_seed: 1,
        }
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
        check(l.select_alpha.len() <= 12, "train.centralized.logistic.select_alpha", || {
            format!("lists {} values: at most 12 (every one costs inner_folds fits per fold)", l.select_alpha.len())
        })?;
        for a in &l.select_alpha {
            check(a.is_finite() && (0.0..=1e6).contains(a), "train.centralized.logistic.select_alpha", || {
                format!("{a} is out of range: every value must be in [0, 1e6]")
            })?;
        }
        check((2..=10).contains(&l.inner_folds), "train.centralized.logistic.inner_folds", || {
            format!("{} is out of range: must be in 2..=10", l.inner_folds)
        })?;
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
        if matches!(kind, ModelKind::Logistic | ModelKind::LinfaLogistic) && self.logistic.select_alpha.is_empty() {
            params.remove("inner_folds");
            params.remove("inner_seed");
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
    kind: ModelKind,
    fm: &'a FeatureMatrix,
    xg: Array2<f32>,
    classifier: Option<Box<dyn Classifier>>,
}

/// The nested choice of alpha in one outer fold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlphaSelection {
    /// Outer fold.
    pub fold: i32,
    /// The alpha refit on the fold's training rows.
    pub alpha: f64,
    /// `(alpha, UAR pooled over the inner folds)` of every candidate.
    pub inner_uar: Vec<(f64, f64)>,
}

/// What one outer fold produced.
pub(crate) struct FoldFit {
    pub(crate) pred: Vec<usize>,
    pub(crate) times: FoldTimes,
    pub(crate) selection: Option<AlphaSelection>,
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
        Self { spec, kind, fm, xg, classifier }
    }

    /// Whether alpha is chosen per fold (`select_alpha`, logistic models).
    fn selects(&self) -> bool {
        matches!(self.kind, ModelKind::Logistic | ModelKind::LinfaLogistic)
            && !self.spec.logistic.select_alpha.is_empty()
    }

    /// Fits on `train` rows and predicts `test` rows (label indices); with
    /// `select_alpha`, alpha is first chosen by inner cross-validation on
    /// `train` alone.
    pub(crate) fn fit_predict(
        &self,
        protocol: Protocol,
        fold: i32,
        train: &[usize],
        test: &[usize],
    ) -> Result<FoldFit, String> {
        if train.is_empty() {
            return Err("no training rows".into());
        }
        let t = Instant::now();
        let selection = if self.selects() { self.select_alpha(protocol, fold, train)? } else { None };
        let select_s = t.elapsed().as_secs_f64();
        let alpha = selection.as_ref().map_or(self.spec.logistic.alpha, |s| s.alpha);
        let (pred, mut times, _) = self.fit_predict_alpha(train, test, alpha, None)?;
        times.fit += select_s;
        Ok(FoldFit { pred, times, selection })
    }

    /// Inner cross-validation over `select_alpha` on `train` (`None` when
    /// `train` cannot be split: one actor under a speaker-independent
    /// protocol, or too few clips).
    fn select_alpha(&self, protocol: Protocol, fold: i32, train: &[usize]) -> Result<Option<AlphaSelection>, String> {
        let l = &self.spec.logistic;
        let folds = inner_folds(self.fm, protocol, train, l.inner_folds, l.inner_seed, fold);
        if folds.len() < 2 {
            tracing::warn!(
                "fold {fold}: training rows cannot be split for inner cross-validation; alpha = {}",
                l.alpha
            );
            return Ok(None);
        }
        // strongest penalty first: each fit warm-starts from the previous
        // alpha's model on the same inner training rows (never from a model
        // that saw the inner validation rows)
        let mut alphas = l.select_alpha.clone();
        alphas.sort_by(|a, b| b.total_cmp(a));
        alphas.dedup();
        let k = self.fm.classes.len();
        let mut conf = vec![vec![vec![0u64; k]; k]; alphas.len()];
        for val in &folds {
            let inner: Vec<usize> = train.iter().copied().filter(|r| val.binary_search(r).is_err()).collect();
            let truth: Vec<usize> = val.iter().map(|&r| self.fm.labels[r]).collect();
            let mut warm: Option<softmax::SoftmaxModel> = None;
            for (a, &alpha) in alphas.iter().enumerate() {
                let init = warm.as_ref().map(|m| (&m.w, &m.b));
                let (pred, _, model) = self.fit_predict_alpha(&inner, val, alpha, init)?;
                warm = model;
                for (&t, &p) in truth.iter().zip(&pred) {
                    conf[a][t][p] += 1;
                }
            }
        }
        let inner_uar: Vec<(f64, f64)> =
            alphas.iter().zip(&conf).map(|(&a, c)| (a, fedser_core::metrics::scores(c).uar)).collect();
        // highest UAR; ties to the larger alpha (listed first)
        let best = inner_uar.iter().fold(None::<(f64, f64)>, |b, &(a, u)| match b {
            Some((_, bu)) if bu >= u || u.is_nan() => b,
            _ => Some((a, u)),
        });
        Ok(best.map(|(alpha, _)| AlphaSelection { fold, alpha, inner_uar }))
    }

    /// One fit with L2 weight `alpha` (`init` warm-starts fedser's
    /// logistic), the predictions of `test`, and fedser's model.
    fn fit_predict_alpha(
        &self,
        train: &[usize],
        test: &[usize],
        alpha: f64,
        init: Option<(&Array2<f64>, &Array1<f64>)>,
    ) -> Result<(Vec<usize>, FoldTimes, Option<softmax::SoftmaxModel>), String> {
        if let Some(c) = &self.classifier {
            let t = Instant::now();
            let (xtr, xte) = prepare(self.fm, train, test, self.spec.standardize);
            let ytr: Vec<usize> = train.iter().map(|&r| self.fm.labels[r]).collect();
            let own;
            let c: &dyn Classifier = if self.kind == ModelKind::LinfaLogistic && alpha != self.spec.logistic.alpha {
                own = classifiers::linfa_logistic(&LogisticParams { alpha, ..self.spec.logistic.clone() });
                own.as_ref()
            } else {
                c.as_ref()
            };
            let fitted = c.fit(xtr.view(), &ytr, self.fm.classes.len())?;
            let fit = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let p = fitted.predict(xte.view());
            return Ok((p, FoldTimes { fit, predict: t.elapsed().as_secs_f64() }, None));
        }
        let t = Instant::now();
        let (mean, scale) = col_stats(&self.xg, train, self.spec.standardize);
        let cfg = SoftmaxConfig { alpha, ..self_cfg(self.spec) };
        let m = softmax::fit(&self.xg, train, &self.fm.labels, self.fm.classes.len(), &mean, &scale, &cfg, init);
        let fit = t.elapsed().as_secs_f64();
        tracing::debug!(
            "fit (alpha {alpha}): {} iterations, {} evaluations, gradient {:.2e}",
            m.iterations,
            m.evaluations,
            m.gradient
        );
        let t = Instant::now();
        let p = m.predict_rows(&self.xg, test);
        Ok((p, FoldTimes { fit, predict: t.elapsed().as_secs_f64() }, Some(m)))
    }
}

/// Validation rows (sorted) of each inner fold of `train`: under a
/// speaker-dependent protocol, every class's clips are shuffled and dealt
/// round-robin (stratified folds of clips, as the outer split); otherwise
/// the actors are shuffled and dealt round-robin, so no actor is in two
/// folds. Fewer than two non-empty folds means no split is possible.
fn inner_folds(
    fm: &FeatureMatrix,
    protocol: Protocol,
    train: &[usize],
    k: usize,
    seed: u64,
    outer: i32,
) -> Vec<Vec<usize>> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ (u64::from(outer as u32) << 32 | 0x5e1e_c7ed));
    let mut folds = vec![Vec::new(); k];
    if protocol == Protocol::SpeakerDependent7030 {
        let mut by: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
        for &r in train {
            by.entry(fm.labels[r]).or_default().push(r);
        }
        let mut next = 0;
        for rows in by.values_mut() {
            rows.shuffle(&mut rng);
            for &r in rows.iter() {
                folds[next % k].push(r);
                next += 1;
            }
        }
    } else {
        let mut actors: Vec<i32> = train.iter().map(|&r| fm.actors[r]).collect();
        actors.sort_unstable();
        actors.dedup();
        actors.shuffle(&mut rng);
        let fold_of: std::collections::BTreeMap<i32, usize> =
            actors.iter().enumerate().map(|(i, &a)| (a, i % k)).collect();
        for &r in train {
            folds[fold_of[&fm.actors[r]]].push(r);
        }
    }
    folds.retain(|f| !f.is_empty());
    for f in &mut folds {
        f.sort_unstable();
    }
    folds
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

    /// 4 actors x 36 clips, 3 classes, 12 features. Class `c` shows only
    /// in the difference of features `2c` and `2c + 1`, which share a large
    /// nuisance term: a weakly penalised model learns the difference, a
    /// heavily penalised one is pulled toward the class-mean direction
    /// (feature `2c` alone), which the nuisance swamps.
    fn toy() -> FeatureMatrix {
        let (n, d) = (144, 12);
        let mut x = Array2::<f32>::zeros((n, d));
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
        for i in 0..n {
            for c in 0..3 {
                let nuisance = 12.0 * noise();
                x[[i, 2 * c]] = nuisance + if labels[i] == c { 1.5 } else { 0.0 } + 0.2 * noise();
                x[[i, 2 * c + 1]] = nuisance + 0.2 * noise();
            }
            for j in 6..d {
                x[[i, j]] = noise();
            }
        }
        FeatureMatrix {
            files: (0..n).map(|i| format!("{}_c{i}.wav", 1001 + i / 36)).collect(),
            actors: (0..n).map(|i| 1001 + (i / 36) as i32).collect(),
            labels,
            classes: vec!["ANG".into(), "HAP".into(), "SAD".into()],
            names: (0..d).map(|j| format!("f{j}")).collect(),
            x,
        }
    }

    #[test]
    fn inner_folds_are_stratified_or_by_actor_and_seeded() {
        let fm = toy();
        let train: Vec<usize> = (0..108).collect();
        let sd = inner_folds(&fm, Protocol::SpeakerDependent7030, &train, 3, 1, 0);
        assert_eq!(sd.len(), 3);
        for f in &sd {
            // 36 clips per fold, 12 of each class
            assert_eq!(f.len(), 36);
            for c in 0..3 {
                assert_eq!(f.iter().filter(|&&r| fm.labels[r] == c).count(), 12);
            }
        }
        let mut all: Vec<usize> = sd.concat();
        all.sort_unstable();
        assert_eq!(all, train);
        assert_eq!(sd, inner_folds(&fm, Protocol::SpeakerDependent7030, &train, 3, 1, 0));
        assert_ne!(sd, inner_folds(&fm, Protocol::SpeakerDependent7030, &train, 3, 2, 0), "the seed matters");
        // by actor: 3 actors in training, so each fold is one whole actor
        let si = inner_folds(&fm, Protocol::Loso, &train, 3, 1, 0);
        assert_eq!(si.len(), 3);
        for f in &si {
            let a = fm.actors[f[0]];
            assert!(f.iter().all(|&r| fm.actors[r] == a) && f.len() == 36);
        }
        // one actor cannot be split
        assert_eq!(inner_folds(&fm, Protocol::Loso, &train[..36], 3, 1, 0).len(), 1);
    }

    #[test]
    fn nested_alpha_selection_prefers_what_fits_and_never_sees_the_test_rows() {
        let mut fm = toy();
        let mut spec = CentralizedParams::default();
        // 1e4 flattens the model to the class prior (UAR 1/3); 0.1 learns the signal
        spec.logistic.select_alpha = vec![1e4, 0.1];
        spec.logistic.max_iterations = 200;
        spec.validate().unwrap();
        let train: Vec<usize> = (0..108).collect();
        let test: Vec<usize> = (108..144).collect();
        for kind in [ModelKind::Logistic, ModelKind::LinfaLogistic] {
            let out = Trainer::new(&spec, kind, &fm).fit_predict(Protocol::Loso, 4, &train, &test).unwrap();
            let s = out.selection.unwrap();
            assert_eq!(s.alpha, 0.1, "{kind:?}: {s:?}");
            assert_eq!(s.fold, 4);
            assert_eq!(s.inner_uar.iter().map(|p| p.0).collect::<Vec<_>>(), [1e4, 0.1]);
            assert!(s.inner_uar[1].1 > s.inner_uar[0].1 + 0.2, "{kind:?}: {s:?}");
        }
        // the test rows' features do not change the choice or the inner scores
        let want = Trainer::new(&spec, ModelKind::Logistic, &fm).fit_predict(Protocol::Loso, 4, &train, &test).unwrap();
        for &r in &test {
            fm.x.row_mut(r).fill(1e3);
        }
        // (the globally standardised matrix uses all rows; the fold
        // re-standardises with its training rows, so scores agree closely)
        let got = Trainer::new(&spec, ModelKind::Logistic, &fm).fit_predict(Protocol::Loso, 4, &train, &test).unwrap();
        let (a, b) = (want.selection.unwrap(), got.selection.unwrap());
        assert_eq!(a.alpha, b.alpha);
        for (x, y) in a.inner_uar.iter().zip(&b.inner_uar) {
            assert!((x.1 - y.1).abs() < 1e-9, "{a:?} vs {b:?}");
        }
        // without candidates nothing is selected
        spec.logistic.select_alpha.clear();
        let plain =
            Trainer::new(&spec, ModelKind::Logistic, &fm).fit_predict(Protocol::Loso, 4, &train, &test).unwrap();
        assert!(plain.selection.is_none());
        spec.logistic.select_alpha = vec![f64::NAN];
        assert_eq!(spec.validate().unwrap_err().key, "train.centralized.logistic.select_alpha");
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
