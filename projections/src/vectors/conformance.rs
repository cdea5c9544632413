//! What every vector store does, run against each adapter by its tests.
//! The store given must be empty and hold `DIMENSION`-long vectors.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::{
    CharacterRecord, DocumentSources, MAX_LIMIT, MentionRecord, MergeRecord, PassageRecord,
    VectorError, VectorStore,
};

pub const DIMENSION: usize = 8;

/// A unit vector pointing mostly along axis `axis`, tilted by `tilt`.
pub fn direction(axis: usize, tilt: f32) -> Vec<f32> {
    let mut v = [0.0f32; DIMENSION];
    v[axis % DIMENSION] = 1.0;
    v[(axis + 1) % DIMENSION] = tilt;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

pub fn passage(owner: Uuid, document_id: Uuid, n: u64, vector: Vec<f32>) -> PassageRecord {
    PassageRecord {
        id: Uuid::new_v5(&document_id, &n.to_be_bytes()),
        owner,
        document_id,
        chapter: u32::try_from(n % 3).ok().filter(|c| *c > 0),
        start: n * 100,
        end: n * 100 + 90,
        text: format!("Passage {n}: it's \"quoted\" and 'single' — ünïcode ✓"),
        vector,
    }
}

pub fn character(owner: Uuid, name: &str, vector: Vec<f32>) -> CharacterRecord {
    CharacterRecord {
        id: Uuid::new_v4(),
        owner,
        name: name.to_owned(),
        aliases: vec![format!("{name} the Elder"), "O'Brien".into()],
        profile: format!("{name}, who said \"no\"."),
        mentions: vec![
            format!("\u{201c}Hi,\u{201d} said {name}."),
            "O'Neill's.".into(),
        ],
        vector,
    }
}

/// Runs the whole suite; panics at the first property that fails.
pub async fn run(store: &dyn VectorStore) {
    assert_eq!(store.dimension(), DIMENSION);
    starts_empty(store).await;
    passages_are_found_nearest_first_and_only_by_their_owner(store).await;
    upserts_replace_and_removals_remove(store).await;
    characters_are_compared_within_their_owner(store).await;
    bad_rows_and_queries_are_refused_and_change_nothing(store).await;
    checkpoints_round_trip(store).await;
    documents_mentions_and_merges_are_kept(store).await;
}

async fn starts_empty(store: &dyn VectorStore) {
    assert!(store.checkpoint().await.expect("checkpoint").is_empty());
    let snapshot = store.snapshot().await.expect("snapshot");
    assert!(snapshot.passages.is_empty() && snapshot.characters.is_empty());
    let none = store
        .search_passages(Uuid::new_v4(), &direction(0, 0.0), None, 5)
        .await
        .expect("search of nothing");
    assert!(none.is_empty());
}

async fn passages_are_found_nearest_first_and_only_by_their_owner(store: &dyn VectorStore) {
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let (book, other_book) = (Uuid::new_v4(), Uuid::new_v4());
    let mut rows: Vec<PassageRecord> = (0..6)
        .map(|n| passage(alice, book, n, direction(n as usize, 0.1)))
        .collect();
    rows.push(passage(alice, other_book, 100, direction(2, 0.05)));
    // Bob's passage points exactly where Alice searches.
    rows.push(passage(bob, Uuid::new_v4(), 7, direction(2, 0.0)));
    store.upsert_passages(rows.clone()).await.expect("upsert");

    let hits = store
        .search_passages(alice, &direction(2, 0.0), None, 3)
        .await
        .expect("search");
    assert_eq!(hits.len(), 3);
    assert!(
        hits.iter()
            .all(|h| h.document_id == book || h.document_id == other_book)
    );
    assert_eq!(
        hits[0].id, rows[6].id,
        "the nearest first (other book, tilt 0.05)"
    );
    assert_eq!(hits[1].id, rows[2].id);
    assert!(
        hits.windows(2).all(|w| w[0].score >= w[1].score),
        "by score"
    );
    assert!(
        hits[0].score > 0.99 && hits[0].score <= 1.0001,
        "cosine: {}",
        hits[0].score
    );
    // Every field comes back as written.
    let third = &hits[1];
    let written = &rows[2];
    assert_eq!(
        (third.chapter, third.start, third.end, third.text.as_str()),
        (
            written.chapter,
            written.start,
            written.end,
            written.text.as_str()
        )
    );
    // Within one document.
    let in_book = store
        .search_passages(alice, &direction(2, 0.0), Some(book), 10)
        .await
        .expect("search");
    assert_eq!(in_book.len(), 6);
    assert!(in_book.iter().all(|h| h.document_id == book));
    // Bob sees only his.
    let bobs = store
        .search_passages(bob, &direction(2, 0.0), None, MAX_LIMIT)
        .await
        .expect("search");
    assert_eq!(bobs.len(), 1);
    assert_eq!(bobs[0].id, rows[7].id);
    // A document of another owner, asked for by id, is empty.
    let across = store
        .search_passages(bob, &direction(2, 0.0), Some(book), 10)
        .await
        .expect("search");
    assert!(across.is_empty());
}

async fn upserts_replace_and_removals_remove(store: &dyn VectorStore) {
    let owner = Uuid::new_v4();
    let (book, kept) = (Uuid::new_v4(), Uuid::new_v4());
    let first: Vec<PassageRecord> = (0..4)
        .map(|n| passage(owner, book, n, direction(3, 0.2)))
        .collect();
    store.upsert_passages(first.clone()).await.expect("upsert");
    store
        .upsert_passages(vec![passage(owner, kept, 0, direction(3, 0.2))])
        .await
        .expect("upsert");
    // The same ids again, with new vectors and texts: replaced, not added.
    let mut again = first.clone();
    for row in &mut again {
        row.vector = direction(5, 0.0);
        row.text = "rewritten".into();
    }
    store
        .upsert_passages(again.clone())
        .await
        .expect("upsert again");
    let before = store.snapshot().await.expect("snapshot");
    let hits = store
        .search_passages(owner, &direction(5, 0.0), Some(book), 10)
        .await
        .expect("search");
    assert_eq!(hits.len(), 4, "no duplicates");
    assert!(hits.iter().all(|h| h.text == "rewritten" && h.score > 0.99));
    // The same batch twice in a row changes nothing.
    store.upsert_passages(again).await.expect("upsert again");
    assert_eq!(store.snapshot().await.expect("snapshot"), before);

    store.remove_document(book).await.expect("remove");
    let gone = store
        .search_passages(owner, &direction(5, 0.0), Some(book), 10)
        .await
        .expect("search");
    assert!(gone.is_empty());
    let left = store
        .search_passages(owner, &direction(3, 0.2), Some(kept), 10)
        .await
        .expect("search");
    assert_eq!(left.len(), 1, "another document's passages stay");
    // Removing what is not there is fine.
    assert!(
        store
            .remove_document(book)
            .await
            .expect("remove again")
            .is_empty()
    );
}

fn mention(owner: Uuid, character_id: Uuid, document_id: Uuid, said: &str) -> MentionRecord {
    MentionRecord {
        character_id,
        document_id,
        owner,
        sentences: vec![
            format!("\u{201c}{said}\u{201d}, it's said."),
            "Then.".into(),
        ],
    }
}

async fn documents_mentions_and_merges_are_kept(store: &dyn VectorStore) {
    let (owner, other) = (Uuid::new_v4(), Uuid::new_v4());
    let (book, sequel) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(store.document_sources(book).await.expect("sources"), None);
    let text_only = DocumentSources {
        text_ref: Some("blob:sha256:ab".into()),
        analysis_ref: None,
    };
    store
        .set_document_sources(book, &text_only)
        .await
        .expect("set");
    assert_eq!(
        store.document_sources(book).await.expect("sources"),
        Some(text_only.clone())
    );
    let both = DocumentSources {
        analysis_ref: Some("blob:sha256:cd".into()),
        ..text_only
    };
    store.set_document_sources(book, &both).await.expect("set");
    assert_eq!(
        store.document_sources(book).await.expect("sources"),
        Some(both.clone()),
        "replaced, not added"
    );
    store
        .set_document_sources(sequel, &both)
        .await
        .expect("set");

    let (buck, spitz) = (Uuid::new_v4(), Uuid::new_v4());
    let written = vec![
        mention(owner, buck, book, "Buck"),
        mention(owner, spitz, book, "Spitz"),
        mention(owner, buck, sequel, "Buck again"),
    ];
    store
        .upsert_mentions(written.clone())
        .await
        .expect("mentions");
    let mut rewritten = mention(owner, buck, book, "Buck, rewritten");
    rewritten.sentences.push("More.".into());
    store
        .upsert_mentions(vec![rewritten.clone()])
        .await
        .expect("mentions");
    let mut expected = vec![rewritten.clone(), written[2].clone()];
    expected.sort_by_key(|m| m.document_id);
    assert_eq!(
        store.mentions(&[buck]).await.expect("mentions"),
        expected,
        "by document; one row per character and document"
    );
    assert!(store.mentions(&[]).await.expect("none").is_empty());
    let many: Vec<Uuid> = (0..1_200).map(|_| Uuid::new_v4()).chain([spitz]).collect();
    assert_eq!(
        store.mentions(&many).await.expect("mentions"),
        vec![written[1].clone()],
        "a long list of ids is asked in parts"
    );

    let mut characters = vec![buck, spitz];
    characters.sort();
    assert_eq!(
        store.remove_mentions(book).await.expect("remove"),
        characters
    );
    assert_eq!(
        store.mentions(&[buck, spitz]).await.expect("mentions"),
        vec![written[2].clone()],
        "the other document's mentions stay"
    );
    store
        .upsert_passages(vec![passage(owner, sequel, 1, direction(2, 0.0))])
        .await
        .expect("passages");
    assert_eq!(
        store.remove_document(sequel).await.expect("remove"),
        vec![buck]
    );
    assert_eq!(store.document_sources(sequel).await.expect("sources"), None);
    assert!(store.mentions(&[buck]).await.expect("mentions").is_empty());
    assert!(
        store
            .search_passages(owner, &direction(2, 0.0), Some(sequel), 5)
            .await
            .expect("search")
            .is_empty()
    );
    assert_eq!(
        store.document_sources(book).await.expect("sources"),
        Some(both),
        "another document stays"
    );

    let merges = [
        MergeRecord {
            merged: spitz,
            into: buck,
            owner,
        },
        MergeRecord {
            merged: Uuid::new_v4(),
            into: Uuid::new_v4(),
            owner: other,
        },
    ];
    for merge in merges {
        store.record_merge(merge).await.expect("merge");
        store.record_merge(merge).await.expect("merge again");
    }
    assert_eq!(
        store.merges(&[owner]).await.expect("merges"),
        vec![merges[0]]
    );
    let mut all = merges.to_vec();
    all.sort_by_key(|m| m.merged);
    assert_eq!(store.merges(&[owner, other]).await.expect("merges"), all);
    assert!(
        store
            .merges(&[Uuid::new_v4()])
            .await
            .expect("merges")
            .is_empty()
    );
}

async fn characters_are_compared_within_their_owner(store: &dyn VectorStore) {
    let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
    let buck = character(alice, "Buck", direction(1, 0.0));
    let spitz = character(alice, "Spitz", direction(1, 0.3));
    let thornton = character(alice, "John Thornton", direction(4, 0.0));
    let bobs_dog = character(bob, "Buck", direction(1, 0.01));
    store
        .upsert_characters(vec![
            buck.clone(),
            spitz.clone(),
            thornton.clone(),
            bobs_dog.clone(),
        ])
        .await
        .expect("upsert");
    let similar = store
        .similar_characters(alice, buck.id, 5)
        .await
        .expect("similar")
        .expect("Buck is Alice's");
    assert_eq!(
        similar.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![spitz.id, thornton.id],
        "nearest first, not itself, not Bob's"
    );
    assert_eq!(similar[0].name, "Spitz");
    assert_eq!(
        store.character(spitz.id).await.expect("read"),
        Some(spitz.clone()),
        "a character reads back as it was written"
    );
    assert_eq!(store.character(Uuid::new_v4()).await.expect("read"), None);
    assert!(
        store
            .similar_characters(bob, buck.id, 5)
            .await
            .expect("similar")
            .is_none(),
        "Alice's character is unknown to Bob"
    );
    let limited = store
        .similar_characters(alice, buck.id, 1)
        .await
        .expect("similar")
        .expect("known");
    assert_eq!(limited.len(), 1);
    store.remove_character(spitz.id).await.expect("remove");
    assert_eq!(store.character(spitz.id).await.expect("read"), None);
    let after = store
        .similar_characters(alice, buck.id, 5)
        .await
        .expect("similar")
        .expect("known");
    assert_eq!(
        after.iter().map(|h| h.id).collect::<Vec<_>>(),
        vec![thornton.id]
    );
}

async fn bad_rows_and_queries_are_refused_and_change_nothing(store: &dyn VectorStore) {
    let owner = Uuid::new_v4();
    let book = Uuid::new_v4();
    let before = store.snapshot().await.expect("snapshot");
    let mut short = passage(owner, book, 1, vec![1.0; DIMENSION - 1]);
    let good = passage(owner, book, 2, direction(0, 0.0));
    let refused = store
        .upsert_passages(vec![good.clone(), short.clone()])
        .await;
    assert!(
        matches!(refused, Err(VectorError::Invalid(_))),
        "{refused:?}"
    );
    short.vector = vec![f32::NAN; DIMENSION];
    let refused = store.upsert_passages(vec![good, short]).await;
    assert!(
        matches!(refused, Err(VectorError::Invalid(_))),
        "{refused:?}"
    );
    let mut bad_character = character(owner, "X", vec![0.0; DIMENSION + 1]);
    assert!(matches!(
        store.upsert_characters(vec![bad_character.clone()]).await,
        Err(VectorError::Invalid(_))
    ));
    bad_character.vector = vec![f32::INFINITY; DIMENSION];
    assert!(matches!(
        store.upsert_characters(vec![bad_character]).await,
        Err(VectorError::Invalid(_))
    ));
    assert_eq!(
        store.snapshot().await.expect("snapshot"),
        before,
        "nothing written"
    );
    for limit in [0, MAX_LIMIT + 1] {
        assert!(matches!(
            store
                .search_passages(owner, &direction(0, 0.0), None, limit)
                .await,
            Err(VectorError::Invalid(_))
        ));
        assert!(matches!(
            store.similar_characters(owner, Uuid::new_v4(), limit).await,
            Err(VectorError::Invalid(_))
        ));
    }
    assert!(matches!(
        store.search_passages(owner, &[1.0; 3], None, 5).await,
        Err(VectorError::Invalid(_))
    ));
    assert!(matches!(
        store
            .search_passages(owner, &[f32::NAN; DIMENSION], None, 5)
            .await,
        Err(VectorError::Invalid(_))
    ));
    // Nothing is empty: an empty batch is fine.
    store
        .upsert_passages(Vec::new())
        .await
        .expect("empty batch");
    store
        .upsert_characters(Vec::new())
        .await
        .expect("empty batch");
}

async fn checkpoints_round_trip(store: &dyn VectorStore) {
    let first = BTreeMap::from([(0, 10), (3, 7)]);
    store.save_checkpoint(&first).await.expect("save");
    assert_eq!(store.checkpoint().await.expect("read"), first);
    // Later offsets replace earlier ones; partitions not named stay.
    store
        .save_checkpoint(&BTreeMap::from([(0, 25), (5, 1)]))
        .await
        .expect("save");
    assert_eq!(
        store.checkpoint().await.expect("read"),
        BTreeMap::from([(0, 25), (3, 7), (5, 1)])
    );
}
