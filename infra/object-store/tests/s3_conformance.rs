//! The object-store adapter against the blob store conformance suite, on a
//! real S3-compatible server (`bash infra/local/up.sh s3` starts one and
//! prints the variables these tests read), plus an in-memory store.

use std::sync::Arc;

use studio_blob_store::{BlobStore, conformance as suite};
use studio_object_store::{ObjectBlobStore, S3Settings};

/// A store under a prefix of its own, so tests never share blobs.
fn s3() -> ObjectBlobStore {
    let var = |name: &str| std::env::var(name).ok();
    let (Some(url), Some(endpoint)) = (var("STUDIO_BLOBS"), var("STUDIO_S3_ENDPOINT")) else {
        panic!(
            "no S3-compatible server: run `eval \"$(bash infra/local/up.sh s3)\"` first \
             (the README's test command does)"
        );
    };
    let settings = S3Settings {
        url: format!(
            "{}/test-{}",
            url.trim_end_matches('/'),
            uuid::Uuid::new_v4()
        ),
        endpoint: Some(endpoint),
        region: var("STUDIO_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
        access_key_id: var("STUDIO_S3_ACCESS_KEY"),
        secret_access_key: var("STUDIO_S3_SECRET_KEY"),
    };
    ObjectBlobStore::s3(&settings).expect("an S3 store")
}

fn memory() -> ObjectBlobStore {
    ObjectBlobStore::new(Arc::new(object_store::memory::InMemory::new()), "blobs")
}

macro_rules! conformance {
    ($open:ident: $($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let store = $open();
            if let Err(failure) = suite::$name(&store).await {
                panic!("{failure}");
            }
        }
    )*};
}

mod on_s3 {
    use super::*;

    conformance!(s3:
        stores_by_content,
        refuses_oversize_and_failed_uploads,
        unknown_blobs_are_not_found,
    );

    /// Large enough for a multipart upload (parts of 10 MiB).
    #[tokio::test]
    async fn large_blobs_go_up_in_parts() {
        let store = s3();
        let chunk = bytes::Bytes::from(vec![7u8; 1024 * 1024]);
        let stream = futures::stream::iter((0..24).map(move |_| Ok(chunk.clone())));
        let stored = store
            .put(Box::pin(stream), 64 * 1024 * 1024)
            .await
            .expect("a 24 MiB upload");
        assert_eq!(stored.size_bytes, 24 * 1024 * 1024);
        let back = store
            .get(&stored.blob_ref, 64 * 1024 * 1024)
            .await
            .expect("read back");
        assert_eq!(back.len(), 24 * 1024 * 1024);
        assert!(back.iter().all(|b| *b == 7));
    }
}

mod in_memory {
    use super::*;

    conformance!(memory:
        stores_by_content,
        refuses_oversize_and_failed_uploads,
        unknown_blobs_are_not_found,
    );
}

#[test]
fn addresses_must_be_s3_urls() {
    for bad in ["", "s3://", "http://bucket", "bucket/prefix"] {
        let settings = S3Settings {
            url: bad.into(),
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: None,
            secret_access_key: None,
        };
        assert!(ObjectBlobStore::s3(&settings).is_err(), "{bad:?}");
    }
}
