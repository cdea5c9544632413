//! A generated legacy database with every irregularity, read and planned:
//! nothing lost, every change said, the same plans on every run.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::json;
use studio_domain::UserId;
use studio_domain::legacy::LegacyValue;
use studio_legacy_import::fixture::{self, Shape};
use studio_legacy_import::plan::{
    CharacterPlan, Content, DocumentIndex, DocumentPlan, Planner, Refusal,
};
use studio_legacy_import::source::{LegacyDatabase, LegacyRow, Table};
use uuid::Uuid;

fn media_type(filename: &str) -> Option<&'static str> {
    filename
        .to_ascii_lowercase()
        .ends_with(".txt")
        .then_some("text/plain")
}

struct Planned {
    documents: Vec<Result<DocumentPlan, Refusal>>,
    characters: Vec<Result<CharacterPlan, Refusal>>,
    tables: Vec<Table>,
}

async fn rows(db: &LegacyDatabase, table: &Table) -> Vec<LegacyRow> {
    let mut all = Vec::new();
    let mut pages = db.pages(table, 97);
    while let Some(page) = pages.next().await.expect("page") {
        all.extend(page);
    }
    all
}

async fn plan(path: &Path) -> Planned {
    let db = LegacyDatabase::open(path).await.expect("open");
    let tables = db.tables().await.expect("tables");
    let table = |name: &str| {
        tables
            .iter()
            .find(|t| t.name == name)
            .cloned()
            .expect("table")
    };
    let (documents_table, characters_table) = (table("documents"), table("characters"));
    let mut planner = Planner::new(UserId::from_uuid(Uuid::from_u128(9)), "old.db", media_type);
    let mut index = DocumentIndex::default();
    let mut documents = Vec::new();
    for row in rows(&db, &documents_table).await {
        let plan = planner.document(&row);
        match &plan {
            Ok(plan) => index.add(plan),
            Err(refusal) => index.refuse(refusal.legacy_id.unwrap_or_default()),
        }
        documents.push(plan);
    }
    let characters = rows(&db, &characters_table)
        .await
        .iter()
        .map(|row| planner.character(row, &index))
        .collect();
    db.close().await;
    Planned {
        documents,
        characters,
        tables,
    }
}

fn warned(plans: &[Result<CharacterPlan, Refusal>], needle: &str) -> usize {
    plans
        .iter()
        .flatten()
        .filter(|p| p.record.warnings.iter().any(|w| w.contains(needle)))
        .count()
}

#[tokio::test]
async fn every_row_is_planned_with_every_column_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("literaryai.db");
    let shape = Shape {
        characters: 440,
        documents: 40,
        unimportable: true,
    };
    fixture::write(&path, shape).await.expect("fixture");
    let planned = plan(&path).await;

    let names: BTreeSet<&str> = planned.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["characters", "documents", "settings"])
    );
    assert_eq!(planned.characters.len(), 440);
    assert_eq!(planned.documents.len(), 40);

    // The one document with neither content nor path is refused, with the reason.
    let refused: Vec<&Refusal> = planned
        .documents
        .iter()
        .filter_map(|p| p.as_ref().err())
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].legacy_id, Some(6));
    assert!(refused[0].reason.contains("neither content nor a path"));

    let characters: Vec<&CharacterPlan> = planned.characters.iter().flatten().collect();
    assert_eq!(characters.len(), 440, "no character is refused");
    // Every column of every row is in its record, unknown ones included.
    for plan in &characters {
        let columns: BTreeSet<&str> = plan.record.columns.keys().map(String::as_str).collect();
        assert_eq!(columns.len(), 11, "{columns:?}");
        assert!(columns.contains("mood") && columns.contains("portrait"));
    }
    // Empty and blank names are named, and said.
    let first = characters[0];
    assert_eq!(first.name, "Unnamed character 1");
    assert_eq!(
        first.record.columns["name"],
        LegacyValue::Text {
            value: String::new()
        }
    );
    assert!(warned(&planned.characters, "name is empty") >= 44);
    // Latin-1 text read as such, the bytes kept.
    let latin = characters[2];
    assert_eq!(latin.name, "André Gide");
    assert!(matches!(
        latin.record.columns["name"],
        LegacyValue::Bytes { .. }
    ));
    // Control characters and overlong names.
    assert!(warned(&planned.characters, "control characters") >= 22);
    assert!(characters[4].name.chars().count() == 200);
    // Invalid JSON: an empty profile, the text kept.
    let invalid = characters[1];
    assert_eq!(invalid.personality_profile, json!({}));
    assert_eq!(
        invalid.record.columns["personality_profile"],
        LegacyValue::Text {
            value: "{not json".into()
        }
    );
    assert!(
        invalid
            .record
            .warnings
            .iter()
            .any(|w| w.contains("not valid JSON"))
    );
    // JSON that is not an object is wrapped; too deep is emptied.
    assert_eq!(
        characters[2].personality_profile,
        json!({"value": ["brave", "loyal"]})
    );
    assert_eq!(characters[4].personality_profile, json!({}));
    assert!(
        characters[4]
            .record
            .warnings
            .iter()
            .any(|w| w.contains("levels deep"))
    );
    // Duplicate names stay separate characters, said.
    assert!(warned(&planned.characters, "bears the same name") > 0);
    // Unreadable times fall back, said; readable ones are kept.
    assert!(warned(&planned.characters, "not a time the importer reads") > 0);
    assert!(characters.iter().filter(|p| p.created_at.is_some()).count() > 300);
    // Links: by legacy id, by file name; dangling ones said.
    assert!(
        characters
            .iter()
            .filter(|p| p.source_document.is_some())
            .count()
            > 200
    );
    assert!(warned(&planned.characters, "names no legacy document") > 0);
    assert!(warned(&planned.characters, "was not imported") > 0);
    // Large values and BLOBs go to the blob store.
    assert!(characters.iter().any(|p| !p.blobs.is_empty()));
    assert!(matches!(
        characters[0].record.columns["portrait"],
        LegacyValue::Stored { ref storage, .. } if storage == "blob"
    ));

    let documents: Vec<&DocumentPlan> = planned.documents.iter().flatten().collect();
    assert!(
        documents
            .iter()
            .any(|d| matches!(d.content, Content::File(_)))
    );
    let windows = documents
        .iter()
        .find(|d| d.legacy_id == 2)
        .expect("document 2");
    assert_eq!(windows.original_filename, "novel 2.TXT");
    assert!(matches!(
        windows.record.columns["content"],
        LegacyValue::Stored { .. }
    ));
    let nameless = documents
        .iter()
        .find(|d| d.legacy_id == 5)
        .expect("document 5");
    assert_eq!(nameless.original_filename, "document-5.txt");
    // No blob rides in a record: content is always stored.
    for d in &documents {
        assert!(
            !d.record.columns.contains_key("content")
                || matches!(
                    d.record.columns["content"],
                    LegacyValue::Stored { .. } | LegacyValue::Null
                )
        );
    }
}

#[tokio::test]
async fn the_same_file_gives_the_same_plans() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("literaryai.db");
    fixture::write(
        &path,
        Shape {
            characters: 200,
            documents: 20,
            unimportable: false,
        },
    )
    .await
    .expect("fixture");
    let (a, b) = (plan(&path).await, plan(&path).await);
    assert_eq!(a.documents, b.documents);
    assert_eq!(a.characters, b.characters);
}

#[tokio::test]
async fn a_file_that_is_not_sqlite_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("notes.db");
    std::fs::write(&path, b"this is not a database at all, just text").expect("write");
    let error = LegacyDatabase::open(&path)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.starts_with("cannot open the legacy database")),
        "{error:?}"
    );
    let missing = LegacyDatabase::open(&dir.path().join("absent.db")).await;
    assert!(missing.is_err());
}

async fn sqlite(path: &Path, statements: &[&str]) {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("create");
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(*statement))
            .execute(&mut db)
            .await
            .expect(statement);
    }
    db.close().await.expect("close");
}

#[tokio::test]
async fn odd_schemas_are_read_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("odd.db");
    sqlite(
        &path,
        &[
            // No id column; a column that takes the name `rowid`.
            "CREATE TABLE Characters (rowid TEXT, name TEXT)",
            "INSERT INTO Characters VALUES ('a', 'Pip'), ('b', 'Estella'), ('b', 'Joe')",
            // Ids as text, one twice.
            "CREATE TABLE documents (id TEXT, content TEXT)",
            "INSERT INTO documents VALUES ('7', 'x'), ('7', 'y'), ('seven', 'z')",
        ],
    )
    .await;
    let db = LegacyDatabase::open(&path).await.expect("open");
    let tables = db.tables().await.expect("tables");
    let mut planner = Planner::new(UserId::from_uuid(Uuid::from_u128(9)), "odd.db", media_type);
    let characters = tables
        .iter()
        .find(|t| t.name == "Characters")
        .expect("table");
    let read = rows(&db, characters).await;
    assert_eq!(read.len(), 3, "every row is read, whatever `rowid` names");
    let plans: Vec<CharacterPlan> = read
        .iter()
        .map(|r| planner.character(r, &DocumentIndex::default()))
        .collect::<Result<_, _>>()
        .expect("plans");
    assert_eq!(
        plans.iter().map(|p| p.legacy_id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(
        plans[0]
            .record
            .warnings
            .iter()
            .any(|w| w.contains("no id column"))
    );
    assert_eq!(
        plans[1].record.columns["rowid"],
        LegacyValue::Text { value: "b".into() }
    );

    let documents = tables
        .iter()
        .find(|t| t.name == "documents")
        .expect("table");
    let outcomes: Vec<_> = rows(&db, documents)
        .await
        .iter()
        .map(|r| planner.document(r))
        .collect();
    assert_eq!(outcomes[0].as_ref().map(|p| p.legacy_id).ok(), Some(7));
    let reasons: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.as_ref().err())
        .map(|r| r.reason.clone())
        .collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons[0].contains("id 7 appears twice"));
    assert!(reasons[1].contains("id is not an integer"));
    db.close().await;
}

#[tokio::test]
async fn a_row_too_large_for_an_event_keeps_its_values_in_blobs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("wide.db");
    let columns: Vec<String> = (0..40).map(|i| format!("c{i} TEXT")).collect();
    let create = format!(
        "CREATE TABLE characters (id INTEGER PRIMARY KEY, name TEXT, {})",
        columns.join(", ")
    );
    let values: Vec<String> = (0..40)
        .map(|_| format!("'{}'", "w".repeat(7_000)))
        .collect();
    let insert = format!(
        "INSERT INTO characters VALUES (1, 'Wide', {})",
        values.join(", ")
    );
    sqlite(&path, &[&create, &insert]).await;
    let db = LegacyDatabase::open(&path).await.expect("open");
    let tables = db.tables().await.expect("tables");
    let read = rows(&db, &tables[0]).await;
    let mut planner = Planner::new(UserId::from_uuid(Uuid::from_u128(9)), "wide.db", media_type);
    let plan = planner
        .character(&read[0], &DocumentIndex::default())
        .expect("plan");
    assert!(
        studio_domain::legacy::check(&plan.record).is_ok(),
        "the record fits an event"
    );
    assert!(plan.blobs.len() >= 30, "{} values stored", plan.blobs.len());
    assert_eq!(plan.record.columns.len(), 42);
    db.close().await;
}
