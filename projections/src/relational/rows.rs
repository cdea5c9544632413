//! Multi-row statements: many rows in one round trip, for both databases.
//! The rows travel as a single JSON parameter, an array of arrays, that
//! the statement unpacks (`jsonb_array_elements` on PostgreSQL, several
//! times faster there than `json_to_recordset`; `json_each` on SQLite). A statement therefore has one text whatever the
//! number of rows, so it is parsed and prepared once per connection; a
//! `VALUES` list with a placeholder per value costs a new plan for every
//! batch size and grows the parse time with the value count.

use std::fmt::Write;

use serde::{Serialize, Serializer};
use serde_json::Value;
use sqlx::AnyConnection;

use super::dialect::Dialect;
use crate::ProjectionError;

/// A value of a row, as both databases take it.
#[derive(Clone, Debug)]
pub enum Val {
    Text(String),
    MaybeText(Option<String>),
    Int(i64),
    Real(f64),
    Bool(bool),
    /// A document for a `jsonb` column (text holding JSON on SQLite).
    Json(Value),
}

impl Serialize for Val {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Text(s) => serializer.serialize_str(s),
            Val::MaybeText(s) => s.serialize(serializer),
            Val::Int(n) => serializer.serialize_i64(*n),
            Val::Real(x) => serializer.serialize_f64(*x),
            Val::Bool(b) => serializer.serialize_bool(*b),
            Val::Json(v) => v.serialize(serializer),
        }
    }
}

/// The PostgreSQL type of a column of the rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Text,
    Uuid,
    Time,
    Int,
    Real,
    Bool,
    Json,
}

impl Ty {
    /// Column `i` of the row `r.value` (a JSON array), as this type.
    fn read(self, d: Dialect, i: usize) -> String {
        match (d, self) {
            // A JSON null is the SQL NULL here (`coalesce` relies on it).
            (Dialect::Postgres, Ty::Json) => format!("nullif(r.value -> {i}, 'null'::jsonb)"),
            (Dialect::Postgres, Ty::Text) => format!("(r.value ->> {i})"),
            (Dialect::Postgres, ty) => format!("(r.value ->> {i})::{}", ty.postgres()),
            // `->` gives JSON text: a JSON null is the text `null`.
            (Dialect::Sqlite, Ty::Json) => format!("nullif(r.value -> {i}, 'null')"),
            (Dialect::Sqlite, _) => format!("(r.value ->> {i})"),
        }
    }

    fn postgres(self) -> &'static str {
        match self {
            Ty::Text => "text",
            Ty::Uuid => "uuid",
            Ty::Time => "timestamptz",
            Ty::Int => "bigint",
            Ty::Real => "float8",
            Ty::Bool => "boolean",
            Ty::Json => "jsonb",
        }
    }
}

/// The values of the JSON array (of strings) in parameter `$n`, as
/// `ty`: an `IN (...)` list whose statement text does not depend on its
/// length, so it is prepared once.
pub fn list(d: Dialect, n: usize, ty: Ty) -> String {
    match d {
        Dialect::Postgres => format!(
            "(SELECT value::{} FROM json_array_elements_text(${n}::json))",
            ty.postgres()
        ),
        Dialect::Sqlite => format!("(SELECT value FROM json_each(${n}))"),
    }
}

/// The parameter for a `list`.
pub fn list_values<S: AsRef<str>>(values: &[S]) -> String {
    Value::Array(
        values
            .iter()
            .map(|v| Value::String(v.as_ref().to_owned()))
            .collect(),
    )
    .to_string()
}

/// At most this many rows per statement, to bound the parameter's size.
const MAX_ROWS: usize = 5_000;

/// Runs `head SELECT c1, c2, ... FROM <rows> tail` for `rows`, whose
/// columns have the types `types`; `head` and `tail` may name the columns
/// of the rows as `v.c1`, `v.c2`, ... when they wrap the select in
/// `(...) AS v`. The select ends in `WHERE true`, which lets SQLite read an
/// `ON CONFLICT` that follows as the upsert's and not as a join's.
pub async fn run(
    conn: &mut AnyConnection,
    d: Dialect,
    head: &str,
    types: &[Ty],
    rows: Vec<Vec<Val>>,
    tail: &str,
) -> Result<u64, ProjectionError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut sql = d.sql(head);
    sql.push_str("SELECT ");
    for (i, ty) in types.iter().enumerate() {
        let _ = write!(
            sql,
            "{}{} AS c{}",
            if i == 0 { "" } else { ", " },
            ty.read(d, i),
            i + 1
        );
    }
    sql.push_str(match d {
        Dialect::Postgres => " FROM jsonb_array_elements($1::jsonb) AS r WHERE true",
        Dialect::Sqlite => " FROM json_each($1) AS r WHERE true",
    });
    sql.push_str(&d.sql(tail));
    let mut affected = 0;
    for chunk in rows.chunks(MAX_ROWS) {
        let json = serde_json::to_string(chunk)
            .map_err(|e| ProjectionError::Corrupt(format!("rows as JSON: {e}")))?;
        affected += sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(json)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(affected)
}
