use std::collections::HashSet;

use async_graphql::{Context, ID, Result, SimpleObject, Subscription};
use futures::Stream;
use studio_auth::{Principal, Tokens};
use studio_event_log::PositionToken;
use studio_projections::{Change, EventView, ProcessingView, ProjectionUpdate, Viewer};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::analysis::{Failure, Processing};
use super::errors::{bad_input, not_found, read_failed, unauthenticated, unsealing_failed};
use super::query::parse_id;
use super::types::{Document, Event};
use crate::{QueryApi, opened};

/// How many feed rows one read takes per partition.
const FEED_BATCH: usize = 256;
const MAX_TYPE_FILTERS: usize = 64;

/// Checks the `connection_init` payload: `{"Authorization": "Bearer <token>"}`.
pub fn authenticate(tokens: &Tokens, payload: &serde_json::Value) -> Result<Principal> {
    let header = payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| {
            unauthenticated("connection_init needs {\"Authorization\": \"Bearer <token>\"}")
        })?;
    let token = header
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| unauthenticated("the Authorization value must be `Bearer <token>`"))?;
    tokens
        .verify(token)
        .map_err(|_| unauthenticated("the access token is not valid"))
}

/// Which events a feed subscriber wants.
struct FeedFilter {
    aggregate: Option<Uuid>,
    types: Option<HashSet<String>>,
}

impl FeedFilter {
    fn wants(&self, aggregate_id: Uuid, event_type: &str) -> bool {
        self.aggregate.is_none_or(|a| a == aggregate_id)
            && self.types.as_ref().is_none_or(|t| t.contains(event_type))
    }

    fn wants_change(&self, viewer: &Viewer, change: &Change) -> bool {
        viewer.may_see(change.tenant) && self.wants(change.aggregate_id, &change.event_type)
    }

    fn wants_event(&self, event: &EventView) -> bool {
        self.wants(event.aggregate_id, &event.event_type)
    }
}

/// A document's view after a change.
#[derive(SimpleObject)]
pub struct DocumentChange {
    pub document_id: ID,
    /// The event types that changed it.
    pub event_types: Vec<String>,
    /// The document as a query would now return it; null once deleted.
    pub document: Option<Document>,
    pub deleted: bool,
}

/// Where a document's processing stands.
#[derive(SimpleObject, Clone, PartialEq)]
pub struct DocumentProgress {
    pub document_id: ID,
    /// `processing`, `completed`, `failed`, or `deleted`.
    pub status: String,
    /// The last stage done.
    pub stage: String,
    pub percent: u8,
    pub failure: Option<Failure>,
}

impl DocumentProgress {
    fn of(document_id: Uuid, processing: Option<ProcessingView>) -> Self {
        match processing {
            Some(p) => {
                let p = Processing::from(p);
                Self {
                    document_id: ID(document_id.to_string()),
                    status: p.status,
                    stage: p.stage,
                    percent: p.percent,
                    failure: p.failure,
                }
            }
            None => Self {
                document_id: ID(document_id.to_string()),
                status: "deleted".into(),
                stage: String::new(),
                percent: 0,
                failure: None,
            },
        }
    }

    fn is_final(&self) -> bool {
        self.status != "processing"
    }
}

/// Waits (bounded) until the read model has applied a position token.
async fn reach(api: &QueryApi, position: Option<&str>) -> Result<()> {
    let Some(position) = position else {
        return Ok(());
    };
    let token: PositionToken = position
        .parse()
        .map_err(|e: studio_event_log::PositionTokenError| bad_input(e.to_string()))?;
    api.progress
        .wait_for(&token, api.consistency_wait)
        .await
        .map_err(|e| async_graphql::Error::new(e.to_string()))
}

fn partitions_of(update: &ProjectionUpdate, wanted: impl Fn(&Change) -> bool) -> Vec<u32> {
    let mut partitions: Vec<u32> = update
        .changes
        .iter()
        .filter(|c| wanted(c))
        .map(|c| c.position.partition)
        .collect();
    partitions.sort_unstable();
    partitions.dedup();
    partitions
}

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// The live event feed: every event you may see, as soon as the read
    /// model has it, optionally only of one aggregate or of some types.
    async fn events(
        &self,
        ctx: &Context<'_>,
        aggregate_id: Option<ID>,
        types: Option<Vec<String>>,
    ) -> Result<impl Stream<Item = Result<Event>>> {
        let api = ctx.data::<QueryApi>()?.clone();
        let viewer = *ctx.data::<Viewer>()?;
        if types.as_ref().is_some_and(|t| t.len() > MAX_TYPE_FILTERS) {
            return Err(bad_input(format!("at most {MAX_TYPE_FILTERS} types")));
        }
        let filter = FeedFilter {
            aggregate: aggregate_id
                .map(|a| parse_id(&a, "aggregateId"))
                .transpose()?,
            types: types.map(|t| t.into_iter().collect()),
        };
        let mut updates = api.progress.subscribe();
        let mut cursor = api.progress.applied();
        // A query API apart from the projector learns of applied batches
        // from file notifications, which can trail the read model: the
        // feed starts where the read model stands, not before.
        for (partition, next) in api.read.checkpoints().await.map_err(read_failed)? {
            let at = cursor.entry(partition).or_insert(0);
            *at = (*at).max(next);
        }
        Ok(async_stream::stream! {
            loop {
                let update = match updates.recv().await {
                    Ok(update) => Some(update),
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => break,
                };
                let partitions = match &update {
                    Some(u) => partitions_of(u, |c| filter.wants_change(&viewer, c)),
                    None => api.progress.applied().keys().copied().collect(),
                };
                if !partitions.is_empty() {
                    loop {
                        match api.read.feed_after(&viewer, &mut cursor, &partitions, FEED_BATCH).await {
                            Ok(events) => {
                                let done = events.len() < FEED_BATCH;
                                for event in events.into_iter().filter(|e| filter.wants_event(e)) {
                                    yield opened(&api, event).await.map(Event::from).map_err(unsealing_failed);
                                }
                                if done {
                                    break;
                                }
                            }
                            Err(e) => {
                                yield Err(read_failed(e));
                                break;
                            }
                        }
                    }
                }
                if let Some(update) = update {
                    for (partition, next) in &update.next_offsets {
                        let at = cursor.entry(*partition).or_insert(0);
                        *at = (*at).max(*next);
                    }
                }
            }
        })
    }

    /// Processing progress of a document: where it stands now, then each
    /// stage as the read model records it; ends once processing is
    /// completed or has failed, or the document is deleted.
    ///
    /// `position` (the token the upload returned) makes it wait until the
    /// read model has the document, so a subscription opened right after
    /// the upload finds it.
    async fn document_progress(
        &self,
        ctx: &Context<'_>,
        id: ID,
        position: Option<String>,
    ) -> Result<impl Stream<Item = Result<DocumentProgress>>> {
        let api = ctx.data::<QueryApi>()?.clone();
        let viewer = *ctx.data::<Viewer>()?;
        let document_id = parse_id(&id, "id")?;
        let mut updates = api.progress.subscribe();
        reach(&api, position.as_deref()).await?;
        let Some(first) = api
            .read
            .document(&viewer, document_id)
            .await
            .map_err(read_failed)?
        else {
            return Err(not_found("document"));
        };
        Ok(async_stream::stream! {
            let mut last = DocumentProgress::of(document_id, Some(first.processing));
            yield Ok(last.clone());
            while !last.is_final() {
                match updates.recv().await {
                    Ok(update) if !update.changes.iter().any(|c| c.aggregate_id == document_id) => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                }
                match api.read.document(&viewer, document_id).await {
                    Ok(document) => {
                        let now = DocumentProgress::of(document_id, document.map(|d| d.processing));
                        if now != last {
                            last = now;
                            yield Ok(last.clone());
                        }
                    }
                    Err(e) => yield Err(read_failed(e)),
                }
            }
        })
    }

    /// A document's view each time it changes; ends after its deletion.
    /// `position`, as for `documentProgress`.
    async fn document_changed(
        &self,
        ctx: &Context<'_>,
        id: ID,
        position: Option<String>,
    ) -> Result<impl Stream<Item = Result<DocumentChange>>> {
        let api = ctx.data::<QueryApi>()?.clone();
        let viewer = *ctx.data::<Viewer>()?;
        let document_id = parse_id(&id, "id")?;
        let mut updates = api.progress.subscribe();
        reach(&api, position.as_deref()).await?;
        if api
            .read
            .document(&viewer, document_id)
            .await
            .map_err(read_failed)?
            .is_none()
        {
            return Err(not_found("document"));
        }
        Ok(async_stream::stream! {
            loop {
                let event_types: Vec<String> = match updates.recv().await {
                    Ok(update) => update
                        .changes
                        .iter()
                        .filter(|c| c.aggregate_id == document_id)
                        .map(|c| c.event_type.clone())
                        .collect(),
                    Err(RecvError::Lagged(_)) => vec![],
                    Err(RecvError::Closed) => break,
                };
                if event_types.is_empty() {
                    continue;
                }
                match api.read.document(&viewer, document_id).await {
                    Ok(document) => {
                        let deleted = document.is_none();
                        yield Ok(DocumentChange {
                            document_id: ID(document_id.to_string()),
                            event_types,
                            document: document.map(Document),
                            deleted,
                        });
                        if deleted {
                            break;
                        }
                    }
                    Err(e) => yield Err(read_failed(e)),
                }
            }
        })
    }
}
