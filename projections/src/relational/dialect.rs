//! One SQL text for both databases. Queries are written for PostgreSQL,
//! with its casts (`$1::uuid`, `col::text`) and two markers:
//! `TS(col)` renders a timestamp as `2026-03-01T12:00:00.000000Z`, and
//! `PAD20(expr)` an integer as 20 digits (sort keys). For SQLite, which
//! keeps ids, times and JSON as text already, the casts are dropped and the
//! markers become their SQLite forms.

/// Casts that mean nothing to SQLite.
const CASTS: &[&str] = &[
    "::uuid",
    "::jsonb",
    "::timestamptz",
    "::text",
    "::bigint",
    "::boolean",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn sql(self, template: &str) -> String {
        let mut sql = String::with_capacity(template.len() + 64);
        let mut rest = template;
        while let Some(at) = rest.find(['T', 'P', ':']) {
            sql.push_str(&rest[..at]);
            rest = &rest[at..];
            if let Some((marker, arg, after)) = marker(rest) {
                sql.push_str(&self.render(marker, arg));
                rest = after;
                continue;
            }
            if let Some(cast) = CASTS.iter().find(|c| {
                rest.starts_with(**c)
                    && !rest[c.len()..]
                        .starts_with(|ch: char| ch.is_ascii_alphanumeric() || ch == '_')
            }) {
                if self == Dialect::Postgres {
                    sql.push_str(cast);
                }
                rest = &rest[cast.len()..];
                continue;
            }
            let ch = rest.chars().next().unwrap_or_default();
            sql.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
        sql.push_str(rest);
        sql
    }

    fn render(self, marker: &str, arg: &str) -> String {
        match (self, marker) {
            (Dialect::Postgres, "TS") => {
                format!("to_char({arg} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
            }
            (Dialect::Postgres, _) => format!("lpad(({arg})::text, 20, '0')"),
            (Dialect::Sqlite, "TS") => arg.to_owned(),
            (Dialect::Sqlite, _) => format!("printf('%020d', {arg})"),
        }
    }
}

/// `TS(arg)` or `PAD20(arg)` at the start of `text` (not inside a longer
/// word), with `arg` free of parentheses: the marker, its argument and what
/// follows.
fn marker(text: &str) -> Option<(&'static str, &str, &str)> {
    let name = ["TS(", "PAD20("]
        .into_iter()
        .find(|m| text.starts_with(m))?;
    let inner = &text[name.len()..];
    let close = inner.find(')')?;
    let arg = &inner[..close];
    if arg.contains('(') {
        return None;
    }
    let marker = if name == "TS(" { "TS" } else { "PAD20" };
    Some((marker, arg, &inner[close + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_keeps_casts_and_expands_markers() {
        let sql =
            "SELECT TS(created_at), PAD20(sequence) FROM t WHERE id = $1::uuid AND d::text = $2";
        assert_eq!(
            Dialect::Postgres.sql(sql),
            "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), lpad((sequence)::text, 20, '0') FROM t WHERE id = $1::uuid AND d::text = $2"
        );
    }

    #[test]
    fn sqlite_drops_casts_and_uses_its_own_forms() {
        let sql = "SELECT TS(created_at) AS created_at, PAD20(sequence) FROM t WHERE id = $1::uuid AND d::text = $2 AND TIMESTAMP = 1 AND x::textual";
        assert_eq!(
            Dialect::Sqlite.sql(sql),
            "SELECT created_at AS created_at, printf('%020d', sequence) FROM t WHERE id = $1 AND d = $2 AND TIMESTAMP = 1 AND x::textual"
        );
    }
}
