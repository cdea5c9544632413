//! Configuration: defaults, then a TOML file, then `STUDIO_*` environment
//! variables (nested keys joined by `__`, e.g. `STUDIO_AUTH__TOKEN_TTL_SECONDS`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;
use studio_domain::Role;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded log, read model, blobs and generated secrets live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// `sqlite` (embedded, in the data directory) or Apache Kafka,
    /// `kafka://host:port[,host:port...]` (see `[kafka]`).
    #[serde(default = "default_embedded")]
    pub event_log: String,
    #[serde(default)]
    pub kafka: KafkaSettings,
    /// `sqlite` (embedded, in the data directory) or a PostgreSQL URL,
    /// `postgres://user:password@host:port/database`.
    #[serde(default = "default_embedded")]
    pub read_model: String,
    /// The character graph: `sqlite` (embedded, `graph.db` in the data
    /// directory) or Neo4j, `bolt://host:port`.
    #[serde(default = "default_embedded")]
    pub graph: String,
    /// Neo4j's user (default `neo4j`) and password.
    pub graph_user: Option<String>,
    pub graph_password: Option<String>,
    /// The name of the graph in Neo4j (`g` on its nodes): several
    /// platforms, or a rebuild beside the live graph, share one database.
    #[serde(default = "default_graph_name")]
    pub graph_name: String,
    /// Where uploads, extracted texts and analyses are kept: `local` (a
    /// folder in the data directory) or `s3://bucket[/prefix]` on any
    /// S3-compatible object store.
    #[serde(default = "default_blobs")]
    pub blobs: String,
    /// The S3 endpoint, for anything but AWS itself (e.g. MinIO).
    pub s3_endpoint: Option<String>,
    #[serde(default = "default_region")]
    pub s3_region: String,
    /// Otherwise the usual AWS_* variables or instance credentials apply.
    pub s3_access_key: Option<String>,
    pub s3_secret_key: Option<String>,
    /// The vector read model of semantic search (LanceDB): `local` (the
    /// folder `vectors` in the data directory), another folder's path, an
    /// object-store URI `s3://bucket[/prefix]` (with the `s3_*`
    /// settings), or `off` (no vectors are made; semantic search answers
    /// that it is off).
    #[serde(default = "default_blobs")]
    pub vectors: String,
    /// Rows a vector table holds before it gets an approximate
    /// (IVF-HNSW-SQ) index; below it, searches are exact.
    #[serde(default = "default_vector_index_threshold")]
    pub vector_index_threshold: usize,
    /// Partitions of a new event log (embedded or Kafka; fixed once the
    /// log exists).
    #[serde(default = "default_partitions")]
    pub partitions: u32,
    /// Whether the embedded log syncs every commit to disk before it
    /// acknowledges (SQLite `synchronous=FULL`). Off, an acknowledged
    /// command survives a crash of the process but not a power cut that
    /// follows within moments, which is also what Kafka's defaults
    /// promise of a single broker. See docs/benchmarks.md for the cost.
    #[serde(default)]
    pub fsync_each_commit: bool,
    /// A tracing filter, e.g. `info` or `studio=debug,info`.
    #[serde(default = "default_log")]
    pub log: String,
    /// `text` or `json`.
    #[serde(default = "default_log_format")]
    pub log_format: String,
    #[serde(default)]
    pub auth: AuthSettings,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub privacy: PrivacySettings,
    #[serde(default)]
    pub processing: ProcessingSettings,
    #[serde(default)]
    pub embedder: EmbedderSettings,
}

/// What turns texts into vectors for semantic search.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbedderSettings {
    /// `minilm` (all-MiniLM-L6-v2 in-process, from `model_dir`), `openai`
    /// (any OpenAI-compatible `/v1/embeddings` endpoint: `url`, `model`,
    /// `dimension`, `api_key`) or `hashing` (deterministic, no model; for
    /// tests). Nothing falls back to another: a missing model is an error.
    #[serde(default = "default_embedder")]
    pub kind: String,
    /// The all-MiniLM-L6-v2 folder; default `<data_dir>/models/all-MiniLM-L6-v2`,
    /// where `infra/fetch-model.sh` puts it.
    pub model_dir: Option<PathBuf>,
    /// Up to and including `/v1`, e.g. `http://127.0.0.1:11434/v1`.
    pub url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<String>,
    /// The vectors' length: required for `openai`; 384 for `hashing`
    /// unless set; always 384 for `minilm`.
    pub dimension: Option<usize>,
    /// Texts embedded at once (one request to `openai`, one pass of the
    /// model for `minilm`).
    #[serde(default = "default_embed_batch")]
    pub batch: usize,
    /// How long `openai` may take to answer one request.
    #[serde(default = "default_embed_timeout_ms")]
    pub timeout_ms: u64,
}

impl Default for EmbedderSettings {
    fn default() -> Self {
        Self {
            kind: default_embedder(),
            model_dir: None,
            url: None,
            model: None,
            api_key: None,
            dimension: None,
            batch: default_embed_batch(),
            timeout_ms: default_embed_timeout_ms(),
        }
    }
}

fn default_embedder() -> String {
    "minilm".into()
}
fn default_embed_batch() -> usize {
    8
}
fn default_embed_timeout_ms() -> u64 {
    30_000
}

/// The event log on Kafka.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// Topics are `<prefix>.events`, `<prefix>.requests`, `<prefix>.replies`.
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: String,
    /// How long a command waits for its command processor before the
    /// client gets a retryable error.
    #[serde(default = "default_kafka_timeout")]
    pub request_timeout_ms: u64,
    /// Replicas of the topics `studio` creates (1 on a single broker).
    #[serde(default = "default_replication")]
    pub replication_factor: i32,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        Self {
            topic_prefix: default_topic_prefix(),
            request_timeout_ms: default_kafka_timeout(),
            replication_factor: default_replication(),
        }
    }
}

fn default_topic_prefix() -> String {
    "studio".into()
}
fn default_kafka_timeout() -> u64 {
    10_000
}
fn default_replication() -> i32 {
    1
}

/// The document pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessingSettings {
    /// Documents processed at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Longest one parsing or analysing step may take.
    #[serde(default = "default_step_timeout")]
    pub step_timeout_seconds: u64,
    /// Tries of a step that fails for a passing reason (a store out of
    /// reach) before the failure is recorded.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Characters mentioned fewer times are left out of a document's cast.
    #[serde(default = "default_min_mentions")]
    pub min_mentions: usize,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        Self {
            concurrency: default_concurrency(),
            step_timeout_seconds: default_step_timeout(),
            max_attempts: default_attempts(),
            min_mentions: default_min_mentions(),
        }
    }
}

fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}
fn default_step_timeout() -> u64 {
    120
}
fn default_attempts() -> u32 {
    5
}
fn default_min_mentions() -> usize {
    2
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacySettings {
    /// What happens to a forgotten person's documents and characters:
    /// `keep` (they stay, with nothing left that says who made them) or
    /// `delete`.
    #[serde(default = "default_forgotten_work")]
    pub forgotten_work: String,
}

impl Default for PrivacySettings {
    fn default() -> Self {
        Self {
            forgotten_work: default_forgotten_work(),
        }
    }
}

fn default_forgotten_work() -> String {
    "keep".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Signs access tokens; at least 32 bytes. Generated into the data
    /// directory on first start when absent.
    pub token_secret: Option<String>,
    /// Derives user ids from e-mail addresses; must never change once users
    /// exist. Generated into the data directory on first start when absent.
    pub identity_key: Option<String>,
    #[serde(default = "default_ttl")]
    pub token_ttl_seconds: u64,
    /// Whether anyone may register; otherwise only admins register others.
    #[serde(default = "default_true")]
    pub open_registration: bool,
    /// The role of people who register themselves: `editor` or `viewer`.
    #[serde(default = "default_role")]
    pub self_service_role: String,
    /// An admin created at start-up when missing.
    pub bootstrap_admin_email: Option<String>,
    pub bootstrap_admin_password: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "default_upload_bytes")]
    pub upload_bytes: u64,
    /// How long a read with a position token waits for the read model.
    #[serde(default = "default_read_wait_ms")]
    pub read_wait_ms: u64,
    /// All entries of an EPUB or DOCX once decompressed (a zip bomb is
    /// refused, not expanded).
    #[serde(default = "default_decompressed_bytes")]
    pub decompressed_bytes: u64,
    /// Entries of an EPUB or DOCX archive.
    #[serde(default = "default_archive_entries")]
    pub archive_entries: usize,
    /// Pages of a PDF.
    #[serde(default = "default_pdf_pages")]
    pub pdf_pages: u32,
    /// Characters of extracted text.
    #[serde(default = "default_text_chars")]
    pub text_chars: u64,
}

fn default_decompressed_bytes() -> u64 {
    256 * 1024 * 1024
}
fn default_archive_entries() -> usize {
    10_000
}
fn default_pdf_pages() -> u32 {
    5_000
}
fn default_text_chars() -> u64 {
    50_000_000
}

fn default_graph_name() -> String {
    "studio".into()
}
fn default_blobs() -> String {
    "local".into()
}
fn default_vector_index_threshold() -> usize {
    studio_vectors_lancedb::DEFAULT_INDEX_THRESHOLD
}
fn default_region() -> String {
    "us-east-1".into()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("./data")
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_embedded() -> String {
    "sqlite".into()
}
fn default_partitions() -> u32 {
    8
}
fn default_log() -> String {
    "info".into()
}
fn default_log_format() -> String {
    "text".into()
}
fn default_ttl() -> u64 {
    3600
}
fn default_true() -> bool {
    true
}
fn default_role() -> String {
    "editor".into()
}
fn default_upload_bytes() -> u64 {
    100 * 1024 * 1024
}
fn default_read_wait_ms() -> u64 {
    5000
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            token_secret: None,
            identity_key: None,
            token_ttl_seconds: default_ttl(),
            open_registration: true,
            self_service_role: default_role(),
            bootstrap_admin_email: None,
            bootstrap_admin_password: None,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            upload_bytes: default_upload_bytes(),
            read_wait_ms: default_read_wait_ms(),
            decompressed_bytes: default_decompressed_bytes(),
            archive_entries: default_archive_entries(),
            pdf_pages: default_pdf_pages(),
            text_chars: default_text_chars(),
        }
    }
}

impl Settings {
    /// Defaults, then the file (if given or if `studio.toml` exists), then
    /// the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        match file {
            Some(path) => {
                if !path.is_file() {
                    bail!("no configuration file at {}", path.display());
                }
                builder = builder.add_source(config::File::from(path));
            }
            None => {
                builder =
                    builder.add_source(config::File::with_name("studio.toml").required(false));
            }
        }
        let settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("STUDIO")
                    .prefix_separator("_")
                    .separator("__")
                    .try_parsing(true),
            )
            .build()
            .context("reading the configuration")?
            .try_deserialize()
            .context("the configuration is invalid")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.event_log != "sqlite" && self.kafka_brokers().is_none() {
            bail!(
                "event_log {:?} is not available: use \"sqlite\" (embedded) or kafka://host:port",
                self.event_log
            );
        }
        let prefix = &self.kafka.topic_prefix;
        if prefix.is_empty()
            || prefix.len() > 200
            || !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            bail!("kafka.topic_prefix must be 1 to 200 of [a-zA-Z0-9._-]");
        }
        if self.kafka.request_timeout_ms == 0 || self.kafka.replication_factor < 1 {
            bail!("kafka.request_timeout_ms and kafka.replication_factor must be at least 1");
        }
        if self.read_model != "sqlite" && self.postgres_read_model().is_none() {
            bail!(
                "read_model {:?} is not available: use \"sqlite\" (embedded) or a postgres:// URL",
                self.read_model
            );
        }
        if self.graph != "sqlite" {
            if self.neo4j().is_none() {
                bail!(
                    "graph {:?} is not available: use \"sqlite\" (embedded) or bolt://host:port",
                    self.graph
                );
            }
            if self.graph_password.as_deref().is_none_or(str::is_empty) {
                bail!("graph_password is required for Neo4j (STUDIO_GRAPH_PASSWORD)");
            }
        }
        if !valid_graph_name(&self.graph_name) {
            bail!("graph_name must be 1 to 100 of [a-zA-Z0-9._-]");
        }
        self.validate_embedder()?;
        if self.blobs != "local" && !self.blobs.starts_with("s3://") {
            bail!(
                "blobs {:?} is not available: use \"local\" or \"s3://bucket[/prefix]\"",
                self.blobs
            );
        }
        if self.vectors.is_empty()
            || (self.vectors.contains("://") && !self.vectors.starts_with("s3://"))
        {
            bail!(
                "vectors {:?} is not available: use \"local\", a folder, \"s3://bucket[/prefix]\" or \"off\"",
                self.vectors
            );
        }
        if self.vector_index_threshold < 256 {
            bail!("vector_index_threshold must be at least 256 (an index needs rows to train on)");
        }
        if !(1..=1024).contains(&self.partitions) {
            bail!("partitions must be between 1 and 1024");
        }
        match Role::parse(&self.auth.self_service_role) {
            Some(Role::Editor | Role::Viewer) => {}
            _ => bail!("auth.self_service_role must be \"editor\" or \"viewer\""),
        }
        if self.auth.bootstrap_admin_email.is_some() != self.auth.bootstrap_admin_password.is_some()
        {
            bail!(
                "set both auth.bootstrap_admin_email and auth.bootstrap_admin_password, or neither"
            );
        }
        if !matches!(self.privacy.forgotten_work.as_str(), "keep" | "delete") {
            bail!("privacy.forgotten_work must be \"keep\" or \"delete\"");
        }
        if self.processing.concurrency == 0 || self.processing.max_attempts == 0 {
            bail!("processing.concurrency and processing.max_attempts must be at least 1");
        }
        if self.processing.step_timeout_seconds == 0 {
            bail!("processing.step_timeout_seconds must be at least 1");
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("log_format must be \"text\" or \"json\"");
        }
        Ok(())
    }

    /// Where the vector read model lives, unless it is off.
    pub fn vectors_location(&self) -> Option<studio_vectors_lancedb::Location> {
        match self.vectors.as_str() {
            "off" => None,
            "local" => Some(studio_vectors_lancedb::Location::folder(
                &self.data_dir.join("vectors"),
            )),
            uri if uri.starts_with("s3://") => Some(self.object_store_location(uri)),
            folder => Some(studio_vectors_lancedb::Location::folder(Path::new(folder))),
        }
    }

    /// An object-store URI with the `s3_*` settings as LanceDB's options.
    pub fn object_store_location(&self, uri: &str) -> studio_vectors_lancedb::Location {
        let mut options = vec![("aws_region".to_owned(), self.s3_region.clone())];
        if let Some(endpoint) = &self.s3_endpoint {
            options.push(("aws_endpoint".to_owned(), endpoint.clone()));
            options.push((
                "allow_http".to_owned(),
                endpoint.starts_with("http://").to_string(),
            ));
        }
        if let Some(key) = &self.s3_access_key {
            options.push(("aws_access_key_id".to_owned(), key.clone()));
        }
        if let Some(secret) = &self.s3_secret_key {
            options.push(("aws_secret_access_key".to_owned(), secret.clone()));
        }
        studio_vectors_lancedb::Location {
            uri: uri.to_owned(),
            storage_options: options,
        }
    }

    pub fn forgotten_work(&self) -> studio_command_api::ForgottenWork {
        if self.privacy.forgotten_work == "delete" {
            studio_command_api::ForgottenWork::Delete
        } else {
            studio_command_api::ForgottenWork::Keep
        }
    }

    /// The brokers of the Kafka log, when the log is not embedded.
    pub fn kafka_brokers(&self) -> Option<&str> {
        self.event_log
            .strip_prefix("kafka://")
            .filter(|brokers| !brokers.is_empty() && !brokers.contains('/'))
    }

    /// The Kafka log's settings, when the log is on Kafka.
    pub fn kafka_log(&self) -> Option<studio_kafka_log::KafkaConfig> {
        self.kafka_brokers().map(|brokers| {
            let mut config = studio_kafka_log::KafkaConfig::new(
                brokers,
                self.kafka.topic_prefix.clone(),
                self.partitions,
            );
            config.request_timeout =
                std::time::Duration::from_millis(self.kafka.request_timeout_ms);
            config.replication_factor = self.kafka.replication_factor;
            config
        })
    }

    /// Neo4j's settings, when the graph is not embedded.
    pub fn neo4j(&self) -> Option<studio_graph_neo4j::Neo4jSettings> {
        let address = self.graph.strip_prefix("bolt://")?;
        if address.is_empty() || address.contains('/') {
            return None;
        }
        Some(studio_graph_neo4j::Neo4jSettings {
            uri: self.graph.clone(),
            user: self.graph_user.clone().unwrap_or_else(|| "neo4j".into()),
            password: self.graph_password.clone().unwrap_or_default(),
            graph: self.graph_name.clone(),
        })
    }

    /// The PostgreSQL URL of the read model, when it is not embedded.
    pub fn postgres_read_model(&self) -> Option<&str> {
        let url = self.read_model.as_str();
        (url.starts_with("postgres://") || url.starts_with("postgresql://")).then_some(url)
    }

    /// What a document may cost to read.
    pub fn extract_limits(&self) -> studio_extract::Limits {
        studio_extract::Limits {
            max_input_bytes: self.limits.upload_bytes,
            max_decompressed_bytes: self.limits.decompressed_bytes,
            max_entries: self.limits.archive_entries,
            max_pages: self.limits.pdf_pages,
            max_text_chars: self.limits.text_chars,
        }
    }

    pub fn pipeline(&self) -> studio_processing::PipelineConfig {
        studio_processing::PipelineConfig {
            limits: self.extract_limits(),
            step_timeout: std::time::Duration::from_secs(self.processing.step_timeout_seconds),
            max_attempts: self.processing.max_attempts,
            min_mentions: self.processing.min_mentions,
            ..studio_processing::PipelineConfig::default()
        }
    }

    pub fn self_service_role(&self) -> Role {
        Role::parse(&self.auth.self_service_role).unwrap_or(Role::Editor)
    }
}

impl Settings {
    fn validate_embedder(&self) -> anyhow::Result<()> {
        let e = &self.embedder;
        if !(1..=1024).contains(&e.batch) {
            bail!("embedder.batch must be 1 to 1024");
        }
        if e.timeout_ms == 0 {
            bail!("embedder.timeout_ms must be at least 1");
        }
        match e.kind.as_str() {
            "minilm" => {
                if e.dimension.is_some_and(|d| d != 384) {
                    bail!("embedder.dimension: all-MiniLM-L6-v2 makes 384-dimensional vectors");
                }
            }
            "hashing" => {}
            "openai" => {
                if e.url.as_deref().is_none_or(str::is_empty) {
                    bail!(
                        "embedder.url is required for the openai embedder (STUDIO_EMBEDDER__URL)"
                    );
                }
                if e.model.as_deref().is_none_or(str::is_empty) {
                    bail!(
                        "embedder.model is required for the openai embedder (STUDIO_EMBEDDER__MODEL)"
                    );
                }
                if e.dimension.is_none() {
                    bail!(
                        "embedder.dimension is required for the openai embedder (STUDIO_EMBEDDER__DIMENSION)"
                    );
                }
            }
            other => bail!("embedder.kind {other:?}: use minilm, openai or hashing"),
        }
        if e.dimension == Some(0) {
            bail!("embedder.dimension must be at least 1");
        }
        Ok(())
    }

    /// Where the all-MiniLM-L6-v2 files are read from.
    pub fn minilm_dir(&self) -> PathBuf {
        self.embedder
            .model_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("models").join("all-MiniLM-L6-v2"))
    }
}

pub fn valid_graph_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml: &str) -> anyhow::Result<Settings> {
        let settings: Settings = config::Config::builder()
            .add_source(config::File::from_str(toml, config::FileFormat::Toml))
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    #[test]
    fn a_kafka_log_is_configured_from_its_url_and_section() {
        let s = settings(
            r#"
            event_log = "kafka://10.0.0.1:9092,10.0.0.2:9092"
            partitions = 12
            [kafka]
            topic_prefix = "books.prod"
            request_timeout_ms = 2500
            "#,
        )
        .expect("valid");
        let kafka = s.kafka_log().expect("a Kafka log");
        assert_eq!(kafka.brokers, "10.0.0.1:9092,10.0.0.2:9092");
        assert_eq!(kafka.topic_prefix, "books.prod");
        assert_eq!(kafka.partitions, 12);
        assert_eq!(
            kafka.request_timeout,
            std::time::Duration::from_millis(2500)
        );
        assert_eq!(kafka.events_topic(), "books.prod.events");
        assert!(settings("").expect("defaults").kafka_log().is_none());
    }

    #[test]
    fn bad_event_log_settings_are_refused_with_the_reason() {
        for (toml, says) in [
            (r#"event_log = "kafka://""#, "event_log"),
            (r#"event_log = "kafka://host:9092/path""#, "event_log"),
            (r#"event_log = "redis://host""#, "event_log"),
            (r#"event_log = "KAFKA://host:9092""#, "event_log"),
            ("[kafka]\ntopic_prefix = \"\"", "topic_prefix"),
            ("[kafka]\ntopic_prefix = \"two words\"", "topic_prefix"),
            ("[kafka]\ntopic_prefix = \"../etc\"", "topic_prefix"),
            ("[kafka]\nrequest_timeout_ms = 0", "request_timeout_ms"),
            ("[kafka]\nreplication_factor = 0", "replication_factor"),
            ("[kafka]\nbrokers = \"x\"", "unknown field"),
            ("partitions = 0", "partitions"),
            (r#"graph = "neo4j://host:7687""#, "graph"),
            (r#"graph = "bolt://""#, "graph"),
            (r#"graph = "bolt://host:7687""#, "graph_password"),
            ("graph_name = \"a b\"", "graph_name"),
            ("[embedder]\nkind = \"word2vec\"", "embedder.kind"),
            ("[embedder]\nkind = \"openai\"", "embedder.url"),
            (
                "[embedder]\nkind = \"openai\"\nurl = \"http://h/v1\"",
                "embedder.model",
            ),
            (
                "[embedder]\nkind = \"openai\"\nurl = \"http://h/v1\"\nmodel = \"m\"",
                "embedder.dimension",
            ),
            ("[embedder]\ndimension = 768", "384"),
            (
                "[embedder]\nkind = \"hashing\"\ndimension = 0",
                "embedder.dimension",
            ),
            ("[embedder]\nbatch = 0", "embedder.batch"),
            (r#"vectors = "qdrant://host:6334""#, "vectors"),
            ("vectors = \"\"", "vectors"),
            ("vector_index_threshold = 10", "vector_index_threshold"),
            ("[embedder]\nmodel_path = \"x\"", "unknown field"),
        ] {
            let refused = settings(toml).expect_err(toml);
            assert!(format!("{refused:#}").contains(says), "{toml}: {refused:#}");
        }
    }
}
