//! The legacy SQLite file, opened read-only: its schema as the file
//! declares it, and its rows in pages.

use std::path::Path;

use futures::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Column, Decode, Row, Sqlite, TypeInfo, ValueRef};

use crate::value::RawValue;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open the legacy database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("cannot read the legacy database: {0}")]
    Read(#[from] sqlx::Error),
}

/// A table as the file declares it.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: u64,
}

impl Table {
    /// The declared column with this name, ignoring case.
    pub fn column(&self, name: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }
}

/// One row: its rowid (the file's order) and every column's value.
#[derive(Clone, Debug, PartialEq)]
pub struct LegacyRow {
    pub rowid: i64,
    pub values: Vec<(String, RawValue)>,
}

impl LegacyRow {
    pub fn get(&self, column: &str) -> Option<&RawValue> {
        self.values
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(column))
            .map(|(_, v)| v)
    }
}

pub struct LegacyDatabase {
    pool: SqlitePool,
}

impl LegacyDatabase {
    /// Opens the file read-only: the import never changes it.
    pub async fn open(path: &Path) -> Result<Self, SourceError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .map_err(SourceError::Open)?;
        // A file that is not SQLite fails here rather than on the first page.
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .fetch_one(&pool)
            .await
            .map_err(SourceError::Open)?;
        Ok(Self { pool })
    }

    /// Every ordinary table of the file with its columns and row count.
    pub async fn tables(&self) -> Result<Vec<Table>, SourceError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut tables = Vec::with_capacity(names.len());
        for name in names {
            let columns: Vec<String> = sqlx::query("SELECT name FROM pragma_table_info(?1)")
                .bind(&name)
                .fetch(&self.pool)
                .map_ok(|row: SqliteRow| row.get::<String, _>(0))
                .try_collect()
                .await?;
            let rows: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT count(*) FROM {}",
                quoted(&name)
            )))
            .fetch_one(&self.pool)
            .await?;
            tables.push(Table {
                name,
                columns,
                rows: u64::try_from(rows).unwrap_or(0),
            });
        }
        Ok(tables)
    }

    /// Up to `limit` rows after `after` (a rowid), in rowid order.
    pub async fn page(
        &self,
        table: &Table,
        after: i64,
        limit: u32,
    ) -> Result<Vec<LegacyRow>, SourceError> {
        let columns = table
            .columns
            .iter()
            .map(|c| quoted(c))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT _rowid_, {columns} FROM {} WHERE _rowid_ > ?1 ORDER BY _rowid_ LIMIT ?2",
            quoted(&table.name)
        );
        // Identifiers come from the file's own schema, quoted.
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| legacy_row(row, table)).collect()
    }

    pub async fn close(self) {
        self.pool.close().await;
    }
}

fn legacy_row(row: &SqliteRow, table: &Table) -> Result<LegacyRow, SourceError> {
    let rowid: i64 = row.try_get(0)?;
    let mut values = Vec::with_capacity(table.columns.len());
    for (i, column) in row.columns().iter().enumerate().skip(1) {
        values.push((column.name().to_owned(), raw(row, i)?));
    }
    Ok(LegacyRow { rowid, values })
}

/// The value in its storage class, whatever the column declares.
fn raw(row: &SqliteRow, i: usize) -> Result<RawValue, SourceError> {
    let value = row.try_get_raw(i)?;
    if value.is_null() {
        return Ok(RawValue::Null);
    }
    let class = value.type_info().name().to_owned();
    let decoded = match class.as_str() {
        "INTEGER" => <i64 as Decode<Sqlite>>::decode(value).map(RawValue::Integer),
        "REAL" => <f64 as Decode<Sqlite>>::decode(value).map(RawValue::Real),
        "TEXT" => <Vec<u8> as Decode<Sqlite>>::decode(value).map(RawValue::Text),
        _ => <Vec<u8> as Decode<Sqlite>>::decode(value).map(RawValue::Blob),
    };
    decoded.map_err(|e| SourceError::Read(sqlx::Error::Decode(e)))
}

/// An identifier quoted for SQLite.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
