//! Source-filter renderer: glottal pulse train + aspiration through a cascade of four
//! formant resonators, plus a parallel band-pass frication branch, driven by 2 ms
//! control frames.

use std::f64::consts::{FRAC_PI_2, PI};

use rand::Rng;

use crate::model::{dim, gauss, Actor, DIMS};
use crate::phones::{Kind, Phone, TemplatePhone};

/// Output sample rate (Hz).
pub(crate) const FS: f64 = 16_000.0;
/// Samples per control frame (2 ms).
const FRAME: usize = 32;
const FRAME_S: f64 = FRAME as f64 / FS;

/// Gains balancing the three sources (calibrated so that a unit-amplitude sustained
/// vowel, unit aspiration and unit /s/ noise have comparable RMS).
const G_VOICE: f64 = 2.4;
const G_ASP: f64 = 0.058;
const G_FRIC: f64 = 0.18;

/// Global duration scale of the phone table (sets the ~2.5 s average clip length).
const TEMPO: f64 = 1.07;

/// Fast per-sample noise (xorshift64*), seeded from the clip RNG.
struct Noise(u64);

impl Noise {
    /// Uniform noise with unit variance.
    #[inline]
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // 53 random bits -> [0,1) -> [-sqrt3, sqrt3)
        let u = (v >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        (u * 2.0 - 1.0) * 1.732_050_807_568_877_2
    }
}

/// Klatt-style 2nd-order resonator with unity DC gain.
#[derive(Clone, Copy, Default)]
struct Reson {
    a: f64,
    b: f64,
    c: f64,
    y1: f64,
    y2: f64,
}

impl Reson {
    fn set(&mut self, f: f64, bw: f64) {
        let t = 1.0 / FS;
        let r = (-PI * bw * t).exp();
        self.c = -r * r;
        self.b = 2.0 * r * (2.0 * PI * f * t).cos();
        self.a = 1.0 - self.b - self.c;
    }
    #[inline]
    fn tick(&mut self, x: f64) -> f64 {
        let y = self.a * x + self.b * self.y1 + self.c * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// RBJ band-pass biquad with 0 dB peak gain (frication/burst shaping).
#[derive(Clone, Copy, Default)]
struct BandPass {
    b0: f64,
    a1: f64,
    a2: f64,
    x1: f64,
    x2: f64,
    y1: f64,
    y2: f64,
}

impl BandPass {
    fn set(&mut self, fc: f64, q: f64) {
        let w0 = 2.0 * PI * fc.clamp(100.0, 7400.0) / FS;
        let alpha = w0.sin() / (2.0 * q.max(0.3));
        let a0 = 1.0 + alpha;
        self.b0 = alpha / a0;
        self.a1 = -2.0 * w0.cos() / a0;
        self.a2 = (1.0 - alpha) / a0;
    }
    #[inline]
    fn tick(&mut self, x: f64) -> f64 {
        let y = self.b0 * (x - self.x2) - self.a1 * self.y1 - self.a2 * self.y2;
        self.x2 = self.x1;
        self.x1 = x;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

/// Rosenberg glottal flow pulse, `phi` in [0,1) of the period.
#[inline]
fn rosenberg(phi: f64, tp: f64, tn: f64) -> f64 {
    if phi < tp {
        0.5 * (1.0 - (PI * phi / tp).cos())
    } else if phi < tp + tn {
        (FRAC_PI_2 * (phi - tp) / tn).cos()
    } else {
        0.0
    }
}

/// One control frame.
#[derive(Clone, Copy, Default)]
struct Ctrl {
    /// Voicing amplitude.
    av: f64,
    /// Explicit aspiration amplitude (/h/, stop release).
    ah: f64,
    /// Frication amplitude.
    af: f64,
    /// Glottal modulation of frication (voiced fricatives).
    vmod: f64,
    /// Formant frequencies and bandwidths.
    f: [f64; 4],
    bw: [f64; 4],
    /// Frication centre frequency and Q.
    fc: f64,
    fq: f64,
    /// Fundamental frequency (Hz).
    f0: f64,
    /// Creak probability per cycle.
    creak: f64,
}

/// Timed segment: `None` phone = pause.
struct Seg {
    start: f64,
    dur: f64,
    phone: Option<Phone>,
    accent: bool,
    /// Formant targets of the following segment (for /h/).
    next_f: [f64; 3],
}

/// Voice-quality settings of a clip.
struct Voice {
    jitter: f64,
    shimmer: f64,
    breath: f64,
    /// One-pole low-pass coefficient on the source (spectral tilt).
    tilt_a: f64,
    /// Open quotient of the glottal pulse.
    oq: f64,
}

/// Result of rendering one clip.
pub(crate) struct Clip {
    pub samples: Vec<i16>,
}

/// Renders one clip for `actor` speaking the template `tpl` with deviation `dev`.
pub(crate) fn render<R: Rng>(actor: &Actor, tpl: &[TemplatePhone], dev: &[f64; DIMS], rng: &mut R) -> Clip {
    // ---------------------------------------------------------------- timing
    let rate = (actor.rate * dev[dim::RATE].exp()).clamp(0.65, 1.8);
    let pause_p = (0.10 * (-3.0 * dev[dim::RATE]).exp()).clamp(0.0, 0.5);
    let last_word = tpl.last().map_or(0, |p| p.word);
    let mut segs: Vec<Seg> = Vec::with_capacity(tpl.len() + 8);
    let mut t = 0.0;
    for (i, tp) in tpl.iter().enumerate() {
        if i > 0 && tpl[i - 1].word != tp.word && rng.gen::<f64>() < pause_p {
            let d = rng.gen_range(0.07..0.20) / rate;
            segs.push(Seg { start: t, dur: d, phone: None, accent: false, next_f: tp.phone.f_start });
            t += d;
        }
        let ph = tp.phone;
        let is_vowel = ph.kind == Kind::Vowel;
        let mut d = ph.dur_ms / 1000.0 * TEMPO;
        d *= if is_vowel { 1.0 / rate } else { rate.powf(-0.5) };
        if is_vowel && tp.accent {
            d *= 1.3;
        }
        if tp.word == last_word && is_vowel {
            d *= 1.35;
        }
        d *= (0.12 * gauss(rng)).exp();
        let d = d.max(0.025);
        let next_f = tpl.get(i + 1).map_or(ph.f_start, |n| n.phone.f_start);
        segs.push(Seg { start: t, dur: d, phone: Some(ph), accent: tp.accent, next_f });
        t += d;
    }
    let speech = t;
    let lead = rng.gen_range(0.2..0.4);
    let trail = rng.gen_range(0.2..0.4);
    let total_s = lead + speech + trail;
    let n_samples = (total_s * FS).ceil() as usize;
    let n_frames = n_samples / FRAME + 2;

    // ---------------------------------------------------------------- voice quality
    let tilt = actor.tilt + dev[dim::TILT];
    let breath = (actor.breath * dev[dim::BREATH].exp()).clamp(0.005, 0.6);
    let voice = Voice {
        jitter: (actor.jitter * dev[dim::JITTER].exp()).clamp(0.001, 0.05),
        shimmer: (actor.shimmer * dev[dim::SHIMMER].exp()).clamp(0.005, 0.3),
        breath,
        tilt_a: (0.4 - 0.15 * tilt).clamp(0.0, 0.85),
        oq: (0.62 - 0.06 * tilt + 0.05 * (breath / 0.08).ln()).clamp(0.35, 0.85),
    };
    let creak = (actor.creak + dev[dim::CREAK]).clamp(0.0, 0.4);
    let fshift = dev[dim::FORMANT].exp();
    let fscale = [
        actor.vtl * actor.formant_idio[0] * fshift,
        actor.vtl * actor.formant_idio[1] * fshift.powf(0.5),
        actor.vtl * actor.formant_idio[2] * fshift.powf(0.3),
        actor.vtl * actor.formant_idio[3],
    ];
    let bw_scale = if actor.female { 1.15 } else { 1.0 };
    let base_bw = [70.0 * bw_scale * (1.0 + 2.0 * breath), 100.0 * bw_scale, 140.0 * bw_scale, 220.0 * bw_scale];
    let fric_scale = actor.vtl.powf(0.7);

    // ---------------------------------------------------------------- f0 contour (semitones)
    let base_f0 = actor.f0 * (dev[dim::F0] / 12.0).exp2();
    let range = (actor.range * dev[dim::RANGE].exp()).clamp(0.2, 3.0);
    // accents: (centre time, height st, width sd)
    let mut bumps: Vec<(f64, f64, f64)> = Vec::with_capacity(segs.len());
    let mut first_accent = true;
    for s in &segs {
        if let Some(ph) = s.phone {
            if ph.kind != Kind::Vowel {
                continue;
            }
            let centre = s.start + s.dur * (0.5 + 0.15 * gauss(rng));
            let (h, w) = if s.accent {
                let mut h = (2.6 + 0.8 * gauss(rng)).max(0.6) * range;
                if first_accent {
                    h *= 1.25;
                    first_accent = false;
                }
                (h, (0.55 * s.dur).max(0.06))
            } else {
                ((0.5 + 0.4 * gauss(rng)) * range, (0.5 * s.dur).max(0.04))
            };
            // intrinsic f0: high vowels are a little higher
            let intrinsic = if ph.f_start[0] < 350.0 { 0.7 } else { 0.0 };
            bumps.push((centre, h + intrinsic, w));
        }
    }
    let final_move = (-2.5 + dev[dim::FINAL]) * range.sqrt();
    let final_len = 0.3_f64.min(speech * 0.4);

    // ---------------------------------------------------------------- frame targets
    let mut ctrl = vec![Ctrl::default(); n_frames];
    let mut si = 0usize;
    let mut last_fc = segs.iter().filter_map(|s| s.phone).find(|p| p.noise.2 > 0.0).map_or(4000.0, |p| p.noise.0);
    let mut last_fq = 1.5;
    let first_f = segs.iter().find_map(|s| s.phone.map(|p| p.f_start)).unwrap_or([500.0, 1500.0, 2500.0]);
    let mut hold_f = first_f;
    let mut wander = 0.0;
    let (mut vowel_st, mut vowel_n) = (0.0, 0.0);
    for (k, c) in ctrl.iter_mut().enumerate() {
        let tt = k as f64 * FRAME_S - lead;
        // f0
        wander = 0.99 * wander + 0.04 * gauss(rng);
        let ts = tt.clamp(0.0, speech);
        let mut st = range * (1.5 - 3.0 * ts / speech.max(0.1)) + wander;
        for &(ct, h, w) in &bumps {
            let z = (ts - ct) / w;
            if z.abs() < 4.0 {
                st += h * (-0.5 * z * z).exp();
            }
        }
        if ts > speech - final_len {
            st += final_move * (ts - (speech - final_len)) / final_len;
        }
        // semitones for now; centred on the vowel mean and converted to Hz below
        c.f0 = st;
        c.creak = if ts > speech - 0.25 { creak + 2.0 * actor.creak } else { creak };
        c.fc = last_fc;
        c.fq = last_fq;
        c.bw = base_bw;
        // segment lookup
        if tt < 0.0 || tt >= speech {
            let f = if tt < 0.0 { first_f } else { hold_f };
            c.f = [f[0], f[1], f[2], 3300.0];
            continue;
        }
        while si + 1 < segs.len() && tt >= segs[si].start + segs[si].dur {
            si += 1;
        }
        let s = &segs[si];
        let x = ((tt - s.start) / s.dur).clamp(0.0, 1.0);
        let Some(ph) = s.phone else {
            c.f = [hold_f[0], hold_f[1], hold_f[2], 3300.0];
            continue;
        };
        let mut f = ph.f_start;
        match ph.kind {
            Kind::Vowel => {
                for (j, fj) in f.iter_mut().enumerate() {
                    *fj = ph.f_start[j] + (ph.f_end[j] - ph.f_start[j]) * x;
                }
                c.av = if s.accent { 1.0 } else { 0.72 };
                vowel_st += c.f0;
                vowel_n += 1.0;
            }
            Kind::Approximant => c.av = ph.voice,
            Kind::Nasal => {
                c.av = ph.voice;
                c.bw[0] = 110.0 * bw_scale;
                c.bw[1] *= 3.0;
                c.bw[2] *= 3.0;
                c.bw[3] *= 2.0;
            }
            Kind::Fricative => {
                c.av = ph.voice;
                c.af = ph.noise.2;
                c.vmod = if ph.voiced { 1.0 } else { 0.0 };
                last_fc = ph.noise.0;
                last_fq = ph.noise.1;
                f = hold_f;
            }
            Kind::Stop => {
                if x < 0.75 {
                    c.av = ph.voice;
                } else if x < 0.87 {
                    c.af = ph.noise.2;
                    last_fc = ph.noise.0;
                    last_fq = ph.noise.1;
                } else if ph.voiced {
                    c.av = 0.5;
                } else {
                    c.ah = 0.15;
                }
            }
            Kind::Aspirate => {
                f = s.next_f;
                c.ah = 0.2;
            }
        }
        c.fc = last_fc;
        c.fq = last_fq;
        hold_f = f;
        c.f = [f[0], f[1], f[2], 3300.0];
        // overall loudness declination of ~3 dB across the utterance
        let g = (-3.0 / 20.0 * ts / speech.max(0.1) * std::f64::consts::LN_10).exp();
        c.av *= g;
        c.ah *= g;
        c.af *= g;
    }

    // the actor's (emotion-shifted) f0 is the mean over vowels
    let mean_st = if vowel_n > 0.0 { vowel_st / vowel_n } else { 0.0 };
    for c in ctrl.iter_mut() {
        c.f0 = (base_f0 * ((c.f0 - mean_st) / 12.0).exp2()).clamp(50.0, 550.0);
    }

    // ---------------------------------------------------------------- smoothing
    let af_ = 1.0 - (-FRAME_S / 0.018_f64).exp();
    let aa = 1.0 - (-FRAME_S / 0.006_f64).exp();
    let an = 1.0 - (-FRAME_S / 0.0025_f64).exp();
    let mut prev = ctrl[0];
    for c in ctrl.iter_mut() {
        for j in 0..4 {
            prev.f[j] += af_ * (c.f[j] - prev.f[j]);
            prev.bw[j] += af_ * (c.bw[j] - prev.bw[j]);
        }
        prev.av += aa * (c.av - prev.av);
        prev.ah += an * (c.ah - prev.ah);
        prev.af += an * (c.af - prev.af);
        prev.vmod += aa * (c.vmod - prev.vmod);
        prev.fc = c.fc;
        prev.fq = c.fq;
        prev.f0 = c.f0;
        prev.creak = c.creak;
        *c = prev;
    }

    // ---------------------------------------------------------------- sample loop
    let mut out = vec![0.0f64; n_samples];
    let mut noise = Noise(rng.gen::<u64>() | 1);
    let mut res = [Reson::default(); 5];
    // fixed fifth formant: adds the high-frequency energy real voices have
    res[4].set((4500.0 * actor.vtl).min(7000.0), 300.0);
    let mut bp = BandPass::default();
    let tp_frac = voice.oq * 0.65;
    let tn_frac = voice.oq * 0.35;
    let mut period = FS / ctrl[0].f0;
    let mut tcyc = 0.0f64;
    let mut cyc_amp = 1.0;
    let mut prev_flow = 0.0;
    let mut src_lp = 0.0;
    let one_minus_a = 1.0 - voice.tilt_a;
    for (k, chunk) in out.chunks_mut(FRAME).enumerate() {
        let c = ctrl[k];
        let n = ctrl[(k + 1).min(n_frames - 1)];
        for j in 0..4 {
            res[j].set(c.f[j] * fscale[j], c.bw[j]);
        }
        bp.set(c.fc * fric_scale, c.fq);
        let inv = 1.0 / FRAME as f64;
        let (dav, dah, daf) = ((n.av - c.av) * inv, (n.ah - c.ah) * inv, (n.af - c.af) * inv);
        let (mut av, mut ah, mut afr) = (c.av, c.ah, c.af);
        for o in chunk.iter_mut() {
            tcyc += 1.0;
            if tcyc >= period {
                tcyc -= period;
                period = FS / c.f0 * (1.0 + voice.jitter * gauss(rng));
                cyc_amp = (1.0 + voice.shimmer * gauss(rng)).max(0.2);
                if c.creak > 0.0 && rng.gen::<f64>() < c.creak {
                    period *= rng.gen_range(1.4..2.2);
                    cyc_amp *= rng.gen_range(0.4..0.8);
                }
                period = period.max(8.0);
                if tcyc >= period {
                    tcyc = 0.0;
                }
            }
            let flow = rosenberg(tcyc / period, tp_frac, tn_frac);
            let dflow = (flow - prev_flow) * cyc_amp;
            prev_flow = flow;
            src_lp = one_minus_a * dflow + voice.tilt_a * src_lp;
            let open = if flow > 0.0 { 1.0 } else { 0.35 };
            let x = G_VOICE * av * src_lp + G_ASP * (voice.breath * av * open + ah) * noise.next();
            let mut y = x;
            for r in res.iter_mut() {
                y = r.tick(y);
            }
            let fm = 1.0 - c.vmod + c.vmod * (0.3 + 0.7 * flow);
            let fr = G_FRIC * afr * fm * bp.tick(noise.next());
            *o = y + fr;
            av += dav;
            ah += dah;
            afr += daf;
        }
    }

    // ---------------------------------------------------------------- DC block + normalise
    let mut x1 = 0.0;
    let mut y1 = 0.0;
    let mut peak = 0.0f64;
    for s in out.iter_mut() {
        let y = *s - x1 + 0.995 * y1;
        x1 = *s;
        y1 = y;
        *s = y;
        peak = peak.max(y.abs());
    }
    // Level: the active-speech RMS follows the actor's and the emotion's loudness
    // (so the loudness cue is not undone by crest-factor differences between voice
    // qualities), then the peak is kept within -13..-1 dBFS.
    let loud = actor.loud_db + dev[dim::LOUD];
    let rms_db = (-23.0 + 0.45 * loud).clamp(-31.0, -16.0);
    let a0 = ((lead * FS) as usize).min(out.len());
    let a1 = (((lead + speech) * FS) as usize).clamp(a0, out.len());
    let speech_rms =
        if a1 > a0 { (out[a0..a1].iter().map(|v| v * v).sum::<f64>() / (a1 - a0) as f64).sqrt() } else { 0.0 };
    let gain = if peak > 0.0 && speech_rms > 0.0 {
        let g = 10f64.powf(rms_db / 20.0) / speech_rms;
        let peak_db = 20.0 * (g * peak).log10();
        g * 10f64.powf((peak_db.clamp(-13.0, -1.0) - peak_db) / 20.0)
    } else {
        0.0
    };
    // recording noise floor: pinkish (one-pole low-passed) noise, constant level
    let nl = 10f64.powf(actor.noise_db / 20.0) / 0.229;
    let mut pn = 0.0;
    let samples = out
        .iter()
        .map(|&s| {
            pn = 0.1 * noise.next() + 0.9 * pn;
            let v = (s * gain + nl * pn) * 32767.0;
            v.round().clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    Clip { samples }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(x: &[f64]) -> f64 {
        (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// Prints the raw RMS of the three sources through their filters (used to set the
    /// G_* constants) and checks the balance stays sane.
    #[test]
    fn source_balance() {
        let n = 16_000;
        let mut res = [Reson::default(); 5];
        for (r, (f, b)) in
            res.iter_mut().zip([(720.0, 80.0), (1150.0, 100.0), (2450.0, 140.0), (3300.0, 220.0), (4500.0, 300.0)])
        {
            r.set(f, b);
        }
        let mut res2 = res;
        let period = FS / 120.0;
        let (mut t, mut prev, mut lp) = (0.0, 0.0, 0.0);
        let mut voice = Vec::with_capacity(n);
        let mut asp = Vec::with_capacity(n);
        let mut fric = Vec::with_capacity(n);
        let mut noise = Noise(12345);
        let mut bp = BandPass::default();
        bp.set(5500.0, 2.5);
        for _ in 0..n {
            t += 1.0;
            if t >= period {
                t -= period;
            }
            let fl = rosenberg(t / period, 0.62 * 0.65, 0.62 * 0.35);
            lp = 0.6 * (fl - prev) + 0.4 * lp;
            prev = fl;
            let mut y = G_VOICE * lp;
            for r in res.iter_mut() {
                y = r.tick(y);
            }
            voice.push(y);
            let mut z = G_ASP * noise.next();
            for r in res2.iter_mut() {
                z = r.tick(z);
            }
            asp.push(z);
            fric.push(G_FRIC * bp.tick(noise.next()));
        }
        let (v, a, f) = (rms(&voice[1000..]), rms(&asp[1000..]), rms(&fric[1000..]));
        eprintln!("voice {v:.4} asp {a:.4} fric {f:.4}");
        assert!(v > 0.03 && v < 0.3, "voice rms {v}");
        assert!((a / v) > 0.5 && (a / v) < 2.0, "asp/voice {}", a / v);
        assert!((f / v) > 0.4 && (f / v) < 2.0, "fric/voice {}", f / v);
    }
}
