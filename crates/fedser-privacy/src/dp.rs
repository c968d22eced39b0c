//! Client-level DP-FedAvg: clipping, weighting, Gaussian noise, adaptive clipping.
//!
//! Per round (McMahan et al. 2018, "Learning differentially private recurrent
//! language models"; Andrew et al. 2021, "Differentially private learning with
//! adaptive clipping"):
//!
//! 1. every sampled client's update Δ_i is clipped to L2 norm C:
//!    `Δ_i · min(1, C/‖Δ_i‖)`;
//! 2. it is weighted by w_i ∈ [0, 1] (equal weights: all 1; bounded weights:
//!    `min(n_i / cap, 1)`, see [`bounded_weights`]), so adding or removing one
//!    client changes the weighted sum by at most C: the sensitivity the
//!    accountant assumes is the true one;
//! 3. Gaussian noise N(0, (zC)²) per coordinate is added to the sum, either by
//!    the server ([`Placement::Server`]) or split over the n clients, each
//!    adding N(0, (zC)²/n) before secure aggregation ([`Placement::Distributed`]);
//! 4. the sum is divided by a **fixed** denominator (the expected number of
//!    clients, or the expected total weight `q·Σw`), never by the realised
//!    count, which would itself leak.
//!
//! With distributed noise, clients that drop out take their share of the noise
//! with them: if only m of n contribute the noise std is `zC·√(m/n)`;
//! [`DpAggregate::noise_std`] reports the std that was actually added.

use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::{accountant, PrivacyError};

/// Where the Gaussian noise is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// The (trusted) server adds N(0, (zC)²) to the sum.
    #[default]
    Server,
    /// Each of n clients adds N(0, (zC)²/n) to its own clipped update
    /// (use with secure aggregation: the server never sees a noiseless sum).
    Distributed,
}

/// Poisson client sampling: each of `n` clients takes part in round `round`
/// independently with probability `q` (the sampling the accountant assumes),
/// drawn from `(seed, round)` only, so it is the same for any thread count.
/// May return no client; the fixed denominator of [`DpMechanism::aggregate`]
/// stays `q·n`.
#[must_use]
pub fn poisson_sample(n: usize, q: f64, seed: u64, round: u64) -> Vec<usize> {
    let mut h = blake3::Hasher::new_derive_key("fedser dp 2026 poisson client sampling");
    h.update(&seed.to_le_bytes()).update(&round.to_le_bytes());
    let mut rng = rand_chacha::ChaCha20Rng::from_seed(*h.finalize().as_bytes());
    (0..n).filter(|_| rng.gen_bool(q.clamp(0.0, 1.0))).collect()
}

/// Clips `update` in place to L2 norm `clip`; returns its norm before clipping.
pub fn clip_l2(update: &mut [f32], clip: f64) -> f64 {
    let norm = update.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    if norm > clip {
        #[allow(clippy::cast_possible_truncation, reason = "scale factor in (0, 1)")]
        let s = (clip / norm) as f32;
        update.iter_mut().for_each(|x| *x *= s);
    }
    norm
}

/// Bounded client weights `min(n_i / cap, 1)` (McMahan et al. 2018): clients
/// with at least `cap` examples get weight 1, smaller ones proportionally less.
/// Use `q · Σ w_i` over the population as the fixed denominator.
///
/// # Errors
/// [`PrivacyError::Invalid`] unless `cap > 0`.
pub fn bounded_weights(num_examples: &[usize], cap: f64) -> Result<Vec<f64>, PrivacyError> {
    if cap.is_nan() || cap <= 0.0 {
        return Err(PrivacyError::Invalid { what: "weight cap".into(), message: format!("{cap} is not positive") });
    }
    Ok(num_examples.iter().map(|&n| (n as f64 / cap).min(1.0)).collect())
}

/// The Gaussian mechanism on clipped, weighted client updates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpMechanism {
    clip: f64,
    noise_multiplier: f64,
    placement: Placement,
}

/// Result of one DP aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct DpAggregate {
    /// Noised weighted sum of the clipped updates.
    pub sum: Vec<f32>,
    /// `sum / denominator`.
    pub mean: Vec<f32>,
    /// L2 norm of each client's update before clipping.
    pub norms: Vec<f64>,
    /// Number of clients whose update was clipped.
    pub clipped: usize,
    /// Std of the Gaussian noise in the sum, per coordinate.
    pub noise_std: f64,
}

impl DpMechanism {
    /// Clip norm `clip` (> 0), noise multiplier `z` (≥ 0: std of the sum's
    /// noise is z·clip), and where the noise is added.
    ///
    /// # Errors
    /// [`PrivacyError::Invalid`] for a non-positive clip or a negative z.
    pub fn new(clip: f64, noise_multiplier: f64, placement: Placement) -> Result<Self, PrivacyError> {
        if !(clip > 0.0 && clip.is_finite()) {
            return Err(PrivacyError::Invalid { what: "clip".into(), message: format!("{clip} is not positive") });
        }
        if !(noise_multiplier >= 0.0 && noise_multiplier.is_finite()) {
            return Err(PrivacyError::Invalid {
                what: "noise multiplier".into(),
                message: format!("{noise_multiplier} is negative"),
            });
        }
        Ok(Self { clip, noise_multiplier, placement })
    }

    /// Clip norm C.
    #[must_use]
    pub fn clip(&self) -> f64 {
        self.clip
    }

    /// Noise multiplier z.
    #[must_use]
    pub fn noise_multiplier(&self) -> f64 {
        self.noise_multiplier
    }

    /// Noise placement.
    #[must_use]
    pub fn placement(&self) -> Placement {
        self.placement
    }

    /// Client side of [`Placement::Distributed`]: clips `update` in place,
    /// multiplies it by `weight` and adds N(0, (zC)²/n_clients) per coordinate.
    /// With [`Placement::Server`] only clips and weights. Returns the norm
    /// before clipping. Draw `rng` from the client's own seed.
    pub fn privatize_client<R: Rng + ?Sized>(
        &self,
        update: &mut [f32],
        weight: f64,
        n_clients: usize,
        rng: &mut R,
    ) -> f64 {
        let norm = clip_l2(update, self.clip);
        #[allow(clippy::cast_possible_truncation, reason = "weight in [0, 1]")]
        let w = weight as f32;
        let std = match self.placement {
            Placement::Server => 0.0,
            Placement::Distributed => self.noise_multiplier * self.clip / (n_clients.max(1) as f64).sqrt(),
        };
        for x in update.iter_mut() {
            let noise = if std > 0.0 { std * rng.sample::<f64, _>(StandardNormal) } else { 0.0 };
            #[allow(clippy::cast_possible_truncation, reason = "f32 model updates")]
            let noise = noise as f32;
            *x = *x * w + noise;
        }
        norm
    }

    /// One round of aggregation: clips every update, weights it (`weights`
    /// in [0, 1]; `None` = equal weights of 1), sums, adds the noise (at the
    /// server, or per client for [`Placement::Distributed`]; the per-client
    /// draws then come from `rng` in client order, which simulates the clients)
    /// and divides by the fixed `denominator` (expected number of clients or
    /// expected total weight).
    ///
    /// # Errors
    /// [`PrivacyError::Shape`] for updates of different lengths,
    /// [`PrivacyError::Invalid`] for weights outside [0, 1], a wrong number of
    /// weights or a non-positive denominator.
    pub fn aggregate<R: Rng + ?Sized, U: AsRef<[f32]>>(
        &self,
        updates: &[U],
        weights: Option<&[f64]>,
        denominator: f64,
        rng: &mut R,
    ) -> Result<DpAggregate, PrivacyError> {
        let dim = updates.first().map_or(0, |u| u.as_ref().len());
        for (i, u) in updates.iter().enumerate() {
            if u.as_ref().len() != dim {
                return Err(PrivacyError::Shape { client: i, got: u.as_ref().len(), expected: dim });
            }
        }
        if let Some(w) = weights {
            if w.len() != updates.len() {
                return Err(PrivacyError::Invalid {
                    what: "weights".into(),
                    message: format!("{} weights for {} updates", w.len(), updates.len()),
                });
            }
            if let Some(bad) = w.iter().find(|w| !(0.0..=1.0).contains(*w)) {
                return Err(PrivacyError::Invalid {
                    what: "weights".into(),
                    message: format!("weight {bad} is outside [0, 1]: the sensitivity would exceed the clip norm"),
                });
            }
        }
        if !(denominator > 0.0) {
            return Err(PrivacyError::Invalid {
                what: "denominator".into(),
                message: format!("{denominator} is not positive"),
            });
        }
        let n = updates.len();
        let mut sum = vec![0.0_f64; dim];
        let mut norms = Vec::with_capacity(n);
        let mut buf = vec![0.0_f32; dim];
        for (i, u) in updates.iter().enumerate() {
            buf.copy_from_slice(u.as_ref());
            let w = weights.map_or(1.0, |w| w[i]);
            norms.push(self.privatize_client(&mut buf, w, n, rng));
            sum.iter_mut().zip(&buf).for_each(|(s, &x)| *s += f64::from(x));
        }
        let noise_std = match self.placement {
            Placement::Server => {
                let std = self.noise_multiplier * self.clip;
                if std > 0.0 {
                    sum.iter_mut().for_each(|s| *s += std * rng.sample::<f64, _>(StandardNormal));
                }
                std
            }
            // n draws of variance (zC)²/n each.
            Placement::Distributed if n > 0 => self.noise_multiplier * self.clip,
            Placement::Distributed => 0.0,
        };
        let clipped = norms.iter().filter(|&&v| v > self.clip).count();
        #[allow(clippy::cast_possible_truncation, reason = "f32 model updates")]
        let mean = sum.iter().map(|&s| (s / denominator) as f32).collect();
        #[allow(clippy::cast_possible_truncation, reason = "f32 model updates")]
        let sum = sum.iter().map(|&s| s as f32).collect();
        Ok(DpAggregate { sum, mean, norms, clipped, noise_std })
    }
}

/// Adaptive clipping to a target quantile of the update norms (Andrew et al.
/// 2021, Algorithm 1, geometric update): after each round the server releases
/// the noised fraction of clients whose update norm was at most C,
/// `b̄ = (Σ 1[‖Δ_i‖ ≤ C] + N(0, σ_b²)) / m`, and sets `C ← C·exp(−η (b̄ − γ))`.
///
/// The count is a Gaussian mechanism too: give the update sum the noise
/// multiplier [`AdaptiveClip::update_noise_multiplier`] so that both releases
/// together cost exactly the accountant's z.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AdaptiveClip {
    clip: f64,
    target_quantile: f64,
    learning_rate: f64,
    count_noise_std: f64,
}

/// One adaptive-clipping step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QuantileStep {
    /// Clip norm used in the round.
    pub clip: f64,
    /// Noised fraction of unclipped clients b̄.
    pub unclipped_fraction: f64,
    /// Clip norm for the next round.
    pub next_clip: f64,
}

impl AdaptiveClip {
    /// Initial clip C₀ > 0, target quantile γ ∈ (0, 1), learning rate η > 0
    /// (the paper uses 0.2) and count noise σ_b ≥ 0 (the paper: expected clients / 20).
    ///
    /// # Errors
    /// [`PrivacyError::Invalid`] naming the bad argument.
    pub fn new(
        initial_clip: f64,
        target_quantile: f64,
        learning_rate: f64,
        count_noise_std: f64,
    ) -> Result<Self, PrivacyError> {
        let bad =
            |what: &str, v: f64| PrivacyError::Invalid { what: what.into(), message: format!("{v} is out of range") };
        if !(initial_clip > 0.0 && initial_clip.is_finite()) {
            return Err(bad("initial clip", initial_clip));
        }
        if !(target_quantile > 0.0 && target_quantile < 1.0) {
            return Err(bad("target quantile", target_quantile));
        }
        if !(learning_rate > 0.0 && learning_rate.is_finite()) {
            return Err(bad("clip learning rate", learning_rate));
        }
        if !(count_noise_std >= 0.0 && count_noise_std.is_finite()) {
            return Err(bad("count noise std", count_noise_std));
        }
        Ok(Self { clip: initial_clip, target_quantile, learning_rate, count_noise_std })
    }

    /// Current clip norm.
    #[must_use]
    pub fn clip(&self) -> f64 {
        self.clip
    }

    /// Count noise σ_b.
    #[must_use]
    pub fn count_noise_std(&self) -> f64 {
        self.count_noise_std
    }

    /// Noise multiplier for the update sum given the total budget `z_total`
    /// (see [`accountant::update_noise_multiplier`]).
    ///
    /// # Errors
    /// When `2σ_b ≤ z_total`.
    pub fn update_noise_multiplier(&self, z_total: f64) -> Result<f64, PrivacyError> {
        if z_total == 0.0 {
            return Ok(0.0);
        }
        accountant::update_noise_multiplier(z_total, self.count_noise_std)
    }

    /// Updates C from this round's pre-clipping norms; `expected_clients` is
    /// the fixed denominator m.
    pub fn step<R: Rng + ?Sized>(&mut self, norms: &[f64], expected_clients: f64, rng: &mut R) -> QuantileStep {
        let count = norms.iter().filter(|&&v| v <= self.clip).count() as f64;
        let noise =
            if self.count_noise_std > 0.0 { self.count_noise_std * rng.sample::<f64, _>(StandardNormal) } else { 0.0 };
        let b = (count + noise) / expected_clients.max(1e-12);
        let clip = self.clip;
        self.clip = clip * (-self.learning_rate * (b - self.target_quantile)).exp();
        QuantileStep { clip, unclipped_fraction: b, next_clip: self.clip }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    use super::*;

    fn updates(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        (0..n).map(|i| (0..dim).map(|_| rng.gen_range(-1.0..1.0_f32) * (1.0 + i as f32 * 0.1)).collect()).collect()
    }

    #[test]
    fn clipping_bounds_each_contribution() {
        let mut u = vec![3.0_f32, 4.0];
        assert!((clip_l2(&mut u, 1.0) - 5.0).abs() < 1e-12);
        assert!((u[0] - 0.6).abs() < 1e-6 && (u[1] - 0.8).abs() < 1e-6);
        let mut small = vec![0.1_f32, 0.0];
        clip_l2(&mut small, 1.0);
        assert_eq!(small, vec![0.1, 0.0]);
    }

    #[test]
    fn sensitivity_of_noiseless_sum_is_the_clip() {
        // Removing any one client moves the (noiseless) weighted sum by ≤ C.
        let us = updates(8, 50, 1);
        let mech = DpMechanism::new(0.7, 0.0, Placement::Server).unwrap();
        let w: Vec<f64> = (0..8).map(|i| f64::from(i) / 7.0).collect();
        let mut rng = ChaCha20Rng::seed_from_u64(0);
        let full = mech.aggregate(&us, Some(&w), 1.0, &mut rng).unwrap().sum;
        for k in 0..8 {
            let (us2, w2): (Vec<_>, Vec<_>) =
                us.iter().zip(&w).enumerate().filter(|(i, _)| *i != k).map(|(_, p)| p).unzip();
            let us2: Vec<Vec<f32>> = us2.into_iter().cloned().collect();
            let w2: Vec<f64> = w2.into_iter().copied().collect();
            let part = mech.aggregate(&us2, Some(&w2), 1.0, &mut rng).unwrap().sum;
            let d: f64 = full.iter().zip(&part).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>().sqrt();
            assert!(d <= 0.7 + 1e-5, "client {k}: {d}");
        }
        assert!(mech.aggregate(&us, Some(&[1.5; 8]), 1.0, &mut rng).is_err());
    }

    #[test]
    fn noise_std_matches_placement() {
        // Zero updates: the sum is pure noise; its empirical std must be z·C in both placements.
        let zeros = vec![vec![0.0_f32; 20_000]; 16];
        for placement in [Placement::Server, Placement::Distributed] {
            let mech = DpMechanism::new(0.5, 2.0, placement).unwrap();
            let mut rng = ChaCha20Rng::seed_from_u64(3);
            let agg = mech.aggregate(&zeros, None, 16.0, &mut rng).unwrap();
            let var = agg.sum.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / 20_000.0;
            assert!((var.sqrt() - 1.0).abs() < 0.02, "{placement:?}: std {}", var.sqrt());
            let mvar = agg.mean.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / 20_000.0;
            assert!((mvar.sqrt() - 1.0 / 16.0).abs() < 0.002);
        }
    }

    #[test]
    fn adaptive_clip_tracks_the_target_quantile() {
        // Norms ~ U(0, 2): the 0.5 quantile is 1. Start far away from both sides.
        for start in [0.05, 20.0] {
            let mut ac = AdaptiveClip::new(start, 0.5, 0.2, 100.0 / 20.0).unwrap();
            let mut rng = ChaCha20Rng::seed_from_u64(9);
            for _ in 0..300 {
                let norms: Vec<f64> = (0..100).map(|_| rng.gen_range(0.0..2.0)).collect();
                ac.step(&norms, 100.0, &mut rng);
            }
            assert!((ac.clip() - 1.0).abs() < 0.25, "start {start}: clip {}", ac.clip());
        }
        assert!(AdaptiveClip::new(1.0, 1.0, 0.2, 1.0).is_err());
    }

    #[test]
    fn poisson_sampling_rate_and_determinism() {
        let total: usize = (0..200).map(|r| poisson_sample(91, 0.3, 5, r).len()).sum();
        let rate = total as f64 / (200.0 * 91.0);
        assert!((rate - 0.3).abs() < 0.02, "{rate}");
        assert_eq!(poisson_sample(91, 0.3, 5, 7), poisson_sample(91, 0.3, 5, 7));
        assert_ne!(poisson_sample(91, 0.3, 5, 7), poisson_sample(91, 0.3, 5, 8));
        assert_eq!(poisson_sample(10, 1.0, 0, 0).len(), 10);
    }

    #[test]
    fn same_seed_same_aggregate() {
        let us = updates(5, 30, 2);
        let mech = DpMechanism::new(0.5, 1.0, Placement::Distributed).unwrap();
        let a = mech.aggregate(&us, None, 5.0, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
        let b = mech.aggregate(&us, None, 5.0, &mut ChaCha20Rng::seed_from_u64(1)).unwrap();
        assert_eq!(a, b);
    }
}
