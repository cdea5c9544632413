use crate::{AggregateType, CharacterId};

/// Why a command was refused, or why a history cannot be folded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("this {0} already exists")]
    AlreadyExists(AggregateType),
    /// Also returned when the aggregate exists but the actor may not see it,
    /// so that nobody learns of another tenant's data by probing ids.
    #[error("no such {0}")]
    NotFound(AggregateType),
    #[error("this {0} has been deleted")]
    Deleted(AggregateType),
    #[error("not permitted: {0}")]
    Forbidden(&'static str),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("the alias {0:?} is already known for this character")]
    DuplicateAlias(String),
    #[error("this character has no {kind:?} relationship with {other}")]
    NoSuchRelationship { other: CharacterId, kind: String },
    /// A merged character lives on in the one it was merged into.
    #[error("this character was merged into {0}")]
    Merged(CharacterId),
    /// A stored history that no sequence of valid commands could have
    /// produced: a gap in sequences, or an event that does not apply.
    #[error("corrupt history: {0}")]
    CorruptHistory(String),
}

impl DomainError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
