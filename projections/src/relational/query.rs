//! What the query side asks. Every query takes the viewer and filters by
//! owner in SQL: another tenant's rows never leave the database.

use std::collections::BTreeMap;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use studio_domain::document::processing::Stage;
use studio_event_log::Position;
use uuid::Uuid;

use super::rows::{self, Ty};
use super::{PROJECTION_NAME, Relational};
use crate::{
    CastMemberView, Change, ChapterView, CharacterView, DocumentView, EventView, FailureView,
    FeedCursor, InteractionView, Keyset, MentionView, NamedCharacter, Page, PageRequest,
    ProcessingView, ProjectionError, ReadModel, StatisticsView, TermView, TextView, UserView,
    Viewer,
};

fn uuid(row: &AnyRow, column: &str) -> Result<Uuid, ProjectionError> {
    let text: String = row.try_get(column)?;
    Uuid::from_str(&text).map_err(|e| ProjectionError::Corrupt(format!("{column} {text:?}: {e}")))
}

fn count(row: &AnyRow, column: &str) -> Result<u64, ProjectionError> {
    let n: i64 = row.try_get(column)?;
    u64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("{column} is negative")))
}

fn json(row: &AnyRow, column: &str) -> Result<serde_json::Value, ProjectionError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| ProjectionError::Corrupt(format!("{column}: {e}")))
}

fn limit(page: &PageRequest) -> i64 {
    i64::try_from(page.first + 1).unwrap_or(i64::MAX)
}

fn paginate<T>(
    rows: Vec<AnyRow>,
    page: &PageRequest,
    key_column: &str,
    id_column: &str,
    view: impl Fn(&AnyRow) -> Result<T, ProjectionError>,
) -> Result<Page<T>, ProjectionError> {
    let has_next = rows.len() > page.first;
    let items = rows
        .iter()
        .take(page.first)
        .map(|row| {
            let keyset = Keyset {
                key: row.try_get(key_column)?,
                id: row.try_get(id_column)?,
            };
            Ok((keyset, view(row)?))
        })
        .collect::<Result<_, ProjectionError>>()?;
    Ok(Page { items, has_next })
}

pub(super) async fn checkpoints(pool: &AnyPool) -> Result<BTreeMap<u32, u64>, ProjectionError> {
    let rows = sqlx::query("SELECT partition, next_offset FROM checkpoints WHERE projection = $1")
        .bind(PROJECTION_NAME)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            let partition: i64 = row.try_get("partition")?;
            let partition = u32::try_from(partition)
                .map_err(|_| ProjectionError::Corrupt(format!("partition {partition}")))?;
            Ok((partition, count(row, "next_offset")?))
        })
        .collect()
}

/// A boolean column: PostgreSQL's `boolean`, SQLite's 0 or 1.
fn flag(row: &AnyRow, column: &str) -> Result<Option<bool>, ProjectionError> {
    match row.try_get::<Option<bool>, _>(column) {
        Ok(value) => Ok(value),
        Err(_) => Ok(row.try_get::<Option<i64>, _>(column)?.map(|n| n != 0)),
    }
}

fn optional_count(row: &AnyRow, column: &str) -> Result<Option<u64>, ProjectionError> {
    let n: Option<i64> = row.try_get(column)?;
    n.map(|n| {
        u64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("{column} is negative")))
    })
    .transpose()
}

fn document_view(row: &AnyRow) -> Result<DocumentView, ProjectionError> {
    let stage_name: String = row.try_get("stage")?;
    let stage = Stage::parse(&stage_name)
        .ok_or_else(|| ProjectionError::Corrupt(format!("stage {stage_name:?}")))?;
    let failure_step: Option<String> = row.try_get("failure_step")?;
    let failure = match failure_step {
        Some(step) => Some(FailureView {
            step,
            reason: row
                .try_get::<Option<String>, _>("failure_reason")?
                .unwrap_or_default(),
            retryable: flag(row, "failure_retryable")?.unwrap_or(false),
            attempts: optional_count(row, "failure_attempts")?
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
        }),
        None => None,
    };
    let status = if failure.is_some() {
        "failed"
    } else if stage == Stage::Completed {
        "completed"
    } else {
        "processing"
    };
    let text_ref: Option<String> = row.try_get("text_ref")?;
    let text = match text_ref {
        Some(text_ref) => Some(TextView {
            text_ref,
            chars: optional_count(row, "text_chars")?.unwrap_or(0),
            format: row
                .try_get::<Option<String>, _>("format")?
                .unwrap_or_default(),
            encoding: row.try_get("encoding")?,
            boilerplate_removed: flag(row, "boilerplate_removed")?.unwrap_or(false),
            pages: optional_count(row, "pages")?.and_then(|n| u32::try_from(n).ok()),
        }),
        None => None,
    };
    let analyser: Option<String> = row.try_get("analyser")?;
    let statistics = match analyser {
        Some(analyser) => Some(StatisticsView {
            analyser,
            words: optional_count(row, "words")?.unwrap_or(0),
            sentences: optional_count(row, "sentences")?.unwrap_or(0),
            paragraphs: optional_count(row, "paragraphs")?.unwrap_or(0),
            chapters: optional_count(row, "chapter_count")?.unwrap_or(0),
            flesch_reading_ease: row
                .try_get::<Option<f64>, _>("flesch_reading_ease")?
                .unwrap_or(0.0),
            flesch_kincaid_grade: row
                .try_get::<Option<f64>, _>("flesch_kincaid_grade")?
                .unwrap_or(0.0),
            dialogue_share: row
                .try_get::<Option<f64>, _>("dialogue_share")?
                .unwrap_or(0.0),
        }),
        None => None,
    };
    Ok(DocumentView {
        document_id: uuid(row, "document_id")?,
        owner_id: uuid(row, "owner_id")?,
        title: row.try_get("title")?,
        original_filename: row.try_get("original_filename")?,
        media_type: row.try_get("media_type")?,
        size_bytes: count(row, "size_bytes")?,
        sha256: row.try_get("sha256")?,
        blob_ref: row.try_get("blob_ref")?,
        uploaded_at: row.try_get("uploaded_at")?,
        updated_at: row.try_get("updated_at")?,
        version: count(row, "version")?,
        processing: ProcessingView {
            status: status.to_owned(),
            stage: stage.as_str().to_owned(),
            percent: stage.percent(),
            failure,
            completed_at: row.try_get("processed_at")?,
        },
        text,
        statistics,
    })
}

fn cast_member_view(row: &AnyRow) -> Result<CastMemberView, ProjectionError> {
    Ok(CastMemberView {
        document_id: uuid(row, "document_id")?,
        character_id: uuid(row, "character_id")?,
        name: row.try_get("name")?,
        mentions: count(row, "mentions")?,
        first_mention: count(row, "first_mention")?,
        linked: flag(row, "linked")?.unwrap_or(false),
    })
}

fn character_view(row: &AnyRow) -> Result<CharacterView, ProjectionError> {
    let source: Option<String> = row.try_get("source_document_id")?;
    Ok(CharacterView {
        character_id: uuid(row, "character_id")?,
        owner_id: uuid(row, "owner_id")?,
        name: row.try_get("name")?,
        aliases: serde_json::from_value(json(row, "aliases")?)
            .map_err(|e| ProjectionError::Corrupt(format!("aliases: {e}")))?,
        personality_profile: json(row, "personality_profile")?,
        source_document_id: source
            .map(|s| Uuid::from_str(&s))
            .transpose()
            .map_err(|e| ProjectionError::Corrupt(format!("source_document_id: {e}")))?,
        origin: row.try_get("origin")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: count(row, "version")?,
    })
}

fn event_view(row: &AnyRow) -> Result<EventView, ProjectionError> {
    let partition: i64 = row.try_get("partition")?;
    Ok(EventView {
        event_id: uuid(row, "event_id")?,
        event_type: row.try_get("event_type")?,
        aggregate_id: uuid(row, "aggregate_id")?,
        aggregate_type: row.try_get("aggregate_type")?,
        sequence: count(row, "sequence")?,
        time: row.try_get("time")?,
        actor: row.try_get("actor")?,
        tenant: uuid(row, "tenant")?,
        data: json(row, "data")?,
        partition: u32::try_from(partition)
            .map_err(|_| ProjectionError::Corrupt(format!("partition {partition}")))?,
        offset: count(row, "offset")?,
    })
}

const DOCUMENT_COLUMNS: &str = "document_id::text AS document_id, owner_id::text AS owner_id, title, original_filename, media_type, size_bytes, sha256, blob_ref, TS(uploaded_at) AS uploaded_at, TS(updated_at) AS updated_at, version, stage, failure_step, failure_reason, failure_retryable, failure_attempts, text_ref, text_chars, format, encoding, boilerplate_removed, pages, analyser, words, sentences, paragraphs, chapter_count, flesch_reading_ease, flesch_kincaid_grade, dialogue_share, TS(processed_at) AS processed_at";
/// Restricts a query to the rows of one document the viewer may see
/// (`$1` the document, `$2` whether the viewer is an admin, `$3` the viewer).
const VISIBLE_DOCUMENT: &str = "EXISTS (SELECT 1 FROM documents d WHERE d.document_id = $1::uuid AND ($2 OR d.owner_id = $3::uuid))";
const CHARACTER_COLUMNS: &str = "character_id::text AS character_id, owner_id::text AS owner_id, name, aliases::text AS aliases, personality_profile::text AS personality_profile, source_document_id::text AS source_document_id, origin, TS(created_at) AS created_at, TS(updated_at) AS updated_at, version";
const EVENT_COLUMNS: &str = r#"partition, "offset", event_id::text AS event_id, event_type, aggregate_id::text AS aggregate_id, aggregate_type, sequence, TS(time) AS time, actor, tenant::text AS tenant, data::text AS data"#;

impl Relational {
    /// What the commits between two checkpoints changed, from the event feed.
    pub(super) async fn changes_between(
        &self,
        from: &BTreeMap<u32, u64>,
        to: &BTreeMap<u32, u64>,
    ) -> Result<Vec<Change>, ProjectionError> {
        let mut changes = Vec::new();
        for (&partition, &end) in to {
            let start = from.get(&partition).copied().unwrap_or(0);
            if end <= start {
                continue;
            }
            let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(
                r#"SELECT "offset", event_type, aggregate_id::text AS aggregate_id, aggregate_type,
                     tenant::text AS tenant FROM event_feed
                   WHERE partition = $1 AND "offset" >= $2 AND "offset" < $3 ORDER BY "offset""#,
            )))
            .bind(i64::from(partition))
            .bind(i64::try_from(start).unwrap_or(i64::MAX))
            .bind(i64::try_from(end).unwrap_or(i64::MAX))
            .fetch_all(&self.reader)
            .await?;
            for row in &rows {
                changes.push(Change {
                    aggregate_type: row.try_get("aggregate_type")?,
                    aggregate_id: uuid(row, "aggregate_id")?,
                    tenant: uuid(row, "tenant")?,
                    event_type: row.try_get("event_type")?,
                    position: Position {
                        partition,
                        offset: count(row, "offset")?,
                    },
                });
            }
        }
        Ok(changes)
    }
}

#[async_trait]
impl ReadModel for Relational {
    async fn checkpoints(&self) -> Result<BTreeMap<u32, u64>, ProjectionError> {
        checkpoints(&self.reader).await
    }

    async fn open_dead_letters(&self) -> Result<u64, ProjectionError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM dead_letters WHERE status IN ('parked', 'blocked')",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn user(&self, viewer: &Viewer, id: Uuid) -> Result<Option<UserView>, ProjectionError> {
        if !viewer.may_see(id) {
            return Ok(None);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(
            "SELECT user_id::text AS user_id, email, display_name, role,
               TS(registered_at) AS registered_at, version FROM users WHERE user_id = $1::uuid",
        )))
        .bind(id.to_string())
        .fetch_optional(&self.reader)
        .await?;
        row.map(|row| {
            Ok(UserView {
                user_id: uuid(&row, "user_id")?,
                email: row.try_get("email")?,
                display_name: row.try_get("display_name")?,
                role: row.try_get("role")?,
                registered_at: row.try_get("registered_at")?,
                version: count(&row, "version")?,
            })
        })
        .transpose()
    }

    async fn document(
        &self,
        viewer: &Viewer,
        id: Uuid,
    ) -> Result<Option<DocumentView>, ProjectionError> {
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents WHERE document_id = $1::uuid AND ($2 OR owner_id = $3::uuid)"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(&sql)))
            .bind(id.to_string())
            .bind(viewer.admin)
            .bind(viewer.user_id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(document_view).transpose()
    }

    /// Oldest first, by upload time.
    async fn documents(
        &self,
        viewer: &Viewer,
        page: &PageRequest,
    ) -> Result<Page<DocumentView>, ProjectionError> {
        let after = page.after.clone().unwrap_or_else(Keyset::first);
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents
             WHERE ($1 OR owner_id = $2::uuid) AND (uploaded_at, document_id) > ($3::timestamptz, $4::uuid)
             ORDER BY uploaded_at, document_id LIMIT $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(&sql)))
            .bind(viewer.admin)
            .bind(viewer.user_id.to_string())
            .bind(&after.key)
            .bind(&after.id)
            .bind(limit(page))
            .fetch_all(&self.reader)
            .await?;
        paginate(rows, page, "uploaded_at", "document_id", document_view)
    }

    async fn jobs(
        &self,
        viewer: &Viewer,
        page: &PageRequest,
    ) -> Result<Page<DocumentView>, ProjectionError> {
        let after = page.after.clone().unwrap_or_else(Keyset::first);
        let sql = format!(
            "SELECT {DOCUMENT_COLUMNS} FROM documents
             WHERE stage <> 'completed' AND ($1 OR owner_id = $2::uuid)
               AND (uploaded_at, document_id) > ($3::timestamptz, $4::uuid)
             ORDER BY uploaded_at, document_id LIMIT $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(&sql)))
            .bind(viewer.admin)
            .bind(viewer.user_id.to_string())
            .bind(&after.key)
            .bind(&after.id)
            .bind(limit(page))
            .fetch_all(&self.reader)
            .await?;
        paginate(rows, page, "uploaded_at", "document_id", document_view)
    }

    async fn chapters(
        &self,
        viewer: &Viewer,
        document: Uuid,
    ) -> Result<Vec<ChapterView>, ProjectionError> {
        let sql = format!(
            "SELECT ordinal, title, start_offset, end_offset FROM document_chapters
             WHERE document_id = $1::uuid AND {VISIBLE_DOCUMENT} ORDER BY ordinal"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(&sql)))
            .bind(document.to_string())
            .bind(viewer.admin)
            .bind(viewer.user_id.to_string())
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ChapterView {
                    ordinal: count(row, "ordinal")?,
                    title: row.try_get("title")?,
                    start: count(row, "start_offset")?,
                    end: count(row, "end_offset")?,
                })
            })
            .collect()
    }

    async fn distinctive_terms(
        &self,
        viewer: &Viewer,
        document: Uuid,
    ) -> Result<Vec<TermView>, ProjectionError> {
        let sql = format!(
            "SELECT term, occurrences, score FROM document_terms
             WHERE document_id = $1::uuid AND {VISIBLE_DOCUMENT} ORDER BY rank"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(&sql)))
            .bind(document.to_string())
            .bind(viewer.admin)
            .bind(viewer.user_id.to_string())
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(TermView {
                    term: row.try_get("term")?,
                    count: count(row, "occurrences")?,
                    score: row.try_get("score")?,
                })
            })
            .collect()
    }

    async fn cast(
        &self,
        viewer: &Viewer,
        document: Uuid,
    ) -> Result<Vec<CastMemberView>, ProjectionError> {
        let sql = format!(
            "SELECT document_id::text AS document_id, character_id::text AS character_id, name,
               mentions, first_mention, linked
             FROM document_characters
             WHERE document_id = $1::uuid AND {VISIBLE_DOCUMENT}
             ORDER BY mentions DESC, first_mention, character_id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(&sql)))
            .bind(document.to_string())
            .bind(viewer.admin)
            .bind(viewer.user_id.to_string())
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(cast_member_view).collect()
    }

    async fn appearances(
        &self,
        viewer: &Viewer,
        character: Uuid,
    ) -> Result<Vec<CastMemberView>, ProjectionError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(
            self.dialect.sql("SELECT dc.document_id::text AS document_id,
               dc.character_id::text AS character_id, dc.name, dc.mentions, dc.first_mention, dc.linked
             FROM document_characters dc JOIN documents d ON d.document_id = dc.document_id
             WHERE dc.character_id = $1::uuid AND ($2 OR d.owner_id = $3::uuid)
             ORDER BY dc.mentions DESC, dc.document_id"),
        ))
        .bind(character.to_string())
        .bind(viewer.admin)
        .bind(viewer.user_id.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(cast_member_view).collect()
    }

    async fn interactions(
        &self,
        viewer: &Viewer,
        document: Uuid,
        min_weight: u64,
        limit: usize,
    ) -> Result<Vec<InteractionView>, ProjectionError> {
        let sql = format!(
            "SELECT document_id::text AS document_id, a::text AS a, b::text AS b, weight
             FROM interactions
             WHERE document_id = $1::uuid AND {VISIBLE_DOCUMENT} AND weight >= $4
             ORDER BY weight DESC, a, b LIMIT $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(&sql)))
            .bind(document.to_string())
            .bind(viewer.admin)
            .bind(viewer.user_id.to_string())
            .bind(i64::try_from(min_weight).unwrap_or(i64::MAX))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(InteractionView {
                    document_id: uuid(row, "document_id")?,
                    a: uuid(row, "a")?,
                    b: uuid(row, "b")?,
                    weight: count(row, "weight")?,
                })
            })
            .collect()
    }

    async fn mentions(
        &self,
        viewer: &Viewer,
        document: Uuid,
        character: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<MentionView>, ProjectionError> {
        let after: i64 = match &page.after {
            Some(k) => k.key.parse().unwrap_or(i64::MAX),
            None => -1,
        };
        let sql = format!(
            "SELECT character_id::text AS character_id, start_offset, end_offset,
                    PAD20(start_offset) AS offset_key
             FROM mentions
             WHERE document_id = $1::uuid AND {VISIBLE_DOCUMENT}
               AND ($4::uuid IS NULL OR character_id = $4::uuid) AND start_offset > $5
             ORDER BY start_offset LIMIT $6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(&sql)))
            .bind(document.to_string())
            .bind(viewer.admin)
            .bind(viewer.user_id.to_string())
            .bind(character.map(|c| c.to_string()))
            .bind(after)
            .bind(limit(page))
            .fetch_all(&self.reader)
            .await?;
        paginate(rows, page, "offset_key", "character_id", |row| {
            Ok(MentionView {
                character_id: uuid(row, "character_id")?,
                start: count(row, "start_offset")?,
                end: count(row, "end_offset")?,
            })
        })
    }

    async fn characters_named(
        &self,
        owner: Uuid,
        names: &[String],
    ) -> Result<Vec<NamedCharacter>, ProjectionError> {
        let sql = self.dialect.sql(&format!(
            "SELECT character_id::text AS character_id, name_key, origin FROM character_names
             WHERE owner_id = $1::uuid AND name_key IN {} ORDER BY name_key, character_id",
            rows::list(self.dialect, 2, Ty::Text)
        ));
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner.to_string())
            .bind(rows::list_values(names))
            .fetch_all(&self.reader)
            .await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            found.push(NamedCharacter {
                character_id: uuid(row, "character_id")?,
                name_key: row.try_get("name_key")?,
                origin: row.try_get("origin")?,
            });
        }
        Ok(found)
    }

    async fn character(
        &self,
        viewer: &Viewer,
        id: Uuid,
    ) -> Result<Option<CharacterView>, ProjectionError> {
        let sql = format!(
            "SELECT {CHARACTER_COLUMNS} FROM characters WHERE character_id = $1::uuid AND ($2 OR owner_id = $3::uuid)"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(&sql)))
            .bind(id.to_string())
            .bind(viewer.admin)
            .bind(viewer.user_id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(character_view).transpose()
    }

    /// Oldest first, by creation time; optionally only those of a document.
    async fn characters(
        &self,
        viewer: &Viewer,
        document: Option<Uuid>,
        page: &PageRequest,
    ) -> Result<Page<CharacterView>, ProjectionError> {
        let after = page.after.clone().unwrap_or_else(Keyset::first);
        let sql = format!(
            "SELECT {CHARACTER_COLUMNS} FROM characters
             WHERE ($1 OR owner_id = $2::uuid) AND ($3::uuid IS NULL OR source_document_id = $3::uuid)
               AND (created_at, character_id) > ($4::timestamptz, $5::uuid)
             ORDER BY created_at, character_id LIMIT $6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(&sql)))
            .bind(viewer.admin)
            .bind(viewer.user_id.to_string())
            .bind(document.map(|d| d.to_string()))
            .bind(&after.key)
            .bind(&after.id)
            .bind(limit(page))
            .fetch_all(&self.reader)
            .await?;
        paginate(rows, page, "created_at", "character_id", character_view)
    }

    /// The history of one aggregate, in sequence order.
    async fn stream_events(
        &self,
        viewer: &Viewer,
        aggregate_id: Uuid,
        page: &PageRequest,
    ) -> Result<Page<EventView>, ProjectionError> {
        let after: i64 = match &page.after {
            Some(k) => k.key.parse().unwrap_or(i64::MAX),
            None => 0,
        };
        let sql = format!(
            "SELECT {EVENT_COLUMNS}, PAD20(sequence) AS seq_key FROM event_feed
             WHERE aggregate_id = $1::uuid AND ($2 OR tenant = $3::uuid) AND sequence > $4
             ORDER BY sequence LIMIT $5"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.dialect.sql(&sql)))
            .bind(aggregate_id.to_string())
            .bind(viewer.admin)
            .bind(viewer.user_id.to_string())
            .bind(after)
            .bind(limit(page))
            .fetch_all(&self.reader)
            .await?;
        paginate(rows, page, "seq_key", "event_id", event_view)
    }

    /// Events the viewer may see from `cursor` on, in each partition's
    /// order, at most `limit` per partition; advances the cursor.
    async fn feed_after(
        &self,
        viewer: &Viewer,
        cursor: &mut FeedCursor,
        partitions: &[u32],
        limit: usize,
    ) -> Result<Vec<EventView>, ProjectionError> {
        let sql = self.dialect.sql(&format!(
            r#"SELECT {EVENT_COLUMNS} FROM event_feed
               WHERE partition = $1 AND "offset" >= $2 AND ($3 OR tenant = $4::uuid)
               ORDER BY "offset" LIMIT $5"#
        ));
        let mut events = Vec::new();
        for &partition in partitions {
            let from = cursor.get(&partition).copied().unwrap_or(0);
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(i64::from(partition))
                .bind(i64::try_from(from).unwrap_or(i64::MAX))
                .bind(viewer.admin)
                .bind(viewer.user_id.to_string())
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.reader)
                .await?;
            for row in &rows {
                let event = event_view(row)?;
                cursor.insert(partition, event.offset + 1);
                events.push(event);
            }
        }
        Ok(events)
    }
}
