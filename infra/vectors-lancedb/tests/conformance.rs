//! The LanceDB store against the vector store conformance suite: in a
//! local folder (embedded) and on an S3-compatible server (production;
//! `bash infra/local/up.sh s3` starts one and prints what this reads).

use studio_projections::vectors::conformance::{self, DIMENSION};
use studio_projections::vectors::{DocumentSources, VectorError, VectorStore};
use studio_vectors_lancedb::{LanceVectors, Location};

const MODEL: &str = "conformance-vectors";

fn s3_location() -> Location {
    let var = |name: &str| std::env::var(name).ok();
    let (Some(url), Some(endpoint)) = (var("STUDIO_BLOBS"), var("STUDIO_S3_ENDPOINT")) else {
        panic!(
            "no S3-compatible server: run `eval \"$(bash infra/local/up.sh s3)\"` first \
             (the README's test command does)"
        );
    };
    let mut options = vec![
        ("aws_endpoint".to_owned(), endpoint.clone()),
        (
            "aws_region".to_owned(),
            var("STUDIO_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
        ),
        (
            "allow_http".to_owned(),
            endpoint.starts_with("http://").to_string(),
        ),
    ];
    if let Some(key) = var("STUDIO_S3_ACCESS_KEY") {
        options.push(("aws_access_key_id".to_owned(), key));
    }
    if let Some(secret) = var("STUDIO_S3_SECRET_KEY") {
        options.push(("aws_secret_access_key".to_owned(), secret));
    }
    Location {
        uri: format!(
            "{}/test-vectors-{}",
            url.trim_end_matches('/'),
            uuid::Uuid::new_v4()
        ),
        storage_options: options,
    }
}

#[tokio::test]
async fn a_local_folder_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("dir");
    let store = LanceVectors::open(&Location::folder(dir.path()), MODEL, DIMENSION, 1_000)
        .await
        .expect("open");
    conformance::run(&store).await;
}

#[tokio::test]
async fn an_object_store_passes_the_conformance_suite() {
    let store = LanceVectors::open(&s3_location(), MODEL, DIMENSION, 1_000)
        .await
        .expect("open");
    conformance::run(&store).await;
}

#[tokio::test]
async fn rows_survive_a_reopen_and_another_model_or_dimension_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let location = Location::folder(dir.path());
    let owner = uuid::Uuid::new_v4();
    let rows: Vec<_> = (0..5)
        .map(|n| conformance::passage(owner, owner, n, conformance::direction(n as usize, 0.0)))
        .collect();
    {
        let store = LanceVectors::open(&location, MODEL, DIMENSION, 1_000)
            .await
            .expect("open");
        store.upsert_passages(rows).await.expect("upsert");
    }
    let store = LanceVectors::open(&location, MODEL, DIMENSION, 1_000)
        .await
        .expect("reopen");
    assert_eq!(store.snapshot().await.expect("snapshot").passages.len(), 5);
    drop(store);
    for (model, dimension) in [(MODEL, DIMENSION * 2), ("another-model", DIMENSION)] {
        match LanceVectors::open(&location, model, dimension, 1_000).await {
            Err(VectorError::Corrupt(message)) => {
                assert!(message.contains("replay"), "{message}")
            }
            other => panic!(
                "expected {model} of {dimension} dimensions to be refused, got {:?}",
                other.err()
            ),
        }
    }
    // Made fresh, the location takes any model, and holds nothing.
    let fresh = LanceVectors::create_fresh(&location, "another-model", DIMENSION * 2, 1_000)
        .await
        .expect("fresh");
    assert_eq!(
        fresh.snapshot().await.expect("snapshot"),
        Default::default()
    );
    assert!(fresh.checkpoint().await.expect("checkpoint").is_empty());
    drop(fresh);
    LanceVectors::open(&location, "another-model", DIMENSION * 2, 1_000)
        .await
        .expect("reopened with the new model");
}

#[tokio::test]
async fn past_the_threshold_an_index_is_built_and_kept_up_to_date() {
    let dir = tempfile::tempdir().expect("dir");
    let store = LanceVectors::open(&Location::folder(dir.path()), MODEL, DIMENSION, 600)
        .await
        .expect("open");
    let owner = uuid::Uuid::new_v4();
    let document = uuid::Uuid::new_v4();
    // Vectors spread around the space, deterministic.
    let vector = |n: u64| {
        let v: Vec<f32> = (0..DIMENSION)
            .map(|d| (((n * 31 + d as u64 * 17) % 97) as f32 / 97.0) - 0.5)
            .collect();
        v
    };
    let rows: Vec<_> = (0..800)
        .map(|n| conformance::passage(owner, document, n, vector(n)))
        .collect();
    store.upsert_passages(rows.clone()).await.expect("upsert");
    assert!(vector_indexes(dir.path(), "passages").await.is_empty());
    store.maintain().await.expect("index");
    assert_eq!(
        vector_indexes(dir.path(), "passages").await,
        vec!["IVF_HNSW_SQ".to_owned()]
    );
    assert!(
        vector_indexes(dir.path(), "characters").await.is_empty(),
        "a table below the threshold is searched exactly"
    );
    // Rows written after the index, then the index brought up to date.
    let later: Vec<_> = (800..850)
        .map(|n| conformance::passage(owner, document, n, vector(n)))
        .collect();
    store.upsert_passages(later.clone()).await.expect("upsert");
    store.maintain().await.expect("index again");
    for row in rows.iter().step_by(100).chain(later.iter().step_by(10)) {
        let hits = store
            .search_passages(owner, &row.vector, None, 10)
            .await
            .expect("search");
        assert!(
            hits.iter().any(|h| h.id == row.id),
            "a row is found by its own vector through the index"
        );
    }
    // Another owner still sees nothing through the index.
    let stranger = store
        .search_passages(uuid::Uuid::new_v4(), &rows[0].vector, None, 10)
        .await
        .expect("search");
    assert!(stranger.is_empty());
}

/// The kinds of the vector indexes on a table, as LanceDB lists them.
async fn vector_indexes(folder: &std::path::Path, table: &str) -> Vec<String> {
    open_table(folder, table)
        .await
        .list_indices()
        .await
        .expect("indexes")
        .into_iter()
        .filter(|i| i.columns.iter().any(|c| c == "vector"))
        .map(|i| i.index_type.to_string())
        .collect()
}

#[tokio::test]
async fn many_small_writes_are_compacted_and_nothing_is_lost() {
    let dir = tempfile::tempdir().expect("dir");
    let store = LanceVectors::open(&Location::folder(dir.path()), MODEL, DIMENSION, 1_000)
        .await
        .expect("open");
    let documents: Vec<uuid::Uuid> = (0..80).map(|_| uuid::Uuid::new_v4()).collect();
    for (n, document) in documents.iter().enumerate() {
        let sources = DocumentSources {
            text_ref: Some(format!("blob:text-{n}")),
            analysis_ref: None,
        };
        store
            .set_document_sources(*document, &sources)
            .await
            .expect("write");
        store
            .save_checkpoint(&std::collections::BTreeMap::from([(0, n as u64 + 1)]))
            .await
            .expect("checkpoint");
    }
    assert!(fragments(dir.path(), "documents").await >= 80);
    store.maintain().await.expect("maintain");
    for table in ["documents", "checkpoints"] {
        let left = fragments(dir.path(), table).await;
        assert!(left <= 2, "{table}: {left} fragments after compaction");
    }
    for (n, document) in documents.iter().enumerate() {
        assert_eq!(
            store.document_sources(*document).await.expect("read"),
            Some(DocumentSources {
                text_ref: Some(format!("blob:text-{n}")),
                analysis_ref: None,
            })
        );
    }
    assert_eq!(
        store.checkpoint().await.expect("checkpoint"),
        std::collections::BTreeMap::from([(0, 80)])
    );
}

async fn fragments(folder: &std::path::Path, table: &str) -> usize {
    open_table(folder, table)
        .await
        .stats()
        .await
        .expect("stats")
        .fragment_stats
        .num_fragments
}

/// A table of the store in `folder`, opened with LanceDB directly.
async fn open_table(folder: &std::path::Path, table: &str) -> lancedb::Table {
    lancedb::connect(&folder.display().to_string())
        .execute()
        .await
        .expect("connect")
        .open_table(table)
        .execute()
        .await
        .expect("table")
}
