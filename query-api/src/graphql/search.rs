//! Semantic search: passages found by meaning, and characters like a
//! given one. Only the owner's vectors are searched: a document or
//! character the viewer may not read is `NOT_FOUND`, and without a
//! document the viewer's own passages are searched.

use async_graphql::{Context, ErrorExtensions, ID, Object, Result, SimpleObject};
use studio_projections::Viewer;
use studio_projections::vectors::{MAX_LIMIT, VectorError, check_limit};

use super::errors::{bad_input, not_found, read_failed};
use super::query::parse_id;
use crate::{QueryApi, Vectors};

/// Longest query text embedded, in characters: about what the model reads.
const MAX_QUERY_CHARS: usize = 2_000;
/// Characters of a passage shown as its snippet.
const SNIPPET_CHARS: usize = 300;

#[derive(Default)]
pub struct SearchQuery;

#[derive(SimpleObject)]
pub struct PassageMatch {
    pub passage_id: ID,
    pub document_id: ID,
    /// Cosine similarity to the query: 1 is the same meaning.
    pub score: f64,
    /// Index of the chapter in the document's `chapters`; null before the
    /// first chapter or in a text without chapters.
    pub chapter: Option<u32>,
    /// Character offsets of the passage in the document's text.
    pub start: u64,
    pub end: u64,
    /// The passage's first words (about 300 characters, cut between words).
    pub snippet: String,
}

#[derive(SimpleObject)]
pub struct SimilarCharacter {
    pub character_id: ID,
    pub name: String,
    /// Cosine similarity of the two characters' profiles.
    pub score: f64,
}

fn vectors<'a>(ctx: &'a Context<'_>) -> Result<(&'a QueryApi, &'a Vectors, &'a Viewer)> {
    let api = ctx.data::<QueryApi>()?;
    let viewer = ctx.data::<Viewer>()?;
    let vectors = api.vectors.as_ref().ok_or_else(|| {
        async_graphql::Error::new("semantic search is off on this server (vectors = \"off\")")
            .extend_with(|_, e| e.set("code", "UNAVAILABLE"))
    })?;
    Ok((api, vectors, viewer))
}

/// The limit asked for, checked before anything is embedded.
fn limit(value: i32) -> Result<usize> {
    let limit = usize::try_from(value)
        .map_err(|_| bad_input(format!("limit must be 1 to {MAX_LIMIT}, not {value}")))?;
    check_limit(limit).map_err(vector_failed)?;
    Ok(limit)
}

fn vector_failed(e: VectorError) -> async_graphql::Error {
    match e {
        VectorError::Invalid(message) => bad_input(message),
        other => {
            tracing::error!(error = %other, "searching the vectors failed");
            async_graphql::Error::new("searching failed; the details are in the server log")
                .extend_with(|_, e| e.set("code", "INTERNAL"))
        }
    }
}

/// The start of `text`, cut between words.
fn snippet(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= SNIPPET_CHARS {
        return text.to_owned();
    }
    let cut: String = text.chars().take(SNIPPET_CHARS).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(space) => &cut[..space],
        None => &cut,
    };
    format!("{}…", cut.trim_end())
}

#[Object]
impl SearchQuery {
    /// Passages nearest in meaning to `query`, best first: within one
    /// document, or across all of yours.
    async fn search(
        &self,
        ctx: &Context<'_>,
        query: String,
        document_id: Option<ID>,
        #[graphql(default = 10)] limit: i32,
    ) -> Result<Vec<PassageMatch>> {
        let (api, vectors, viewer) = self::vectors(ctx)?;
        let limit = self::limit(limit)?;
        let query = query.trim();
        if query.is_empty() {
            return Err(bad_input("query is empty"));
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(bad_input(format!(
                "query is longer than {MAX_QUERY_CHARS} characters"
            )));
        }
        let (owner, document) = match document_id {
            Some(id) => {
                let id = parse_id(&id, "documentId")?;
                let document = api
                    .read
                    .document(viewer, id)
                    .await
                    .map_err(read_failed)?
                    .ok_or_else(|| not_found("document"))?;
                (document.owner_id, Some(id))
            }
            None => (viewer.user_id, None),
        };
        let mut embedded = vectors
            .embedder
            .embed(&[query.to_owned()])
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "embedding a search query failed");
                async_graphql::Error::new("the embedder failed; the details are in the server log")
                    .extend_with(|_, e| e.set("code", "UNAVAILABLE"))
            })?;
        let vector = embedded.pop().ok_or_else(|| {
            read_failed(studio_projections::ProjectionError::Vectors(
                "the embedder answered no vector".into(),
            ))
        })?;
        let hits = vectors
            .store
            .search_passages(owner, &vector, document, limit)
            .await
            .map_err(vector_failed)?;
        Ok(hits
            .into_iter()
            .map(|h| PassageMatch {
                passage_id: ID(h.id.to_string()),
                document_id: ID(h.document_id.to_string()),
                score: f64::from(h.score),
                chapter: h.chapter,
                start: h.start,
                end: h.end,
                snippet: snippet(&h.text),
            })
            .collect())
    }

    /// Your characters whose profiles (names, aliases, personality) are
    /// nearest to this one's, best first.
    async fn similar_characters(
        &self,
        ctx: &Context<'_>,
        character_id: ID,
        #[graphql(default = 10)] limit: i32,
    ) -> Result<Vec<SimilarCharacter>> {
        let (api, vectors, viewer) = self::vectors(ctx)?;
        let limit = self::limit(limit)?;
        let id = parse_id(&character_id, "characterId")?;
        let character = api
            .read
            .character(viewer, id)
            .await
            .map_err(read_failed)?
            .ok_or_else(|| not_found("character"))?;
        let hits = vectors
            .store
            .similar_characters(character.owner_id, id, limit)
            .await
            .map_err(vector_failed)?
            // Known to the read model, not yet to the vectors.
            .unwrap_or_default();
        Ok(hits
            .into_iter()
            .map(|h| SimilarCharacter {
                character_id: ID(h.id.to_string()),
                name: h.name,
                score: f64::from(h.score),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_passage_is_its_own_snippet() {
        assert_eq!(snippet("  Buck did not read.  "), "Buck did not read.");
    }

    #[test]
    fn a_long_passage_is_cut_between_words() {
        let text = "word ".repeat(100);
        let cut = snippet(&text);
        assert!(cut.ends_with("word…"), "{cut}");
        assert!(cut.chars().count() <= SNIPPET_CHARS + 1);
    }

    #[test]
    fn limits_outside_the_range_are_refused() {
        assert!(limit(0).is_err());
        assert!(limit(-3).is_err());
        assert!(limit(101).is_err());
        assert_eq!(limit(100).ok(), Some(100));
    }
}
