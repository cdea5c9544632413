//! Processing events into rows: the document's stage and statistics, and
//! what its analysis found. Chapters, distinctive terms and mentions are
//! read from the analysis blob the `analysed` event references; every
//! statement is guarded by the document's version, so nothing is applied
//! twice. Also the name index of characters, by which the pipeline joins
//! what it detects to the characters an owner has.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};
use studio_analysis::Analysis;
use studio_blob_store::BlobStore;
use studio_domain::document::DocumentEvent;
use studio_domain::document::processing::Stage;
use studio_domain::rules;

use super::apply::{int, timestamp};
use super::dialect::Dialect;
use super::rows::{self, Ty, Val};
use crate::ProjectionError;
use crate::analysis_blob::read_analysis;

/// Tables holding what processing found, each keyed by `document_id`.
const DERIVED: &[&str] = &[
    "document_chapters",
    "document_terms",
    "document_characters",
    "mentions",
    "interactions",
];

fn query(
    d: Dialect,
    template: &str,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(sqlx::AssertSqlSafe(d.sql(template)))
}

pub(super) async fn forget_document(
    conn: &mut AnyConnection,
    d: Dialect,
    document_id: &str,
) -> Result<(), ProjectionError> {
    for table in DERIVED {
        query(
            d,
            &format!("DELETE FROM {table} WHERE document_id = $1::uuid"),
        )
        .bind(document_id.to_owned())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) async fn forget_character(
    conn: &mut AnyConnection,
    d: Dialect,
    character_id: &str,
) -> Result<(), ProjectionError> {
    for sql in [
        "DELETE FROM document_characters WHERE character_id = $1::uuid",
        "DELETE FROM mentions WHERE character_id = $1::uuid",
        "DELETE FROM interactions WHERE a = $1::uuid OR b = $1::uuid",
    ] {
        query(d, sql)
            .bind(character_id.to_owned())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Rewrites the name keys of characters from their rows (none once a
/// character is deleted).
pub(super) async fn refresh_character_names(
    conn: &mut AnyConnection,
    d: Dialect,
    character_ids: &[String],
) -> Result<(), ProjectionError> {
    if character_ids.is_empty() {
        return Ok(());
    }
    let ids = rows::list(d, 1, Ty::Uuid);
    let list = rows::list_values(character_ids);
    query(
        d,
        &format!("DELETE FROM character_names WHERE character_id IN {ids}"),
    )
    .bind(list.clone())
    .execute(&mut *conn)
    .await?;
    let select = query(
        d,
        &format!(
            "SELECT character_id::text AS character_id, owner_id::text AS owner_id, name,
               aliases::text AS aliases, origin FROM characters WHERE character_id IN {ids}"
        ),
    )
    .bind(list);
    let found = select.fetch_all(&mut *conn).await?;
    let mut values = Vec::new();
    for row in &found {
        let character: String = row.try_get("character_id")?;
        let owner: String = row.try_get("owner_id")?;
        let origin: String = row.try_get("origin")?;
        let name: String = row.try_get("name")?;
        let aliases: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("aliases")?)
            .map_err(|e| ProjectionError::Corrupt(format!("aliases of {character}: {e}")))?;
        let mut keys: Vec<String> = std::iter::once(name)
            .chain(aliases)
            .map(|n| rules::name_key(&n))
            .collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            values.push(vec![
                Val::Text(owner.clone()),
                Val::Text(key),
                Val::Text(character.clone()),
                Val::Text(origin.clone()),
            ]);
        }
    }
    rows::run(
        conn,
        d,
        "INSERT INTO character_names (owner_id, name_key, character_id, origin) ",
        &[Ty::Uuid, Ty::Text, Ty::Uuid, Ty::Text],
        values,
        " ON CONFLICT DO NOTHING",
    )
    .await?;
    Ok(())
}

/// The document's columns and rows after one processing event.
pub(super) async fn event(
    conn: &mut AnyConnection,
    d: Dialect,
    blobs: &dyn BlobStore,
    document_id: &str,
    version: i64,
    time: &str,
    event: DocumentEvent,
) -> Result<(), ProjectionError> {
    // Moves the document to `stage` unless this event was applied already;
    // a row affected means the caller should write the event's rows.
    let advance = |stage: Stage| {
        query(
            d,
            "UPDATE documents SET stage = $1, updated_at = $2::timestamptz, version = $3
             WHERE document_id = $4::uuid AND version < $3",
        )
        .bind(stage.as_str())
        .bind(time.to_owned())
        .bind(version)
        .bind(document_id.to_owned())
    };
    match event {
        DocumentEvent::TextExtracted(t) => {
            if advance(Stage::TextExtracted)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                == 0
            {
                return Ok(());
            }
            query(
                d,
                "UPDATE documents SET text_ref = $1, text_chars = $2, format = $3, encoding = $4,
                   boilerplate_removed = $5, pages = $6 WHERE document_id = $7::uuid",
            )
            .bind(t.text_ref)
            .bind(int(t.chars)?)
            .bind(t.format)
            .bind(t.encoding)
            .bind(t.boilerplate_removed)
            .bind(t.pages.map(i64::from))
            .bind(document_id.to_owned())
            .execute(&mut *conn)
            .await?;
        }
        DocumentEvent::Analysed(a) => {
            if advance(Stage::Analysed)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                == 0
            {
                return Ok(());
            }
            query(
                d,
                "UPDATE documents SET analysis_ref = $1, analyser = $2, words = $3, sentences = $4,
                   paragraphs = $5, chapter_count = $6, flesch_reading_ease = $7,
                   flesch_kincaid_grade = $8, dialogue_share = $9
                 WHERE document_id = $10::uuid",
            )
            .bind(a.analysis_ref.clone())
            .bind(a.analyser)
            .bind(int(a.words)?)
            .bind(int(a.sentences)?)
            .bind(int(a.paragraphs)?)
            .bind(int(a.chapters)?)
            .bind(a.flesch_reading_ease)
            .bind(a.flesch_kincaid_grade)
            .bind(a.dialogue_share)
            .bind(document_id.to_owned())
            .execute(&mut *conn)
            .await?;
            let analysis = read_analysis(blobs, &a.analysis_ref).await?;
            insert_chapters(conn, d, document_id, &analysis).await?;
            insert_terms(conn, d, document_id, &analysis).await?;
        }
        DocumentEvent::CharactersDetected(detected) => {
            if advance(Stage::CharactersDetected)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                == 0
            {
                return Ok(());
            }
            let mut values = Vec::with_capacity(detected.characters.len());
            for c in &detected.characters {
                values.push(vec![
                    Val::Text(document_id.to_owned()),
                    Val::Text(c.character_id.to_string()),
                    Val::Text(c.name.clone()),
                    Val::Int(int(c.mentions)?),
                    Val::Int(int(c.first_mention)?),
                    Val::Bool(c.linked),
                ]);
            }
            rows::run(
                conn,
                d,
                "INSERT INTO document_characters (document_id, character_id, name, mentions,
                   first_mention, linked) ",
                &[Ty::Uuid, Ty::Uuid, Ty::Text, Ty::Int, Ty::Int, Ty::Bool],
                values,
                " ON CONFLICT DO NOTHING",
            )
            .await?;
            let analysis_ref: Option<String> = query(
                d,
                "SELECT analysis_ref FROM documents WHERE document_id = $1::uuid",
            )
            .bind(document_id.to_owned())
            .fetch_optional(&mut *conn)
            .await?
            .map(|row| row.try_get("analysis_ref"))
            .transpose()?
            .flatten();
            let Some(analysis_ref) = analysis_ref else {
                return Err(ProjectionError::Corrupt(format!(
                    "document {document_id} has characters but no analysis"
                )));
            };
            let analysis = read_analysis(blobs, &analysis_ref).await?;
            let character_of: HashMap<&str, String> = detected
                .characters
                .iter()
                .flat_map(|c| {
                    c.local_ids
                        .iter()
                        .map(|local| (local.as_str(), c.character_id.to_string()))
                })
                .collect();
            insert_mentions(conn, d, document_id, &analysis, &character_of).await?;
        }
        DocumentEvent::InteractionsRecorded(r) => {
            if advance(Stage::InteractionsRecorded)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                == 0
            {
                return Ok(());
            }
            let mut values = Vec::with_capacity(r.interactions.len());
            for i in &r.interactions {
                let (a, b) = (i.a.min(i.b), i.a.max(i.b));
                values.push(vec![
                    Val::Text(document_id.to_owned()),
                    Val::Text(a.to_string()),
                    Val::Text(b.to_string()),
                    Val::Int(int(i.weight)?),
                ]);
            }
            rows::run(
                conn,
                d,
                "INSERT INTO interactions (document_id, a, b, weight) ",
                &[Ty::Uuid, Ty::Uuid, Ty::Uuid, Ty::Int],
                values,
                " ON CONFLICT DO NOTHING",
            )
            .await?;
        }
        DocumentEvent::ProcessingCompleted(c) => {
            if advance(Stage::Completed)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                == 0
            {
                return Ok(());
            }
            query(
                d,
                "UPDATE documents SET processed_at = $1::timestamptz WHERE document_id = $2::uuid",
            )
            .bind(timestamp(&c.completed_at))
            .bind(document_id.to_owned())
            .execute(&mut *conn)
            .await?;
        }
        DocumentEvent::ProcessingFailed(f) => {
            query(
                d,
                "UPDATE documents SET failure_step = $1, failure_reason = $2,
                   failure_retryable = $3, failure_attempts = $4, updated_at = $5::timestamptz,
                   version = $6
                 WHERE document_id = $7::uuid AND version < $6",
            )
            .bind(f.step.as_str())
            .bind(f.reason)
            .bind(f.retryable)
            .bind(i64::from(f.attempts))
            .bind(time.to_owned())
            .bind(version)
            .bind(document_id.to_owned())
            .execute(&mut *conn)
            .await?;
        }
        DocumentEvent::ProcessingRestarted(_) => {
            let reset = query(
                d,
                "UPDATE documents SET stage = 'uploaded', failure_step = NULL, failure_reason = NULL,
                   failure_retryable = NULL, failure_attempts = NULL, text_ref = NULL,
                   text_chars = NULL, format = NULL, encoding = NULL, boilerplate_removed = NULL,
                   pages = NULL, analysis_ref = NULL, analyser = NULL, words = NULL,
                   sentences = NULL, paragraphs = NULL, chapter_count = NULL,
                   flesch_reading_ease = NULL, flesch_kincaid_grade = NULL,
                   dialogue_share = NULL, processed_at = NULL, updated_at = $1::timestamptz,
                   version = $2
                 WHERE document_id = $3::uuid AND version < $2",
            )
            .bind(time.to_owned())
            .bind(version)
            .bind(document_id.to_owned())
            .execute(&mut *conn)
            .await?;
            if reset.rows_affected() > 0 {
                forget_document(conn, d, document_id).await?;
            }
        }
        // Provenance: no column changes, the row's version moves on.
        DocumentEvent::LegacyImported(_) => {
            query(
                d,
                "UPDATE documents SET updated_at = $1::timestamptz, version = $2
                 WHERE document_id = $3::uuid AND version < $2",
            )
            .bind(time.to_owned())
            .bind(version)
            .bind(document_id.to_owned())
            .execute(&mut *conn)
            .await?;
        }
        DocumentEvent::Uploaded(_) | DocumentEvent::Renamed(_) | DocumentEvent::Deleted(_) => {}
    }
    Ok(())
}

async fn insert_chapters(
    conn: &mut AnyConnection,
    d: Dialect,
    document_id: &str,
    analysis: &Analysis,
) -> Result<(), ProjectionError> {
    let mut values = Vec::with_capacity(analysis.chapters.len());
    for (ordinal, c) in analysis.chapters.iter().enumerate() {
        values.push(vec![
            Val::Text(document_id.to_owned()),
            Val::Int(int(ordinal as u64)?),
            Val::Text(c.title.clone()),
            Val::Int(int(c.start as u64)?),
            Val::Int(int(c.end as u64)?),
        ]);
    }
    rows::run(
        conn,
        d,
        "INSERT INTO document_chapters (document_id, ordinal, title, start_offset, end_offset) ",
        &[Ty::Uuid, Ty::Int, Ty::Text, Ty::Int, Ty::Int],
        values,
        " ON CONFLICT DO NOTHING",
    )
    .await?;
    Ok(())
}

async fn insert_terms(
    conn: &mut AnyConnection,
    d: Dialect,
    document_id: &str,
    analysis: &Analysis,
) -> Result<(), ProjectionError> {
    let terms = &analysis.statistics.distinctive_terms;
    let mut values = Vec::with_capacity(terms.len());
    for (rank, t) in terms.iter().enumerate() {
        values.push(vec![
            Val::Text(document_id.to_owned()),
            Val::Int(int(rank as u64)?),
            Val::Text(t.term.clone()),
            Val::Int(int(t.count as u64)?),
            Val::Real(t.score),
        ]);
    }
    rows::run(
        conn,
        d,
        "INSERT INTO document_terms (document_id, rank, term, occurrences, score) ",
        &[Ty::Uuid, Ty::Int, Ty::Text, Ty::Int, Ty::Real],
        values,
        " ON CONFLICT DO NOTHING",
    )
    .await?;
    Ok(())
}

/// The mentions of the characters the document records; mentions of
/// minor characters left out of the event stay in the blob only.
async fn insert_mentions(
    conn: &mut AnyConnection,
    d: Dialect,
    document_id: &str,
    analysis: &Analysis,
    character_of: &HashMap<&str, String>,
) -> Result<(), ProjectionError> {
    let mut values = Vec::new();
    for m in &analysis.mentions {
        if let Some(character) = character_of.get(m.character_id.as_str()) {
            values.push(vec![
                Val::Text(document_id.to_owned()),
                Val::Int(int(m.start as u64)?),
                Val::Int(int(m.end as u64)?),
                Val::Text(character.clone()),
            ]);
        }
    }
    rows::run(
        conn,
        d,
        "INSERT INTO mentions (document_id, start_offset, end_offset, character_id) ",
        &[Ty::Uuid, Ty::Int, Ty::Int, Ty::Uuid],
        values,
        " ON CONFLICT DO NOTHING",
    )
    .await?;
    Ok(())
}
