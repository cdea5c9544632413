//! Who is calling: password hashes, access tokens and user ids derived from
//! e-mail addresses. Used by both APIs; the domain only ever sees the
//! resulting [`Principal`] as an `Actor`.

mod identity;
mod passwords;
mod tokens;

pub use identity::UserIdDeriver;
pub use passwords::{PasswordError, Passwords};
pub use tokens::{AccessToken, TokenError, Tokens};

use studio_domain::{Actor, Role, UserId};

/// An authenticated caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub role: Role,
}

impl Principal {
    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.user_id,
            role: self.role,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}
