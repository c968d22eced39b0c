//! Speaker and emotion model: per-actor traits, emotion effect vectors, per-actor
//! emotion expression and per-clip variation. Everything is drawn from RNGs seeded by
//! stable hashes of `(seed, actor, ...)`, so results never depend on evaluation order.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal};

/// Number of prosodic dimensions an emotion moves.
pub(crate) const DIMS: usize = 11;

/// Indices into a prosodic deviation vector.
pub(crate) mod dim {
    /// f0 level shift, semitones.
    pub const F0: usize = 0;
    /// f0 range (pitch-excursion size), natural-log factor.
    pub const RANGE: usize = 1;
    /// Loudness / vocal effort, dB.
    pub const LOUD: usize = 2;
    /// Spectral tilt: positive = flatter (pressed), negative = steeper (lax).
    pub const TILT: usize = 3;
    /// Speaking rate, natural-log factor (positive = faster).
    pub const RATE: usize = 4;
    /// Breathiness (aspiration noise), natural-log factor.
    pub const BREATH: usize = 5;
    /// Jitter, natural-log factor.
    pub const JITTER: usize = 6;
    /// Shimmer, natural-log factor.
    pub const SHIMMER: usize = 7;
    /// Formant shift (F1 mostly), natural-log factor.
    pub const FORMANT: usize = 8;
    /// Additive probability of creaky (irregular, long) glottal cycles.
    pub const CREAK: usize = 9;
    /// Terminal pitch movement in semitones (added to the neutral final fall).
    pub const FINAL: usize = 10;
}

/// Emotion codes in CREMA-D order.
pub const EMOTIONS: [&str; 6] = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"];
/// Intensity level codes.
pub const LEVELS: [&str; 4] = ["LO", "MD", "HI", "XX"];

/// Mean effect of an emotion relative to neutral (dims as in [`dim`]).
pub(crate) fn emotion_effect(code: &str) -> [f64; DIMS] {
    match code {
        //         f0   range  loud  tilt  rate  breath jit   shim  form   creak final
        "ANG" => [3.0, 0.35, 6.0, 1.0, 0.10, -0.35, 0.15, 0.10, 0.06, 0.00, -2.0],
        "HAP" => [3.5, 0.40, 3.0, 0.5, 0.08, -0.05, 0.00, 0.00, 0.04, 0.00, 2.5],
        "FEA" => [4.5, 0.05, 1.5, 0.1, 0.15, 0.40, 0.55, 0.35, 0.02, 0.00, 3.0],
        "SAD" => [-1.5, -0.45, -5.0, -0.9, -0.18, 0.50, 0.15, 0.10, -0.03, 0.02, -0.5],
        "DIS" => [-1.0, 0.15, -1.0, -0.3, -0.15, 0.15, 0.50, 0.45, -0.02, 0.06, -1.0],
        _ => [0.0; DIMS],
    }
}

/// Natural scale of each dimension: floor for the random deviations (so that even a
/// dimension an emotion does not move varies between actors and clips).
const SCALE: [f64; DIMS] = [0.7, 0.10, 1.2, 0.25, 0.05, 0.15, 0.12, 0.12, 0.015, 0.01, 0.8];

/// Multiplier of the emotion's deviation from neutral for an intensity level.
pub(crate) fn level_gain(code: &str) -> f64 {
    match code {
        "LO" => 0.55,
        "HI" => 1.45,
        _ => 1.0,
    }
}

/// Stable 64-bit hash of a sequence of string parts (FNV-1a, SplitMix64 finaliser).
pub(crate) fn hash_parts(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for p in parts {
        for b in p.as_bytes().iter().chain(std::iter::once(&0xffu8)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    splitmix(h)
}

pub(crate) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Standard normal draw (Box-Muller-free: rand_distr's ziggurat via `Normal`).
pub(crate) fn gauss<R: Rng>(rng: &mut R) -> f64 {
    // Normal::new(0,1) cannot fail; fall back to 0 rather than panic.
    Normal::new(0.0, 1.0).map(|n| n.sample(rng)).unwrap_or(0.0)
}

/// Demographics and voice traits of one actor.
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub id: u32,
    pub age: u32,
    pub female: bool,
    pub race: &'static str,
    pub hispanic: bool,
    /// Mean speaking f0 (Hz).
    pub f0: f64,
    /// Vocal-tract-length formant scale (1.0 = reference male).
    pub vtl: f64,
    /// Idiosyncratic per-formant scale factors (F1..F4).
    pub formant_idio: [f64; 4],
    /// Baseline aspiration-to-voicing ratio.
    pub breath: f64,
    /// Baseline jitter (relative sd of the period).
    pub jitter: f64,
    /// Baseline shimmer (relative sd of the cycle amplitude).
    pub shimmer: f64,
    /// Speaking-rate factor (1.0 = reference).
    pub rate: f64,
    /// Loudness offset, dB.
    pub loud_db: f64,
    /// Spectral-tilt offset (same units as the tilt dimension).
    pub tilt: f64,
    /// Pitch-range factor.
    pub range: f64,
    /// Baseline probability of creaky cycles.
    pub creak: f64,
    /// Recording noise floor, dBFS (RMS).
    pub noise_db: f64,
    /// Per-emotion expression: this actor's mean deviation from neutral for each
    /// emotion of the params (same order), before level and clip variation.
    pub expr: Vec<[f64; DIMS]>,
}

/// Draws all actors for the given parameters (order = actor id).
pub(crate) fn actors(seed: u64, n: u32, female_fraction: f64, emotions: &[String]) -> Vec<Actor> {
    // Exact number of women, assigned to a seeded random subset of actors.
    let n_female = ((f64::from(n) * female_fraction).round() as usize).min(n as usize);
    let mut order: Vec<usize> = (0..n as usize).collect();
    let mut sex_rng = ChaCha8Rng::seed_from_u64(hash_parts(seed, &["sex", &n.to_string()]));
    order.shuffle(&mut sex_rng);
    let mut female = vec![false; n as usize];
    for &i in order.iter().take(n_female) {
        female[i] = true;
    }
    (0..n)
        .map(|i| {
            let id = 1001 + i;
            make_actor(seed, id, female[i as usize], emotions)
        })
        .collect()
}

fn make_actor(seed: u64, id: u32, female: bool, emotions: &[String]) -> Actor {
    let ids = id.to_string();
    let mut r = ChaCha8Rng::seed_from_u64(hash_parts(seed, &["actor", &ids]));
    // Ages skewed young like CREMA-D (20..74, mean ~36).
    let extra: f64 = Exp::new(1.0 / 16.0).map(|e| e.sample(&mut r)).unwrap_or(16.0);
    let age = (20.0 + extra).min(74.0) as u32;
    let u: f64 = r.gen();
    let race = if u < 0.67 {
        "Caucasian"
    } else if u < 0.90 {
        "African American"
    } else if u < 0.98 {
        "Asian"
    } else {
        "Unknown"
    };
    let hispanic = r.gen::<f64>() < 0.1;
    let agef = f64::from(age);
    let mut f0 = if female {
        (205.0 + 24.0 * gauss(&mut r)).clamp(165.0, 250.0)
    } else {
        (115.0 + 16.5 * gauss(&mut r)).clamp(88.0, 145.0)
    };
    if female && agef > 35.0 {
        f0 -= 0.55 * (agef - 35.0);
    }
    if !female && agef > 55.0 {
        f0 += 0.35 * (agef - 55.0);
    }
    let vtl = if female { 1.17 } else { 1.0 } * (1.0 + 0.05 * gauss(&mut r));
    let mut formant_idio = [1.0; 4];
    for f in &mut formant_idio {
        *f = 1.0 + 0.035 * gauss(&mut r);
    }
    let age_fac = 1.0 + 0.012 * (agef - 20.0);
    let breath = (if female { 0.10 } else { 0.06 }) * (0.5 * gauss(&mut r)).exp();
    let jitter = 0.007 * age_fac * (0.45 * gauss(&mut r)).exp();
    let shimmer = 0.045 * age_fac * (0.45 * gauss(&mut r)).exp();
    let rate = (0.135 * gauss(&mut r)).exp();
    let loud_db = 2.5 * gauss(&mut r);
    let tilt = 0.75 * gauss(&mut r);
    let range = (0.3 * gauss(&mut r)).exp();
    let creak = (if female { 0.005 } else { 0.015 }) * (0.6 * gauss(&mut r)).exp();
    let noise_db = -56.0 + 3.0 * gauss(&mut r);

    // Each actor's own way of expressing each emotion (see [`expression`]).
    let expr = expression(seed, &ids, emotions);

    Actor {
        id,
        age,
        female,
        race,
        hispanic,
        f0,
        vtl,
        formant_idio,
        breath,
        jitter,
        shimmer,
        rate,
        loud_db,
        tilt,
        range,
        creak,
        noise_db,
        expr,
    }
}

/// Spread of the actor's channel preferences (log factor shared by all emotions).
const STYLE_SD: f64 = 0.9;
/// Spread of the per-emotion, per-channel weights (log factor).
const WEIGHT_SD: f64 = 0.7;
/// Range of the combined channel weight (keeps the log-normal tails plausible).
const W_MIN: f64 = 0.25;
const W_MAX: f64 = 2.5;
/// Probability that an actor barely uses a channel for an emotion.
const P_MUTE: f64 = 0.2;
/// Gain spread of an emotion as a whole.
const GAIN_SD: f64 = 0.35;
/// Probability that an actor barely expresses an emotion as a whole.
const P_FLAT: f64 = 0.1;
/// Actor offsets: fraction of the effect size plus fraction of the natural scale.
const OFF_EFF: f64 = 0.5;
const OFF_SCALE: f64 = 4.0;
/// Per-dimension factor on the scale part of the offsets: loudness (the most reliable
/// arousal cue) is offset less, so anger stays louder than sadness for nearly every
/// actor.
const OFF_DIM: [f64; DIMS] = [1.0, 1.0, 0.6, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
/// Clip variation: intensity spread, noise as fraction of effect and of scale.
const CLIP_INTENSITY_SD: f64 = 0.15;
const CLIP_EFF: f64 = 0.1;
const CLIP_SCALE: f64 = 0.3;

/// Each actor's own, consistent way of expressing each emotion: the mean effect,
/// reweighted per channel by the actor's style (some actors show emotion mostly in
/// loudness, others in pitch or voice quality) and by emotion-specific weights (a
/// channel may be barely used), scaled by a per-emotion gain (an emotion may be barely
/// expressed at all) plus actor-specific offsets, also in channels the emotion does
/// not usually move.
fn expression(seed: u64, ids: &str, emotions: &[String]) -> Vec<[f64; DIMS]> {
    let mut sr = ChaCha8Rng::seed_from_u64(hash_parts(seed, &["style", ids]));
    let mut style = [1.0; DIMS];
    for s in &mut style {
        *s = (STYLE_SD * gauss(&mut sr)).exp();
    }
    emotions
        .iter()
        .map(|e| {
            if e == "NEU" {
                return [0.0; DIMS];
            }
            let mut er = ChaCha8Rng::seed_from_u64(hash_parts(seed, &["expr", ids, e]));
            let eff = emotion_effect(e);
            let mut gain = (1.0 + GAIN_SD * gauss(&mut er)).max(0.2);
            if er.gen::<f64>() < P_FLAT {
                gain *= 0.35;
            }
            let mut out = [0.0; DIMS];
            for d in 0..DIMS {
                let mut w = (style[d] * (WEIGHT_SD * gauss(&mut er)).exp()).clamp(W_MIN, W_MAX);
                if er.gen::<f64>() < P_MUTE {
                    w *= 0.15;
                }
                let off = (OFF_EFF * eff[d].abs() + OFF_SCALE * OFF_DIM[d] * SCALE[d]) * gauss(&mut er);
                out[d] = gain * w * eff[d] + off;
            }
            out
        })
        .collect()
}

/// The emotional deviation vector of one clip: level x clip intensity x the actor's
/// expression of the emotion + clip noise.
pub(crate) fn clip_deviation<R: Rng>(
    actor: &Actor,
    emotion_idx: usize,
    emotion: &str,
    level: &str,
    rng: &mut R,
) -> [f64; DIMS] {
    let eff = emotion_effect(emotion);
    let mean = actor.expr.get(emotion_idx).copied().unwrap_or([0.0; DIMS]);
    let lvl = level_gain(level);
    let intensity = (1.0 + CLIP_INTENSITY_SD * gauss(rng)).max(0.1);
    let mut out = [0.0; DIMS];
    for d in 0..DIMS {
        let noise = (CLIP_EFF * eff[d].abs() + CLIP_SCALE * SCALE[d]) * gauss(rng);
        out[d] = lvl * intensity * mean[d] + noise;
    }
    out
}
