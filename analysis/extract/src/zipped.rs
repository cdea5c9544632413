//! Zip archives (EPUB, DOCX) read within limits: the entry count and the
//! declared sizes are checked before anything is expanded, and reading
//! stops at the limit whatever the headers claim, so a zip bomb is refused
//! rather than expanded.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use crate::{ExtractError, Format, Limits};

pub struct Archive<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    format: Format,
    /// Bytes that may still be expanded.
    budget: u64,
    limit: u64,
}

impl<'a> Archive<'a> {
    pub fn open(bytes: &'a [u8], format: Format, limits: &Limits) -> Result<Self, ExtractError> {
        let zip =
            ZipArchive::new(Cursor::new(bytes)).map_err(|e| ExtractError::corrupt(format, e))?;
        if zip.len() > limits.max_entries {
            return Err(ExtractError::TooLarge {
                what: "entries in the archive",
                limit: limits.max_entries as u64,
            });
        }
        let mut archive = Self {
            zip,
            format,
            budget: limits.max_decompressed_bytes,
            limit: limits.max_decompressed_bytes,
        };
        let mut declared: u64 = 0;
        for i in 0..archive.zip.len() {
            let entry = archive
                .zip
                .by_index_raw(i)
                .map_err(|e| ExtractError::corrupt(format, e))?;
            declared = declared.saturating_add(entry.size());
        }
        if declared > archive.limit {
            return Err(archive.too_large());
        }
        Ok(archive)
    }

    fn too_large(&self) -> ExtractError {
        ExtractError::TooLarge {
            what: "bytes once decompressed",
            limit: self.limit,
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.zip
            .file_names()
            .filter_map(Result::ok)
            .map(|n| n.into_owned())
            .collect()
    }

    /// The entry's bytes, or `None` when there is no such entry.
    pub fn read(&mut self, name: &str) -> Result<Option<Vec<u8>>, ExtractError> {
        let format = self.format;
        let budget = self.budget;
        let mut entry = match self.zip.by_name(name) {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => return Ok(None),
            Err(zip::result::ZipError::UnsupportedArchive(reason))
                if reason.contains("assword") =>
            {
                return Err(ExtractError::Encrypted(format.as_str()));
            }
            Err(e) => return Err(ExtractError::corrupt(format, e)),
        };
        if entry.encrypted() {
            return Err(ExtractError::Encrypted(format.as_str()));
        }
        let mut bytes = Vec::new();
        (&mut entry)
            .take(budget.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| ExtractError::corrupt(format, e))?;
        drop(entry);
        let used = bytes.len() as u64;
        if used > budget {
            return Err(self.too_large());
        }
        self.budget -= used;
        Ok(Some(bytes))
    }

    /// The entry as UTF-8 text.
    pub fn read_text(&mut self, name: &str) -> Result<Option<String>, ExtractError> {
        let format = self.format;
        self.read(name)?
            .map(|bytes| {
                String::from_utf8(bytes)
                    .map_err(|_| ExtractError::corrupt(format, format!("{name} is not UTF-8")))
            })
            .transpose()
    }
}

/// Which zip-based format an archive is.
pub fn kind(bytes: &[u8]) -> Result<Format, ExtractError> {
    let zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| ExtractError::Corrupt {
        format: "zip",
        reason: e.to_string(),
    })?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.into_owned())
        .collect();
    let has = |name: &str| names.iter().any(|n| n == name);
    if has("word/document.xml") {
        Ok(Format::Docx)
    } else if has("META-INF/container.xml") || has("mimetype") {
        Ok(Format::Epub)
    } else {
        Err(ExtractError::Unsupported(
            "a zip archive that is neither an EPUB book nor a DOCX document".into(),
        ))
    }
}
