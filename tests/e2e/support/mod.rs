//! A real `studio serve` in a temporary data directory, and clients that
//! talk to it over real HTTP and a real WebSocket.

#![allow(dead_code)]

pub mod graphql_ws;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

pub const TOKEN_SECRET: &str = "test-token-secret-of-at-least-32-bytes!!";
pub const ADMIN_EMAIL: &str = "admin@studio.test";
pub const ADMIN_PASSWORD: &str = "admin password";

pub struct Server {
    pub dir: PathBuf,
    /// The read model's database, when the suite runs on PostgreSQL.
    pub read_model_url: Option<String>,
    /// The log's topics (`<prefix>.events`...), when the suite runs on Kafka.
    pub kafka_prefix: Option<String>,
    /// The command processor a `command-api` needs beside it on Kafka.
    companion: Option<Child>,
    pub base: String,
    port: u16,
    role: &'static str,
    /// Arguments after the role (`projector neo4j`).
    role_args: Vec<&'static str>,
    /// Settings of this process beyond the suite's (a Neo4j graph).
    extra_env: Vec<(String, String)>,
    child: Option<Child>,
    _temp: Option<tempfile::TempDir>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub fn studio() -> Command {
    Command::new(env!("CARGO_BIN_EXE_studio"))
}

/// The PostgreSQL server the suite runs its read models on, when it runs on
/// one (`E2E_POSTGRES_URL`, an admin URL; the test command sets it for
/// its second pass); embedded otherwise.
pub fn e2e_postgres() -> Option<String> {
    std::env::var("E2E_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The Kafka broker the suite runs its event logs on, when it runs on
/// one (`E2E_KAFKA_URL`, `kafka://host:port`; the test command sets it for
/// its second pass); embedded otherwise.
pub fn e2e_kafka() -> Option<String> {
    std::env::var("E2E_KAFKA_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The Neo4j the suite may use (`STUDIO_GRAPH`, `STUDIO_GRAPH_USER`,
/// `STUDIO_GRAPH_PASSWORD`, as `infra/local/up.sh neo4j` prints them);
/// servers run the embedded graph unless a test asks for this one.
pub fn e2e_neo4j() -> Option<Vec<(String, String)>> {
    ["STUDIO_GRAPH", "STUDIO_GRAPH_USER", "STUDIO_GRAPH_PASSWORD"]
        .into_iter()
        .map(|name| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| (name.to_owned(), v))
        })
        .collect()
}

/// Something a data directory keeps for every role started on it: made
/// once by `make`, then read back.
fn remembered(dir: &Path, name: &str, make: impl FnOnce() -> String) -> String {
    let marker = dir.join(name);
    if let Ok(value) = std::fs::read_to_string(&marker) {
        return value;
    }
    let value = make();
    std::fs::create_dir_all(dir).expect("the data directory");
    std::fs::write(&marker, &value).expect("remember the setting");
    value
}

/// The log of a data directory, as `studio` opens it for reading: the
/// embedded file, or the directory's topics on the suite's Kafka.
pub async fn open_log(dir: &Path) -> std::sync::Arc<dyn studio_event_log::EventLog> {
    match e2e_kafka() {
        Some(url) => {
            let prefix = remembered(dir, "e2e-kafka-prefix", kafka_prefix);
            let log = studio_kafka_log::KafkaEventLog::connect(kafka_config(&url, &prefix))
                .await
                .expect("connect to Kafka");
            std::sync::Arc::new(log)
        }
        None => {
            let log = studio_event_log::sqlite::SqliteEventLog::open_reader(&dir.join("events.db"))
                .await
                .expect("open the log");
            std::sync::Arc::new(log)
        }
    }
}

pub fn kafka_config(url: &str, prefix: &str) -> studio_kafka_log::KafkaConfig {
    let brokers = url.strip_prefix("kafka://").expect("a kafka:// URL");
    studio_kafka_log::KafkaConfig::new(brokers, prefix, KAFKA_PARTITIONS)
}

/// As embedded (the default of `studio`).
const KAFKA_PARTITIONS: u32 = 8;

fn kafka_prefix() -> String {
    format!("studio-e2e-{}", uuid::Uuid::new_v4().simple())
}

/// Every event of a log, in partition and offset order.
pub async fn all_events(
    log: &dyn studio_event_log::EventLog,
) -> Vec<studio_event_log::StoredEvent> {
    let ends = log.end_offsets().await.expect("end offsets");
    let mut cursor = log
        .cursor(std::collections::BTreeMap::new())
        .await
        .expect("a cursor");
    let mut events = Vec::new();
    while ends
        .iter()
        .any(|(p, end)| cursor.next_offsets().get(p).copied().unwrap_or(0) < *end)
    {
        let batch = cursor
            .next_batch(10_000, Duration::from_secs(1))
            .await
            .expect("read the log");
        assert!(!batch.is_empty(), "the log ended before its end offsets");
        events.extend(batch);
    }
    events.sort_by_key(|e| (e.position.partition, e.position.offset));
    events
}

/// A fresh database on the suite's PostgreSQL server; its URL.
pub async fn fresh_database(base: &str) -> String {
    use sqlx::Connection;
    let name = format!("studio_e2e_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(base)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create a database");
    let (prefix, _) = base.rsplit_once('/').expect("a database URL");
    format!("{prefix}/{name}")
}

impl Server {
    pub async fn start() -> Server {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_owned();
        let mut server = Server::start_in(&dir).await;
        server._temp = Some(temp);
        server
    }

    pub async fn start_in(dir: &Path) -> Server {
        Server::start_role_in(dir, "serve").await
    }

    /// One role (`serve`, `command-api`, `projector`, `processor`,
    /// `query-api`) on `dir`.
    pub async fn start_role_in(dir: &Path, role: &'static str) -> Server {
        Server::launch(dir, role, &[], vec![]).await
    }

    /// `serve` on a fresh data directory, with more settings.
    pub async fn start_with(env: Vec<(String, String)>) -> Server {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut server = Server::launch(temp.path(), "serve", &[], env).await;
        server._temp = Some(temp);
        server
    }

    /// `role` (with `args`) on `dir`, with more settings.
    pub async fn start_role_with(
        dir: &Path,
        role: &'static str,
        args: &[&'static str],
        env: Vec<(String, String)>,
    ) -> Server {
        Server::launch(dir, role, args, env).await
    }

    /// `role` (with `args`) on `dir`, its graph on the suite's Neo4j under
    /// the graph name `graph`.
    pub async fn start_on_neo4j(
        dir: &Path,
        role: &'static str,
        args: &[&'static str],
        graph: &str,
    ) -> Server {
        let neo4j = e2e_neo4j().expect("a Neo4j for the suite (STUDIO_GRAPH...)");
        let env = neo4j
            .into_iter()
            .chain([("STUDIO_GRAPH_NAME".to_owned(), graph.to_owned())])
            .collect();
        Server::launch(dir, role, args, env).await
    }

    async fn launch(
        dir: &Path,
        role: &'static str,
        args: &[&'static str],
        extra_env: Vec<(String, String)>,
    ) -> Server {
        let port = free_port();
        // Every role on one data directory shares one database.
        let read_model_url = match e2e_postgres() {
            Some(base) => {
                let marker = dir.join("e2e-read-model-url");
                match std::fs::read_to_string(&marker) {
                    Ok(url) => Some(url),
                    Err(_) => {
                        let url = fresh_database(&base).await;
                        std::fs::create_dir_all(dir).expect("the data directory");
                        std::fs::write(&marker, &url).expect("remember the database");
                        Some(url)
                    }
                }
            }
            None => None,
        };
        let kafka_prefix = e2e_kafka().map(|_| remembered(dir, "e2e-kafka-prefix", kafka_prefix));
        let mut server = Server {
            dir: dir.to_owned(),
            read_model_url,
            kafka_prefix,
            companion: None,
            base: format!("http://127.0.0.1:{port}"),
            port,
            role,
            role_args: args.to_vec(),
            extra_env,
            child: None,
            _temp: None,
        };
        server.spawn().await;
        server
    }

    pub fn env(&self, command: &mut Command) {
        command
            .env("STUDIO_DATA_DIR", &self.dir)
            .env("STUDIO_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("STUDIO_LOG", "warn")
            .env("STUDIO_AUTH__TOKEN_SECRET", TOKEN_SECRET)
            .env("STUDIO_AUTH__BOOTSTRAP_ADMIN_EMAIL", ADMIN_EMAIL)
            .env("STUDIO_AUTH__BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env_remove("STUDIO_CONFIG");
        // Embedded unless a test says otherwise: the services the test
        // command starts announce themselves in the environment.
        for (name, _) in std::env::vars() {
            if name.starts_with("STUDIO_")
                && !matches!(
                    name.as_str(),
                    "STUDIO_DATA_DIR" | "STUDIO_LISTEN" | "STUDIO_LOG"
                )
                && !name.starts_with("STUDIO_AUTH__")
            {
                command.env_remove(&name);
            }
        }
        // Semantic search with the fast deterministic embedder, and exact
        // searches (no index to train), unless a test says otherwise.
        command
            .env("STUDIO_EMBEDDER__KIND", "hashing")
            .env("STUDIO_VECTOR_INDEX_THRESHOLD", "1000000");
        if let Some(url) = &self.read_model_url {
            command.env("STUDIO_READ_MODEL", url);
        }
        command.envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        if let (Some(url), Some(prefix)) = (e2e_kafka(), &self.kafka_prefix) {
            command
                .env("STUDIO_EVENT_LOG", url)
                .env("STUDIO_KAFKA__TOPIC_PREFIX", prefix)
                .env("STUDIO_PARTITIONS", KAFKA_PARTITIONS.to_string());
        }
    }

    async fn spawn(&mut self) {
        if self.role == "command-api" && self.kafka_prefix.is_some() {
            // A data directory of its own: the store is per processor.
            let mut command = studio();
            command
                .arg("command-processor")
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            self.env(&mut command);
            command.env("STUDIO_DATA_DIR", self.dir.join("command-processor"));
            self.companion = Some(command.spawn().expect("start a command processor"));
        }
        let mut command = studio();
        command
            .arg(self.role)
            .args(&self.role_args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        self.env(&mut command);
        self.child = Some(command.spawn().expect("start studio"));
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = if self.role == "projector" {
                self.dir.join("read-model.db").exists() || self.read_model_url.is_some()
            } else if self.role == "processor" {
                self.dir.join("processor.db").exists()
            } else {
                client
                    .get(format!("{}/health", self.base))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            };
            if up {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("studio {} exited: {status}", self.role);
            }
            assert!(
                Instant::now() < deadline,
                "studio {} did not come up",
                self.role
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn restart(&mut self) {
        self.spawn().await;
    }

    /// Panics if the process has exited (a role that refused to start).
    pub fn assert_running(&mut self) {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!("studio {} exited: {status}", self.role);
        }
    }

    /// SIGKILL: no chance to flush or shut down cleanly.
    pub fn kill(&mut self) {
        if let Some(mut companion) = self.companion.take() {
            let _ = companion.kill();
            let _ = companion.wait();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(&mut self) {
        for child in [self.child.take(), self.companion.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let status = child.wait().expect("wait for studio");
            assert!(status.success(), "studio exited with {status}");
        }
    }

    /// Waits until the read model has applied everything in the log.
    pub async fn settle(&self) {
        self.settle_within(Duration::from_secs(30)).await;
    }

    /// As `settle`, for a backlog that may take longer than most.
    pub async fn settle_within(&self, limit: Duration) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + limit;
        loop {
            let ready: Value = client
                .get(format!("{}/ready", self.base))
                .send()
                .await
                .expect("ready")
                .json()
                .await
                .expect("ready json");
            if ready["projection_lag"] == json!(0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the read model never caught up: {ready}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn client(&self) -> Client {
        Client {
            base: self.base.clone(),
            http: reqwest::Client::new(),
            token: None,
        }
    }

    /// Events in the log, read through the log's port.
    pub async fn event_count(&self) -> usize {
        all_events(open_log(&self.dir).await.as_ref()).await.len()
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/graphql", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A signed-in (or anonymous) HTTP client.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub http: reqwest::Client,
    pub token: Option<String>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected reply: {}",
            self.body
        );
        self.body
    }

    /// Asserts an error reply with this status and code.
    #[track_caller]
    pub fn error(self, status: u16, code: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected reply: {}",
            self.body
        );
        assert_eq!(
            self.body["error"]["code"], code,
            "unexpected error: {}",
            self.body
        );
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

impl Client {
    /// The same user, talking to another server (of the same platform).
    pub fn on(&self, server: &Server) -> Client {
        Client {
            base: server.base.clone(),
            http: self.http.clone(),
            token: self.token.clone(),
        }
    }

    pub fn with_token(&self, token: &str) -> Client {
        Client {
            token: Some(token.to_owned()),
            ..self.clone()
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn send(&self, builder: reqwest::RequestBuilder) -> Reply {
        let response = builder.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(reqwest::Method::POST, path).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(self.request(reqwest::Method::PATCH, path).json(&body))
            .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send(self.request(reqwest::Method::DELETE, path)).await
    }

    pub async fn register(&self, email: &str, password: &str) -> Value {
        self.post(
            "/api/v1/auth/register",
            json!({ "email": email, "password": password }),
        )
        .await
        .expect(201)
    }

    pub async fn login(&self, email: &str, password: &str) -> Client {
        let body = self
            .post(
                "/api/v1/auth/login",
                json!({ "email": email, "password": password }),
            )
            .await
            .expect(200);
        assert_eq!(body["token_type"], "Bearer");
        self.with_token(body["access_token"].as_str().expect("a token"))
    }

    /// Registers and signs in a new editor.
    pub async fn editor(&self, email: &str) -> Client {
        self.register(email, "a good password").await;
        self.login(email, "a good password").await
    }

    pub async fn admin(&self) -> Client {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    pub async fn upload(&self, filename: &str, content: &[u8], title: Option<&str>) -> Reply {
        let part = reqwest::multipart::Part::bytes(content.to_vec()).file_name(filename.to_owned());
        let mut form = reqwest::multipart::Form::new().part("file", part);
        if let Some(title) = title {
            form = form.text("title", title.to_owned());
        }
        self.send(
            self.request(reqwest::Method::POST, "/api/v1/documents/upload")
                .multipart(form),
        )
        .await
    }

    /// Waits until the pipeline is done with a document (completed or
    /// failed); returns its processing status.
    pub async fn processed(&self, document_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let reply = self
                .get(&format!("/api/v1/documents/{document_id}/status"))
                .await;
            // Not yet in the read model (the upload was just accepted).
            if reply.status == StatusCode::NOT_FOUND && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let status = reply.expect(200);
            if status["status"] != "processing" {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "document {document_id} still processing: {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        let reply = self
            .send(
                self.request(reqwest::Method::POST, "/graphql")
                    .json(&json!({ "query": query, "variables": variables })),
            )
            .await;
        reply.expect(200)
    }
}

/// Members of the projectors' consumer group (Kafka log).
fn projector_group_members(prefix: &str, projection: &str) -> usize {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let url = e2e_kafka().unwrap_or_default();
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", url.trim_start_matches("kafka://"))
        .create()
        .expect("a Kafka client");
    consumer
        .fetch_group_list(
            Some(&format!("{prefix}.projector.{projection}")),
            Duration::from_secs(5),
        )
        .ok()
        .and_then(|list| list.groups().first().map(|g| g.members().len()))
        .unwrap_or(0)
}

/// Waits until the consumer group of `projection`'s projectors has
/// `members` members.
pub async fn wait_for_members(prefix: &str, projection: &str, members: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (prefix_owned, projection_owned) = (prefix.to_owned(), projection.to_owned());
        let found = tokio::task::spawn_blocking(move || {
            projector_group_members(&prefix_owned, &projection_owned)
        })
        .await
        .expect("group lookup");
        if found == members {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the projectors' group has {found} members, not {members}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
