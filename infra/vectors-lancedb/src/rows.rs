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
    CharacterHit, CharacterRecord, PassageHit, PassageRecord, VectorError,
};
use uuid::Uuid;

use crate::tables::{characters_schema, checkpoints_schema, meta_schema, passages_schema};

fn corrupt(e: impl std::fmt::Display) -> VectorError {
    VectorError::Corrupt(e.to_string())
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
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
    let aliases: Vec<String> = records
        .iter()
        .map(|r| serde_json::to_string(&r.aliases).map_err(corrupt))
        .collect::<Result<_, _>>()?;
    RecordBatch::try_new(
        characters_schema(dimension)?,
        vec![
            strings(ids.iter().map(String::as_str)),
            strings(owners.iter().map(String::as_str)),
            strings(records.iter().map(|r| r.name.as_str())),
            strings(aliases.iter().map(String::as_str)),
            strings(records.iter().map(|r| r.profile.as_str())),
            vectors(records.iter().map(|r| &r.vector), dimension)?,
        ],
    )
    .map_err(|e| VectorError::Invalid(e.to_string()))
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
        let (owners, names, aliases, profiles) = (
            column::<StringArray>(batch, "owner")?,
            column::<StringArray>(batch, "name")?,
            column::<StringArray>(batch, "aliases")?,
            column::<StringArray>(batch, "profile")?,
        );
        let vectors = ids_and_vectors(std::slice::from_ref(batch))?;
        for (i, (id, vector)) in vectors.into_iter().enumerate() {
            records.push(CharacterRecord {
                id,
                owner: uuid(owners.value(i))?,
                name: names.value(i).to_owned(),
                aliases: serde_json::from_str(aliases.value(i)).map_err(corrupt)?,
                profile: profiles.value(i).to_owned(),
                vector,
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
