//! The command service against the real embedded log.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;
use std::collections::BTreeMap;
use studio_command_api::{CommandError, CommandMeta, CommandService};
use studio_domain::character::{CharacterAggregate, CharacterCommand, CreateCharacter};
use studio_domain::{Actor, CharacterId, DomainError, Role, UserId};
use studio_event_log::sqlite::{SqliteEventLog, SqliteLogOptions};

use studio_event_log::{
    AppendOutcome, AppendRequest, EventLog, GENESIS_HASH, LogCursor, LogError, StoredEvent,
};
use studio_privacy::{PersonalData, SqliteKeyStore};
use tempfile::TempDir;
use uuid::Uuid;

const OWNER: Uuid = Uuid::from_u128(0xada);

async fn personal(dir: &TempDir) -> Arc<PersonalData> {
    let keys = SqliteKeyStore::open(&dir.path().join("keys.db"))
        .await
        .expect("key store");
    Arc::new(PersonalData::new(Arc::new(keys)))
}

async fn service() -> (TempDir, Arc<dyn EventLog>, CommandService) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log: Arc<dyn EventLog> = Arc::new(
        SqliteEventLog::open(&dir.path().join("events.db"), SqliteLogOptions::default())
            .await
            .expect("open log"),
    );
    let service = CommandService::new(log.clone(), personal(&dir).await, "urn:studio:test");
    (dir, log, service)
}

fn actor() -> Actor {
    Actor::User {
        id: UserId::from_uuid(OWNER),
        role: Role::Editor,
    }
}

fn meta() -> CommandMeta {
    CommandMeta::new(Uuid::now_v7(), OWNER.to_string(), Utc::now())
}

fn create(name: &str) -> CharacterCommand {
    CharacterCommand::Create(CreateCharacter {
        actor: actor(),
        owner: UserId::from_uuid(OWNER),
        name: name.into(),
        aliases: vec![],
        personality_profile: json!({}),
        source_document: None,
        origin: studio_domain::character::CharacterOrigin::Manual,
        at: Utc::now(),
    })
}

fn rename(name: &str) -> CharacterCommand {
    CharacterCommand::Rename {
        actor: actor(),
        name: name.into(),
    }
}

#[tokio::test]
async fn a_command_becomes_enveloped_chained_events() {
    let (_dir, log, service) = service().await;
    let id = CharacterId::from_uuid(Uuid::now_v7());
    let meta = meta();
    let executed = service
        .execute::<CharacterAggregate>(id, &meta, vec![create("Pip"), rename("Philip Pirrip")])
        .await
        .expect("execute");
    assert_eq!(executed.version, 2);
    assert_eq!(executed.positions.len(), 2);
    assert!(!executed.duplicate);
    assert_eq!(
        executed.token.to_string(),
        format!(
            "{}:{}",
            executed.positions[1].partition, executed.positions[1].offset
        )
    );

    let stream = log.read_stream(id.into()).await.expect("read");
    let first = &stream[0].envelope;
    assert_eq!(first.event_type, "studio.character.created.v2");
    assert_eq!(first.aggregatetype, "character");
    assert_eq!(first.subject, Uuid::from(id));
    assert_eq!(first.tenant, OWNER);
    assert_eq!(first.actor, OWNER.to_string());
    assert_eq!(first.commandid, meta.command_id);
    assert_eq!(first.correlationid, meta.command_id);
    assert_eq!(first.source, "urn:studio:test");
    assert_eq!(first.prevhash, GENESIS_HASH);
    assert_eq!(first.id.get_version_num(), 7);
    assert_eq!(stream[1].envelope.prevhash, first.hash);
    assert_eq!(stream[1].envelope.data, json!({ "name": "Philip Pirrip" }));
}

#[tokio::test]
async fn a_retried_command_returns_its_first_outcome() {
    let (_dir, log, service) = service().await;
    let id = CharacterId::from_uuid(Uuid::now_v7());
    let mut meta = meta();
    meta.may_be_retry = true;
    let first = service
        .execute::<CharacterAggregate>(id, &meta, vec![create("Estella")])
        .await
        .expect("first");
    // Deciding again would be refused (the character exists); the retry
    // must meet its first outcome instead.
    let again = service
        .execute::<CharacterAggregate>(id, &meta, vec![create("Estella")])
        .await
        .expect("retry");
    assert!(again.duplicate);
    assert_eq!(again.positions, first.positions);
    assert_eq!(log.read_stream(id.into()).await.expect("read").len(), 1);

    // A fresh command id cannot be a retry: it is decided, and refused.
    let mut fresh = meta.clone();
    fresh.command_id = Uuid::now_v7();
    fresh.may_be_retry = false;
    match service
        .execute::<CharacterAggregate>(id, &fresh, vec![create("Estella")])
        .await
    {
        Err(CommandError::Domain(DomainError::AlreadyExists(_))) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_stale_cached_head_costs_a_reload_not_a_wrong_decision() {
    let (_dir, log, service) = service().await;
    let id = CharacterId::from_uuid(Uuid::now_v7());
    service
        .execute::<CharacterAggregate>(id, &meta(), vec![create("Wemmick")])
        .await
        .expect("create");
    // Another writer (another service, so another cache) moves the stream on.
    let other = CommandService::new(
        log.clone(),
        service.personal_data().clone(),
        "urn:studio:other",
    );
    other
        .execute::<CharacterAggregate>(id, &meta(), vec![rename("John Wemmick")])
        .await
        .expect("rename");
    // The first service's cached head is stale; its command still lands
    // after the other writer's.
    let executed = service
        .execute::<CharacterAggregate>(
            id,
            &meta(),
            vec![CharacterCommand::AddAlias {
                actor: actor(),
                alias: "the Aged's son".into(),
            }],
        )
        .await
        .expect("alias");
    assert_eq!(executed.version, 3);
    // And a pinned version is checked against the log, not the stale cache.
    service
        .execute::<CharacterAggregate>(id, &meta(), vec![rename("Wemmick")])
        .await
        .expect("rename back");
    other
        .execute::<CharacterAggregate>(id, &meta(), vec![rename("Mr Wemmick")])
        .await
        .expect("rename");
    let mut pinned = meta();
    pinned.expected_version = Some(5);
    service
        .execute::<CharacterAggregate>(id, &pinned, vec![rename("Walworth Wemmick")])
        .await
        .expect("pinned to the real version");
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_and_writes_nothing() {
    let (_dir, log, service) = service().await;
    let id = CharacterId::from_uuid(Uuid::now_v7());
    service
        .execute::<CharacterAggregate>(id, &meta(), vec![create("Joe")])
        .await
        .expect("create");
    service
        .execute::<CharacterAggregate>(id, &meta(), vec![rename("Joe Gargery")])
        .await
        .expect("rename");
    let mut stale = meta();
    stale.expected_version = Some(1);
    match service
        .execute::<CharacterAggregate>(id, &stale, vec![rename("Joseph")])
        .await
    {
        Err(CommandError::Conflict {
            expected: 1,
            actual: 2,
        }) => {}
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(log.read_stream(id.into()).await.expect("read").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpinned_commands_that_race_are_decided_again() {
    let (_dir, log, service) = service().await;
    let service = Arc::new(service);
    let id = CharacterId::from_uuid(Uuid::now_v7());
    service
        .execute::<CharacterAggregate>(id, &meta(), vec![create("Miss Havisham")])
        .await
        .expect("create");
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let service = service.clone();
            tokio::spawn(async move {
                service
                    .execute::<CharacterAggregate>(
                        id,
                        &meta(),
                        vec![rename(&format!("Havisham {i}"))],
                    )
                    .await
            })
        })
        .collect();
    let mut applied = 0;
    for task in tasks {
        match task.await.expect("join") {
            Ok(_) => applied += 1,
            Err(CommandError::Conflict { .. }) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    // Every acknowledged rename is in the stream, once, in order.
    let stream = log.read_stream(id.into()).await.expect("read");
    assert_eq!(stream.len(), 1 + applied);
    let sequences: Vec<u64> = stream
        .iter()
        .map(|e| e.envelope.aggregatesequence)
        .collect();
    assert_eq!(sequences, (1..=stream.len() as u64).collect::<Vec<_>>());
}

/// A log on which another writer always gets in first, once per stream.
struct Overtaken {
    inner: Arc<dyn EventLog>,
    service: CommandService,
    done: std::sync::Mutex<bool>,
}

#[async_trait::async_trait]
impl EventLog for Overtaken {
    fn partitions(&self) -> u32 {
        self.inner.partitions()
    }
    async fn append(&self, request: AppendRequest) -> Result<AppendOutcome, LogError> {
        let first = std::mem::replace(&mut *self.done.lock().expect("lock"), true);
        if !first && request.expected_version > 0 {
            let id = CharacterId::from_uuid(request.aggregate_id);
            self.service
                .execute::<CharacterAggregate>(
                    id,
                    &meta(),
                    vec![CharacterCommand::AddAlias {
                        actor: actor(),
                        alias: format!("Intruder {}", Uuid::now_v7()),
                    }],
                )
                .await
                .map_err(|e| LogError::Unavailable(e.to_string()))?;
        }
        self.inner.append(request).await
    }
    async fn command_outcome(
        &self,
        aggregate_id: Uuid,
        command_id: Uuid,
    ) -> Result<Option<AppendOutcome>, LogError> {
        self.inner.command_outcome(aggregate_id, command_id).await
    }
    async fn read_stream(&self, aggregate_id: Uuid) -> Result<Vec<StoredEvent>, LogError> {
        self.inner.read_stream(aggregate_id).await
    }
    async fn end_offsets(&self) -> Result<BTreeMap<u32, u64>, LogError> {
        self.inner.end_offsets().await
    }
    async fn cursor(&self, from: BTreeMap<u32, u64>) -> Result<Box<dyn LogCursor>, LogError> {
        self.inner.cursor(from).await
    }
}

#[tokio::test]
async fn a_command_overtaken_by_another_writer_is_decided_against_the_newer_state() {
    let (_dir, log, plain) = service().await;
    let keys = plain.personal_data().clone();
    let id = CharacterId::from_uuid(Uuid::now_v7());
    plain
        .execute::<CharacterAggregate>(id, &meta(), vec![create("Magwitch")])
        .await
        .expect("create");
    let overtaken: Arc<dyn EventLog> = Arc::new(Overtaken {
        inner: log.clone(),
        service: CommandService::new(log.clone(), keys.clone(), "urn:studio:intruder"),
        done: std::sync::Mutex::new(false),
    });
    let racing = CommandService::new(overtaken, keys.clone(), "urn:studio:test");
    let executed = racing
        .execute::<CharacterAggregate>(
            id,
            &meta(),
            vec![CharacterCommand::AddAlias {
                actor: actor(),
                alias: "Provis".into(),
            }],
        )
        .await
        .expect("decided again after the conflict");
    assert_eq!(executed.version, 3);
    let stream = log.read_stream(id.into()).await.expect("read");
    let types: Vec<&str> = stream
        .iter()
        .map(|e| e.envelope.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "studio.character.created.v2",
            "studio.character.alias_added.v1",
            "studio.character.alias_added.v1",
        ]
    );
    assert!(
        stream[1].envelope.data["alias"]
            .as_str()
            .is_some_and(|a| a.starts_with("Intruder"))
    );
    assert_eq!(stream[2].envelope.data["alias"], "Provis");
    assert_eq!(stream[2].envelope.source, "urn:studio:test");

    // Pinned to a version, the same race is the caller's to resolve.
    let overtaken: Arc<dyn EventLog> = Arc::new(Overtaken {
        inner: log.clone(),
        service: CommandService::new(log.clone(), keys.clone(), "urn:studio:intruder"),
        done: std::sync::Mutex::new(false),
    });
    let racing = CommandService::new(overtaken, keys.clone(), "urn:studio:test");
    let mut pinned = meta();
    pinned.expected_version = Some(3);
    match racing
        .execute::<CharacterAggregate>(id, &pinned, vec![rename("Abel")])
        .await
    {
        Err(CommandError::Conflict {
            expected: 3,
            actual: 4,
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_command_that_changes_nothing_appends_nothing() {
    let (_dir, log, service) = service().await;
    let id = CharacterId::from_uuid(Uuid::now_v7());
    let created = service
        .execute::<CharacterAggregate>(id, &meta(), vec![create("Biddy")])
        .await
        .expect("create");
    let same = service
        .execute::<CharacterAggregate>(id, &meta(), vec![rename("Biddy")])
        .await
        .expect("rename");
    assert!(same.positions.is_empty());
    assert_eq!(same.version, 1);
    assert_eq!(
        same.token, created.token,
        "a no-op still answers with a token to read at"
    );
    assert_eq!(log.read_stream(id.into()).await.expect("read").len(), 1);
}

#[tokio::test]
async fn domain_refusals_come_back_typed() {
    let (_dir, _log, service) = service().await;
    let id = CharacterId::from_uuid(Uuid::now_v7());
    match service
        .execute::<CharacterAggregate>(id, &meta(), vec![rename("Nobody")])
        .await
    {
        Err(CommandError::Domain(DomainError::NotFound(_))) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn creating_commands_skip_the_read_and_still_meet_an_existing_stream() {
    let (_dir, log, service) = service().await;
    let id = CharacterId::from_uuid(Uuid::now_v7());
    let first = meta();
    let executed = service
        .create::<CharacterAggregate>(id, &first, vec![create("Pip")])
        .await
        .expect("create");
    assert_eq!((executed.version, executed.duplicate), (1, false));
    // The same command again: its first outcome, nothing appended.
    let again = service
        .create::<CharacterAggregate>(id, &first, vec![create("Pip")])
        .await
        .expect("create again");
    assert!(again.duplicate);
    assert_eq!(again.positions, executed.positions);
    // Another command that would create it: a conflict, not a second creation.
    let other = CommandService::new(log.clone(), personal(&_dir).await, "urn:studio:test");
    let conflict = other
        .create::<CharacterAggregate>(id, &meta(), vec![create("Pip")])
        .await;
    assert!(
        matches!(
            conflict,
            Err(CommandError::Conflict {
                expected: 0,
                actual: 1
            })
        ),
        "{conflict:?}"
    );
    assert_eq!(log.read_stream(id.into()).await.expect("read").len(), 1);
}
