//! The composition root: opens every adapter the settings name and wires
//! them into the services and routers. Nothing else in the workspace knows
//! which adapters run.

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use chrono::Utc;
use studio_auth::{Passwords, Tokens, UserIdDeriver};
use studio_blob_store::BlobStore;
use studio_blob_store::local::LocalBlobStore;
use studio_command_api::http::CommandApi;
use studio_command_api::{CommandError, CommandMeta, CommandService};
use studio_domain::DomainError;
use studio_domain::user::{RegisterUser, Registrar, UserAggregate, UserCommand};
use studio_domain::{Role, rules};
use studio_event_log::EventLog;
use studio_event_log::sqlite::{SqliteEventLog, SqliteLogOptions};
use studio_projections::LocalProgress;
use studio_projections::relational::SqliteRelational;
use studio_query_api::QueryApi;
use uuid::Uuid;

use crate::config::Settings;
use crate::http;
use crate::secrets::secret;

/// The envelope `source` of everything this binary records.
pub const SOURCE: &str = "urn:studio:serve";

pub struct Platform {
    pub settings: Settings,
    pub log: Arc<dyn EventLog>,
    pub blobs: Arc<dyn BlobStore>,
    pub read_model: Arc<SqliteRelational>,
    pub progress: LocalProgress,
    pub service: Arc<CommandService>,
    pub tokens: Tokens,
    pub user_ids: UserIdDeriver,
    /// Held for the life of the process: one process per data directory.
    _lock: File,
}

/// Takes the data directory for this process, or explains who has it.
pub fn lock_data_dir(settings: &Settings) -> anyhow::Result<File> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "creating the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let path = settings.data_dir.join("studio.lock");
    let file = File::create(&path).with_context(|| format!("opening {}", path.display()))?;
    if file.try_lock().is_err() {
        bail!(
            "another studio process is using {}; stop it first",
            settings.data_dir.display()
        );
    }
    Ok(file)
}

pub async fn open_log(settings: &Settings) -> anyhow::Result<Arc<dyn EventLog>> {
    let path = settings.data_dir.join("events.db");
    let log = SqliteEventLog::open(
        &path,
        SqliteLogOptions {
            partitions: settings.partitions,
            fsync_each_commit: settings.fsync_each_commit,
        },
    )
    .await
    .with_context(|| format!("opening the event log {}", path.display()))?;
    Ok(Arc::new(log))
}

impl Platform {
    pub async fn open(settings: Settings) -> anyhow::Result<Self> {
        let lock = lock_data_dir(&settings)?;
        let secrets = settings.data_dir.join("secrets");
        let tokens = Tokens::new(
            &secret(&secrets, "token.key", settings.auth.token_secret.as_deref())?,
            settings.auth.token_ttl_seconds,
        )
        .context("auth.token_secret")?;
        let user_ids = UserIdDeriver::new(&secret(
            &secrets,
            "identity.key",
            settings.auth.identity_key.as_deref(),
        )?);
        let log = open_log(&settings).await?;
        let blobs: Arc<dyn BlobStore> = Arc::new(
            LocalBlobStore::open(&settings.data_dir.join("blobs"))
                .await
                .context("opening the blob store")?,
        );
        let read_model = Arc::new(
            SqliteRelational::open(&settings.data_dir.join("read-model.db"))
                .await
                .context("opening the read model")?,
        );
        let service = Arc::new(CommandService::new(log.clone(), SOURCE));
        Ok(Self {
            settings,
            log,
            blobs,
            read_model,
            progress: LocalProgress::new(),
            service,
            tokens,
            user_ids,
            _lock: lock,
        })
    }

    /// Registers the configured admin unless that address already exists.
    pub async fn bootstrap_admin(&self) -> anyhow::Result<()> {
        let (Some(email), Some(password)) = (
            self.settings.auth.bootstrap_admin_email.as_deref(),
            self.settings.auth.bootstrap_admin_password.clone(),
        ) else {
            return Ok(());
        };
        let email = rules::email(email).context("auth.bootstrap_admin_email")?;
        let user_id = self.user_ids.user_id(&email);
        let password_hash = Passwords
            .hash(password)
            .await
            .context("auth.bootstrap_admin_password")?;
        let meta = CommandMeta::new(Uuid::now_v7(), "system".into(), Utc::now());
        let command = UserCommand::Register(RegisterUser {
            user_id,
            email,
            password_hash,
            role: Role::Admin,
            display_name: Some("Administrator".into()),
            registrar: Registrar::System,
            at: meta.at,
        });
        match self
            .service
            .execute::<UserAggregate>(user_id, &meta, vec![command])
            .await
        {
            Ok(_) => tracing::info!(%user_id, "registered the bootstrap admin"),
            Err(CommandError::Domain(DomainError::AlreadyExists(_))) => {}
            Err(e) => return Err(e).context("registering the bootstrap admin"),
        }
        Ok(())
    }

    pub fn router(&self) -> Router {
        let commands = CommandApi {
            service: self.service.clone(),
            blobs: self.blobs.clone(),
            tokens: self.tokens.clone(),
            passwords: Passwords,
            user_ids: self.user_ids.clone(),
            upload_limit: self.settings.limits.upload_bytes,
            self_service_role: self.settings.self_service_role(),
            open_registration: self.settings.auth.open_registration,
        };
        let queries = QueryApi {
            read: self.read_model.clone(),
            progress: Arc::new(self.progress.clone()),
            blobs: self.blobs.clone(),
            tokens: self.tokens.clone(),
            consistency_wait: Duration::from_millis(self.settings.limits.read_wait_ms),
            text_limit: self.settings.limits.upload_bytes,
        };
        http::router(commands, queries, self.log.clone(), self.read_model.clone())
    }
}
