//! `fedser-privacy` plugged into the round loop through [`crate::hooks`]:
//! client-level DP-FedAvg, secure aggregation and the attribute-inference
//! attack, per fold ([`FoldPrivacy`]), and the settings of a privacy sweep.
//!
//! # Mechanism
//! - **Client** ([`UpdateTransform`]): clip the update to L2 norm C (the
//!   current adaptive C, or the fixed one), weight it (1, or
//!   `min(n_i / weight_cap, 1)` for bounded weighting) and, for
//!   `placement = "distributed"`, add N(0, (z_Δ·C)²/m) per coordinate.
//! - **Server** ([`Aggregator`]): sum the received updates, in the clear or
//!   through SecAgg (quantised to Z_2^32, masked, unmasked); for
//!   `placement = "server"` add N(0, (z_Δ·C)²) to the sum; divide by the
//!   fixed denominator m (expected clients, or expected total weight), so the
//!   sensitivity of the mean is C/m whatever drops out. Adaptive clipping
//!   releases the noised count of unclipped clients (std σ_b) and updates C;
//!   the update noise z_Δ is set so the joint release has the accountant's z.
//! - **Accounting**: the strategy samples `m = max(⌈fraction·n⌉, min_clients)`
//!   of the n clients uniformly without replacement; the accountant is the
//!   Poisson-sampled Gaussian RDP with `q = m/n` (exact when every client is
//!   sampled, `q = 1`, as in the sweep; for q < 1 an approximation).
//! - **SecAgg dropouts**: each client that reports drops out of the SecAgg
//!   round with the fault model's `dropout` probability (half before, half
//!   after sending its masked input); the server recovers them from the
//!   Shamir shares, or, with fewer than t left, the round aborts: the
//!   aggregate is a zero update (model unchanged) and the abort is recorded.
//! - **Attack** ([`RoundObserver`]): without SecAgg the honest-but-curious
//!   server records every individual update it receives (clipped and
//!   un-noised with server-placed DP; distributed DP requires SecAgg); with
//!   SecAgg it sees only the sum and no attack is run (the summary says so).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use fedser_privacy::attack::{self, AttackConfig, AttackReport, Attribute, Observations};
use fedser_privacy::dp::{self, AdaptiveClip, DpMechanism, Placement};
use fedser_privacy::params::{DpParams, Weighting as DpWeighting};
use fedser_privacy::secagg::{Dropout, Quantizer, SecAgg};
use fedser_privacy::{accountant, PrivacyError, PrivacyParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::hooks::{Aggregator, ClientUpdate, Hooks, RoundObserver, UpdateTransform};
use crate::server::RoundRecord;
use crate::{ClientId, FedError};

/// The experiments of a `[privacy]` table: `(id suffix, settings)`; one
/// entry without a suffix when there is no sweep.
#[must_use]
pub fn settings(p: &PrivacyParams) -> Vec<(String, PrivacyParams)> {
    if p.sweep.is_empty() {
        let suffix = if p.dp.is_some() || p.secagg.is_some() { "-private" } else { "" };
        return vec![(suffix.to_owned(), PrivacyParams { sweep: Vec::new(), ..p.clone() })];
    }
    let mut out = vec![("-nodp".to_owned(), PrivacyParams { dp: None, sweep: Vec::new(), ..p.clone() })];
    for &z in &p.sweep {
        let dp = p.dp.clone().map(|d| DpParams { noise_multiplier: Some(z), target_epsilon: None, ..d });
        out.push((format!("-dp-z{z}"), PrivacyParams { dp, sweep: Vec::new(), ..p.clone() }));
    }
    out
}

/// What the experiment's privacy was, in `experiments.json` (`privacy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacySummary {
    /// The settings (without the sweep).
    pub params: serde_json::Value,
    /// DP guarantee (none without DP).
    pub dp: Option<DpSummary>,
    /// Secure aggregation (none without).
    pub secagg: Option<SecAggSummary>,
    /// The attack (none when not configured).
    pub attack: Option<AttackSummary>,
    /// Mean seconds per round of client training and aggregation (all folds).
    pub fit_seconds_per_round: f64,
    /// Mean seconds per round spent in the DP server side (noise, adaptive step).
    pub dp_seconds_per_round: f64,
    /// Mean seconds per round spent in SecAgg (quantise, mask, unmask).
    pub secagg_seconds_per_round: f64,
}

/// The (ε, δ) of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DpSummary {
    /// ε over all rounds (null for z = 0: no guarantee).
    pub epsilon: Option<f64>,
    /// δ.
    pub delta: f64,
    /// Total noise multiplier z the accountant composes.
    pub noise_multiplier: f64,
    /// Noise multiplier of the update sum (z, or less with adaptive clipping's count).
    pub update_noise_multiplier: f64,
    /// Sampling rate q = m/n (first fold).
    pub sample_rate: f64,
    /// Rounds.
    pub rounds: u32,
    /// RDP order at which ε is attained (NaN/null for z = 0).
    pub order: f64,
    /// How clients are sampled and what the accountant assumes.
    pub sampling: String,
    /// Initial clip norm.
    pub clip: f64,
    /// Mean over folds of the last round's clip norm.
    pub final_clip: f64,
    /// Adaptive clipping.
    pub adaptive: bool,
    /// Server or distributed noise.
    pub placement: Placement,
    /// Fraction of received updates that were clipped.
    pub clipped_fraction: f64,
}

/// Secure aggregation costs and faults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecAggSummary {
    /// Bits per value.
    pub bits: u32,
    /// Clamp range.
    pub range: f64,
    /// Rounds aborted (fewer than t clients), summed over folds.
    pub aborted_rounds: usize,
    /// Dropped clients recovered from the Shamir shares, summed.
    pub recovered_dropouts: usize,
    /// Largest absolute error of a dequantised sum coordinate.
    pub max_quantization_error: f64,
    /// Mean over rounds of the RMS quantisation error of the sum.
    pub rms_quantization_error: f64,
    /// Values clamped to the range, summed.
    pub clamped: usize,
}

/// The attribute-inference attack's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttackSummary {
    /// Attribute.
    pub attribute: String,
    /// What the attacker sees.
    pub observed: String,
    /// Fold attacked (the first of the protocol); none when not run.
    pub fold: Option<i32>,
    /// Chance UAR.
    pub chance: f64,
    /// Per-round UAR.
    pub per_round_uar: Vec<f64>,
    /// Mean per-round UAR (null when not run).
    pub mean_round_uar: Option<f64>,
    /// Pooled-over-rounds UAR (null when not run).
    pub pooled_uar: Option<f64>,
}

/// One row of `rounds/<id>.privacy.parquet`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PrivRound {
    /// Round.
    pub round: u32,
    /// Clip norm used.
    pub clip: f64,
    /// Updates clipped.
    pub clipped: usize,
    /// Noise std added to the sum (per coordinate).
    pub noise_std: f64,
    /// DP server-side seconds.
    pub dp_seconds: f64,
    /// SecAgg seconds.
    pub secagg_seconds: f64,
    /// RMS quantisation error of the sum.
    pub quant_rms: f64,
    /// Max abs quantisation error.
    pub quant_max: f64,
    /// Values clamped.
    pub clamped: usize,
    /// SecAgg dropouts recovered.
    pub recovered: usize,
    /// SecAgg aborted.
    pub aborted: bool,
}

struct DpState {
    params: DpParams,
    /// The update sum's z_Δ (the accounted total z is in the summary).
    z_update: f64,
    adaptive: Option<AdaptiveClip>,
    clip: f64,
}

struct AttackState {
    cfg: AttackConfig,
    obs: Option<Observations>,
    rounds: Vec<u32>,
    buffer: Vec<Option<Vec<f32>>>,
}

/// The privacy machinery of one fold.
pub struct FoldPrivacy {
    seed: u64,
    stream: u64,
    /// Fixed denominator (expected clients or expected total weight).
    denominator: f64,
    expected_clients: usize,
    /// Client -> (index, weight).
    clients: BTreeMap<ClientId, (usize, f64)>,
    secagg: Option<SecAgg>,
    secagg_dropout: f64,
    dp: Option<Mutex<DpState>>,
    /// Pre-clip norms of the current round.
    norms: Mutex<BTreeMap<(u32, ClientId), f64>>,
    attack: Option<Mutex<AttackState>>,
    log: Mutex<Vec<PrivRound>>,
}

fn priv_err(round: u32, e: &PrivacyError) -> FedError {
    FedError::Aggregation { round, message: e.to_string() }
}

/// The accounted noise: `(z_total, z_update, adaptive)` for `dp` at sampling
/// rate `q` over `rounds`.
///
/// # Errors
/// [`FedError::Aggregation`] (round 0) when the accountant or the adaptive
/// count's budget rejects the settings.
pub fn noise_of(
    dp: &DpParams,
    q: f64,
    rounds: u32,
    expected_clients: usize,
) -> Result<(f64, f64, Option<AdaptiveClip>), FedError> {
    let z_total = match (dp.noise_multiplier, dp.target_epsilon) {
        (Some(z), _) => z,
        (None, Some(e)) => {
            accountant::noise_multiplier_for_epsilon(e, q, u64::from(rounds), dp.delta).map_err(|e| priv_err(0, &e))?
        }
        (None, None) => return Err(FedError::Aggregation { round: 0, message: "no noise multiplier".into() }),
    };
    if !dp.adaptive {
        return Ok((z_total, z_total, None));
    }
    // Andrew et al. (2021) suggest σ_b = m/20; with few clients that can
    // fall below z/2, where no update noise can meet the total z. The
    // default is therefore at least z (update noise = z / √(3/4) there).
    let sigma_b = dp.count_noise.unwrap_or_else(|| (expected_clients as f64 / 20.0).max(z_total));
    let ac =
        AdaptiveClip::new(dp.clip, dp.target_quantile, dp.clip_learning_rate, sigma_b).map_err(|e| priv_err(0, &e))?;
    let z_update = ac.update_noise_multiplier(z_total).map_err(|e| priv_err(0, &e))?;
    Ok((z_total, z_update, Some(ac)))
}

impl FoldPrivacy {
    /// Sets up one fold: `clients` with their example counts (ascending id),
    /// `expected_clients` m sampled per round, `dropout` the fault model's
    /// probability (reused for SecAgg's phases), `labels` each client's
    /// attribute (for the attack; `None` disables it).
    ///
    /// # Errors
    /// [`FedError::Aggregation`] for settings the mechanisms reject.
    #[allow(clippy::too_many_arguments, reason = "one-off constructor")]
    pub fn new(
        p: &PrivacyParams,
        clients: &[(ClientId, usize)],
        expected_clients: usize,
        rounds: u32,
        seed: u64,
        stream: u64,
        dropout: f64,
        labels: Option<Attribute>,
    ) -> Result<Self, FedError> {
        let n = clients.len().max(1);
        let q = expected_clients as f64 / n as f64;
        let mut weights: Vec<f64> = vec![1.0; clients.len()];
        let mut dp_state = None;
        if let Some(dp) = &p.dp {
            if dp.weighting == DpWeighting::Bounded {
                let counts: Vec<usize> = clients.iter().map(|c| c.1).collect();
                weights = dp::bounded_weights(&counts, dp.weight_cap.unwrap_or(1.0)).map_err(|e| priv_err(0, &e))?;
            }
            let (_, z_update, adaptive) = noise_of(dp, q, rounds, expected_clients)?;
            dp_state = Some(Mutex::new(DpState { params: dp.clone(), z_update, adaptive, clip: dp.clip }));
        }
        let denominator = q * weights.iter().sum::<f64>();
        let secagg = match &p.secagg {
            Some(s) => {
                let qz = Quantizer::new(s.bits, s.range).map_err(|e| priv_err(0, &e))?;
                qz.check_clients(expected_clients).map_err(|e| priv_err(0, &e))?;
                Some(SecAgg::new(s.threshold, qz, seed ^ stream.rotate_left(17)).map_err(|e| priv_err(0, &e))?)
            }
            None => None,
        };
        let attack = match (&p.attack, labels, &p.secagg) {
            (Some(a), Some(_), None) => Some(Mutex::new(AttackState {
                cfg: AttackConfig { folds: a.folds, projection_dim: a.projection_dim, seed, ..Default::default() },
                obs: None,
                rounds: a.rounds.clone(),
                buffer: vec![None; clients.len()],
            })),
            _ => None,
        };
        Ok(Self {
            seed,
            stream,
            denominator: denominator.max(f64::MIN_POSITIVE),
            expected_clients,
            clients: clients.iter().zip(&weights).enumerate().map(|(i, ((c, _), &w))| (*c, (i, w))).collect(),
            secagg,
            secagg_dropout: dropout,
            dp: dp_state,
            norms: Mutex::new(BTreeMap::new()),
            attack,
            log: Mutex::new(Vec::new()),
        })
    }

    /// The hooks to pass to [`crate::simulate`].
    #[must_use]
    pub fn hooks(&self) -> Hooks<'_> {
        Hooks {
            transform: self.dp.as_ref().map(|_| self as &dyn UpdateTransform),
            aggregator: (self.dp.is_some() || self.secagg.is_some()).then_some(self as &dyn Aggregator),
            observer: self.attack.as_ref().map(|_| self as &dyn RoundObserver),
        }
    }

    /// Whether the attack observer is attached.
    #[must_use]
    pub fn attacked(&self) -> bool {
        self.attack.is_some()
    }

    /// The per-round log, the final clip, clipped/received counts and the
    /// attack report (when attacked, with `attr`'s labels).
    ///
    /// # Errors
    /// [`FedError::Aggregation`] when the attack cannot run.
    pub fn finish(self, attr: Option<&Attribute>) -> Result<(Vec<PrivRound>, f64, Option<AttackReport>), FedError> {
        let log = self.log.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let clip =
            self.dp.map(|d| d.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).clip).unwrap_or(f64::NAN);
        let report = match (self.attack, attr) {
            (Some(a), Some(attr)) => {
                let a = a.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
                match &a.obs {
                    Some(obs) => match attack::run_attack(obs, attr) {
                        Ok(r) => Some(r),
                        Err(e) => {
                            tracing::warn!("attack not run: {e}");
                            None
                        }
                    },
                    None => None,
                }
            }
            _ => None,
        };
        Ok((log, clip, report))
    }

    fn round_rng(&self, round: u32, purpose: u64) -> ChaCha8Rng {
        let mut h = blake3_like(self.seed);
        for v in [self.stream, u64::from(round), purpose] {
            h = blake3_like(h ^ v);
        }
        ChaCha8Rng::seed_from_u64(h)
    }
}

/// splitmix64 finaliser (seed mixing).
fn blake3_like(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl UpdateTransform for FoldPrivacy {
    fn transform(&self, round: u32, client: ClientId, update: &mut Vec<f32>, rng: &mut ChaCha8Rng) {
        let Some(dp) = &self.dp else { return };
        let (clip, z, placement) = {
            let d = dp.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            (d.clip, d.z_update, d.params.placement)
        };
        let weight = self.clients.get(&client).map_or(1.0, |c| c.1);
        let Ok(mech) = DpMechanism::new(clip, z, placement) else { return };
        let norm = mech.privatize_client(update, weight, self.expected_clients, rng);
        self.norms.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert((round, client), norm);
    }
}

impl Aggregator for FoldPrivacy {
    fn weighted_mean(&self, round: u32, updates: &[ClientUpdate<'_>]) -> Result<Vec<f32>, FedError> {
        let first = updates.first().ok_or(FedError::Aggregation { round, message: "no updates".into() })?;
        let dim = first.update.len();
        let mut rec = PrivRound { round, ..Default::default() };
        // 1. the sum, in the clear or through SecAgg
        let mut sum = vec![0f64; dim];
        let mut included = updates.len();
        if let Some(sa) = &self.secagg {
            let t = Instant::now();
            let drops: Vec<Dropout> = updates
                .iter()
                .map(|u| {
                    let mut r = self.round_rng(round, 0x5EC0_0000 ^ u64::from(u.client as u32));
                    let (a, b): (f64, f64) = (r.gen(), r.gen());
                    match (a < self.secagg_dropout, b < 0.5) {
                        (false, _) => Dropout::None,
                        (true, true) => Dropout::BeforeMasking,
                        (true, false) => Dropout::AfterMasking,
                    }
                })
                .collect();
            let vecs: Vec<&[f32]> = updates.iter().map(|u| u.update).collect();
            match sa.run_round(u64::from(round), &vecs, &drops) {
                Ok(out) => {
                    sum.iter_mut().zip(&out.sum).for_each(|(s, &v)| *s = f64::from(v));
                    included = out.included.len();
                    rec.recovered = drops.iter().filter(|d| **d != Dropout::None).count();
                    rec.quant_rms = out.quantization_error.rms;
                    rec.quant_max = out.quantization_error.max_abs;
                    rec.clamped = out.quantization_error.clamped;
                }
                Err(e @ PrivacyError::SecAggAbort { .. }) => {
                    tracing::warn!("{e}: model unchanged this round");
                    rec.aborted = true;
                    rec.secagg_seconds = t.elapsed().as_secs_f64();
                    self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(rec);
                    return Ok(vec![0.0; dim]);
                }
                Err(e) => return Err(priv_err(round, &e)),
            }
            rec.secagg_seconds = t.elapsed().as_secs_f64();
        } else {
            for u in updates {
                if u.update.len() != dim {
                    return Err(FedError::Aggregation {
                        round,
                        message: format!("client {} sent {} values, expected {dim}", u.client, u.update.len()),
                    });
                }
                sum.iter_mut().zip(u.update).for_each(|(s, &v)| *s += f64::from(v));
            }
        }
        // 2. DP: server noise, adaptive clipping step, fixed denominator
        let denom = if let Some(dp) = &self.dp {
            let t = Instant::now();
            let mut d = dp.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            rec.clip = d.clip;
            let std = d.z_update * d.clip;
            rec.noise_std = std;
            let mut rng = self.round_rng(round, 0xD9);
            if d.params.placement == Placement::Server && std > 0.0 {
                sum.iter_mut().for_each(|s| *s += std * rng.sample::<f64, _>(StandardNormal));
            }
            let norms: Vec<f64> = {
                let mut map = self.norms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let v = updates.iter().filter_map(|u| map.get(&(round, u.client)).copied()).collect();
                map.retain(|(r, _), _| *r > round);
                v
            };
            rec.clipped = norms.iter().filter(|&&n| n > d.clip).count();
            let m = self.expected_clients as f64;
            if let Some(ac) = d.adaptive.as_mut() {
                let step = ac.step(&norms, m, &mut rng);
                d.clip = step.next_clip;
            }
            rec.dp_seconds = t.elapsed().as_secs_f64();
            self.denominator
        } else {
            // secure aggregation alone: equal-weight mean of the included clients
            included.max(1) as f64
        };
        self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(rec);
        #[allow(clippy::cast_possible_truncation, reason = "f32 model")]
        Ok(sum.into_iter().map(|s| (s / denom) as f32).collect())
    }
}

impl RoundObserver for FoldPrivacy {
    fn client_update(&self, round: u32, client: ClientId, _num_examples: usize, update: &[f32], accepted: bool) {
        let Some(a) = &self.attack else { return };
        let mut a = a.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !accepted || !(a.rounds.is_empty() || a.rounds.contains(&round)) {
            return;
        }
        if let Some(&(i, _)) = self.clients.get(&client) {
            a.buffer[i] = Some(update.to_vec());
        }
    }

    fn round_end(&self, record: &RoundRecord) {
        let Some(a) = &self.attack else { return };
        let mut a = a.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if record.round == 0 || a.buffer.iter().all(Option::is_none) {
            return;
        }
        let buf = std::mem::replace(&mut a.buffer, vec![None; self.clients.len()]);
        let dim = buf.iter().flatten().next().map_or(0, Vec::len);
        if a.obs.is_none() {
            match Observations::new(self.clients.len(), dim, a.cfg) {
                Ok(o) => a.obs = Some(o),
                Err(e) => tracing::warn!("attack: {e}"),
            }
        }
        if let Some(obs) = a.obs.as_mut() {
            if let Err(e) = obs.observe_round(&buf) {
                tracing::warn!("attack: round {} not recorded: {e}", record.round);
            }
        }
    }
}

/// Each client's attribute label (`sex`: Female/Male; `age_group`: <30,
/// 30–44, ≥45), read from the ingest manifest.
///
/// # Errors
/// [`FedError`] for an unreadable manifest.
pub fn attribute_of(manifest: &Path, attribute: &str, clients: &[ClientId]) -> Result<Attribute, FedError> {
    use fedser_cache::table;
    let b = table::read_parquet(manifest, None)?;
    let actors = table::ints(manifest, &b, "actor")?;
    let (classes, values): (Vec<String>, Vec<Option<usize>>) = match attribute {
        "age_group" => {
            let ages = table::ints(manifest, &b, "age")?;
            let cls = vec!["<30".to_owned(), "30-44".to_owned(), ">=45".to_owned()];
            (cls, ages.iter().map(|a| a.map(|a| usize::from(a >= 30) + usize::from(a >= 45))).collect())
        }
        _ => {
            let sex = table::opt_strings(manifest, &b, "sex")?;
            let cls = vec!["Female".to_owned(), "Male".to_owned()];
            (cls.clone(), sex.iter().map(|s| s.as_ref().and_then(|s| cls.iter().position(|c| c == s))).collect())
        }
    };
    let mut by: BTreeMap<i64, usize> = BTreeMap::new();
    for (a, v) in actors.iter().zip(values) {
        if let (Some(a), Some(v)) = (a, v) {
            by.insert(*a, v);
        }
    }
    Ok(Attribute {
        name: attribute.to_owned(),
        classes,
        labels: clients.iter().map(|c| by.get(&i64::from(*c)).copied()).collect(),
    })
}

/// What one fold's privacy machinery produced.
#[derive(Debug, Clone)]
pub struct FoldOut {
    /// Per-round log.
    pub log: Vec<PrivRound>,
    /// Final clip norm (NaN without DP).
    pub clip: f64,
    /// Attack report (attacked fold only).
    pub report: Option<AttackReport>,
    /// Whether the observer was attached.
    pub attacked: bool,
    /// Sampling rate m/n.
    pub q: f64,
    /// Clients sampled per round.
    pub m: usize,
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

/// The experiment's [`PrivacySummary`] from its folds.
///
/// # Errors
/// [`FedError::Aggregation`] when the accountant rejects the settings.
pub fn summarise(
    p: &PrivacyParams,
    rounds: u32,
    histories: &[(i32, Vec<RoundRecord>)],
    folds: &[(i32, FoldOut)],
) -> Result<PrivacySummary, FedError> {
    let logs = || folds.iter().flat_map(|(_, f)| f.log.iter());
    let (q, m) = folds.first().map_or((1.0, 1), |(_, f)| (f.q, f.m));
    let dp = match &p.dp {
        Some(d) => {
            let (z_total, z_update, _) = noise_of(d, q, rounds, m)?;
            let (epsilon, order) = if z_total > 0.0 {
                let s = accountant::epsilon(z_total, q, u64::from(rounds), d.delta).map_err(|e| priv_err(0, &e))?;
                (Some(s.epsilon), s.order)
            } else {
                (None, f64::NAN)
            };
            let accepted: usize = histories.iter().flat_map(|(_, h)| h.iter()).map(|r| r.accepted).sum();
            Some(DpSummary {
                epsilon,
                delta: d.delta,
                noise_multiplier: z_total,
                update_noise_multiplier: z_update,
                sample_rate: q,
                rounds,
                order,
                sampling: format!(
                    "{m} clients per round uniformly without replacement; accountant: Poisson-sampled Gaussian, q = {q:.4}{}",
                    if q >= 1.0 { " (exact: every client every round)" } else { " (approximation)" }
                ),
                clip: d.clip,
                final_clip: mean(folds.iter().map(|(_, f)| f.clip)),
                adaptive: d.adaptive,
                placement: d.placement,
                clipped_fraction: logs().map(|r| r.clipped).sum::<usize>() as f64 / accepted.max(1) as f64,
            })
        }
        None => None,
    };
    let secagg = p.secagg.as_ref().map(|s| SecAggSummary {
        bits: s.bits,
        range: s.range,
        aborted_rounds: logs().filter(|r| r.aborted).count(),
        recovered_dropouts: logs().map(|r| r.recovered).sum(),
        max_quantization_error: logs().map(|r| r.quant_max).fold(0.0, f64::max),
        rms_quantization_error: mean(logs().filter(|r| !r.aborted).map(|r| r.quant_rms)),
        clamped: logs().map(|r| r.clamped).sum(),
    });
    let attack = p.attack.as_ref().map(|a| {
        let hit = folds.iter().find(|(_, f)| f.report.is_some());
        let observed = if p.secagg.is_some() {
            "nothing individual: secure aggregation, the server sees only the sum; attack not run".to_owned()
        } else if p.dp.is_some() {
            "individual updates, clipped and un-noised (server-placed DP)".to_owned()
        } else {
            "individual raw updates".to_owned()
        };
        match hit.and_then(|(f, o)| o.report.as_ref().map(|r| (*f, r))) {
            Some((fold, r)) => AttackSummary {
                attribute: a.attribute.clone(),
                observed,
                fold: Some(fold),
                chance: r.chance,
                per_round_uar: r.per_round_uar.clone(),
                mean_round_uar: Some(r.mean_round_uar),
                pooled_uar: Some(r.pooled_uar),
            },
            None => AttackSummary {
                attribute: a.attribute.clone(),
                observed,
                fold: None,
                chance: 0.5,
                per_round_uar: Vec::new(),
                mean_round_uar: None,
                pooled_uar: None,
            },
        }
    });
    Ok(PrivacySummary {
        params: serde_json::to_value(p).unwrap_or(serde_json::Value::Null),
        dp,
        secagg,
        attack,
        fit_seconds_per_round: mean(
            histories.iter().flat_map(|(_, h)| h.iter()).filter(|r| r.round > 0).map(|r| r.fit_seconds),
        ),
        dp_seconds_per_round: mean(logs().map(|r| r.dp_seconds)),
        secagg_seconds_per_round: mean(logs().map(|r| r.secagg_seconds)),
    })
}

/// Writes `rounds/<id>.privacy.parquet`: one row per fold and round with
/// `experiment, fold, round, clip, clipped, noise_std, dp_seconds,
/// secagg_seconds, quant_rms, quant_max, clamped, recovered, aborted`.
///
/// # Errors
/// [`FedError::Cache`] when writing fails.
pub fn write_privacy_rounds(
    path: &Path,
    id: &str,
    folds: &[(i32, FoldOut)],
    meta: &[(&str, String)],
) -> Result<(), FedError> {
    use fedser_cache::table::{self, Column};
    let rows: Vec<(i32, &PrivRound)> = folds.iter().flat_map(|(f, o)| o.log.iter().map(move |r| (*f, r))).collect();
    let f = |g: fn(&PrivRound) -> f64| Column::F64(rows.iter().map(|(_, r)| g(r)).collect());
    let b = table::batch(
        path,
        vec![
            ("experiment".into(), Column::Str(rows.iter().map(|_| id.to_owned()).collect())),
            ("fold".into(), Column::I32(rows.iter().map(|(f, _)| *f).collect())),
            ("round".into(), Column::I32(rows.iter().map(|(_, r)| r.round as i32).collect())),
            ("clip".into(), f(|r| r.clip)),
            ("clipped".into(), Column::I32(rows.iter().map(|(_, r)| r.clipped as i32).collect())),
            ("noise_std".into(), f(|r| r.noise_std)),
            ("dp_seconds".into(), f(|r| r.dp_seconds)),
            ("secagg_seconds".into(), f(|r| r.secagg_seconds)),
            ("quant_rms".into(), f(|r| r.quant_rms)),
            ("quant_max".into(), f(|r| r.quant_max)),
            ("clamped".into(), Column::I32(rows.iter().map(|(_, r)| r.clamped as i32).collect())),
            ("recovered".into(), Column::I32(rows.iter().map(|(_, r)| r.recovered as i32).collect())),
            ("aborted".into(), Column::Bool(rows.iter().map(|(_, r)| r.aborted).collect())),
        ],
    )?;
    table::write_parquet(path, &b, meta)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use fedser_privacy::params::{AttackParams, SecAggParams};

    use super::*;
    use crate::hooks::PlainAggregator;
    use crate::model::{Arch, Shape};
    use crate::params::FederatedParams;
    use crate::server::{rng_for, simulate, Federation, Purpose, SimConfig};
    use crate::stats::{combine, ClientStats};
    use crate::strategy::from_params;

    /// 10 clients (5 per sex, sex shifts feature 0) x 12 rows, 3 classes, 8 features.
    #[allow(clippy::type_complexity, reason = "test fixture")]
    fn toy() -> (Vec<f32>, Vec<usize>, Vec<usize>, Vec<(ClientId, Vec<usize>)>) {
        let mut rng = rng_for(5, 0, 0, 0, Purpose::Init);
        let (n, d) = (120, 8);
        let y: Vec<usize> = (0..n).map(|i| (i * 7) % 3).collect();
        let x: Vec<f32> = (0..n * d)
            .map(|i| {
                let (r, j) = (i / d, i % d);
                let sex = (r / 12) % 2;
                f32::from(u8::from(j == y[r])) * 1.5
                    + f32::from(u8::from(j == 7 && sex == 1)) * 2.0
                    + rng.gen_range(-1.0f32..1.0)
            })
            .collect();
        let test: Vec<usize> = (0..n).filter(|i| i % 4 == 0).collect();
        let clients = (0..10)
            .map(|c| (1001 + c, (c as usize * 12..(c as usize + 1) * 12).filter(|i| i % 4 != 0).collect()))
            .collect();
        (x, y, test, clients)
    }

    fn sex_of(clients: &[(ClientId, Vec<usize>)]) -> Attribute {
        Attribute {
            name: "sex".into(),
            classes: vec!["Female".into(), "Male".into()],
            labels: (0..clients.len()).map(|i| Some(i % 2)).collect(),
        }
    }

    fn run(p: &PrivacyParams, rounds: u32) -> (Vec<f32>, FoldOut, PrivacySummary) {
        let (x, y, test, clients) = toy();
        let stats: Vec<ClientStats> = clients.iter().map(|(_, r)| ClientStats::of(&x, 8, r)).collect();
        let fed = Federation {
            shape: Shape { arch: Arch::Logistic, d: 8, k: 3 },
            x: crate::FeatureSource::Memory(&x),
            y: &y,
            clients: clients.clone(),
            test: &test,
            standardizer: combine(&stats, 8),
        };
        let fp_params = FederatedParams {
            rounds,
            fraction: 1.0,
            seed: 3,
            weighting: crate::Weighting::Equal,
            ..Default::default()
        };
        let sizes: Vec<(ClientId, usize)> = clients.iter().map(|(c, r)| (*c, r.len())).collect();
        let attr = sex_of(&clients);
        let fp = FoldPrivacy::new(p, &sizes, 10, rounds, 3, 9, 0.0, Some(attr.clone())).unwrap();
        let cfg = SimConfig {
            rounds,
            seed: 3,
            stream: 9,
            faults: Default::default(),
            max_update_norm: 0.0,
            final_eval_only: false,
        };
        let out = simulate(&fed, from_params(&fp_params).as_mut(), &cfg, fp.hooks()).unwrap();
        let attacked = fp.attacked();
        let (log, clip, report) = fp.finish(Some(&attr)).unwrap();
        let fo = FoldOut { log, clip, report, attacked, q: 1.0, m: 10 };
        let folds = vec![(0, fo.clone())];
        let s = summarise(p, rounds, &[(0, out.history.clone())], &folds).unwrap();
        (out.params, fo, s)
    }

    #[test]
    fn dp_run_reports_the_accountants_epsilon_and_clips() {
        let dp = DpParams { clip: 1e-4, noise_multiplier: Some(1.3), ..Default::default() };
        let p = PrivacyParams { dp: Some(dp), ..Default::default() };
        let (_, fo, s) = run(&p, 4);
        let d = s.dp.unwrap();
        // the accountant's value for (z, q, T, δ) = (1.3, 1, 4, 1e-3)
        let want = accountant::epsilon(1.3, 1.0, 4, 1e-3).unwrap().epsilon;
        assert!(d.epsilon.unwrap().is_finite());
        assert_eq!(d.epsilon, Some(want));
        assert_eq!((d.noise_multiplier, d.sample_rate, d.rounds), (1.3, 1.0, 4));
        assert_eq!(fo.log.len(), 4);
        assert!(fo.log.iter().all(|r| (r.noise_std - 1.3 * 1e-4).abs() < 1e-12));
        assert!(d.clipped_fraction > 0.0, "a clip of 1e-4 must bind");
        // target ε: the solved z meets it
        let dp = DpParams { clip: 0.05, target_epsilon: Some(5.0), ..Default::default() };
        let (_, _, s) = run(&PrivacyParams { dp: Some(dp), ..Default::default() }, 4);
        let e = s.dp.unwrap().epsilon.unwrap();
        assert!(e <= 5.0 && e > 4.9, "{e}");
    }

    #[test]
    fn secagg_mean_equals_plain_mean_up_to_quantisation() {
        let p = PrivacyParams {
            secagg: Some(SecAggParams { bits: 16, range: 1.0, threshold: 0.67 }),
            ..Default::default()
        };
        let sizes: Vec<(ClientId, usize)> = (0..10).map(|c| (c, 5)).collect();
        let fp = FoldPrivacy::new(&p, &sizes, 10, 1, 1, 2, 0.3, None).unwrap();
        let mut rng = rng_for(1, 2, 3, 4, Purpose::Init);
        let ups: Vec<Vec<f32>> = (0..10).map(|_| (0..50).map(|_| rng.gen_range(-0.9f32..0.9)).collect()).collect();
        let cu: Vec<ClientUpdate<'_>> = ups
            .iter()
            .enumerate()
            .map(|(i, u)| ClientUpdate { client: i as ClientId, weight: 1.0, update: u })
            .collect();
        let got = fp.weighted_mean(1, &cu).unwrap();
        let log = fp.log.lock().unwrap()[0];
        assert!(!log.aborted && log.recovered > 0, "{log:?}");
        // clients that dropped before masking are not in the sum: compare with their plain mean
        let sa = fp.secagg.as_ref().unwrap();
        let step = sa.quantizer.step();
        let want = PlainAggregator.weighted_mean(1, &cu).unwrap();
        let max_diff = got.iter().zip(&want).map(|(a, b)| f64::from((a - b).abs())).fold(0.0, f64::max);
        // each quantised value is off by ≤ step/2, and a before-masking dropout moves the mean by ≤ 2·0.9/n·dropped
        let before = log.recovered as f64;
        assert!(max_diff <= step / 2.0 + 2.0 * 0.9 * before / 9.0 + 1e-6, "{max_diff} step {step}");
        // no dropouts: exact up to step/2
        let fp = FoldPrivacy::new(&p, &sizes, 10, 1, 1, 2, 0.0, None).unwrap();
        let got = fp.weighted_mean(1, &cu).unwrap();
        let max_diff = got.iter().zip(&want).map(|(a, b)| f64::from((a - b).abs())).fold(0.0, f64::max);
        assert!(max_diff <= step / 2.0 + 1e-6 && max_diff > 0.0, "{max_diff} step {step}");
        // everybody drops: the round aborts cleanly, zero update, recorded
        let fp = FoldPrivacy::new(&p, &sizes, 10, 1, 1, 2, 1.0, None).unwrap();
        let got = fp.weighted_mean(1, &cu).unwrap();
        assert!(got.iter().all(|&v| v == 0.0));
        assert!(fp.log.lock().unwrap()[0].aborted);
    }

    #[test]
    fn attack_observes_individual_updates_only_without_secagg() {
        let attack = AttackParams { folds: 2, projection_dim: 16, ..Default::default() };
        let p = PrivacyParams { attack: Some(attack.clone()), ..Default::default() };
        let (_, fo, s) = run(&p, 3);
        assert!(fo.attacked);
        let r = fo.report.unwrap();
        assert_eq!(r.per_round_uar.len(), 3);
        assert!(s.attack.unwrap().pooled_uar.is_some());
        let p = PrivacyParams { attack: Some(attack), secagg: Some(SecAggParams::default()), ..Default::default() };
        let sizes: Vec<(ClientId, usize)> = (0..10).map(|c| (c, 5)).collect();
        let fp = FoldPrivacy::new(&p, &sizes, 10, 1, 1, 2, 0.0, Some(sex_of(&toy().3))).unwrap();
        assert!(fp.hooks().observer.is_none() && !fp.attacked());
        let (_, fo, s) = run(&p, 2);
        assert!(fo.report.is_none());
        let a = s.attack.unwrap();
        assert!(a.pooled_uar.is_none() && a.observed.contains("only the sum"), "{}", a.observed);
    }
}
