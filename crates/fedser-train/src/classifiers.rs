//! The swappable centralized classifiers: one params table and one
//! [`Classifier`] impl each.
//!
//! Adding a model is one [`crate::ModelKind`] variant, one params struct
//! (a `[train.centralized.<name>]` table with `validate`) and one
//! `impl Classifier`. Every classifier sees the same standardised f64 rows
//! (training-fold statistics, see [`crate::model`]) and label indices
//! `0..n_classes`; classes absent from a fold's training rows are never
//! predicted.

use linfa::prelude::*;
use linfa_bayes::GaussianNb;
use linfa_logistic::MultiLogisticRegression;
use linfa_nn::distance::{Distance, L2Dist};
use linfa_nn::{LinearSearch, NearestNeighbour};
use linfa_svm::Svm;
use linfa_trees::{DecisionTree, SplitQuality};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use fedser_core::{check, ParamError};

use crate::model::LogisticParams;

/// A classifier that can be fit on standardised rows.
pub trait Classifier: Send + Sync {
    /// Fits on `x` (rows) with labels `y` in `0..n_classes`.
    ///
    /// # Errors
    /// The library's message when the fit fails.
    fn fit(&self, x: ArrayView2<'_, f64>, y: &[usize], n_classes: usize) -> Result<Box<dyn Fitted>, String>;
}

/// A fitted classifier.
pub trait Fitted: Send + Sync {
    /// Label index per row of `x`.
    fn predict(&self, x: ArrayView2<'_, f64>) -> Vec<usize>;
}

fn dataset(x: ArrayView2<'_, f64>, y: &[usize]) -> DatasetBase<Array2<f64>, Array1<usize>> {
    Dataset::new(x.to_owned(), Array1::from(y.to_vec()))
}

// ---------------------------------------------------------------- logistic

struct LinfaLogistic(LogisticParams);

struct FittedLinfaLogistic(linfa_logistic::MultiFittedLogisticRegression<f64, usize>);

impl Classifier for LinfaLogistic {
    fn fit(&self, x: ArrayView2<'_, f64>, y: &[usize], _n_classes: usize) -> Result<Box<dyn Fitted>, String> {
        let l = &self.0;
        let model = MultiLogisticRegression::default()
            .alpha(l.alpha)
            .max_iterations(l.max_iterations)
            .gradient_tolerance(l.gradient_tolerance)
            .fit(&dataset(x, y))
            .map_err(|e| e.to_string())?;
        Ok(Box::new(FittedLinfaLogistic(model)))
    }
}

impl Fitted for FittedLinfaLogistic {
    fn predict(&self, x: ArrayView2<'_, f64>) -> Vec<usize> {
        self.0.predict(&x).to_vec()
    }
}

/// linfa-logistic's `MultiLogisticRegression` with `params`.
pub(crate) fn linfa_logistic(params: &LogisticParams) -> Box<dyn Classifier> {
    Box::new(LinfaLogistic(params.clone()))
}

// ---------------------------------------------------------------- SVM

/// SVM kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SvmKernel {
    /// `k(x, y) = x·y`.
    Linear,
    /// `k(x, y) = exp(-gamma |x - y|²)`.
    #[default]
    Rbf,
}

/// `[train.centralized.svm]`: C-SVM (linfa-svm, SMO), multi-class by
/// one-vs-one voting as libsvm / scikit-learn's `SVC` (one binary SVM per
/// pair of classes, trained on those two classes' rows only; the class with
/// most votes wins, ties go to the larger summed decision value, then to the
/// lower label index).
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `c` | `1.0` | penalty C (both classes) | `(0, 1e6]` |
/// | `kernel` | `"rbf"` | `"rbf"` or `"linear"` | |
/// | `gamma` | unset = scikit-learn's `"scale"`: `1 / (n_features · var(X))` of the training rows | RBF width | `(0, 1e6]` |
/// | `tolerance` | `1e-3` | SMO stopping tolerance (libsvm's `eps`) | `(0, 1)` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SvmParams {
    /// Penalty C.
    pub c: f64,
    /// Kernel.
    pub kernel: SvmKernel,
    /// RBF gamma; `None` = "scale".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// SMO tolerance.
    pub tolerance: f64,
}

impl Default for SvmParams {
    fn default() -> Self {
        Self { c: 1.0, kernel: SvmKernel::Rbf, gamma: None, tolerance: 1e-3 }
    }
}

impl SvmParams {
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        check(self.c.is_finite() && self.c > 0.0 && self.c <= 1e6, "train.centralized.svm.c", || {
            format!("{} is out of range: must be in (0, 1e6]", self.c)
        })?;
        if let Some(g) = self.gamma {
            check(g.is_finite() && g > 0.0 && g <= 1e6, "train.centralized.svm.gamma", || {
                format!("{g} is out of range: must be in (0, 1e6] (leave it unset for scikit-learn's \"scale\")")
            })?;
        }
        check(self.tolerance > 0.0 && self.tolerance < 1.0, "train.centralized.svm.tolerance", || {
            format!("{} is out of range: must be in (0, 1)", self.tolerance)
        })
    }
}

struct OneVsOneSvm(SvmParams);

struct FittedOvo {
    /// `(a, b, model)`: positive decision = class `a`.
    pairs: Vec<(usize, usize, Svm<f64, bool>)>,
    n_classes: usize,
}

/// scikit-learn's `gamma="scale"`: `1 / (n_features · var(X))` over all
/// entries of the training rows (1 / n_features for a constant matrix).
fn gamma_scale(x: ArrayView2<'_, f64>) -> f64 {
    let n = x.len() as f64;
    if n == 0.0 {
        return 1.0;
    }
    let mean = x.sum() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let d = x.ncols().max(1) as f64;
    if var > 0.0 {
        1.0 / (d * var)
    } else {
        1.0 / d
    }
}

impl Classifier for OneVsOneSvm {
    fn fit(&self, x: ArrayView2<'_, f64>, y: &[usize], n_classes: usize) -> Result<Box<dyn Fitted>, String> {
        let p = &self.0;
        let present: Vec<usize> = (0..n_classes).filter(|c| y.contains(c)).collect();
        if present.len() < 2 {
            return Err(format!("svm needs at least 2 classes in the training rows, found {}", present.len()));
        }
        let gamma = p.gamma.unwrap_or_else(|| gamma_scale(x));
        let mut pairs_idx = Vec::new();
        for (i, &a) in present.iter().enumerate() {
            for &b in &present[i + 1..] {
                pairs_idx.push((a, b));
            }
        }
        let pairs = pairs_idx
            .par_iter()
            .map(|&(a, b)| {
                let rows: Vec<usize> = (0..y.len()).filter(|&r| y[r] == a || y[r] == b).collect();
                let xs = x.select(Axis(0), &rows);
                let ys: Array1<bool> = rows.iter().map(|&r| y[r] == a).collect();
                let params = Svm::<f64, bool>::params().pos_neg_weights(p.c, p.c).eps(p.tolerance);
                // linfa's Gaussian kernel is exp(-|x-y|² / eps): eps = 1 / gamma.
                let params = match p.kernel {
                    SvmKernel::Rbf => params.gaussian_kernel(1.0 / gamma),
                    SvmKernel::Linear => params.linear_kernel(),
                };
                let model = params.fit(&Dataset::new(xs, ys)).map_err(|e| format!("svm {a} vs {b}: {e}"))?;
                Ok((a, b, model))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Box::new(FittedOvo { pairs, n_classes }))
    }
}

impl Fitted for FittedOvo {
    fn predict(&self, x: ArrayView2<'_, f64>) -> Vec<usize> {
        x.axis_iter(Axis(0))
            .into_par_iter()
            .map(|row| {
                let mut votes = vec![0u32; self.n_classes];
                let mut conf = vec![0f64; self.n_classes];
                for (a, b, m) in &self.pairs {
                    let d = m.weighted_sum(&row) - m.rho;
                    if d > 0.0 {
                        votes[*a] += 1;
                    } else {
                        votes[*b] += 1;
                    }
                    conf[*a] += d;
                    conf[*b] -= d;
                }
                ovo_winner(&votes, &conf, self.pairs.iter().flat_map(|(a, b, _)| [*a, *b]))
            })
            .collect()
    }
}

/// Most votes, then largest summed decision value, then lowest index, among
/// the classes that took part.
fn ovo_winner(votes: &[u32], conf: &[f64], classes: impl Iterator<Item = usize>) -> usize {
    let mut seen: Vec<usize> = classes.collect();
    seen.sort_unstable();
    seen.dedup();
    let mut best = seen.first().copied().unwrap_or(0);
    for &c in &seen {
        if votes[c] > votes[best] || (votes[c] == votes[best] && conf[c] > conf[best]) {
            best = c;
        }
    }
    best
}

// ---------------------------------------------------------------- tree

/// Split criterion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Gini impurity.
    #[default]
    Gini,
    /// Entropy.
    Entropy,
}

/// `[train.centralized.tree]`: CART decision tree (linfa-trees).
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `criterion` | `"gini"` | `"gini"` or `"entropy"` | |
/// | `max_depth` | unset = unlimited | depth cap | `1..=1000` |
/// | `min_samples_split` | `2` | rows needed to split a node | `2..=100000` |
/// | `min_samples_leaf` | `1` | rows needed in each leaf | `1..=100000` |
/// | `min_impurity_decrease` | `1e-5` | split only if impurity drops by this much (linfa's default) | `[0, 1]` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TreeParams {
    /// Criterion.
    pub criterion: Criterion,
    /// Depth cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<usize>,
    /// Rows to split.
    pub min_samples_split: u32,
    /// Rows per leaf.
    pub min_samples_leaf: u32,
    /// Minimum impurity decrease.
    pub min_impurity_decrease: f64,
}

impl Default for TreeParams {
    fn default() -> Self {
        Self {
            criterion: Criterion::Gini,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_impurity_decrease: 1e-5,
        }
    }
}

impl TreeParams {
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        if let Some(d) = self.max_depth {
            check((1..=1000).contains(&d), "train.centralized.tree.max_depth", || {
                format!("{d} is out of range: must be in 1..=1000 (leave it unset for no limit)")
            })?;
        }
        check((2..=100_000).contains(&self.min_samples_split), "train.centralized.tree.min_samples_split", || {
            format!("{} is out of range: must be in 2..=100000", self.min_samples_split)
        })?;
        check((1..=100_000).contains(&self.min_samples_leaf), "train.centralized.tree.min_samples_leaf", || {
            format!("{} is out of range: must be in 1..=100000", self.min_samples_leaf)
        })?;
        let m = self.min_impurity_decrease;
        check((0.0..=1.0).contains(&m), "train.centralized.tree.min_impurity_decrease", || {
            format!("{m} is out of range: must be in [0, 1]")
        })
    }
}

struct Tree(TreeParams);

struct FittedTree(DecisionTree<f64, usize>);

impl Classifier for Tree {
    fn fit(&self, x: ArrayView2<'_, f64>, y: &[usize], _n_classes: usize) -> Result<Box<dyn Fitted>, String> {
        let p = &self.0;
        let model = DecisionTree::params()
            .split_quality(match p.criterion {
                Criterion::Gini => SplitQuality::Gini,
                Criterion::Entropy => SplitQuality::Entropy,
            })
            .max_depth(p.max_depth)
            .min_weight_split(p.min_samples_split as f32)
            .min_weight_leaf(p.min_samples_leaf as f32)
            .min_impurity_decrease(p.min_impurity_decrease)
            .fit(&dataset(x, y))
            .map_err(|e| e.to_string())?;
        Ok(Box::new(FittedTree(model)))
    }
}

impl Fitted for FittedTree {
    fn predict(&self, x: ArrayView2<'_, f64>) -> Vec<usize> {
        self.0.predict(&x).to_vec()
    }
}

// ---------------------------------------------------------------- naive Bayes

/// `[train.centralized.gaussian_nb]`: Gaussian naive Bayes (linfa-bayes).
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `var_smoothing` | `1e-9` | fraction of the largest feature variance added to every variance (scikit-learn's default) | `[0, 1]` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GaussianNbParams {
    /// Variance smoothing.
    pub var_smoothing: f64,
}

impl Default for GaussianNbParams {
    fn default() -> Self {
        Self { var_smoothing: 1e-9 }
    }
}

impl GaussianNbParams {
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        let v = self.var_smoothing;
        check((0.0..=1.0).contains(&v), "train.centralized.gaussian_nb.var_smoothing", || {
            format!("{v} is out of range: must be in [0, 1]")
        })
    }
}

struct Gnb(GaussianNbParams);

struct FittedGnb(GaussianNb<f64, usize>);

impl Classifier for Gnb {
    fn fit(&self, x: ArrayView2<'_, f64>, y: &[usize], _n_classes: usize) -> Result<Box<dyn Fitted>, String> {
        let model =
            GaussianNb::params().var_smoothing(self.0.var_smoothing).fit(&dataset(x, y)).map_err(|e| e.to_string())?;
        Ok(Box::new(FittedGnb(model)))
    }
}

impl Fitted for FittedGnb {
    fn predict(&self, x: ArrayView2<'_, f64>) -> Vec<usize> {
        self.0.predict(&x).to_vec()
    }
}

// ---------------------------------------------------------------- kNN

/// `[train.centralized.knn]`: k nearest neighbours (linfa-nn exact linear
/// search, Euclidean distance on the standardised features) with a
/// majority vote; a tie goes to the tied class with the smallest summed
/// distance, then to the lower label index.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `k` | `5` | neighbours (scikit-learn's default) | `1..=1000` |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnnParams {
    /// Neighbours.
    pub k: usize,
}

impl Default for KnnParams {
    fn default() -> Self {
        Self { k: 5 }
    }
}

impl KnnParams {
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        check((1..=1000).contains(&self.k), "train.centralized.knn.k", || {
            format!("{} is out of range: must be in 1..=1000", self.k)
        })
    }
}

struct Knn(KnnParams);

struct FittedKnn {
    x: Array2<f64>,
    y: Vec<usize>,
    k: usize,
    n_classes: usize,
}

impl Classifier for Knn {
    fn fit(&self, x: ArrayView2<'_, f64>, y: &[usize], n_classes: usize) -> Result<Box<dyn Fitted>, String> {
        if x.nrows() == 0 || x.ncols() == 0 {
            return Err("knn needs at least one training row and one feature".into());
        }
        // The index borrows its points: keep them and build the index per
        // predict call (linear search has no build cost).
        Ok(Box::new(FittedKnn { x: x.to_owned(), y: y.to_vec(), k: self.0.k, n_classes }))
    }
}

impl Fitted for FittedKnn {
    fn predict(&self, x: ArrayView2<'_, f64>) -> Vec<usize> {
        let Ok(index) = LinearSearch::new().from_batch(&self.x, L2Dist) else {
            return vec![0; x.nrows()];
        };
        x.axis_iter(Axis(0))
            .into_par_iter()
            .map(|row| {
                let Ok(nn) = index.k_nearest(row, self.k) else { return 0 };
                let mut votes = vec![0u32; self.n_classes];
                let mut dist = vec![0f64; self.n_classes];
                for (p, i) in &nn {
                    votes[self.y[*i]] += 1;
                    dist[self.y[*i]] += L2Dist.distance(row, p.view());
                }
                knn_winner(&votes, &dist)
            })
            .collect()
    }
}

fn knn_winner(votes: &[u32], dist: &[f64]) -> usize {
    let mut best = 0;
    for c in 1..votes.len() {
        if votes[c] > votes[best] || (votes[c] == votes[best] && votes[c] > 0 && dist[c] < dist[best]) {
            best = c;
        }
    }
    best
}

// ---------------------------------------------------------------- MLP

/// `[train.centralized.mlp]`: the one-hidden-layer perceptron of
/// `fedser-federated` (ReLU, softmax output, mini-batch SGD), the same model
/// code federated training uses with `[train.federated] model = "mlp"`,
/// trained here on the pooled training rows.
///
/// | Name | Default | Purpose | Range |
/// | :-- | :-- | :-- | :-- |
/// | `hidden` | `64` | hidden units | `1..=4096` |
/// | `epochs` | `30` | passes over the training rows | `1..=10000` |
/// | `batch_size` | `32` | rows per SGD step | `1..=65536` |
/// | `lr` | `0.01` | learning rate | `(0, 10]` |
/// | `momentum` | `0.9` | heavy-ball momentum | `[0, 1)` |
/// | `l2` | `1e-4` | weight decay | `[0, 1]` |
/// | `seed` | `1` | initialisation and shuffling | any |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlpParams {
    /// Hidden units.
    pub hidden: usize,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f64,
    /// Momentum.
    pub momentum: f64,
    /// Weight decay.
    pub l2: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for MlpParams {
    fn default() -> Self {
        Self { hidden: 64, epochs: 30, batch_size: 32, lr: 0.01, momentum: 0.9, l2: 1e-4, seed: 1 }
    }
}

impl MlpParams {
    pub(crate) fn validate(&self) -> Result<(), ParamError> {
        let k = |n: &str| format!("train.centralized.mlp.{n}");
        check((1..=4096).contains(&self.hidden), &k("hidden"), || {
            format!("{} is out of range: must be in 1..=4096", self.hidden)
        })?;
        check((1..=10_000).contains(&self.epochs), &k("epochs"), || {
            format!("{} is out of range: must be in 1..=10000", self.epochs)
        })?;
        check((1..=65_536).contains(&self.batch_size), &k("batch_size"), || {
            format!("{} is out of range: must be in 1..=65536", self.batch_size)
        })?;
        check(self.lr > 0.0 && self.lr <= 10.0, &k("lr"), || {
            format!("{} is out of range: must be in (0, 10]", self.lr)
        })?;
        check((0.0..1.0).contains(&self.momentum), &k("momentum"), || {
            format!("{} is out of range: must be in [0, 1)", self.momentum)
        })?;
        check((0.0..=1.0).contains(&self.l2), &k("l2"), || format!("{} is out of range: must be in [0, 1]", self.l2))
    }
}

struct Mlp(MlpParams);

struct FittedMlp(fedser_federated::central::FlatModel);

impl Classifier for Mlp {
    fn fit(&self, x: ArrayView2<'_, f64>, y: &[usize], _n_classes: usize) -> Result<Box<dyn Fitted>, String> {
        let p = &self.0;
        let xf = x.mapv(|v| v as f32);
        let ds = linfa::Dataset::new(xf, Array1::from(y.to_vec()));
        let model = fedser_federated::central::SgdClassifier::new(fedser_federated::Arch::Mlp { hidden: p.hidden })
            .epochs(p.epochs)
            .batch_size(p.batch_size)
            .lr(p.lr as f32)
            .momentum(p.momentum as f32)
            .l2(p.l2 as f32)
            .seed(p.seed)
            .fit(&ds)
            .map_err(|e| e.to_string())?;
        Ok(Box::new(FittedMlp(model)))
    }
}

impl Fitted for FittedMlp {
    fn predict(&self, x: ArrayView2<'_, f64>) -> Vec<usize> {
        self.0.predict(&x.mapv(|v| v as f32)).to_vec()
    }
}

// ---------------------------------------------------------------- registry

pub(crate) fn svm(p: &SvmParams) -> Box<dyn Classifier> {
    Box::new(OneVsOneSvm(p.clone()))
}

pub(crate) fn tree(p: &TreeParams) -> Box<dyn Classifier> {
    Box::new(Tree(p.clone()))
}

pub(crate) fn gaussian_nb(p: &GaussianNbParams) -> Box<dyn Classifier> {
    Box::new(Gnb(p.clone()))
}

pub(crate) fn knn(p: &KnnParams) -> Box<dyn Classifier> {
    Box::new(Knn(p.clone()))
}

pub(crate) fn mlp(p: &MlpParams) -> Box<dyn Classifier> {
    Box::new(Mlp(p.clone()))
}

/// Serialises a params struct into a JSON object (for results.json).
pub(crate) fn to_json<T: Serialize>(t: &T) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Three well-separated Gaussian blobs in 4-D (seeded).
    fn blobs(n_per: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let centres = [[3.0, 0.0, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]];
        let mut x = Array2::zeros((3 * n_per, 4));
        let mut y = Vec::new();
        for (c, centre) in centres.iter().enumerate() {
            for i in 0..n_per {
                for j in 0..4 {
                    x[[c * n_per + i, j]] = centre[j] + rng.gen_range(-1.0..1.0);
                }
                y.push(c);
            }
        }
        (x, y)
    }

    fn accuracy(m: &dyn Classifier) -> f64 {
        let (xtr, ytr) = blobs(30, 1);
        let (xte, yte) = blobs(20, 2);
        let f = m.fit(xtr.view(), &ytr, 3).unwrap();
        let p = f.predict(xte.view());
        p.iter().zip(&yte).filter(|(a, b)| a == b).count() as f64 / yte.len() as f64
    }

    #[test]
    fn every_model_separates_blobs() {
        let models: Vec<(&str, Box<dyn Classifier>)> = vec![
            ("svm rbf", svm(&SvmParams::default())),
            ("svm linear", svm(&SvmParams { kernel: SvmKernel::Linear, ..SvmParams::default() })),
            ("tree", tree(&TreeParams::default())),
            ("gaussian_nb", gaussian_nb(&GaussianNbParams::default())),
            ("knn", knn(&KnnParams::default())),
            ("linfa_logistic", linfa_logistic(&LogisticParams::default())),
            ("mlp", mlp(&MlpParams::default())),
        ];
        for (name, m) in models {
            let acc = accuracy(m.as_ref());
            assert!(acc > 0.9, "{name}: accuracy {acc}");
        }
    }

    #[test]
    fn svm_with_a_missing_class_predicts_only_present_classes() {
        let (x, y) = blobs(20, 3);
        let rows: Vec<usize> = (0..y.len()).filter(|&r| y[r] != 1).collect();
        let xs = x.select(Axis(0), &rows);
        let ys: Vec<usize> = rows.iter().map(|&r| y[r]).collect();
        let f = svm(&SvmParams::default()).fit(xs.view(), &ys, 3).unwrap();
        assert!(f.predict(x.view()).iter().all(|&p| p != 1));
        let one: Vec<usize> = vec![0; 5];
        let e = svm(&SvmParams::default()).fit(x.select(Axis(0), &[0, 1, 2, 3, 4]).view(), &one, 3).err().unwrap();
        assert!(e.contains("at least 2 classes"), "{e}");
    }

    #[test]
    fn mlp_is_seeded() {
        let (x, y) = blobs(15, 5);
        let p = MlpParams { hidden: 8, epochs: 5, ..MlpParams::default() };
        let run = |p: &MlpParams| mlp(p).fit(x.view(), &y, 3).unwrap().predict(x.view());
        assert_eq!(run(&p), run(&p));
        let e = MlpParams { lr: 0.0, ..MlpParams::default() }.validate().unwrap_err();
        assert_eq!(e.key, "train.centralized.mlp.lr");
    }

    #[test]
    fn vote_tie_breaks() {
        // OvO: 0 and 2 tie on votes, 2 has the larger decision sum.
        assert_eq!(ovo_winner(&[1, 0, 1], &[0.1, -2.0, 0.5], [0, 1, 2].into_iter()), 2);
        // Untouched classes never win.
        assert_eq!(ovo_winner(&[0, 0, 0, 0], &[0.0, 0.0, 0.0, 5.0], [1, 2].into_iter()), 1);
        // kNN: 1 and 2 tie on votes, 2 is nearer in sum.
        assert_eq!(knn_winner(&[0, 2, 2, 1], &[0.0, 3.0, 2.0, 0.1]), 2);
        assert_eq!(knn_winner(&[0, 3, 2], &[0.0, 9.0, 0.1]), 1);
    }

    #[test]
    fn knn_k1_recovers_training_labels() {
        let (x, y) = blobs(10, 4);
        let f = knn(&KnnParams { k: 1 }).fit(x.view(), &y, 3).unwrap();
        assert_eq!(f.predict(x.view()), y);
    }

    #[test]
    fn gamma_scale_matches_definition() {
        // Reference: scikit-learn's gamma="scale" = 1 / (n_features * X.var()).
        let x = ndarray::array![[0.0, 2.0], [2.0, 0.0]];
        // mean 1, var 1 over all 4 entries -> 1 / (2 * 1).
        assert!((gamma_scale(x.view()) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn ranges_are_checked() {
        SvmParams::default().validate().unwrap();
        let e = SvmParams { c: 0.0, ..SvmParams::default() }.validate().unwrap_err();
        assert_eq!(e.key, "train.centralized.svm.c");
        let e = SvmParams { gamma: Some(-1.0), ..SvmParams::default() }.validate().unwrap_err();
        assert_eq!(e.key, "train.centralized.svm.gamma");
        assert_eq!(KnnParams { k: 0 }.validate().unwrap_err().key, "train.centralized.knn.k");
        let e = TreeParams { min_samples_split: 1, ..TreeParams::default() }.validate().unwrap_err();
        assert_eq!(e.key, "train.centralized.tree.min_samples_split");
        let e = GaussianNbParams { var_smoothing: -1.0 }.validate().unwrap_err();
        assert_eq!(e.key, "train.centralized.gaussian_nb.var_smoothing");
    }
}
