//! The composition root: opens the adapters the settings name and wires
//! them into the services and routers of each role. Nothing else in the
//! workspace knows which adapters run.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::Utc;
use studio_auth::{Passwords, Tokens, UserIdDeriver};
use studio_blob_store::BlobStore;
use studio_blob_store::local::LocalBlobStore;
use studio_command_api::http::CommandApi;
use studio_command_api::{CommandError, CommandMeta, CommandService, ForgottenWork, forget_user};
use studio_domain::DomainError;
use studio_domain::user::{RegisterUser, Registrar, UserAggregate, UserCommand};
use studio_domain::{Role, rules};
use studio_event_log::EventLog;
use studio_event_log::sqlite::{SqliteEventLog, SqliteLogOptions};
use studio_graph_neo4j::Neo4jGraph;
use studio_kafka_log::{CommandProcessor, KafkaConfig, KafkaEventLog};
use studio_object_store::{ObjectBlobStore, S3Settings};
use studio_privacy::{PersonalData, SqliteKeyStore};
use studio_processing::{Pipeline, Processor, SqliteCheckpoints};
use studio_projections::graph::GraphStore;
use studio_projections::graph::embedded::EmbeddedGraph;
use studio_projections::relational::{Relational, WatchedProgress};
use studio_projections::vectors::VectorProjection;
use studio_projections::{ProgressFeed, Projection, ReadModel};
use studio_query_api::{Administration, AdministrationError, ForgetSummary, QueryApi, Vectors};
use studio_vectors_lancedb::LanceVectors;
use uuid::Uuid;

use crate::config::Settings;
use crate::secrets::secret;

/// What a process writes; one process per store writes it.
#[derive(Clone, Copy, Debug)]
pub enum Store {
    EventLog,
    ReadModel,
    /// The document pipeline's checkpoint.
    Processor,
    /// A command processor's copy of its partitions (Kafka log).
    CommandProcessor,
    /// The embedded character graph.
    Graph,
    /// The vector read model in a local folder.
    Vectors,
}

impl Store {
    fn lock_name(self) -> &'static str {
        match self {
            Self::EventLog => "events.lock",
            Self::ReadModel => "read-model.lock",
            Self::Processor => "processor.lock",
            Self::CommandProcessor => "command-processor.lock",
            Self::Graph => "graph.lock",
            Self::Vectors => "vectors.lock",
        }
    }

    fn writers(self) -> &'static str {
        match self {
            Self::EventLog => "the event log (studio serve or studio command-api)",
            Self::ReadModel => "the read model (studio serve, studio projector or studio replay)",
            Self::Processor => "the document pipeline (studio serve or studio processor)",
            Self::Graph => "the embedded graph (studio serve, or studio projector graph)",
            Self::Vectors => {
                "the vectors (studio serve, studio projector lancedb or studio replay lancedb)"
            }
            Self::CommandProcessor => {
                "a command processor's store (studio serve or studio command-processor); \
                 give each command processor a data directory of its own"
            }
        }
    }
}

/// Takes the right to write `store` for the life of the returned file, or
/// explains who has it.
pub fn lock(settings: &Settings, store: Store) -> anyhow::Result<File> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "creating the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let path = settings.data_dir.join(store.lock_name());
    let file = File::create(&path).with_context(|| format!("opening {}", path.display()))?;
    if file.try_lock().is_err() {
        bail!(
            "another studio process writes {} in {}; stop it first",
            store.writers(),
            settings.data_dir.display()
        );
    }
    Ok(file)
}

/// The embedded log's writer lock. A Kafka log needs none: its command
/// processors order the writes, whichever processes send them.
pub fn log_lock(settings: &Settings) -> anyhow::Result<Option<File>> {
    if settings.kafka_brokers().is_some() {
        return Ok(None);
    }
    lock(settings, Store::EventLog).map(Some)
}

pub fn event_log_path(settings: &Settings) -> PathBuf {
    settings.data_dir.join("events.db")
}

pub fn read_model_path(settings: &Settings) -> PathBuf {
    settings.data_dir.join("read-model.db")
}

/// The log, for appending (the process must hold `log_lock`).
pub async fn log_writer(settings: &Settings) -> anyhow::Result<Arc<dyn EventLog>> {
    if let Some(config) = settings.kafka_log() {
        return kafka_log(config).await;
    }
    let path = event_log_path(settings);
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

/// The log, for reading and tailing what another process appends.
pub async fn log_reader(settings: &Settings) -> anyhow::Result<Arc<dyn EventLog>> {
    if let Some(config) = settings.kafka_log() {
        return kafka_log(config).await;
    }
    let path = event_log_path(settings);
    let log = SqliteEventLog::open_reader(&path)
        .await
        .with_context(|| format!("opening the event log {}", path.display()))?;
    Ok(Arc::new(log))
}

/// Connects, waiting (up to a minute) while the broker is starting or
/// the topics are just being created.
async fn kafka_log(config: KafkaConfig) -> anyhow::Result<Arc<dyn EventLog>> {
    let brokers = config.brokers.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match KafkaEventLog::connect(config.clone()).await {
            Ok(log) => return Ok(Arc::new(log)),
            Err(e) if e.is_retryable() && tokio::time::Instant::now() < deadline => {
                tracing::info!(reason = %e, "the event log is not answering yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("connecting to the event log on Kafka at {brokers}"));
            }
        }
    }
}

/// The owner of some of the Kafka log's partitions, with its store in the
/// data directory (the process must hold the command processor's lock).
pub async fn command_processor(settings: &Settings) -> anyhow::Result<CommandProcessor> {
    let Some(config) = settings.kafka_log() else {
        bail!(
            "the event log is embedded (event_log = \"sqlite\"), which needs no command processor: \
             set event_log to kafka://host:port"
        );
    };
    let path = settings.data_dir.join("command-processor.db");
    CommandProcessor::open(config, &path)
        .await
        .with_context(|| format!("starting a command processor (store {})", path.display()))
}

/// Personal data sealing, with the key store under the data directory.
pub async fn personal_data(settings: &Settings) -> anyhow::Result<Arc<PersonalData>> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "creating the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let path = settings.data_dir.join("keys.db");
    let keys = SqliteKeyStore::open(&path)
        .await
        .with_context(|| format!("opening the key store {}", path.display()))?;
    Ok(Arc::new(PersonalData::new(Arc::new(keys))))
}

pub async fn read_model_writer(
    settings: &Settings,
    personal: Arc<PersonalData>,
    blobs: Arc<dyn BlobStore>,
) -> anyhow::Result<Arc<Relational>> {
    if let Some(url) = settings.postgres_read_model() {
        let read_model = Relational::open_postgres(url, personal, blobs)
            .await
            .context("opening the read model on PostgreSQL")?;
        return Ok(Arc::new(read_model));
    }
    let path = read_model_path(settings);
    let read_model = Relational::open_sqlite(&path, personal, blobs)
        .await
        .with_context(|| format!("opening the read model {}", path.display()))?;
    Ok(Arc::new(read_model))
}

pub fn graph_path(settings: &Settings) -> PathBuf {
    settings.data_dir.join("graph.db")
}

/// The character graph, as a store to ask and a projection to feed.
#[derive(Clone)]
pub struct GraphSide {
    pub store: Arc<dyn GraphStore>,
    pub projection: Arc<dyn Projection>,
}

impl GraphSide {
    fn of<G: GraphStore + Projection>(graph: G) -> Self {
        let graph = Arc::new(graph);
        Self {
            store: graph.clone(),
            projection: graph,
        }
    }
}

/// The graph the settings name: Neo4j, or the embedded file.
pub async fn graph(settings: &Settings) -> anyhow::Result<GraphSide> {
    if let Some(neo4j) = settings.neo4j() {
        let graph = Neo4jGraph::connect(&neo4j)
            .await
            .with_context(|| format!("connecting to Neo4j at {}", neo4j.uri))?;
        return Ok(GraphSide::of(graph));
    }
    let path = graph_path(settings);
    let graph = EmbeddedGraph::open(&path)
        .await
        .with_context(|| format!("opening the graph {}", path.display()))?;
    Ok(GraphSide::of(graph))
}

/// The vectors the settings name, unless they are off. The store holds
/// vectors of the embedder's dimension.
pub async fn vectors(settings: &Settings) -> anyhow::Result<Option<Vectors>> {
    let Some(location) = settings.vectors_location() else {
        return Ok(None);
    };
    let embedder = crate::embed::embedder(settings).await?;
    let store = LanceVectors::open(
        &location,
        embedder.model(),
        embedder.dimension(),
        settings.vector_index_threshold,
    )
    .await
    .with_context(|| format!("opening the vectors at {}", location.uri))?;
    Ok(Some(Vectors {
        store: Arc::new(store),
        embedder,
    }))
}

/// The vector projection: the log's texts and characters into `side`.
pub fn vector_projection(
    settings: &Settings,
    side: &Vectors,
    blobs: Arc<dyn BlobStore>,
) -> Arc<VectorProjection> {
    Arc::new(VectorProjection::new(
        side.store.clone(),
        side.embedder.clone(),
        blobs,
        // UTF-8 takes at most four bytes a character.
        settings.limits.text_chars.saturating_mul(4),
    ))
}

/// What a projector in another process applied, followed live: by file
/// notifications on SQLite, by LISTEN/NOTIFY on PostgreSQL.
pub async fn watched_progress(
    settings: &Settings,
    read_model: Arc<Relational>,
) -> anyhow::Result<WatchedProgress> {
    let progress = match settings.postgres_read_model() {
        Some(url) => WatchedProgress::for_postgres(read_model, url).await,
        None => WatchedProgress::for_file(read_model, &read_model_path(settings)).await,
    };
    progress.context("following the read model")
}

/// The read model a projector process writes. A query API started before
/// its projector waits (up to a minute) for the projector to create it.
pub async fn read_model_reader(settings: &Settings) -> anyhow::Result<Arc<Relational>> {
    if let Some(url) = settings.postgres_read_model() {
        let read_model = Relational::open_postgres_reader(url)
            .await
            .context("opening the read model on PostgreSQL")?;
        return Ok(Arc::new(read_model));
    }
    let path = read_model_path(settings);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut announced = false;
    loop {
        match Relational::open_sqlite_reader(&path).await {
            Ok(read_model) => return Ok(Arc::new(read_model)),
            Err(e) if tokio::time::Instant::now() < deadline => {
                if !announced {
                    tracing::info!(reason = %e, "waiting for the projector to create the read model");
                    announced = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("opening the read model {}", path.display()));
            }
        }
    }
}

pub async fn blobs(settings: &Settings) -> anyhow::Result<Arc<dyn BlobStore>> {
    if settings.blobs.starts_with("s3://") {
        let store = ObjectBlobStore::s3(&S3Settings {
            url: settings.blobs.clone(),
            endpoint: settings.s3_endpoint.clone(),
            region: settings.s3_region.clone(),
            access_key_id: settings.s3_access_key.clone(),
            secret_access_key: settings.s3_secret_key.clone(),
        })
        .with_context(|| format!("opening the blob store {}", settings.blobs))?;
        return Ok(Arc::new(store));
    }
    let store = LocalBlobStore::open(&settings.data_dir.join("blobs"))
        .await
        .context("opening the blob store")?;
    Ok(Arc::new(store))
}

/// The document pipeline: commands through `service`, blobs, and the read
/// model (to join detected characters to the owner's) with its progress.
/// The process must hold the processor's lock.
pub async fn processor(
    settings: &Settings,
    service: Arc<CommandService>,
    blobs: Arc<dyn BlobStore>,
    read: Arc<dyn ReadModel>,
    progress: Arc<dyn ProgressFeed>,
) -> anyhow::Result<Processor> {
    let path = settings.data_dir.join("processor.db");
    let checkpoints = SqliteCheckpoints::open(&path)
        .await
        .with_context(|| format!("opening the pipeline checkpoint {}", path.display()))?;
    let log = service.log().clone();
    let pipeline = Pipeline::new(service, blobs, read, progress, settings.pipeline());
    Ok(Processor::new(
        log,
        Arc::new(pipeline),
        Arc::new(checkpoints),
        settings.processing.concurrency,
    ))
}

/// Token signing and user-id derivation, from configured or generated secrets.
#[derive(Clone)]
pub struct Identity {
    pub tokens: Tokens,
    pub user_ids: UserIdDeriver,
}

impl Identity {
    pub fn load(settings: &Settings) -> anyhow::Result<Self> {
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
        Ok(Self { tokens, user_ids })
    }
}

/// The envelope `source` of what a role records.
pub fn source(role: &str) -> String {
    format!("urn:studio:{role}")
}

pub fn command_api(
    settings: &Settings,
    identity: &Identity,
    service: Arc<CommandService>,
    blobs: Arc<dyn BlobStore>,
) -> CommandApi {
    CommandApi {
        service,
        blobs,
        tokens: identity.tokens.clone(),
        passwords: Passwords,
        user_ids: identity.user_ids.clone(),
        upload_limit: settings.limits.upload_bytes,
        self_service_role: settings.self_service_role(),
        open_registration: settings.auth.open_registration,
    }
}

/// What the query side reads: the log (for lag), the read model and its
/// progress, blobs (texts), and the key store (to open personal data).
pub struct ReadSide {
    pub log: Arc<dyn EventLog>,
    pub read_model: Arc<Relational>,
    pub graph: Arc<dyn GraphStore>,
    pub progress: Arc<dyn ProgressFeed>,
    pub blobs: Arc<dyn BlobStore>,
    pub personal: Arc<PersonalData>,
    /// Semantic search, unless the vectors are off.
    pub vectors: Option<Vectors>,
}

pub fn query_api(
    settings: &Settings,
    identity: &Identity,
    reads: ReadSide,
    administration: Option<Arc<dyn Administration>>,
) -> QueryApi {
    let ReadSide {
        log,
        read_model,
        graph,
        progress,
        blobs,
        personal,
        vectors,
    } = reads;
    QueryApi {
        read: read_model,
        graph,
        log,
        personal,
        administration,
        progress,
        blobs,
        vectors,
        tokens: identity.tokens.clone(),
        consistency_wait: Duration::from_millis(settings.limits.read_wait_ms),
        text_limit: settings.limits.upload_bytes,
    }
}

/// The administrative commands of GraphQL, where the process runs the
/// command side.
pub struct Admin {
    pub service: Arc<CommandService>,
    pub default_work: ForgottenWork,
}

#[async_trait::async_trait]
impl Administration for Admin {
    async fn forget_user(
        &self,
        admin: studio_auth::Principal,
        user: Uuid,
        delete_work: Option<bool>,
    ) -> Result<ForgetSummary, AdministrationError> {
        let work = match delete_work {
            Some(true) => ForgottenWork::Delete,
            Some(false) => ForgottenWork::Keep,
            None => self.default_work,
        };
        let report = forget_user(
            &self.service,
            studio_domain::UserId::from_uuid(user),
            admin.actor(),
            admin.user_id.to_string(),
            work,
        )
        .await
        .map_err(|e| match e {
            CommandError::Domain(DomainError::NotFound(_)) => AdministrationError::NotFound,
            other => AdministrationError::Failed(other.to_string()),
        })?;
        Ok(ForgetSummary {
            key_destroyed: report.key_destroyed,
            documents_deleted: report.documents_deleted,
            characters_deleted: report.characters_deleted,
        })
    }
}

/// Registers the configured admin unless that address already exists.
pub async fn bootstrap_admin(
    settings: &Settings,
    identity: &Identity,
    service: &CommandService,
) -> anyhow::Result<()> {
    let (Some(email), Some(password)) = (
        settings.auth.bootstrap_admin_email.as_deref(),
        settings.auth.bootstrap_admin_password.clone(),
    ) else {
        return Ok(());
    };
    let email = rules::email(email).context("auth.bootstrap_admin_email")?;
    let user_id = identity.user_ids.user_id(&email);
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
    // A log on Kafka answers once its command processors hold their
    // partitions, which at a cold start can take a few seconds: retried
    // (the same command id, so at most once) for up to a minute.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match service
            .execute::<UserAggregate>(user_id, &meta, vec![command.clone()])
            .await
        {
            Ok(_) => tracing::info!(%user_id, "registered the bootstrap admin"),
            Err(CommandError::Domain(DomainError::AlreadyExists(_))) => {}
            Err(CommandError::Log(e))
                if e.is_retryable() && tokio::time::Instant::now() < deadline =>
            {
                tracing::info!(reason = %e, "the event log is not answering yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            Err(e) => return Err(e).context("registering the bootstrap admin"),
        }
        return Ok(());
    }
}
