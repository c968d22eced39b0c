//! Phone inventory and the fixed phonetic templates of the twelve CREMA-D sentences.
//!
//! Formant targets are adult-male values (Peterson & Barney style); the renderer scales
//! them by each actor's vocal-tract-length factor.

/// Broad articulatory class of a phone, which decides how it is rendered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    /// Voiced, full amplitude, formant targets (possibly gliding from start to end).
    Vowel,
    /// Liquids and glides: voiced, a bit weaker, vowel-like formants.
    Approximant,
    /// Nasal murmur: voiced, weak, low F1, damped higher formants.
    Nasal,
    /// Fricative noise shaped by a band-pass resonator; `voiced` adds a weak voice source.
    Fricative,
    /// Closure followed by a short shaped burst; voiceless stops add aspiration.
    Stop,
    /// /h/: aspiration noise through the formants of the following vowel.
    Aspirate,
}

/// Static description of one phone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phone {
    pub kind: Kind,
    /// F1..F3 at the start of the segment (Hz, adult male).
    pub f_start: [f64; 3],
    /// F1..F3 at the end of the segment (equal to `f_start` for monophthongs).
    pub f_end: [f64; 3],
    /// Intrinsic duration in milliseconds at a neutral speaking rate.
    pub dur_ms: f64,
    /// Voicing amplitude (relative to a full vowel).
    pub voice: f64,
    /// Frication/burst noise: centre frequency (Hz, male), Q and amplitude.
    pub noise: (f64, f64, f64),
    /// Whether the phone is voiced (voiced fricatives/stops keep a weak voice source).
    pub voiced: bool,
}

const fn v(f1: f64, f2: f64, f3: f64, dur: f64) -> Phone {
    Phone {
        kind: Kind::Vowel,
        f_start: [f1, f2, f3],
        f_end: [f1, f2, f3],
        dur_ms: dur,
        voice: 1.0,
        noise: (0.0, 1.0, 0.0),
        voiced: true,
    }
}

const fn dip(a: [f64; 3], b: [f64; 3], dur: f64) -> Phone {
    Phone { kind: Kind::Vowel, f_start: a, f_end: b, dur_ms: dur, voice: 1.0, noise: (0.0, 1.0, 0.0), voiced: true }
}

const fn approx(f1: f64, f2: f64, f3: f64) -> Phone {
    Phone {
        kind: Kind::Approximant,
        f_start: [f1, f2, f3],
        f_end: [f1, f2, f3],
        dur_ms: 60.0,
        voice: 0.6,
        noise: (0.0, 1.0, 0.0),
        voiced: true,
    }
}

const fn nasal(f2: f64, f3: f64) -> Phone {
    Phone {
        kind: Kind::Nasal,
        f_start: [260.0, f2, f3],
        f_end: [260.0, f2, f3],
        dur_ms: 65.0,
        voice: 0.45,
        noise: (0.0, 1.0, 0.0),
        voiced: true,
    }
}

const fn fric(centre: f64, q: f64, amp: f64, voiced: bool, dur: f64) -> Phone {
    Phone {
        kind: Kind::Fricative,
        f_start: [400.0, 1500.0, 2500.0],
        f_end: [400.0, 1500.0, 2500.0],
        dur_ms: dur,
        voice: if voiced { 0.25 } else { 0.0 },
        noise: (centre, q, amp),
        voiced,
    }
}

const fn stop(burst: f64, f2_locus: f64, voiced: bool) -> Phone {
    Phone {
        kind: Kind::Stop,
        f_start: [250.0, f2_locus, 2500.0],
        f_end: [250.0, f2_locus, 2500.0],
        dur_ms: if voiced { 60.0 } else { 75.0 },
        voice: if voiced { 0.12 } else { 0.0 },
        noise: (burst, 1.6, 0.55),
        voiced,
    }
}

const IY: [f64; 3] = [280.0, 2250.0, 2950.0];
const AA: [f64; 3] = [720.0, 1150.0, 2450.0];
const EH: [f64; 3] = [530.0, 1840.0, 2480.0];
const AO: [f64; 3] = [570.0, 880.0, 2410.0];
const UW: [f64; 3] = [320.0, 900.0, 2250.0];
const IH: [f64; 3] = [400.0, 1950.0, 2550.0];

/// Looks a phone symbol (ARPAbet-like) up.
pub(crate) fn phone(sym: &str) -> Option<Phone> {
    Some(match sym {
        "IY" => v(IY[0], IY[1], IY[2], 105.0),
        "IH" => v(IH[0], IH[1], IH[2], 75.0),
        "EH" => v(EH[0], EH[1], EH[2], 95.0),
        "AE" => v(660.0, 1720.0, 2410.0, 120.0),
        "AA" => v(AA[0], AA[1], AA[2], 120.0),
        "AO" => v(AO[0], AO[1], AO[2], 120.0),
        "UH" => v(440.0, 1020.0, 2240.0, 80.0),
        "UW" => v(UW[0], UW[1], UW[2], 105.0),
        "AH" => v(600.0, 1200.0, 2400.0, 85.0),
        "ER" => v(480.0, 1350.0, 1700.0, 100.0),
        "AX" => v(500.0, 1500.0, 2500.0, 55.0),
        "AY" => dip(AA, IH, 160.0),
        "EY" => dip(EH, IY, 140.0),
        "OW" => dip(AO, UW, 140.0),
        "AW" => dip(AA, UW, 165.0),
        "OY" => dip(AO, IY, 170.0),
        "L" => approx(360.0, 1100.0, 2700.0),
        "R" => approx(420.0, 1250.0, 1600.0),
        "W" => approx(300.0, 700.0, 2200.0),
        "Y" => approx(270.0, 2200.0, 3000.0),
        "M" => nasal(1100.0, 2200.0),
        "N" => nasal(1600.0, 2600.0),
        "NG" => nasal(2000.0, 2600.0),
        "S" => fric(5500.0, 2.5, 0.55, false, 110.0),
        "Z" => fric(5200.0, 2.5, 0.35, true, 85.0),
        "SH" => fric(2900.0, 2.0, 0.55, false, 115.0),
        "ZH" => fric(2800.0, 2.0, 0.35, true, 75.0),
        "F" => fric(4200.0, 0.8, 0.16, false, 100.0),
        "V" => fric(3800.0, 0.8, 0.10, true, 65.0),
        "TH" => fric(4600.0, 0.8, 0.13, false, 95.0),
        "DH" => fric(4200.0, 0.8, 0.07, true, 45.0),
        "P" => stop(900.0, 900.0, false),
        "B" => stop(900.0, 900.0, true),
        "T" => stop(4000.0, 1750.0, false),
        "D" => stop(3800.0, 1750.0, true),
        "K" => stop(2300.0, 1900.0, false),
        "G" => stop(2200.0, 1900.0, true),
        "HH" => Phone {
            kind: Kind::Aspirate,
            f_start: [500.0, 1500.0, 2500.0],
            f_end: [500.0, 1500.0, 2500.0],
            dur_ms: 65.0,
            voice: 0.0,
            noise: (0.0, 1.0, 0.0),
            voiced: false,
        },
        _ => return None,
    })
}

/// The CREMA-D sentence codes, in CREMA-D's documented order.
pub const SENTENCES: [&str; 12] = ["IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI"];

/// Phonetic template of a sentence: words separated by `|`, phones by spaces; a trailing
/// `1` marks the vowel carrying a pitch accent (primary stress of a content word).
pub(crate) fn template(code: &str) -> Option<&'static str> {
    Some(match code {
        // It's eleven o'clock.
        "IEO" => "IH T S | IH L EH1 V AX N | AX K L AA1 K",
        // That is exactly what happened.
        "TIE" => "DH AE1 T | IH Z | IH G Z AE1 K T L IY | W AH T | HH AE1 P AX N D",
        // I'm on my way to the meeting.
        "IOM" => "AY1 M | AA N | M AY | W EY1 | T AX | DH AX | M IY1 T IH NG",
        // I wonder what this is about.
        "IWW" => "AY | W AH1 N D ER | W AH T | DH IH1 S | IH Z | AX B AW1 T",
        // The airplane is almost full.
        "TAI" => "DH IY | EH1 R P L EY N | IH Z | AO1 L M OW S T | F UH1 L",
        // Maybe tomorrow it will be cold.
        "MTI" => "M EY1 B IY | T AX M AA1 R OW | IH T | W IH L | B IY | K OW1 L D",
        // I would like a new alarm clock.
        "IWL" => "AY | W UH D | L AY1 K | AX | N UW1 | AX L AA1 R M | K L AA1 K",
        // I think I have a doctor's appointment.
        "ITH" => "AY | TH IH1 NG K | AY | HH AE V | AX | D AA1 K T ER Z | AX P OY1 N T M AX N T",
        // Don't forget a jacket.
        "DFA" => "D OW1 N T | F ER G EH1 T | AX | D ZH AE1 K IH T",
        // I think I've seen this before.
        "ITS" => "AY | TH IH1 NG K | AY V | S IY1 N | DH IH S | B IH F AO1 R",
        // The surface is slick.
        "TSI" => "DH AX | S ER1 F AX S | IH Z | S L IH1 K",
        // We'll stop in a couple of minutes.
        "WSI" => "W IY L | S T AA1 P | IH N | AX | K AH1 P AX L | AX V | M IH1 N AX T S",
        _ => return None,
    })
}

/// One phone of a parsed template.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TemplatePhone {
    pub phone: Phone,
    /// Carries a pitch accent.
    pub accent: bool,
    /// Index of the word in the sentence.
    pub word: usize,
}

/// Parses a sentence template into phones; `None` for an unknown code or symbol.
pub(crate) fn parse(code: &str) -> Option<Vec<TemplatePhone>> {
    let t = template(code)?;
    let mut out = Vec::new();
    for (w, word) in t.split('|').enumerate() {
        for sym in word.split_whitespace() {
            let (base, accent) = match sym.strip_suffix('1') {
                Some(b) => (b, true),
                None => (sym, false),
            };
            out.push(TemplatePhone { phone: phone(base)?, accent, word: w });
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for s in SENTENCES {
            let p = parse(s).expect(s);
            assert!(p.len() > 8, "{s}");
            assert!(p.iter().any(|x| x.accent), "{s} has an accent");
        }
        assert!(parse("XYZ").is_none());
    }
}
