//! Events into rows, a batch at a time. The batch is cut into waves, each
//! holding at most one event per aggregate (an aggregate's events stay in
//! order, wave after wave); within a wave, events of one kind are applied
//! by one multi-row statement, so a batch of a thousand events costs a
//! handful of round trips. Every statement is guarded by the aggregate
//! version, so applying an event twice (which the checkpoint prevents
//! anyway) changes nothing.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use studio_blob_store::BlobStore;
use studio_domain::AnyEvent;
use studio_domain::character::CharacterEvent;
use studio_domain::document::DocumentEvent;
use studio_domain::user::UserEvent;
use studio_event_log::StoredEvent;
use studio_privacy::{ERASED, PersonalData};

use super::dialect::Dialect;
use super::rows::{self, Val};
use super::{PROJECTION_NAME, processing};
use crate::ProjectionError;

/// One spelling per instant, so text order is time order.
pub(crate) fn timestamp(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub(super) fn int(n: u64) -> Result<i64, ProjectionError> {
    i64::try_from(n).map_err(|_| ProjectionError::Corrupt(format!("{n} is out of range")))
}

const UUID: &str = "::uuid";
const TIME: &str = "::timestamptz";
const JSON: &str = "::jsonb";

/// An event decoded, with what every statement needs of its envelope.
struct Decoded {
    id: String,
    version: i64,
    time: String,
    event: AnyEvent,
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
    for wave in waves(decoded) {
        erased |= apply_wave(conn, d, blobs, wave).await?;
    }
    checkpoints(conn, d, advance).await?;
    Ok(erased)
}

/// The events, cut so that each wave holds an aggregate at most once and
/// an aggregate's events come in order.
fn waves(events: Vec<Decoded>) -> Vec<Vec<Decoded>> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut waves: Vec<Vec<Decoded>> = Vec::new();
    for event in events {
        let n = seen.entry(event.id.clone()).or_insert(0);
        if waves.len() <= *n {
            waves.push(Vec::new());
        }
        waves[*n].push(event);
        *n += 1;
    }
    waves
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
            Val::Text(e.data.to_string()),
        ]);
    }
    rows::run(
        conn,
        d,
        r#"INSERT INTO event_feed (partition, "offset", event_id, event_type, aggregate_id,
             aggregate_type, sequence, time, actor, tenant, data) "#,
        &["", "", UUID, "", UUID, "", "", TIME, "", UUID, JSON],
        values,
        r#" ON CONFLICT (partition, "offset") DO NOTHING"#,
    )
    .await?;
    Ok(())
}

/// Rows of one multi-row statement, gathered by kind of event.
#[derive(Default)]
struct Wave {
    users: Vec<Vec<Val>>,
    documents: Vec<Vec<Val>>,
    document_titles: Vec<Vec<Val>>,
    deleted_documents: Vec<String>,
    characters: Vec<Vec<Val>>,
    names: Vec<Vec<Val>>,
    profiles: Vec<Vec<Val>>,
    aliases: Vec<Vec<Val>>,
    deleted_characters: Vec<String>,
    touched_characters: Vec<String>,
}

async fn apply_wave(
    conn: &mut AnyConnection,
    d: Dialect,
    blobs: &dyn BlobStore,
    wave: Vec<Decoded>,
) -> Result<bool, ProjectionError> {
    let mut w = Wave::default();
    let mut erased = false;
    let mut one_by_one = Vec::new();
    for Decoded {
        id,
        version,
        time,
        event,
    } in wave
    {
        let common = |mut row: Vec<Val>| {
            row.push(Val::Text(time.clone()));
            row.push(Val::Int(version));
            row
        };
        match event {
            AnyEvent::User(UserEvent::Registered(r)) => w.users.push(vec![
                Val::Text(id),
                Val::Text(r.email),
                Val::MaybeText(r.display_name),
                Val::Text(r.role.as_str().to_owned()),
                Val::Text(timestamp(&r.registered_at)),
                Val::Text(time),
                Val::Int(version),
            ]),
            AnyEvent::User(UserEvent::Forgotten(_)) => {
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
            AnyEvent::Document(DocumentEvent::Uploaded(u)) => w.documents.push(vec![
                Val::Text(id),
                Val::Text(u.owner.to_string()),
                Val::Text(u.title),
                Val::Text(u.original_filename),
                Val::Text(u.media_type),
                Val::Int(int(u.size_bytes)?),
                Val::Text(u.sha256),
                Val::Text(u.blob_ref),
                Val::Text(timestamp(&u.uploaded_at)),
                Val::Text(time),
                Val::Int(version),
            ]),
            AnyEvent::Document(DocumentEvent::Renamed(r)) => {
                w.document_titles
                    .push(common(vec![Val::Text(id), Val::Text(r.title)]));
            }
            AnyEvent::Document(DocumentEvent::Deleted(_)) => w.deleted_documents.push(id),
            AnyEvent::Document(other) => one_by_one.push((id, version, time, other)),
            AnyEvent::Character(CharacterEvent::Created(c)) => {
                w.touched_characters.push(id.clone());
                w.characters.push(vec![
                    Val::Text(id),
                    Val::Text(c.owner.to_string()),
                    Val::Text(c.name),
                    Val::Text(serde_json::Value::from(c.aliases).to_string()),
                    Val::Text(c.personality_profile.to_string()),
                    Val::MaybeText(c.source_document_id.map(|s| s.to_string())),
                    Val::Text(c.origin.as_str().to_owned()),
                    Val::Text(timestamp(&c.created_at)),
                    Val::Text(time),
                    Val::Int(version),
                ]);
            }
            AnyEvent::Character(CharacterEvent::Renamed(r)) => {
                w.touched_characters.push(id.clone());
                w.names.push(common(vec![Val::Text(id), Val::Text(r.name)]));
            }
            AnyEvent::Character(CharacterEvent::ProfileUpdated(p)) => {
                w.profiles.push(common(vec![
                    Val::Text(id),
                    Val::Text(p.personality_profile.to_string()),
                ]));
            }
            AnyEvent::Character(CharacterEvent::AliasAdded(a)) => {
                w.touched_characters.push(id.clone());
                w.aliases
                    .push(common(vec![Val::Text(id), Val::Text(a.alias)]));
            }
            AnyEvent::Character(CharacterEvent::Deleted(_)) => {
                w.touched_characters.push(id.clone());
                w.deleted_characters.push(id);
            }
        }
    }
    let touched = std::mem::take(&mut w.touched_characters);
    write_wave(conn, d, w).await?;
    for (id, version, time, event) in one_by_one {
        processing::event(conn, d, blobs, &id, version, &time, event).await?;
    }
    processing::refresh_character_names(conn, d, &touched).await?;
    Ok(erased)
}

async fn write_wave(conn: &mut AnyConnection, d: Dialect, w: Wave) -> Result<(), ProjectionError> {
    rows::run(
        conn,
        d,
        "INSERT INTO users (user_id, email, display_name, role, registered_at, updated_at, version) ",
        &[UUID, "", "", "", TIME, TIME, ""],
        w.users,
        " ON CONFLICT (user_id) DO NOTHING",
    )
    .await?;
    rows::run(
        conn,
        d,
        "INSERT INTO documents (document_id, owner_id, title, original_filename, media_type,
           size_bytes, sha256, blob_ref, uploaded_at, updated_at, version) ",
        &[UUID, UUID, "", "", "", "", "", "", TIME, TIME, ""],
        w.documents,
        " ON CONFLICT (document_id) DO NOTHING",
    )
    .await?;
    rows::run(
        conn,
        d,
        "UPDATE documents SET title = v.column2, updated_at = v.column3, version = v.column4 FROM (",
        &[UUID, "", TIME, ""],
        w.document_titles,
        ") AS v WHERE documents.document_id = v.column1 AND documents.version < v.column4",
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
        &[UUID, UUID, "", JSON, JSON, UUID, "", TIME, TIME, ""],
        w.characters,
        " ON CONFLICT (character_id) DO NOTHING",
    )
    .await?;
    rows::run(
        conn,
        d,
        "UPDATE characters SET name = v.column2, updated_at = v.column3, version = v.column4 FROM (",
        &[UUID, "", TIME, ""],
        w.names,
        ") AS v WHERE characters.character_id = v.column1 AND characters.version < v.column4",
    )
    .await?;
    rows::run(
        conn,
        d,
        "UPDATE characters SET personality_profile = v.column2, updated_at = v.column3,
           version = v.column4 FROM (",
        &[UUID, JSON, TIME, ""],
        w.profiles,
        ") AS v WHERE characters.character_id = v.column1 AND characters.version < v.column4",
    )
    .await?;
    let append_alias = match d {
        Dialect::Postgres => "characters.aliases || jsonb_build_array(v.column2)",
        Dialect::Sqlite => "json_insert(characters.aliases, '$[#]', v.column2)",
    };
    rows::run(
        conn,
        d,
        &format!(
            "UPDATE characters SET aliases = {append_alias}, updated_at = v.column3,
               version = v.column4 FROM ("
        ),
        &[UUID, "", TIME, ""],
        w.aliases,
        ") AS v WHERE characters.character_id = v.column1 AND characters.version < v.column4",
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
        &["", "", ""],
        values,
        " ON CONFLICT (projection, partition) DO UPDATE SET next_offset = excluded.next_offset
          WHERE excluded.next_offset > checkpoints.next_offset",
    )
    .await?;
    Ok(())
}
