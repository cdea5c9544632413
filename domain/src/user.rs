//! Users: who may sign in, with which role.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::eventually_aggregate;
use crate::{Actor, AggregateType, DomainAggregate, DomainError, DomainEvent, Role, UserId, rules};

/// Who asked for a registration; decides which roles may be granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registrar {
    /// The person registers themselves: never as an admin.
    SelfService,
    /// An admin registers someone.
    Admin(UserId),
    /// The platform, e.g. the admin bootstrapped from configuration.
    System,
}

#[derive(Clone, Debug, PartialEq)]
pub enum UserCommand {
    Register(RegisterUser),
    /// Erase the person: their personal data becomes unreadable (its key
    /// is destroyed by the shell) and the account accepts nothing more.
    Forget {
        actor: Actor,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct RegisterUser {
    pub user_id: UserId,
    pub email: String,
    /// A PHC string (argon2id); the domain never sees the password.
    pub password_hash: String,
    pub role: Role,
    pub display_name: Option<String>,
    pub registrar: Registrar,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum UserEvent {
    #[serde(rename = "studio.user.registered.v1")]
    Registered(UserRegistered),
    #[serde(rename = "studio.user.forgotten.v1")]
    Forgotten(UserForgotten),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserForgotten {}

/// The fields of an event that are personal data of its tenant: the shell
/// encrypts them with the tenant's own key before they reach the log, so
/// that destroying the key erases them everywhere.
pub fn personal_fields(event_type: &str) -> &'static [&'static str] {
    match event_type {
        "studio.user.registered.v1" => &["email", "password_hash", "display_name"],
        _ => &[],
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRegistered {
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub display_name: Option<String>,
    pub registered_at: DateTime<Utc>,
}

impl DomainEvent for UserEvent {
    const TYPES: &'static [&'static str] =
        &["studio.user.registered.v1", "studio.user.forgotten.v1"];
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(tag = "status", content = "user", rename_all = "snake_case")]
pub enum UserState {
    #[default]
    Unregistered,
    Active(User),
    /// The person asked to be forgotten: nothing about them is readable and
    /// the account accepts nothing more.
    Forgotten,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct User {
    pub email: String,
    /// Never shown, not even in audit output.
    #[serde(skip_serializing)]
    pub password_hash: String,
    pub role: Role,
    pub display_name: Option<String>,
}

pub fn decide(state: &UserState, command: UserCommand) -> Result<Vec<UserEvent>, DomainError> {
    match command {
        UserCommand::Forget { actor } => {
            if !actor.is_admin() {
                return Err(DomainError::Forbidden("only an admin can forget a user"));
            }
            match state {
                UserState::Unregistered => Err(DomainError::NotFound(AggregateType::User)),
                UserState::Active(_) => Ok(vec![UserEvent::Forgotten(UserForgotten {})]),
                UserState::Forgotten => Ok(vec![]),
            }
        }
        UserCommand::Register(register) => {
            match state {
                UserState::Unregistered => {}
                UserState::Active(_) => {
                    return Err(DomainError::AlreadyExists(AggregateType::User));
                }
                UserState::Forgotten => {
                    return Err(DomainError::Forbidden(
                        "this address belonged to an account that was forgotten",
                    ));
                }
            }
            if register.role == Role::Admin && register.registrar == Registrar::SelfService {
                return Err(DomainError::Forbidden(
                    "only an admin can register another admin",
                ));
            }
            if register.password_hash.is_empty() || register.password_hash.len() > 512 {
                return Err(DomainError::invalid(
                    "password_hash",
                    "must be a PHC string",
                ));
            }
            let display_name = register
                .display_name
                .as_deref()
                .map(|n| rules::normalized_text("display_name", n, rules::MAX_NAME_CHARS))
                .transpose()?;
            Ok(vec![UserEvent::Registered(UserRegistered {
                email: rules::email(&register.email)?,
                password_hash: register.password_hash,
                role: register.role,
                display_name,
                registered_at: register.at,
            })])
        }
    }
}

pub fn evolve(state: UserState, event: UserEvent) -> Result<UserState, DomainError> {
    match (state, event) {
        (UserState::Unregistered, UserEvent::Registered(e)) => Ok(UserState::Active(User {
            email: e.email,
            password_hash: e.password_hash,
            role: e.role,
            display_name: e.display_name,
        })),
        (UserState::Active(_), UserEvent::Forgotten(_)) => Ok(UserState::Forgotten),
        (_, UserEvent::Registered(_)) => Err(DomainError::CorruptHistory(
            "a user registered twice".into(),
        )),
        (_, UserEvent::Forgotten(_)) => Err(DomainError::CorruptHistory(
            "only a registered user can be forgotten".into(),
        )),
    }
}

/// The user aggregate.
#[derive(Clone, Copy, Debug, Default)]
pub struct UserAggregate;

eventually_aggregate!(
    UserAggregate,
    id = UserId,
    state = UserState,
    command = UserCommand,
    event = UserEvent
);

impl DomainAggregate for UserAggregate {
    const TYPE: AggregateType = AggregateType::User;

    fn decide(state: &UserState, command: UserCommand) -> Result<Vec<UserEvent>, DomainError> {
        decide(state, command)
    }

    /// A user's data is their own.
    fn owner(id: &UserId, _state: &UserState) -> Option<UserId> {
        Some(*id)
    }

    fn personal_fields(event_type: &str) -> &'static [&'static str] {
        personal_fields(event_type)
    }
}
