//! The vector read model on LanceDB: `passages` and `characters` with
//! their vectors, and `documents`, `mentions`, `merges` and `checkpoints`
//! that the projection keeps to make them, in a local folder (embedded)
//! or under an object-store URI (`s3://bucket/prefix`, production). Rows are written
//! with `merge_insert` on `id` (an upsert), every query filters on
//! `owner`, and distances are cosine. A table past `index_threshold` rows
//! gets an IVF-HNSW-SQ index, which later calls bring up to date with the rows
//! written since.

mod rows;
mod tables;

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::TryStreamExt;
use lancedb::arrow::arrow_array::RecordBatch;
use lancedb::index::Index;
use lancedb::index::vector::IvfHnswSqIndexBuilder;
use lancedb::query::{ExecutableQuery, QueryBase, Select};
use lancedb::table::{CompactionOptions, OptimizeAction};
use lancedb::{DistanceType, Table};
use studio_projections::vectors::{
    CharacterHit, CharacterRecord, DocumentSources, MentionRecord, MergeRecord, PassageHit,
    PassageRecord, VectorError, VectorSnapshot, VectorStore, check_limit, check_vector,
};
use uuid::Uuid;

pub use tables::Location;

/// Rows a table holds before it gets an approximate index. Over 100,000
/// passages exact search takes about 80 ms at the median and the
/// IVF-HNSW-SQ index about 24 ms, finding 99% of the exact top ten
/// (`benches/vectors.rs`, docs/benchmarks.md); exact search grows with the
/// rows, so past about 40 ms (50,000 rows) the index is worth building.
pub const DEFAULT_INDEX_THRESHOLD: usize = 50_000;

/// Through an index, `limit` times this many candidates are found with
/// the quantised (8-bit) vectors, then ranked by their true distance: the
/// scores a search returns are exact cosines. (Without an index the
/// search is exact and this is not used.)
const REFINE_FACTOR: u32 = 10;
/// IVF partitions searched through an index, when it has that many.
const NPROBES: usize = 40;
/// HNSW candidates kept per row asked for: 30 took recall@10 from 0.963
/// (at 10) to 0.989 at the same latency (`benches/vectors.rs`).
const EF_PER_ROW: usize = 30;

/// Small fragments (under 100,000 rows, as Lance counts them) a table
/// gathers before it is compacted. Every write adds a fragment, and every
/// query opens every fragment: uncompacted, a lookup in a table of 1,000
/// single-row writes took 107 ms (and grew with each write); compacted
/// every ten writes, 3 ms.
const COMPACT_AT_SMALL_FRAGMENTS: usize = 32;
/// Rows of a compacted fragment: a fragment this big is left alone, so a
/// compaction rewrites the recent small ones, not the whole table.
const ROWS_PER_FRAGMENT: usize = 100_000;
/// Versions a reader may still be on: older ones (and the files only they
/// hold) are removed after a compaction.
const KEEP_VERSIONS_FOR: chrono::Duration = chrono::Duration::minutes(10);

/// Ids in one `IN (...)` filter.
const IDS_PER_FILTER: usize = 500;

pub struct LanceVectors {
    passages: Table,
    characters: Table,
    documents: Table,
    mentions: Table,
    merges: Table,
    checkpoints: Table,
    dimension: usize,
    index_threshold: usize,
}

fn unavailable(what: &str) -> impl Fn(lancedb::Error) -> VectorError + '_ {
    move |e| VectorError::Unavailable(format!("{what}: {e}"))
}

/// A uuid as it is written in a filter: its canonical text, nothing a
/// caller can inject.
fn quoted(id: Uuid) -> String {
    format!("'{id}'")
}

/// The rows of `table` whose `column` is one of `ids`, asked
/// [`IDS_PER_FILTER`] ids at a time.
async fn fetch_any_of(
    table: &Table,
    column: &str,
    ids: &[Uuid],
    what: &str,
) -> Result<Vec<RecordBatch>, VectorError> {
    let mut batches = Vec::new();
    for part in ids.chunks(IDS_PER_FILTER) {
        let list: Vec<String> = part.iter().copied().map(quoted).collect();
        let filter = format!("{column} IN ({})", list.join(", "));
        batches.extend(fetch(table.query().only_if(filter), what).await?);
    }
    Ok(batches)
}

/// The rows a query answers.
async fn fetch(query: impl ExecutableQuery, what: &str) -> Result<Vec<RecordBatch>, VectorError> {
    query
        .execute()
        .await
        .map_err(unavailable(what))?
        .try_collect::<Vec<_>>()
        .await
        .map_err(unavailable(what))
}

impl LanceVectors {
    /// Opens (creating when missing) the tables at `location`, holding
    /// `dimension`-long vectors of `model`. Tables made by another model
    /// or for another dimension are an error: vectors of two models are
    /// never mixed.
    pub async fn open(
        location: &Location,
        model: &str,
        dimension: usize,
        index_threshold: usize,
    ) -> Result<Self, VectorError> {
        Self::at(location, model, dimension, index_threshold, false).await
    }

    /// Drops whatever tables are at `location` and makes empty ones: a
    /// store to project from the start (of any model).
    pub async fn create_fresh(
        location: &Location,
        model: &str,
        dimension: usize,
        index_threshold: usize,
    ) -> Result<Self, VectorError> {
        Self::at(location, model, dimension, index_threshold, true).await
    }

    async fn at(
        location: &Location,
        model: &str,
        dimension: usize,
        index_threshold: usize,
        fresh: bool,
    ) -> Result<Self, VectorError> {
        let tables = tables::open(location, model, dimension, fresh).await?;
        Ok(Self {
            passages: tables.passages,
            characters: tables.characters,
            documents: tables.documents,
            mentions: tables.mentions,
            merges: tables.merges,
            checkpoints: tables.checkpoints,
            dimension,
            index_threshold,
        })
    }

    async fn upsert(&self, table: &Table, batch: RecordBatch) -> Result<(), VectorError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let schema = batch.schema();
        let reader = lancedb::arrow::arrow_array::RecordBatchIterator::new(vec![Ok(batch)], schema);
        let mut merge = table.merge_insert(&["id"]);
        merge
            .when_matched_update_all(None)
            .when_not_matched_insert_all();
        merge
            .execute(Box::new(reader))
            .await
            .map_err(unavailable("writing vectors"))?;
        Ok(())
    }

    /// Compacts a table that has gathered many small fragments, and
    /// forgets versions older than [`KEEP_VERSIONS_FOR`].
    async fn compact(table: &Table) -> Result<(), VectorError> {
        let stats = table
            .stats()
            .await
            .map_err(unavailable("reading a table's statistics"))?;
        if stats.fragment_stats.num_small_fragments < COMPACT_AT_SMALL_FRAGMENTS {
            return Ok(());
        }
        table
            .optimize(OptimizeAction::Compact {
                options: CompactionOptions {
                    target_rows_per_fragment: ROWS_PER_FRAGMENT,
                    ..Default::default()
                },
                remap_options: None,
            })
            .await
            .map_err(unavailable("compacting a table"))?;
        table
            .optimize(OptimizeAction::Prune {
                older_than: Some(KEEP_VERSIONS_FOR),
                delete_unverified: None,
                error_if_tagged_old_versions: None,
            })
            .await
            .map_err(unavailable("removing old versions of a table"))?;
        Ok(())
    }

    async fn index_table(&self, table: &Table) -> Result<(), VectorError> {
        let indexed = table
            .list_indices()
            .await
            .map_err(unavailable("listing indexes"))?
            .iter()
            .any(|i| i.columns.iter().any(|c| c == "vector"));
        if indexed {
            table
                .optimize(OptimizeAction::Index(Default::default()))
                .await
                .map_err(unavailable("updating an index"))?;
            return Ok(());
        }
        let rows = table
            .count_rows(None)
            .await
            .map_err(unavailable("counting rows"))?;
        if rows < self.index_threshold {
            return Ok(());
        }
        tracing::info!(table = table.name(), rows, "building the vector index");
        table
            .create_index(
                &["vector"],
                Index::IvfHnswSq(
                    IvfHnswSqIndexBuilder::default().distance_type(DistanceType::Cosine),
                ),
            )
            .execute()
            .await
            .map_err(unavailable("building an index"))
    }
}

#[async_trait]
impl VectorStore for LanceVectors {
    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn upsert_passages(&self, records: Vec<PassageRecord>) -> Result<(), VectorError> {
        for r in &records {
            check_vector(&r.vector, self.dimension)?;
        }
        self.upsert(&self.passages, rows::passages(&records, self.dimension)?)
            .await
    }

    async fn remove_passages(&self, document_id: Uuid) -> Result<(), VectorError> {
        self.passages
            .delete(format!("document_id = {}", quoted(document_id)).as_str())
            .await
            .map_err(unavailable("removing passages"))?;
        Ok(())
    }

    async fn remove_mentions(&self, document_id: Uuid) -> Result<Vec<Uuid>, VectorError> {
        let filter = format!("document_id = {}", quoted(document_id));
        let found = fetch(
            self.mentions.query().only_if(filter.clone()),
            "reading mentions",
        )
        .await?;
        let mut characters: Vec<Uuid> = rows::mention_records(&found)?
            .into_iter()
            .map(|m| m.character_id)
            .collect();
        characters.sort();
        characters.dedup();
        if !characters.is_empty() {
            self.mentions
                .delete(&filter)
                .await
                .map_err(unavailable("removing mentions"))?;
        }
        Ok(characters)
    }

    async fn remove_document(&self, document_id: Uuid) -> Result<Vec<Uuid>, VectorError> {
        self.remove_passages(document_id).await?;
        let characters = self.remove_mentions(document_id).await?;
        self.documents
            .delete(&format!("id = {}", quoted(document_id)))
            .await
            .map_err(unavailable("removing a document"))?;
        Ok(characters)
    }

    async fn document_sources(
        &self,
        document_id: Uuid,
    ) -> Result<Option<DocumentSources>, VectorError> {
        let found = fetch(
            self.documents
                .query()
                .only_if(format!("id = {}", quoted(document_id))),
            "reading a document",
        )
        .await?;
        rows::sources(&found)
    }

    async fn set_document_sources(
        &self,
        document_id: Uuid,
        sources: &DocumentSources,
    ) -> Result<(), VectorError> {
        self.upsert(
            &self.documents,
            rows::document_sources(document_id, sources)?,
        )
        .await
    }

    async fn upsert_mentions(&self, records: Vec<MentionRecord>) -> Result<(), VectorError> {
        self.upsert(&self.mentions, rows::mentions(&records)?).await
    }

    async fn mentions(&self, character_ids: &[Uuid]) -> Result<Vec<MentionRecord>, VectorError> {
        let batches = fetch_any_of(
            &self.mentions,
            "character_id",
            character_ids,
            "reading mentions",
        )
        .await?;
        let mut found = rows::mention_records(&batches)?;
        found.sort_by_key(|m| (m.document_id, m.character_id));
        Ok(found)
    }

    async fn record_merge(&self, merge: MergeRecord) -> Result<(), VectorError> {
        self.upsert(&self.merges, rows::merge(&merge)?).await
    }

    async fn merges(&self, owners: &[Uuid]) -> Result<Vec<MergeRecord>, VectorError> {
        let batches = fetch_any_of(&self.merges, "owner", owners, "reading merges").await?;
        let mut found = rows::merge_records(&batches)?;
        found.sort_by_key(|m| m.merged);
        Ok(found)
    }

    async fn upsert_characters(&self, records: Vec<CharacterRecord>) -> Result<(), VectorError> {
        for r in &records {
            check_vector(&r.vector, self.dimension)?;
        }
        self.upsert(
            &self.characters,
            rows::characters(&records, self.dimension)?,
        )
        .await
    }

    async fn remove_character(&self, id: Uuid) -> Result<(), VectorError> {
        self.characters
            .delete(format!("id = {}", quoted(id)).as_str())
            .await
            .map_err(unavailable("removing a character"))?;
        Ok(())
    }

    async fn character(&self, id: Uuid) -> Result<Option<CharacterRecord>, VectorError> {
        let batches = fetch(
            self.characters
                .query()
                .only_if(format!("id = {}", quoted(id))),
            "reading a character",
        )
        .await?;
        Ok(rows::character_records(&batches)?.into_iter().next())
    }

    async fn search_passages(
        &self,
        owner: Uuid,
        vector: &[f32],
        document_id: Option<Uuid>,
        limit: usize,
    ) -> Result<Vec<PassageHit>, VectorError> {
        check_limit(limit)?;
        check_vector(vector, self.dimension)?;
        let mut filter = format!("owner = {}", quoted(owner));
        if let Some(document) = document_id {
            filter.push_str(&format!(" AND document_id = {}", quoted(document)));
        }
        let query = self
            .passages
            .vector_search(vector.to_vec())
            .map_err(unavailable("searching passages"))?
            .column("vector")
            .distance_type(DistanceType::Cosine)
            .refine_factor(REFINE_FACTOR)
            .nprobes(NPROBES)
            .map_err(unavailable("searching"))?
            .ef(limit * EF_PER_ROW)
            .only_if(filter)
            .limit(limit);
        let batches = fetch(query, "searching passages").await?;
        rows::passage_hits(&batches)
    }

    async fn similar_characters(
        &self,
        owner: Uuid,
        character_id: Uuid,
        limit: usize,
    ) -> Result<Option<Vec<CharacterHit>>, VectorError> {
        check_limit(limit)?;
        let own = fetch(
            self.characters
                .query()
                .only_if(format!(
                    "owner = {} AND id = {}",
                    quoted(owner),
                    quoted(character_id)
                ))
                .select(Select::columns(&["id", "vector"])),
            "reading a character",
        )
        .await?;
        let Some((_, vector)) = rows::ids_and_vectors(&own)?.into_iter().next() else {
            return Ok(None);
        };
        let query = self
            .characters
            .vector_search(vector)
            .map_err(unavailable("searching characters"))?
            .column("vector")
            .distance_type(DistanceType::Cosine)
            .refine_factor(REFINE_FACTOR)
            .nprobes(NPROBES)
            .map_err(unavailable("searching"))?
            .ef(limit * EF_PER_ROW)
            .only_if(format!(
                "owner = {} AND id != {}",
                quoted(owner),
                quoted(character_id)
            ))
            .limit(limit);
        let batches = fetch(query, "searching characters").await?;
        rows::character_hits(&batches).map(Some)
    }

    async fn checkpoint(&self) -> Result<BTreeMap<u32, u64>, VectorError> {
        let batches = fetch(self.checkpoints.query(), "reading checkpoints").await?;
        rows::checkpoints(&batches)
    }

    async fn save_checkpoint(&self, next: &BTreeMap<u32, u64>) -> Result<(), VectorError> {
        self.upsert(&self.checkpoints, rows::checkpoint_batch(next)?)
            .await
    }

    async fn maintain(&self) -> Result<(), VectorError> {
        for table in [
            &self.passages,
            &self.characters,
            &self.documents,
            &self.mentions,
            &self.merges,
            &self.checkpoints,
        ] {
            Self::compact(table).await?;
        }
        self.index_table(&self.passages).await?;
        self.index_table(&self.characters).await
    }

    async fn snapshot(&self) -> Result<VectorSnapshot, VectorError> {
        let mut snapshot = VectorSnapshot::default();
        for (table, into) in [
            (&self.passages, &mut snapshot.passages),
            (&self.characters, &mut snapshot.characters),
        ] {
            let batches = fetch(
                table.query().select(Select::columns(&["id", "vector"])),
                "reading vectors",
            )
            .await?;
            let mut rows = rows::ids_and_vectors(&batches)?;
            rows.sort_by_key(|(id, _)| *id);
            *into = rows;
        }
        Ok(snapshot)
    }
}
