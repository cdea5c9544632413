//! Forgetting a person: their key is destroyed (their personal data reads
//! as erased everywhere from then on), their account is closed with
//! `studio.user.forgotten.v1`, and their documents and characters follow
//! the configured policy.

use chrono::Utc;
use studio_domain::character::{CharacterAggregate, CharacterCommand};
use studio_domain::document::{DocumentAggregate, DocumentCommand};
use studio_domain::user::{UserAggregate, UserCommand, UserState};
use studio_domain::{Actor, AggregateType, CharacterId, DocumentId, DomainError, UserId};
use uuid::Uuid;

use crate::{CommandError, CommandMeta, CommandService};

/// What happens to a forgotten person's documents and characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForgottenWork {
    /// They are deleted.
    Delete,
    /// They stay, owned by an account that no longer reveals who it was.
    Keep,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForgetReport {
    /// False when the key had already been destroyed (a repeated request).
    pub key_destroyed: bool,
    pub documents_deleted: u64,
    pub characters_deleted: u64,
}

/// Forgets `user`. Safe to repeat: a forgotten user stays forgotten and
/// nothing is deleted twice.
pub async fn forget_user(
    service: &CommandService,
    user: UserId,
    actor: Actor,
    actor_label: String,
    work: ForgottenWork,
) -> Result<ForgetReport, CommandError> {
    if !actor.is_admin() {
        return Err(DomainError::Forbidden("only an admin can forget a user").into());
    }
    let loaded = service.load::<UserAggregate>(user.into()).await?;
    if loaded.state.state == UserState::Unregistered {
        return Err(DomainError::NotFound(AggregateType::User).into());
    }
    // The key first: once it is gone, nothing about the person can be read,
    // whatever happens next; the rest is idempotent and can be retried.
    let key_destroyed = service.personal_data().forget(user.into()).await?;
    let meta = || CommandMeta::new(Uuid::now_v7(), actor_label.clone(), Utc::now());
    service
        .execute::<UserAggregate>(user, &meta(), vec![UserCommand::Forget { actor }])
        .await?;

    let mut report = ForgetReport {
        key_destroyed,
        ..ForgetReport::default()
    };
    if work == ForgottenWork::Keep {
        return Ok(report);
    }
    let streams = service.log().streams_of_tenant(user.into()).await?;
    for (id, aggregate_type) in streams {
        let deleted = match AggregateType::parse(&aggregate_type) {
            Some(AggregateType::Document) => {
                let delete = DocumentCommand::Delete {
                    actor: Actor::System,
                };
                let done = service
                    .execute::<DocumentAggregate>(DocumentId::from_uuid(id), &meta(), vec![delete])
                    .await;
                count_deletion(done, &mut report.documents_deleted)?
            }
            Some(AggregateType::Character) => {
                let delete = CharacterCommand::Delete {
                    actor: Actor::System,
                };
                let done = service
                    .execute::<CharacterAggregate>(
                        CharacterId::from_uuid(id),
                        &meta(),
                        vec![delete],
                    )
                    .await;
                count_deletion(done, &mut report.characters_deleted)?
            }
            _ => false,
        };
        tracing::debug!(%id, aggregate_type, deleted, "forgotten user's work");
    }
    Ok(report)
}

/// Counts a deletion; one that already happened is not an error.
fn count_deletion(
    done: Result<crate::Executed, CommandError>,
    counter: &mut u64,
) -> Result<bool, CommandError> {
    match done {
        Ok(_) => {
            *counter += 1;
            Ok(true)
        }
        Err(CommandError::Domain(DomainError::Deleted(_))) => Ok(false),
        Err(e) => Err(e),
    }
}
