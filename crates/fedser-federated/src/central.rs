//! The same models fit on pooled data through linfa's traits, so a
//! centralized run can use exactly the federated model code:
//!
//! ```
//! use fedser_federated::{central::SgdClassifier, Arch};
//! use linfa::prelude::*;
//! use ndarray::{array, Array1};
//!
//! let x = array![[0.0f32, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]];
//! let y: Array1<usize> = array![0, 1, 0, 1];
//! let model = SgdClassifier::new(Arch::Mlp { hidden: 8 }).epochs(200).batch_size(2).lr(0.1)
//!     .fit(&Dataset::new(x.clone(), y.clone()))?;
//! assert_eq!(model.predict(&x), y);
//! # Ok::<(), fedser_federated::FedError>(())
//! ```

use linfa::dataset::DatasetBase;
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, ArrayBase, Data, Ix2};

use crate::model::{Arch, Shape, Standardizer};
use crate::server::{rng_for, Purpose};
use crate::sgd::{self, LocalConfig, Rows};
use crate::stats::{combine, ClientStats};
use crate::FedError;

/// Mini-batch SGD fit of an [`Arch`] on standardised features (the
/// centralized counterpart of one federated client with all the data).
///
/// | Name | Default | Purpose |
/// | :-- | :-- | :-- |
/// | `epochs` | `20` | passes over the data |
/// | `batch_size` | `16` | rows per step |
/// | `lr` | `0.01` | learning rate |
/// | `momentum` | `0.0` | heavy-ball momentum |
/// | `l2` | `0.0` | weight decay on weights |
/// | `seed` | `0` | initialisation and shuffling |
#[derive(Debug, Clone, PartialEq)]
pub struct SgdClassifier {
    arch: Arch,
    local: LocalConfig,
    seed: u64,
}

impl SgdClassifier {
    /// Defaults for `arch`.
    #[must_use]
    pub fn new(arch: Arch) -> Self {
        Self {
            arch,
            local: LocalConfig {
                epochs: 20,
                batch_size: 16,
                lr: 0.01,
                momentum: 0.0,
                l2: 0.0,
                mu: 0.0,
                max_steps: None,
            },
            seed: 0,
        }
    }
    /// Epochs.
    #[must_use]
    pub fn epochs(mut self, v: usize) -> Self {
        self.local.epochs = v;
        self
    }
    /// Batch size.
    #[must_use]
    pub fn batch_size(mut self, v: usize) -> Self {
        self.local.batch_size = v;
        self
    }
    /// Learning rate.
    #[must_use]
    pub fn lr(mut self, v: f32) -> Self {
        self.local.lr = v;
        self
    }
    /// Momentum.
    #[must_use]
    pub fn momentum(mut self, v: f32) -> Self {
        self.local.momentum = v;
        self
    }
    /// L2 weight decay.
    #[must_use]
    pub fn l2(mut self, v: f32) -> Self {
        self.local.l2 = v;
        self
    }
    /// Seed.
    #[must_use]
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
}

/// A fitted model: shape, flat parameters and its standardiser.
#[derive(Debug, Clone, PartialEq)]
pub struct FlatModel {
    /// Shape.
    pub shape: Shape,
    /// Parameters (layout in [`crate::model`]).
    pub params: Vec<f32>,
    /// Feature standardisation.
    pub standardizer: Standardizer,
}

impl<D: Data<Elem = f32>> Fit<ArrayBase<D, Ix2>, Array1<usize>, FedError> for SgdClassifier {
    type Object = FlatModel;

    fn fit(&self, ds: &DatasetBase<ArrayBase<D, Ix2>, Array1<usize>>) -> Result<FlatModel, FedError> {
        let x = ds.records.as_standard_layout().into_owned();
        let y = &ds.targets;
        let (n, d) = x.dim();
        if n == 0 || y.len() != n {
            return Err(FedError::Aggregation { round: 0, message: format!("{n} rows but {} targets", y.len()) });
        }
        if self.local.epochs == 0 || self.local.batch_size == 0 || self.local.lr.is_nan() || self.local.lr <= 0.0 {
            return Err(FedError::Aggregation { round: 0, message: "epochs, batch_size and lr must be > 0".into() });
        }
        let k = y.iter().copied().max().unwrap_or(0) + 1;
        let shape = Shape { arch: self.arch, d, k };
        let xs = x.as_slice().unwrap_or(&[]);
        let rows: Vec<usize> = (0..n).collect();
        let standardizer = combine(&[ClientStats::of(xs, d, &rows)], d);
        let yv = y.to_vec();
        let start = shape.init(&mut rng_for(self.seed, 0, 0, 0, Purpose::Init));
        let out = sgd::train(
            &shape,
            &start,
            Rows { x: xs, y: &yv, rows: &rows },
            &standardizer,
            &LocalConfig { mu: 0.0, max_steps: None, ..self.local.clone() },
            &mut rng_for(self.seed, 0, 0, 0, Purpose::Shuffle),
        );
        Ok(FlatModel { shape, params: out.params, standardizer })
    }
}

impl<D: Data<Elem = f32>> PredictInplace<ArrayBase<D, Ix2>, Array1<usize>> for FlatModel {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<usize>) {
        let rows: Vec<usize> = (0..x.nrows()).collect();
        let p = self.shape.predict_rows(&self.params, x.view(), &rows, &self.standardizer);
        for (t, v) in y.iter_mut().zip(p) {
            *t = v;
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<usize> {
        Array1::zeros(x.nrows())
    }
}
