//! Secure aggregation: the semi-honest protocol of Bonawitz et al. (CCS 2017,
//! "Practical secure aggregation for privacy-preserving machine learning"),
//! simulated in one process with real cryptographic primitives.
//!
//! One round with n clients and threshold t:
//!
//! 0. **Advertise keys.** Client u draws an X25519 key pair (s_u^SK, s_u^PK)
//!    (x25519-dalek) from its own seed `(pipeline seed, round, u)`.
//! 1. **Share keys.** u draws a self-mask seed b_u and splits both b_u and
//!    s_u^SK into t-of-n Shamir shares (GF(2^61 − 1)), one per client. (The
//!    real protocol sends them encrypted under a second key agreement through
//!    the server; in process they are handed over directly, which a
//!    semi-honest simulation does not need to model.)
//! 2. **Masked input.** u quantises its update into Z_2^32 ([`Quantizer`]) and
//!    sends `y_u = x_u + PRG(b_u) + Σ_{v>u} PRG(s_uv) − Σ_{v<u} PRG(s_uv)`
//!    (mod 2^32), where s_uv = KDF(X25519(s_u^SK, s_v^PK)) (BLAKE3 key
//!    derivation) and PRG is the ChaCha20 keystream (`rand_chacha`). Clients
//!    that drop before this step ([`Dropout::BeforeMasking`]) are not in the sum.
//! 3. **Unmasking.** Each client still online sends, for every v that sent
//!    y_v, its share of b_v, and for every v that dropped before step 2, its
//!    share of s_v^SK. Clients that drop after sending y_u
//!    ([`Dropout::AfterMasking`]) stay in the sum: the others' shares recover
//!    their self masks. With fewer than t clients in step 2 or step 3 the round
//!    aborts with [`PrivacyError::SecAggAbort`] (so at most n − t dropouts).
//!
//! The server learns `Σ_{u sent y_u} x_u` (mod 2^32) and nothing else; a single
//! y_u is uniform on Z_2^32 to anyone without b_u (tested with a chi-square test).
//! Keep `n · (2^bits − 1) < 2^32` so the sum does not wrap ([`Quantizer::check_clients`]).

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use serde::Serialize;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::{shamir, PrivacyError};

/// Fixed-point quantisation of values in [−range, range] to `bits`-bit
/// unsigned integers: `q = round((clamp(x) + range) / (2·range) · (2^bits − 1))`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantizer {
    bits: u32,
    range: f64,
}

/// How far the dequantised secure sum is from the float sum.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QuantizationError {
    /// Largest absolute error over the coordinates of the sum.
    pub max_abs: f64,
    /// Root mean square error over the coordinates of the sum.
    pub rms: f64,
    /// Input values that fell outside [−range, range] and were clamped.
    pub clamped: usize,
}

impl Quantizer {
    /// `bits` in 1..=32, `range` > 0.
    ///
    /// # Errors
    /// [`PrivacyError::Invalid`] naming `bits` or `range`.
    pub fn new(bits: u32, range: f64) -> Result<Self, PrivacyError> {
        if !(1..=32).contains(&bits) {
            return Err(PrivacyError::Invalid { what: "bits".into(), message: format!("{bits} is not in 1..=32") });
        }
        if !(range > 0.0 && range.is_finite()) {
            return Err(PrivacyError::Invalid { what: "range".into(), message: format!("{range} is not positive") });
        }
        Ok(Self { bits, range })
    }

    fn levels(&self) -> f64 {
        ((1_u64 << self.bits) - 1) as f64
    }

    /// Quantisation step (the value of one integer unit).
    #[must_use]
    pub fn step(&self) -> f64 {
        2.0 * self.range / self.levels()
    }

    /// Checks that the sum of `n` quantised inputs cannot wrap mod 2^32.
    ///
    /// # Errors
    /// [`PrivacyError::Invalid`] naming `bits` when `n · (2^bits − 1) ≥ 2^32`.
    pub fn check_clients(&self, n: usize) -> Result<(), PrivacyError> {
        if (n as u128) * ((1_u128 << self.bits) - 1) >= 1_u128 << 32 {
            return Err(PrivacyError::Invalid {
                what: "bits".into(),
                message: format!(
                    "{} bits for {n} clients can wrap the 32-bit sum: use at most {} bits",
                    self.bits,
                    32 - (n as f64).log2().ceil() as u32
                ),
            });
        }
        Ok(())
    }

    /// Quantises `x` (clamping to [−range, range]); returns the values and
    /// how many were clamped.
    #[must_use]
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "rounded values in [0, 2^bits − 1]")]
    pub fn quantize(&self, x: &[f32]) -> (Vec<u32>, usize) {
        let (l, r) = (self.levels(), self.range);
        let mut clamped = 0;
        let q = x
            .iter()
            .map(|&v| {
                let v = f64::from(v);
                if v.abs() > r {
                    clamped += 1;
                }
                ((v.clamp(-r, r) + r) / (2.0 * r) * l).round() as u32
            })
            .collect();
        (q, clamped)
    }

    /// Float value of the sum of `n` quantised inputs.
    #[must_use]
    pub fn dequantize_sum(&self, sum: &[u32], n: usize) -> Vec<f64> {
        let step = self.step();
        sum.iter().map(|&s| f64::from(s) * step - n as f64 * self.range).collect()
    }
}

/// When (if at all) a client drops out of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Dropout {
    /// Stays for the whole round.
    #[default]
    None,
    /// Shared its keys, then dropped before sending its masked input: not in
    /// the sum; the server reconstructs its mask key to cancel its pairwise masks.
    BeforeMasking,
    /// Sent its masked input, then dropped before unmasking: in the sum; the
    /// server reconstructs its self-mask seed.
    AfterMasking,
}

/// Secure aggregation settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SecAgg {
    /// Shamir threshold as a fraction of the clients in the round; t =
    /// max(⌈fraction·n⌉, ⌊n/2⌋ + 1).
    pub threshold: f64,
    /// Fixed-point quantiser.
    pub quantizer: Quantizer,
    /// Pipeline seed; each client's randomness derives from (seed, round, client).
    pub seed: u64,
}

/// What the server ends up with after one round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecAggOutcome {
    /// The unmasked sum in Z_2^32 of the included clients' quantised updates.
    pub sum_quantized: Vec<u32>,
    /// The same sum, dequantised.
    pub sum: Vec<f32>,
    /// Indices of the clients whose inputs are in the sum.
    pub included: Vec<usize>,
    /// Threshold t used.
    pub threshold: usize,
    /// Dequantised sum vs the float sum of the included clients' updates.
    pub quantization_error: QuantizationError,
    /// The server's view of each client: its masked input y_u (`None` when
    /// the client dropped before sending one).
    #[serde(skip)]
    pub masked_inputs: Vec<Option<Vec<u32>>>,
}

const PAIR_CONTEXT: &str = "fedser secagg 2026 pairwise mask seed";
const CLIENT_CONTEXT: &str = "fedser secagg 2026 client randomness";

/// Per-(seed, round, client) randomness.
fn client_rng(seed: u64, round: u64, client: usize) -> ChaCha20Rng {
    let mut h = blake3::Hasher::new_derive_key(CLIENT_CONTEXT);
    h.update(&seed.to_le_bytes()).update(&round.to_le_bytes()).update(&(client as u64).to_le_bytes());
    ChaCha20Rng::from_seed(*h.finalize().as_bytes())
}

/// Adds (`sign` = +1) or subtracts the ChaCha20 keystream for `seed` to `acc`, mod 2^32.
fn apply_prg(acc: &mut [u32], seed: [u8; 32], add: bool) {
    let mut prg = ChaCha20Rng::from_seed(seed);
    let mut buf = [0_u32; 256];
    for chunk in acc.chunks_mut(256) {
        let b = &mut buf[..chunk.len()];
        prg.fill(b);
        if add {
            chunk.iter_mut().zip(b.iter()).for_each(|(a, &m)| *a = a.wrapping_add(m));
        } else {
            chunk.iter_mut().zip(b.iter()).for_each(|(a, &m)| *a = a.wrapping_sub(m));
        }
    }
}

fn pair_seed(secret: &StaticSecret, other: &PublicKey, round: u64) -> [u8; 32] {
    let shared = secret.diffie_hellman(other);
    let mut h = blake3::Hasher::new_derive_key(PAIR_CONTEXT);
    h.update(shared.as_bytes()).update(&round.to_le_bytes());
    *h.finalize().as_bytes()
}

struct ClientKeys {
    secret: StaticSecret,
    public: PublicKey,
    self_seed: [u8; 32],
    /// shares[v] = this client's shares destined to client v.
    seed_shares: Vec<shamir::Share>,
    key_shares: Vec<shamir::Share>,
}

impl SecAgg {
    /// Settings; see the fields.
    ///
    /// # Errors
    /// [`PrivacyError::Invalid`] unless 0 < threshold ≤ 1.
    pub fn new(threshold: f64, quantizer: Quantizer, seed: u64) -> Result<Self, PrivacyError> {
        if !(threshold > 0.0 && threshold <= 1.0) {
            return Err(PrivacyError::Invalid {
                what: "threshold".into(),
                message: format!("{threshold} is not in (0, 1]"),
            });
        }
        Ok(Self { threshold, quantizer, seed })
    }

    /// Threshold t for `n` clients.
    #[must_use]
    pub fn threshold_for(&self, n: usize) -> usize {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "≤ n")]
        let t = (self.threshold * n as f64).ceil() as usize;
        t.max(n / 2 + 1).min(n)
    }

    /// Runs one round over the clients' float updates with the given dropout
    /// pattern (`dropouts[i]` for client i; empty = nobody drops).
    ///
    /// # Errors
    /// [`PrivacyError::SecAggAbort`] when fewer than t clients send masked
    /// inputs or answer the unmasking phase; [`PrivacyError::Shape`] for
    /// updates of different lengths; [`PrivacyError::Invalid`] for a dropout
    /// pattern of the wrong length, fewer than 2 clients, or a quantiser whose
    /// sum could wrap; [`PrivacyError::Reconstruct`] for inconsistent shares.
    pub fn run_round<U: AsRef<[f32]> + Sync>(
        &self,
        round: u64,
        updates: &[U],
        dropouts: &[Dropout],
    ) -> Result<SecAggOutcome, PrivacyError> {
        let n = updates.len();
        if n < 2 {
            return Err(PrivacyError::Invalid { what: "clients".into(), message: format!("{n} clients; need ≥ 2") });
        }
        let dim = updates[0].as_ref().len();
        if let Some((i, u)) = updates.iter().enumerate().find(|(_, u)| u.as_ref().len() != dim) {
            return Err(PrivacyError::Shape { client: i, got: u.as_ref().len(), expected: dim });
        }
        let drop = |i: usize| dropouts.get(i).copied().unwrap_or_default();
        if !dropouts.is_empty() && dropouts.len() != n {
            return Err(PrivacyError::Invalid {
                what: "dropouts".into(),
                message: format!("{} entries for {n} clients", dropouts.len()),
            });
        }
        self.quantizer.check_clients(n)?;
        let t = self.threshold_for(n);

        // Steps 0–1: keys and shares.
        let keys: Vec<ClientKeys> = (0..n)
            .into_par_iter()
            .map(|u| {
                let mut rng = client_rng(self.seed, round, u);
                let mut sk = [0_u8; 32];
                rng.fill_bytes(&mut sk);
                let secret = StaticSecret::from(sk);
                let public = PublicKey::from(&secret);
                let mut self_seed = [0_u8; 32];
                rng.fill_bytes(&mut self_seed);
                let seed_shares = shamir::split(&self_seed, t, n, &mut rng);
                let key_shares = shamir::split(&secret.to_bytes(), t, n, &mut rng);
                ClientKeys { secret, public, self_seed, seed_shares, key_shares }
            })
            .collect();

        // Step 2: masked inputs.
        let sent: Vec<usize> = (0..n).filter(|&u| drop(u) != Dropout::BeforeMasking).collect();
        if sent.len() < t {
            return Err(PrivacyError::SecAggAbort {
                round,
                phase: "masked-input",
                survivors: sent.len(),
                threshold: t,
                clients: n,
            });
        }
        let masked: Vec<(Vec<u32>, usize)> = sent
            .par_iter()
            .map(|&u| {
                let (mut y, clamped) = self.quantizer.quantize(updates[u].as_ref());
                apply_prg(&mut y, keys[u].self_seed, true);
                for (v, kv) in keys.iter().enumerate() {
                    if v != u {
                        apply_prg(&mut y, pair_seed(&keys[u].secret, &kv.public, round), v > u);
                    }
                }
                (y, clamped)
            })
            .collect();
        let mut masked_inputs: Vec<Option<Vec<u32>>> = vec![None; n];
        let mut clamped = 0;
        let mut sum = vec![0_u32; dim];
        for (&u, (y, c)) in sent.iter().zip(masked) {
            sum.iter_mut().zip(&y).for_each(|(s, &v)| *s = s.wrapping_add(v));
            clamped += c;
            masked_inputs[u] = Some(y);
        }

        // Step 3: unmasking by the clients still online.
        let online: Vec<usize> = (0..n).filter(|&u| drop(u) == Dropout::None).collect();
        if online.len() < t {
            return Err(PrivacyError::SecAggAbort {
                round,
                phase: "unmasking",
                survivors: online.len(),
                threshold: t,
                clients: n,
            });
        }
        let gathered = |v: usize, seed: bool| -> Vec<shamir::Share> {
            online.iter().map(|&w| if seed { keys[v].seed_shares[w] } else { keys[v].key_shares[w] }).collect()
        };
        // Self masks of everyone who sent y_v.
        let self_masks: Vec<Vec<u32>> = sent
            .par_iter()
            .map(|&v| {
                let seed = shamir::reconstruct(&gathered(v, true), t)
                    .ok_or(PrivacyError::Reconstruct { what: "self-mask seed", client: v })?;
                let mut m = vec![0_u32; dim];
                apply_prg(&mut m, seed, true);
                Ok(m)
            })
            .collect::<Result<_, PrivacyError>>()?;
        for m in &self_masks {
            sum.iter_mut().zip(m).for_each(|(s, &v)| *s = s.wrapping_sub(v));
        }
        // Pairwise masks that dropped clients' partners added for them.
        let dropped: Vec<usize> = (0..n).filter(|&u| drop(u) == Dropout::BeforeMasking).collect();
        let corrections: Vec<Vec<u32>> = dropped
            .par_iter()
            .map(|&v| {
                let sk = shamir::reconstruct(&gathered(v, false), t)
                    .ok_or(PrivacyError::Reconstruct { what: "mask key", client: v })?;
                let secret = StaticSecret::from(sk);
                let mut c = vec![0_u32; dim];
                for &u in &sent {
                    // u added +PRG(s_uv) if v > u, else −PRG: cancel it.
                    apply_prg(&mut c, pair_seed(&secret, &keys[u].public, round), v > u);
                }
                Ok(c)
            })
            .collect::<Result<_, PrivacyError>>()?;
        for c in &corrections {
            sum.iter_mut().zip(c).for_each(|(s, &v)| *s = s.wrapping_sub(v));
        }

        let deq = self.quantizer.dequantize_sum(&sum, sent.len());
        let (mut max_abs, mut sq) = (0.0_f64, 0.0_f64);
        for (j, &d) in deq.iter().enumerate() {
            let exact: f64 = sent.iter().map(|&u| f64::from(updates[u].as_ref()[j])).sum();
            let e = (d - exact).abs();
            max_abs = max_abs.max(e);
            sq += e * e;
        }
        let rms = if dim > 0 { (sq / dim as f64).sqrt() } else { 0.0 };
        #[allow(clippy::cast_possible_truncation, reason = "f32 model updates")]
        let sum_f32 = deq.iter().map(|&v| v as f32).collect();
        Ok(SecAggOutcome {
            sum_quantized: sum,
            sum: sum_f32,
            included: sent,
            threshold: t,
            quantization_error: QuantizationError { max_abs, rms, clamped },
            masked_inputs,
        })
    }
}

/// Pearson chi-square statistic of the byte histogram of `words` against the
/// uniform distribution on 0..=255 (255 degrees of freedom).
#[must_use]
pub fn byte_chi_square(words: &[u32]) -> f64 {
    let mut counts = [0_u64; 256];
    for w in words {
        for b in w.to_le_bytes() {
            counts[usize::from(b)] += 1;
        }
    }
    let expected = (words.len() * 4) as f64 / 256.0;
    counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum()
}

/// Upper `p` critical value of χ² with `k` degrees of freedom, Wilson–Hilferty
/// approximation (Wilson & Hilferty 1931; relative error < 1e-3 for k ≥ 100),
/// `z` being the standard-normal upper quantile for `p`.
#[must_use]
pub fn chi_square_critical(k: f64, z: f64) -> f64 {
    let a = 2.0 / (9.0 * k);
    k * (1.0 - a + z * a.sqrt()).powi(3)
}

/// Deterministic random dropout pattern: `before` clients drop before masking
/// and `after` more after masking, chosen by a seeded shuffle.
///
/// # Panics
/// If `before + after > n`.
#[must_use]
pub fn dropout_pattern(n: usize, before: usize, after: usize, seed: u64) -> Vec<Dropout> {
    assert!(before + after <= n, "more dropouts than clients");
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    for i in (1..n).rev() {
        idx.swap(i, rng.gen_range(0..=i));
    }
    let mut d = vec![Dropout::None; n];
    idx[..before].iter().for_each(|&i| d[i] = Dropout::BeforeMasking);
    idx[before..before + after].iter().for_each(|&i| d[i] = Dropout::AfterMasking);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn updates(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        (0..n).map(|_| (0..dim).map(|_| rng.gen_range(-0.4..0.4_f32)).collect()).collect()
    }

    fn plain_quantized_sum(q: &Quantizer, us: &[Vec<f32>], included: &[usize]) -> Vec<u32> {
        let mut s = vec![0_u32; us[0].len()];
        for &u in included {
            let (y, _) = q.quantize(&us[u]);
            s.iter_mut().zip(&y).for_each(|(a, &b)| *a = a.wrapping_add(b));
        }
        s
    }

    fn agg() -> SecAgg {
        SecAgg::new(0.7, Quantizer::new(24, 1.0).unwrap(), 42).unwrap()
    }

    #[test]
    fn unmasked_sum_equals_plain_quantized_sum() {
        let us = updates(10, 500, 1);
        let out = agg().run_round(3, &us, &[]).unwrap();
        assert_eq!(out.included, (0..10).collect::<Vec<_>>());
        assert_eq!(out.sum_quantized, plain_quantized_sum(&agg().quantizer, &us, &out.included));
        // Quantisation error: at most n half-steps per coordinate.
        let step = agg().quantizer.step();
        assert!(out.quantization_error.max_abs <= 10.0 * step / 2.0 + 1e-9, "{:?}", out.quantization_error);
        assert!(out.quantization_error.rms > 0.0);
    }

    #[test]
    fn dropouts_up_to_n_minus_t_are_recovered() {
        let us = updates(10, 300, 2);
        let a = agg();
        let t = a.threshold_for(10);
        assert_eq!(t, 7);
        for (before, after) in [(3, 0), (0, 3), (2, 1), (1, 2)] {
            let d = dropout_pattern(10, before, after, 7 + before as u64);
            let out = a.run_round(1, &us, &d).unwrap();
            let expect: Vec<usize> = (0..10).filter(|&i| d[i] != Dropout::BeforeMasking).collect();
            assert_eq!(out.included, expect);
            assert_eq!(out.sum_quantized, plain_quantized_sum(&a.quantizer, &us, &expect), "{before}+{after}");
        }
    }

    #[test]
    fn more_than_n_minus_t_dropouts_abort() {
        let us = updates(10, 50, 3);
        for (before, after) in [(4, 0), (0, 4), (2, 2), (10, 0)] {
            let d = dropout_pattern(10, before, after, 1);
            let e = agg().run_round(1, &us, &d).unwrap_err();
            assert!(matches!(e, PrivacyError::SecAggAbort { threshold: 7, .. }), "{before}+{after}: {e}");
        }
    }

    #[test]
    fn masked_update_is_uniform_unmasked_is_not() {
        // χ² over 256 byte values, 255 dof, p = 0.001 (z = 3.0902).
        let crit = chi_square_critical(255.0, 3.090_232);
        assert!((crit - 330.52).abs() < 0.5, "{crit}"); // tables: χ²(255, 0.999) = 330.52
        let us = updates(6, 4000, 4);
        let out = agg().run_round(0, &us, &[]).unwrap();
        for y in out.masked_inputs.iter().flatten() {
            let c = byte_chi_square(y);
            assert!(c < crit, "masked χ² {c} ≥ {crit}");
        }
        let (plain, _) = agg().quantizer.quantize(&us[0]);
        let c = byte_chi_square(&plain);
        assert!(c > crit, "unmasked χ² {c} should reject uniformity");
    }

    #[test]
    fn deterministic_and_wrap_checked() {
        let us = updates(5, 64, 5);
        let a = agg().run_round(2, &us, &[]).unwrap();
        let b = agg().run_round(2, &us, &[]).unwrap();
        assert_eq!(a.masked_inputs, b.masked_inputs);
        let c = agg().run_round(3, &us, &[]).unwrap();
        assert_ne!(a.masked_inputs, c.masked_inputs, "masks must change per round");
        let wide = SecAgg::new(0.7, Quantizer::new(30, 1.0).unwrap(), 1).unwrap();
        assert!(matches!(wide.run_round(0, &us, &[]), Err(PrivacyError::Invalid { .. })));
    }
}
