//! Backup and restore of the scaled setup, as operations.md tells it: the
//! database with `pg_dump`, the photos by copying the bucket's objects; then
//! both wiped, restored into a new database and a new bucket, a new server
//! on them, and every parent still sees every photo they saw, byte for byte.
#![allow(clippy::unwrap_used)]

use crate::common::portal::{Browser, Portal};
use kring_server::settings::Settings;
use kring_server::store::testing::{TestPostgres, TestS3};
use std::collections::BTreeMap;
use std::path::Path;

fn copy_tree(from: &Path, to: &Path) -> usize {
    std::fs::create_dir_all(to).unwrap();
    let mut n = 0;
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            n += copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            n += 1;
        }
    }
    n
}

/// Every photo (full size and thumbnail) on the parent's timeline.
async fn photos_seen(b: &mut Browser, photo_ids: &[String]) -> BTreeMap<String, Vec<u8>> {
    let page = b.get("/mijn-kind").await;
    assert_eq!(page.status, 200);
    let mut seen = BTreeMap::new();
    for id in photo_ids
        .iter()
        .filter(|id| page.text.contains(id.as_str()))
    {
        for path in [
            format!("/fotos/{id}/origineel"),
            format!("/fotos/{id}/klein"),
        ] {
            let photo = b.get(&path).await;
            assert_eq!(photo.status, 200, "{path}");
            seen.insert(path, photo.bytes);
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_wipe_restore_and_every_parent_still_sees_every_photo() {
    let pg = TestPostgres::get().unwrap();
    let database = pg.fresh_database().await.unwrap();
    let bucket = TestS3::start().await.unwrap();
    let (url, s3) = (database.clone(), bucket.settings());
    let mut p = Portal::start_with(move |s| {
        s.database.url = Some(url);
        s.blobs.s3 = Some(s3);
    })
    .await;
    let photo_ids: Vec<String> = p
        .ids
        .iter()
        .filter(|(k, _)| k.starts_with("photo_"))
        .map(|(_, v)| v.clone())
        .collect();
    let parents = ["sem", "sem2", "noor", "emma", "bram", "other_org"];
    let mut before = BTreeMap::new();
    for who in parents {
        let slug = if who == "other_org" { "ander" } else { "test" };
        let mut b = p.logged_in(slug, who).await;
        before.insert(who, photos_seen(&mut b, &photo_ids).await);
    }
    let total: usize = before.values().map(BTreeMap::len).sum();
    assert!(total >= 12, "the parents see photos: {before:?}");

    // back up: the database, then the objects
    let backup = tempfile::tempdir().unwrap();
    let dump = backup.path().join("kring.dump");
    let out = pg
        .tool("pg_dump")
        .args(["-Fc", "-d", &database, "-f"])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objects = copy_tree(
        &bucket.root.path().join(&bucket.bucket),
        &backup.path().join("objects"),
    );
    assert!(objects >= 18, "photos and thumbnails: {objects}");

    // wipe: the server stops, the database is dropped, the bucket is gone
    p.h.server.take().unwrap().shutdown().await;
    let name = database.rsplit('/').next().unwrap().to_string();
    pg.admin(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
    drop(bucket);

    // restore into a new database and a new bucket
    let restored = format!("{name}_restored");
    pg.admin(&format!(
        "CREATE DATABASE {restored} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
    ))
    .await
    .unwrap();
    let restored_url = pg.url(&restored);
    let out = pg
        .tool("pg_restore")
        .args(["--no-owner", "-d", &restored_url])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_bucket = TestS3::start().await.unwrap();
    copy_tree(
        &backup.path().join("objects"),
        &new_bucket.root.path().join(&new_bucket.bucket),
    );

    // a new server on what was restored: every parent sees the same photos
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    settings.mqtt.listen = ([127, 0, 0, 1], 0).into();
    settings.database.url = Some(restored_url);
    settings.blobs.s3 = Some(new_bucket.settings());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = kring_server::start(settings, listener).await.unwrap();
    for who in parents {
        let slug = if who == "other_org" { "ander" } else { "test" };
        let mut b = Browser::new(server.http_addr, slug);
        assert_eq!(b.login(&p.logins[who]).await.status, 303, "{who}");
        let after = photos_seen(&mut b, &photo_ids).await;
        assert_eq!(after.len(), before[who].len(), "{who} sees as many photos");
        assert!(after == before[who], "{who}: the same bytes");
    }
    server.shutdown().await;
}
