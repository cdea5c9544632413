//! Bounds and normalisation of what users type. Limits are generous for
//! literature (long titles, many aliases) and tight enough that no field
//! can smuggle a document into an event.

use serde_json::Value;

use crate::DomainError;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_FILENAME_CHARS: usize = 255;
pub const MAX_MEDIA_TYPE_CHARS: usize = 127;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_ALIASES: usize = 100;
pub const MAX_PROFILE_BYTES: usize = 32 * 1024;
pub const MAX_PROFILE_DEPTH: usize = 16;
pub const MAX_BLOB_REF_CHARS: usize = 200;
/// A relationship's kind: one of the usual ones (`sibling_of`,
/// `married_to`, `rival_of`, ...) or a free label.
pub const MAX_RELATIONSHIP_KIND_CHARS: usize = 64;
/// Declared relationships one character may hold.
pub const MAX_RELATIONSHIPS: usize = 1000;

/// Trims, collapses runs of whitespace to one space, and checks the bounds.
/// Control characters are refused rather than silently dropped.
pub fn normalized_text(
    field: &'static str,
    raw: &str,
    max_chars: usize,
) -> Result<String, DomainError> {
    if raw.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(DomainError::invalid(field, "contains control characters"));
    }
    let text = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(DomainError::invalid(
            field,
            format!("is {chars} characters long, the limit is {max_chars}"),
        ));
    }
    Ok(text)
}

pub fn name(raw: &str) -> Result<String, DomainError> {
    normalized_text("name", raw, MAX_NAME_CHARS)
}

pub fn relationship_kind(raw: &str) -> Result<String, DomainError> {
    normalized_text("kind", raw, MAX_RELATIONSHIP_KIND_CHARS)
}

pub fn alias(raw: &str) -> Result<String, DomainError> {
    normalized_text("alias", raw, MAX_NAME_CHARS)
}

pub fn title(raw: &str) -> Result<String, DomainError> {
    normalized_text("title", raw, MAX_TITLE_CHARS)
}

/// A filename as the uploader's machine named it; path separators are kept
/// out so it can never be mistaken for a location.
pub fn filename(raw: &str) -> Result<String, DomainError> {
    let name = normalized_text("original_filename", raw, MAX_FILENAME_CHARS)?;
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(DomainError::invalid(
            "original_filename",
            "must be a bare file name",
        ));
    }
    Ok(name)
}

/// Lower-cased and trimmed; a local part, one `@`, and a dotted domain.
/// Deliverability is not our business, shape is.
pub fn email(raw: &str) -> Result<String, DomainError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(DomainError::invalid("email", "must not be empty"));
    }
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(DomainError::invalid(
            "email",
            format!("is longer than {MAX_EMAIL_CHARS} characters"),
        ));
    }
    let shape_ok = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if !shape_ok {
        return Err(DomainError::invalid("email", "is not an e-mail address"));
    }
    Ok(email)
}

pub fn media_type(raw: &str) -> Result<String, DomainError> {
    let media_type = raw.trim().to_ascii_lowercase();
    let valid = media_type.len() <= MAX_MEDIA_TYPE_CHARS
        && media_type.split_once('/').is_some_and(|(top, sub)| {
            let token = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
            };
            token(top) && token(sub)
        });
    if valid {
        Ok(media_type)
    } else {
        Err(DomainError::invalid("media_type", "is not a media type"))
    }
}

pub fn sha256_hex(raw: &str) -> Result<String, DomainError> {
    if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(DomainError::invalid(
            "sha256",
            "must be 64 hexadecimal digits",
        ))
    }
}

pub fn blob_ref(raw: &str) -> Result<String, DomainError> {
    let valid = !raw.is_empty()
        && raw.len() <= MAX_BLOB_REF_CHARS
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":/-_.".contains(&b))
        && !raw.split('/').any(|part| part == "..");
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(DomainError::invalid("blob_ref", "is not a blob reference"))
    }
}

/// A personality profile is a JSON object of bounded size and depth: free
/// structure for writers, but never a document in disguise.
pub fn profile(value: &Value) -> Result<(), DomainError> {
    if !value.is_object() {
        return Err(DomainError::invalid(
            "personality_profile",
            "must be a JSON object",
        ));
    }
    let depth = json_depth(value);
    if depth > MAX_PROFILE_DEPTH {
        return Err(DomainError::invalid(
            "personality_profile",
            format!("nests {depth} levels deep, the limit is {MAX_PROFILE_DEPTH}"),
        ));
    }
    let bytes = value.to_string().len();
    if bytes > MAX_PROFILE_BYTES {
        return Err(DomainError::invalid(
            "personality_profile",
            format!("is {bytes} bytes, the limit is {MAX_PROFILE_BYTES}"),
        ));
    }
    Ok(())
}

fn json_depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(json_depth).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Aliases compare without regard to case or spacing: "Lizzy" and " lizzy "
/// are the same alias.
pub fn same_alias(a: &str, b: &str) -> bool {
    name_key(a) == name_key(b)
}

/// The form in which names and aliases compare: lower case, single spaces.
pub fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_collapsed() {
        assert_eq!(
            name("  Elizabeth \t Bennet ").ok(),
            Some("Elizabeth Bennet".into())
        );
    }

    #[test]
    fn empty_and_oversize_text_is_refused() {
        assert!(name(" \n ").is_err());
        assert!(name(&"x".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(name("nul\u{0}byte").is_err());
    }

    #[test]
    fn bounds_count_characters_not_bytes() {
        assert!(name(&"é".repeat(MAX_NAME_CHARS)).is_ok());
    }

    #[test]
    fn emails_are_normalised_and_shaped() {
        assert_eq!(
            email(" Ada@Example.ORG ").ok(),
            Some("ada@example.org".into())
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.org",
            "a@b",
            "a@@b.org",
            "a b@c.org",
            "a@.org",
        ] {
            assert!(email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn filenames_are_bare() {
        assert!(filename("pride.txt").is_ok());
        assert!(filename("../etc/passwd").is_err());
        assert!(filename("dir\\file.txt").is_err());
        assert!(filename("..").is_err());
    }

    #[test]
    fn profiles_are_bounded_objects() {
        assert!(profile(&serde_json::json!({"traits": ["wit"]})).is_ok());
        assert!(profile(&serde_json::json!(["not", "object"])).is_err());
        let mut deep = serde_json::json!(1);
        for _ in 0..MAX_PROFILE_DEPTH + 1 {
            deep = serde_json::json!({ "d": deep });
        }
        assert!(profile(&deep).is_err());
        let big = serde_json::json!({ "bio": "x".repeat(MAX_PROFILE_BYTES) });
        assert!(profile(&big).is_err());
    }

    #[test]
    fn media_types_and_hashes() {
        assert_eq!(media_type("Text/Plain").ok(), Some("text/plain".into()));
        assert!(media_type("text").is_err());
        assert!(media_type("text/plain; charset=utf-8").is_err());
        assert!(sha256_hex(&"a".repeat(64)).is_ok());
        assert!(sha256_hex(&"g".repeat(64)).is_err());
        assert!(blob_ref("sha256/ab/cd").is_ok());
        assert!(blob_ref("sha256/../x").is_err());
    }
}
