use async_graphql::connection::Connection;
use async_graphql::{Context, ID, Object, Result};
use studio_projections::Viewer;
use uuid::Uuid;

use super::errors::{bad_input, read_failed, unsealing_failed};
use super::types::{Character, Document, Event, User, connection, page_request};
use crate::{QueryApi, opened};

#[derive(Default, async_graphql::MergedObject)]
pub struct QueryRoot(
    ReaderQuery,
    super::graph::GraphQuery,
    super::search::SearchQuery,
    super::admin::AdminQuery,
);

#[derive(Default)]
pub struct ReaderQuery;

#[derive(async_graphql::SimpleObject)]
pub struct ProjectionStatus {
    pub projection: String,
    /// Events in the log the read model has yet to apply.
    pub lag: u64,
    pub partitions: Vec<PartitionStatus>,
    /// Events parked in the dead-letter table, or held back behind one.
    pub dead_letters: u64,
}

#[derive(async_graphql::SimpleObject)]
pub struct PartitionStatus {
    pub partition: u32,
    /// The offset the next event appended to the partition will get.
    pub log_end: u64,
    /// The offset of the next event the read model will apply.
    pub applied: u64,
    pub lag: u64,
}

pub(crate) fn parse_id(id: &ID, what: &str) -> Result<Uuid> {
    Uuid::parse_str(id.as_str()).map_err(|_| bad_input(format!("{what} is not a valid id")))
}

fn context<'a>(ctx: &'a Context<'_>) -> Result<(&'a QueryApi, &'a Viewer)> {
    Ok((ctx.data::<QueryApi>()?, ctx.data::<Viewer>()?))
}

#[Object]
impl ReaderQuery {
    /// How far the read model has applied the log, partition by
    /// partition, and how many events wait in its dead-letter table.
    async fn projection_status(&self, ctx: &Context<'_>) -> Result<ProjectionStatus> {
        let (api, _) = context(ctx)?;
        let ends = api
            .log
            .end_offsets()
            .await
            .map_err(|e| read_failed(e.into()))?;
        let applied = api.read.checkpoints().await.map_err(read_failed)?;
        let partitions: Vec<PartitionStatus> = ends
            .iter()
            .map(|(&partition, &end)| {
                let applied = applied.get(&partition).copied().unwrap_or(0);
                PartitionStatus {
                    partition,
                    log_end: end,
                    applied,
                    lag: end.saturating_sub(applied),
                }
            })
            .collect();
        Ok(ProjectionStatus {
            projection: "relational".into(),
            lag: partitions.iter().map(|p| p.lag).sum(),
            partitions,
            dead_letters: api.read.open_dead_letters().await.map_err(read_failed)?,
        })
    }

    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        let (api, viewer) = context(ctx)?;
        let user = api
            .read
            .user(viewer, viewer.user_id)
            .await
            .map_err(read_failed)?;
        Ok(user.map(User))
    }

    /// Your documents (every document, for admins), oldest first.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn documents(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Document>> {
        let (api, viewer) = context(ctx)?;
        let had_cursor = after.is_some();
        let page = api
            .read
            .documents(viewer, &page_request(first, after)?)
            .await
            .map_err(read_failed)?;
        Ok(connection(page, had_cursor))
    }

    /// Documents still being processed, and those whose processing failed,
    /// oldest first.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn jobs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Document>> {
        let (api, viewer) = context(ctx)?;
        let had_cursor = after.is_some();
        let page = api
            .read
            .jobs(viewer, &page_request(first, after)?)
            .await
            .map_err(read_failed)?;
        Ok(connection(page, had_cursor))
    }

    async fn document(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Document>> {
        let (api, viewer) = context(ctx)?;
        let document = api
            .read
            .document(viewer, parse_id(&id, "id")?)
            .await
            .map_err(read_failed)?;
        Ok(document.map(Document))
    }

    /// Your characters, oldest first; `documentId` keeps those of one document.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn characters(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        document_id: Option<ID>,
    ) -> Result<Connection<String, Character>> {
        let (api, viewer) = context(ctx)?;
        let document = document_id
            .map(|d| parse_id(&d, "documentId"))
            .transpose()?;
        let had_cursor = after.is_some();
        let page = api
            .read
            .characters(viewer, document, &page_request(first, after)?)
            .await
            .map_err(read_failed)?;
        Ok(connection(page, had_cursor))
    }

    async fn character(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Character>> {
        let (api, viewer) = context(ctx)?;
        let character = api
            .read
            .character(viewer, parse_id(&id, "id")?)
            .await
            .map_err(read_failed)?;
        Ok(character.map(Character))
    }

    /// The history of one aggregate (a user, document or character), in
    /// order.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        aggregate_id: ID,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Event>> {
        let (api, viewer) = context(ctx)?;
        let had_cursor = after.is_some();
        let mut page = api
            .read
            .stream_events(
                viewer,
                parse_id(&aggregate_id, "aggregateId")?,
                &page_request(first, after)?,
            )
            .await
            .map_err(read_failed)?;
        for (_, event) in page.items.iter_mut() {
            *event = opened(api, event.clone()).await.map_err(unsealing_failed)?;
        }
        Ok(connection(page, had_cursor))
    }
}
