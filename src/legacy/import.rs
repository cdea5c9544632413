//! Runs the plans: blobs first, then one creating command per row, many
//! in flight; a row already imported answers as a duplicate of its first
//! outcome, so an interrupted run is simply run again.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use backon::{ExponentialBuilder, Retryable};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use studio_blob_store::BlobStore;
use studio_command_api::{CommandError, Executed};
use studio_domain::character::{
    CharacterAggregate, CharacterCommand, CharacterOrigin, CreateCharacter,
};
use studio_domain::document::{DocumentAggregate, DocumentCommand, UploadDocument};
use studio_domain::{DomainAggregate, DomainError};
use studio_legacy_import::plan::{
    CHARACTERS, CharacterPlan, Content, DOCUMENTS, DocumentIndex, DocumentPlan, Planner,
};
use studio_legacy_import::source::Table;
use studio_legacy_import::value::PendingBlob;
use uuid::Uuid;

use super::report::{NotImported, RefusedRow, Report, TableReport};
use super::{Legacy, People};
use crate::audit::progress_bar;

/// Characters read and planned at a time.
pub const PAGE: u32 = 2_000;
/// Documents at a time: their content is in the rows.
pub const DOCUMENT_PAGE: u32 = 50;

pub struct Options {
    pub dry_run: bool,
    pub concurrency: usize,
    pub max_file_bytes: u64,
    pub blobs: std::sync::Arc<dyn BlobStore>,
}

/// What became of one planned row.
enum Outcome {
    Imported { warned: bool },
    AlreadyPresent,
    Refused(String),
}

pub async fn run(
    people: &People,
    legacy: &Legacy,
    mut planner: Planner,
    options: &Options,
) -> anyhow::Result<Report> {
    let bar = &progress_bar(legacy.rows(), "importing");
    let mut report = Report {
        dry_run: options.dry_run,
        tables: Vec::new(),
        not_imported: legacy
            .others
            .iter()
            .map(|t| NotImported {
                table: t.name.clone(),
                rows: t.rows,
                columns: t.columns.clone(),
            })
            .collect(),
    };
    let mut index = DocumentIndex::default();
    if let Some(table) = &legacy.documents {
        let mut counts = TableReport::new(table, DOCUMENTS);
        let mut pages = legacy.database.pages(table, DOCUMENT_PAGE);
        while let Some(page) = pages.next().await? {
            counts.read += page.len() as u64;
            let mut plans = Vec::with_capacity(page.len());
            for row in &page {
                match planner.document(row) {
                    Ok(plan) => plans.push(plan),
                    Err(refusal) => {
                        if let Some(id) = refusal.legacy_id {
                            index.refuse(id);
                        }
                        counts.refused.push(refusal.into());
                        bar.inc(1);
                    }
                }
            }
            let mut outcomes: Vec<(DocumentPlan, Outcome)> = stream::iter(plans)
                .map(|plan| async move {
                    let outcome = document(people, legacy, &plan, options)
                        .await
                        .with_context(|| {
                            format!(
                                "importing legacy document {}; run the import again to go on",
                                plan.legacy_id
                            )
                        })?;
                    bar.inc(1);
                    anyhow::Ok((plan, outcome))
                })
                .buffer_unordered(options.concurrency)
                .try_collect()
                .await?;
            // The index is built in rowid order, as a verification builds it.
            outcomes.sort_by_key(|(plan, _)| plan.rowid);
            for (plan, outcome) in outcomes {
                match &outcome {
                    Outcome::Refused(_) => index.refuse(plan.legacy_id),
                    _ => index.add(&plan),
                }
                tally(&mut counts, plan.rowid, plan.legacy_id, outcome);
            }
            progress(&counts, table);
        }
        report.tables.push(counts);
    }
    if let Some(table) = &legacy.characters {
        let mut counts = TableReport::new(table, CHARACTERS);
        let mut pages = legacy.database.pages(table, PAGE);
        while let Some(page) = pages.next().await? {
            counts.read += page.len() as u64;
            let mut plans = Vec::with_capacity(page.len());
            for row in &page {
                match planner.character(row, &index) {
                    Ok(plan) => plans.push(plan),
                    Err(refusal) => {
                        counts.refused.push(refusal.into());
                        bar.inc(1);
                    }
                }
            }
            let outcomes: Vec<(i64, i64, Outcome)> = stream::iter(plans)
                .map(|plan| async move {
                    let outcome = character(people, &plan, options).await.with_context(|| {
                        format!(
                            "importing legacy character {}; run the import again to go on",
                            plan.legacy_id
                        )
                    })?;
                    bar.inc(1);
                    anyhow::Ok((plan.rowid, plan.legacy_id, outcome))
                })
                .buffer_unordered(options.concurrency)
                .try_collect()
                .await?;
            for (rowid, legacy_id, outcome) in outcomes {
                tally(&mut counts, rowid, legacy_id, outcome);
            }
            progress(&counts, table);
        }
        report.tables.push(counts);
    }
    bar.finish_and_clear();
    Ok(report)
}

/// A line per page, for logs (the bar shows only on a terminal).
fn progress(counts: &TableReport, table: &Table) {
    tracing::info!(
        table = %table.name,
        read = counts.read,
        of = table.rows,
        "legacy import progress"
    );
}

fn tally(counts: &mut TableReport, rowid: i64, legacy_id: i64, outcome: Outcome) {
    match outcome {
        Outcome::Imported { warned } => {
            counts.imported += 1;
            counts.with_warnings += u64::from(warned);
        }
        Outcome::AlreadyPresent => counts.already_present += 1,
        Outcome::Refused(reason) => {
            counts.refused.push(RefusedRow {
                rowid,
                legacy_id: Some(legacy_id),
                reason,
            });
        }
    }
}

/// The bytes of a document: in the row, or in the file it names.
pub async fn content(
    legacy: &Legacy,
    plan: &DocumentPlan,
    max_bytes: u64,
) -> Result<PendingBlob, String> {
    let blob = match &plan.content {
        Content::Inline(blob) => blob.clone(),
        Content::File(path) => {
            let full = inside(&legacy.files_root, path)?;
            let size = tokio::fs::metadata(&full)
                .await
                .map_err(|e| format!("cannot read the file {path:?} the row names: {e}"))?
                .len();
            if size > max_bytes {
                return Err(format!(
                    "the file {path:?} is {size} bytes, above the upload limit of {max_bytes}"
                ));
            }
            let bytes = tokio::fs::read(&full)
                .await
                .map_err(|e| format!("cannot read the file {path:?} the row names: {e}"))?;
            PendingBlob::of(bytes)
        }
    };
    if blob.bytes.is_empty() {
        return Err("the content is empty".into());
    }
    if blob.bytes.len() as u64 > max_bytes {
        return Err(format!(
            "the content is {} bytes, above the upload limit of {max_bytes}",
            blob.bytes.len()
        ));
    }
    Ok(blob)
}

/// `path` (relative to `root`, or absolute) if it names a file inside
/// `root`: a legacy row does not get to read any file the importer can.
fn inside(root: &Path, path: &str) -> Result<PathBuf, String> {
    let resolved = root
        .join(path)
        .canonicalize()
        .map_err(|e| format!("cannot read the file {path:?} the row names: {e}"))?;
    if resolved.starts_with(root) {
        Ok(resolved)
    } else {
        Err(format!(
            "the file {path:?} is outside {} (pass --files-root to read from elsewhere)",
            root.display()
        ))
    }
}

async fn document(
    people: &People,
    legacy: &Legacy,
    plan: &DocumentPlan,
    options: &Options,
) -> anyhow::Result<Outcome> {
    let content = match content(legacy, plan, options.max_file_bytes).await {
        Ok(content) => content,
        // Imported by an earlier run whose file has moved since: present.
        Err(reason) => {
            return Ok(
                match presence(people, plan.id.into(), plan.command_id, false).await? {
                    Outcome::AlreadyPresent => Outcome::AlreadyPresent,
                    _ => Outcome::Refused(reason),
                },
            );
        }
    };
    if options.dry_run {
        return presence(
            people,
            plan.id.into(),
            plan.command_id,
            !plan.record.warnings.is_empty(),
        )
        .await;
    }
    for blob in std::iter::once(&content).chain(&plan.blobs) {
        store(options.blobs.as_ref(), blob).await?;
    }
    let meta = people.meta(plan.command_id);
    let command = DocumentCommand::Import {
        upload: UploadDocument {
            actor: people.actor(),
            owner: people.owner,
            title: plan.title.clone(),
            original_filename: plan.original_filename.clone(),
            media_type: plan.media_type.clone(),
            size_bytes: content.bytes.len() as u64,
            sha256: content.sha256.clone(),
            blob_ref: content.blob_ref(),
            at: plan.uploaded_at.unwrap_or(meta.at),
        },
        legacy: plan.record.clone(),
    };
    let executed = create::<DocumentAggregate>(people, plan.id, &meta, command).await;
    outcome(executed, "document", !plan.record.warnings.is_empty())
}

async fn character(
    people: &People,
    plan: &CharacterPlan,
    options: &Options,
) -> anyhow::Result<Outcome> {
    if options.dry_run {
        return presence(
            people,
            plan.id.into(),
            plan.command_id,
            !plan.record.warnings.is_empty(),
        )
        .await;
    }
    for blob in &plan.blobs {
        store(options.blobs.as_ref(), blob).await?;
    }
    let meta = people.meta(plan.command_id);
    let command = CharacterCommand::Import {
        create: CreateCharacter {
            actor: people.actor(),
            owner: people.owner,
            name: plan.name.clone(),
            aliases: Vec::new(),
            personality_profile: plan.personality_profile.clone(),
            source_document: plan.source_document,
            origin: CharacterOrigin::Imported,
            at: plan.created_at.unwrap_or(meta.at),
        },
        legacy: plan.record.clone(),
    };
    let executed = create::<CharacterAggregate>(people, plan.id, &meta, command).await;
    outcome(executed, "character", !plan.record.warnings.is_empty())
}

/// The command, retried while the log answers that it may be retried
/// (a Kafka log whose processors are rebalancing, say): the same command
/// id, so at most once.
async fn create<A>(
    people: &People,
    id: A::Id,
    meta: &studio_command_api::CommandMeta,
    command: A::Command,
) -> Result<Executed, CommandError>
where
    A: DomainAggregate,
    A::Id: Copy + Into<Uuid>,
    A::Command: Clone,
    A::State: Send + Sync + 'static,
{
    let attempt = || {
        let command = command.clone();
        async move { people.service.create::<A>(id, meta, vec![command]).await }
    };
    attempt
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(5))
                .with_max_times(12),
        )
        .when(|e| matches!(e, CommandError::Log(log) if log.is_retryable()))
        .await
}

fn outcome(
    executed: Result<Executed, CommandError>,
    kind: &str,
    warned: bool,
) -> anyhow::Result<Outcome> {
    match executed {
        Ok(executed) if executed.duplicate => Ok(Outcome::AlreadyPresent),
        Ok(_) => Ok(Outcome::Imported { warned }),
        Err(CommandError::Domain(DomainError::AlreadyExists(_)))
        | Err(CommandError::Conflict { .. }) => Ok(Outcome::Refused(format!(
            "a {kind} with this row's id exists and was not created by this import (another source name or owner?)"
        ))),
        Err(CommandError::Domain(e)) => Ok(Outcome::Refused(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// In a dry run: whether the row's import already happened.
async fn presence(
    people: &People,
    aggregate_id: Uuid,
    command_id: Uuid,
    warned: bool,
) -> anyhow::Result<Outcome> {
    let outcome = people
        .service
        .log()
        .command_outcome(aggregate_id, command_id)
        .await?;
    Ok(match outcome {
        Some(_) => Outcome::AlreadyPresent,
        None => Outcome::Imported { warned },
    })
}

async fn store(blobs: &dyn BlobStore, blob: &PendingBlob) -> anyhow::Result<()> {
    let bytes = Bytes::from(blob.bytes.clone());
    let stored = blobs
        .put(
            stream::once(async move { Ok(bytes) }).boxed(),
            blob.bytes.len() as u64,
        )
        .await
        .context("storing a legacy value in the blob store")?;
    anyhow::ensure!(
        stored.blob_ref.sha256() == blob.sha256,
        "the blob store addressed a legacy value as {}, not sha256/{}",
        stored.blob_ref,
        blob.sha256
    );
    Ok(())
}
