//! CREMA-D's code sets: actors, sentences, emotions and intensity levels.

/// First and last actor id of CREMA-D.
pub const ACTOR_RANGE: (u32, u32) = (1001, 1091);
/// The 12 sentence codes of CREMA-D.
pub const SENTENCES: [&str; 12] = ["IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI"];
/// The 6 emotion codes, in label order (the order of confusion-matrix rows).
pub const EMOTIONS: [&str; 6] = ["ANG", "DIS", "FEA", "HAP", "NEU", "SAD"];
/// Intensity levels (`XX` = unspecified).
pub const LEVELS: [&str; 4] = ["LO", "MD", "HI", "XX"];
