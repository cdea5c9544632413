//! What only admins may ask and do: an aggregate's audited history and
//! past state (from the event feed, no log access), and forgetting a
//! person.

use async_graphql::{Context, Enum, ErrorExtensions, ID, Json, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use studio_domain::AggregateType;
use studio_domain::history::{RecordedEvent, steps};
use studio_projections::{EventView, PageRequest, Viewer};

use super::errors::{bad_input, read_failed, unsealing_failed};
use super::query::parse_id;
use crate::{AdministrationError, QueryApi, opened};

fn forbidden() -> async_graphql::Error {
    async_graphql::Error::new("only admins may do this")
        .extend_with(|_, e| e.set("code", "FORBIDDEN"))
}

fn admin<'a>(ctx: &'a Context<'_>) -> Result<(&'a QueryApi, &'a Viewer)> {
    let api = ctx.data::<QueryApi>()?;
    let viewer = ctx.data::<Viewer>()?;
    if viewer.admin {
        Ok((api, viewer))
    } else {
        Err(forbidden())
    }
}

/// An aggregate's whole history from the event feed, personal data opened.
async fn all_events(
    api: &QueryApi,
    viewer: &Viewer,
    aggregate_id: uuid::Uuid,
) -> Result<Vec<EventView>> {
    let mut events = Vec::new();
    let mut after = None;
    loop {
        let page = api
            .read
            .stream_events(viewer, aggregate_id, &PageRequest::new(Some(100), after))
            .await
            .map_err(read_failed)?;
        after = page.items.last().map(|(k, _)| k.clone());
        for (_, event) in page.items {
            events.push(opened(api, event).await.map_err(unsealing_failed)?);
        }
        if !page.has_next {
            return Ok(events);
        }
    }
}

fn audit_steps(events: &[EventView]) -> Result<Vec<studio_domain::history::Step>> {
    let Some(first) = events.first() else {
        return Ok(vec![]);
    };
    let aggregate_type = AggregateType::parse(&first.aggregate_type)
        .ok_or_else(|| bad_input(format!("unknown aggregate type {}", first.aggregate_type)))?;
    let recorded: Vec<RecordedEvent> = events
        .iter()
        .map(|e| RecordedEvent {
            sequence: e.sequence,
            event_type: e.event_type.clone(),
            data: e.data.clone(),
        })
        .collect();
    steps(aggregate_type, &recorded).map_err(|e| async_graphql::Error::new(e.to_string()))
}

/// One event of an aggregate's history and what it changed.
#[derive(SimpleObject)]
pub struct AuditStep {
    pub sequence: u64,
    #[graphql(name = "type")]
    pub event_type: String,
    pub time: String,
    pub actor: String,
    pub position: String,
    /// JSON Patch (RFC 6902) from the state before to the state after.
    pub changes: Json<serde_json::Value>,
    /// The whole state after the event.
    pub state: Json<serde_json::Value>,
}

#[derive(SimpleObject)]
pub struct PastState {
    /// The aggregate's version then: how many of its events had happened.
    pub version: u64,
    pub state: Json<serde_json::Value>,
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Admins: every event of an aggregate, with what each changed.
    async fn audit_history(&self, ctx: &Context<'_>, aggregate_id: ID) -> Result<Vec<AuditStep>> {
        let (api, viewer) = admin(ctx)?;
        let events = all_events(api, viewer, parse_id(&aggregate_id, "aggregateId")?).await?;
        let steps = audit_steps(&events)?;
        Ok(events
            .into_iter()
            .zip(steps)
            .map(|(event, step)| AuditStep {
                sequence: step.sequence,
                event_type: step.event_type,
                time: event.time,
                actor: event.actor,
                position: format!("{}:{}", event.partition, event.offset),
                changes: Json(serde_json::to_value(&step.changes).unwrap_or_default()),
                state: Json(step.state),
            })
            .collect())
    }

    /// Admins: an aggregate's state as it was at `at`, a time (RFC 3339)
    /// or a position (`partition:offset`).
    async fn aggregate_state(
        &self,
        ctx: &Context<'_>,
        aggregate_id: ID,
        at: String,
    ) -> Result<PastState> {
        let (api, viewer) = admin(ctx)?;
        let point = PastPoint::parse(&at)?;
        let events = all_events(api, viewer, parse_id(&aggregate_id, "aggregateId")?).await?;
        let until: Vec<EventView> = events.into_iter().filter(|e| point.includes(e)).collect();
        let steps = audit_steps(&until)?;
        Ok(match steps.last() {
            Some(step) => PastState {
                version: step.sequence,
                state: Json(step.state.clone()),
            },
            None => PastState {
                version: 0,
                state: Json(serde_json::json!({ "status": "absent" })),
            },
        })
    }
}

enum PastPoint {
    Time(DateTime<Utc>),
    Position(u32, u64),
}

impl PastPoint {
    fn parse(text: &str) -> Result<Self> {
        if let Some((p, o)) = text.split_once(':')
            && let (Ok(p), Ok(o)) = (p.parse(), o.parse())
        {
            return Ok(Self::Position(p, o));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| Self::Time(t.with_timezone(&Utc)))
            .map_err(|_| bad_input("at must be an RFC 3339 time or a partition:offset position"))
    }

    fn includes(&self, event: &EventView) -> bool {
        match self {
            Self::Time(t) => {
                DateTime::parse_from_rfc3339(&event.time).is_ok_and(|e| e.with_timezone(&Utc) <= *t)
            }
            Self::Position(p, o) => event.partition == *p && event.offset <= *o,
        }
    }
}

/// What becomes of a forgotten person's documents and characters.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ForgottenWork {
    Keep,
    Delete,
}

#[derive(SimpleObject)]
pub struct ForgetResult {
    pub user_id: ID,
    /// False when the key had already been destroyed.
    pub key_destroyed: bool,
    pub documents_deleted: u64,
    pub characters_deleted: u64,
}

pub struct MutationRoot;

#[Object]
impl MutationRoot {
    /// Admins: forget a person. Their personal data reads as erased
    /// everywhere from now on; their account is closed; their documents
    /// and characters are kept or deleted (default: the configured policy).
    async fn forget_user(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        work: Option<ForgottenWork>,
    ) -> Result<ForgetResult> {
        let (api, _) = admin(ctx)?;
        let principal = ctx.data::<studio_auth::Principal>()?;
        let Some(administration) = &api.administration else {
            return Err(async_graphql::Error::new(
                "this process serves queries only: forget through the command side (studio serve) or `studio users forget`",
            )
            .extend_with(|_, e| e.set("code", "UNAVAILABLE")));
        };
        let user = parse_id(&user_id, "userId")?;
        let delete = work.map(|w| w == ForgottenWork::Delete);
        let summary = administration
            .forget_user(*principal, user, delete)
            .await
            .map_err(|e| match e {
                AdministrationError::NotFound => async_graphql::Error::new("no such user")
                    .extend_with(|_, e| e.set("code", "NOT_FOUND")),
                AdministrationError::Failed(reason) => {
                    tracing::error!(%reason, "forgetting a user failed");
                    async_graphql::Error::new(
                        "forgetting failed; the details are in the server log",
                    )
                    .extend_with(|_, e| e.set("code", "INTERNAL"))
                }
            })?;
        Ok(ForgetResult {
            user_id,
            key_destroyed: summary.key_destroyed,
            documents_deleted: summary.documents_deleted,
            characters_deleted: summary.characters_deleted,
        })
    }
}
