//! The vector projection on LanceDB (a local folder), with the hashing
//! embedder and real blobs: what each event makes of the tables, and that
//! applying a history again (a restart in the middle of a batch) or in
//! pieces leaves the rows a single pass leaves.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::json;
use studio_blob_store::local::LocalBlobStore;
use studio_blob_store::{BlobStore, StoredBlob};
use studio_domain::character::{
    CharacterAliasAdded, CharacterCreated, CharacterDeleted, CharacterEvent, CharacterMerged,
    CharacterOrigin, CharacterProfileUpdated, CharacterRenamed,
};
use studio_domain::document::processing::{
    CharactersDetected, DetectedCharacter, DocumentAnalysed, TextExtracted,
};
use studio_domain::document::{DocumentDeleted, DocumentEvent};
use studio_domain::{CharacterId, UserId};
use studio_embedder::{Embedder, HashingEmbedder};
use studio_event_log::StoredEvent;
use studio_projections::graph::conformance::History;
use studio_projections::vectors::{
    CharacterRecord, MentionRecord, MentionSentences, VectorProjection, VectorSnapshot,
    VectorStore, character_text, passage_texts,
};
use studio_projections::{Projection, ProjectionError};
use studio_vectors_lancedb::{LanceVectors, Location};
use uuid::Uuid;

const DIMENSION: usize = 64;

struct Fixture {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    blobs: Arc<LocalBlobStore>,
    embedder: Arc<HashingEmbedder>,
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().to_owned();
        let blobs = Arc::new(
            LocalBlobStore::open(&path.join("blobs"))
                .await
                .expect("blobs"),
        );
        Self {
            _dir: dir,
            dir: path,
            blobs,
            embedder: Arc::new(HashingEmbedder::new(DIMENSION).expect("embedder")),
        }
    }

    /// A fresh store in its own folder, and the projection into it.
    async fn projection(&self, name: &str) -> (Arc<LanceVectors>, VectorProjection) {
        let store = Arc::new(
            LanceVectors::open(
                &Location::folder(&self.dir.join(name)),
                self.embedder.model(),
                DIMENSION,
                100_000,
            )
            .await
            .expect("open"),
        );
        let projection = VectorProjection::new(
            store.clone(),
            self.embedder.clone(),
            self.blobs.clone(),
            10_000_000,
        );
        (store, projection)
    }

    async fn text(&self, text: &str) -> StoredBlob {
        let bytes = bytes::Bytes::from(text.to_owned());
        let stream = futures::stream::once(async move { Ok(bytes) });
        self.blobs
            .put(Box::pin(stream), 10_000_000)
            .await
            .expect("put")
    }
}

fn novel() -> String {
    include_str!("../../../tests/fixtures/books/call-of-the-wild.txt").to_owned()
}

fn extracted(blob: &StoredBlob, text: &str) -> DocumentEvent {
    DocumentEvent::TextExtracted(TextExtracted {
        text_ref: blob.blob_ref.to_string(),
        text_sha256: blob.blob_ref.sha256().to_owned(),
        chars: text.chars().count() as u64,
        format: "plain_text".into(),
        encoding: None,
        boilerplate_removed: false,
        pages: None,
        extracted_at: Utc
            .with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
            .single()
            .unwrap_or_default(),
    })
}

fn at_noon() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn analysed(blob: &StoredBlob, analysis: &studio_analysis::Analysis) -> DocumentEvent {
    DocumentEvent::Analysed(DocumentAnalysed {
        analysis_ref: blob.blob_ref.to_string(),
        analyser: studio_analysis::ANALYSER.into(),
        words: analysis.words as u64,
        sentences: analysis.sentences as u64,
        paragraphs: analysis.paragraphs as u64,
        chapters: analysis.chapters.len() as u64,
        flesch_reading_ease: 0.0,
        flesch_kincaid_grade: 0.0,
        dialogue_share: 0.0,
        analysed_at: at_noon(),
    })
}

/// The analysis' character named `name`, as detected for `id`.
fn detected(analysis: &studio_analysis::Analysis, name: &str, id: Uuid) -> DetectedCharacter {
    let found = analysis
        .characters
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("the analysis finds {name}"));
    DetectedCharacter {
        character_id: CharacterId::from_uuid(id),
        local_ids: vec![found.id.clone()],
        name: found.name.clone(),
        mentions: found.mentions as u64,
        first_mention: found.first_mention as u64,
        linked: false,
    }
}

/// What the projection should quote for the analysis' character `name`.
fn quoted(text: &str, analysis: &studio_analysis::Analysis, name: &str) -> Vec<String> {
    let local = &analysis
        .characters
        .iter()
        .find(|c| c.name == name)
        .expect("the character")
        .id;
    let mentions: Vec<std::ops::Range<usize>> = analysis
        .mentions
        .iter()
        .filter(|m| &m.character_id == local)
        .map(|m| m.start..m.end)
        .collect();
    MentionSentences::new(text).representative(&mentions)
}

fn created(
    owner: Uuid,
    name: &str,
    aliases: &[&str],
    profile: serde_json::Value,
) -> CharacterEvent {
    CharacterEvent::Created(CharacterCreated {
        owner: UserId::from_uuid(owner),
        name: name.into(),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        personality_profile: profile,
        source_document_id: None,
        origin: CharacterOrigin::Manual,
        created_at: Utc
            .with_ymd_and_hms(2026, 11, 29, 12, 0, 0)
            .single()
            .unwrap_or_default(),
    })
}

async fn query(embedder: &HashingEmbedder, text: &str) -> Vec<f32> {
    embedder
        .embed(&[text.to_owned()])
        .await
        .expect("embed")
        .pop()
        .expect("a vector")
}

#[tokio::test]
async fn a_text_becomes_its_passages_and_a_deleted_document_leaves_none() {
    let fixture = Fixture::new().await;
    let (store, projection) = fixture.projection("vectors").await;
    let (owner, stranger, document) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let text = novel();
    let blob = fixture.text(&text).await;
    let mut history = History::default();
    history.document(document, owner, extracted(&blob, &text));
    projection.apply(history.events()).await.expect("apply");

    let expected = passage_texts(&text);
    assert!(expected.len() > 100, "{} passages", expected.len());
    let snapshot = store.snapshot().await.expect("snapshot");
    assert_eq!(snapshot.passages.len(), expected.len());

    // A passage's own words find it first, with its place in the text.
    let wanted = &expected[expected.len() / 2];
    let hits = store
        .search_passages(
            owner,
            &query(&fixture.embedder, &wanted.text).await,
            Some(document),
            5,
        )
        .await
        .expect("search");
    assert_eq!(hits[0].start, wanted.start);
    assert_eq!(hits[0].end, wanted.end);
    assert_eq!(hits[0].chapter, wanted.chapter);
    assert_eq!(hits[0].text, wanted.text);
    assert_eq!(
        text.chars()
            .skip(wanted.start as usize)
            .take((wanted.end - wanted.start) as usize)
            .collect::<String>(),
        hits[0].text,
        "the offsets are characters of the extracted text"
    );
    assert!(hits[0].score > 0.99, "{}", hits[0].score);
    assert!(
        store
            .search_passages(
                stranger,
                &query(&fixture.embedder, &wanted.text).await,
                None,
                5
            )
            .await
            .expect("search")
            .is_empty(),
        "another owner finds nothing"
    );
    let checkpoint = store.checkpoint().await.expect("checkpoint");
    assert_eq!(checkpoint.values().sum::<u64>(), 1, "{checkpoint:?}");

    let mut more = history.continued();
    more.document(document, owner, DocumentEvent::Deleted(DocumentDeleted {}));
    projection.apply(more.events()).await.expect("apply");
    assert!(
        store
            .snapshot()
            .await
            .expect("snapshot")
            .passages
            .is_empty()
    );
}

#[tokio::test]
async fn a_text_extracted_again_replaces_the_passages() {
    let fixture = Fixture::new().await;
    let (store, projection) = fixture.projection("vectors").await;
    let (owner, document) = (Uuid::new_v4(), Uuid::new_v4());
    let first = novel();
    let second: String = first.chars().take(5_000).collect();
    let (a, b) = (fixture.text(&first).await, fixture.text(&second).await);
    let mut history = History::default();
    history.document(document, owner, extracted(&a, &first));
    history.document(document, owner, extracted(&b, &second));
    projection.apply(history.events()).await.expect("apply");
    assert_eq!(
        store.snapshot().await.expect("snapshot").passages.len(),
        passage_texts(&second).len()
    );
}

#[tokio::test]
async fn a_missing_text_is_the_events_fault() {
    let fixture = Fixture::new().await;
    let (store, projection) = fixture.projection("vectors").await;
    let blob = fixture.text("Buck did not read the newspapers.").await;
    let other = Fixture::new().await;
    let (_, elsewhere) = other.projection("vectors").await;
    let mut history = History::default();
    history.document(
        Uuid::new_v4(),
        Uuid::new_v4(),
        extracted(&blob, "Buck did not read the newspapers."),
    );
    // The other fixture's blob store never held this text.
    let error = elsewhere
        .apply(history.events())
        .await
        .expect_err("no such blob");
    assert!(
        matches!(error, ProjectionError::Blob(_)) && error.is_poison(),
        "{error:?}"
    );
    projection.apply(history.events()).await.expect("apply");
    assert_eq!(store.snapshot().await.expect("snapshot").passages.len(), 1);
}

#[tokio::test]
async fn characters_follow_their_events() {
    let fixture = Fixture::new().await;
    let (store, projection) = fixture.projection("vectors").await;
    let owner = Uuid::new_v4();
    let [buck, spitz, curly, dave] = [(); 4].map(|()| Uuid::new_v4());
    let mut history = History::default();
    history.character(
        buck,
        owner,
        created(owner, "Buck", &[], json!({"traits": ["strong"]})),
    );
    history.character(
        spitz,
        owner,
        created(owner, "Spitz", &["the lead dog"], json!(null)),
    );
    history.character(curly, owner, created(owner, "Curly", &[], json!({})));
    history.character(dave, owner, created(owner, "Dave", &[], json!({})));
    history.character(
        buck,
        owner,
        CharacterEvent::Renamed(CharacterRenamed {
            name: "Buck the dog".into(),
        }),
    );
    history.character(
        buck,
        owner,
        CharacterEvent::AliasAdded(CharacterAliasAdded {
            alias: "the Ghost Dog".into(),
        }),
    );
    history.character(
        buck,
        owner,
        CharacterEvent::ProfileUpdated(CharacterProfileUpdated {
            personality_profile: json!({"traits": ["proud", "cunning"]}),
        }),
    );
    history.character(
        curly,
        owner,
        CharacterEvent::Merged(CharacterMerged {
            into_id: CharacterId::from_uuid(dave),
        }),
    );
    // A batch of its own, so that the rename reads the stored row.
    projection.apply(history.events()).await.expect("apply");
    let mut more = history.continued();
    more.character(spitz, owner, CharacterEvent::Deleted(CharacterDeleted {}));
    more.character(
        dave,
        owner,
        CharacterEvent::Renamed(CharacterRenamed {
            name: "Dave the wheeler".into(),
        }),
    );
    projection.apply(more.events()).await.expect("apply");

    let record = store.character(buck).await.expect("read").expect("Buck");
    assert_eq!(record.name, "Buck the dog");
    assert_eq!(record.aliases, vec!["the Ghost Dog".to_owned()]);
    assert_eq!(record.profile, "traits: proud, cunning.");
    assert_eq!(
        store
            .character(dave)
            .await
            .expect("read")
            .expect("Dave")
            .name,
        "Dave the wheeler"
    );
    assert_eq!(store.character(spitz).await.expect("read"), None, "deleted");
    assert_eq!(store.character(curly).await.expect("read"), None, "merged");
    let similar = store
        .similar_characters(owner, buck, 10)
        .await
        .expect("similar")
        .expect("Buck is there");
    assert_eq!(similar.iter().map(|h| h.id).collect::<Vec<_>>(), vec![dave]);
}

#[tokio::test]
async fn applying_again_from_any_point_leaves_the_rows_of_one_pass() {
    let fixture = Fixture::new().await;
    let owner = Uuid::new_v4();
    let text = novel();
    let blob = fixture.text(&text).await;
    let mut history = History::default();
    let (kept, deleted) = (Uuid::new_v4(), Uuid::new_v4());
    history.document(kept, owner, extracted(&blob, &text));
    history.document(deleted, owner, extracted(&blob, &text));
    for n in 0..30 {
        let id = Uuid::new_v4();
        history.character(
            id,
            owner,
            created(owner, &format!("Dog {n}"), &[], json!({})),
        );
        if n % 3 == 0 {
            history.character(
                id,
                owner,
                CharacterEvent::AliasAdded(CharacterAliasAdded {
                    alias: format!("Husky {n}"),
                }),
            );
        }
        if n % 5 == 0 {
            history.character(id, owner, CharacterEvent::Deleted(CharacterDeleted {}));
        }
    }
    history.document(deleted, owner, DocumentEvent::Deleted(DocumentDeleted {}));
    let events = history.events();

    let (once, projection) = fixture.projection("once").await;
    projection.apply(events).await.expect("apply");

    // Killed after part of a batch, restarted from the checkpoint before
    // it: the part is applied again.
    let (again, projection) = fixture.projection("again").await;
    let half = events.len() / 2;
    projection.apply(&events[..half]).await.expect("apply");
    projection.apply(&events[..half + 3]).await.expect("apply");
    projection.apply(events).await.expect("apply");

    // In small batches.
    let (pieces, projection) = fixture.projection("pieces").await;
    for chunk in events.chunks(4) {
        projection.apply(chunk).await.expect("apply");
    }

    let expected = once.snapshot().await.expect("snapshot");
    assert_eq!(expected.passages.len(), passage_texts(&text).len());
    assert_eq!(expected.characters.len(), 24);
    same(
        &again.snapshot().await.expect("snapshot"),
        &expected,
        "applied again",
    );
    same(
        &pieces.snapshot().await.expect("snapshot"),
        &expected,
        "in pieces",
    );
    assert_eq!(
        again.checkpoint().await.expect("checkpoint"),
        once.checkpoint().await.expect("checkpoint")
    );
}

/// The same rows, said briefly when they are not (a snapshot is long).
fn same(found: &VectorSnapshot, expected: &VectorSnapshot, what: &str) {
    for (table, found, expected) in [
        ("passages", &found.passages, &expected.passages),
        ("characters", &found.characters, &expected.characters),
    ] {
        let ids = |rows: &[(Uuid, Vec<f32>)]| rows.iter().map(|(id, _)| *id).collect::<Vec<_>>();
        let (found_ids, expected_ids) = (ids(found), ids(expected));
        let missing: Vec<_> = expected_ids
            .iter()
            .filter(|id| !found_ids.contains(id))
            .collect();
        let extra: Vec<_> = found_ids
            .iter()
            .filter(|id| !expected_ids.contains(id))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty() && found.len() == expected.len(),
            "{what}: {table}: {} rows, not {}; missing {missing:?}, extra {extra:?}",
            found.len(),
            expected.len()
        );
        let differing = found.iter().zip(expected).filter(|(a, b)| a != b).count();
        assert_eq!(differing, 0, "{what}: {table}: {differing} vectors differ");
    }
}

#[tokio::test]
async fn characters_carry_the_sentences_that_mention_them_whatever_the_order() {
    let fixture = Fixture::new().await;
    let owner = Uuid::new_v4();
    let text = novel();
    let analysis = studio_analysis::analyze(&text);
    let text_blob = fixture.text(&text).await;
    let analysis_blob = fixture
        .text(&serde_json::to_string(&analysis).expect("json"))
        .await;
    let (book, buck, thornton, perrault) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let mut history = History::default();
    history.document(book, owner, extracted(&text_blob, &text));
    history.document(book, owner, analysed(&analysis_blob, &analysis));
    history.document(
        book,
        owner,
        DocumentEvent::CharactersDetected(CharactersDetected {
            characters: vec![
                detected(&analysis, "Buck", buck),
                detected(&analysis, "John Thornton", thornton),
                detected(&analysis, "Perrault", perrault),
            ],
        }),
    );
    for (id, name) in [
        (buck, "Buck"),
        (thornton, "John Thornton"),
        (perrault, "Perrault"),
    ] {
        history.character(id, owner, created(owner, name, &[], json!({})));
    }
    // Perrault is merged into Thornton: Thornton's vector quotes both.
    history.character(
        perrault,
        owner,
        CharacterEvent::Merged(CharacterMerged {
            into_id: CharacterId::from_uuid(thornton),
        }),
    );
    let events = history.events().to_vec();
    let documents_first = ordered(&events, |e| e.envelope.aggregatetype != "document");
    let characters_first = ordered(&events, |e| e.envelope.aggregatetype == "document");

    let (store, projection) = fixture.projection("documents-first").await;
    projection.apply(&documents_first).await.expect("apply");
    let buck_record = store.character(buck).await.expect("read").expect("Buck");
    let expected = quoted(&text, &analysis, "Buck");
    assert_eq!(expected.len(), 3, "{expected:?}");
    assert!(expected.iter().all(|s| s.contains("Buck")), "{expected:?}");
    assert_eq!(buck_record.mentions, expected);
    assert_eq!(
        buck_record.vector,
        embedding(&fixture, &buck_record).await,
        "the vector is of the names and the mentions"
    );
    let thornton_record = store
        .character(thornton)
        .await
        .expect("read")
        .expect("Thornton");
    let mut both = quoted(&text, &analysis, "John Thornton");
    both.extend(quoted(&text, &analysis, "Perrault"));
    let mut found = thornton_record.mentions.clone();
    found.sort();
    both.sort();
    assert_eq!(found, both, "its own and the merged character's");
    assert_eq!(store.character(perrault).await.expect("read"), None);

    // Characters before their document, or one event at a time: the same.
    let (other, projection) = fixture.projection("characters-first").await;
    projection.apply(&characters_first).await.expect("apply");
    let (single, projection) = fixture.projection("one-by-one").await;
    for event in &characters_first {
        projection
            .apply(std::slice::from_ref(event))
            .await
            .expect("apply");
    }
    let expected = store.snapshot().await.expect("snapshot");
    same(
        &other.snapshot().await.expect("snapshot"),
        &expected,
        "characters first",
    );
    same(
        &single.snapshot().await.expect("snapshot"),
        &expected,
        "one by one",
    );
    for id in [buck, thornton] {
        assert_eq!(
            other.character(id).await.expect("read"),
            store.character(id).await.expect("read")
        );
    }

    // The document goes: so do its mentions, from the vectors too.
    let mut more = history.continued();
    more.document(book, owner, DocumentEvent::Deleted(DocumentDeleted {}));
    projection.apply(more.events()).await.expect("apply");
    let bare = single.character(buck).await.expect("read").expect("Buck");
    assert!(bare.mentions.is_empty(), "{:?}", bare.mentions);
    assert_eq!(bare.vector, embedding(&fixture, &bare).await);
    assert_ne!(bare.vector, buck_record.vector);
}

#[tokio::test]
async fn characters_of_a_document_without_its_text_are_the_events_fault() {
    let fixture = Fixture::new().await;
    let (store, projection) = fixture.projection("vectors").await;
    let (owner, book, buck) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let mut history = History::default();
    history.document(
        book,
        owner,
        DocumentEvent::CharactersDetected(CharactersDetected {
            characters: vec![DetectedCharacter {
                character_id: CharacterId::from_uuid(buck),
                local_ids: vec!["c1".into()],
                name: "Buck".into(),
                mentions: 1,
                first_mention: 0,
                linked: false,
            }],
        }),
    );
    // What an earlier detection left stays: a refused event changes
    // nothing.
    let earlier = MentionRecord {
        character_id: buck,
        document_id: book,
        owner,
        sentences: vec!["Buck did not read the newspapers.".into()],
    };
    store
        .upsert_mentions(vec![earlier.clone()])
        .await
        .expect("mentions");
    let error = projection
        .apply(history.events())
        .await
        .expect_err("no text, no analysis");
    assert!(error.is_poison(), "{error:?}");
    assert_eq!(
        store.mentions(&[buck]).await.expect("mentions"),
        vec![earlier]
    );
}

/// The events with those `later` after the others, each stream in order.
fn ordered(events: &[StoredEvent], later: impl Fn(&StoredEvent) -> bool) -> Vec<StoredEvent> {
    let mut events = events.to_vec();
    events.sort_by_key(|e| later(e));
    events
}

async fn embedding(fixture: &Fixture, record: &CharacterRecord) -> Vec<f32> {
    query(&fixture.embedder, &character_text(record)).await
}
