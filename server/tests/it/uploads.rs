//! Resumable photo uploads (tus 1.0) against a real server on port 0.
#![allow(clippy::unwrap_used)]

use crate::common;
use crate::fixtures;

use base64::Engine;
use common::{Device, Harness, jpeg, sha256_hex};
use kring_protocol::*;
use rand::Rng;
use tokio::io::AsyncWriteExt;

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

async fn create(h: &Harness, dev: &Device, length: usize, sha: Option<&str>) -> reqwest::Response {
    let mut req = h
        .http
        .post(h.url("/api/v1/uploads"))
        .header(API_VERSION_HEADER, API_VERSION)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", length.to_string())
        .bearer_auth(&dev.secret);
    if let Some(sha) = sha {
        req = req.header(
            "Upload-Metadata",
            format!(
                "{UPLOAD_META_SHA256} {},filename {}",
                b64(sha),
                b64("foto.jpg")
            ),
        );
    }
    req.send().await.unwrap()
}

async fn create_ok(h: &Harness, dev: &Device, bytes: &[u8]) -> String {
    let resp = create(h, dev, bytes.len(), Some(&sha256_hex(bytes))).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["tus-resumable"], "1.0.0");
    assert!(resp.headers().get("upload-expires").is_some());
    resp.headers()["location"].to_str().unwrap().to_string()
}

async fn head(h: &Harness, dev: &Device, loc: &str) -> reqwest::Response {
    h.http
        .head(h.url(loc))
        .header(API_VERSION_HEADER, API_VERSION)
        .header("Tus-Resumable", "1.0.0")
        .bearer_auth(&dev.secret)
        .send()
        .await
        .unwrap()
}

async fn offset(h: &Harness, dev: &Device, loc: &str) -> usize {
    let resp = head(h, dev, loc).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    resp.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn patch(
    h: &Harness,
    dev: &Device,
    loc: &str,
    at: usize,
    chunk: &[u8],
    checksum: Option<String>,
) -> reqwest::Response {
    let mut req = h
        .http
        .patch(h.url(loc))
        .header(API_VERSION_HEADER, API_VERSION)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", at.to_string())
        .bearer_auth(&dev.secret)
        .body(chunk.to_vec());
    if let Some(c) = checksum {
        req = req.header("Upload-Checksum", c);
    }
    req.send().await.unwrap()
}

/// A raw connection that has sent a PATCH's head (at `at`, announcing
/// `length` bytes) and nothing of its body yet.
async fn raw_patch(
    h: &Harness,
    dev: &Device,
    loc: &str,
    at: usize,
    length: usize,
) -> tokio::net::TcpStream {
    let mut s = tokio::net::TcpStream::connect(h.server().http_addr)
        .await
        .unwrap();
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n{API_VERSION_HEADER}: {API_VERSION}\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: {at}\r\nContent-Length: {length}\r\n\r\n",
        h.server().http_addr,
        dev.secret,
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

/// Sends a PATCH that announces the whole rest but stops after `send` bytes
/// and closes the connection: a network cut mid-chunk.
async fn patch_cut(h: &Harness, dev: &Device, loc: &str, at: usize, rest: &[u8], send: usize) {
    let mut s = raw_patch(h, dev, loc, at, rest.len()).await;
    s.write_all(&rest[..send]).await.unwrap();
    s.flush().await.unwrap();
    s.shutdown().await.unwrap();
    drop(s);
}

fn upload_id(loc: &str) -> UploadId {
    loc.rsplit('/').next().unwrap().parse().unwrap()
}

async fn stored_sha(h: &Harness, id: UploadId) -> Option<String> {
    h.sql()
        .row(
            "SELECT sha256 FROM uploads WHERE id = ?1",
            kring_server::sql_params![id.to_string()],
        )
        .await
        .unwrap()
        .remove(0)
        .text()
        .map(str::to_string)
}

fn photo_item(h: &Harness, upload: UploadId, sha: &str) -> PushItem {
    PushItem::Photo(PhotoItem {
        id: PhotoId::new(),
        upload_id: upload,
        sha256: sha.to_string(),
        tags: vec![h.kids[0], h.kids[1]],
        no_children_recognizable: false,
        audience_shown: Audience::StaffOnly,
        taken_at_device: chrono::Utc::now(),
        staff_id: None,
    })
}

#[tokio::test]
async fn options_announce_tus() {
    let h = Harness::start().await;
    let resp = h
        .http
        .request(reqwest::Method::OPTIONS, h.url("/api/v1/uploads"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["tus-version"], "1.0.0");
    let ext = resp.headers()["tus-extension"].to_str().unwrap();
    for e in ["creation", "checksum", "expiration"] {
        assert!(ext.contains(e), "{ext}");
    }
    assert!(
        resp.headers()["tus-checksum-algorithm"]
            .to_str()
            .unwrap()
            .contains("sha1")
    );
}

#[tokio::test]
async fn upload_cut_twenty_times_ends_with_the_exact_bytes() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let bytes = jpeg(1600, 1200);
    assert!(bytes.len() > 200_000);
    let sha = sha256_hex(&bytes);
    let loc = create_ok(&h, &dev, &bytes).await;
    let mut rng = rand::rng();
    let mut cuts = 0;
    let mut conflicts = 0;
    while cuts < 20 {
        let at = offset(&h, &dev, &loc).await;
        let rest = &bytes[at..];
        assert!(
            rest.len() > 1,
            "cut {cuts}: upload already complete at {at}"
        );
        let send = rng.random_range(0..rest.len() / 8);
        patch_cut(&h, &dev, &loc, at, rest, send).await;
        cuts += 1;
        // The cut request may still be finishing: the next HEAD answers the
        // recorded offset at once, and a PATCH at a stale offset gets 409 below.
    }
    // the bytes that arrived before each cut were kept
    assert!(offset(&h, &dev, &loc).await > 0);
    loop {
        let at = offset(&h, &dev, &loc).await;
        let resp = patch(&h, &dev, &loc, at, &bytes[at..], None).await;
        match resp.status().as_u16() {
            204 => {
                assert_eq!(
                    resp.headers()["upload-offset"],
                    bytes.len().to_string().as_str()
                );
                break;
            }
            409 => conflicts += 1,
            other => panic!("unexpected {other}: {}", resp.text().await.unwrap()),
        }
        assert!(conflicts < 5);
    }
    assert_eq!(
        stored_sha(&h, upload_id(&loc)).await.as_deref(),
        Some(sha.as_str())
    );
    // the photo now exists once its item is pushed, with the server's confirmed hash
    let item = photo_item(&h, upload_id(&loc), &sha);
    let resp = h.push(&dev, &item).await;
    assert_eq!(resp.status(), 200);
    let receipt: PushReceipt = resp.json().await.unwrap();
    assert_eq!(receipt.sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(h.count("SELECT COUNT(*) FROM photos").await, 1);
    assert_eq!(h.count("SELECT COUNT(*) FROM photo_tags").await, 2);
    // the same upload cannot make a second photo
    let again = photo_item(&h, upload_id(&loc), &sha);
    assert_eq!(h.push(&dev, &again).await.status(), 422);
    assert_eq!(h.count("SELECT COUNT(*) FROM photos").await, 1);
}

#[tokio::test]
async fn wrong_offset_bad_checksum_and_sizes() {
    let h = Harness::start_with(|s| s.limits.max_upload_bytes = 2_000_000).await;
    let dev = h.enroll().await;
    let bytes = jpeg(640, 480);
    let loc = create_ok(&h, &dev, &bytes).await;
    // first chunk with a right sha1 checksum
    let sha1 = |d: &[u8]| {
        use sha1::Digest;
        format!(
            "sha1 {}",
            base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(d))
        )
    };
    let resp = patch(
        &h,
        &dev,
        &loc,
        0,
        &bytes[..1000],
        Some(sha1(&bytes[..1000])),
    )
    .await;
    assert_eq!(resp.status(), 204);
    assert_eq!(offset(&h, &dev, &loc).await, 1000);
    // wrong offset -> 409, nothing written
    let resp = patch(&h, &dev, &loc, 500, &bytes[500..1500], None).await;
    assert_eq!(resp.status(), 409);
    assert_eq!(
        resp.json::<ApiError>().await.unwrap().code,
        ErrorCode::UploadOffsetMismatch
    );
    assert_eq!(offset(&h, &dev, &loc).await, 1000);
    // bad checksum -> 460, chunk discarded, offset unchanged
    let resp = patch(
        &h,
        &dev,
        &loc,
        1000,
        &bytes[1000..3000],
        Some(sha1(b"something else")),
    )
    .await;
    assert_eq!(resp.status(), 460);
    assert_eq!(offset(&h, &dev, &loc).await, 1000);
    // unsupported checksum algorithm -> 400
    let resp = patch(
        &h,
        &dev,
        &loc,
        1000,
        &bytes[1000..3000],
        Some("md5 AAAA".into()),
    )
    .await;
    assert_eq!(resp.status(), 400);
    // a chunk larger than what remains -> 413 before reading it
    let mut too_much = bytes[1000..].to_vec();
    too_much.extend_from_slice(&[0u8; 10]);
    let resp = patch(&h, &dev, &loc, 1000, &too_much, None).await;
    assert_eq!(resp.status(), 413);
    assert_eq!(offset(&h, &dev, &loc).await, 1000);
    // wrong content type -> 415
    let resp = h
        .http
        .patch(h.url(&loc))
        .header(API_VERSION_HEADER, API_VERSION)
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "image/jpeg")
        .header("Upload-Offset", "1000")
        .bearer_auth(&dev.secret)
        .body(bytes[1000..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    // missing Tus-Resumable -> 412
    let resp = h
        .http
        .head(h.url(&loc))
        .header(API_VERSION_HEADER, API_VERSION)
        .bearer_auth(&dev.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 412);
    // the rest with a sha256 checksum completes it
    let sha256 = format!(
        "sha256 {}",
        base64::engine::general_purpose::STANDARD
            .encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes[1000..]))
    );
    let resp = patch(&h, &dev, &loc, 1000, &bytes[1000..], Some(sha256)).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        stored_sha(&h, upload_id(&loc)).await,
        Some(sha256_hex(&bytes))
    );
    // too large an upload is refused at creation, before any byte is sent
    let resp = create(&h, &dev, 2_000_001, None).await;
    assert_eq!(resp.status(), 413);
    // another device cannot see or touch this upload
    let other = h.enroll().await;
    assert_eq!(head(&h, &other, &loc).await.status(), 404);
}

#[tokio::test]
async fn non_jpeg_and_pixel_bombs_are_refused() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    // a PNG: refused by its magic bytes on the first chunk
    let png = {
        let img = image::RgbImage::new(8, 8);
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let resp = create(&h, &dev, png.len(), None).await;
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let resp = patch(&h, &dev, &loc, 0, &png, None).await;
    assert_eq!(resp.status(), 415);
    assert_eq!(
        resp.json::<ApiError>().await.unwrap().code,
        ErrorCode::NotAJpeg
    );
    assert_eq!(head(&h, &dev, &loc).await.status(), 422);
    // a small file declaring 50,000 x 50,000 pixels: refused from its header
    let mut bomb = vec![0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00];
    bomb.extend_from_slice(&[1u8; 64]);
    bomb.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
    bomb.extend_from_slice(&50_000u16.to_be_bytes());
    bomb.extend_from_slice(&50_000u16.to_be_bytes());
    bomb.extend_from_slice(&[0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
    bomb.extend_from_slice(&[0u8; 200]);
    bomb.extend_from_slice(&[0xFF, 0xD9]);
    let loc = {
        let resp = create(&h, &dev, bomb.len(), None).await;
        resp.headers()["location"].to_str().unwrap().to_string()
    };
    let started = std::time::Instant::now();
    let resp = patch(&h, &dev, &loc, 0, &bomb, None).await;
    assert_eq!(resp.status(), 422);
    let err: ApiError = resp.json().await.unwrap();
    assert!(
        err.message.to_lowercase().contains("pixel") || err.message.contains("large"),
        "{}",
        err.message
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // a broken JPEG (good header, garbage scan) -> 422, no panic, server fine
    let mut broken = jpeg(320, 240);
    let n = broken.len();
    for b in &mut broken[n / 2..n - 2] {
        *b = 0xFF;
    }
    let loc = {
        let resp = create(&h, &dev, broken.len(), None).await;
        resp.headers()["location"].to_str().unwrap().to_string()
    };
    let resp = patch(&h, &dev, &loc, 0, &broken, None).await;
    assert!(resp.status().is_client_error(), "{}", resp.status());
    assert_eq!(
        h.get(&dev, "/api/v1/device").send().await.unwrap().status(),
        200
    );
    assert_eq!(
        h.count("SELECT COUNT(*) FROM uploads WHERE completed_at IS NOT NULL")
            .await,
        0
    );
}

#[tokio::test]
async fn announced_sha256_must_match() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let bytes = jpeg(320, 240);
    let resp = create(&h, &dev, bytes.len(), Some(&"ab".repeat(32))).await;
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let resp = patch(&h, &dev, &loc, 0, &bytes, None).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(stored_sha(&h, upload_id(&loc)).await, None);
}

fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("KRING_TEST_PYTHON") {
        return p.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-venv/bin/python")
}

#[tokio::test]
async fn a_standard_tus_client_uploads() {
    let py = python();
    assert!(
        py.exists(),
        "the peer tus client (tuspy) is missing at {}: run `cargo xtask deps` (or use `cargo xtask test`)",
        py.display()
    );
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let bytes = jpeg(1200, 900);
    let sha = sha256_hex(&bytes);
    let file = h.dir.path().join("peer.jpg");
    std::fs::write(&file, &bytes).unwrap();
    let script = r#"
import sys
from tusclient import client
url, secret, path, sha, version = sys.argv[1:6]
c = client.TusClient(url, headers={"Authorization": "Bearer " + secret, "Kring-Api-Version": version})
u = c.uploader(path, chunk_size=50000, metadata={"sha256": sha}, upload_checksum=True)
u.upload()
print(u.url)
"#;
    let out = tokio::process::Command::new(&py)
        .arg("-c")
        .arg(script)
        .arg(h.url("/api/v1/uploads"))
        .arg(&dev.secret)
        .arg(&file)
        .arg(&sha)
        .arg(API_VERSION.to_string())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "tuspy failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let id = upload_id(&url);
    assert_eq!(stored_sha(&h, id).await.as_deref(), Some(sha.as_str()));
    let resp = h.push(&dev, &photo_item(&h, id, &sha)).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn gps_and_exif_are_gone_from_the_stored_photo_and_thumbnail() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let bytes = fixtures::jpeg_with_exif(Some(6));
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(&bytes, fixtures::GPS_SENTINEL),
        "the fixture carries the sentinel"
    );
    let sha = sha256_hex(&bytes);
    let loc = create_ok(&h, &dev, &bytes).await;
    let resp = patch(&h, &dev, &loc, 0, &bytes, None).await;
    assert_eq!(resp.status(), 204);
    let resp = h.push(&dev, &photo_item(&h, upload_id(&loc), &sha)).await;
    assert_eq!(resp.status(), 200);
    let row = h
        .sql()
        .row(
            "SELECT blob_key, thumb_key, width, height FROM photos",
            vec![],
        )
        .await
        .unwrap();
    let text = |i: usize| row[i].text().unwrap().to_string();
    let int = |i: usize| u32::try_from(row[i].int().unwrap()).unwrap();
    let (blob, thumb, w, hgt) = (text(0), text(1), int(2), int(3));
    // orientation 6 applied: 640x480 comes out standing
    assert_eq!((w, hgt), (fixtures::HEIGHT, fixtures::WIDTH));
    let blob_key = blob.clone();
    for key in [blob, thumb] {
        let blobs = h.server().state.blobs.clone();
        let k = key.clone();
        let stored = tokio::task::spawn_blocking(move || blobs.get(&k))
            .await
            .unwrap()
            .unwrap();
        assert!(
            !contains(&stored, fixtures::GPS_SENTINEL),
            "{key} still has the GPS sentinel"
        );
        assert!(
            !contains(&stored, fixtures::DESCRIPTION_SENTINEL),
            "{key} still has the description"
        );
        assert!(
            !contains(&stored, b"Exif\0\0"),
            "{key} still has an EXIF segment"
        );
        assert!(image::load_from_memory(&stored).is_ok(), "{key} decodes");
    }
    // nothing of the upload is left: not in the uploads folder (files: one
    // process), not in the database (several processes)
    let left: Vec<_> = std::fs::read_dir(h.dir.path().join("uploads"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(left.is_empty());
    assert_eq!(h.count("SELECT COUNT(*) FROM upload_parts").await, 0);
    // on the scaled setup the photo is an object in the S3 bucket
    if let Some(s3) = &h.s3 {
        let object = s3.root.path().join(&s3.bucket).join(&blob_key);
        assert!(object.exists(), "{} is not in the bucket", object.display());
    }
}

/// A photo whose upload was cut after one or two bytes resumes and completes:
/// the JPEG check reads back the bytes already stored instead of taking the
/// next three as the file's start. (The random cuts above hit this once in
/// CI: the resumed upload was refused as "not a JPEG", and the photo lost.)
#[tokio::test]
async fn an_upload_cut_inside_the_jpeg_magic_resumes() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let bytes = jpeg(320, 240);
    for first in [1usize, 2] {
        let loc = create_ok(&h, &dev, &bytes).await;
        let resp = patch(&h, &dev, &loc, 0, &bytes[..first], None).await;
        assert_eq!(resp.status(), 204, "the first {first} byte(s)");
        assert_eq!(offset(&h, &dev, &loc).await, first);
        let resp = patch(&h, &dev, &loc, first, &bytes[first..], None).await;
        assert_eq!(resp.status(), 204, "the rest after {first} byte(s)");
        assert_eq!(
            resp.headers()["upload-offset"],
            bytes.len().to_string().as_str()
        );
        assert_eq!(
            stored_sha(&h, upload_id(&loc)).await,
            Some(sha256_hex(&bytes)),
            "the upload is complete"
        );
    }
    // a file that is not a JPEG is still refused, also when its first bytes
    // come one at a time
    let not_jpeg = b"GIF89a and more".to_vec();
    let loc = create_ok(&h, &dev, &not_jpeg).await;
    assert_eq!(
        patch(&h, &dev, &loc, 0, &not_jpeg[..1], None)
            .await
            .status(),
        204
    );
    assert_eq!(
        patch(&h, &dev, &loc, 1, &not_jpeg[1..], None)
            .await
            .status(),
        415
    );
}

/// Ids a device makes up (or another device's upload) never take a lock:
/// the map of per-upload locks holds only uploads being written.
#[tokio::test]
async fn made_up_upload_ids_take_no_lock() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let other = h.enroll().await;
    let bytes = jpeg(320, 240);
    let theirs = create_ok(&h, &other, &bytes).await;
    for _ in 0..200 {
        let loc = format!("/api/v1/uploads/{}", UploadId::new());
        assert_eq!(patch(&h, &dev, &loc, 0, &bytes, None).await.status(), 404);
        assert_eq!(head(&h, &dev, &loc).await.status(), 404);
    }
    assert_eq!(
        patch(&h, &dev, &theirs, 0, &bytes, None).await.status(),
        404
    );
    let locks = &h.server().state.upload_locks;
    assert_eq!(
        locks.len(),
        0,
        "locks for uploads that are not the device's"
    );
    // finished uploads leave at most the one entry the next upload clears
    for _ in 0..5 {
        let loc = create_ok(&h, &dev, &bytes).await;
        assert_eq!(patch(&h, &dev, &loc, 0, &bytes, None).await.status(), 204);
    }
    assert!(locks.len() <= 1, "{} lock entries left", locks.len());
}

/// A PATCH whose connection stays open without sending is cut off after the
/// read timeout, keeping what arrived; meanwhile a HEAD answers at once and
/// the upload resumes and completes.
#[tokio::test]
async fn a_stalled_patch_is_cut_off_and_never_blocks_a_head() {
    use tokio::io::AsyncReadExt;
    let h = Harness::start_with(|s| s.limits.upload_read_timeout_secs = 3).await;
    let dev = h.enroll().await;
    let bytes = jpeg(800, 600);
    let sha = sha256_hex(&bytes);
    let loc = create_ok(&h, &dev, &bytes).await;
    let mut stalled = raw_patch(&h, &dev, &loc, 0, bytes.len()).await;
    stalled.write_all(&bytes[..1000]).await.unwrap();
    stalled.flush().await.unwrap();
    // the device, not hearing back, asks where the upload is: an answer
    // while the stalled PATCH is still unanswered (before the fix it waited
    // behind the PATCH's lock, forever)
    let resp = tokio::time::timeout(std::time::Duration::from_secs(20), head(&h, &dev, &loc))
        .await
        .expect("the HEAD waited behind the stalled PATCH");
    assert_eq!(resp.status(), 200);
    let mut probe = [0u8; 1];
    assert!(
        tokio::time::timeout(
            std::time::Duration::from_millis(50),
            stalled.peek(&mut probe)
        )
        .await
        .is_err(),
        "the stalled PATCH was answered before the HEAD"
    );
    // the server gives up on the stalled PATCH and keeps its bytes
    let mut answer = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stalled.read(&mut buf).await.unwrap_or(0);
            answer.extend_from_slice(&buf[..n]);
            if n == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the stalled PATCH was never answered");
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 204"), "{answer}");
    assert!(answer.contains("upload-offset: 1000"), "{answer}");
    assert_eq!(offset(&h, &dev, &loc).await, 1000);
    let resp = patch(&h, &dev, &loc, 1000, &bytes[1000..], None).await;
    assert_eq!(resp.status(), 204);
    assert_eq!(
        stored_sha(&h, upload_id(&loc)).await.as_deref(),
        Some(sha.as_str())
    );
}

/// A device over its quota of unfinished uploads gets 429 with Retry-After
/// (the sync engine's "server busy, retry later"), and nothing is created.
#[tokio::test]
async fn a_device_over_its_upload_quota_is_told_to_wait() {
    let h = Harness::start_with(|s| s.limits.uploads_open_per_device = 3).await;
    let dev = h.enroll().await;
    let bytes = jpeg(320, 240);
    for _ in 0..3 {
        create_ok(&h, &dev, &bytes).await;
    }
    let resp = create(&h, &dev, bytes.len(), Some(&sha256_hex(&bytes))).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    let body: ApiError = resp.json().await.unwrap();
    assert_eq!(body.code, ErrorCode::RateLimited);
    assert_eq!(h.count("SELECT COUNT(*) FROM uploads").await, 3);
    if h.s3.is_none() {
        let spooled = std::fs::read_dir(h.dir.path().join("uploads"))
            .unwrap()
            .count();
        assert_eq!(spooled, 3, "the refused upload left a file");
    }
}

/// A photo sealed on the device: the server opens the upload and the item
/// with its own key; something sealed to another key is refused, clearly.
#[tokio::test]
async fn a_sealed_photo_and_its_sealed_item_are_opened_by_the_server() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let to: SealTo = dev
        .enrolled
        .seal_to
        .as_deref()
        .expect("the enrollment names the key to seal to")
        .parse()
        .unwrap();
    let bytes = jpeg(640, 480);
    let sha = sha256_hex(&bytes);
    let sealed = to.seal(&bytes).unwrap();
    // the announced sha256 is the JPEG's; the bytes uploaded are sealed
    let resp = create(&h, &dev, sealed.len(), Some(&sha)).await;
    assert_eq!(resp.status(), 201);
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let resp = patch(&h, &dev, &loc, 0, &sealed, None).await;
    assert_eq!(resp.status(), 204, "{:?}", resp.text().await);
    let upload = upload_id(&loc);
    assert_eq!(stored_sha(&h, upload).await.as_deref(), Some(sha.as_str()));
    // the item: sealed without its upload id, which rides in the envelope
    let item = photo_item(&h, UploadId(uuid::Uuid::nil()), &sha);
    let mut envelope = SealedItem::seal(&item, &to).unwrap();
    envelope.upload_id = Some(upload);
    let resp = h.push(&dev, &PushItem::Sealed(envelope.clone())).await;
    assert_eq!(resp.status(), 200, "{:?}", resp.text().await);
    let receipt: PushReceipt = resp.json().await.unwrap();
    assert_eq!(receipt.sha256.as_deref(), Some(sha.as_str()));
    // a retry of the same envelope gets the stored answer
    let again = h.push(&dev, &PushItem::Sealed(envelope)).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(h.count("SELECT COUNT(*) FROM photos").await, 1);

    // sealed to a key this server does not have
    let stranger: SealTo = SealKeys::parse(&[SealKeys::generate()])
        .unwrap()
        .recipient()
        .unwrap();
    let lost = PushItem::Message(StaffMessageItem {
        id: MessageId::new(),
        thread: MessageThread::Group,
        body: "voor een andere server".into(),
        staff_id: None,
    });
    let resp = h
        .push(
            &dev,
            &PushItem::Sealed(SealedItem::seal(&lost, &stranger).unwrap()),
        )
        .await;
    assert_eq!(resp.status(), 422);
    let err: ApiError = resp.json().await.unwrap();
    assert!(err.message.contains("cannot be opened"), "{}", err.message);
    let bytes2 = jpeg(320, 240);
    let sealed2 = stranger.seal(&bytes2).unwrap();
    let resp = create(&h, &dev, sealed2.len(), Some(&sha256_hex(&bytes2))).await;
    let loc = resp.headers()["location"].to_str().unwrap().to_string();
    let resp = patch(&h, &dev, &loc, 0, &sealed2, None).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(h.count("SELECT COUNT(*) FROM messages").await, 0);
}
