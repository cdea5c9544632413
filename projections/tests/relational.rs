//! The relational projection and the projector runtime, fed by the real
//! embedded log: one conformance suite, run on SQLite and on PostgreSQL
//! (`bash infra/local/up.sh postgres` starts one and prints the variable
//! these tests read; the README's test command does).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;
use sha2::Digest;
use studio_blob_store::BlobStore;
use studio_blob_store::local::LocalBlobStore;
use studio_domain::character::{
    CharacterAliasAdded, CharacterCreated, CharacterDeleted, CharacterEvent,
    CharacterProfileUpdated, CharacterRenamed,
};
use studio_domain::document::processing::{DocumentAnalysed, TextExtracted};
use studio_domain::document::{DocumentEvent, DocumentRenamed, DocumentUploaded};
use studio_domain::user::{UserEvent, UserRegistered};
use studio_domain::{DocumentId, DomainEvent, Role, UserId};
use studio_event_log::sqlite::{SqliteEventLog, SqliteLogOptions};
use studio_event_log::{
    AppendRequest, EventEnvelope, EventLog, GENESIS_HASH, NewEvent, PositionToken, StreamHeader,
};
use studio_privacy::{PersonalData, SqliteKeyStore};
use studio_projections::relational::Relational;
use studio_projections::{
    LocalProgress, PageRequest, ProgressFeed, Projection, Projector, ProjectorConfig, ReadModel,
    Viewer,
};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const ADA: Uuid = Uuid::from_u128(0xada);
const BOB: Uuid = Uuid::from_u128(0xb0b);

/// Where the read models of a test live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the tests use: each test makes databases of its own.
fn postgres_url() -> String {
    std::env::var("STUDIO_READ_MODEL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
        .unwrap_or_else(|| {
            panic!(
                "no PostgreSQL: run `eval \"$(bash infra/local/up.sh postgres)\"` first \
                 (the README's test command does)"
            )
        })
}

/// A fresh database on the test server; its URL.
async fn fresh_database() -> String {
    use sqlx::Connection;
    let base = postgres_url();
    let name = format!("studio_test_{}", Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create a database");
    let (prefix, _) = base.rsplit_once('/').expect("a database URL");
    format!("{prefix}/{name}")
}

struct World {
    dir: TempDir,
    log: Arc<dyn EventLog>,
    backend: Backend,
}

impl World {
    async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = Arc::new(
            SqliteEventLog::open(&dir.path().join("events.db"), SqliteLogOptions::default())
                .await
                .expect("log"),
        );
        Self { dir, log, backend }
    }

    async fn read_model(&self, name: &str) -> Arc<Relational> {
        let keys = SqliteKeyStore::open(&self.dir.path().join("keys.db"))
            .await
            .expect("keys");
        let personal = Arc::new(PersonalData::new(Arc::new(keys)));
        let blobs = LocalBlobStore::open(&self.dir.path().join("blobs"))
            .await
            .expect("blobs");
        let blobs = Arc::new(blobs);
        let read_model = match self.backend {
            Backend::Sqlite => {
                Relational::open_sqlite(&self.dir.path().join(name), personal, blobs).await
            }
            Backend::Postgres => {
                Relational::open_postgres(&fresh_database().await, personal, blobs).await
            }
        };
        Arc::new(read_model.expect("read model"))
    }

    /// A token that the log's every event so far has to be passed.
    async fn end_token(&self) -> PositionToken {
        let ends = self.log.end_offsets().await.expect("ends");
        PositionToken::from_positions(ends.iter().filter(|(_, end)| **end > 0).map(
            |(&partition, &end)| studio_event_log::Position {
                partition,
                offset: end - 1,
            },
        ))
    }

    /// Appends events of one aggregate, continuing its stream.
    async fn record<E: DomainEvent>(
        &self,
        kind: &str,
        id: Uuid,
        tenant: Uuid,
        events: Vec<E>,
    ) -> PositionToken {
        let stream = self.log.read_stream(id).await.expect("read");
        let (version, hash) = stream
            .last()
            .map(|e| (e.envelope.aggregatesequence, e.envelope.hash.clone()))
            .unwrap_or((0, GENESIS_HASH.to_owned()));
        let command_id = Uuid::now_v7();
        let header = StreamHeader {
            aggregate_id: id,
            aggregate_type: kind.into(),
            tenant,
            actor: tenant.to_string(),
            source: "urn:studio:test".into(),
            command_id,
            correlation_id: command_id,
            causation_id: command_id,
            time: Utc
                .with_ymd_and_hms(2026, 2, 3, 4, 5, 6)
                .single()
                .unwrap_or_default(),
        };
        let new = events
            .iter()
            .map(|e| {
                let encoded = e.encode();
                NewEvent {
                    event_type: encoded.event_type,
                    data: encoded.data,
                }
            })
            .collect();
        let envelopes = EventEnvelope::chain(&header, version, &hash, new, Uuid::now_v7);
        let outcome = self
            .log
            .append(AppendRequest {
                aggregate_id: id,
                expected_version: version,
                command_id,
                events: envelopes,
            })
            .await
            .expect("append");
        PositionToken::from_positions(outcome.positions)
    }

    async fn seed(&self) -> (Uuid, Uuid) {
        let at = Utc
            .with_ymd_and_hms(2026, 2, 3, 4, 5, 6)
            .single()
            .unwrap_or_default();
        for (user, email) in [(ADA, "ada@example.org"), (BOB, "bob@example.org")] {
            self.record(
                "user",
                user,
                user,
                vec![UserEvent::Registered(UserRegistered {
                    email: email.into(),
                    password_hash: "$argon2id$x".into(),
                    role: Role::Editor,
                    display_name: None,
                    registered_at: at,
                })],
            )
            .await;
        }
        let document = Uuid::now_v7();
        self.record(
            "document",
            document,
            ADA,
            vec![DocumentEvent::Uploaded(DocumentUploaded {
                owner: UserId::from_uuid(ADA),
                title: "Bleak House".into(),
                original_filename: "bleak.txt".into(),
                media_type: "text/plain".into(),
                size_bytes: 10,
                sha256: "a".repeat(64),
                blob_ref: format!("sha256/{}", "a".repeat(64)),
                uploaded_at: at,
            })],
        )
        .await;
        let character = Uuid::now_v7();
        self.record(
            "character",
            character,
            ADA,
            vec![
                CharacterEvent::Created(CharacterCreated {
                    owner: UserId::from_uuid(ADA),
                    name: "Esther".into(),
                    aliases: vec!["Dame Durden".into()],
                    personality_profile: json!({ "kind": true }),
                    source_document_id: Some(DocumentId::from_uuid(document)),
                    origin: studio_domain::character::CharacterOrigin::Manual,
                    created_at: at,
                }),
                CharacterEvent::Renamed(CharacterRenamed {
                    name: "Esther Summerson".into(),
                }),
                CharacterEvent::AliasAdded(CharacterAliasAdded {
                    alias: "Little Old Woman".into(),
                }),
            ],
        )
        .await;
        for i in 0..5 {
            self.record(
                "character",
                Uuid::now_v7(),
                BOB,
                vec![CharacterEvent::Created(CharacterCreated {
                    owner: UserId::from_uuid(BOB),
                    name: format!("Bob's {i}"),
                    aliases: vec![],
                    personality_profile: json!({}),
                    source_document_id: None,
                    origin: studio_domain::character::CharacterOrigin::Manual,
                    created_at: at + chrono::Duration::seconds(i),
                })],
            )
            .await;
        }
        (document, character)
    }

    /// Runs a projector until it has applied the whole log.
    async fn project(&self, projection: Arc<Relational>) -> LocalProgress {
        let progress = LocalProgress::new();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(
            Projector::new(
                self.log.clone(),
                projection,
                progress.clone(),
                ProjectorConfig::default(),
            )
            .run(shutdown.clone()),
        );
        let ends = self.log.end_offsets().await.expect("ends");
        let token = PositionToken::from_positions(ends.iter().filter(|(_, end)| **end > 0).map(
            |(&partition, &end)| studio_event_log::Position {
                partition,
                offset: end - 1,
            },
        ));
        progress
            .wait_for(&token, Duration::from_secs(10))
            .await
            .expect("caught up");
        shutdown.cancel();
        task.await.expect("join").expect("projector");
        progress
    }
}

fn viewer(id: Uuid) -> Viewer {
    Viewer {
        user_id: id,
        admin: false,
    }
}

async fn events_become_rows_each_tenant_sees_their_own(backend: Backend) {
    let world = World::new(backend).await;
    let (document, character) = world.seed().await;
    let read = world.read_model("read.db").await;
    world.project(read.clone()).await;

    let esther = read
        .character(&viewer(ADA), character)
        .await
        .expect("read")
        .expect("esther");
    assert_eq!(esther.name, "Esther Summerson");
    assert_eq!(esther.aliases, ["Dame Durden", "Little Old Woman"]);
    assert_eq!(esther.version, 3);
    assert_eq!(esther.source_document_id, Some(document));
    assert!(
        read.character(&viewer(BOB), character)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        read.document(&viewer(BOB), document)
            .await
            .expect("read")
            .is_none()
    );
    let admin = Viewer {
        user_id: Uuid::now_v7(),
        admin: true,
    };
    assert!(
        read.document(&admin, document)
            .await
            .expect("read")
            .is_some()
    );

    let ada_page = read
        .characters(&viewer(ADA), None, &PageRequest::new(None, None))
        .await
        .expect("list");
    assert_eq!(ada_page.items.len(), 1);
    let of_document = read
        .characters(&viewer(ADA), Some(document), &PageRequest::new(None, None))
        .await
        .expect("list");
    assert_eq!(of_document.items.len(), 1);

    // Keyset pages walk Bob's five characters without gaps or repeats.
    let mut names = Vec::new();
    let mut after = None;
    loop {
        let page = read
            .characters(&viewer(BOB), None, &PageRequest::new(Some(2), after))
            .await
            .expect("page");
        names.extend(page.items.iter().map(|(_, c)| c.name.clone()));
        if !page.has_next {
            break;
        }
        after = page.items.last().map(|(k, _)| k.clone());
    }
    assert_eq!(
        names,
        (0..5).map(|i| format!("Bob's {i}")).collect::<Vec<_>>()
    );

    let history = read
        .stream_events(&viewer(ADA), character, &PageRequest::new(None, None))
        .await
        .expect("history");
    let types: Vec<&str> = history
        .items
        .iter()
        .map(|(_, e)| e.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "studio.character.created.v2",
            "studio.character.renamed.v1",
            "studio.character.alias_added.v1"
        ]
    );
    assert!(
        read.stream_events(&viewer(BOB), character, &PageRequest::new(None, None))
            .await
            .expect("history")
            .items
            .is_empty()
    );

    let mut cursor = BTreeMap::new();
    let partitions: Vec<u32> = (0..world.log.partitions()).collect();
    let bobs = read
        .feed_after(&viewer(BOB), &mut cursor, &partitions, 100)
        .await
        .expect("feed");
    assert!(bobs.iter().all(|e| e.tenant == BOB));
    assert_eq!(bobs.len(), 1 + 5);
    assert!(
        read.feed_after(&viewer(BOB), &mut cursor, &partitions, 100)
            .await
            .expect("feed")
            .is_empty()
    );
}

async fn applying_a_batch_again_changes_nothing(backend: Backend) {
    let world = World::new(backend).await;
    world.seed().await;
    let read = world.read_model("read.db").await;
    world.project(read.clone()).await;
    let before = read.contents().await.expect("contents");
    let mut cursor = world.log.cursor(BTreeMap::new()).await.expect("cursor");
    let everything = cursor
        .next_batch(10_000, Duration::from_millis(10))
        .await
        .expect("batch");
    read.apply(&everything).await.expect("apply again");
    assert_eq!(read.contents().await.expect("contents"), before);
}

/// Batches fold an aggregate's events into one write; the rows must be
/// those of applying the events one at a time.
async fn one_batch_or_one_event_at_a_time_the_rows_are_the_same(backend: Backend) {
    let world = World::new(backend).await;
    let (document, character) = world.seed().await;
    world
        .record(
            "character",
            character,
            ADA,
            vec![
                CharacterEvent::ProfileUpdated(CharacterProfileUpdated {
                    personality_profile: json!({ "kind": true, "shy": true }),
                }),
                CharacterEvent::AliasAdded(CharacterAliasAdded {
                    alias: "Mother Hubbard".into(),
                }),
                CharacterEvent::Renamed(CharacterRenamed {
                    name: "Mrs Woodcourt".into(),
                }),
                CharacterEvent::AliasAdded(CharacterAliasAdded {
                    alias: "Cobweb".into(),
                }),
            ],
        )
        .await;
    world
        .record(
            "document",
            document,
            ADA,
            vec![
                DocumentEvent::Renamed(DocumentRenamed {
                    title: "Bleak House, vol. 1".into(),
                }),
                DocumentEvent::Renamed(DocumentRenamed {
                    title: "Bleak House".into(),
                }),
            ],
        )
        .await;
    let mut cursor = world.log.cursor(BTreeMap::new()).await.expect("cursor");
    let everything = cursor
        .next_batch(10_000, Duration::from_millis(10))
        .await
        .expect("batch");
    let folded = world.read_model("folded.db").await;
    folded.apply(&everything).await.expect("one batch");
    let stepwise = world.read_model("stepwise.db").await;
    for event in &everything {
        stepwise
            .apply(std::slice::from_ref(event))
            .await
            .expect("one event");
    }
    // The seed in one batch, then the edits in another: they fold into
    // changes of rows that exist.
    let (later, seeded): (Vec<_>, Vec<_>) = everything.iter().cloned().partition(|e| {
        let subject = e.envelope.subject;
        let seq = e.envelope.aggregatesequence;
        (subject == character && seq > 3) || (subject == document && seq > 1)
    });
    assert_eq!(later.len(), 6);
    let in_two = world.read_model("in-two.db").await;
    in_two.apply(&seeded).await.expect("the seed");
    in_two.apply(&later).await.expect("the edits");
    let contents = folded.contents().await.expect("contents");
    assert_eq!(contents, stepwise.contents().await.expect("contents"));
    assert_eq!(contents, in_two.contents().await.expect("contents"));
    let esther = folded
        .character(&viewer(ADA), character)
        .await
        .expect("query")
        .expect("the character");
    assert_eq!(esther.name, "Mrs Woodcourt");
    assert_eq!(
        esther.aliases,
        [
            "Dame Durden",
            "Little Old Woman",
            "Mother Hubbard",
            "Cobweb"
        ]
    );
}

async fn a_restarted_projector_resumes_at_its_checkpoint(backend: Backend) {
    let world = World::new(backend).await;
    world.seed().await;
    let live = world.read_model("live.db").await;
    world.project(live.clone()).await;
    let checkpoints = Projection::checkpoints(live.as_ref())
        .await
        .expect("checkpoints");
    assert_eq!(
        checkpoints,
        world
            .log
            .end_offsets()
            .await
            .expect("ends")
            .into_iter()
            .filter(|(_, e)| *e > 0)
            .collect()
    );

    // More history while it is stopped, including a deletion.
    let gone = Uuid::now_v7();
    world
        .record(
            "character",
            gone,
            ADA,
            vec![CharacterEvent::Created(CharacterCreated {
                owner: UserId::from_uuid(ADA),
                name: "Krook".into(),
                aliases: vec![],
                personality_profile: json!({}),
                source_document_id: None,
                origin: studio_domain::character::CharacterOrigin::Manual,
                created_at: Utc::now(),
            })],
        )
        .await;
    world
        .record(
            "character",
            gone,
            ADA,
            vec![CharacterEvent::Deleted(CharacterDeleted {})],
        )
        .await;
    world.project(live.clone()).await;

    let fresh = world.read_model("fresh.db").await;
    world.project(fresh.clone()).await;
    assert_eq!(
        live.contents().await.expect("live"),
        fresh.contents().await.expect("fresh")
    );
    assert!(
        live.character(&viewer(ADA), gone)
            .await
            .expect("read")
            .is_none()
    );
}

/// A projector with short pauses, so that parking takes milliseconds.
fn impatient() -> ProjectorConfig {
    ProjectorConfig {
        retry_backoff: (Duration::from_millis(5), Duration::from_millis(20)),
        poison_attempts: 2,
        ..ProjectorConfig::default()
    }
}

/// Runs a projector until it has passed `token`.
async fn project_until(world: &World, read: Arc<Relational>, token: &PositionToken) {
    let progress = LocalProgress::new();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(
        Projector::new(world.log.clone(), read, progress.clone(), impatient())
            .run(shutdown.clone()),
    );
    progress
        .wait_for(token, Duration::from_secs(10))
        .await
        .expect("the projector passed the poison event");
    shutdown.cancel();
    task.await.expect("join").expect("projector");
}

async fn a_poison_event_is_parked_later_events_go_on_and_a_retry_applies_it(backend: Backend) {
    let world = World::new(backend).await;
    let (document, _) = world.seed().await;
    // The analysis blob the event names is not in the store (yet).
    let analysis = serde_json::to_vec(&studio_analysis::analyze(
        "Elizabeth Bennet smiled at Mr. Darcy. Elizabeth laughed.",
    ))
    .expect("analysis json");
    let sha = hex::encode(sha2::Sha256::digest(&analysis));
    let at = Utc
        .with_ymd_and_hms(2026, 2, 3, 4, 5, 7)
        .single()
        .unwrap_or_default();
    world
        .record(
            "document",
            document,
            ADA,
            vec![
                DocumentEvent::TextExtracted(TextExtracted {
                    text_ref: format!("sha256/{sha}"),
                    text_sha256: sha.clone(),
                    chars: 10,
                    format: "plain_text".into(),
                    encoding: None,
                    boilerplate_removed: false,
                    pages: None,
                    extracted_at: at,
                }),
                DocumentEvent::Analysed(DocumentAnalysed {
                    analysis_ref: format!("sha256/{sha}"),
                    analyser: "test".into(),
                    words: 9,
                    sentences: 2,
                    paragraphs: 1,
                    chapters: 0,
                    flesch_reading_ease: 80.0,
                    flesch_kincaid_grade: 3.0,
                    dialogue_share: 0.0,
                    analysed_at: at,
                }),
                DocumentEvent::Renamed(DocumentRenamed {
                    title: "Held back".into(),
                }),
            ],
        )
        .await;
    // A later event of another aggregate.
    let later = Uuid::now_v7();
    let token = world
        .record(
            "character",
            later,
            ADA,
            vec![CharacterEvent::Created(CharacterCreated {
                owner: UserId::from_uuid(ADA),
                name: "Later".into(),
                aliases: vec![],
                personality_profile: json!({}),
                source_document_id: None,
                origin: studio_domain::character::CharacterOrigin::Manual,
                created_at: at,
            })],
        )
        .await;

    let read = world.read_model("read.db").await;
    let everything = world.end_token().await;
    project_until(&world, read.clone(), &everything).await;
    assert!(
        token.is_reached_by(
            &Projection::checkpoints(read.as_ref())
                .await
                .expect("checkpoints")
        )
    );
    // The later event was applied; the poison one parked, the rename
    // behind it held back; the document as it was before them.
    assert!(
        read.character(&viewer(ADA), later)
            .await
            .expect("read")
            .is_some()
    );
    let letters = read.dead_letters(false).await.expect("dead letters");
    let summary: Vec<(&str, &str)> = letters
        .iter()
        .map(|l| (l.event_type.as_str(), l.status.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("studio.document.analysed.v1", "parked"),
            ("studio.document.renamed.v1", "blocked"),
        ]
    );
    assert!(letters[0].error.contains("blob"), "{}", letters[0].error);
    assert_eq!(letters[0].attempts, 2);
    let doc = read
        .document(&viewer(ADA), document)
        .await
        .expect("read")
        .expect("the document");
    assert_eq!(
        (doc.processing.stage.as_str(), doc.title.as_str()),
        ("text_extracted", "Bleak House")
    );

    // A retry before the fix fails and changes nothing but the count.
    assert!(
        read.retry_dead_letter(letters[0].id, world.log.as_ref())
            .await
            .is_err()
    );
    assert_eq!(
        read.dead_letters(false).await.expect("dead letters")[0].attempts,
        3
    );

    // The fix: the blob is restored. The retry applies both, in order.
    let blobs = LocalBlobStore::open(&world.dir.path().join("blobs"))
        .await
        .expect("blobs");
    blobs
        .put(
            Box::pin(futures::stream::iter(vec![Ok(bytes::Bytes::from(
                analysis,
            ))])),
            1 << 20,
        )
        .await
        .expect("restore the blob");
    assert_eq!(
        read.retry_dead_letter(letters[0].id, world.log.as_ref())
            .await
            .expect("retry"),
        2
    );
    assert!(
        read.dead_letters(false)
            .await
            .expect("dead letters")
            .is_empty()
    );
    let doc = read
        .document(&viewer(ADA), document)
        .await
        .expect("read")
        .expect("the document");
    assert_eq!(
        (doc.processing.stage.as_str(), doc.title.as_str()),
        ("analysed", "Held back")
    );
    assert_eq!(read.dead_letters(true).await.expect("all").len(), 2);
}

async fn an_event_of_an_unknown_type_is_parked_not_dropped_and_can_be_skipped(backend: Backend) {
    let world = World::new(backend).await;
    let id = Uuid::now_v7();
    // A well-formed envelope of a type this version does not know.
    let command_id = Uuid::now_v7();
    let header = StreamHeader {
        aggregate_id: id,
        aggregate_type: "character".into(),
        tenant: ADA,
        actor: ADA.to_string(),
        source: "urn:studio:future".into(),
        command_id,
        correlation_id: command_id,
        causation_id: command_id,
        time: Utc::now(),
    };
    let events = EventEnvelope::chain(
        &header,
        0,
        GENESIS_HASH,
        vec![NewEvent {
            event_type: "studio.character.teleported.v9".into(),
            data: json!({}),
        }],
        Uuid::now_v7,
    );
    world
        .log
        .append(AppendRequest {
            aggregate_id: id,
            expected_version: 0,
            command_id,
            events,
        })
        .await
        .expect("append");
    world.seed().await;
    let read = world.read_model("read.db").await;
    let everything = world.end_token().await;
    project_until(&world, read.clone(), &everything).await;
    // Everything else applied; the unknown event waits in the table.
    assert!(read.user(&viewer(ADA), ADA).await.expect("read").is_some());
    let letters = read.dead_letters(false).await.expect("dead letters");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].event_type, "studio.character.teleported.v9");
    assert!(
        letters[0].error.contains("unknown event type"),
        "{}",
        letters[0].error
    );
    // Skipped on purpose: recorded as such, and the table is clear.
    assert_eq!(
        read.skip_dead_letter(letters[0].id, world.log.as_ref())
            .await
            .expect("skip"),
        0
    );
    assert!(
        read.dead_letters(false)
            .await
            .expect("dead letters")
            .is_empty()
    );
    assert_eq!(
        read.dead_letters(true).await.expect("all")[0].status,
        "skipped"
    );
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both!(
    events_become_rows_each_tenant_sees_their_own,
    applying_a_batch_again_changes_nothing,
    one_batch_or_one_event_at_a_time_the_rows_are_the_same,
    a_restarted_projector_resumes_at_its_checkpoint,
    a_poison_event_is_parked_later_events_go_on_and_a_retry_applies_it,
    an_event_of_an_unknown_type_is_parked_not_dropped_and_can_be_skipped,
);
