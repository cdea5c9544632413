//! `studio users`: administration of people.

use std::sync::Arc;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use studio_command_api::{CommandService, ForgottenWork, forget_user};
use studio_domain::{Actor, UserId};
use uuid::Uuid;

use crate::config::Settings;
use crate::platform;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Forgets a person: destroys the key of their personal data (which
    /// then reads as erased everywhere, also in rebuilt read models and
    /// audit output), closes their account, and applies the policy to
    /// their documents and characters. The server must be stopped; while
    /// it runs, use the admin GraphQL mutation `forgetUser`.
    Forget {
        user_id: Uuid,
        /// Default: `privacy.forgotten_work` from the configuration.
        #[arg(long, value_enum)]
        work: Option<WorkPolicy>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum WorkPolicy {
    Delete,
    Keep,
}

impl From<WorkPolicy> for ForgottenWork {
    fn from(p: WorkPolicy) -> Self {
        match p {
            WorkPolicy::Delete => ForgottenWork::Delete,
            WorkPolicy::Keep => ForgottenWork::Keep,
        }
    }
}

pub async fn run(settings: Settings, command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::Forget { user_id, work } => {
            let _lock = platform::log_lock(&settings).context(
                "the server is running: forget through the admin GraphQL mutation forgetUser",
            )?;
            let log = platform::log_writer(&settings).await?;
            let personal = platform::personal_data(&settings).await?;
            let service = Arc::new(CommandService::new(log, personal, platform::source("cli")));
            let work = work
                .map(ForgottenWork::from)
                .unwrap_or(settings.forgotten_work());
            let report = forget_user(
                &service,
                UserId::from_uuid(user_id),
                Actor::System,
                "system".into(),
                work,
            )
            .await
            .with_context(|| format!("forgetting {user_id}"))?;
            println!(
                "forgot {user_id}: key {}, {} documents and {} characters deleted",
                if report.key_destroyed {
                    "destroyed"
                } else {
                    "already destroyed"
                },
                report.documents_deleted,
                report.characters_deleted
            );
            Ok(())
        }
    }
}
