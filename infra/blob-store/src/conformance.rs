//! What every `BlobStore` adapter must do; each check takes a fresh store.

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::{BlobError, BlobRef, BlobStore, ByteStream};

type Check = Result<(), String>;

fn chunks(parts: Vec<&'static [u8]>) -> ByteStream<'static> {
    futures::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p)))).boxed()
}

pub async fn stores_by_content(store: &dyn BlobStore) -> Check {
    let stored = store
        .put(
            chunks(vec![b"It is a truth ", b"universally acknowledged"]),
            1024,
        )
        .await
        .map_err(|e| e.to_string())?;
    let expected = hex::encode(Sha256::digest(b"It is a truth universally acknowledged"));
    if stored.blob_ref.sha256() != expected || stored.size_bytes != 38 {
        return Err(format!("stored as {stored:?}"));
    }
    let again = store
        .put(
            chunks(vec![b"It is a truth universally acknowledged"]),
            1024,
        )
        .await
        .map_err(|e| e.to_string())?;
    if again != stored {
        return Err("the same content got another address".into());
    }
    let bytes = store
        .get(&stored.blob_ref, 1024)
        .await
        .map_err(|e| e.to_string())?;
    if bytes.as_ref() != b"It is a truth universally acknowledged" {
        return Err("read back different bytes".into());
    }
    if !store
        .exists(&stored.blob_ref)
        .await
        .map_err(|e| e.to_string())?
    {
        return Err("a stored blob does not exist".into());
    }
    match store.get(&stored.blob_ref, 10).await {
        Err(BlobError::TooLarge { .. }) => Ok(()),
        other => Err(format!("a read over the limit gave {other:?}")),
    }
}

pub async fn refuses_oversize_and_failed_uploads(store: &dyn BlobStore) -> Check {
    match store.put(chunks(vec![b"0123456789", b"abc"]), 12).await {
        Err(BlobError::TooLarge { limit: 12 }) => {}
        other => return Err(format!("an oversize upload gave {other:?}")),
    }
    let oversize = BlobRef::for_sha256(&hex::encode(Sha256::digest(b"0123456789abc")))
        .map_err(|e| e.to_string())?;
    if store.exists(&oversize).await.map_err(|e| e.to_string())? {
        return Err("an oversize upload was kept".into());
    }
    let broken: ByteStream<'static> = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"partial")),
        Err(std::io::Error::other("connection reset")),
    ])
    .boxed();
    match store.put(broken, 1024).await {
        Err(BlobError::Source(_)) => {}
        other => return Err(format!("a broken upload gave {other:?}")),
    }
    let partial =
        BlobRef::for_sha256(&hex::encode(Sha256::digest(b"partial"))).map_err(|e| e.to_string())?;
    if store.exists(&partial).await.map_err(|e| e.to_string())? {
        return Err("a broken upload left a blob".into());
    }
    Ok(())
}

pub async fn unknown_blobs_are_not_found(store: &dyn BlobStore) -> Check {
    let unknown = BlobRef::for_sha256(&"0".repeat(64)).map_err(|e| e.to_string())?;
    match store.get(&unknown, 1024).await {
        Err(BlobError::NotFound(_)) => Ok(()),
        other => Err(format!("an unknown blob gave {other:?}")),
    }
}
