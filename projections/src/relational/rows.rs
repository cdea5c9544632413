//! Multi-row statements: many rows in one round trip, for both databases,
//! each value cast to its PostgreSQL type where one is needed. The
//! placeholders are numbered here (`$1`, `$2`, ...), which both databases
//! read, rather than left to the `Any` driver's query builder, which writes
//! `?` for every backend.

use std::fmt::Write;

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
}

/// At most this many values per statement: well under the limits of
/// SQLite (32,766) and PostgreSQL (65,535).
const MAX_VALUES: usize = 8_000;

/// Runs `head VALUES (...), (...) tail` for `rows`, as many statements as
/// the value limit needs. `casts[i]` is column i's PostgreSQL cast
/// (`"::uuid"`, or `""`).
pub async fn run(
    conn: &mut AnyConnection,
    d: Dialect,
    head: &str,
    casts: &[&str],
    rows: Vec<Vec<Val>>,
    tail: &str,
) -> Result<u64, ProjectionError> {
    if rows.is_empty() {
        return Ok(0);
    }
    let per_statement = (MAX_VALUES / casts.len().max(1)).max(1);
    let mut affected = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Val>> = rows.by_ref().take(per_statement).collect();
        let mut sql = d.sql(head);
        sql.push_str("VALUES ");
        let mut n = 0;
        for (r, row) in chunk.iter().enumerate() {
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..row.len() {
                n += 1;
                let cast = match d {
                    Dialect::Postgres => casts.get(c).copied().unwrap_or(""),
                    Dialect::Sqlite => "",
                };
                let _ = write!(sql, "{}${n}{cast}", if c == 0 { "" } else { ", " });
            }
            sql.push(')');
        }
        sql.push_str(&d.sql(tail));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in chunk.into_iter().flatten() {
            query = match value {
                Val::Text(v) => query.bind(v),
                Val::MaybeText(v) => query.bind(v),
                Val::Int(v) => query.bind(v),
                Val::Real(v) => query.bind(v),
                Val::Bool(v) => query.bind(v),
            };
        }
        affected += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(affected)
}
