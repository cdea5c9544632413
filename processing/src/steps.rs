//! The work of each step: from the document and its blobs to the command
//! that records the result.

use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use sha2::{Digest, Sha256};
use studio_analysis::Analysis;
use studio_blob_store::{BlobError, BlobRef};
use studio_command_api::CommandError;
use studio_domain::character::{
    CharacterAggregate, CharacterCommand, CharacterOrigin, CharacterState, CreateCharacter,
};
use studio_domain::document::processing::{DocumentAnalysed, Step, TextExtracted};
use studio_domain::document::{Document, DocumentCommand};
use studio_domain::{Actor, CharacterId, DocumentId, DomainError};
use studio_event_log::{Position, PositionToken};

use crate::cast::{self, KnownCharacter};
use crate::pipeline::Pipeline;

/// Why a step did not produce its result.
#[derive(Debug)]
pub enum StepError {
    /// Will fail again: the file is at fault, or a result is invalid.
    Permanent(String),
    /// May pass: a store was out of reach, a race was lost.
    Transient(String),
    /// The document was deleted meanwhile.
    Gone,
}

impl StepError {
    pub fn from_command(e: CommandError) -> Self {
        match e {
            CommandError::Domain(DomainError::Deleted(_) | DomainError::NotFound(_)) => Self::Gone,
            CommandError::Domain(e) => Self::Permanent(format!("the result was refused: {e}")),
            CommandError::Conflict { .. } | CommandError::Log(_) => Self::Transient(e.to_string()),
            CommandError::Undecodable { .. } | CommandError::Privacy(_) => {
                Self::Permanent(e.to_string())
            }
        }
    }

    fn from_blob(what: &str, e: BlobError) -> Self {
        match e {
            BlobError::Storage(_) | BlobError::Source(_) => {
                Self::Transient(format!("reading {what}: {e}"))
            }
            BlobError::NotFound(_) => {
                Self::Permanent(format!("{what} is missing from the blob store"))
            }
            BlobError::TooLarge { .. } | BlobError::BadReference(_) => {
                Self::Permanent(format!("{what}: {e}"))
            }
        }
    }
}

pub async fn run(
    pipeline: &Pipeline,
    document: DocumentId,
    doc: &Document,
    step: Step,
) -> Result<DocumentCommand, StepError> {
    match step {
        Step::ExtractText => extract(pipeline, doc).await,
        Step::Analyse => analyse(pipeline, doc).await,
        Step::DetectCharacters => detect_characters(pipeline, document, doc).await,
        Step::RecordInteractions => record_interactions(pipeline, doc).await,
        Step::Complete => Ok(DocumentCommand::CompleteProcessing {
            actor: Actor::System,
            at: Utc::now(),
        }),
    }
}

/// Runs CPU-bound work on the blocking pool, within the step time limit.
async fn blocking<T: Send + 'static>(
    pipeline: &Pipeline,
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StepError> {
    let limit = pipeline.config.step_timeout;
    match tokio::time::timeout(limit, tokio::task::spawn_blocking(work)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(StepError::Permanent(format!("{what} failed unexpectedly"))),
        Err(_) => Err(StepError::Permanent(format!(
            "{what} took longer than the limit of {}",
            humanize(limit)
        ))),
    }
}

fn humanize(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

async fn get(
    pipeline: &Pipeline,
    what: &str,
    reference: &str,
    limit: u64,
) -> Result<Bytes, StepError> {
    let blob = BlobRef::parse(reference).map_err(|e| StepError::from_blob(what, e))?;
    pipeline
        .blobs
        .get(&blob, limit)
        .await
        .map_err(|e| StepError::from_blob(what, e))
}

async fn put(
    pipeline: &Pipeline,
    what: &str,
    bytes: Vec<u8>,
) -> Result<(BlobRef, String), StepError> {
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let limit = bytes.len() as u64;
    let stream = futures::stream::once(async move { Ok(Bytes::from(bytes)) });
    let stored = pipeline
        .blobs
        .put(Box::pin(stream), limit)
        .await
        .map_err(|e| StepError::Transient(format!("storing {what}: {e}")))?;
    Ok((stored.blob_ref, sha256))
}

async fn extract(pipeline: &Pipeline, doc: &Document) -> Result<DocumentCommand, StepError> {
    let limits = pipeline.config.limits.clone();
    if doc.size_bytes > limits.max_input_bytes {
        return Err(StepError::Permanent(format!(
            "the upload is {} bytes, the limit is {}",
            doc.size_bytes, limits.max_input_bytes
        )));
    }
    let upload = get(
        pipeline,
        "the upload",
        &doc.blob_ref,
        limits.max_input_bytes,
    )
    .await?;
    let (filename, media_type) = (doc.original_filename.clone(), doc.media_type.clone());
    let extracted = blocking(pipeline, "reading the document", move || {
        studio_extract::read_document(&upload, &filename, &media_type, &limits)
    })
    .await?
    .map_err(|e| StepError::Permanent(e.to_string()))?;
    let chars = extracted.text.chars().count() as u64;
    let (text_ref, text_sha256) =
        put(pipeline, "the extracted text", extracted.text.into_bytes()).await?;
    Ok(DocumentCommand::RecordTextExtracted {
        actor: Actor::System,
        text: TextExtracted {
            text_ref: text_ref.to_string(),
            text_sha256,
            chars,
            format: extracted.format.as_str().to_owned(),
            encoding: extracted.encoding,
            boilerplate_removed: extracted.boilerplate_removed,
            pages: extracted.pages,
            extracted_at: Utc::now(),
        },
    })
}

fn text_limit(pipeline: &Pipeline) -> u64 {
    pipeline.config.limits.max_text_chars.saturating_mul(4)
}

async fn analyse(pipeline: &Pipeline, doc: &Document) -> Result<DocumentCommand, StepError> {
    let text = doc
        .processing
        .text
        .as_ref()
        .ok_or_else(|| StepError::Permanent("no extracted text is recorded".into()))?;
    let bytes = get(
        pipeline,
        "the extracted text",
        &text.text_ref,
        text_limit(pipeline),
    )
    .await?;
    let (analysis, json) = blocking(pipeline, "analysing the text", move || {
        let text = String::from_utf8_lossy(&bytes);
        let analysis = studio_analysis::analyze(&text);
        let json = serde_json::to_vec(&analysis);
        (analysis, json)
    })
    .await?;
    let json = json.map_err(|e| StepError::Permanent(format!("encoding the analysis: {e}")))?;
    let (analysis_ref, _) = put(pipeline, "the analysis", json).await?;
    let s = &analysis.statistics;
    Ok(DocumentCommand::RecordAnalysis {
        actor: Actor::System,
        analysis: DocumentAnalysed {
            analysis_ref: analysis_ref.to_string(),
            analyser: studio_analysis::ANALYSER.to_owned(),
            words: analysis.words as u64,
            sentences: analysis.sentences as u64,
            paragraphs: analysis.paragraphs as u64,
            chapters: analysis.chapters.len() as u64,
            flesch_reading_ease: s.flesch_reading_ease,
            flesch_kincaid_grade: s.flesch_kincaid_grade,
            dialogue_share: s.dialogue_share,
            analysed_at: Utc::now(),
        },
    })
}

async fn load_analysis(pipeline: &Pipeline, doc: &Document) -> Result<Analysis, StepError> {
    let recorded = doc
        .processing
        .analysis
        .as_ref()
        .ok_or_else(|| StepError::Permanent("no analysis is recorded".into()))?;
    let bytes = get(
        pipeline,
        "the analysis",
        &recorded.analysis_ref,
        text_limit(pipeline) * 4,
    )
    .await?;
    blocking(pipeline, "reading the analysis", move || {
        serde_json::from_slice::<Analysis>(&bytes)
    })
    .await?
    .map_err(|e| StepError::Permanent(format!("the analysis blob is unreadable: {e}")))
}

/// Waits until the read model holds everything the log held when the
/// step began: every character the owner created before is visible.
async fn catch_up(pipeline: &Pipeline) -> Result<(), StepError> {
    let ends = pipeline
        .service
        .log()
        .end_offsets()
        .await
        .map_err(|e| StepError::Transient(e.to_string()))?;
    let token = PositionToken::from_positions(ends.into_iter().filter(|(_, end)| *end > 0).map(
        |(partition, end)| Position {
            partition,
            offset: end - 1,
        },
    ));
    pipeline
        .progress
        .wait_for(&token, pipeline.config.read_wait)
        .await
        .map_err(|e| StepError::Transient(e.to_string()))
}

async fn detect_characters(
    pipeline: &Pipeline,
    document: DocumentId,
    doc: &Document,
) -> Result<DocumentCommand, StepError> {
    let analysis = load_analysis(pipeline, doc).await?;
    catch_up(pipeline).await?;
    let mut names: Vec<String> = analysis
        .characters
        .iter()
        .flat_map(cast::name_keys)
        .collect();
    names.sort();
    names.dedup();
    let known: Vec<KnownCharacter> = pipeline
        .read
        .characters_named(*doc.owner.as_uuid(), &names)
        .await
        .map_err(|e| StepError::Transient(format!("finding the owner's characters: {e}")))?
        .into_iter()
        // Only what people made: detected characters of other documents
        // stay each document's own.
        .filter(|c| c.origin != CharacterOrigin::Detected.as_str())
        .map(|c| KnownCharacter {
            character_id: CharacterId::from_uuid(c.character_id),
            name_key: c.name_key,
        })
        .collect();
    let mut chosen = cast::choose_cast(document, &analysis, &known, pipeline.config.min_mentions);
    let mut gone = Vec::new();
    for new in &chosen.create {
        let meta = pipeline.meta(document, doc, &format!("create:{}", new.character_id));
        let command = CharacterCommand::Create(CreateCharacter {
            actor: Actor::System,
            owner: doc.owner,
            name: new.name.clone(),
            aliases: new.aliases.clone(),
            personality_profile: serde_json::json!({}),
            source_document: Some(document),
            origin: CharacterOrigin::Detected,
            at: meta.at,
        });
        match pipeline
            .service
            .execute::<CharacterAggregate>(new.character_id, &meta, vec![command])
            .await
        {
            Ok(_) => {}
            Err(CommandError::Domain(DomainError::AlreadyExists(_))) => {
                // Made by an earlier run; one its owner deleted since stays out.
                let loaded = pipeline
                    .service
                    .load::<CharacterAggregate>(new.character_id.into())
                    .await
                    .map_err(StepError::from_command)?;
                if !matches!(loaded.state.state, CharacterState::Active(_)) {
                    gone.push(new.character_id);
                }
            }
            Err(e) => return Err(StepError::from_command(e)),
        }
    }
    chosen
        .characters
        .retain(|c| !gone.contains(&c.character_id));
    Ok(DocumentCommand::RecordCharacters {
        actor: Actor::System,
        characters: chosen.characters,
    })
}

async fn record_interactions(
    pipeline: &Pipeline,
    doc: &Document,
) -> Result<DocumentCommand, StepError> {
    let analysis = load_analysis(pipeline, doc).await?;
    let interactions = cast::interactions(&analysis, &doc.processing.characters);
    Ok(DocumentCommand::RecordInteractions {
        actor: Actor::System,
        interactions,
    })
}
