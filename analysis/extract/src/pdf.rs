//! PDF through `pdf-extract` (on `lopdf`): text page by page, pages as
//! paragraphs. The page count is checked before any page is read; an
//! encrypted file is read only when it opens with the empty password (as
//! viewers do); a parser panic on a malformed file becomes an error.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{ExtractError, Format, Limits};

const FORMAT: Format = Format::Pdf;

pub fn to_text(bytes: &[u8], limits: &Limits) -> Result<(String, u32), ExtractError> {
    match catch_unwind(AssertUnwindSafe(|| read(bytes, limits))) {
        Ok(result) => result,
        Err(_) => Err(ExtractError::corrupt(
            FORMAT,
            "the PDF parser could not make sense of it",
        )),
    }
}

fn read(bytes: &[u8], limits: &Limits) -> Result<(String, u32), ExtractError> {
    let mut doc = lopdf::Document::load_mem(bytes).map_err(|e| ExtractError::corrupt(FORMAT, e))?;
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        return Err(ExtractError::Encrypted(FORMAT.as_str()));
    }
    let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
    let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
    if count > limits.max_pages {
        return Err(ExtractError::TooLarge {
            what: "pages",
            limit: u64::from(limits.max_pages),
        });
    }
    let mut text = String::new();
    for page in pages {
        let mut page_text = String::new();
        {
            let mut output = pdf_extract::PlainTextOutput::new(&mut page_text);
            pdf_extract::output_doc_page(&doc, &mut output, page)
                .map_err(|e| ExtractError::corrupt(FORMAT, e))?;
        }
        let page_text = page_text.trim();
        if page_text.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(page_text);
        if text.chars().count() as u64 > limits.max_text_chars {
            return Err(ExtractError::TooLarge {
                what: "characters of text",
                limit: limits.max_text_chars,
            });
        }
    }
    Ok((text, count))
}
