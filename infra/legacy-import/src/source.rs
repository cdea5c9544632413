//! The legacy SQLite file, opened read-only: its schema as the file
//! declares it, and its rows in pages.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Decode, Row, Sqlite, TypeInfo, ValueRef};

use crate::value::RawValue;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open the legacy database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("cannot read the legacy database: {0}")]
    Read(#[from] sqlx::Error),
    #[error("the legacy table {table} cannot be read: {reason}")]
    Schema { table: String, reason: String },
}

/// A table as the file declares it.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: u64,
    /// How the rowid is named in queries: `rowid`, unless a column took
    /// that name (then `oid` or `_rowid_`).
    rowid: &'static str,
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
    /// Names that are not UTF-8 are refused (they could not be queried by
    /// name), as are tables whose rowid every alias of it hides.
    pub async fn tables(&self) -> Result<Vec<Table>, SourceError> {
        let names: Vec<Vec<u8>> = sqlx::query_scalar(
            "SELECT CAST(name AS BLOB) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut tables = Vec::with_capacity(names.len());
        for name in names {
            let name = String::from_utf8(name).map_err(|e| SourceError::Schema {
                table: String::from_utf8_lossy(e.as_bytes()).into_owned(),
                reason: "its name is not UTF-8".into(),
            })?;
            let schema = |reason: String| SourceError::Schema {
                table: name.clone(),
                reason,
            };
            let columns: Vec<String> = sqlx::query_scalar::<_, Vec<u8>>(
                "SELECT CAST(name AS BLOB) FROM pragma_table_info(?1)",
            )
            .bind(&name)
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(String::from_utf8)
            .collect::<Result<_, _>>()
            .map_err(|_| schema("a column name is not UTF-8".into()))?;
            let rowid = ["rowid", "oid", "_rowid_"]
                .into_iter()
                .find(|alias| !columns.iter().any(|c| c.eq_ignore_ascii_case(alias)))
                .ok_or_else(|| {
                    schema("columns named rowid, oid and _rowid_ hide its rowid".into())
                })?;
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
                rowid,
            });
        }
        Ok(tables)
    }

    /// The table's rows in rowid order, `limit` at a time.
    pub fn pages<'a>(&'a self, table: &'a Table, limit: u32) -> Pages<'a> {
        Pages {
            database: self,
            table,
            limit,
            after: None,
            read: 0,
        }
    }

    /// Up to `limit` rows after `after` (a rowid; from the first without).
    async fn page(
        &self,
        table: &Table,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LegacyRow>, SourceError> {
        let columns = table
            .columns
            .iter()
            .map(|c| quoted(c))
            .collect::<Vec<_>>()
            .join(", ");
        let rowid = table.rowid;
        let from = if after.is_some() {
            format!("WHERE {rowid} > ?1")
        } else {
            "WHERE ?1 IS NULL".to_owned()
        };
        let sql = format!(
            "SELECT {rowid}, {columns} FROM {} {from} ORDER BY {rowid} LIMIT ?2",
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

/// A table's rows, page by page; the last page checks that every row
/// the table counted was read.
pub struct Pages<'a> {
    database: &'a LegacyDatabase,
    table: &'a Table,
    limit: u32,
    after: Option<i64>,
    read: u64,
}

impl Pages<'_> {
    pub async fn next(&mut self) -> Result<Option<Vec<LegacyRow>>, SourceError> {
        let page = self
            .database
            .page(self.table, self.after, self.limit)
            .await?;
        let Some(last) = page.last() else {
            if self.read != self.table.rows {
                return Err(SourceError::Schema {
                    table: self.table.name.clone(),
                    reason: format!(
                        "{} rows were read of the {} it counted: did the file change meanwhile?",
                        self.read, self.table.rows
                    ),
                });
            }
            return Ok(None);
        };
        self.after = Some(last.rowid);
        self.read += page.len() as u64;
        Ok(Some(page))
    }
}

fn legacy_row(row: &SqliteRow, table: &Table) -> Result<LegacyRow, SourceError> {
    let rowid: i64 = row.try_get(0)?;
    let mut values = Vec::with_capacity(table.columns.len());
    // By position: the declared names, not the names SQLite reports.
    for (i, column) in table.columns.iter().enumerate() {
        values.push((column.clone(), raw(row, i + 1)?));
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
