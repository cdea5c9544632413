use std::fmt::Debug;

use crate::{AggregateType, DomainError, DomainEvent, UserId};

/// An aggregate in the shape of `eventually`'s `Aggregate`: its `apply` is
/// our `evolve`, and its (asynchronous) `handle` wraps our synchronous
/// `decide`. This trait adds what the shell needs and `eventually` does not
/// model: the aggregate's type name, a synchronous `decide`, and the owner
/// that tags every event with its tenant.
pub trait DomainAggregate:
    eventually::aggregate::Aggregate<
        State: Clone + Debug + PartialEq,
        Event: DomainEvent + Clone + Debug + PartialEq,
        Error = DomainError,
    >
{
    const TYPE: AggregateType;

    /// Checks `command` against `state`; the events to record, or why not.
    fn decide(state: &Self::State, command: Self::Command)
    -> Result<Vec<Self::Event>, DomainError>;

    /// The user whose data this aggregate is, once it exists.
    fn owner(id: &Self::Id, state: &Self::State) -> Option<UserId>;

    /// The fields of an event type that are the owner's personal data.
    fn personal_fields(_event_type: &str) -> &'static [&'static str] {
        &[]
    }
}

/// State with the sequence number of the last event folded into it.
/// Version 0 means no event yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<S> {
    pub version: u64,
    pub state: S,
}

impl<S: Default> Default for Versioned<S> {
    fn default() -> Self {
        Self {
            version: 0,
            state: S::default(),
        }
    }
}

impl<S> Versioned<S> {
    /// Folds one stored event, which must carry the next sequence number.
    pub fn apply<A>(self, sequence: u64, event: A::Event) -> Result<Self, DomainError>
    where
        A: DomainAggregate<State = S>,
    {
        if sequence != self.version + 1 {
            return Err(DomainError::CorruptHistory(format!(
                "event with sequence {sequence} follows version {}",
                self.version
            )));
        }
        Ok(Self {
            version: sequence,
            state: A::apply(self.state, event)?,
        })
    }
}

/// Folds a stored history, refusing gaps and reorderings.
pub fn fold<A: DomainAggregate>(
    history: impl IntoIterator<Item = (u64, A::Event)>,
) -> Result<Versioned<A::State>, DomainError> {
    history
        .into_iter()
        .try_fold(Versioned::default(), |acc, (sequence, event)| {
            acc.apply::<A>(sequence, event)
        })
}

/// Decides several commands as one: each sees the state the previous ones
/// produced, and either all their events are recorded or none.
pub fn decide_all<A: DomainAggregate>(
    state: &A::State,
    commands: impl IntoIterator<Item = A::Command>,
) -> Result<Vec<A::Event>, DomainError> {
    let mut state = state.clone();
    let mut all = Vec::new();
    for command in commands {
        let events = A::decide(&state, command)?;
        for event in &events {
            state = A::apply(state, event.clone())?;
        }
        all.extend(events);
    }
    Ok(all)
}

/// Implements `eventually`'s `Aggregate` for one of ours, delegating to the
/// module's pure `decide` and `evolve`.
macro_rules! eventually_aggregate {
    ($aggregate:ty, id = $id:ty, state = $state:ty, command = $command:ty, event = $event:ty) => {
        impl eventually::aggregate::Aggregate for $aggregate {
            type Id = $id;
            type State = $state;
            type Event = $event;
            type Command = $command;
            type Error = $crate::DomainError;

            fn apply(state: Self::State, event: Self::Event) -> Result<Self::State, Self::Error> {
                evolve(state, event)
            }

            fn handle<'a, 's: 'a>(
                &'a self,
                _id: &'s Self::Id,
                state: &'s Self::State,
                command: Self::Command,
            ) -> futures::future::BoxFuture<'a, Result<Option<Vec<Self::Event>>, Self::Error>>
            where
                Self: Sized,
            {
                Box::pin(futures::future::ready(decide(state, command).map(Some)))
            }
        }
    };
}
pub(crate) use eventually_aggregate;
