//! Reading uploaded documents into clean text.
//!
//! Plain text (UTF-8, UTF-16 with a byte-order mark, legacy 8-bit encodings
//! detected rather than assumed), Markdown, HTML, EPUB, PDF and DOCX, each
//! through a well-kept parser; this crate is the glue, the limits and the
//! errors. Project Gutenberg headers and licences are stripped.
//!
//! Everything here works on bytes in memory: no files, no network, no
//! clock. Hostile input ends in an [`ExtractError`], never a panic, and
//! never more work than the [`Limits`] allow (zip bombs are refused before
//! they are expanded).

mod docx;
mod epub;
mod gutenberg;
mod html;
mod markdown;
mod pdf;
mod plain;
mod zipped;

use serde::{Deserialize, Serialize};

pub use gutenberg::strip_boilerplate;

/// The formats a document is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    PlainText,
    Markdown,
    Html,
    Epub,
    Pdf,
    Docx,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Self::PlainText,
        Self::Markdown,
        Self::Html,
        Self::Epub,
        Self::Pdf,
        Self::Docx,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PlainText => "plain_text",
            Self::Markdown => "markdown",
            Self::Html => "html",
            Self::Epub => "epub",
            Self::Pdf => "pdf",
            Self::Docx => "docx",
        }
    }
}

/// How much work one document may cause. Every limit is checked before
/// the work it bounds is done, where the format allows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// The document as uploaded.
    pub max_input_bytes: u64,
    /// All entries of a zip-based format (EPUB, DOCX) once decompressed.
    pub max_decompressed_bytes: u64,
    /// Entries of a zip-based format.
    pub max_entries: usize,
    /// Pages of a PDF.
    pub max_pages: u32,
    /// Characters of extracted text.
    pub max_text_chars: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 100 * 1024 * 1024,
            max_decompressed_bytes: 256 * 1024 * 1024,
            max_entries: 10_000,
            max_pages: 5_000,
            max_text_chars: 50_000_000,
        }
    }
}

/// A document's clean text and how it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extracted {
    pub text: String,
    pub format: Format,
    /// The encoding a plain-text (or Markdown) file was decoded from.
    pub encoding: Option<String>,
    /// A Project Gutenberg header or licence was stripped.
    pub boilerplate_removed: bool,
    /// Pages of a PDF.
    pub pages: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtractError {
    #[error("{0}")]
    Unsupported(String),
    #[error("the {format} file is corrupt or truncated: {reason}")]
    Corrupt {
        format: &'static str,
        reason: String,
    },
    #[error("the {0} file is encrypted or password-protected")]
    Encrypted(&'static str),
    #[error("the document exceeds the limit of {limit} {what}")]
    TooLarge { what: &'static str, limit: u64 },
    #[error("the document contains no text")]
    NoText,
}

impl ExtractError {
    fn corrupt(format: Format, reason: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            format: format.as_str(),
            reason: reason.to_string().chars().take(300).collect(),
        }
    }
}

/// Which format `bytes` are, from their content first, then from the name
/// and media type the uploader gave.
pub fn detect(bytes: &[u8], filename: &str, media_type: &str) -> Result<Format, ExtractError> {
    let name = filename.to_ascii_lowercase();
    let media_type = media_type.to_ascii_lowercase();
    let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    if bytes.starts_with(b"%PDF-") {
        return Ok(Format::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return zipped::kind(bytes);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Err(ExtractError::Unsupported(
            "this is an OLE compound file: a legacy Word document, or an encrypted Office document; save it as DOCX without a password".into(),
        ));
    }
    if media_type.contains("html") || matches!(extension, "html" | "htm" | "xhtml") {
        return Ok(Format::Html);
    }
    if media_type == "text/markdown" || matches!(extension, "md" | "markdown") {
        return Ok(Format::Markdown);
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return Ok(Format::Html);
    }
    if matches!(
        extension,
        "epub" | "docx" | "pdf" | "doc" | "odt" | "rtf" | "zip" | "png" | "jpg" | "gif" | "exe"
    ) {
        return Err(ExtractError::Unsupported(format!(
            "the .{extension} file is not in a format this platform reads, or is damaged"
        )));
    }
    Ok(Format::PlainText)
}

/// Reads `bytes` as `format` into clean text.
pub fn extract(bytes: &[u8], format: Format, limits: &Limits) -> Result<Extracted, ExtractError> {
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(ExtractError::TooLarge {
            what: "bytes",
            limit: limits.max_input_bytes,
        });
    }
    let mut encoding = None;
    let mut pages = None;
    let text = match format {
        Format::PlainText => {
            let (text, used) = plain::decode(bytes)?;
            encoding = Some(used);
            text
        }
        Format::Markdown => {
            let (source, used) = plain::decode(bytes)?;
            encoding = Some(used);
            markdown::to_text(&source)
        }
        Format::Html => {
            let (source, _) = plain::decode(bytes)?;
            html::to_text(&source)
        }
        Format::Epub => epub::to_text(bytes, limits)?,
        Format::Docx => docx::to_text(bytes, limits)?,
        Format::Pdf => {
            let (text, count) = pdf::to_text(bytes, limits)?;
            pages = Some(count);
            text
        }
    };
    let (text, boilerplate_removed) = match strip_boilerplate(&text) {
        Some(stripped) => (stripped, true),
        None => (text, false),
    };
    if text.trim().is_empty() {
        return Err(ExtractError::NoText);
    }
    let chars = text.chars().count() as u64;
    if chars > limits.max_text_chars {
        return Err(ExtractError::TooLarge {
            what: "characters of text",
            limit: limits.max_text_chars,
        });
    }
    Ok(Extracted {
        text,
        format,
        encoding,
        boilerplate_removed,
        pages,
    })
}

/// Detects the format and extracts: what a pipeline does with an upload.
pub fn read_document(
    bytes: &[u8],
    filename: &str,
    media_type: &str,
    limits: &Limits,
) -> Result<Extracted, ExtractError> {
    extract(bytes, detect(bytes, filename, media_type)?, limits)
}
