//! Extension points of the round loop, for privacy mechanisms and attacks
//! built outside this crate (`fedser-privacy`):
//!
//! - [`UpdateTransform`]: runs on the client, on its update (`Δ = w_local -
//!   w_global`) before it is sent: clipping and local/distributed noise.
//! - [`Aggregator`]: how the server forms the weighted mean of the accepted
//!   updates: [`PlainAggregator`] sums in the clear; a secure-aggregation
//!   backend masks, sums and unmasks instead, and a central-DP backend adds
//!   noise to the sum. Pair it with [`crate::Weighting::Equal`] when the
//!   mechanism's sensitivity assumes equal client weights.
//! - [`RoundObserver`]: sees every individual update the server receives
//!   (after the transform, with the client id), e.g. for an
//!   attribute-inference attack, and every finished round.
//!
//! All three are called in a fixed order (ascending client id) from the
//! loop's thread, except [`UpdateTransform::transform`], which runs inside
//! the (parallel) client and gets its own generator seeded from
//! `(seed, fold, round, client)`, so results never depend on threads.

use rand_chacha::ChaCha8Rng;

use crate::server::RoundRecord;
use crate::{ClientId, FedError};

/// One client's update as the aggregator sees it.
#[derive(Debug, Clone, Copy)]
pub struct ClientUpdate<'a> {
    /// The client.
    pub client: ClientId,
    /// Its weight in the mean (examples, or 1).
    pub weight: f64,
    /// The update.
    pub update: &'a [f32],
}

/// The server's aggregation of accepted updates.
pub trait Aggregator: Send + Sync {
    /// `Σ w_i u_i / Σ w_i` over `updates` (non-empty, equal lengths, in
    /// ascending client order).
    ///
    /// # Errors
    /// [`FedError::Aggregation`] when the backend cannot produce the mean.
    fn weighted_mean(&self, round: u32, updates: &[ClientUpdate<'_>]) -> Result<Vec<f32>, FedError>;
}

/// Plain weighted mean: f64 accumulation in the given order, then f32.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainAggregator;

impl Aggregator for PlainAggregator {
    fn weighted_mean(&self, round: u32, updates: &[ClientUpdate<'_>]) -> Result<Vec<f32>, FedError> {
        let first = updates.first().ok_or(FedError::Aggregation { round, message: "no updates".into() })?;
        let mut acc = vec![0f64; first.update.len()];
        let mut total = 0f64;
        for u in updates {
            if u.update.len() != acc.len() {
                return Err(FedError::Aggregation {
                    round,
                    message: format!("client {} sent {} values, expected {}", u.client, u.update.len(), acc.len()),
                });
            }
            total += u.weight;
            for (a, &v) in acc.iter_mut().zip(u.update) {
                *a += u.weight * f64::from(v);
            }
        }
        if total <= 0.0 {
            return Err(FedError::Aggregation { round, message: "total client weight is zero".into() });
        }
        Ok(acc.into_iter().map(|a| (a / total) as f32).collect())
    }
}

/// A client-side transform of the update before sending (DP clipping and
/// noise). The vector may change length only to model faults.
pub trait UpdateTransform: Send + Sync {
    /// Transforms `update` of `client` in `round`.
    fn transform(&self, round: u32, client: ClientId, update: &mut Vec<f32>, rng: &mut ChaCha8Rng);
}

/// Observes what the server receives.
pub trait RoundObserver: Send + Sync {
    /// Every update received in `round` (accepted or not), with the client's
    /// example count, in ascending client order.
    fn client_update(&self, round: u32, client: ClientId, num_examples: usize, update: &[f32], accepted: bool);

    /// After each round (and round 0, the initial evaluation).
    fn round_end(&self, _record: &RoundRecord) {}
}

/// The pluggable parts of a simulation.
#[derive(Clone, Copy, Default)]
pub struct Hooks<'h> {
    /// Client-side transform (none = send the raw update).
    pub transform: Option<&'h dyn UpdateTransform>,
    /// Aggregation backend (none = [`PlainAggregator`]).
    pub aggregator: Option<&'h dyn Aggregator>,
    /// Observer of individual updates.
    pub observer: Option<&'h dyn RoundObserver>,
}

impl std::fmt::Debug for Hooks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("transform", &self.transform.is_some())
            .field("aggregator", &self.aggregator.is_some())
            .field("observer", &self.observer.is_some())
            .finish()
    }
}
