//! A batch's events, folded per aggregate and cut into waves. Consecutive
//! events of an aggregate that only set fields of its row (a character's
//! creation, renames, profile updates and new aliases; a document's upload
//! and renames) fold into one step: the row as those events leave it, or
//! the change they make to it. A rebuild, whose batches hold whole
//! histories, then writes each row once rather than once per event.
//!
//! Wave k holds the k-th step of every aggregate of the batch, so an
//! aggregate's steps keep their order, and each wave touches a row at most
//! once (which multi-row statements need). Pure: no I/O.

use std::collections::HashMap;

use serde_json::Value;
use studio_domain::AnyEvent;
use studio_domain::character::{CharacterCreated, CharacterEvent};
use studio_domain::document::{DocumentEvent, DocumentUploaded};
use studio_domain::user::UserEvent;

/// An event decoded, with what every statement needs of its envelope.
#[derive(Debug)]
pub(super) struct Decoded {
    pub id: String,
    pub version: i64,
    pub time: String,
    pub event: AnyEvent,
}

/// The versions and time a step covers: statements apply it only where
/// the row is older than its first event, and leave the row at its last.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Span {
    pub first_version: i64,
    pub version: i64,
    pub time: String,
}

#[derive(Debug)]
pub(super) enum Step {
    /// A character created in this batch, as its later events leave it.
    NewCharacter {
        id: String,
        created: CharacterCreated,
        span: Span,
    },
    /// Changes to a character created before the batch.
    CharacterChanges {
        id: String,
        name: Option<String>,
        profile: Option<Value>,
        aliases: Vec<String>,
        span: Span,
    },
    /// A document uploaded in this batch, with its latest title.
    NewDocument {
        id: String,
        uploaded: DocumentUploaded,
        span: Span,
    },
    /// A document renamed (once or more) in this batch.
    DocumentTitle {
        id: String,
        title: String,
        span: Span,
    },
    /// Any other event, applied on its own.
    Single(Single),
}

/// An event that folds with no other.
#[derive(Debug)]
pub(super) struct Single {
    pub id: String,
    pub version: i64,
    pub time: String,
    pub event: Lone,
}

#[derive(Debug)]
pub(super) enum Lone {
    User(UserEvent),
    /// Any document event but an upload or a rename.
    Document(DocumentEvent),
    CharacterDeleted,
    /// Merged into the character of this id.
    CharacterMerged(String),
}

impl Step {
    fn start(e: Decoded) -> Step {
        let span = Span {
            first_version: e.version,
            version: e.version,
            time: e.time,
        };
        match e.event {
            AnyEvent::Character(CharacterEvent::Created(created)) => Step::NewCharacter {
                id: e.id,
                created,
                span,
            },
            AnyEvent::Character(CharacterEvent::Renamed(r)) => Step::CharacterChanges {
                id: e.id,
                name: Some(r.name),
                profile: None,
                aliases: Vec::new(),
                span,
            },
            AnyEvent::Character(CharacterEvent::ProfileUpdated(p)) => Step::CharacterChanges {
                id: e.id,
                name: None,
                profile: Some(p.personality_profile),
                aliases: Vec::new(),
                span,
            },
            AnyEvent::Character(CharacterEvent::AliasAdded(a)) => Step::CharacterChanges {
                id: e.id,
                name: None,
                profile: None,
                aliases: vec![a.alias],
                span,
            },
            AnyEvent::Character(CharacterEvent::Absorbed(a)) => Step::CharacterChanges {
                id: e.id,
                name: None,
                profile: None,
                aliases: a.aliases,
                span,
            },
            // Provenance, and what the graph read model keeps: no column
            // changes here, the row's version moves on.
            AnyEvent::Character(
                CharacterEvent::LegacyImported(_)
                | CharacterEvent::RelationshipDeclared(_)
                | CharacterEvent::RelationshipRemoved(_),
            ) => Step::CharacterChanges {
                id: e.id,
                name: None,
                profile: None,
                aliases: Vec::new(),
                span,
            },
            AnyEvent::Document(DocumentEvent::Uploaded(uploaded)) => Step::NewDocument {
                id: e.id,
                uploaded,
                span,
            },
            AnyEvent::Document(DocumentEvent::Renamed(r)) => Step::DocumentTitle {
                id: e.id,
                title: r.title,
                span,
            },
            AnyEvent::Character(CharacterEvent::Deleted(_)) => {
                Step::single(e.id, span, Lone::CharacterDeleted)
            }
            AnyEvent::Character(CharacterEvent::Merged(m)) => {
                Step::single(e.id, span, Lone::CharacterMerged(m.into_id.to_string()))
            }
            AnyEvent::Document(other) => Step::single(e.id, span, Lone::Document(other)),
            AnyEvent::User(user) => Step::single(e.id, span, Lone::User(user)),
        }
    }

    fn single(id: String, span: Span, event: Lone) -> Step {
        Step::Single(Single {
            id,
            version: span.version,
            time: span.time,
            event,
        })
    }

    /// Folds `e`, the aggregate's next event, into this step; gives it
    /// back when it starts a step of its own.
    fn absorb(&mut self, e: Decoded) -> Option<Decoded> {
        let Decoded {
            id,
            version,
            time,
            event,
        } = e;
        use CharacterEvent as C;
        use DocumentEvent as D;
        let leftover = match (&mut *self, event) {
            (Step::NewCharacter { created, .. }, AnyEvent::Character(C::Renamed(r))) => {
                created.name = r.name;
                None
            }
            (Step::NewCharacter { created, .. }, AnyEvent::Character(C::ProfileUpdated(p))) => {
                created.personality_profile = p.personality_profile;
                None
            }
            (Step::NewCharacter { created, .. }, AnyEvent::Character(C::AliasAdded(a))) => {
                created.aliases.push(a.alias);
                None
            }
            (Step::CharacterChanges { name, .. }, AnyEvent::Character(C::Renamed(r))) => {
                *name = Some(r.name);
                None
            }
            (Step::CharacterChanges { profile, .. }, AnyEvent::Character(C::ProfileUpdated(p))) => {
                *profile = Some(p.personality_profile);
                None
            }
            (Step::CharacterChanges { aliases, .. }, AnyEvent::Character(C::AliasAdded(a))) => {
                aliases.push(a.alias);
                None
            }
            (Step::NewDocument { uploaded, .. }, AnyEvent::Document(D::Renamed(r))) => {
                uploaded.title = r.title;
                None
            }
            (Step::DocumentTitle { title, .. }, AnyEvent::Document(D::Renamed(r))) => {
                *title = r.title;
                None
            }
            (
                Step::NewCharacter { .. } | Step::CharacterChanges { .. },
                AnyEvent::Character(C::LegacyImported(_)),
            )
            | (
                Step::NewDocument { .. } | Step::DocumentTitle { .. },
                AnyEvent::Document(D::LegacyImported(_)),
            ) => None,
            (_, event) => Some(event),
        };
        match leftover {
            Some(event) => Some(Decoded::of(id, version, time, event)),
            None => {
                if let Some(span) = self.span_mut() {
                    span.version = version;
                    span.time = time;
                }
                None
            }
        }
    }

    fn span_mut(&mut self) -> Option<&mut Span> {
        match self {
            Step::NewCharacter { span, .. }
            | Step::CharacterChanges { span, .. }
            | Step::NewDocument { span, .. }
            | Step::DocumentTitle { span, .. } => Some(span),
            Step::Single(_) => None,
        }
    }
}

impl Decoded {
    fn of(id: String, version: i64, time: String, event: AnyEvent) -> Decoded {
        Decoded {
            id,
            version,
            time,
            event,
        }
    }
}

/// The batch's events as waves of steps: each wave holds at most one step
/// per aggregate, and an aggregate's steps come in order.
pub(super) fn waves(events: Vec<Decoded>) -> Vec<Vec<Step>> {
    let mut order: HashMap<String, usize> = HashMap::new();
    let mut steps: Vec<Vec<Step>> = Vec::new();
    for e in events {
        let at = *order.entry(e.id.clone()).or_insert_with(|| {
            steps.push(Vec::new());
            steps.len() - 1
        });
        let aggregate = &mut steps[at];
        let e = match aggregate.last_mut() {
            Some(last) => last.absorb(e),
            None => Some(e),
        };
        if let Some(e) = e {
            aggregate.push(Step::start(e));
        }
    }
    let mut waves: Vec<Vec<Step>> = Vec::new();
    for aggregate in steps {
        for (k, step) in aggregate.into_iter().enumerate() {
            if waves.len() <= k {
                waves.push(Vec::new());
            }
            waves[k].push(step);
        }
    }
    waves
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;
    use studio_domain::character::{
        CharacterAliasAdded, CharacterDeleted, CharacterOrigin, CharacterProfileUpdated,
        CharacterRenamed,
    };
    use studio_domain::document::{DocumentDeleted, DocumentRenamed};
    use uuid::Uuid;

    use super::*;

    fn event(id: &str, version: i64, event: AnyEvent) -> Decoded {
        Decoded::of(id.into(), version, format!("t{version}"), event)
    }

    fn created(name: &str) -> AnyEvent {
        AnyEvent::Character(CharacterEvent::Created(CharacterCreated {
            owner: Uuid::nil().into(),
            name: name.into(),
            aliases: vec!["first".into()],
            personality_profile: json!({}),
            source_document_id: None,
            origin: CharacterOrigin::Manual,
            created_at: Utc::now(),
        }))
    }

    fn renamed(name: &str) -> AnyEvent {
        AnyEvent::Character(CharacterEvent::Renamed(CharacterRenamed {
            name: name.into(),
        }))
    }

    fn alias(alias: &str) -> AnyEvent {
        AnyEvent::Character(CharacterEvent::AliasAdded(CharacterAliasAdded {
            alias: alias.into(),
        }))
    }

    fn profile(profile: Value) -> AnyEvent {
        AnyEvent::Character(CharacterEvent::ProfileUpdated(CharacterProfileUpdated {
            personality_profile: profile,
        }))
    }

    fn span(first_version: i64, version: i64) -> Span {
        Span {
            first_version,
            version,
            time: format!("t{version}"),
        }
    }

    #[test]
    fn a_created_character_and_its_edits_fold_into_one_new_row() {
        let waves = waves(vec![
            event("a", 1, created("Ann")),
            event("a", 2, renamed("Anne")),
            event("a", 3, alias("Nan")),
            event("a", 4, profile(json!({"traits": ["bold"]}))),
            event("a", 5, alias("Annie")),
        ]);
        assert_eq!(waves.len(), 1);
        let [
            Step::NewCharacter {
                id,
                created,
                span: s,
            },
        ] = &waves[0][..]
        else {
            panic!("expected one new character, got {waves:?}");
        };
        assert_eq!(id, "a");
        assert_eq!(created.name, "Anne");
        assert_eq!(created.aliases, ["first", "Nan", "Annie"]);
        assert_eq!(created.personality_profile, json!({"traits": ["bold"]}));
        assert_eq!(*s, span(1, 5));
    }

    #[test]
    fn edits_of_an_older_character_fold_into_one_change_keeping_the_last_values() {
        let waves = waves(vec![
            event("a", 7, alias("x")),
            event("a", 8, renamed("One")),
            event("a", 9, renamed("Two")),
            event("a", 10, alias("y")),
        ]);
        let [
            Step::CharacterChanges {
                name,
                profile,
                aliases,
                span: s,
                ..
            },
        ] = &waves[0][..]
        else {
            panic!("expected one change, got {waves:?}");
        };
        assert_eq!(name.as_deref(), Some("Two"));
        assert_eq!(*profile, None);
        assert_eq!(aliases, &["x", "y"]);
        assert_eq!(*s, span(7, 10));
    }

    #[test]
    fn a_deletion_ends_a_fold_and_comes_after_it() {
        let waves = waves(vec![
            event("a", 1, created("Ann")),
            event("a", 2, renamed("Anne")),
            event(
                "a",
                3,
                AnyEvent::Character(CharacterEvent::Deleted(CharacterDeleted {})),
            ),
        ]);
        assert_eq!(waves.len(), 2);
        assert!(matches!(&waves[0][..], [Step::NewCharacter { .. }]));
        assert!(matches!(
            &waves[1][..],
            [Step::Single(Single { version: 3, .. })]
        ));
    }

    #[test]
    fn aggregates_interleave_but_each_keeps_its_order_one_step_per_wave() {
        let waves = waves(vec![
            event("a", 1, created("Ann")),
            event(
                "d",
                4,
                AnyEvent::Document(DocumentEvent::Renamed(DocumentRenamed {
                    title: "Old".into(),
                })),
            ),
            event("a", 2, renamed("Anne")),
            event(
                "d",
                5,
                AnyEvent::Document(DocumentEvent::Renamed(DocumentRenamed {
                    title: "New".into(),
                })),
            ),
            event(
                "d",
                6,
                AnyEvent::Document(DocumentEvent::Deleted(DocumentDeleted {})),
            ),
        ]);
        assert_eq!(waves.len(), 2);
        assert_eq!(waves[0].len(), 2);
        let Step::DocumentTitle { title, span: s, .. } = &waves[0][1] else {
            panic!("expected the title first, got {waves:?}");
        };
        assert_eq!((title.as_str(), s), ("New", &span(4, 5)));
        assert!(matches!(
            &waves[1][..],
            [Step::Single(Single { version: 6, .. })]
        ));
    }

    fn legacy() -> AnyEvent {
        AnyEvent::Character(CharacterEvent::LegacyImported(
            studio_domain::legacy::LegacyImported {
                source: "old.db".into(),
                table: "characters".into(),
                legacy_id: 3,
                columns: Default::default(),
                warnings: vec![],
            },
        ))
    }

    #[test]
    fn a_legacy_record_moves_the_version_of_the_row_it_follows() {
        let waves = waves(vec![event("a", 1, created("Ann")), event("a", 2, legacy())]);
        let [Step::NewCharacter { span: s, .. }] = &waves[0][..] else {
            panic!("expected one new character, got {waves:?}");
        };
        assert_eq!(*s, span(1, 2));
        // A batch that starts at the record: a change of nothing but the version.
        let waves = super::waves(vec![event("a", 2, legacy()), event("a", 3, renamed("Nan"))]);
        let [
            Step::CharacterChanges {
                name,
                aliases,
                profile,
                span: s,
                ..
            },
        ] = &waves[0][..]
        else {
            panic!("expected one change, got {waves:?}");
        };
        assert_eq!(
            (name.as_deref(), aliases.len(), profile),
            (Some("Nan"), 0, &None)
        );
        assert_eq!(*s, span(2, 3));
    }
}
