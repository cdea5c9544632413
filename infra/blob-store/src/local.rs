//! Blobs as files: `<root>/sha256/ab/<hex>`, written to a temporary file,
//! synced, then renamed into place, so a blob is either whole or absent.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::fs;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{BlobError, BlobRef, BlobStore, ByteStream, StoredBlob};

pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    pub async fn open(root: &Path) -> Result<Self, BlobError> {
        fs::create_dir_all(root.join("tmp")).await?;
        fs::create_dir_all(root.join("sha256")).await?;
        Ok(Self {
            root: root.to_owned(),
        })
    }

    fn path_of(&self, blob: &BlobRef) -> PathBuf {
        let hex = blob.sha256();
        self.root.join("sha256").join(&hex[..2]).join(hex)
    }
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn put(&self, mut content: ByteStream<'_>, limit: u64) -> Result<StoredBlob, BlobError> {
        let temp = self.root.join("tmp").join(uuid::Uuid::new_v4().to_string());
        let result = async {
            let mut file = fs::File::create(&temp).await?;
            let mut hasher = Sha256::new();
            let mut size: u64 = 0;
            while let Some(chunk) = content.next().await {
                let chunk = chunk.map_err(|e| BlobError::Source(e.to_string()))?;
                size += chunk.len() as u64;
                if size > limit {
                    return Err(BlobError::TooLarge { limit });
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            let blob_ref = BlobRef::for_sha256(&hex::encode(hasher.finalize()))?;
            let target = self.path_of(&blob_ref);
            if let Some(dir) = target.parent() {
                fs::create_dir_all(dir).await?;
            }
            fs::rename(&temp, &target).await?;
            if let Some(dir) = target.parent() {
                fs::File::open(dir).await?.sync_all().await?;
            }
            Ok(StoredBlob {
                blob_ref,
                size_bytes: size,
            })
        }
        .await;
        if result.is_err() {
            let _ = fs::remove_file(&temp).await;
        }
        result
    }

    async fn get(&self, blob: &BlobRef, limit: u64) -> Result<Bytes, BlobError> {
        let path = self.path_of(blob);
        let file = match fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(BlobError::NotFound(blob.clone()));
            }
            Err(e) => return Err(e.into()),
        };
        if file.metadata().await?.len() > limit {
            return Err(BlobError::TooLarge { limit });
        }
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes).await?;
        Ok(Bytes::from(bytes))
    }

    async fn exists(&self, blob: &BlobRef) -> Result<bool, BlobError> {
        Ok(fs::try_exists(self.path_of(blob)).await?)
    }
}
