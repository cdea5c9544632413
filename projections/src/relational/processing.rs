//! Processing events into rows: the document's stage and statistics, and
//! what its analysis found. Chapters, distinctive terms and mentions are
//! read from the analysis blob the `analysed` event references; every
//! statement is guarded by the document's version, so nothing is applied
//! twice.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use studio_analysis::Analysis;
use studio_blob_store::{BlobRef, BlobStore};
use studio_domain::document::DocumentEvent;
use studio_domain::document::processing::Stage;
use studio_domain::rules;

use super::apply::{int, timestamp};
use crate::ProjectionError;

/// Largest analysis blob a projection reads (a long novel's is a few MB).
const MAX_ANALYSIS_BYTES: u64 = 512 * 1024 * 1024;
/// Rows per multi-row insert, well under SQLite's parameter limit.
const ROWS_PER_INSERT: usize = 500;

/// Tables holding what processing found, each keyed by `document_id`.
const DERIVED: &[&str] = &[
    "document_chapters",
    "document_terms",
    "document_characters",
    "mentions",
    "interactions",
];

pub(super) async fn forget_document(
    conn: &mut SqliteConnection,
    document_id: &str,
) -> Result<(), ProjectionError> {
    for table in DERIVED {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE document_id = $1"
        )))
        .bind(document_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub(super) async fn forget_character(
    conn: &mut SqliteConnection,
    character_id: &str,
) -> Result<(), ProjectionError> {
    for sql in [
        "DELETE FROM document_characters WHERE character_id = $1",
        "DELETE FROM mentions WHERE character_id = $1",
        "DELETE FROM interactions WHERE a = $1 OR b = $1",
    ] {
        sqlx::query(sql)
            .bind(character_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Rewrites the name keys of a character from its row (none once it is
/// deleted).
pub(super) async fn refresh_character_names(
    conn: &mut SqliteConnection,
    character_id: &str,
) -> Result<(), ProjectionError> {
    sqlx::query("DELETE FROM character_names WHERE character_id = $1")
        .bind(character_id)
        .execute(&mut *conn)
        .await?;
    let row = sqlx::query(
        "SELECT owner_id, name, aliases, origin FROM characters WHERE character_id = $1",
    )
    .bind(character_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(());
    };
    let owner: String = row.try_get("owner_id")?;
    let origin: String = row.try_get("origin")?;
    let name: String = row.try_get("name")?;
    let aliases: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("aliases")?)
        .map_err(|e| ProjectionError::Corrupt(format!("aliases of {character_id}: {e}")))?;
    let mut keys: Vec<String> = std::iter::once(name)
        .chain(aliases)
        .map(|n| rules::name_key(&n))
        .collect();
    keys.sort();
    keys.dedup();
    for chunk in keys.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO character_names (owner_id, name_key, character_id, origin) ",
        );
        insert.push_values(chunk, |mut row, key| {
            row.push_bind(owner.clone())
                .push_bind(key.clone())
                .push_bind(character_id.to_owned())
                .push_bind(origin.clone());
        });
        insert.push(" ON CONFLICT DO NOTHING");
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The document's columns and rows after one processing event.
pub(super) async fn event(
    conn: &mut SqliteConnection,
    blobs: &dyn BlobStore,
    document_id: &str,
    version: i64,
    time: &str,
    event: DocumentEvent,
) -> Result<(), ProjectionError> {
    // Moves the document to `stage` unless this event was applied already;
    // true when the caller should write the event's rows.
    let advance = |stage: Stage| {
        sqlx::query(
            "UPDATE documents SET stage = $1, updated_at = $2, version = $3
             WHERE document_id = $4 AND version < $3",
        )
        .bind(stage.as_str())
        .bind(time.to_owned())
        .bind(version)
        .bind(document_id.to_owned())
    };
    match event {
        DocumentEvent::TextExtracted(t) => {
            advance(Stage::TextExtracted).execute(&mut *conn).await?;
            sqlx::query(
                "UPDATE documents SET text_ref = $1, text_chars = $2, format = $3, encoding = $4,
                   boilerplate_removed = $5, pages = $6 WHERE document_id = $7 AND version = $8",
            )
            .bind(&t.text_ref)
            .bind(int(t.chars)?)
            .bind(&t.format)
            .bind(&t.encoding)
            .bind(t.boilerplate_removed)
            .bind(t.pages.map(i64::from))
            .bind(document_id)
            .bind(version)
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
            sqlx::query(
                "UPDATE documents SET analysis_ref = $1, analyser = $2, words = $3, sentences = $4,
                   paragraphs = $5, chapter_count = $6, flesch_reading_ease = $7,
                   flesch_kincaid_grade = $8, dialogue_share = $9
                 WHERE document_id = $10",
            )
            .bind(&a.analysis_ref)
            .bind(&a.analyser)
            .bind(int(a.words)?)
            .bind(int(a.sentences)?)
            .bind(int(a.paragraphs)?)
            .bind(int(a.chapters)?)
            .bind(a.flesch_reading_ease)
            .bind(a.flesch_kincaid_grade)
            .bind(a.dialogue_share)
            .bind(document_id)
            .execute(&mut *conn)
            .await?;
            let analysis = read_analysis(blobs, &a.analysis_ref).await?;
            insert_chapters(conn, document_id, &analysis).await?;
            insert_terms(conn, document_id, &analysis).await?;
        }
        DocumentEvent::CharactersDetected(d) => {
            if advance(Stage::CharactersDetected)
                .execute(&mut *conn)
                .await?
                .rows_affected()
                == 0
            {
                return Ok(());
            }
            for chunk in d.characters.chunks(ROWS_PER_INSERT) {
                let mut insert = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO document_characters (document_id, character_id, name,
                       mentions, first_mention, linked) ",
                );
                let mut rows = Vec::with_capacity(chunk.len());
                for c in chunk {
                    rows.push((c, int(c.mentions)?, int(c.first_mention)?));
                }
                insert.push_values(rows, |mut row, (c, mentions, first)| {
                    row.push_bind(document_id.to_owned())
                        .push_bind(c.character_id.to_string())
                        .push_bind(c.name.clone())
                        .push_bind(mentions)
                        .push_bind(first)
                        .push_bind(c.linked);
                });
                insert.push(" ON CONFLICT DO NOTHING");
                insert.build().execute(&mut *conn).await?;
            }
            let analysis_ref: Option<String> =
                sqlx::query("SELECT analysis_ref FROM documents WHERE document_id = $1")
                    .bind(document_id)
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
            let character_of: HashMap<&str, String> = d
                .characters
                .iter()
                .flat_map(|c| {
                    c.local_ids
                        .iter()
                        .map(|local| (local.as_str(), c.character_id.to_string()))
                })
                .collect();
            insert_mentions(conn, document_id, &analysis, &character_of).await?;
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
            for chunk in r.interactions.chunks(ROWS_PER_INSERT) {
                let mut rows = Vec::with_capacity(chunk.len());
                for i in chunk {
                    let (a, b) = (i.a.min(i.b), i.a.max(i.b));
                    rows.push((a.to_string(), b.to_string(), int(i.weight)?));
                }
                let mut insert = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO interactions (document_id, a, b, weight) ",
                );
                insert.push_values(rows, |mut row, (a, b, weight)| {
                    row.push_bind(document_id.to_owned())
                        .push_bind(a)
                        .push_bind(b)
                        .push_bind(weight);
                });
                insert.push(" ON CONFLICT DO NOTHING");
                insert.build().execute(&mut *conn).await?;
            }
        }
        DocumentEvent::ProcessingCompleted(c) => {
            advance(Stage::Completed).execute(&mut *conn).await?;
            sqlx::query(
                "UPDATE documents SET processed_at = $1 WHERE document_id = $2 AND version = $3",
            )
            .bind(timestamp(&c.completed_at))
            .bind(document_id)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
        DocumentEvent::ProcessingFailed(f) => {
            sqlx::query(
                "UPDATE documents SET failure_step = $1, failure_reason = $2,
                   failure_retryable = $3, failure_attempts = $4, updated_at = $5, version = $6
                 WHERE document_id = $7 AND version < $6",
            )
            .bind(f.step.as_str())
            .bind(&f.reason)
            .bind(f.retryable)
            .bind(i64::from(f.attempts))
            .bind(time)
            .bind(version)
            .bind(document_id)
            .execute(&mut *conn)
            .await?;
        }
        DocumentEvent::ProcessingRestarted(_) => {
            let reset = sqlx::query(
                "UPDATE documents SET stage = 'uploaded', failure_step = NULL, failure_reason = NULL,
                   failure_retryable = NULL, failure_attempts = NULL, text_ref = NULL,
                   text_chars = NULL, format = NULL, encoding = NULL, boilerplate_removed = NULL,
                   pages = NULL, analysis_ref = NULL, analyser = NULL, words = NULL,
                   sentences = NULL, paragraphs = NULL, chapter_count = NULL,
                   flesch_reading_ease = NULL, flesch_kincaid_grade = NULL,
                   dialogue_share = NULL, processed_at = NULL, updated_at = $1, version = $2
                 WHERE document_id = $3 AND version < $2",
            )
            .bind(time)
            .bind(version)
            .bind(document_id)
            .execute(&mut *conn)
            .await?;
            if reset.rows_affected() > 0 {
                forget_document(conn, document_id).await?;
            }
        }
        DocumentEvent::Uploaded(_) | DocumentEvent::Renamed(_) | DocumentEvent::Deleted(_) => {}
    }
    Ok(())
}

async fn read_analysis(
    blobs: &dyn BlobStore,
    reference: &str,
) -> Result<Analysis, ProjectionError> {
    let corrupt = |e: String| ProjectionError::Corrupt(format!("analysis {reference}: {e}"));
    let blob = BlobRef::parse(reference).map_err(|e| corrupt(e.to_string()))?;
    let bytes = blobs
        .get(&blob, MAX_ANALYSIS_BYTES)
        .await
        .map_err(|e| ProjectionError::Blob(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))
}

async fn insert_chapters(
    conn: &mut SqliteConnection,
    document_id: &str,
    analysis: &Analysis,
) -> Result<(), ProjectionError> {
    let mut rows = Vec::with_capacity(analysis.chapters.len());
    for (ordinal, c) in analysis.chapters.iter().enumerate() {
        rows.push((
            int(ordinal as u64)?,
            c.title.clone(),
            int(c.start as u64)?,
            int(c.end as u64)?,
        ));
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO document_chapters (document_id, ordinal, title, start_offset, end_offset) ",
        );
        insert.push_values(chunk, |mut row, (ordinal, title, start, end)| {
            row.push_bind(document_id.to_owned())
                .push_bind(*ordinal)
                .push_bind(title.clone())
                .push_bind(*start)
                .push_bind(*end);
        });
        insert.push(" ON CONFLICT DO NOTHING");
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_terms(
    conn: &mut SqliteConnection,
    document_id: &str,
    analysis: &Analysis,
) -> Result<(), ProjectionError> {
    let terms = &analysis.statistics.distinctive_terms;
    if terms.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(terms.len());
    for (rank, t) in terms.iter().enumerate() {
        rows.push((
            int(rank as u64)?,
            t.term.clone(),
            int(t.count as u64)?,
            t.score,
        ));
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO document_terms (document_id, rank, term, occurrences, score) ",
        );
        insert.push_values(chunk, |mut row, (rank, term, count, score)| {
            row.push_bind(document_id.to_owned())
                .push_bind(*rank)
                .push_bind(term.clone())
                .push_bind(*count)
                .push_bind(*score);
        });
        insert.push(" ON CONFLICT DO NOTHING");
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The mentions of the characters the document records; mentions of
/// minor characters left out of the event stay in the blob only.
async fn insert_mentions(
    conn: &mut SqliteConnection,
    document_id: &str,
    analysis: &Analysis,
    character_of: &HashMap<&str, String>,
) -> Result<(), ProjectionError> {
    let mut rows = Vec::new();
    for m in &analysis.mentions {
        if let Some(character) = character_of.get(m.character_id.as_str()) {
            rows.push((int(m.start as u64)?, int(m.end as u64)?, character.clone()));
        }
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO mentions (document_id, start_offset, end_offset, character_id) ",
        );
        insert.push_values(chunk, |mut row, (start, end, character)| {
            row.push_bind(document_id.to_owned())
                .push_bind(*start)
                .push_bind(*end)
                .push_bind(character.clone());
        });
        insert.push(" ON CONFLICT DO NOTHING");
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}
