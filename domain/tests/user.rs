mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{given, given_nothing};
use studio_domain::user::{
    RegisterUser, Registrar, UserAggregate, UserCommand, UserEvent, UserRegistered,
};
use studio_domain::{AggregateType, DomainError, Role, UserId};
use uuid::Uuid;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn register(email: &str, role: Role, registrar: Registrar) -> UserCommand {
    UserCommand::Register(RegisterUser {
        user_id: UserId::from_uuid(Uuid::from_u128(1)),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role,
        display_name: Some("  Ada   Lovelace ".into()),
        registrar,
        at: at(),
    })
}

fn registered(role: Role) -> UserEvent {
    UserEvent::Registered(UserRegistered {
        email: "ada@example.org".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        role,
        display_name: Some("Ada Lovelace".into()),
        registered_at: at(),
    })
}

#[test]
fn a_new_user_registers_with_a_normalised_email() {
    given_nothing::<UserAggregate>()
        .when(register(
            " Ada@Example.org",
            Role::Editor,
            Registrar::SelfService,
        ))
        .then(vec![registered(Role::Editor)]);
}

#[test]
fn an_email_registers_only_once() {
    given::<UserAggregate>(vec![registered(Role::Editor)])
        .when(register(
            "ada@example.org",
            Role::Viewer,
            Registrar::SelfService,
        ))
        .then_error(DomainError::AlreadyExists(AggregateType::User));
}

#[test]
fn nobody_makes_themselves_admin() {
    given_nothing::<UserAggregate>()
        .when(register(
            "ada@example.org",
            Role::Admin,
            Registrar::SelfService,
        ))
        .then_error(DomainError::Forbidden(
            "only an admin can register another admin",
        ));
}

#[test]
fn admins_and_the_platform_register_admins() {
    let admin = UserId::from_uuid(Uuid::from_u128(9));
    given_nothing::<UserAggregate>()
        .when(register(
            "ada@example.org",
            Role::Admin,
            Registrar::Admin(admin),
        ))
        .then(vec![registered(Role::Admin)]);
    given_nothing::<UserAggregate>()
        .when(register("ada@example.org", Role::Admin, Registrar::System))
        .then(vec![registered(Role::Admin)]);
}

#[test]
fn a_malformed_email_is_refused() {
    given_nothing::<UserAggregate>()
        .when(register(
            "not-an-email",
            Role::Editor,
            Registrar::SelfService,
        ))
        .then_invalid("email");
}

fn admin() -> studio_domain::Actor {
    studio_domain::Actor::User {
        id: UserId::from_uuid(Uuid::from_u128(9)),
        role: Role::Admin,
    }
}

fn forgotten() -> UserEvent {
    UserEvent::Forgotten(studio_domain::user::UserForgotten {})
}

#[test]
fn an_admin_forgets_a_user_once() {
    given::<UserAggregate>(vec![registered(Role::Editor)])
        .when(UserCommand::Forget { actor: admin() })
        .then(vec![forgotten()]);
    given::<UserAggregate>(vec![registered(Role::Editor), forgotten()])
        .when(UserCommand::Forget { actor: admin() })
        .then_nothing();
    given::<UserAggregate>(vec![registered(Role::Editor), forgotten()])
        .when(UserCommand::Forget {
            actor: studio_domain::Actor::System,
        })
        .then_nothing();
}

#[test]
fn only_admins_forget_and_only_registered_users() {
    let editor = studio_domain::Actor::User {
        id: UserId::from_uuid(Uuid::from_u128(1)),
        role: Role::Editor,
    };
    given::<UserAggregate>(vec![registered(Role::Editor)])
        .when(UserCommand::Forget { actor: editor })
        .then_error(DomainError::Forbidden("only an admin can forget a user"));
    given_nothing::<UserAggregate>()
        .when(UserCommand::Forget { actor: admin() })
        .then_error(DomainError::NotFound(AggregateType::User));
}

#[test]
fn a_forgotten_address_cannot_register_again() {
    given::<UserAggregate>(vec![registered(Role::Editor), forgotten()])
        .when(register(
            "ada@example.org",
            Role::Editor,
            Registrar::SelfService,
        ))
        .then_error(DomainError::Forbidden(
            "this address belonged to an account that was forgotten",
        ));
}

#[test]
fn personal_fields_are_declared() {
    assert_eq!(
        studio_domain::user::personal_fields("studio.user.registered.v1"),
        ["email", "password_hash", "display_name"]
    );
    assert!(studio_domain::user::personal_fields("studio.user.forgotten.v1").is_empty());
}
