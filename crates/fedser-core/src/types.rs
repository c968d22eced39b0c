use std::fmt;

use serde::{Deserialize, Serialize};

/// One of CREMA-D's six emotions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Emotion {
    /// Anger.
    #[serde(rename = "ANG")]
    Anger,
    /// Disgust.
    #[serde(rename = "DIS")]
    Disgust,
    /// Fear.
    #[serde(rename = "FEA")]
    Fear,
    /// Happiness.
    #[serde(rename = "HAP")]
    Happy,
    /// Neutral.
    #[serde(rename = "NEU")]
    Neutral,
    /// Sadness.
    #[serde(rename = "SAD")]
    Sad,
}

impl Emotion {
    /// All emotions in label order.
    pub const ALL: [Emotion; 6] =
        [Emotion::Anger, Emotion::Disgust, Emotion::Fear, Emotion::Happy, Emotion::Neutral, Emotion::Sad];

    /// The three-letter code (`ANG`).
    #[must_use]
    pub fn code(self) -> &'static str {
        crate::codes::EMOTIONS[self as usize]
    }

    /// Parses a three-letter code.
    #[must_use]
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }
}

impl fmt::Display for Emotion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Speaker sex as given in `VideoDemographics.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Sex {
    /// "Female".
    Female,
    /// "Male".
    Male,
}

impl Sex {
    /// Parses the sheet's spelling (`Male`, `Female`, case-insensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "male" | "m" => Some(Sex::Male),
            "female" | "f" => Some(Sex::Female),
            _ => None,
        }
    }

    /// The sheet's spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "Female",
            Sex::Male => "Male",
        }
    }
}

/// An evaluation protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// Stratified 70:30 split of each actor's clips (speakers seen in training).
    #[serde(rename = "speaker_dependent_70_30")]
    SpeakerDependent7030,
    /// Leave-one-speaker-out: one fold per actor.
    Loso,
    /// k folds of actors.
    GroupKfold,
}

impl Protocol {
    /// All protocols.
    pub const ALL: [Protocol; 3] = [Protocol::SpeakerDependent7030, Protocol::Loso, Protocol::GroupKfold];

    /// The name used in pipeline files, tables and results.json.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::SpeakerDependent7030 => "speaker_dependent_70_30",
            Protocol::Loso => "loso",
            Protocol::GroupKfold => "group_kfold",
        }
    }

    /// Parses [`Protocol::as_str`]'s spelling.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether the test speakers are unseen in training.
    #[must_use]
    pub fn speaker_independent(self) -> bool {
        !matches!(self, Protocol::SpeakerDependent7030)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a model was trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Training {
    /// All training data in one place.
    Centralized,
    /// One client per actor.
    Federated,
}

/// A parsed CREMA-D file name: `{ActorID}_{Sentence}_{Emotion}_{Level}.wav`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClipName {
    /// Actor id (`1001`).
    pub actor: u32,
    /// Sentence code (`DFA`).
    pub sentence: String,
    /// Emotion code (`ANG`).
    pub emotion: String,
    /// Level code (`XX`).
    pub level: String,
}

/// Why a file name is not a CREMA-D clip name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClipNameError {
    /// Not `.wav`.
    #[error("not a .wav file name")]
    NotWav,
    /// Wrong number of `_`-separated fields.
    #[error("expected 4 fields ActorID_Sentence_Emotion_Level, found {0}")]
    Fields(usize),
    /// Actor id not an integer.
    #[error("actor id `{0}` is not a number")]
    Actor(String),
}

impl ClipName {
    /// Parses the grammar only; code sets are checked by the caller (they are
    /// configurable in the pipeline).
    ///
    /// # Errors
    /// [`ClipNameError`] when the name has the wrong shape.
    pub fn parse(file_name: &str) -> Result<Self, ClipNameError> {
        let stem =
            file_name.strip_suffix(".wav").or_else(|| file_name.strip_suffix(".WAV")).ok_or(ClipNameError::NotWav)?;
        let parts: Vec<&str> = stem.split('_').collect();
        if parts.len() != 4 {
            return Err(ClipNameError::Fields(parts.len()));
        }
        let actor = parts[0].parse::<u32>().map_err(|_| ClipNameError::Actor(parts[0].to_owned()))?;
        Ok(Self { actor, sentence: parts[1].to_owned(), emotion: parts[2].to_owned(), level: parts[3].to_owned() })
    }

    /// The canonical file name.
    #[must_use]
    pub fn file_name(&self) -> String {
        format!("{}_{}_{}_{}.wav", self.actor, self.sentence, self.emotion, self.level)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cremad_names() {
        let c = ClipName::parse("1001_DFA_ANG_XX.wav").unwrap();
        assert_eq!(c.actor, 1001);
        assert_eq!(c.emotion, "ANG");
        assert_eq!(c.file_name(), "1001_DFA_ANG_XX.wav");
        assert_eq!(ClipName::parse("1001_DFA_ANG.wav"), Err(ClipNameError::Fields(3)));
        assert_eq!(ClipName::parse("x_DFA_ANG_XX.wav"), Err(ClipNameError::Actor("x".into())));
        assert_eq!(ClipName::parse("1001_DFA_ANG_XX.mp3"), Err(ClipNameError::NotWav));
    }

    #[test]
    fn emotion_codes_round_trip() {
        for e in Emotion::ALL {
            assert_eq!(Emotion::from_code(e.code()), Some(e));
        }
        assert_eq!(Emotion::from_code("XXX"), None);
        assert_eq!(Protocol::parse("loso"), Some(Protocol::Loso));
    }
}
