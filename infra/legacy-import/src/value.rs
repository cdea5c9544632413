//! Legacy values: what SQLite stored, kept exactly, and read as text where
//! the platform needs text.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};
use studio_domain::legacy::{LegacyValue, MAX_INLINE_VALUE_BYTES};

/// A value as SQLite stores it (its storage class and bytes).
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    Null,
    Integer(i64),
    Real(f64),
    /// TEXT, byte for byte: legacy files hold text in more than one encoding.
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

/// Bytes to put in the blob store before the command that refers to them.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingBlob {
    pub sha256: String,
    pub bytes: Vec<u8>,
}

impl PendingBlob {
    pub fn of(bytes: Vec<u8>) -> Self {
        Self {
            sha256: sha256_hex(&bytes),
            bytes,
        }
    }

    pub fn blob_ref(&self) -> String {
        format!("sha256/{}", self.sha256)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Text read from stored bytes, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedText {
    pub text: String,
    /// The encoding the bytes were read in, when they were not UTF-8.
    pub fallback: Option<&'static str>,
}

/// Reads bytes as UTF-8, or else as Windows-1252 (the usual other
/// encoding of older desktop software; every byte sequence decodes).
pub fn decode_text(bytes: &[u8]) -> DecodedText {
    match std::str::from_utf8(bytes) {
        Ok(text) => DecodedText {
            text: text.to_owned(),
            fallback: None,
        },
        Err(_) => {
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            DecodedText {
                text: text.into_owned(),
                fallback: Some("windows-1252"),
            }
        }
    }
}

impl RawValue {
    /// The value as text, for a column the platform reads as text; `None`
    /// for NULL and BLOBs that are not text.
    pub fn as_text(&self) -> Option<DecodedText> {
        match self {
            Self::Null => None,
            Self::Integer(i) => Some(DecodedText {
                text: i.to_string(),
                fallback: None,
            }),
            Self::Real(r) => Some(DecodedText {
                text: r.to_string(),
                fallback: None,
            }),
            Self::Text(bytes) | Self::Blob(bytes) => Some(decode_text(bytes)),
        }
    }

    pub fn storage_class(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Integer(_) => "integer",
            Self::Real(_) => "real",
            Self::Text(_) => "text",
            Self::Blob(_) => "blob",
        }
    }

    /// The value as a legacy record keeps it, inline when it fits in
    /// `budget` bytes (and `MAX_INLINE_VALUE_BYTES`), else with the blob to
    /// store. BLOBs always go to the blob store: events carry no blobs.
    pub fn to_legacy(&self, budget: usize) -> (LegacyValue, Option<PendingBlob>) {
        let bytes = match self {
            Self::Null => return (LegacyValue::Null, None),
            Self::Integer(value) => return (LegacyValue::Integer { value: *value }, None),
            Self::Real(value) => {
                return (
                    LegacyValue::Real {
                        value: value.to_string(),
                    },
                    None,
                );
            }
            Self::Text(bytes) | Self::Blob(bytes) => bytes,
        };
        let inline = match (self, std::str::from_utf8(bytes)) {
            (Self::Text(_), Ok(text)) => Some(LegacyValue::Text {
                value: text.to_owned(),
            }),
            (Self::Text(_), Err(_)) => Some(LegacyValue::Bytes {
                base64: BASE64.encode(bytes),
            }),
            _ => None,
        };
        match inline {
            Some(value) if value.inline_bytes() <= budget.min(MAX_INLINE_VALUE_BYTES) => {
                (value, None)
            }
            _ => {
                let blob = PendingBlob::of(bytes.clone());
                (blob.stored(self.storage_class()), Some(blob))
            }
        }
    }
}

impl PendingBlob {
    /// How a legacy record refers to this blob.
    pub fn stored(&self, storage: &str) -> LegacyValue {
        LegacyValue::Stored {
            storage: storage.to_owned(),
            size_bytes: self.bytes.len() as u64,
            sha256: self.sha256.clone(),
            blob_ref: self.blob_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_in_their_storage_class() {
        let budget = MAX_INLINE_VALUE_BYTES;
        assert_eq!(RawValue::Null.to_legacy(budget).0, LegacyValue::Null);
        assert_eq!(
            RawValue::Integer(-3).to_legacy(budget).0,
            LegacyValue::Integer { value: -3 }
        );
        let (real, _) = RawValue::Real(0.1 + 0.2).to_legacy(budget);
        let LegacyValue::Real { value } = real else {
            panic!("not a real: {real:?}");
        };
        assert_eq!(value.parse::<f64>().ok(), Some(0.1 + 0.2));
        assert_eq!(
            RawValue::Text("Émile".as_bytes().to_vec())
                .to_legacy(budget)
                .0,
            LegacyValue::Text {
                value: "Émile".into()
            }
        );
        // Latin-1 TEXT is not UTF-8: kept as bytes, read as Windows-1252.
        let latin = RawValue::Text(vec![0xc9, b'm', b'i', b'l', b'e']);
        assert_eq!(
            latin.to_legacy(budget).0,
            LegacyValue::Bytes {
                base64: "yW1pbGU=".into()
            }
        );
        let text = latin.as_text().map(|t| (t.text, t.fallback));
        assert_eq!(text, Some(("Émile".into(), Some("windows-1252"))));
    }

    #[test]
    fn large_values_and_blobs_go_to_the_blob_store() {
        let budget = MAX_INLINE_VALUE_BYTES;
        let (value, blob) = RawValue::Blob(vec![1, 2, 3]).to_legacy(budget);
        assert!(matches!(value, LegacyValue::Stored { ref storage, .. } if storage == "blob"));
        assert!(blob.is_some());
        // Past the record's budget, even a small text is stored.
        let (value, _) = RawValue::Text(b"abc".to_vec()).to_legacy(2);
        assert!(matches!(value, LegacyValue::Stored { .. }));
        let big = RawValue::Text(vec![b'a'; MAX_INLINE_VALUE_BYTES + 1]);
        let (value, blob) = big.to_legacy(budget);
        let Some(blob) = blob else {
            panic!("no blob for a large value");
        };
        assert_eq!(
            value,
            LegacyValue::Stored {
                storage: "text".into(),
                size_bytes: (MAX_INLINE_VALUE_BYTES + 1) as u64,
                sha256: blob.sha256.clone(),
                blob_ref: format!("sha256/{}", blob.sha256),
            }
        );
        assert_eq!(blob.sha256, sha256_hex(&blob.bytes));
    }
}
