//! EPUB: the package document named by `META-INF/container.xml` lists the
//! book's content documents in reading order (its spine); each is XHTML.

use std::collections::HashMap;

use crate::zipped::Archive;
use crate::{ExtractError, Format, Limits, html};

const FORMAT: Format = Format::Epub;

fn corrupt(reason: impl std::fmt::Display) -> ExtractError {
    ExtractError::corrupt(FORMAT, reason)
}

fn xml(text: &str) -> Result<roxmltree::Document<'_>, ExtractError> {
    roxmltree::Document::parse_with_options(
        text,
        roxmltree::ParsingOptions {
            allow_dtd: true,
            ..roxmltree::ParsingOptions::default()
        },
    )
    .map_err(corrupt)
}

/// Resolves `href` relative to the folder of `base` ("OEBPS/content.opf").
fn resolve(base: &str, href: &str) -> String {
    let href = href.split('#').next().unwrap_or(href);
    let mut parts: Vec<&str> = base.split('/').collect();
    parts.pop();
    for part in href.split('/') {
        match part {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    percent_decode(&joined)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn to_text(bytes: &[u8], limits: &Limits) -> Result<String, ExtractError> {
    let mut archive = Archive::open(bytes, FORMAT, limits)?;
    if let Some(encryption) = archive.read_text("META-INF/encryption.xml")? {
        // Font obfuscation also lives here; encrypted content documents
        // (DRM) cannot be read.
        let doc = xml(&encryption)?;
        let encrypts_content = doc.descendants().any(|n| {
            n.tag_name().name() == "CipherReference"
                && n.attribute("URI")
                    .is_some_and(|uri| uri.ends_with("html") || uri.ends_with("htm"))
        });
        if encrypts_content {
            return Err(ExtractError::Encrypted(FORMAT.as_str()));
        }
    }
    let container = archive
        .read_text("META-INF/container.xml")?
        .ok_or_else(|| corrupt("META-INF/container.xml is missing"))?;
    let container = xml(&container)?;
    let package_path = container
        .descendants()
        .find(|n| n.tag_name().name() == "rootfile")
        .and_then(|n| n.attribute("full-path"))
        .ok_or_else(|| corrupt("the container names no package document"))?
        .to_owned();
    let package = archive
        .read_text(&package_path)?
        .ok_or_else(|| corrupt(format!("the package document {package_path} is missing")))?;
    let package = xml(&package)?;
    let manifest: HashMap<&str, (&str, &str)> = package
        .descendants()
        .filter(|n| n.tag_name().name() == "item")
        .filter_map(|n| {
            Some((
                n.attribute("id")?,
                (
                    n.attribute("href")?,
                    n.attribute("media-type").unwrap_or(""),
                ),
            ))
        })
        .collect();
    let spine: Vec<&str> = package
        .descendants()
        .filter(|n| n.tag_name().name() == "itemref")
        .filter_map(|n| n.attribute("idref"))
        .collect();
    if spine.is_empty() {
        return Err(corrupt("the package document has an empty spine"));
    }
    let mut text = String::new();
    for idref in spine {
        let Some((href, media_type)) = manifest.get(idref) else {
            return Err(corrupt(format!(
                "the spine names {idref}, which the manifest lacks"
            )));
        };
        if !(media_type.contains("html") || media_type.is_empty()) {
            continue;
        }
        let path = resolve(&package_path, href);
        let content = archive
            .read(&path)?
            .ok_or_else(|| corrupt(format!("the content document {path} is missing")))?;
        let part = html::to_text(&String::from_utf8_lossy(&content));
        if !part.is_empty() {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            text.push_str(&part);
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_resolve_against_the_package() {
        assert_eq!(
            resolve("OEBPS/content.opf", "text/ch1.xhtml#top"),
            "OEBPS/text/ch1.xhtml"
        );
        assert_eq!(resolve("content.opf", "ch%201.xhtml"), "ch 1.xhtml");
        assert_eq!(resolve("a/b/c.opf", "../x.html"), "a/x.html");
    }
}
