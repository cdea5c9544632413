//! The pure core of LiteraryAI Studio.
//!
//! Every change to the system is a command decided against the current state
//! of one aggregate (`decide`), producing events that are folded back into
//! state (`evolve`). Nothing here performs I/O, reads a clock or draws random
//! numbers: ids and timestamps arrive inside commands, so every function is
//! deterministic and tested given/when/then.

mod access;
mod aggregate;
mod any_event;
pub mod character;
pub mod document;
mod error;
mod event;
pub mod history;
mod ids;
pub mod legacy;
pub mod rules;
pub mod upcast;
pub mod user;

pub use access::{Actor, Role};
pub use aggregate::{DomainAggregate, Versioned, decide_all, fold};
pub use any_event::AnyEvent;
pub use error::DomainError;
pub use event::{DomainEvent, EncodedEvent, EventDecodeError};
pub use ids::{CharacterId, DocumentId, UserId};

/// The three kinds of aggregate, as named in the event envelope's
/// `aggregatetype` extension and in event type names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateType {
    User,
    Document,
    Character,
}

impl AggregateType {
    pub const ALL: [AggregateType; 3] = [Self::User, Self::Document, Self::Character];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Document => "document",
            Self::Character => "character",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl std::fmt::Display for AggregateType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
