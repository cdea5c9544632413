use serde::{Deserialize, Serialize};

use crate::UserId;

/// What a user may do. Admins see and change everything, editors write their
/// own documents and characters, viewers only read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Editor,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Editor => "editor",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Admin, Self::Editor, Self::Viewer]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// Who issues a command. `System` is the platform itself (bootstrap, the
/// processing pipeline, importers); it acts on behalf of the owner it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    User { id: UserId, role: Role },
    System,
}

impl Actor {
    pub fn may_write(&self) -> bool {
        match self {
            Self::User { role, .. } => matches!(role, Role::Admin | Role::Editor),
            Self::System => true,
        }
    }

    /// Whether the actor may see (and, with `may_write`, change) what `owner` owns.
    pub fn may_access(&self, owner: UserId) -> bool {
        match self {
            Self::User { id, role } => *role == Role::Admin || *id == owner,
            Self::System => true,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Self::System
                | Self::User {
                    role: Role::Admin,
                    ..
                }
        )
    }
}
