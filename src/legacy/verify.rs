//! Every legacy row against what the platform holds, through the read
//! model once it has caught up with the log.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use studio_blob_store::{BlobRef, BlobStore};
use studio_domain::legacy::{LegacyImported, LegacyValue};
use studio_legacy_import::plan::{CHARACTERS, DOCUMENTS, DocumentIndex, Planner};
use studio_legacy_import::verify::{self, Difference, HeldCharacter, HeldDocument};
use studio_projections::relational::Relational;
use studio_projections::{PageRequest, ReadModel, Viewer};
use uuid::Uuid;

use super::import::{DOCUMENT_PAGE, PAGE, content};
use super::{Legacy, People};
use crate::audit::progress_bar;
use crate::config::Settings;
use crate::platform::{self, Store};

/// Differences printed; the JSON report lists them all.
const PRINTED: usize = 50;
/// Rows compared at once.
const IN_FLIGHT: usize = 16;
/// How long to wait for running projectors to catch up with the log,
/// and for a sign that one is running at all.
const CATCH_UP: Duration = Duration::from_secs(600);
const STALLED: Duration = Duration::from_secs(60);

#[derive(Serialize)]
struct VerifyReport {
    rows: u64,
    identical: u64,
    differences: Vec<DifferenceRow>,
    not_imported_tables: Vec<String>,
}

#[derive(Serialize)]
struct DifferenceRow {
    table: String,
    legacy_id: Option<i64>,
    rowid: i64,
    field: String,
    legacy: String,
    platform: String,
}

impl DifferenceRow {
    fn of(rowid: i64, d: Difference) -> Self {
        Self {
            table: d.table,
            legacy_id: Some(d.legacy_id),
            rowid,
            field: d.field,
            legacy: d.legacy,
            platform: d.platform,
        }
    }
}

pub async fn run(
    settings: &Settings,
    legacy: &Legacy,
    mut planner: Planner,
    people: &People,
    report_path: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let read_model = caught_up(settings).await?;
    let blobs = platform::blobs(settings).await?;
    let blobs = blobs.as_ref();
    let viewer = Viewer {
        user_id: people.admin.into(),
        admin: true,
    };
    let mut report = VerifyReport {
        rows: 0,
        identical: 0,
        differences: Vec::new(),
        not_imported_tables: legacy.others.iter().map(|t| t.name.clone()).collect(),
    };
    let bar = progress_bar(legacy.rows(), "verifying");
    let mut index = DocumentIndex::default();
    let max_bytes = settings.limits.upload_bytes;
    if let Some(table) = &legacy.documents {
        let mut pages = legacy.database.pages(table, DOCUMENT_PAGE);
        while let Some(page) = pages.next().await? {
            let mut plans = Vec::new();
            for row in &page {
                match planner.document(row) {
                    Ok(plan) => plans.push(plan),
                    Err(refusal) => {
                        if let Some(id) = refusal.legacy_id {
                            index.refuse(id);
                        }
                        report.differences.push(refused(DOCUMENTS, &refusal));
                    }
                }
            }
            let compared: Vec<_> = stream::iter(plans)
                .map(|plan| {
                    let read_model = read_model.clone();
                    async move {
                        let id: Uuid = plan.id.into();
                        let held = read_model.document(&viewer, id).await?;
                        let record = legacy_record(read_model.as_ref(), &viewer, id).await?;
                        let sha256 = match content(legacy, &plan, max_bytes).await {
                            Ok(blob) => blob.sha256,
                            Err(reason) => format!("unreadable: {reason}"),
                        };
                        let held = held.map(|d| {
                            (
                                d.owner_id,
                                HeldDocument {
                                    owner: d.owner_id,
                                    title: d.title,
                                    original_filename: d.original_filename,
                                    media_type: d.media_type,
                                    sha256: d.sha256,
                                    uploaded_at: d.uploaded_at,
                                },
                            )
                        });
                        let mut found = verify::document(
                            &plan,
                            &sha256,
                            held.as_ref().map(|(_, d)| d),
                            record.as_ref(),
                        );
                        found.extend(held.and_then(|(owner, _)| {
                            verify::owner(DOCUMENTS, plan.legacy_id, people.owner.into(), owner)
                        }));
                        found.extend(missing_blobs(blobs, DOCUMENTS, &plan.record).await?);
                        if let Ok(blob) = BlobRef::for_sha256(&sha256)
                            && !blobs.exists(&blob).await?
                        {
                            found.push(Difference {
                                table: DOCUMENTS.to_owned(),
                                legacy_id: plan.legacy_id,
                                field: "content".into(),
                                legacy: blob.to_string(),
                                platform: "missing from the blob store".into(),
                            });
                        }
                        anyhow::Ok((plan, found))
                    }
                })
                .buffered(IN_FLIGHT)
                .try_collect()
                .await?;
            for (plan, found) in compared {
                let present = !found.iter().any(|d| d.field == "document");
                if present {
                    index.add(&plan);
                } else {
                    index.refuse(plan.legacy_id);
                }
                tally(&mut report, plan.rowid, found);
            }
            bar.inc(page.len() as u64);
            report.rows += page.len() as u64;
        }
    }
    if let Some(table) = &legacy.characters {
        let mut pages = legacy.database.pages(table, PAGE);
        while let Some(page) = pages.next().await? {
            let mut plans = Vec::new();
            for row in &page {
                match planner.character(row, &index) {
                    Ok(plan) => plans.push(plan),
                    Err(refusal) => report.differences.push(refused(CHARACTERS, &refusal)),
                }
            }
            let compared: Vec<_> = stream::iter(plans)
                .map(|plan| {
                    let read_model = read_model.clone();
                    async move {
                        let id: Uuid = plan.id.into();
                        let held = read_model.character(&viewer, id).await?;
                        let record = legacy_record(read_model.as_ref(), &viewer, id).await?;
                        let held = held.map(|c| HeldCharacter {
                            owner: c.owner_id,
                            name: c.name,
                            personality_profile: c.personality_profile,
                            source_document: c.source_document_id,
                            origin: c.origin,
                            created_at: c.created_at,
                        });
                        let mut found = verify::character(&plan, held.as_ref(), record.as_ref());
                        found.extend(held.and_then(|c| {
                            verify::owner(CHARACTERS, plan.legacy_id, people.owner.into(), c.owner)
                        }));
                        found.extend(missing_blobs(blobs, CHARACTERS, &plan.record).await?);
                        anyhow::Ok((plan.rowid, found))
                    }
                })
                .buffered(IN_FLIGHT)
                .try_collect()
                .await?;
            for (rowid, found) in compared {
                tally(&mut report, rowid, found);
            }
            bar.inc(page.len() as u64);
            report.rows += page.len() as u64;
        }
    }
    bar.finish_and_clear();
    print(&report);
    if let Some(path) = report_path {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.differences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn refused(table: &str, refusal: &studio_legacy_import::plan::Refusal) -> DifferenceRow {
    DifferenceRow {
        table: table.to_owned(),
        legacy_id: refusal.legacy_id,
        rowid: refusal.rowid,
        field: "row".into(),
        legacy: format!("cannot be imported: {}", refusal.reason),
        platform: "missing".into(),
    }
}

fn tally(report: &mut VerifyReport, rowid: i64, found: Vec<Difference>) {
    if found.is_empty() {
        report.identical += 1;
    }
    report
        .differences
        .extend(found.into_iter().map(|d| DifferenceRow::of(rowid, d)));
}

fn print(report: &VerifyReport) {
    let rows_differing: std::collections::BTreeSet<(&str, i64)> = report
        .differences
        .iter()
        .map(|d| (d.table.as_str(), d.rowid))
        .collect();
    println!(
        "verified {} legacy rows: {} identical, {} missing or different ({} differences)",
        report.rows,
        report.identical,
        rows_differing.len(),
        report.differences.len()
    );
    for d in report.differences.iter().take(PRINTED) {
        let id = d.legacy_id.map(|i| format!(" id {i}")).unwrap_or_default();
        println!(
            "  {} rowid {}{id}: {}: legacy {} / platform {}",
            d.table, d.rowid, d.field, d.legacy, d.platform
        );
    }
    if report.differences.len() > PRINTED {
        println!(
            "  ... and {} more (--report FILE lists them all)",
            report.differences.len() - PRINTED
        );
    }
    for table in &report.not_imported_tables {
        println!("NOT COVERED: table {table} is not imported by studio import-legacy");
    }
}

/// Values the record keeps in the blob store (a document's content among
/// them) that the blob store does not have.
async fn missing_blobs(
    blobs: &dyn BlobStore,
    table: &str,
    record: &LegacyImported,
) -> anyhow::Result<Vec<Difference>> {
    let mut missing = Vec::new();
    for (column, value) in &record.columns {
        let LegacyValue::Stored { blob_ref, .. } = value else {
            continue;
        };
        let present = match BlobRef::parse(blob_ref) {
            Ok(blob) => blobs.exists(&blob).await?,
            Err(_) => false,
        };
        if !present {
            missing.push(Difference {
                table: table.to_owned(),
                legacy_id: record.legacy_id,
                field: format!("column {column}"),
                legacy: format!("stored as {blob_ref}"),
                platform: "missing from the blob store".into(),
            });
        }
    }
    Ok(missing)
}

/// The legacy record the import appended after the aggregate's creation.
async fn legacy_record(
    read_model: &Relational,
    viewer: &Viewer,
    id: Uuid,
) -> anyhow::Result<Option<LegacyImported>> {
    let events = read_model
        .stream_events(viewer, id, &PageRequest::new(Some(4), None))
        .await?;
    events
        .items
        .into_iter()
        .find(|(_, e)| e.event_type.ends_with(".legacy_imported.v1"))
        .map(|(_, e)| serde_json::from_value(e.data).context("reading a legacy record"))
        .transpose()
}

/// The read model, caught up with the log as it stands now: brought up to
/// date here when no projector runs (embedded), else waited for.
async fn caught_up(settings: &Settings) -> anyhow::Result<Arc<Relational>> {
    let log = platform::log_reader(settings).await?;
    let shared = settings.kafka_log().is_some() && settings.postgres_read_model().is_some();
    if !shared && let Ok(_lock) = platform::lock(settings, Store::ReadModel) {
        let personal = platform::personal_data(settings).await?;
        let blobs = platform::blobs(settings).await?;
        let read_model = platform::read_model_writer(settings, personal, blobs).await?;
        crate::replay::project(&log, read_model.as_ref(), None, true)
            .await
            .context("bringing the read model up to date")?;
        return Ok(read_model);
    }
    let read_model = platform::read_model_reader(settings).await?;
    let ends = log.end_offsets().await?;
    let deadline = tokio::time::Instant::now() + CATCH_UP;
    let mut last = (u64::MAX, tokio::time::Instant::now());
    loop {
        let at = read_model.checkpoints().await?;
        let behind: u64 = ends
            .iter()
            .map(|(p, end)| end.saturating_sub(at.get(p).copied().unwrap_or(0)))
            .sum();
        if behind == 0 {
            return Ok(read_model);
        }
        let now = tokio::time::Instant::now();
        if behind != last.0 {
            last = (behind, now);
        }
        if now > deadline || now.duration_since(last.1) > STALLED {
            bail!(
                "the read model is {behind} events behind the log and not catching up: start a projector (studio serve or studio projector), then verify again"
            );
        }
        tracing::info!(
            behind,
            "waiting for the projectors to catch up with the log"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
