//! Users: who may sign in, with which role.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::aggregate::eventually_aggregate;
use crate::{AggregateType, DomainAggregate, DomainError, DomainEvent, Role, UserId, rules};

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
    const TYPES: &'static [&'static str] = &["studio.user.registered.v1"];
}

#[derive(Clone, Debug, Default, PartialEq)]
pub enum UserState {
    #[default]
    Unregistered,
    Active(User),
}

#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    pub display_name: Option<String>,
}

pub fn decide(state: &UserState, command: UserCommand) -> Result<Vec<UserEvent>, DomainError> {
    match command {
        UserCommand::Register(register) => {
            if *state != UserState::Unregistered {
                return Err(DomainError::AlreadyExists(AggregateType::User));
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
        (UserState::Active(_), UserEvent::Registered(_)) => Err(DomainError::CorruptHistory(
            "a user registered twice".into(),
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
}
