use studio_blob_store::local::LocalBlobStore;
use studio_blob_store::{BlobRef, conformance as suite};

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let dir = tempfile::tempdir().expect("temp dir");
            let store = LocalBlobStore::open(dir.path()).await.expect("open");
            if let Err(failure) = suite::$name(&store).await {
                panic!("{failure}");
            }
        }
    )*};
}

conformance!(
    stores_by_content,
    refuses_oversize_and_failed_uploads,
    unknown_blobs_are_not_found,
);

#[test]
fn references_are_strict() {
    assert!(BlobRef::parse(&format!("sha256/{}", "a".repeat(64))).is_ok());
    for bad in [
        "",
        "sha256/",
        "sha256/../../etc/passwd",
        "md5/abc",
        &format!("sha256/{}", "A".repeat(64)),
    ] {
        assert!(BlobRef::parse(bad).is_err(), "{bad:?}");
    }
}

#[tokio::test]
async fn leftover_temporary_files_do_not_leak_into_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = LocalBlobStore::open(dir.path()).await.expect("open");
    let _ = studio_blob_store::BlobStore::put(
        &store,
        Box::pin(futures::stream::iter(vec![Ok(bytes::Bytes::from_static(
            b"0123456789",
        ))])),
        5,
    )
    .await;
    let mut tmp = tokio::fs::read_dir(dir.path().join("tmp"))
        .await
        .expect("tmp dir");
    assert!(
        tmp.next_entry().await.expect("read tmp").is_none(),
        "a refused upload left a file"
    );
}
