//! An aggregate's life, step by step, for audit: the state after each
//! event and what each event changed. Pure: the caller reads the events
//! (from the log or a read model) and opens their personal data first.

use serde::Serialize;
use serde_json::Value;

use crate::character::CharacterAggregate;
use crate::document::DocumentAggregate;
use crate::user::UserAggregate;
use crate::{AggregateType, DomainAggregate, DomainError, DomainEvent, Versioned};

/// An event as audit reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    pub sequence: u64,
    pub event_type: String,
    pub data: Value,
}

/// The aggregate after one event, and what that event changed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub sequence: u64,
    pub event_type: String,
    /// The whole state after the event, as JSON.
    pub state: Value,
    /// JSON Patch (RFC 6902) from the state before to the state after.
    pub changes: json_patch::Patch,
}

/// Folds `events` (in sequence order, contiguous from 1) and records every
/// step. Secrets (password hashes) never appear in states.
pub fn steps(
    aggregate_type: AggregateType,
    events: &[RecordedEvent],
) -> Result<Vec<Step>, DomainError> {
    match aggregate_type {
        AggregateType::User => steps_of::<UserAggregate>(events),
        AggregateType::Document => steps_of::<DocumentAggregate>(events),
        AggregateType::Character => steps_of::<CharacterAggregate>(events),
    }
}

fn steps_of<A>(events: &[RecordedEvent]) -> Result<Vec<Step>, DomainError>
where
    A: DomainAggregate,
    A::State: Serialize,
{
    let mut folded = Versioned::<A::State>::default();
    let mut before = to_json(&folded.state)?;
    let mut steps = Vec::with_capacity(events.len());
    for recorded in events {
        let event = A::Event::decode(&recorded.event_type, &recorded.data)
            .map_err(|e| DomainError::CorruptHistory(e.to_string()))?;
        folded = folded.apply::<A>(recorded.sequence, event)?;
        let after = to_json(&folded.state)?;
        steps.push(Step {
            sequence: recorded.sequence,
            event_type: recorded.event_type.clone(),
            changes: json_patch::diff(&before, &after),
            state: after.clone(),
        });
        before = after;
    }
    Ok(steps)
}

fn to_json(state: &impl Serialize) -> Result<Value, DomainError> {
    serde_json::to_value(state).map_err(|e| DomainError::CorruptHistory(e.to_string()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn recorded(sequence: u64, event_type: &str, data: Value) -> RecordedEvent {
        RecordedEvent {
            sequence,
            event_type: event_type.into(),
            data,
        }
    }

    #[test]
    fn each_step_holds_the_state_and_its_changes() {
        let owner = "00000000-0000-0000-0000-000000000001";
        let events = [
            recorded(
                1,
                "studio.character.created.v1",
                json!({
                    "owner": owner, "name": "Pip", "aliases": [], "personality_profile": {},
                    "source_document_id": null, "created_at": "2026-01-01T00:00:00Z"
                }),
            ),
            recorded(
                2,
                "studio.character.renamed.v1",
                json!({ "name": "Philip Pirrip" }),
            ),
            recorded(3, "studio.character.deleted.v1", json!({})),
        ];
        let steps = steps(AggregateType::Character, &events).unwrap_or_default();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0].state["status"], "active");
        assert_eq!(
            steps[0].state["character"]["origin"], "manual",
            "v1 upcast on the way in"
        );
        assert_eq!(steps[1].state["character"]["name"], "Philip Pirrip");
        let renamed = serde_json::to_value(&steps[1].changes).unwrap_or_default();
        assert_eq!(
            renamed,
            json!([{ "op": "replace", "path": "/character/name", "value": "Philip Pirrip" }])
        );
        assert_eq!(steps[2].state["status"], "deleted");
    }

    #[test]
    fn secrets_stay_out_of_states() {
        let events = [recorded(
            1,
            "studio.user.registered.v1",
            json!({
                "email": "ada@example.org", "password_hash": "$argon2id$secret", "role": "editor",
                "display_name": null, "registered_at": "2026-01-01T00:00:00Z"
            }),
        )];
        let steps = steps(AggregateType::User, &events).unwrap_or_default();
        assert_eq!(steps[0].state["user"]["email"], "ada@example.org");
        assert!(!steps[0].state.to_string().contains("argon2id"));
    }

    #[test]
    fn gaps_are_refused() {
        let events = [recorded(2, "studio.document.deleted.v1", json!({}))];
        assert!(steps(AggregateType::Document, &events).is_err());
    }
}
