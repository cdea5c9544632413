//! `studio audit`: tamper evidence and exploration of the event log, read
//! straight from the log (no read model involved), personal data opened
//! with the key store or shown as erased.

use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use studio_domain::AggregateType;
use studio_domain::history::{RecordedEvent, Step, steps};
use studio_event_log::audit::{LogDigest, walk};
use studio_event_log::{EventLog, Position, StoredEvent, ToTheEnd};
use studio_privacy::PersonalData;
use uuid::Uuid;

use crate::config::Settings;
use crate::platform;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Checks every event's hash, every stream's chain and every
    /// partition's offsets; with --digest, also that nothing up to the
    /// digest was cut or rewritten. Exits non-zero on any problem.
    Verify {
        /// A digest printed earlier by `studio audit digest`.
        #[arg(long)]
        digest: Option<String>,
    },
    /// Prints a digest of the whole log (a Merkle root over every stream's
    /// head, and the positions it covers) to keep somewhere else.
    Digest,
    /// Every event of an aggregate: time, actor, type and what it changed.
    History {
        aggregate_id: Uuid,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// An aggregate's state as it was at a time (RFC 3339) or a position
    /// (`partition:offset`).
    State {
        aggregate_id: Uuid,
        #[arg(long)]
        at: String,
    },
    /// Everything a user did.
    Actor {
        user_id: Uuid,
        /// RFC 3339.
        #[arg(long)]
        since: Option<String>,
        /// RFC 3339.
        #[arg(long)]
        until: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// A point in the log's past.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PointInTime {
    Time(DateTime<Utc>),
    Position(Position),
}

impl FromStr for PointInTime {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((p, o)) = s.split_once(':')
            && let (Ok(partition), Ok(offset)) = (p.parse(), o.parse())
        {
            return Ok(Self::Position(Position { partition, offset }));
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| Self::Time(t.with_timezone(&Utc)))
            .with_context(|| {
                format!("{s:?} is neither an RFC 3339 time nor a partition:offset position")
            })
    }
}

impl PointInTime {
    /// Whether `event` was in the log at this point.
    pub fn includes(&self, event: &StoredEvent) -> bool {
        match self {
            Self::Time(t) => event.envelope.time <= *t,
            Self::Position(p) => {
                event.position.partition == p.partition && event.position.offset <= p.offset
            }
        }
    }
}

fn parse_time(text: Option<&str>) -> anyhow::Result<Option<DateTime<Utc>>> {
    text.map(|t| {
        DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .with_context(|| format!("{t:?} is not an RFC 3339 time"))
    })
    .transpose()
}

pub async fn run(settings: Settings, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let log = platform::log_reader(&settings).await?;
    match command {
        AuditCommand::Verify { digest } => verify(log.as_ref(), digest.as_deref()).await,
        AuditCommand::Digest => {
            let report = walk_with_progress(log.as_ref(), None).await?;
            if !report.is_intact() {
                bail!(
                    "the log is not intact ({} problems): run `studio audit verify`",
                    report.breaks.len()
                );
            }
            println!("{}", report.digest);
            eprintln!(
                "{} events in {} streams",
                report.events, report.digest.streams
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::History {
            aggregate_id,
            format,
        } => {
            let personal = platform::personal_data(&settings).await?;
            let stream = log.read_stream(aggregate_id).await?;
            if stream.is_empty() {
                bail!("no aggregate {aggregate_id} in the log");
            }
            let steps = history(&personal, &stream).await?;
            print_history(&stream, &steps, format);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::State { aggregate_id, at } => {
            let at: PointInTime = at.parse()?;
            let personal = platform::personal_data(&settings).await?;
            let stream = log.read_stream(aggregate_id).await?;
            if stream.is_empty() {
                bail!("no aggregate {aggregate_id} in the log");
            }
            if let PointInTime::Position(p) = at
                && stream[0].position.partition != p.partition
            {
                bail!(
                    "{aggregate_id} lives in partition {}, not {}",
                    stream[0].position.partition,
                    p.partition
                );
            }
            let until: Vec<StoredEvent> = stream.into_iter().filter(|e| at.includes(e)).collect();
            let steps = history(&personal, &until).await?;
            let state = steps
                .last()
                .map(|s| s.state.clone())
                .unwrap_or(json!({ "status": "absent" }));
            let version = steps.last().map(|s| s.sequence).unwrap_or(0);
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({ "aggregate_id": aggregate_id, "version": version, "state": state })
                )?
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Actor {
            user_id,
            since,
            until,
            format,
        } => {
            let since = parse_time(since.as_deref())?;
            let until = parse_time(until.as_deref())?;
            let actor = user_id.to_string();
            let events = scan(log.as_ref(), |e| {
                e.envelope.actor == actor
                    && since.is_none_or(|t| e.envelope.time >= t)
                    && until.is_none_or(|t| e.envelope.time <= t)
            })
            .await?;
            let mut events = events;
            events.sort_by_key(|e| (e.envelope.time, e.position.partition, e.position.offset));
            print_actor(&events, format);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn verify(log: &dyn EventLog, digest: Option<&str>) -> anyhow::Result<ExitCode> {
    let digest: Option<LogDigest> = digest.map(str::parse).transpose()?;
    let report = walk_with_progress(log, digest.as_ref().map(|d| &d.upto)).await?;
    for problem in &report.breaks {
        println!("BROKEN {problem}");
    }
    for cut in &report.truncated {
        println!("CUT    {cut}");
    }
    let mut intact = report.is_intact();
    if let Some(digest) = &digest {
        if report.digest.root == digest.root {
            println!("the log up to {} matches the digest", digest.upto);
        } else {
            println!(
                "DIGEST the log up to {} does not match the digest: it was rewritten or cut",
                digest.upto
            );
            intact = false;
        }
    }
    println!(
        "{} events checked: {}",
        report.events,
        if intact { "intact" } else { "NOT INTACT" }
    );
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn walk_with_progress(
    log: &dyn EventLog,
    upto: Option<&studio_event_log::PositionToken>,
) -> anyhow::Result<studio_event_log::audit::AuditReport> {
    let total: u64 = match upto {
        Some(token) => token.positions().map(|p| p.offset + 1).sum(),
        None => log.end_offsets().await?.values().sum(),
    };
    let bar = progress_bar(total, "verifying");
    let report = walk(log, upto, |n| bar.set_position(n)).await?;
    bar.finish_and_clear();
    Ok(report)
}

pub fn progress_bar(total: u64, what: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} events ({per_sec}, {eta})")
    {
        bar.set_style(style);
    }
    bar.set_message(what);
    bar
}

/// Every event the filter keeps, in each partition's order.
async fn scan(
    log: &dyn EventLog,
    keep: impl Fn(&StoredEvent) -> bool,
) -> anyhow::Result<Vec<StoredEvent>> {
    let ends = log.end_offsets().await?;
    let bar = progress_bar(ends.values().sum(), "scanning");
    let mut to_the_end = ToTheEnd::new(ends);
    let mut cursor = log.cursor(Default::default()).await?;
    let mut kept = Vec::new();
    let mut seen = 0;
    while let Some(batch) = to_the_end.next_batch(cursor.as_mut()).await? {
        seen += batch.len() as u64;
        bar.set_position(seen);
        kept.extend(batch.into_iter().filter(|e| keep(e)));
    }
    bar.finish_and_clear();
    Ok(kept)
}

/// The steps of a stream, personal data opened (or erased).
pub async fn history(
    personal: &Arc<PersonalData>,
    stream: &[StoredEvent],
) -> anyhow::Result<Vec<Step>> {
    let Some(first) = stream.first() else {
        return Ok(vec![]);
    };
    let aggregate_type = AggregateType::parse(&first.envelope.aggregatetype)
        .with_context(|| format!("unknown aggregate type {}", first.envelope.aggregatetype))?;
    let mut recorded = Vec::with_capacity(stream.len());
    for event in stream {
        let e = &event.envelope;
        recorded.push(RecordedEvent {
            sequence: e.aggregatesequence,
            event_type: e.event_type.clone(),
            data: personal.unseal(e.tenant, &e.event_type, &e.data).await?,
        });
    }
    Ok(steps(aggregate_type, &recorded)?)
}

fn describe(changes: &json_patch::Patch) -> String {
    let ops = serde_json::to_value(changes).unwrap_or(Value::Null);
    ops.as_array()
        .map(|ops| {
            ops.iter()
                .map(|op| match op["value"].clone() {
                    Value::Null if op["op"] == "remove" => {
                        format!("-{}", op["path"].as_str().unwrap_or(""))
                    }
                    value => format!("{}={}", op["path"].as_str().unwrap_or(""), compact(&value)),
                })
                .collect::<Vec<_>>()
                .join("  ")
        })
        .unwrap_or_default()
}

fn compact(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(59).collect::<String>())
    } else {
        text
    }
}

fn print_history(stream: &[StoredEvent], steps: &[Step], format: Format) {
    match format {
        Format::Json => {
            let entries: Vec<Value> = stream
                .iter()
                .zip(steps)
                .map(|(event, step)| {
                    json!({
                        "sequence": step.sequence,
                        "time": event.envelope.time,
                        "actor": event.envelope.actor,
                        "type": step.event_type,
                        "position": format!("{}:{}", event.position.partition, event.position.offset),
                        "changes": step.changes,
                        "state": step.state,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&entries).unwrap_or_default()
            );
        }
        Format::Table => {
            println!(
                "{:>4}  {:<27}  {:<36}  {:<38}  changes",
                "seq", "time", "actor", "type"
            );
            for (event, step) in stream.iter().zip(steps) {
                println!(
                    "{:>4}  {:<27}  {:<36}  {:<38}  {}",
                    step.sequence,
                    event.envelope.time.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
                    event.envelope.actor,
                    step.event_type,
                    describe(&step.changes)
                );
            }
        }
    }
}

fn print_actor(events: &[StoredEvent], format: Format) {
    match format {
        Format::Json => {
            let entries: Vec<Value> = events
                .iter()
                .map(|e| {
                    json!({
                        "time": e.envelope.time,
                        "type": e.envelope.event_type,
                        "aggregate_type": e.envelope.aggregatetype,
                        "aggregate_id": e.envelope.subject,
                        "sequence": e.envelope.aggregatesequence,
                        "position": format!("{}:{}", e.position.partition, e.position.offset),
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&entries).unwrap_or_default()
            );
        }
        Format::Table => {
            println!(
                "{:<27}  {:<38}  {:<10}  {:<36}  position",
                "time", "type", "aggregate", "id"
            );
            for e in events {
                println!(
                    "{:<27}  {:<38}  {:<10}  {:<36}  {}:{}",
                    e.envelope.time.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
                    e.envelope.event_type,
                    e.envelope.aggregatetype,
                    e.envelope.subject,
                    e.position.partition,
                    e.position.offset
                );
            }
            println!("{} events", events.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_in_time_parse() {
        assert_eq!(
            "3:17".parse::<PointInTime>().ok(),
            Some(PointInTime::Position(Position {
                partition: 3,
                offset: 17
            }))
        );
        assert!(matches!(
            "2026-06-01T09:05:30Z".parse::<PointInTime>(),
            Ok(PointInTime::Time(_))
        ));
        for bad in ["", "yesterday", "3:", "2026-06-01"] {
            assert!(bad.parse::<PointInTime>().is_err(), "{bad}");
        }
    }
}
