//! DOCX: the body of `word/document.xml`, a paragraph per `w:p`, with
//! its runs' text, tabs and line breaks.

use crate::zipped::Archive;
use crate::{ExtractError, Format, Limits};

const FORMAT: Format = Format::Docx;

pub fn to_text(bytes: &[u8], limits: &Limits) -> Result<String, ExtractError> {
    let mut archive = Archive::open(bytes, FORMAT, limits)?;
    if archive.names().iter().any(|n| n == "EncryptionInfo") {
        return Err(ExtractError::Encrypted(FORMAT.as_str()));
    }
    let body = archive
        .read_text("word/document.xml")?
        .ok_or_else(|| ExtractError::corrupt(FORMAT, "word/document.xml is missing"))?;
    let doc = roxmltree::Document::parse(&body).map_err(|e| ExtractError::corrupt(FORMAT, e))?;
    let mut text = String::new();
    for paragraph in doc.descendants().filter(|n| n.tag_name().name() == "p") {
        let mut line = String::new();
        for node in paragraph.descendants() {
            match node.tag_name().name() {
                "t" => line.push_str(node.text().unwrap_or("")),
                "tab" => line.push('\t'),
                "br" | "cr" => line.push('\n'),
                _ => {}
            }
        }
        // Nested paragraphs (text boxes) are read once, as their own.
        if paragraph
            .ancestors()
            .skip(1)
            .any(|a| a.tag_name().name() == "p")
        {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(line.trim_end());
    }
    Ok(text)
}
