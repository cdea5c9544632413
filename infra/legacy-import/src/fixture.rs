//! Writes legacy databases as real ones come: columns added over the
//! years, NULLs where values were expected, invalid JSON, duplicate names,
//! timestamps in several formats, text in more than one encoding, large
//! values, documents whose content is in a file beside the database.
//! Deterministic: row `i` is the same in every file written.

use std::path::Path;

use sqlx::Executor;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub characters: u32,
    pub documents: u32,
    /// Also a row no import can take (a document with neither content
    /// nor a path), which a verification then reports.
    pub unimportable: bool,
}

const SCHEMA: &str = "
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    filename TEXT,
    content TEXT,
    path TEXT,
    upload_time TEXT,
    title TEXT,
    language TEXT
);
CREATE TABLE characters (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    source_document TEXT,
    personality_profile TEXT,
    created_at TEXT,
    updated_at TEXT,
    mood TEXT,
    age INTEGER,
    weight REAL,
    portrait BLOB,
    notes TEXT
);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
INSERT INTO settings VALUES ('theme', 'dark'), ('version', '1.4.2');
";

const NAMES: &[&str] = &[
    "Elizabeth Bennet",
    "Fitzwilliam Darcy",
    "Jane Bennet",
    "Charles Bingley",
    "Emma Woodhouse",
    "George Knightley",
    "Jean Valjean",
    "Javert",
    "Cosette",
    "Ishmael",
];

/// Writes the database at `path` (which must not exist) and the files its
/// documents name in the same folder.
pub async fn write(path: &Path, shape: Shape) -> Result<(), sqlx::Error> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true),
        )
        .await?;
    pool.execute(SCHEMA).await?;
    let mut tx = pool.begin().await?;
    for i in 0..shape.documents {
        document(&mut tx, folder, i, shape.unimportable).await?;
    }
    for i in 0..shape.characters {
        character(&mut tx, i, shape.documents).await?;
    }
    tx.commit().await?;
    pool.close().await;
    Ok(())
}

fn time_text(i: u32) -> Option<String> {
    let day = 1 + i % 28;
    let month = 1 + i % 12;
    let year = 2010 + i % 10;
    let (h, m, s) = (i % 24, i % 60, (i * 7) % 60);
    match i % 9 {
        0 => Some(format!("{year}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}")),
        1 => Some(format!("{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")),
        2 => Some(format!(
            "{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.123+02:00"
        )),
        3 => Some(format!("{day:02}/{month:02}/{year} {h:02}:{m:02}")),
        4 => Some(format!("{}", 1_300_000_000 + i64::from(i) * 97)),
        5 => Some(format!("{year}-{month:02}-{day:02}")),
        6 => None,
        7 => Some("sometime last spring".into()),
        _ => Some(format!("{}", 1_300_000_000_000 + i64::from(i) * 97_000)),
    }
}

async fn document(
    tx: &mut sqlx::SqliteConnection,
    folder: &Path,
    i: u32,
    unimportable: bool,
) -> Result<(), sqlx::Error> {
    let id = i64::from(i) + 1;
    let body = format!(
        "Chapter 1\n\nIt was the {i}th morning, and {} walked to the village.\n\n{}",
        NAMES[i as usize % NAMES.len()],
        "The rain fell on the fields. ".repeat(20 + (i as usize % 50))
    );
    let filename = match i % 6 {
        0 => format!("book-{id}.txt"),
        1 => format!("C:\\Users\\old\\Documents\\novel {id}.TXT"),
        2 => format!("notes {id}"),
        3 => format!("/home/writer/drafts/draft-{id}.md"),
        4 => String::new(),
        _ => format!("book-{id}.txt"),
    };
    let upload_time = time_text(i);
    let title = (i.is_multiple_of(3)).then(|| format!("Volume {id}"));
    let language = (!i.is_multiple_of(4)).then_some("en");
    // Where the row keeps the content: as TEXT (UTF-8, or Latin-1 bytes),
    // as a BLOB, or in a file beside the database that `path` names.
    let (content, storage, path) = match i % 10 {
        7 => {
            let mut latin = body.into_bytes();
            latin.extend_from_slice(b"\n\nCaf\xe9 cr\xe8me, na\xefve \xe9l\xe8ve.\n");
            (Some(latin), "text", None)
        }
        8 => {
            let name = format!("doc-{id}.txt");
            std::fs::write(folder.join(&name), body.as_bytes()).map_err(sqlx::Error::Io)?;
            (None, "text", Some(name))
        }
        9 => (Some(body.into_bytes()), "blob", None),
        _ if unimportable && i == 5 => (None, "text", None),
        _ => (Some(body.into_bytes()), "text", None),
    };
    sqlx::query(
        "INSERT INTO documents (id, filename, content, path, upload_time, title, language)
         VALUES (?1, ?2, CASE ?8 WHEN 'blob' THEN ?3 ELSE CAST(?3 AS TEXT) END, ?4, ?5, ?6, ?7)",
    )
    .bind(id)
    .bind(&filename)
    .bind(content)
    .bind(path)
    .bind(&upload_time)
    .bind(&title)
    .bind(language)
    .bind(storage)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn character(
    tx: &mut sqlx::SqliteConnection,
    i: u32,
    documents: u32,
) -> Result<(), sqlx::Error> {
    let id = i64::from(i) + 1;
    let base = NAMES[i as usize % NAMES.len()];
    // Names repeat (every tenth is a duplicate of an earlier one).
    let name: Vec<u8> = match i % 20 {
        0 => Vec::new(),
        1 => b"   ".to_vec(),
        2 => b"Andr\xe9 Gide".to_vec(),
        3 => format!("{base}\u{7}\t{i}").into_bytes(),
        4 => "Ö".repeat(230).into_bytes(),
        5 | 6 => base.as_bytes().to_vec(),
        7 => "Léon Ménard".as_bytes().to_vec(),
        _ => format!("{base} {i}").into_bytes(),
    };
    let profile = match i % 11 {
        0 => None,
        1 => Some("{not json".to_owned()),
        2 => Some("[\"brave\", \"loyal\"]".to_owned()),
        3 => Some("\"shy\"".to_owned()),
        4 => Some(format!("{}1{}", "[".repeat(20), "]".repeat(20))),
        5 => Some(String::new()),
        _ => Some(format!(
            "{{\"traits\": [\"curious\", \"kind\"], \"importance\": {}, \"summary\": \"Character number {i}\"}}",
            i % 7
        )),
    };
    let source_document = match i % 7 {
        0 => None,
        1 => Some(format!("book-{}.txt", 1 + i % documents.max(1))),
        2 => Some("a book nobody kept".to_owned()),
        3 if documents > 0 => Some(format!("{}", 1 + i % documents)),
        _ if documents > 0 => Some(format!("{}", 1 + (i * 31) % documents)),
        _ => None,
    };
    let notes = match i % 997 {
        0 => Some("a long note. ".repeat(1_000)),
        n if n % 3 == 0 => Some(format!("note {i}")),
        _ => None,
    };
    let portrait = (i.is_multiple_of(13)).then(|| vec![0u8, 159, 146, 150, (i % 256) as u8]);
    sqlx::query(
        "INSERT INTO characters (id, name, source_document, personality_profile, created_at,
           updated_at, mood, age, weight, portrait, notes)
         VALUES (?1, CAST(?2 AS TEXT), ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .bind(id)
    .bind(name)
    .bind(source_document)
    .bind(profile)
    .bind(time_text(i))
    .bind(time_text(i + 3))
    .bind((i.is_multiple_of(5)).then_some("melancholy"))
    .bind((!i.is_multiple_of(4)).then_some(i64::from(i % 90)))
    .bind((i.is_multiple_of(6)).then_some(f64::from(i) / 3.0))
    .bind(portrait)
    .bind(notes)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
