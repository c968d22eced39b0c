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
use rayon::prelude::*;

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
        // blocks of parameters in parallel; within a block every parameter
        // adds the updates in the given order, so any thread count gives the
        // same bits
        const BLOCK: usize = 4096;
        let first = updates.first().ok_or(FedError::Aggregation { round, message: "no updates".into() })?;
        let n = first.update.len();
        let mut total = 0f64;
        for u in updates {
            if u.update.len() != n {
                return Err(FedError::Aggregation {
                    round,
                    message: format!("client {} sent {} values, expected {n}", u.client, u.update.len()),
                });
            }
            total += u.weight;
        }
        if total <= 0.0 {
            return Err(FedError::Aggregation { round, message: "total client weight is zero".into() });
        }
        let mut out = vec![0f32; n];
        out.par_chunks_mut(BLOCK).enumerate().for_each(|(b, out)| {
            let lo = b * BLOCK;
            let mut acc = vec![0f64; out.len()];
            for u in updates {
                for (a, &v) in acc.iter_mut().zip(&u.update[lo..lo + out.len()]) {
                    *a += u.weight * f64::from(v);
                }
            }
            for (o, a) in out.iter_mut().zip(acc) {
                *o = (a / total) as f32;
            }
        });
        Ok(out)
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

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn plain_mean_is_the_in_order_f64_mean_for_any_thread_count() {
        // more parameters than one block, a partial last block, uneven weights
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let n = 3 * 4096 + 17;
        let ups: Vec<Vec<f32>> = (0..7).map(|_| (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()).collect();
        let weights = [3.0, 1.0, 250.0, 7.0, 0.5, 12.0, 40.0];
        let updates: Vec<ClientUpdate<'_>> = ups
            .iter()
            .zip(weights)
            .enumerate()
            .map(|(i, (u, w))| ClientUpdate { client: i as ClientId, weight: w, update: u })
            .collect();
        // the definition, one parameter at a time, clients in order
        let total: f64 = weights.iter().sum();
        let want: Vec<f32> = (0..n)
            .map(|j| (updates.iter().fold(0f64, |a, u| a + u.weight * f64::from(u.update[j])) / total) as f32)
            .collect();
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let got = pool.install(|| PlainAggregator.weighted_mean(4, &updates)).unwrap();
            assert!(got.iter().zip(&want).all(|(a, b)| a.to_bits() == b.to_bits()), "{threads} threads");
        }
        // where the order of the f64 sums shows: 1 + 1e16 - 1e16 is 0 (or 2)
        // in this order and 1 in the reverse one, in the second block
        let mut tiny = vec![vec![0f32; n]; 3];
        (tiny[0][5000], tiny[1][5000], tiny[2][5000]) = (1.0, 1e16, -1e16);
        let ordered: Vec<ClientUpdate<'_>> = tiny
            .iter()
            .enumerate()
            .map(|(i, u)| ClientUpdate { client: i as ClientId, weight: 1.0, update: u })
            .collect();
        let want = ((1.0 + f64::from(1e16f32)) - f64::from(1e16f32)) / 3.0;
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let got = pool.install(|| PlainAggregator.weighted_mean(4, &ordered)).unwrap();
            assert_eq!(got[5000].to_bits(), (want as f32).to_bits(), "{threads} threads");
            assert_ne!(got[5000], (1.0f64 / 3.0) as f32, "summed in the reverse order");
        }
        let short = [ClientUpdate { client: 9, weight: 1.0, update: &ups[0][..5] }];
        let mixed = [updates[0], short[0]];
        let e = PlainAggregator.weighted_mean(4, &mixed).unwrap_err().to_string();
        assert!(e.contains("client 9 sent 5 values, expected"), "{e}");
        let zero = [ClientUpdate { weight: 0.0, ..updates[0] }];
        assert!(PlainAggregator.weighted_mean(4, &zero).unwrap_err().to_string().contains("weight is zero"));
        assert!(PlainAggregator.weighted_mean(4, &[]).unwrap_err().to_string().contains("no updates"));
    }
}
