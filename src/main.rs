//! `studio`: one binary for every role of LiteraryAI Studio.

mod analyze;
mod audit;
mod config;
mod dlq;
mod embed;
mod graph_replay;
mod http;
mod legacy;
mod platform;
mod replay;
mod roles;
mod secrets;
mod users;
mod vector_replay;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;

#[derive(Parser)]
#[command(name = "studio", version, about = "LiteraryAI Studio")]
struct Cli {
    /// A TOML configuration file (default: ./studio.toml when present).
    /// Every key can also be set as STUDIO_<KEY>, nested keys joined by
    /// `__`, e.g. STUDIO_AUTH__TOKEN_TTL_SECONDS.
    #[arg(long, global = true, env = "STUDIO_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Runs the whole platform in one process: command API, projector,
    /// query API (REST and GraphQL) on one address.
    Serve,
    /// Runs the command API alone: REST commands onto the event log.
    CommandApi,
    /// Runs a command processor (event log on Kafka): owns some of the
    /// log's partitions and carries out the appends sent to them.
    CommandProcessor,
    /// Runs the projector alone: the event log into the read model.
    Projector {
        /// `relational` (the default, on whichever database is configured),
        /// `postgres` (refused unless read_model is a postgres:// URL),
        /// `graph` (the character graph, embedded or on Neo4j), `neo4j`
        /// (refused unless graph is a bolt:// URL) or `lancedb` (the
        /// vectors of semantic search).
        #[arg(default_value = "relational")]
        projection: String,
    },
    /// Runs the document pipeline alone: uploads into text, analysis,
    /// characters and interactions.
    Processor,
    /// Runs the query API alone: GraphQL and REST reads of the read model
    /// a projector process maintains.
    QueryApi,
    /// Rebuilds a read model from the event log. The relational one:
    /// embedded, into a new file (no projector may be running); on
    /// PostgreSQL, into a new version beside the live one, then switched
    /// to without downtime. The graph: embedded, into a new file; on
    /// Neo4j, cleared and projected again (stop its projectors first).
    /// The vectors (`lancedb`): in a local folder, into a new folder; on
    /// an object store, emptied and projected again. With --into, builds
    /// a copy elsewhere.
    Replay {
        /// `relational` (the default, on whichever database is configured)
        /// or `postgres`; `graph` (embedded or Neo4j) or `neo4j`; `lancedb`.
        #[arg(default_value = "relational")]
        projection: String,
        /// Build into this SQLite file (a path or sqlite://path) or empty
        /// PostgreSQL database (postgres://...), or for the graph on Neo4j
        /// into the graph of this name, or for the vectors into this
        /// folder or s3:// URI, instead, leaving the live read model alone
        /// (allowed while it runs).
        #[arg(long)]
        into: Option<String>,
        /// Build the model as it was at this time (RFC 3339) or position
        /// (partition:offset); needs --into.
        #[arg(long)]
        until: Option<String>,
    },
    /// Reads and analyses a document offline (no server): chapters,
    /// statistics, characters, mentions and interactions.
    Analyze {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "json")]
        format: analyze::Output,
        /// Include the extracted text (JSON only).
        #[arg(long)]
        with_text: bool,
    },
    /// Prints the vector of each text (the arguments, or each line of
    /// standard input) as JSON lines, with the configured embedder.
    Embed { texts: Vec<String> },
    /// The dead-letter table: events the projection parked.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Tamper evidence and exploration of the event log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Administration of people.
    #[command(subcommand)]
    Users(users::UsersCommand),
    /// Brings the legacy application's SQLite database over: every row of
    /// its characters and documents tables, re-runnable (a second run
    /// appends nothing), with a report; --verify compares every legacy row
    /// with what the platform holds. See docs/migration.md.
    ImportLegacy(legacy::ImportLegacy),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("studio: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_tracing(&settings);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("studio: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Action::Serve => roles::serve(settings).await.map(|()| ExitCode::SUCCESS),
            Action::CommandApi => roles::command_api(settings)
                .await
                .map(|()| ExitCode::SUCCESS),
            Action::CommandProcessor => roles::command_processor(settings)
                .await
                .map(|()| ExitCode::SUCCESS),
            Action::Projector { projection } => roles::projector(settings, &projection)
                .await
                .map(|()| ExitCode::SUCCESS),
            Action::Processor => roles::processor(settings).await.map(|()| ExitCode::SUCCESS),
            Action::QueryApi => roles::query_api(settings).await.map(|()| ExitCode::SUCCESS),
            Action::Replay {
                projection,
                into,
                until,
            } => replay::run(settings, &projection, into, until)
                .await
                .map(|()| ExitCode::SUCCESS),
            Action::Analyze {
                file,
                format,
                with_text,
            } => analyze::run(&settings, &file, format, with_text).map(|()| ExitCode::SUCCESS),
            Action::Embed { texts } => embed::run(&settings, texts)
                .await
                .map(|()| ExitCode::SUCCESS),
            Action::Audit(command) => audit::run(settings, command).await,
            Action::Dlq(command) => dlq::run(settings, command)
                .await
                .map(|()| ExitCode::SUCCESS),
            Action::Users(command) => users::run(settings, command)
                .await
                .map(|()| ExitCode::SUCCESS),
            Action::ImportLegacy(args) => legacy::run(settings, args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("studio: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&settings.log))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
