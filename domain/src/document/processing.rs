//! Processing a document: the stages the pipeline records on the document,
//! in order, each once. Results too large for an event (the extracted text,
//! every mention) live in blobs the events reference; the events carry what
//! lists, graphs and progress need.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Actor, CharacterId, DomainError, rules};

/// Most characters a document records; a text naming more keeps its most
/// mentioned (the rest stay in the analysis blob).
pub const MAX_DETECTED_CHARACTERS: usize = 500;
/// Most interactions a document records; the heaviest are kept.
pub const MAX_INTERACTIONS: usize = 2_000;
pub const MAX_REASON_CHARS: usize = 1_000;
const MAX_CHAPTERS: u64 = 100_000;

/// Where processing stands. Each stage is done once, in this order.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Uploaded; waiting for text extraction.
    #[default]
    Uploaded,
    TextExtracted,
    Analysed,
    CharactersDetected,
    InteractionsRecorded,
    Completed,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Self::Uploaded,
        Self::TextExtracted,
        Self::Analysed,
        Self::CharactersDetected,
        Self::InteractionsRecorded,
        Self::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploaded => "uploaded",
            Self::TextExtracted => "text_extracted",
            Self::Analysed => "analysed",
            Self::CharactersDetected => "characters_detected",
            Self::InteractionsRecorded => "interactions_recorded",
            Self::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|stage| stage.as_str() == s)
    }

    /// How far along a document at this stage is, for progress bars:
    /// roughly the share of the work (extraction and analysis dominate).
    pub fn percent(self) -> u8 {
        match self {
            Self::Uploaded => 0,
            Self::TextExtracted => 40,
            Self::Analysed => 70,
            Self::CharactersDetected => 85,
            Self::InteractionsRecorded => 95,
            Self::Completed => 100,
        }
    }

    /// The step that moves a document on from this stage.
    pub fn next_step(self) -> Option<Step> {
        match self {
            Self::Uploaded => Some(Step::ExtractText),
            Self::TextExtracted => Some(Step::Analyse),
            Self::Analysed => Some(Step::DetectCharacters),
            Self::CharactersDetected => Some(Step::RecordInteractions),
            Self::InteractionsRecorded => Some(Step::Complete),
            Self::Completed => None,
        }
    }
}

/// A unit of pipeline work; a failure names the step that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    ExtractText,
    Analyse,
    DetectCharacters,
    RecordInteractions,
    Complete,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExtractText => "extract_text",
            Self::Analyse => "analyse",
            Self::DetectCharacters => "detect_characters",
            Self::RecordInteractions => "record_interactions",
            Self::Complete => "complete",
        }
    }

    /// The stage a document must be at for this step to run.
    pub fn from_stage(self) -> Stage {
        match self {
            Self::ExtractText => Stage::Uploaded,
            Self::Analyse => Stage::TextExtracted,
            Self::DetectCharacters => Stage::Analysed,
            Self::RecordInteractions => Stage::CharactersDetected,
            Self::Complete => Stage::InteractionsRecorded,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextExtracted {
    /// The clean text (UTF-8) in the blob store.
    pub text_ref: String,
    pub text_sha256: String,
    pub chars: u64,
    /// `plain_text`, `markdown`, `html`, `epub`, `pdf` or `docx`.
    pub format: String,
    /// The character encoding a plain text file was read in, when it had one.
    pub encoding: Option<String>,
    /// Whether a Project Gutenberg header or licence was stripped.
    pub boilerplate_removed: bool,
    /// Pages of a paginated format (PDF).
    pub pages: Option<u32>,
    pub extracted_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentAnalysed {
    /// The full analysis (chapters, statistics, every mention) as JSON in
    /// the blob store.
    pub analysis_ref: String,
    /// The analyser that produced it, so that results of different
    /// versions are never mistaken for each other.
    pub analyser: String,
    pub words: u64,
    pub sentences: u64,
    pub paragraphs: u64,
    pub chapters: u64,
    pub flesch_reading_ease: f64,
    pub flesch_kincaid_grade: f64,
    /// Share of words inside quotation marks, 0 to 1.
    pub dialogue_share: f64,
    pub analysed_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectedCharacter {
    pub character_id: CharacterId,
    /// The analysis' own ids (`c1`, ...) that its mentions in the analysis
    /// blob carry: several when the analysis found apart what is one
    /// character here (two names the owner's character both bears).
    pub local_ids: Vec<String>,
    pub name: String,
    pub mentions: u64,
    /// Character offset of the first mention in the extracted text.
    pub first_mention: u64,
    /// True when the document's mentions were joined to a character the
    /// owner already had, rather than to a new detected one.
    pub linked: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharactersDetected {
    pub characters: Vec<DetectedCharacter>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    pub a: CharacterId,
    pub b: CharacterId,
    pub weight: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InteractionsRecorded {
    pub interactions: Vec<Interaction>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessingCompleted {
    pub completed_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessingFailed {
    pub step: Step,
    pub reason: String,
    /// Whether running the step again may succeed (the file is fine, a
    /// store was not); a corrupt file is not retryable.
    pub retryable: bool,
    pub attempts: u32,
    pub failed_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessingRestarted {
    pub restarted_at: DateTime<Utc>,
}

/// What the pipeline has recorded on a document.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Processing {
    /// Counts restarts: the pipeline keys its commands by run, so a
    /// restarted run is not mistaken for a retry of the failed one.
    pub run: u32,
    pub stage: Stage,
    pub text: Option<TextExtracted>,
    pub analysis: Option<DocumentAnalysed>,
    pub characters: Vec<DetectedCharacter>,
    pub interactions: Vec<Interaction>,
    /// Set when the last attempt failed; processing then waits for a restart.
    pub failure: Option<ProcessingFailed>,
}

/// Only the pipeline records processing results: users cannot forge them.
pub(super) fn pipeline_only(actor: &Actor) -> Result<(), DomainError> {
    match actor {
        Actor::System => Ok(()),
        Actor::User { .. } => Err(DomainError::Forbidden(
            "only the processing pipeline records processing results",
        )),
    }
}

/// Whether `step` is due: `Ok(true)` to record it, `Ok(false)` when it was
/// recorded already (a retry records nothing), an error when it is early
/// or processing has failed.
pub(super) fn due(processing: &Processing, step: Step) -> Result<bool, DomainError> {
    let needed = step.from_stage();
    if processing.stage > needed {
        return Ok(false);
    }
    if processing.failure.is_some() {
        return Err(DomainError::invalid(
            "stage",
            "processing has failed; restart it first",
        ));
    }
    if processing.stage < needed {
        return Err(DomainError::invalid(
            "stage",
            format!(
                "{} needs the document at stage {}, it is at {}",
                step.as_str(),
                needed.as_str(),
                processing.stage.as_str()
            ),
        ));
    }
    Ok(true)
}

pub(super) fn check_text(text: &TextExtracted) -> Result<(), DomainError> {
    rules::blob_ref(&text.text_ref)?;
    rules::sha256_hex(&text.text_sha256)?;
    let known = ["plain_text", "markdown", "html", "epub", "pdf", "docx"];
    if !known.contains(&text.format.as_str()) {
        return Err(DomainError::invalid("format", "is not a supported format"));
    }
    if let Some(encoding) = &text.encoding
        && (encoding.is_empty() || encoding.len() > 64)
    {
        return Err(DomainError::invalid("encoding", "is not an encoding name"));
    }
    Ok(())
}

pub(super) fn check_analysis(analysis: &DocumentAnalysed) -> Result<(), DomainError> {
    rules::blob_ref(&analysis.analysis_ref)?;
    if analysis.analyser.is_empty() || analysis.analyser.len() > 100 {
        return Err(DomainError::invalid("analyser", "must name the analyser"));
    }
    let finite = [
        analysis.flesch_reading_ease,
        analysis.flesch_kincaid_grade,
        analysis.dialogue_share,
    ]
    .iter()
    .all(|x| x.is_finite());
    if !finite || !(0.0..=1.0).contains(&analysis.dialogue_share) {
        return Err(DomainError::invalid(
            "statistics",
            "must be finite, with a dialogue share between 0 and 1",
        ));
    }
    if analysis.chapters > MAX_CHAPTERS {
        return Err(DomainError::invalid("chapters", "too many chapters"));
    }
    Ok(())
}

pub(super) fn check_characters(characters: &[DetectedCharacter]) -> Result<(), DomainError> {
    if characters.len() > MAX_DETECTED_CHARACTERS {
        return Err(DomainError::invalid(
            "characters",
            format!("at most {MAX_DETECTED_CHARACTERS}"),
        ));
    }
    let mut ids = std::collections::HashSet::new();
    for c in characters {
        rules::name(&c.name)?;
        let valid_local = |id: &String| !id.is_empty() && id.len() <= 32;
        if c.local_ids.is_empty() || c.local_ids.len() > 100 || !c.local_ids.iter().all(valid_local)
        {
            return Err(DomainError::invalid("local_ids", "are not analysis ids"));
        }
        if c.mentions == 0 {
            return Err(DomainError::invalid(
                "mentions",
                "a detected character is mentioned",
            ));
        }
        if !ids.insert(c.character_id) {
            return Err(DomainError::invalid(
                "characters",
                "names a character twice",
            ));
        }
    }
    Ok(())
}

pub(super) fn check_interactions(
    processing: &Processing,
    interactions: &[Interaction],
) -> Result<(), DomainError> {
    if interactions.len() > MAX_INTERACTIONS {
        return Err(DomainError::invalid(
            "interactions",
            format!("at most {MAX_INTERACTIONS}"),
        ));
    }
    let known = |id: &CharacterId| processing.characters.iter().any(|c| c.character_id == *id);
    let mut pairs = std::collections::HashSet::new();
    for i in interactions {
        if i.a == i.b || i.weight == 0 {
            return Err(DomainError::invalid(
                "interactions",
                "pair two different characters with a positive weight",
            ));
        }
        if !known(&i.a) || !known(&i.b) {
            return Err(DomainError::invalid(
                "interactions",
                "name only characters detected in the document",
            ));
        }
        if !pairs.insert((i.a.min(i.b), i.a.max(i.b))) {
            return Err(DomainError::invalid("interactions", "list a pair twice"));
        }
    }
    Ok(())
}

pub(super) fn check_failure(failure: &ProcessingFailed) -> Result<String, DomainError> {
    let reason: String = failure
        .reason
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if reason.is_empty() {
        return Err(DomainError::invalid("reason", "must say why"));
    }
    // A reason is a diagnostic: cut, never refuse, so a failure is always recorded.
    Ok(reason.chars().take(MAX_REASON_CHARS).collect())
}
