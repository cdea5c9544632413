//! Blobs: the bytes of uploads, addressed by their SHA-256 so that the same
//! file stored twice is stored once, and never carried inside an event.
//! [`BlobStore`] is the port; [`local::LocalBlobStore`] keeps them in a
//! folder under the data directory.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod local;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

/// `sha256/<64 hex digits>`: the address of a blob.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobRef(String);

impl BlobRef {
    pub fn for_sha256(hex: &str) -> Result<Self, BlobError> {
        if hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(format!("sha256/{hex}")))
        } else {
            Err(BlobError::BadReference(hex.chars().take(80).collect()))
        }
    }

    pub fn parse(text: &str) -> Result<Self, BlobError> {
        match text.strip_prefix("sha256/") {
            Some(hex) => Self::for_sha256(hex),
            None => Err(BlobError::BadReference(text.chars().take(80).collect())),
        }
    }

    pub fn sha256(&self) -> &str {
        &self.0["sha256/".len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What storing a stream produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    pub blob_ref: BlobRef,
    pub size_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("the content is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("no blob {0}")]
    NotFound(BlobRef),
    #[error("{0:?} is not a blob reference")]
    BadReference(String),
    #[error("reading the upload failed: {0}")]
    Source(String),
    #[error("blob storage failed: {0}")]
    Storage(#[from] std::io::Error),
}

pub type ByteStream<'a> = BoxStream<'a, Result<Bytes, std::io::Error>>;

#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores the stream, hashing as it goes, and refuses (storing nothing)
    /// once more than `limit` bytes arrive. Once this returns, the blob is
    /// durable: an event may refer to it.
    async fn put(&self, content: ByteStream<'_>, limit: u64) -> Result<StoredBlob, BlobError>;

    /// The whole blob, refused when it is larger than `limit`.
    async fn get(&self, blob: &BlobRef, limit: u64) -> Result<Bytes, BlobError>;

    async fn exists(&self, blob: &BlobRef) -> Result<bool, BlobError>;
}
