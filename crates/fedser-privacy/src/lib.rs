//! Privacy for federated SER: client-level differential privacy with a Rényi-DP
//! accountant, secure aggregation, and a measured attribute-inference attack.
//!
//! Everything here works on plain update vectors (`&[f32]`, one per client and
//! round), so the federated round loop only has to call it:
//!
//! * [`accountant`]: RDP of the Poisson-sampled Gaussian mechanism over a grid
//!   of orders, composed over rounds, converted to (ε, δ) as Google's
//!   dp-accounting does; [`accountant::noise_multiplier_for_epsilon`] solves
//!   for z given a target ε.
//! * [`dp`]: [`dp::DpMechanism`] clips each client's update to L2 norm C and
//!   adds Gaussian noise of std z·C to the weighted sum (server placement) or
//!   std z·C/√n to each client's update (distributed placement, for use with
//!   secure aggregation); [`dp::AdaptiveClip`] tracks a target quantile of the
//!   update norms (Andrew et al. 2021) with its own noised count.
//! * [`secagg`]: the semi-honest secure-aggregation protocol of Bonawitz et al.
//!   (CCS 2017), simulated in process: fixed-point quantisation into Z_2^32,
//!   X25519 pairwise masks expanded with ChaCha20, self masks, Shamir t-of-n
//!   shares and recovery from dropouts.
//! * [`attack`]: an honest-but-curious server infers a client attribute (sex,
//!   age group, …) from individual updates, cross-validated over clients.
//! * [`params`]: the `[privacy]` pipeline table.
//!
//! # Usage
//! ```
//! use fedser_privacy::{accountant, dp::{DpMechanism, Placement}};
//! use rand::SeedableRng;
//!
//! // ε after 30 rounds with all 91 clients and z = 1 (δ = 1e-3).
//! let eps = accountant::epsilon(1.0, 1.0, 30, 1e-3)?.epsilon;
//! assert!(eps > 33.0 && eps < 34.0);
//!
//! // One round of DP-FedAvg aggregation of three client updates.
//! let updates = vec![vec![0.3_f32, -0.1], vec![2.0, 0.0], vec![0.0, 0.1]];
//! let mech = DpMechanism::new(0.5, 1.0, Placement::Server)?;
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
//! let agg = mech.aggregate(&updates, None, 3.0, &mut rng)?;
//! assert_eq!(agg.mean.len(), 2);
//! assert_eq!(agg.clipped, 1); // the second update had norm 2 > 0.5
//! # Ok::<(), fedser_privacy::PrivacyError>(())
//! ```

// `!(x > 0.0)` is deliberate throughout: NaN must fail every range check.
#![allow(clippy::neg_cmp_op_on_partial_ord, reason = "NaN-rejecting range checks")]

pub mod accountant;
pub mod attack;
pub mod dp;
pub mod params;
pub mod secagg;
mod shamir;

pub use params::PrivacyParams;

/// Everything that can go wrong in this crate; each variant names what failed.
#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    /// An argument out of range (names the argument).
    #[error("invalid {what}: {message}")]
    Invalid {
        /// Which argument.
        what: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// Update vectors of different lengths.
    #[error("client {client}: update has {got} values, expected {expected}")]
    Shape {
        /// Index of the client.
        client: usize,
        /// Its length.
        got: usize,
        /// The first client's length.
        expected: usize,
    },
    /// Too many clients dropped for the server to unmask the sum.
    #[error(
        "secure aggregation round {round} aborted: {survivors} clients answered the {phase} phase, threshold is {threshold} of {clients}"
    )]
    SecAggAbort {
        /// Round number.
        round: u64,
        /// Protocol phase that lacked clients.
        phase: &'static str,
        /// Clients that answered.
        survivors: usize,
        /// Shamir threshold t.
        threshold: usize,
        /// Clients that started the round.
        clients: usize,
    },
    /// Shares that do not reconstruct a valid secret.
    #[error("secure aggregation: cannot reconstruct the {what} of client {client}")]
    Reconstruct {
        /// Self-mask seed or key.
        what: &'static str,
        /// Client index.
        client: usize,
    },
    /// Too few clients with a known attribute for cross-validation.
    #[error("attack on `{attribute}`: {message}")]
    Attack {
        /// Attribute name.
        attribute: String,
        /// What is missing.
        message: String,
    },
}
