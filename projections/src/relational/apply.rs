//! Events into rows. Every statement is guarded by the aggregate version,
//! so applying an event twice (which the checkpoint prevents anyway)
//! changes nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{Row, SqliteConnection};
use studio_blob_store::BlobStore;
use studio_domain::AnyEvent;
use studio_domain::character::CharacterEvent;
use studio_domain::document::DocumentEvent;
use studio_domain::user::UserEvent;
use studio_event_log::StoredEvent;
use studio_privacy::{ERASED, PersonalData};

use super::{PROJECTION_NAME, processing};
use crate::ProjectionError;

/// One spelling per instant, so text order is time order.
pub(crate) fn timestamp(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(super) fn int(n: u64) -> Result<i64, ProjectionError> {
    i64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("{n} is out of range")))
}

/// Applies one event; true when it erased a person's data.
pub(super) async fn event(
    conn: &mut SqliteConnection,
    personal: &PersonalData,
    blobs: &dyn BlobStore,
    stored: &StoredEvent,
) -> Result<bool, ProjectionError> {
    let e = &stored.envelope;
    let id = e.subject.to_string();
    let version = int(e.aggregatesequence)?;
    let time = timestamp(&e.time);

    sqlx::query(
        r#"INSERT INTO event_feed (partition, "offset", event_id, event_type, aggregate_id, aggregate_type,
             sequence, time, actor, tenant, data)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (partition, "offset") DO NOTHING"#,
    )
    .bind(i64::from(stored.position.partition))
    .bind(int(stored.position.offset)?)
    .bind(e.id.to_string())
    .bind(&e.event_type)
    .bind(&id)
    .bind(&e.aggregatetype)
    .bind(version)
    .bind(&time)
    .bind(&e.actor)
    .bind(e.tenant.to_string())
    .bind(e.data.to_string())
    .execute(&mut *conn)
    .await?;

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
    let character_event = matches!(event, AnyEvent::Character(_));
    match event {
        AnyEvent::User(UserEvent::Registered(r)) => {
            sqlx::query(
                "INSERT INTO users (user_id, email, display_name, role, registered_at, updated_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id) DO NOTHING",
            )
            .bind(&id)
            .bind(&r.email)
            .bind(&r.display_name)
            .bind(r.role.as_str())
            .bind(timestamp(&r.registered_at))
            .bind(&time)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
        AnyEvent::User(UserEvent::Forgotten(_)) => {
            sqlx::query(
                "UPDATE users SET email = $1, display_name = NULL, updated_at = $2, version = $3
                 WHERE user_id = $4 AND version < $3",
            )
            .bind(ERASED)
            .bind(&time)
            .bind(version)
            .bind(&id)
            .execute(&mut *conn)
            .await?;
            return Ok(true);
        }
        AnyEvent::Document(DocumentEvent::Uploaded(u)) => {
            sqlx::query(
                "INSERT INTO documents (document_id, owner_id, title, original_filename, media_type,
                   size_bytes, sha256, blob_ref, uploaded_at, updated_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (document_id) DO NOTHING",
            )
            .bind(&id)
            .bind(u.owner.to_string())
            .bind(&u.title)
            .bind(&u.original_filename)
            .bind(&u.media_type)
            .bind(int(u.size_bytes)?)
            .bind(&u.sha256)
            .bind(&u.blob_ref)
            .bind(timestamp(&u.uploaded_at))
            .bind(&time)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
        AnyEvent::Document(DocumentEvent::Renamed(r)) => {
            sqlx::query(
                "UPDATE documents SET title = $1, updated_at = $2, version = $3
                 WHERE document_id = $4 AND version < $3",
            )
            .bind(&r.title)
            .bind(&time)
            .bind(version)
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        }
        AnyEvent::Document(DocumentEvent::Deleted(_)) => {
            sqlx::query("DELETE FROM documents WHERE document_id = $1")
                .bind(&id)
                .execute(&mut *conn)
                .await?;
            processing::forget_document(conn, &id).await?;
        }
        AnyEvent::Document(other) => {
            processing::event(conn, blobs, &id, version, &time, other).await?;
        }
        AnyEvent::Character(CharacterEvent::Created(c)) => {
            sqlx::query(
                "INSERT INTO characters (character_id, owner_id, name, aliases, personality_profile,
                   source_document_id, origin, created_at, updated_at, version)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (character_id) DO NOTHING",
            )
            .bind(&id)
            .bind(c.owner.to_string())
            .bind(&c.name)
            .bind(serde_json::Value::from(c.aliases).to_string())
            .bind(c.personality_profile.to_string())
            .bind(c.source_document_id.map(|d| d.to_string()))
            .bind(c.origin.as_str())
            .bind(timestamp(&c.created_at))
            .bind(&time)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
        AnyEvent::Character(CharacterEvent::Renamed(r)) => {
            sqlx::query(
                "UPDATE characters SET name = $1, updated_at = $2, version = $3
                 WHERE character_id = $4 AND version < $3",
            )
            .bind(&r.name)
            .bind(&time)
            .bind(version)
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        }
        AnyEvent::Character(CharacterEvent::ProfileUpdated(p)) => {
            sqlx::query(
                "UPDATE characters SET personality_profile = $1, updated_at = $2, version = $3
                 WHERE character_id = $4 AND version < $3",
            )
            .bind(p.personality_profile.to_string())
            .bind(&time)
            .bind(version)
            .bind(&id)
            .execute(&mut *conn)
            .await?;
        }
        AnyEvent::Character(CharacterEvent::AliasAdded(a)) => {
            let row = sqlx::query(
                "SELECT aliases FROM characters WHERE character_id = $1 AND version < $2",
            )
            .bind(&id)
            .bind(version)
            .fetch_optional(&mut *conn)
            .await?;
            if let Some(row) = row {
                let mut aliases: Vec<String> =
                    serde_json::from_str(&row.try_get::<String, _>("aliases")?).map_err(|err| {
                        ProjectionError::Corrupt(format!("aliases of {id}: {err}"))
                    })?;
                aliases.push(a.alias);
                sqlx::query(
                    "UPDATE characters SET aliases = $1, updated_at = $2, version = $3 WHERE character_id = $4",
                )
                .bind(serde_json::Value::from(aliases).to_string())
                .bind(&time)
                .bind(version)
                .bind(&id)
                .execute(&mut *conn)
                .await?;
            }
        }
        AnyEvent::Character(CharacterEvent::Deleted(_)) => {
            sqlx::query("DELETE FROM characters WHERE character_id = $1")
                .bind(&id)
                .execute(&mut *conn)
                .await?;
            processing::forget_character(conn, &id).await?;
        }
    }
    if character_event {
        processing::refresh_character_names(conn, &id).await?;
    }
    Ok(false)
}

/// Advances each partition of the batch past its last event.
pub(super) async fn checkpoints(
    conn: &mut SqliteConnection,
    batch: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let mut next: BTreeMap<u32, u64> = BTreeMap::new();
    for e in batch {
        let entry = next.entry(e.position.partition).or_default();
        *entry = (*entry).max(e.position.offset + 1);
    }
    for (partition, next_offset) in next {
        sqlx::query(
            "INSERT INTO checkpoints (projection, partition, next_offset) VALUES ($1, $2, $3)
             ON CONFLICT (projection, partition) DO UPDATE SET next_offset = excluded.next_offset
             WHERE excluded.next_offset > checkpoints.next_offset",
        )
        .bind(PROJECTION_NAME)
        .bind(i64::from(partition))
        .bind(int(next_offset)?)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
