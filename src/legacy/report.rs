//! What an import did, per table, printed and (with --report) as JSON.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use studio_legacy_import::plan::{Refusal, mapped_columns};
use studio_legacy_import::source::Table;

/// Refused rows printed; the JSON report lists them all.
const PRINTED: usize = 20;

#[derive(Debug, Default, Serialize)]
pub struct TableReport {
    pub table: String,
    pub read: u64,
    /// Appended by this run (or, in a dry run, that would be).
    pub imported: u64,
    pub already_present: u64,
    /// Of those imported by this run, the ones with warnings.
    pub with_warnings: u64,
    pub refused: Vec<RefusedRow>,
    /// Columns the platform has no field for: kept in the legacy record.
    pub kept_in_record_only: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct RefusedRow {
    pub rowid: i64,
    pub legacy_id: Option<i64>,
    pub reason: String,
}

impl From<Refusal> for RefusedRow {
    fn from(r: Refusal) -> Self {
        Self {
            rowid: r.rowid,
            legacy_id: r.legacy_id,
            reason: r.reason,
        }
    }
}

impl TableReport {
    pub fn new(table: &Table, known_as: &str) -> Self {
        let mapped = mapped_columns(known_as);
        Self {
            table: table.name.clone(),
            kept_in_record_only: table
                .columns
                .iter()
                .filter(|c| !mapped.iter().any(|m| c.eq_ignore_ascii_case(m)))
                .cloned()
                .collect(),
            ..Self::default()
        }
    }
}

/// A table of the legacy file the importer does not know.
#[derive(Debug, Serialize)]
pub struct NotImported {
    pub table: String,
    pub rows: u64,
    pub columns: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub tables: Vec<TableReport>,
    pub not_imported: Vec<NotImported>,
}

impl Report {
    pub fn refused(&self) -> usize {
        self.tables.iter().map(|t| t.refused.len()).sum()
    }

    pub fn print(&self, file: &Path, source: &str) {
        println!(
            "legacy import of {} (source name {source:?}){}",
            file.display(),
            if self.dry_run {
                ": DRY RUN, nothing appended; `imported` counts what would be"
            } else {
                ""
            }
        );
        println!(
            "{:<14} {:>9} {:>9} {:>16} {:>14} {:>8}",
            "table", "read", "imported", "already present", "with warnings", "refused"
        );
        for t in &self.tables {
            println!(
                "{:<14} {:>9} {:>9} {:>16} {:>14} {:>8}",
                t.table,
                t.read,
                t.imported,
                t.already_present,
                t.with_warnings,
                t.refused.len()
            );
        }
        for t in &self.tables {
            if !t.kept_in_record_only.is_empty() {
                println!(
                    "{}: columns with no platform field, kept in each row's legacy record: {}",
                    t.table,
                    t.kept_in_record_only.join(", ")
                );
            }
        }
        for t in &self.not_imported {
            println!(
                "NOT IMPORTED: table {} ({} rows; columns {}): the importer knows only characters and documents",
                t.table,
                t.rows,
                t.columns.join(", ")
            );
        }
        let refused: Vec<(&str, &RefusedRow)> = self
            .tables
            .iter()
            .flat_map(|t| t.refused.iter().map(move |r| (t.table.as_str(), r)))
            .collect();
        if !refused.is_empty() {
            println!("refused rows ({}):", refused.len());
            for (table, r) in refused.iter().take(PRINTED) {
                let id = r.legacy_id.map(|i| format!(", id {i}")).unwrap_or_default();
                println!("  {table} rowid {}{id}: {}", r.rowid, r.reason);
            }
            if refused.len() > PRINTED {
                println!(
                    "  ... and {} more (--report FILE lists them all)",
                    refused.len() - PRINTED
                );
            }
        }
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(self)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
    }
}
