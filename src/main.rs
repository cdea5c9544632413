//! `studio`: one binary for every role of LiteraryAI Studio.

mod config;
mod http;
mod platform;
mod replay;
mod roles;
mod secrets;

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
    /// Runs the projector alone: the event log into the read model.
    Projector,
    /// Runs the query API alone: GraphQL and REST reads of the read model
    /// a projector process maintains.
    QueryApi,
    /// Rebuilds the relational read model from the event log.
    Replay {
        /// Build into this SQLite file instead, leaving the live read model
        /// alone (allowed while the server runs).
        #[arg(long)]
        into: Option<PathBuf>,
    },
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
            Action::Serve => roles::serve(settings).await,
            Action::CommandApi => roles::command_api(settings).await,
            Action::Projector => roles::projector(settings).await,
            Action::QueryApi => roles::query_api(settings).await,
            Action::Replay { into } => replay::run(settings, into).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
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
