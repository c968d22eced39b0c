//! fedser-synth: a deterministic, built-in synthetic speech-emotion corpus laid out
//! exactly like CREMA-D.
//!
//! [`generate`] writes `<out>/AudioWAV/{ActorID}_{Sentence}_{Emotion}_{Level}.wav`
//! (16 kHz, mono, 16-bit PCM) and `<out>/VideoDemographics.csv`, quoted like the
//! original. It is used by the fedser pipeline when no real corpus is given.
//!
//! # The speech model
//!
//! Each clip is produced by a classic **source-filter** synthesiser running at 16 kHz:
//!
//! * **Source.** A Rosenberg glottal-flow pulse train (differentiated for lip radiation)
//!   follows an f0 contour built from a declination line, Gaussian pitch accents on the
//!   stressed vowels of content words, small per-syllable movements, a slowly wandering
//!   random component, vowel-intrinsic pitch and a terminal fall or rise. Every glottal
//!   cycle gets random **jitter** (period) and **shimmer** (amplitude) and, with a small
//!   probability, becomes a long irregular *creaky* cycle. Aspiration noise, gated by the
//!   glottal opening, adds **breathiness**; a one-pole low-pass plus the open quotient set
//!   the **spectral tilt**.
//! * **Filter.** Four cascaded second-order formant resonators (F1-F4 with bandwidths)
//!   shape voiced and aspirated sound. Formant targets come from a small phone inventory
//!   and are smoothed between segments (coarticulation); diphthongs glide. Fricatives and
//!   stop bursts are noise through a parallel band-pass resonator; stops have closures;
//!   nasals are weak low-F1 murmurs. Between words the speaker sometimes pauses.
//! * **Sentences.** Each CREMA-D sentence code maps to a fixed phonetic transcription of
//!   the real sentence (e.g. `IEO` = "It's eleven o'clock"), so the segmental content is
//!   the same for every actor. Clips last about 1.8-3.5 s (about 2.5 s on average), with
//!   0.2-0.4 s of low-level recording noise (never digital silence) at each end.
//! * **Actors.** Sex, age, race and ethnicity are drawn per actor from the seed
//!   (the number of women is `round(actors * female_fraction)`). Sex and age set the
//!   mean f0 (men ~90-145 Hz, women ~165-250 Hz); women have ~17% shorter vocal tracts
//!   (higher formants; vocal-tract length varies with a 5% sd between actors).
//!   Breathiness (log-sd 0.5), jitter and shimmer (rising with age, log-sd 0.45),
//!   speaking rate (log-sd 0.135), loudness, tilt, pitch range (log-sd 0.3), creak,
//!   formant idiosyncrasies and the recording noise floor are all per-actor random
//!   traits, large enough that speaker identity dominates the feature space.
//! * **Emotions.** Each emotion is a vector of deviations from neutral in eleven
//!   prosodic dimensions (f0 level, f0 range, loudness, tilt, rate, breathiness, jitter,
//!   shimmer, formant shift, creak, terminal movement): ANG is high, wide-ranged, loud,
//!   pressed and fast; HAP high, wide, fairly loud, ending higher; FEA highest,
//!   breathy, jittery and fast; SAD low, narrow, soft, lax, slow and breathy; DIS
//!   low-ish, slow and creaky; NEU is the actor's baseline. Levels scale the deviation
//!   (`LO` 0.55, `MD`/`XX` 1.0, `HI` 1.45).
//! * **Overlap.** Every actor expresses every emotion in their own, consistent way:
//!   an actor-wide channel style (log-sd 0.9 per dimension: one actor shows emotion
//!   mostly in loudness, another in pitch range and tempo, a third in voice quality),
//!   emotion-specific channel weights (log-sd 0.7, combined weight within 0.25-2.5; a
//!   channel is barely used with probability 0.2), a gain on the whole emotion (sd
//!   0.35; an emotion is barely expressed with probability 0.1) and actor-specific
//!   offsets (sd 0.5 x the effect plus 4 x the dimension's natural scale, 2.4 x for
//!   loudness so that anger stays louder than sadness, also in dimensions the emotion
//!   does not usually move). Each clip adds only moderate variation (intensity sd 0.15,
//!   per-dimension noise of 0.1 x the effect plus 0.3 x the natural scale), so an
//!   actor's own emotion clusters stay consistent across sentences. Classes therefore
//!   overlap across speakers, and speaker effects are real: speaker-independent
//!   recognition is clearly harder than speaker-dependent recognition (with ComParE
//!   and logistic regression, leave-one-speaker-out UAR comes out roughly 9-16 points
//!   below the speaker-dependent 70:30 UAR, both around 0.4-0.65).
//! * **Level.** Each clip's active-speech RMS is set from the actor's and the
//!   emotion's loudness (about -23 dBFS at neutral effort, 0.45 dB per dB of effort,
//!   within -31..-16 dBFS), so the loudness cue survives differences in crest factor
//!   between voice qualities; the peak is then kept within -13..-1 dBFS. A constant
//!   pinkish noise floor (about -56 dBFS RMS, per actor) is added.
//!
//! Every random draw comes from a ChaCha8 RNG seeded by a stable hash of the seed and
//! the clip's (or actor's) identity, so the output is byte-identical for the same
//! parameters whatever the number of rayon threads.

mod model;
mod phones;
mod render;

use std::collections::HashSet;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub use model::{EMOTIONS, LEVELS};
pub use phones::SENTENCES;

/// Errors of the synthetic corpus generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The parameters are invalid; the message names the key and the allowed values.
    #[error("{0}")]
    Invalid(String),
    /// A file or directory could not be created, written, renamed or removed.
    #[error("cannot write `{}`", path.display())]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A WAV file could not be encoded.
    #[error("cannot encode wav `{}`", path.display())]
    Wav {
        /// The WAV file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: hound::Error,
    },
}

/// How the clip inventory is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Inventory {
    /// Every actor x sentence x emotion x level.
    #[default]
    Grid,
    /// CREMA-D's own design: sentence `IEO` at `LO`/`MD`/`HI` for every selected
    /// non-neutral emotion plus `IEO_NEU_XX`; every other selected sentence at `XX`
    /// only. `levels` is ignored. With all 12 sentences and all 6 emotions this is
    /// 82 clips per actor.
    Cremad,
}

/// Recipe version of the synthetic corpus: bump when the generated audio
/// changes for the same params (it is part of the synth stage's cache key).
pub const VERSION: u32 = 7;

/// Parameters of the synthetic corpus (the `[synth]` table of the pipeline config).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthParams {
    /// Seed of every random draw (default 7).
    pub seed: u64,
    /// Number of actors, numbered from 1001 (default 12, range 2..=999).
    pub actors: u32,
    /// CREMA-D sentence codes to record (default DFA, IEO, IOM, ITH, TAI, WSI).
    pub sentences: Vec<String>,
    /// Emotion codes (default all six: ANG DIS FEA HAP NEU SAD).
    pub emotions: Vec<String>,
    /// Intensity levels for the `grid` inventory (default `["XX"]`).
    pub levels: Vec<String>,
    /// Inventory design (`"grid"`, default, or `"cremad"`).
    pub inventory: Inventory,
    /// Number of clips dropped deterministically (by seed) after building the
    /// inventory (default 0; CREMA-D itself is 91 x 82 - 20 = 7,442 clips).
    pub missing: u32,
    /// Fraction of female actors, in [0, 1] (default 0.5).
    pub female_fraction: f64,
}

impl Default for SynthParams {
    fn default() -> Self {
        Self {
            seed: 7,
            actors: 12,
            sentences: ["DFA", "IEO", "IOM", "ITH", "TAI", "WSI"].iter().map(|s| s.to_string()).collect(),
            emotions: EMOTIONS.iter().map(|s| s.to_string()).collect(),
            levels: vec!["XX".to_string()],
            inventory: Inventory::Grid,
            missing: 0,
            female_fraction: 0.5,
        }
    }
}

fn check_codes(key: &str, values: &[String], allowed: &[&str]) -> Result<(), SynthError> {
    let list = allowed.join(", ");
    if values.is_empty() {
        return Err(SynthError::Invalid(format!("synth.{key} is empty: must list at least one of {list}")));
    }
    let mut seen = HashSet::new();
    for v in values {
        if !allowed.contains(&v.as_str()) {
            return Err(SynthError::Invalid(format!("synth.{key} contains `{v}`: must be one of {list}")));
        }
        if !seen.insert(v.as_str()) {
            return Err(SynthError::Invalid(format!("synth.{key} lists `{v}` twice: each code may appear once")));
        }
    }
    Ok(())
}

impl SynthParams {
    /// Checks every parameter; the error message names the key and the allowed values.
    pub fn validate(&self) -> Result<(), SynthError> {
        if !(2..=999).contains(&self.actors) {
            return Err(SynthError::Invalid(format!("synth.actors = {}: must be in 2..=999", self.actors)));
        }
        check_codes("sentences", &self.sentences, &SENTENCES)?;
        check_codes("emotions", &self.emotions, &EMOTIONS)?;
        check_codes("levels", &self.levels, &LEVELS)?;
        if !(self.female_fraction.is_finite() && (0.0..=1.0).contains(&self.female_fraction)) {
            return Err(SynthError::Invalid(format!(
                "synth.female_fraction = {}: must be in [0, 1]",
                self.female_fraction
            )));
        }
        let full = full_inventory(self).len();
        if self.missing as usize >= full {
            return Err(SynthError::Invalid(format!(
                "synth.missing = {}: must be less than the inventory size {full}",
                self.missing
            )));
        }
        Ok(())
    }
}

/// Summary of a generated corpus.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SynthSummary {
    /// Number of WAV files written.
    pub clips: usize,
    /// Number of actors with at least one clip.
    pub actors: usize,
    /// Total audio duration in seconds.
    pub audio_seconds: f64,
}

/// One clip of the inventory (indices into the params' code lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct ClipId {
    actor: u32,
    sentence: usize,
    emotion: usize,
    level: &'static str,
}

fn full_inventory(p: &SynthParams) -> Vec<ClipId> {
    let mut v = Vec::new();
    for a in 0..p.actors {
        let actor = 1001 + a;
        for (si, s) in p.sentences.iter().enumerate() {
            for (ei, e) in p.emotions.iter().enumerate() {
                match p.inventory {
                    Inventory::Grid => {
                        for l in &p.levels {
                            if let Some(level) = LEVELS.iter().find(|x| **x == l.as_str()) {
                                v.push(ClipId { actor, sentence: si, emotion: ei, level });
                            }
                        }
                    }
                    Inventory::Cremad => {
                        let levels: &[&'static str] =
                            if s == "IEO" && e != "NEU" { &["LO", "MD", "HI"] } else { &["XX"] };
                        for level in levels {
                            v.push(ClipId { actor, sentence: si, emotion: ei, level });
                        }
                    }
                }
            }
        }
    }
    v
}

fn clip_name(p: &SynthParams, c: &ClipId) -> String {
    format!("{}_{}_{}_{}.wav", c.actor, p.sentences[c.sentence], p.emotions[c.emotion], c.level)
}

/// The clips to write, after dropping `missing`, sorted by file name.
fn clips(p: &SynthParams) -> Vec<(String, ClipId)> {
    let full = full_inventory(p);
    let mut keep = vec![true; full.len()];
    let mut idx: Vec<usize> = (0..full.len()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(model::hash_parts(p.seed, &["missing"]));
    idx.shuffle(&mut rng);
    for &i in idx.iter().take(p.missing as usize) {
        keep[i] = false;
    }
    let mut out: Vec<(String, ClipId)> =
        full.iter().zip(keep).filter(|(_, k)| *k).map(|(c, _)| (clip_name(p, c), *c)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Same inventory as [`generate`] would write, without audio: WAV file names
/// (`1001_IEO_ANG_HI.wav`, ...) in sorted order. Invalid codes are skipped; call
/// [`SynthParams::validate`] first.
pub fn inventory(params: &SynthParams) -> Vec<String> {
    clips(params).into_iter().map(|(n, _)| n).collect()
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SynthError + '_ {
    move |source| SynthError::Io { path: path.to_path_buf(), source }
}

/// Writes the corpus into `out` atomically and returns a summary.
///
/// The corpus is built in a sibling directory `out.tmp-<pid>` and renamed to `out` once
/// complete; an existing `out` is replaced only then. The output is deterministic: the
/// same parameters give byte-identical files whatever the rayon thread count. Clips are
/// synthesised in parallel on the current rayon pool.
pub fn generate(params: &SynthParams, out: &Path) -> Result<SynthSummary, SynthError> {
    params.validate()?;
    let name = out
        .file_name()
        .ok_or_else(|| SynthError::Invalid(format!("output directory `{}` has no final component", out.display())))?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let pid = std::process::id();
    let tmp = parent.join(format!("{name}.tmp-{pid}"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    let result = write_corpus(params, &tmp);
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    if out.exists() {
        let old = parent.join(format!("{name}.old-{pid}"));
        if old.exists() {
            fs::remove_dir_all(&old).map_err(io_err(&old))?;
        }
        fs::rename(out, &old).map_err(io_err(out))?;
        if let Err(source) = fs::rename(&tmp, out) {
            // put the previous corpus back
            let _ = fs::rename(&old, out);
            let _ = fs::remove_dir_all(&tmp);
            return Err(SynthError::Io { path: out.to_path_buf(), source });
        }
        fs::remove_dir_all(&old).map_err(io_err(&old))?;
    } else {
        fs::rename(&tmp, out).map_err(io_err(out))?;
    }
    Ok(summary)
}

fn write_corpus(params: &SynthParams, dir: &Path) -> Result<SynthSummary, SynthError> {
    let audio = dir.join("AudioWAV");
    fs::create_dir_all(&audio).map_err(io_err(&audio))?;
    let actors = model::actors(params.seed, params.actors, params.female_fraction, &params.emotions);
    write_demographics(&actors, &dir.join("VideoDemographics.csv"))?;

    let templates: Vec<Vec<phones::TemplatePhone>> = params
        .sentences
        .iter()
        .map(|s| phones::parse(s).ok_or_else(|| SynthError::Invalid(format!("synth.sentences: no template for `{s}`"))))
        .collect::<Result<_, _>>()?;
    let list = clips(params);
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: render::FS as u32,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let lens: Vec<usize> = list
        .par_iter()
        .map(|(name, c)| {
            let actor = &actors[(c.actor - 1001) as usize];
            let clip = synth_clip(params, actor, &templates[c.sentence], c);
            let path = audio.join(name);
            write_wav(&path, spec, &clip.samples)?;
            Ok(clip.samples.len())
        })
        .collect::<Result<_, SynthError>>()?;
    let mut with_clips: Vec<u32> = list.iter().map(|(_, c)| c.actor).collect();
    with_clips.dedup();
    Ok(SynthSummary {
        clips: list.len(),
        actors: with_clips.len(),
        audio_seconds: lens.iter().sum::<usize>() as f64 / render::FS,
    })
}

fn synth_clip(params: &SynthParams, actor: &model::Actor, tpl: &[phones::TemplatePhone], c: &ClipId) -> render::Clip {
    let sentence = params.sentences[c.sentence].as_str();
    let emotion = params.emotions[c.emotion].as_str();
    let mut rng = ChaCha8Rng::seed_from_u64(model::hash_parts(
        params.seed,
        &["clip", &c.actor.to_string(), sentence, emotion, c.level],
    ));
    let dev = model::clip_deviation(actor, c.emotion, emotion, c.level, &mut rng);
    render::render(actor, tpl, &dev, &mut rng)
}

fn write_wav(path: &Path, spec: hound::WavSpec, samples: &[i16]) -> Result<(), SynthError> {
    let wav_err = |source| SynthError::Wav { path: path.to_path_buf(), source };
    let file = fs::File::create(path).map_err(io_err(path))?;
    let mut w = hound::WavWriter::new(BufWriter::with_capacity(1 << 16, file), spec).map_err(wav_err)?;
    {
        let mut w16 = w.get_i16_writer(samples.len() as u32);
        for &s in samples {
            w16.write_sample(s);
        }
        w16.flush().map_err(wav_err)?;
    }
    w.finalize().map_err(wav_err)
}

fn write_demographics(actors: &[model::Actor], path: &Path) -> Result<(), SynthError> {
    let mut s = String::from("\"ActorID\",\"Age\",\"Sex\",\"Race\",\"Ethnicity\"\n");
    for a in actors {
        s.push_str(&format!(
            "{},{},\"{}\",\"{}\",\"{}\"\n",
            a.id,
            a.age,
            if a.female { "Female" } else { "Male" },
            a.race,
            if a.hispanic { "Hispanic" } else { "Not Hispanic" }
        ));
    }
    let mut f = fs::File::create(path).map_err(io_err(path))?;
    f.write_all(s.as_bytes()).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}
