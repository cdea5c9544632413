//! The read side's writers. A [`Projector`] tails the event log and feeds
//! batches to a [`Projection`], which applies them to its read model and
//! advances its per-partition checkpoint in the same transaction, so a
//! restart neither skips nor repeats an event. After each commit the
//! projector announces what changed ([`ProjectionUpdate`]), which drives
//! subscriptions and read-your-writes waits.

mod analysis_blob;
pub mod graph;
mod progress;
mod read_model;
pub mod relational;
mod runtime;
pub mod vectors;
mod views;

pub use progress::{LocalProgress, ProgressFeed, WaitError};
pub use read_model::ReadModel;
pub use runtime::{
    Change, Projection, ProjectionError, ProjectionUpdate, Projector, ProjectorConfig,
};
pub use views::{
    CastMemberView, ChapterView, CharacterView, DeadLetterView, DocumentView, EventView,
    FailureView, FeedCursor, InteractionView, Keyset, MentionView, NamedCharacter, Page,
    PageRequest, ProcessingView, StatisticsView, TermView, TextView, UserView, Viewer,
};
