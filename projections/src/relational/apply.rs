//! Events into rows, a batch at a time. The batch's events are folded
//! per aggregate and cut into waves (see `fold`); within a wave, steps of
//! one kind are applied by one multi-row statement, so a batch of a
//! thousand events costs a handful of round trips. Every statement is
//! guarded by the aggregate version, so applying an event twice (which
//! the checkpoint prevents anyway) changes nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use studio_blob_store::BlobStore;
use studio_domain::AnyEvent;
use studio_domain::document::DocumentEvent;
use studio_domain::user::UserEvent;
use studio_event_log::StoredEvent;
use studio_privacy::{ERASED, PersonalData};

use super::dialect::Dialect;
use super::fold::{self, Decoded, Lone, Single, Step};
use super::rows::{self, Ty, Val};
use super::{PROJECTION_NAME, merge, processing};
use crate::ProjectionError;

/// One spelling per instant, so text order is time order.
pub(crate) fn timestamp(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(super) fn int(n: u64) -> Result<i64, ProjectionError> {
    i64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("{n} is out of range")))
}

/// Applies `batch` and moves the checkpoints past every event of
/// `advance`; true when it erased a person's data.
pub(super) async fn batch(
    conn: &mut AnyConnection,
    d: Dialect,
    personal: &PersonalData,
    blobs: &dyn BlobStore,
    batch: &[StoredEvent],
    advance: &[StoredEvent],
) -> Result<bool, ProjectionError> {
    feed(conn, d, batch).await?;
    let mut decoded = Vec::with_capacity(batch.len());
    for stored in batch {
        let e = &stored.envelope;
        let unreadable = |reason: String| ProjectionError::Event {
            event_id: e.id,
            reason,
        };
        let data = personal
            .unseal(e.tenant, &e.event_type, &e.data)
            .await
            .map_err(|err| unreadable(err.to_string()))?;
        let event = AnyEvent::decode(&e.aggregatetype, &e.event_type, &data)
            .map_err(|err| unreadable(err.to_string()))?;
        decoded.push(Decoded {
            id: e.subject.to_string(),
            version: int(e.aggregatesequence)?,
            time: timestamp(&e.time),
            event,
        });
    }
    let mut erased = false;
    let mut touched = Vec::new();
    for wave in fold::waves(decoded) {
        erased |= apply_wave(conn, d, blobs, wave, &mut touched).await?;
    }
    // Once per batch, from the rows as the batch leaves them.
    touched.sort();
    touched.dedup();
    processing::refresh_character_names(conn, d, &touched).await?;
    checkpoints(conn, d, advance).await?;
    Ok(erased)
}

/// Every event of the batch into the feed, sealed as in the log.
async fn feed(
    conn: &mut AnyConnection,
    d: Dialect,
    batch: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let mut values = Vec::with_capacity(batch.len());
    for stored in batch {
        let e = &stored.envelope;
        values.push(vec![
            Val::Int(i64::from(stored.position.partition)),
            Val::Int(int(stored.position.offset)?),
            Val::Text(e.id.to_string()),
            Val::Text(e.event_type.clone()),
            Val::Text(e.subject.to_string()),
            Val::Text(e.aggregatetype.clone()),
            Val::Int(int(e.aggregatesequence)?),
            Val::Text(timestamp(&e.time)),
            Val::Text(e.actor.clone()),
            Val::Text(e.tenant.to_string()),
            Val::Json(e.data.clone()),
        ]);
    }
    rows::run(
        conn,
        d,
        r#"INSERT INTO event_feed (partition, "offset", event_id, event_type, aggregate_id,
             aggregate_type, sequence, time, actor, tenant, data) "#,
        &[
            Ty::Int,
            Ty::Int,
            Ty::Uuid,
            Ty::Text,
            Ty::Uuid,
            Ty::Text,
            Ty::Int,
            Ty::Time,
            Ty::Text,
            Ty::Uuid,
            Ty::Json,
        ],
        values,
        r#" ON CONFLICT (partition, "offset") DO NOTHING"#,
    )
    .await?;
    Ok(())
}

/// Rows of one multi-row statement, gathered by kind of step.
#[derive(Default)]
struct Wave {
    users: Vec<Vec<Val>>,
    documents: Vec<Vec<Val>>,
    document_titles: Vec<Vec<Val>>,
    deleted_documents: Vec<String>,
    characters: Vec<Vec<Val>>,
    character_changes: Vec<Vec<Val>>,
    deleted_characters: Vec<String>,
    touched_characters: Vec<String>,
}

/// Applies one wave; adds the characters whose names it changed to
/// `touched`.
async fn apply_wave(
    conn: &mut AnyConnection,
    d: Dialect,
    blobs: &dyn BlobStore,
    wave: Vec<Step>,
    touched: &mut Vec<String>,
) -> Result<bool, ProjectionError> {
    let mut w = Wave::default();
    let mut erased = false;
    let mut one_by_one = Vec::new();
    let mut merges = Vec::new();
    for step in wave {
        match step {
            Step::NewCharacter { id, created, span } => {
                w.touched_characters.push(id.clone());
                w.characters.push(vec![
                    Val::Text(id),
                    Val::Text(created.owner.to_string()),
                    Val::Text(created.name),
                    Val::Json(serde_json::Value::from(created.aliases)),
                    Val::Json(created.personality_profile),
                    Val::MaybeText(created.source_document_id.map(|s| s.to_string())),
                    Val::Text(created.origin.as_str().to_owned()),
                    Val::Text(timestamp(&created.created_at)),
                    Val::Text(span.time),
                    Val::Int(span.version),
                ]);
            }
            Step::CharacterChanges {
                id,
                name,
                profile,
                aliases,
                span,
            } => {
                if name.is_some() || !aliases.is_empty() {
                    w.touched_characters.push(id.clone());
                }
                w.character_changes.push(vec![
                    Val::Text(id),
                    Val::MaybeText(name),
                    Val::Json(profile.unwrap_or_default()),
                    Val::Json(serde_json::Value::from(aliases)),
                    Val::Text(span.time),
                    Val::Int(span.version),
                    Val::Int(span.first_version),
                ]);
            }
            Step::NewDocument { id, uploaded, span } => w.documents.push(vec![
                Val::Text(id),
                Val::Text(uploaded.owner.to_string()),
                Val::Text(uploaded.title),
                Val::Text(uploaded.original_filename),
                Val::Text(uploaded.media_type),
                Val::Int(int(uploaded.size_bytes)?),
                Val::Text(uploaded.sha256),
                Val::Text(uploaded.blob_ref),
                Val::Text(timestamp(&uploaded.uploaded_at)),
                Val::Text(span.time),
                Val::Int(span.version),
            ]),
            Step::DocumentTitle { id, title, span } => w.document_titles.push(vec![
                Val::Text(id),
                Val::Text(title),
                Val::Text(span.time),
                Val::Int(span.version),
                Val::Int(span.first_version),
            ]),
            Step::Single(Single {
                id,
                version,
                time,
                event,
            }) => match event {
                Lone::User(UserEvent::Registered(r)) => w.users.push(vec![
                    Val::Text(id),
                    Val::Text(r.email),
                    Val::MaybeText(r.display_name),
                    Val::Text(r.role.as_str().to_owned()),
                    Val::Text(timestamp(&r.registered_at)),
                    Val::Text(time),
                    Val::Int(version),
                ]),
                Lone::User(UserEvent::Forgotten(_)) => {
                    erased = true;
                    sqlx::query(sqlx::AssertSqlSafe(d.sql(
                        "UPDATE users SET email = $1, display_name = NULL, updated_at = $2::timestamptz,
                           version = $3 WHERE user_id = $4::uuid AND version < $3",
                    )))
                    .bind(ERASED)
                    .bind(time)
                    .bind(version)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
                }
                Lone::Document(DocumentEvent::Deleted(_)) => w.deleted_documents.push(id),
                Lone::Document(other) => one_by_one.push((id, version, time, other)),
                Lone::CharacterDeleted => {
                    w.touched_characters.push(id.clone());
                    w.deleted_characters.push(id);
                }
                Lone::CharacterMerged(into) => {
                    w.touched_characters.push(id.clone());
                    merges.push((id, into));
                }
            },
        }
    }
    touched.append(&mut w.touched_characters);
    write_wave(conn, d, w).await?;
    for (from, into) in merges {
        merge::merge_character(conn, d, &from, &into).await?;
    }
    for (id, version, time, event) in one_by_one {
        processing::event(conn, d, blobs, &id, version, &time, event).await?;
    }
    Ok(erased)
}

async fn write_wave(conn: &mut AnyConnection, d: Dialect, w: Wave) -> Result<(), ProjectionError> {
    rows::run(
        conn,
        d,
        "INSERT INTO users (user_id, email, display_name, role, registered_at, updated_at, version) ",
        &[Ty::Uuid, Ty::Text, Ty::Text, Ty::Text, Ty::Time, Ty::Time, Ty::Int],
        w.users,
        " ON CONFLICT (user_id) DO NOTHING",
    )
    .await?;
    rows::run(
        conn,
        d,
        "INSERT INTO documents (document_id, owner_id, title, original_filename, media_type,
           size_bytes, sha256, blob_ref, uploaded_at, updated_at, version) ",
        &[
            Ty::Uuid,
            Ty::Uuid,
            Ty::Text,
            Ty::Text,
            Ty::Text,
            Ty::Int,
            Ty::Text,
            Ty::Text,
            Ty::Time,
            Ty::Time,
            Ty::Int,
        ],
        w.documents,
        " ON CONFLICT (document_id) DO NOTHING",
    )
    .await?;
    rows::run(
        conn,
        d,
        "UPDATE documents SET title = v.c2, updated_at = v.c3, version = v.c4 FROM (",
        &[Ty::Uuid, Ty::Text, Ty::Time, Ty::Int, Ty::Int],
        w.document_titles,
        ") AS v WHERE documents.document_id = v.c1 AND documents.version < v.c5",
    )
    .await?;
    for id in &w.deleted_documents {
        sqlx::query(sqlx::AssertSqlSafe(
            d.sql("DELETE FROM documents WHERE document_id = $1::uuid"),
        ))
        .bind(id)
        .execute(&mut *conn)
        .await?;
        processing::forget_document(conn, d, id).await?;
    }
    rows::run(
        conn,
        d,
        "INSERT INTO characters (character_id, owner_id, name, aliases, personality_profile,
           source_document_id, origin, created_at, updated_at, version) ",
        &[
            Ty::Uuid,
            Ty::Uuid,
            Ty::Text,
            Ty::Json,
            Ty::Json,
            Ty::Uuid,
            Ty::Text,
            Ty::Time,
            Ty::Time,
            Ty::Int,
        ],
        w.characters,
        " ON CONFLICT (character_id) DO NOTHING",
    )
    .await?;
    let append_aliases = match d {
        Dialect::Postgres => "characters.aliases || v.c4",
        Dialect::Sqlite => {
            "(SELECT json_group_array(value) FROM (SELECT value FROM json_each(characters.aliases)
               UNION ALL SELECT value FROM json_each(v.c4)))"
        }
    };
    rows::run(
        conn,
        d,
        &format!(
            "UPDATE characters SET name = coalesce(v.c2, characters.name),
               personality_profile = coalesce(v.c3, characters.personality_profile),
               aliases = {append_aliases}, updated_at = v.c5, version = v.c6 FROM ("
        ),
        &[
            Ty::Uuid,
            Ty::Text,
            Ty::Json,
            Ty::Json,
            Ty::Time,
            Ty::Int,
            Ty::Int,
        ],
        w.character_changes,
        ") AS v WHERE characters.character_id = v.c1 AND characters.version < v.c7",
    )
    .await?;
    for id in &w.deleted_characters {
        sqlx::query(sqlx::AssertSqlSafe(
            d.sql("DELETE FROM characters WHERE character_id = $1::uuid"),
        ))
        .bind(id)
        .execute(&mut *conn)
        .await?;
        processing::forget_character(conn, d, id).await?;
    }
    Ok(())
}

/// Advances each partition of the batch past its last event.
pub(super) async fn checkpoints(
    conn: &mut AnyConnection,
    d: Dialect,
    batch: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let mut next: BTreeMap<u32, u64> = BTreeMap::new();
    for e in batch {
        let entry = next.entry(e.position.partition).or_default();
        *entry = (*entry).max(e.position.offset + 1);
    }
    let mut values = Vec::with_capacity(next.len());
    for (partition, next_offset) in next {
        values.push(vec![
            Val::Text(PROJECTION_NAME.to_owned()),
            Val::Int(i64::from(partition)),
            Val::Int(int(next_offset)?),
        ]);
    }
    rows::run(
        conn,
        d,
        "INSERT INTO checkpoints (projection, partition, next_offset) ",
        &[Ty::Text, Ty::Int, Ty::Int],
        values,
        " ON CONFLICT (projection, partition) DO UPDATE SET next_offset = excluded.next_offset
          WHERE excluded.next_offset > checkpoints.next_offset",
    )
    .await?;
    Ok(())
}
