//! fedser-audio: read a WAV clip the way every stage must see it.
//!
//! Ingest validates clips with [`read_clip`] and features decodes them again
//! with the same function, so both stages agree on every sample.
//!
//! *Normalization*: samples are mono `f32` on openSMILE's scale, where a
//! 16-bit sample `s` becomes `s / 32767` (so full scale is slightly above
//! 1.0). Other integer depths are first brought to the 16-bit scale
//! (`s * 2^15 / 2^(bits-1)`), float samples are multiplied by `32768`, then
//! divided by 32767. Multichannel audio is averaged to mono. Any other
//! sample rate is resampled to 16 kHz with rubato's FFT resampler (f64,
//! delay trimmed), so every stage sees 16 kHz mono.
#![warn(unreachable_pub)]

use std::path::{Path, PathBuf};

/// The analysis sample rate of every feature set.
pub const TARGET_RATE: u32 = 16_000;

/// Why a clip cannot be used. `Display` is the one-line reason written to
/// the rejects table.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error("unreadable: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a RIFF/WAVE file, or a header hound cannot parse.
    #[error("not a valid WAV file ({0})")]
    NotWav(String),
    /// The data chunk holds no samples.
    #[error("no audio samples (header-only file)")]
    Empty,
    /// The data chunk ends early or a sample cannot be decoded.
    #[error("truncated or corrupt audio data after {read} of {expected} samples")]
    Truncated {
        /// Samples decoded.
        read: usize,
        /// Samples the header announced.
        expected: usize,
    },
    /// A float sample is NaN or infinite.
    #[error("non-finite sample (NaN or Inf) at sample {0}")]
    NonFinite(usize),
    /// A sample format the reader does not handle.
    #[error("unsupported sample format: {0}")]
    Unsupported(String),
    /// Resampling failed.
    #[error("cannot resample from {rate} Hz: {message}")]
    Resample {
        /// Original rate.
        rate: u32,
        /// The cause.
        message: String,
    },
}

/// A decoded clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip {
    /// Mono samples on openSMILE's 16-bit scale (see the crate docs), at
    /// [`TARGET_RATE`].
    pub samples: Vec<f32>,
    /// Sample rate of `samples` (always [`TARGET_RATE`]).
    pub rate: u32,
    /// Sample rate of the file.
    pub orig_rate: u32,
    /// Original channel count.
    pub channels: u16,
    /// Original bits per sample.
    pub bits: u16,
    /// `"pcm"` or `"float"`.
    pub format: &'static str,
}

impl Clip {
    /// Duration in seconds.
    #[must_use]
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.rate.max(1))
    }
}

/// Reads and decodes a WAV file.
///
/// # Errors
/// An [`AudioError`] whose message is the rejection reason.
pub fn read_clip(path: &Path) -> Result<Clip, AudioError> {
    // The whole file in memory (clips are small): hound parses the header
    // from it, and 16-bit PCM data is then converted in bulk (the same
    // values as hound's sample-by-sample reader, see [`decode_pcm16`]).
    let bytes = std::fs::read(path).map_err(|source| AudioError::Unreadable { path: path.to_path_buf(), source })?;
    let reader = hound::WavReader::new(std::io::Cursor::new(&bytes[..])).map_err(|e| match e {
        hound::Error::IoError(source) if source.kind() != std::io::ErrorKind::UnexpectedEof => {
            AudioError::Unreadable { path: path.to_path_buf(), source }
        }
        other => AudioError::NotWav(other.to_string()),
    })?;
    let spec = reader.spec();
    if spec.sample_format == hound::SampleFormat::Int
        && spec.bits_per_sample == 16
        && block_align(&bytes) == Some(2 * u32::from(spec.channels.max(1)))
    {
        let expected = reader.len() as usize;
        let start = usize::try_from(reader.into_inner().position()).unwrap_or(usize::MAX);
        return decode_pcm16(spec, bytes.get(start..).unwrap_or(&[]), expected);
    }
    decode(reader)
}

/// `nBlockAlign` of the first `fmt ` chunk of a RIFF/WAVE file, if found.
fn block_align(bytes: &[u8]) -> Option<u32> {
    let le32 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return None;
    }
    let mut at = 12usize;
    while at.checked_add(8)? <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = le32(&bytes[at + 4..at + 8]) as usize;
        let body = at + 8;
        if id == b"fmt " {
            let b = bytes.get(body + 12..body + 14)?;
            return Some(u32::from(u16::from_le_bytes([b[0], b[1]])));
        }
        // Chunks are padded to an even size.
        at = body.checked_add(size)?.checked_add(size & 1)?;
    }
    None
}

/// Bulk decoding of 16-bit PCM (`data`: the bytes from the first sample on,
/// `expected`: the sample count of the header): the same samples, scale and
/// errors as [`decode`] reading sample by sample.
fn decode_pcm16(spec: hound::WavSpec, data: &[u8], expected: usize) -> Result<Clip, AudioError> {
    if expected == 0 {
        return Err(AudioError::Empty);
    }
    let scale = 32768.0 / f64::from(1u32 << 15) / 32767.0;
    let n = expected.min(data.len() / 2);
    let interleaved: Vec<f32> =
        data[..2 * n].chunks_exact(2).map(|b| (f64::from(i16::from_le_bytes([b[0], b[1]])) * scale) as f32).collect();
    finish(spec, interleaved, expected)
}

/// Decodes from any reader (used by tests with in-memory WAVs).
///
/// # Errors
/// An [`AudioError`].
pub fn decode<R: std::io::Read>(mut reader: hound::WavReader<R>) -> Result<Clip, AudioError> {
    let spec = reader.spec();
    let expected = reader.len() as usize;
    if expected == 0 {
        return Err(AudioError::Empty);
    }
    let mut interleaved: Vec<f32> = Vec::with_capacity(expected);
    match spec.sample_format {
        hound::SampleFormat::Int => {
            if !(1..=32).contains(&spec.bits_per_sample) {
                return Err(AudioError::Unsupported(format!("{}-bit PCM", spec.bits_per_sample)));
            }
            let scale = 32768.0 / f64::from(1u32 << (spec.bits_per_sample - 1).min(31)) / 32767.0;
            for s in reader.samples::<i32>() {
                match s {
                    Ok(v) => interleaved.push((f64::from(v) * scale) as f32),
                    Err(_) => return Err(AudioError::Truncated { read: interleaved.len(), expected }),
                }
            }
        }
        hound::SampleFormat::Float => {
            if spec.bits_per_sample != 32 {
                return Err(AudioError::Unsupported(format!("{}-bit float", spec.bits_per_sample)));
            }
            for s in reader.samples::<f32>() {
                match s {
                    Ok(v) if v.is_finite() => interleaved.push((f64::from(v) * 32768.0 / 32767.0) as f32),
                    Ok(_) => return Err(AudioError::NonFinite(interleaved.len())),
                    Err(_) => return Err(AudioError::Truncated { read: interleaved.len(), expected }),
                }
            }
        }
    }
    finish(spec, interleaved, expected)
}

/// Downmix, checks and resampling of the decoded interleaved samples.
fn finish(spec: hound::WavSpec, interleaved: Vec<f32>, expected: usize) -> Result<Clip, AudioError> {
    let channels = spec.channels.max(1);
    if interleaved.len() < expected {
        return Err(AudioError::Truncated { read: interleaved.len(), expected });
    }
    let ch = usize::from(channels);
    let samples = if ch == 1 {
        interleaved
    } else {
        interleaved.chunks_exact(ch).map(|f| f.iter().sum::<f32>() / ch as f32).collect()
    };
    if samples.is_empty() {
        return Err(AudioError::Empty);
    }
    if spec.sample_rate == 0 {
        return Err(AudioError::NotWav("sample rate 0".into()));
    }
    let samples = if spec.sample_rate == TARGET_RATE { samples } else { resample(&samples, spec.sample_rate)? };
    Ok(Clip {
        samples,
        rate: TARGET_RATE,
        orig_rate: spec.sample_rate,
        channels,
        bits: spec.bits_per_sample,
        format: match spec.sample_format {
            hound::SampleFormat::Int => "pcm",
            hound::SampleFormat::Float => "float",
        },
    })
}

/// Resamples mono audio to [`TARGET_RATE`] (rubato FFT resampler, f64; the
/// resampler's delay is trimmed so sample 0 stays sample 0).
///
/// # Errors
/// [`AudioError::Resample`].
pub fn resample(samples: &[f32], rate: u32) -> Result<Vec<f32>, AudioError> {
    use rubato::Resampler;
    let err = |message: String| AudioError::Resample { rate, message };
    let input: Vec<Vec<f64>> = vec![samples.iter().map(|&x| f64::from(x)).collect()];
    let adapter = audioadapter_buffers::direct::SequentialSliceOfVecs::new(&input, 1, samples.len())
        .map_err(|e| err(e.to_string()))?;
    let mut r = rubato::Fft::<f64>::new(rate as usize, TARGET_RATE as usize, 1024, 1, rubato::FixedSync::Input)
        .map_err(|e| err(e.to_string()))?;
    let out = r.process_all(&adapter, samples.len(), None).map_err(|e| err(e.to_string()))?;
    Ok(out.take_data().into_iter().map(|x| x as f32).collect())
}

/// Level statistics of a clip (on the 16-bit scale, 1.0 ≈ full scale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    /// RMS in dBFS (`-inf` for digital silence is reported as -200).
    pub rms_dbfs: f64,
    /// Peak absolute sample.
    pub peak: f64,
    /// Fraction of samples at or above `clip_level` in magnitude.
    pub clipped_fraction: f64,
    /// Fraction of samples that are exactly zero.
    pub zero_fraction: f64,
}

/// Computes [`Levels`].
#[must_use]
pub fn levels(samples: &[f32], clip_level: f64) -> Levels {
    let n = samples.len().max(1) as f64;
    let mut sum2 = 0.0f64;
    let mut peak = 0.0f64;
    let mut clipped = 0usize;
    let mut zeros = 0usize;
    for &s in samples {
        let a = f64::from(s).abs();
        sum2 += a * a;
        peak = peak.max(a);
        if a >= clip_level {
            clipped += 1;
        }
        if s == 0.0 {
            zeros += 1;
        }
    }
    let rms = (sum2 / n).sqrt();
    Levels {
        rms_dbfs: if rms > 0.0 { 20.0 * rms.log10() } else { -200.0 },
        peak,
        clipped_fraction: clipped as f64 / n,
        zero_fraction: zeros as f64 / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, spec: hound::WavSpec, n: usize) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for i in 0..n * usize::from(spec.channels) {
            match spec.sample_format {
                hound::SampleFormat::Int => w.write_sample(((i % 100) as i32 - 50) * 100).unwrap(),
                hound::SampleFormat::Float => w.write_sample(0.25f32).unwrap(),
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn reads_16bit_on_opensmile_scale_and_downmixes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        write(&p, spec, 100);
        let c = read_clip(&p).unwrap();
        assert_eq!(c.samples.len(), 100);
        assert_eq!(c.channels, 2);
        // frame 0 = samples (-5000, -4900) -> mean -4950 / 32767
        assert!((c.samples[0] - (-4950.0 / 32767.0)).abs() < 1e-6);
    }

    #[test]
    fn rejects_header_only_truncated_and_text() {
        let dir = tempfile::tempdir().unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let p = dir.path().join("h.wav");
        write(&p, spec, 0);
        assert!(matches!(read_clip(&p), Err(AudioError::Empty)));
        let p = dir.path().join("t.wav");
        write(&p, spec, 1000);
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 501]).unwrap();
        assert!(matches!(read_clip(&p), Err(AudioError::Truncated { .. })), "{:?}", read_clip(&p));
        let p = dir.path().join("x.wav");
        std::fs::write(&p, "hello, not audio").unwrap();
        assert!(matches!(read_clip(&p), Err(AudioError::NotWav(_))));
        assert!(matches!(read_clip(&dir.path().join("missing.wav")), Err(AudioError::Unreadable { .. })));
    }

    /// The bulk 16-bit path of `read_clip` against hound's sample-by-sample
    /// reader (`decode`): every sample bit for bit, over the whole i16 range,
    /// mono and stereo, with a chunk after the data; and the same error for a
    /// truncated file.
    #[test]
    fn bulk_pcm16_equals_sample_by_sample_decoding() {
        let dir = tempfile::tempdir().unwrap();
        for channels in [1u16, 2] {
            let spec = hound::WavSpec {
                channels,
                sample_rate: 16000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let p = dir.path().join(format!("r{channels}.wav"));
            let mut w = hound::WavWriter::create(&p, spec).unwrap();
            for v in i16::MIN..=i16::MAX {
                w.write_sample(v.rotate_left(7)).unwrap();
            }
            w.finalize().unwrap();
            let slow = decode(hound::WavReader::open(&p).unwrap()).unwrap();
            let fast = read_clip(&p).unwrap();
            assert_eq!(fast.samples.len(), 65536 / usize::from(channels));
            assert!(fast.samples.iter().zip(&slow.samples).all(|(a, b)| a.to_bits() == b.to_bits()));
            assert_eq!(fast, slow);
            // A trailing chunk after the data is not read as samples.
            let mut bytes = std::fs::read(&p).unwrap();
            bytes.extend_from_slice(b"LIST\x04\x00\x00\x00abcd");
            let riff = u32::try_from(bytes.len() - 8).unwrap();
            bytes[4..8].copy_from_slice(&riff.to_le_bytes());
            std::fs::write(&p, &bytes).unwrap();
            assert_eq!(read_clip(&p).unwrap(), slow);
            // Truncated in the middle of a sample.
            let n = bytes.len() - 12 - 1001;
            std::fs::write(&p, &bytes[..n]).unwrap();
            let slow = decode(hound::WavReader::open(&p).unwrap()).unwrap_err().to_string();
            assert_eq!(read_clip(&p).unwrap_err().to_string(), slow);
        }
    }

    fn sine(path: &Path, rate: u32, spec_bits: u16, float: bool, channels: u16, secs: f64) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: spec_bits,
            sample_format: if float { hound::SampleFormat::Float } else { hound::SampleFormat::Int },
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        let n = (secs * f64::from(rate)) as usize;
        for i in 0..n {
            let x = 0.5 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate)).sin();
            for _ in 0..channels {
                if float {
                    w.write_sample(x as f32).unwrap();
                } else {
                    let full = f64::from((1u32 << (spec_bits - 1)) - 1);
                    w.write_sample((x * full).round() as i32).unwrap();
                }
            }
        }
        w.finalize().unwrap();
    }

    /// Every accepted format decodes to the same 16 kHz mono signal as the
    /// 16-bit original (a 440 Hz sine at half scale), within the format's
    /// quantisation and the resampler's error.
    #[test]
    fn formats_rates_and_channels_agree() {
        let dir = tempfile::tempdir().unwrap();
        let reference = dir.path().join("ref.wav");
        sine(&reference, 16000, 16, false, 1, 0.5);
        let r = read_clip(&reference).unwrap();
        for (rate, bits, float, ch, tol) in [
            (16000, 8, false, 1, 2e-2),
            (16000, 24, false, 1, 1e-4),
            (16000, 32, false, 1, 1e-4),
            (16000, 32, true, 1, 1e-4),
            (16000, 16, false, 2, 1e-4),
            // resampled: rubato trims its delay to whole output samples, so a
            // sub-sample delay (<= 0.25 sample) remains: at 440 Hz and half
            // scale that is up to 0.5 * 2 pi * 440 / 16000 * 0.25 = 0.022.
            (44100, 16, false, 1, 2.5e-2),
            (8000, 16, false, 1, 2.5e-2),
        ] {
            let p = dir.path().join(format!("{rate}-{bits}-{float}-{ch}.wav"));
            sine(&p, rate, bits, float, ch, 0.5);
            let c = read_clip(&p).unwrap();
            assert_eq!((c.rate, c.orig_rate, c.channels, c.bits), (16000, rate, ch, bits));
            assert!((c.samples.len() as i64 - 8000).abs() <= 1, "{rate} Hz: {} samples", c.samples.len());
            // compare away from the edges (resampler transients)
            let err =
                r.samples[400..7600].iter().zip(&c.samples[400..7600]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(f64::from(err) < tol, "{rate} Hz {bits}-bit float={float} ch={ch}: max error {err}");
        }
    }

    #[test]
    fn nan_samples_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nan.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        for i in 0..100 {
            w.write_sample(if i == 42 { f32::NAN } else { 0.1 }).unwrap();
        }
        w.finalize().unwrap();
        assert!(matches!(read_clip(&p), Err(AudioError::NonFinite(42))));
    }

    #[test]
    fn levels_of_silence_and_clipping() {
        let l = levels(&[0.0; 10], 0.999);
        assert_eq!(l.zero_fraction, 1.0);
        assert_eq!(l.rms_dbfs, -200.0);
        let l = levels(&[1.0, -1.0, 0.5, 0.0], 0.999);
        assert_eq!(l.clipped_fraction, 0.5);
        assert_eq!(l.peak, 1.0);
    }
}
