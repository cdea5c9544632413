use serde_json::Value;

use crate::character::CharacterEvent;
use crate::document::DocumentEvent;
use crate::user::UserEvent;
use crate::{AggregateType, DomainEvent, EventDecodeError};

/// An event of any aggregate, as readers of the whole log (projections,
/// audit) decode it.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyEvent {
    User(UserEvent),
    Document(DocumentEvent),
    Character(CharacterEvent),
}

impl AnyEvent {
    pub fn decode(
        aggregate_type: &str,
        event_type: &str,
        data: &Value,
    ) -> Result<Self, EventDecodeError> {
        match AggregateType::parse(aggregate_type) {
            Some(AggregateType::User) => UserEvent::decode(event_type, data).map(Self::User),
            Some(AggregateType::Document) => {
                DocumentEvent::decode(event_type, data).map(Self::Document)
            }
            Some(AggregateType::Character) => {
                CharacterEvent::decode(event_type, data).map(Self::Character)
            }
            None => Err(EventDecodeError::UnknownType(format!(
                "{event_type} of unknown aggregate type {aggregate_type}"
            ))),
        }
    }

    /// Every event type name of every aggregate.
    pub fn all_types() -> impl Iterator<Item = &'static str> {
        UserEvent::TYPES
            .iter()
            .chain(DocumentEvent::TYPES)
            .chain(CharacterEvent::TYPES)
            .copied()
    }
}
