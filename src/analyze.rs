//! `studio analyze FILE`: reading and analysis offline, no server, one JSON
//! object (or a short report) on standard output.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;
use studio_analysis::Analysis;
use studio_extract::Extracted;

use crate::config::Settings;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Json,
    Text,
}

/// The JSON the command prints: the analysis, with how the text was read.
#[derive(Serialize)]
struct Report<'a> {
    format: &'static str,
    encoding: Option<&'a str>,
    boilerplate_removed: bool,
    pages: Option<u32>,
    #[serde(flatten)]
    analysis: &'a Analysis,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

pub fn run(
    settings: &Settings,
    file: &Path,
    output: Output,
    with_text: bool,
) -> anyhow::Result<()> {
    let limits = settings.extract_limits();
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {}", file.display()))?
        .len();
    if size > limits.max_input_bytes {
        bail!(
            "{} is {size} bytes, over the limit of {} (limits.upload_bytes)",
            file.display(),
            limits.max_input_bytes
        );
    }
    let started = Instant::now();
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let extracted: Extracted = studio_extract::read_document(&bytes, name, "", &limits)
        .with_context(|| format!("reading {}", file.display()))?;
    let read = started.elapsed();
    let analysis = studio_analysis::analyze(&extracted.text);
    let analysed = started.elapsed() - read;
    let mut out = std::io::stdout().lock();
    match output {
        Output::Json => {
            let report = Report {
                format: extracted.format.as_str(),
                encoding: extracted.encoding.as_deref(),
                boilerplate_removed: extracted.boilerplate_removed,
                pages: extracted.pages,
                analysis: &analysis,
                text: with_text.then_some(extracted.text.as_str()),
            };
            serde_json::to_writer(&mut out, &report).context("writing the report")?;
            writeln!(out)?;
        }
        Output::Text => {
            write_text(&mut out, &extracted, &analysis)?;
            writeln!(
                out,
                "\nread in {:.1} ms, analysed in {:.1} ms, peak memory {}",
                read.as_secs_f64() * 1e3,
                analysed.as_secs_f64() * 1e3,
                peak_memory().unwrap_or_else(|| "unknown".into())
            )?;
        }
    }
    Ok(())
}

/// The process's peak resident memory, as Linux reports it.
fn peak_memory() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.1} MiB", kib as f64 / 1024.0))
}

fn write_text(out: &mut impl Write, extracted: &Extracted, a: &Analysis) -> anyhow::Result<()> {
    let s = &a.statistics;
    writeln!(
        out,
        "{} ({}{}), {} characters of text",
        extracted.format.as_str(),
        extracted.encoding.as_deref().unwrap_or("-"),
        if extracted.boilerplate_removed {
            ", Gutenberg boilerplate removed"
        } else {
            ""
        },
        a.chars
    )?;
    writeln!(
        out,
        "{} words, {} sentences, {} paragraphs, {} chapters",
        a.words,
        a.sentences,
        a.paragraphs,
        a.chapters.len()
    )?;
    writeln!(
        out,
        "Flesch reading ease {:.1}, Flesch-Kincaid grade {:.1}, dialogue {:.0}%",
        s.flesch_reading_ease,
        s.flesch_kincaid_grade,
        s.dialogue_share * 100.0
    )?;
    let terms: Vec<&str> = s
        .distinctive_terms
        .iter()
        .map(|t| t.term.as_str())
        .collect();
    writeln!(out, "distinctive: {}", terms.join(", "))?;
    let mut characters: Vec<_> = a.characters.iter().collect();
    characters.sort_by_key(|c| std::cmp::Reverse(c.mentions));
    writeln!(
        out,
        "\n{} characters, the most mentioned:",
        characters.len()
    )?;
    for c in characters.iter().take(20) {
        writeln!(
            out,
            "{:6}  {}  {}",
            c.mentions,
            c.name,
            c.aliases.join(" / ")
        )?;
    }
    Ok(())
}
