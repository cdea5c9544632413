//! Given/when/then for aggregates: given a history, when a command is
//! decided, then these events (or this error).

#![allow(dead_code)]

use studio_domain::{DomainAggregate, DomainError, Versioned, fold};

pub struct Scenario<A: DomainAggregate> {
    state: Versioned<A::State>,
}

pub fn given<A: DomainAggregate>(history: Vec<A::Event>) -> Scenario<A> {
    let numbered = history.into_iter().zip(1..).map(|(e, seq)| (seq, e));
    match fold::<A>(numbered) {
        Ok(state) => Scenario { state },
        Err(err) => panic!("the given history does not fold: {err}"),
    }
}

pub fn given_nothing<A: DomainAggregate>() -> Scenario<A> {
    given::<A>(vec![])
}

impl<A: DomainAggregate> Scenario<A> {
    pub fn when(self, command: A::Command) -> Outcome<A> {
        Outcome {
            result: A::decide(&self.state.state, command),
        }
    }
}

pub struct Outcome<A: DomainAggregate> {
    result: Result<Vec<A::Event>, DomainError>,
}

impl<A: DomainAggregate> Outcome<A> {
    #[track_caller]
    pub fn then(self, expected: Vec<A::Event>) {
        match self.result {
            Ok(events) => assert_eq!(events, expected),
            Err(err) => panic!("expected events, got the error {err:?}"),
        }
    }

    #[track_caller]
    pub fn then_nothing(self) {
        self.then(vec![]);
    }

    #[track_caller]
    pub fn then_error(self, expected: DomainError) {
        match self.result {
            Ok(events) => panic!("expected {expected:?}, got events {events:?}"),
            Err(err) => assert_eq!(err, expected),
        }
    }

    #[track_caller]
    pub fn then_invalid(self, field: &str) {
        match self.result {
            Err(DomainError::Invalid { field: f, .. }) if f == field => {}
            other => panic!("expected an invalid {field}, got {other:?}"),
        }
    }
}
