//! Where the tables live, their schemas, and opening them.

use std::sync::Arc;

use lancedb::Table;
use lancedb::arrow::arrow_schema::{DataType, Field, Schema, SchemaRef};
use studio_projections::vectors::VectorError;

/// A local folder, or an object-store URI with the settings it needs
/// (`aws_endpoint`, `aws_access_key_id`, `aws_secret_access_key`,
/// `aws_region`, `allow_http` for S3).
#[derive(Clone, Debug)]
pub struct Location {
    pub uri: String,
    pub storage_options: Vec<(String, String)>,
}

impl Location {
    pub fn folder(path: &std::path::Path) -> Self {
        Self {
            uri: path.display().to_string(),
            storage_options: Vec::new(),
        }
    }
}

pub(crate) struct Tables {
    pub passages: Table,
    pub characters: Table,
    pub documents: Table,
    pub mentions: Table,
    pub merges: Table,
    pub checkpoints: Table,
}

const TABLES: [&str; 7] = [
    "passages",
    "characters",
    "documents",
    "mentions",
    "merges",
    "checkpoints",
    "meta",
];
/// The row of `meta` that names the model of the vectors.
const MODEL: &str = "model";

pub(crate) fn vector_field(dimension: usize) -> Result<Field, VectorError> {
    let length = i32::try_from(dimension)
        .map_err(|_| VectorError::Invalid(format!("dimension {dimension} is too large")))?;
    Ok(Field::new(
        "vector",
        DataType::FixedSizeList(
            Arc::new(Field::new("item", DataType::Float32, true)),
            length,
        ),
        false,
    ))
}

pub(crate) fn passages_schema(dimension: usize) -> Result<SchemaRef, VectorError> {
    Ok(Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("owner", DataType::Utf8, false),
        Field::new("document_id", DataType::Utf8, false),
        Field::new("chapter", DataType::Int64, true),
        Field::new("start", DataType::UInt64, false),
        Field::new("end", DataType::UInt64, false),
        Field::new("text", DataType::Utf8, false),
        vector_field(dimension)?,
    ])))
}

pub(crate) fn characters_schema(dimension: usize) -> Result<SchemaRef, VectorError> {
    Ok(Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("owner", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, false),
        // A JSON array of strings.
        Field::new("aliases", DataType::Utf8, false),
        Field::new("profile", DataType::Utf8, false),
        // A JSON array of strings.
        Field::new("mentions", DataType::Utf8, false),
        vector_field(dimension)?,
    ])))
}

/// Where each document's text and analysis are.
pub(crate) fn documents_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("text_ref", DataType::Utf8, true),
        Field::new("analysis_ref", DataType::Utf8, true),
    ]))
}

/// The sentences of a character in a document; `id` is
/// `character_id/document_id`.
pub(crate) fn mentions_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("character_id", DataType::Utf8, false),
        Field::new("document_id", DataType::Utf8, false),
        Field::new("owner", DataType::Utf8, false),
        // A JSON array of strings.
        Field::new("sentences", DataType::Utf8, false),
    ]))
}

/// Merged characters (`id`) and the character each went into (`into_id`).
pub(crate) fn merges_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("into_id", DataType::Utf8, false),
        Field::new("owner", DataType::Utf8, false),
    ]))
}

pub(crate) fn checkpoints_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        // The partition, as text: upserts go by `id` in every table.
        Field::new("id", DataType::Utf8, false),
        Field::new("next", DataType::UInt64, false),
    ]))
}

pub(crate) fn meta_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("value", DataType::Utf8, false),
    ]))
}

/// Opens the tables at `location` for vectors of `model`, creating what
/// is missing; with `fresh`, drops them first. Tables of another model or
/// dimension are refused: vectors of two models are never compared.
pub(crate) async fn open(
    location: &Location,
    model: &str,
    dimension: usize,
    fresh: bool,
) -> Result<Tables, VectorError> {
    let unavailable = |e: lancedb::Error| {
        VectorError::Unavailable(format!("opening LanceDB at {}: {e}", location.uri))
    };
    let connection = lancedb::connect(&location.uri)
        .storage_options(location.storage_options.iter().cloned())
        .execute()
        .await
        .map_err(unavailable)?;
    if fresh {
        for name in TABLES {
            match connection.drop_table(name, &[]).await {
                Ok(()) | Err(lancedb::Error::TableNotFound { .. }) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
    }
    let open = async |name: &str, schema: SchemaRef| -> Result<Table, VectorError> {
        let table = match connection.open_table(name).execute().await {
            Ok(table) => table,
            Err(lancedb::Error::TableNotFound { .. }) => {
                match connection
                    .create_empty_table(name, schema.clone())
                    .execute()
                    .await
                {
                    Ok(table) => table,
                    // Another process made it meanwhile.
                    Err(lancedb::Error::TableAlreadyExists { .. }) => connection
                        .open_table(name)
                        .execute()
                        .await
                        .map_err(unavailable)?,
                    Err(e) => return Err(unavailable(e)),
                }
            }
            Err(e) => return Err(unavailable(e)),
        };
        let found = table.schema().await.map_err(unavailable)?;
        if found.fields() != schema.fields() {
            return Err(VectorError::Corrupt(format!(
                "the table {name} at {} was made for other rows (another embedding \
                 dimension, or an earlier version of studio): rebuild it with \
                 `studio replay lancedb`",
                location.uri
            )));
        }
        Ok(table)
    };
    let meta = open("meta", meta_schema()).await?;
    match crate::rows::meta_value(&meta, MODEL).await? {
        Some(found) if found != model => {
            return Err(VectorError::Corrupt(format!(
                "the vectors at {} were made by the model {found:?}, not {model:?}: \
                 rebuild them with `studio replay lancedb`",
                location.uri
            )));
        }
        Some(_) => {}
        None => crate::rows::set_meta_value(&meta, MODEL, model).await?,
    }
    Ok(Tables {
        passages: open("passages", passages_schema(dimension)?).await?,
        characters: open("characters", characters_schema(dimension)?).await?,
        documents: open("documents", documents_schema()).await?,
        mentions: open("mentions", mentions_schema()).await?,
        merges: open("merges", merges_schema()).await?,
        checkpoints: open("checkpoints", checkpoints_schema()).await?,
    })
}
