//! Rows to Arrow record batches and back.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use lancedb::arrow::arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Int64Array, RecordBatch, StringArray,
    UInt64Array,
};
use lancedb::arrow::arrow_schema::{DataType, Field};
use studio_projections::vectors::{
    CharacterHit, CharacterRecord, DocumentSources, MentionRecord, MergeRecord, PassageHit,
    PassageRecord, VectorError,
};
use uuid::Uuid;

use crate::tables::{
    characters_schema, checkpoints_schema, documents_schema, mentions_schema, merges_schema,
    meta_schema, passages_schema,
};

fn corrupt(e: impl std::fmt::Display) -> VectorError {
    VectorError::Corrupt(e.to_string())
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn json_lists<'a>(
    lists: impl Iterator<Item = &'a Vec<String>>,
) -> Result<Vec<String>, VectorError> {
    lists
        .map(|list| serde_json::to_string(list).map_err(corrupt))
        .collect()
}

fn json_list(text: &str) -> Result<Vec<String>, VectorError> {
    serde_json::from_str(text).map_err(corrupt)
}

fn vectors<'a>(
    values: impl Iterator<Item = &'a Vec<f32>>,
    dimension: usize,
) -> Result<ArrayRef, VectorError> {
    let flat: Vec<f32> = values.flat_map(|v| v.iter().copied()).collect();
    let length = i32::try_from(dimension).map_err(corrupt)?;
    FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float32, true)),
        length,
        Arc::new(Float32Array::from(flat)),
        None,
    )
    .map(|a| Arc::new(a) as ArrayRef)
    .map_err(|e| VectorError::Invalid(e.to_string()))
}

pub(crate) fn passages(
    records: &[PassageRecord],
    dimension: usize,
) -> Result<RecordBatch, VectorError> {
    let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    let owners: Vec<String> = records.iter().map(|r| r.owner.to_string()).collect();
    let documents: Vec<String> = records.iter().map(|r| r.document_id.to_string()).collect();
    RecordBatch::try_new(
        passages_schema(dimension)?,
        vec![
            strings(ids.iter().map(String::as_str)),
            strings(owners.iter().map(String::as_str)),
            strings(documents.iter().map(String::as_str)),
            Arc::new(Int64Array::from_iter(
                records.iter().map(|r| r.chapter.map(i64::from)),
            )),
            Arc::new(UInt64Array::from_iter_values(
                records.iter().map(|r| r.start),
            )),
            Arc::new(UInt64Array::from_iter_values(records.iter().map(|r| r.end))),
            strings(records.iter().map(|r| r.text.as_str())),
            vectors(records.iter().map(|r| &r.vector), dimension)?,
        ],
    )
    .map_err(|e| VectorError::Invalid(e.to_string()))
}

pub(crate) fn characters(
    records: &[CharacterRecord],
    dimension: usize,
) -> Result<RecordBatch, VectorError> {
    let ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
    let owners: Vec<String> = records.iter().map(|r| r.owner.to_string()).collect();
    let aliases = json_lists(records.iter().map(|r| &r.aliases))?;
    let mentions = json_lists(records.iter().map(|r| &r.mentions))?;
    RecordBatch::try_new(
        characters_schema(dimension)?,
        vec![
            strings(ids.iter().map(String::as_str)),
            strings(owners.iter().map(String::as_str)),
            strings(records.iter().map(|r| r.name.as_str())),
            strings(aliases.iter().map(String::as_str)),
            strings(records.iter().map(|r| r.profile.as_str())),
            strings(mentions.iter().map(String::as_str)),
            vectors(records.iter().map(|r| &r.vector), dimension)?,
        ],
    )
    .map_err(|e| VectorError::Invalid(e.to_string()))
}

pub(crate) fn document_sources(
    document_id: Uuid,
    sources: &DocumentSources,
) -> Result<RecordBatch, VectorError> {
    RecordBatch::try_new(
        documents_schema(),
        vec![
            strings(std::iter::once(document_id.to_string().as_str())),
            Arc::new(StringArray::from(vec![sources.text_ref.clone()])),
            Arc::new(StringArray::from(vec![sources.analysis_ref.clone()])),
        ],
    )
    .map_err(corrupt)
}

pub(crate) fn mentions(records: &[MentionRecord]) -> Result<RecordBatch, VectorError> {
    let ids: Vec<String> = records
        .iter()
        .map(|r| format!("{}/{}", r.character_id, r.document_id))
        .collect();
    let characters: Vec<String> = records.iter().map(|r| r.character_id.to_string()).collect();
    let documents: Vec<String> = records.iter().map(|r| r.document_id.to_string()).collect();
    let owners: Vec<String> = records.iter().map(|r| r.owner.to_string()).collect();
    let sentences = json_lists(records.iter().map(|r| &r.sentences))?;
    RecordBatch::try_new(
        mentions_schema(),
        vec![
            strings(ids.iter().map(String::as_str)),
            strings(characters.iter().map(String::as_str)),
            strings(documents.iter().map(String::as_str)),
            strings(owners.iter().map(String::as_str)),
            strings(sentences.iter().map(String::as_str)),
        ],
    )
    .map_err(corrupt)
}

pub(crate) fn merge(merge: &MergeRecord) -> Result<RecordBatch, VectorError> {
    RecordBatch::try_new(
        merges_schema(),
        vec![
            strings(std::iter::once(merge.merged.to_string().as_str())),
            strings(std::iter::once(merge.into.to_string().as_str())),
            strings(std::iter::once(merge.owner.to_string().as_str())),
        ],
    )
    .map_err(corrupt)
}

pub(crate) fn checkpoint_batch(next: &BTreeMap<u32, u64>) -> Result<RecordBatch, VectorError> {
    let ids: Vec<String> = next.keys().map(u32::to_string).collect();
    RecordBatch::try_new(
        checkpoints_schema(),
        vec![
            strings(ids.iter().map(String::as_str)),
            Arc::new(UInt64Array::from_iter_values(next.values().copied())),
        ],
    )
    .map_err(corrupt)
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a T, VectorError> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| VectorError::Corrupt(format!("the column {name} is missing or mistyped")))
}

fn uuid(text: &str) -> Result<Uuid, VectorError> {
    Uuid::from_str(text).map_err(|e| VectorError::Corrupt(format!("id {text:?}: {e}")))
}

/// Cosine distance to similarity.
fn scores(batch: &RecordBatch) -> Result<&Float32Array, VectorError> {
    column::<Float32Array>(batch, "_distance")
}

pub(crate) fn passage_hits(batches: &[RecordBatch]) -> Result<Vec<PassageHit>, VectorError> {
    let mut hits = Vec::new();
    for batch in batches {
        let (ids, documents, chapters, starts, ends, texts, distances) = (
            column::<StringArray>(batch, "id")?,
            column::<StringArray>(batch, "document_id")?,
            column::<Int64Array>(batch, "chapter")?,
            column::<UInt64Array>(batch, "start")?,
            column::<UInt64Array>(batch, "end")?,
            column::<StringArray>(batch, "text")?,
            scores(batch)?,
        );
        for i in 0..batch.num_rows() {
            hits.push(PassageHit {
                id: uuid(ids.value(i))?,
                document_id: uuid(documents.value(i))?,
                chapter: if chapters.is_null(i) {
                    None
                } else {
                    Some(u32::try_from(chapters.value(i)).map_err(corrupt)?)
                },
                start: starts.value(i),
                end: ends.value(i),
                text: texts.value(i).to_owned(),
                score: 1.0 - distances.value(i),
            });
        }
    }
    Ok(hits)
}

pub(crate) fn character_hits(batches: &[RecordBatch]) -> Result<Vec<CharacterHit>, VectorError> {
    let mut hits = Vec::new();
    for batch in batches {
        let (ids, names, distances) = (
            column::<StringArray>(batch, "id")?,
            column::<StringArray>(batch, "name")?,
            scores(batch)?,
        );
        for i in 0..batch.num_rows() {
            hits.push(CharacterHit {
                id: uuid(ids.value(i))?,
                name: names.value(i).to_owned(),
                score: 1.0 - distances.value(i),
            });
        }
    }
    Ok(hits)
}

pub(crate) fn character_records(
    batches: &[RecordBatch],
) -> Result<Vec<CharacterRecord>, VectorError> {
    let mut records = Vec::new();
    for batch in batches {
        let (owners, names, aliases, profiles, mentions) = (
            column::<StringArray>(batch, "owner")?,
            column::<StringArray>(batch, "name")?,
            column::<StringArray>(batch, "aliases")?,
            column::<StringArray>(batch, "profile")?,
            column::<StringArray>(batch, "mentions")?,
        );
        let vectors = ids_and_vectors(std::slice::from_ref(batch))?;
        for (i, (id, vector)) in vectors.into_iter().enumerate() {
            records.push(CharacterRecord {
                id,
                owner: uuid(owners.value(i))?,
                name: names.value(i).to_owned(),
                aliases: json_list(aliases.value(i))?,
                profile: profiles.value(i).to_owned(),
                mentions: json_list(mentions.value(i))?,
                vector,
            });
        }
    }
    Ok(records)
}

pub(crate) fn sources(batches: &[RecordBatch]) -> Result<Option<DocumentSources>, VectorError> {
    let optional =
        |column: &StringArray, i: usize| (!column.is_null(i)).then(|| column.value(i).to_owned());
    for batch in batches {
        let (texts, analyses) = (
            column::<StringArray>(batch, "text_ref")?,
            column::<StringArray>(batch, "analysis_ref")?,
        );
        if batch.num_rows() > 0 {
            return Ok(Some(DocumentSources {
                text_ref: optional(texts, 0),
                analysis_ref: optional(analyses, 0),
            }));
        }
    }
    Ok(None)
}

pub(crate) fn mention_records(batches: &[RecordBatch]) -> Result<Vec<MentionRecord>, VectorError> {
    let mut records = Vec::new();
    for batch in batches {
        let (characters, documents, owners, sentences) = (
            column::<StringArray>(batch, "character_id")?,
            column::<StringArray>(batch, "document_id")?,
            column::<StringArray>(batch, "owner")?,
            column::<StringArray>(batch, "sentences")?,
        );
        for i in 0..batch.num_rows() {
            records.push(MentionRecord {
                character_id: uuid(characters.value(i))?,
                document_id: uuid(documents.value(i))?,
                owner: uuid(owners.value(i))?,
                sentences: json_list(sentences.value(i))?,
            });
        }
    }
    Ok(records)
}

pub(crate) fn merge_records(batches: &[RecordBatch]) -> Result<Vec<MergeRecord>, VectorError> {
    let mut records = Vec::new();
    for batch in batches {
        let (ids, into, owners) = (
            column::<StringArray>(batch, "id")?,
            column::<StringArray>(batch, "into_id")?,
            column::<StringArray>(batch, "owner")?,
        );
        for i in 0..batch.num_rows() {
            records.push(MergeRecord {
                merged: uuid(ids.value(i))?,
                into: uuid(into.value(i))?,
                owner: uuid(owners.value(i))?,
            });
        }
    }
    Ok(records)
}

pub(crate) fn ids_and_vectors(
    batches: &[RecordBatch],
) -> Result<Vec<(Uuid, Vec<f32>)>, VectorError> {
    let mut rows = Vec::new();
    for batch in batches {
        let ids = column::<StringArray>(batch, "id")?;
        let vectors = column::<FixedSizeListArray>(batch, "vector")?;
        for i in 0..batch.num_rows() {
            let values = vectors.value(i);
            let values = values
                .as_any()
                .downcast_ref::<Float32Array>()
                .ok_or_else(|| VectorError::Corrupt("a vector is not of f32".into()))?;
            rows.push((uuid(ids.value(i))?, values.values().to_vec()));
        }
    }
    Ok(rows)
}

pub(crate) fn checkpoints(batches: &[RecordBatch]) -> Result<BTreeMap<u32, u64>, VectorError> {
    let mut next = BTreeMap::new();
    for batch in batches {
        let (ids, offsets) = (
            column::<StringArray>(batch, "id")?,
            column::<UInt64Array>(batch, "next")?,
        );
        for i in 0..batch.num_rows() {
            let partition = u32::from_str(ids.value(i)).map_err(corrupt)?;
            next.insert(partition, offsets.value(i));
        }
    }
    Ok(next)
}

/// The value of a `meta` row, if it is there.
pub(crate) async fn meta_value(
    meta: &lancedb::Table,
    id: &str,
) -> Result<Option<String>, VectorError> {
    use futures::TryStreamExt;
    use lancedb::query::{ExecutableQuery, QueryBase};
    let unavailable = |e: lancedb::Error| VectorError::Unavailable(format!("reading meta: {e}"));
    let batches = meta
        .query()
        .only_if(format!("id = '{}'", id.replace('\'', "''")))
        .execute()
        .await
        .map_err(unavailable)?
        .try_collect::<Vec<_>>()
        .await
        .map_err(unavailable)?;
    for batch in &batches {
        let values = column::<StringArray>(batch, "value")?;
        if batch.num_rows() > 0 {
            return Ok(Some(values.value(0).to_owned()));
        }
    }
    Ok(None)
}

pub(crate) async fn set_meta_value(
    meta: &lancedb::Table,
    id: &str,
    value: &str,
) -> Result<(), VectorError> {
    let batch = RecordBatch::try_new(
        meta_schema(),
        vec![
            strings(std::iter::once(id)),
            strings(std::iter::once(value)),
        ],
    )
    .map_err(corrupt)?;
    meta.add(batch)
        .execute()
        .await
        .map_err(|e| VectorError::Unavailable(format!("writing meta: {e}")))?;
    Ok(())
}
