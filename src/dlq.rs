//! `studio dlq`: the events the projection parked because it could not
//! apply them, and the events held back behind them; retried after a fix,
//! or skipped on purpose. Runs beside a live projector.

use clap::Subcommand;
use uuid::Uuid;

use crate::config::Settings;
use crate::platform;

#[derive(Subcommand)]
pub enum DlqCommand {
    /// Lists the parked events and those held back behind them.
    List {
        /// Also the ones already retried or skipped.
        #[arg(long)]
        all: bool,
        /// `table` or `json`.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Applies a parked event and the events held back behind it.
    Retry { id: Uuid },
    /// Gives up on a parked event, then applies those held back behind it.
    Skip { id: Uuid },
}

pub async fn run(settings: Settings, command: DlqCommand) -> anyhow::Result<()> {
    let personal = platform::personal_data(&settings).await?;
    let blobs = platform::blobs(&settings).await?;
    let read_model = platform::read_model_writer(&settings, personal, blobs).await?;
    match command {
        DlqCommand::List { all, format } => {
            let letters = read_model.dead_letters(all).await?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&letters)?);
                return Ok(());
            }
            if letters.is_empty() {
                println!("no dead letters");
                return Ok(());
            }
            println!(
                "{:<36}  {:<9}  {:<12}  {:<40}  {:>8}  error",
                "id", "status", "position", "event type", "attempts"
            );
            for l in letters {
                println!(
                    "{:<36}  {:<9}  {:<12}  {:<40}  {:>8}  {}",
                    l.id,
                    l.status,
                    format!("{}:{}", l.partition, l.offset),
                    l.event_type,
                    l.attempts,
                    l.error
                );
            }
        }
        DlqCommand::Retry { id } => {
            let log = platform::log_reader(&settings).await?;
            let applied = read_model.retry_dead_letter(id, log.as_ref()).await?;
            println!("applied {applied} events");
        }
        DlqCommand::Skip { id } => {
            let log = platform::log_reader(&settings).await?;
            let applied = read_model.skip_dead_letter(id, log.as_ref()).await?;
            println!("skipped {id}; applied the {applied} events held back behind it");
        }
    }
    Ok(())
}
