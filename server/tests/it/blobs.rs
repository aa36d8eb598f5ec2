//! The photo store's contract, on files and on an S3-compatible bucket (an
//! s3s-fs server in this process): the same bytes back, deletes that are
//! idempotent, keys that cannot leave their place.

use kring_server::blob::{BlobError, BlobStore, LocalBlobStore, S3BlobStore};
use kring_server::store::testing::TestS3;
use std::sync::Arc;

/// Runs the checks on the blocking pool (where the server calls the store).
async fn contract(store: Arc<dyn BlobStore>) {
    tokio::task::spawn_blocking(move || {
        let photo: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        store.put("photos/ab/x.jpg", &photo).expect("put");
        assert_eq!(store.get("photos/ab/x.jpg").expect("get"), photo);
        store.put("photos/ab/x.jpg", b"other").expect("overwrite");
        assert_eq!(store.get("photos/ab/x.jpg").expect("get"), b"other");
        store.delete("photos/ab/x.jpg").expect("delete");
        assert!(store.get("photos/ab/x.jpg").is_err(), "deleted");
        store
            .delete("photos/ab/x.jpg")
            .expect("delete twice is fine");
        assert!(store.get("photos/never.jpg").is_err());
        for bad in ["", "../x", "a//b", "/etc/passwd", "a/./b"] {
            assert!(
                matches!(store.put(bad, b"x"), Err(BlobError::InvalidKey(_))),
                "{bad}"
            );
        }
    })
    .await
    .expect("checks");
}

#[tokio::test]
async fn files() {
    let dir = tempfile::tempdir().expect("tempdir");
    contract(Arc::new(LocalBlobStore::new(dir.path()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_bucket() {
    let s3 = TestS3::start().await.expect("S3 server");
    let store = S3BlobStore::new(&s3.settings()).expect("client");
    contract(Arc::new(store.clone())).await;
    // the objects are really in the bucket
    tokio::task::spawn_blocking(move || store.put("thumbs/cd/y.jpg", b"thumb"))
        .await
        .expect("task")
        .expect("put");
    let file = s3.root.path().join(&s3.bucket).join("thumbs/cd/y.jpg");
    assert_eq!(std::fs::read(file).expect("object file"), b"thumb");
    // a wrong key pair is refused
    let mut wrong = s3.settings();
    wrong.secret_access_key = "not-the-secret".into();
    let wrong = S3BlobStore::new(&wrong).expect("client");
    let refused = tokio::task::spawn_blocking(move || wrong.put("photos/z.jpg", b"x"))
        .await
        .expect("task");
    assert!(
        matches!(refused, Err(BlobError::ObjectStore { .. })),
        "{refused:?}"
    );
}
