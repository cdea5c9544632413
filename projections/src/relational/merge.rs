//! A merged character's rows move to its survivor: its appearances in
//! documents (mentions summed, the first mention the earlier of the two),
//! its mentions, and its interactions (weights summed with the
//! survivor's, those between the two dropped); then its own row goes.

use sqlx::{AnyConnection, Row};

use super::dialect::Dialect;
use crate::ProjectionError;

fn query(
    d: Dialect,
    template: &str,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    sqlx::query(sqlx::AssertSqlSafe(d.sql(template)))
}

pub(super) async fn merge_character(
    conn: &mut AnyConnection,
    d: Dialect,
    from: &str,
    into: &str,
) -> Result<(), ProjectionError> {
    let appearances = query(
        d,
        "SELECT document_id::text AS document_id, mentions, first_mention
           FROM document_characters WHERE character_id = $1::uuid",
    )
    .bind(from.to_owned())
    .fetch_all(&mut *conn)
    .await?;
    for row in &appearances {
        let document: String = row.try_get("document_id")?;
        let mentions: i64 = row.try_get("mentions")?;
        let first: i64 = row.try_get("first_mention")?;
        let joined = query(
            d,
            "UPDATE document_characters
                SET mentions = mentions + $1,
                    first_mention = CASE WHEN first_mention < $2 THEN first_mention ELSE $2 END
              WHERE document_id = $3::uuid AND character_id = $4::uuid",
        )
        .bind(mentions)
        .bind(first)
        .bind(document.clone())
        .bind(into.to_owned())
        .execute(&mut *conn)
        .await?;
        let sql = if joined.rows_affected() > 0 {
            "DELETE FROM document_characters WHERE document_id = $1::uuid AND character_id = $2::uuid"
        } else {
            "UPDATE document_characters SET character_id = $3::uuid
              WHERE document_id = $1::uuid AND character_id = $2::uuid"
        };
        let mut statement = query(d, sql).bind(document).bind(from.to_owned());
        if joined.rows_affected() == 0 {
            statement = statement.bind(into.to_owned());
        }
        statement.execute(&mut *conn).await?;
    }
    query(
        d,
        "UPDATE mentions SET character_id = $1::uuid WHERE character_id = $2::uuid",
    )
    .bind(into.to_owned())
    .bind(from.to_owned())
    .execute(&mut *conn)
    .await?;
    let interactions = query(
        d,
        "SELECT document_id::text AS document_id, a::text AS a, b::text AS b, weight
           FROM interactions WHERE a = $1::uuid OR b = $1::uuid",
    )
    .bind(from.to_owned())
    .fetch_all(&mut *conn)
    .await?;
    query(
        d,
        "DELETE FROM interactions WHERE a = $1::uuid OR b = $1::uuid",
    )
    .bind(from.to_owned())
    .execute(&mut *conn)
    .await?;
    for row in &interactions {
        let (a, b): (String, String) = (row.try_get("a")?, row.try_get("b")?);
        let other = if a == from { b } else { a };
        if other == into {
            continue;
        }
        // Pairs are kept in id order, as the pipeline records them.
        let (a, b) = if into < other.as_str() {
            (into.to_owned(), other)
        } else {
            (other, into.to_owned())
        };
        let document: String = row.try_get("document_id")?;
        let weight: i64 = row.try_get("weight")?;
        query(
            d,
            "INSERT INTO interactions (document_id, a, b, weight)
             VALUES ($1::uuid, $2::uuid, $3::uuid, $4)
             ON CONFLICT (document_id, a, b) DO UPDATE SET weight = interactions.weight + excluded.weight",
        )
        .bind(document)
        .bind(a)
        .bind(b)
        .bind(weight)
        .execute(&mut *conn)
        .await?;
    }
    query(d, "DELETE FROM characters WHERE character_id = $1::uuid")
        .bind(from.to_owned())
        .execute(&mut *conn)
        .await?;
    Ok(())
}
