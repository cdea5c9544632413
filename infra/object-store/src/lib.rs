//! The blob store on object storage: S3 or anything that speaks its API
//! (MinIO, Ceph, S3Proxy...), through the `object_store` crate.
//!
//! Blobs are addressed by content, as in the local folder: the bytes go to
//! a temporary key while they are hashed (as a multipart upload when they
//! are large), then are copied to `<prefix>/sha256/ab/<hex>` and the
//! temporary object is deleted. A refused or failed upload leaves nothing
//! at any content address.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use sha2::{Digest, Sha256};
use studio_blob_store::{BlobError, BlobRef, BlobStore, ByteStream, StoredBlob};
use tokio::io::AsyncWriteExt;

/// Where and how to reach an S3-compatible store.
#[derive(Clone, Debug)]
pub struct S3Settings {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// For anything but AWS itself, e.g. `http://127.0.0.1:9000`.
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("{0:?} is not an s3://bucket[/prefix] address")]
    BadUrl(String),
    #[error("configuring the object store: {0}")]
    Config(#[from] object_store::Error),
}

pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

impl ObjectBlobStore {
    pub fn s3(settings: &S3Settings) -> Result<Self, ObjectStoreError> {
        let rest = settings
            .url
            .strip_prefix("s3://")
            .ok_or_else(|| ObjectStoreError::BadUrl(settings.url.clone()))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(ObjectStoreError::BadUrl(settings.url.clone()));
        }
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_region(&settings.region);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let (Some(key), Some(secret)) = (&settings.access_key_id, &settings.secret_access_key) {
            builder = builder
                .with_access_key_id(key)
                .with_secret_access_key(secret);
        }
        Ok(Self::new(Arc::new(builder.build()?), prefix))
    }

    /// Over any `object_store` backend, under `prefix`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> Self {
        Self {
            store,
            prefix: Path::from(prefix),
        }
    }

    fn key(&self, blob: &BlobRef) -> Path {
        let hex = blob.sha256();
        self.prefix.clone().join("sha256").join(&hex[..2]).join(hex)
    }

    fn temporary(&self) -> Path {
        self.prefix
            .clone()
            .join("tmp")
            .join(uuid::Uuid::new_v4().to_string())
    }
}

fn storage(e: object_store::Error) -> BlobError {
    BlobError::Storage(std::io::Error::other(e))
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn put(&self, mut content: ByteStream<'_>, limit: u64) -> Result<StoredBlob, BlobError> {
        let temporary = self.temporary();
        let mut writer = BufWriter::new(self.store.clone(), temporary.clone());
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let written: Result<(), BlobError> = async {
            while let Some(chunk) = content.next().await {
                let chunk: Bytes = chunk.map_err(|e| BlobError::Source(e.to_string()))?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(BlobError::TooLarge { limit });
                }
                hasher.update(&chunk);
                writer.put(chunk).await.map_err(storage)?;
            }
            writer.shutdown().await?;
            Ok(())
        }
        .await;
        if let Err(e) = written {
            let _ = writer.abort().await;
            let _ = self.store.delete(&temporary).await;
            return Err(e);
        }
        let blob_ref = BlobRef::for_sha256(&hex::encode(hasher.finalize()))?;
        let copied = self.store.copy(&temporary, &self.key(&blob_ref)).await;
        if let Err(e) = self.store.delete(&temporary).await {
            tracing::warn!(error = %e, %temporary, "a temporary upload was left behind");
        }
        copied.map_err(storage)?;
        Ok(StoredBlob {
            blob_ref,
            size_bytes: size,
        })
    }

    async fn get(&self, blob: &BlobRef, limit: u64) -> Result<Bytes, BlobError> {
        let key = self.key(blob);
        let not_found = |e: object_store::Error| match e {
            object_store::Error::NotFound { .. } => BlobError::NotFound(blob.clone()),
            other => storage(other),
        };
        let meta = self.store.head(&key).await.map_err(not_found)?;
        if meta.size > limit {
            return Err(BlobError::TooLarge { limit });
        }
        let bytes = self
            .store
            .get(&key)
            .await
            .map_err(not_found)?
            .bytes()
            .await
            .map_err(storage)?;
        if bytes.len() as u64 > limit {
            return Err(BlobError::TooLarge { limit });
        }
        Ok(bytes)
    }

    async fn exists(&self, blob: &BlobRef) -> Result<bool, BlobError> {
        match self.store.head(&self.key(blob)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(storage(e)),
        }
    }
}
