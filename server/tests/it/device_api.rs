//! The device API against a real server on port 0: enrollment, auth, the
//! change feed, idempotent pushes and validation against the server's truth.
#![allow(clippy::unwrap_used)]

use crate::common;

use chrono::{Duration, Utc};
use common::Harness;
use kring_protocol::*;

#[tokio::test]
async fn enrollment_good_reused_expired_guessed() {
    let h = Harness::start().await;
    // good
    let code = h.code_for(h.group, Duration::minutes(15)).await;
    let resp = h.enroll_raw(&code.to_lowercase().replace('-', " ")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()[API_VERSION_HEADER],
        API_VERSION.to_string().as_str()
    );
    let enrolled: EnrollResponse = resp.json().await.unwrap();
    assert_eq!(enrolled.group.id, h.group);
    assert_eq!(enrolled.group.name, "Dolfijnen");
    assert_eq!(enrolled.mqtt.port, h.server().mqtt_addr.unwrap().port());
    assert_eq!(
        enrolled.mqtt.topic_prefix,
        mqtt::device_prefix(&enrolled.device_id)
    );
    // the secret is stored hashed only
    let plain = h
        .count(&format!(
            "SELECT COUNT(*) FROM devices WHERE secret_hash = '{}'",
            enrolled.device_secret
        ))
        .await;
    assert_eq!(plain, 0);
    // reused
    let resp = h.enroll_raw(&code).await;
    assert_eq!(resp.status(), 403);
    let err: ApiError = resp.json().await.unwrap();
    assert_eq!(err.code, ErrorCode::EnrollmentCodeInvalid);
    // expired
    let expired = h.code_for(h.group, Duration::seconds(-1)).await;
    assert_eq!(h.enroll_raw(&expired).await.status(), 403);
    assert_eq!(h.count("SELECT COUNT(*) FROM devices").await, 1);
    // guessed: after 5 failures from this address (2 above), even a right code waits
    for _ in 0..3 {
        assert_eq!(h.enroll_raw("AAAA-AAAA").await.status(), 403);
    }
    let good = h.code_for(h.group, Duration::minutes(15)).await;
    let resp = h.enroll_raw(&good).await;
    assert_eq!(resp.status(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    assert_eq!(h.count("SELECT COUNT(*) FROM devices").await, 1);
}

/// Enrollment as a client behind the reverse proxy (`X-Forwarded-For`).
async fn enroll_from(h: &Harness, from: &str, code: &str) -> u16 {
    h.enroll_request(code)
        .header("x-forwarded-for", from)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Behind the reverse proxy every device arrives from the proxy's address:
/// wrong codes count per forwarded client address (IPv6 per /64), and many
/// addresses guessing together slow enrollment down instead of locking
/// every location out.
#[tokio::test]
async fn enrollment_limits_count_per_client_behind_the_proxy_and_slow_down_together() {
    let h = Harness::start_with(|s| {
        s.http.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        s.limits.enroll_failures_per_window = 2;
    })
    .await;
    for _ in 0..2 {
        assert_eq!(enroll_from(&h, "198.51.100.7", "AAAA-AAAA").await, 403);
    }
    assert_eq!(enroll_from(&h, "198.51.100.7", "AAAA-AAAA").await, 429);
    // another household behind the same proxy is not held back
    let good = h.code_for(h.group, Duration::minutes(15)).await;
    assert_eq!(enroll_from(&h, "198.51.100.8", &good).await, 200);
    // one IPv6 home (a /64) is one client
    for a in ["2001:db8:1:2::1", "2001:db8:1:2::2"] {
        assert_eq!(enroll_from(&h, a, "AAAA-AAAA").await, 403);
    }
    assert_eq!(enroll_from(&h, "2001:db8:1:2::3", "AAAA-AAAA").await, 429);
    assert_eq!(enroll_from(&h, "2001:db8:1:3::1", "AAAA-AAAA").await, 403);
    // twenty addresses' worth of wrong codes in all (2 × 20 = 40): a right
    // code from a new address still enrolls (after a pause), a wrong one is
    // still just wrong
    for i in 0..18 {
        for _ in 0..2 {
            assert_eq!(
                enroll_from(&h, &format!("203.0.113.{i}"), "AAAA-AAAA").await,
                403
            );
        }
    }
    let good = h.code_for(h.group, Duration::minutes(15)).await;
    assert_eq!(enroll_from(&h, "192.0.2.50", &good).await, 200);
    assert_eq!(enroll_from(&h, "192.0.2.51", "AAAA-AAAA").await, 403);
    assert_eq!(h.count("SELECT COUNT(*) FROM devices").await, 2);
}

#[tokio::test]
async fn unknown_revoked_and_wrong_version_are_refused() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    assert_eq!(
        h.get(&dev, "/api/v1/device").send().await.unwrap().status(),
        200
    );
    // wrong secret
    let resp = h
        .http
        .get(h.url("/api/v1/feed"))
        .header(API_VERSION_HEADER, API_VERSION)
        .bearer_auth("not-a-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // no auth at all
    let resp = h
        .http
        .get(h.url("/api/v1/feed"))
        .header(API_VERSION_HEADER, API_VERSION)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // wrong API version: a clear error, not a parse failure
    let resp = h
        .http
        .get(h.url("/api/v1/feed"))
        .header(API_VERSION_HEADER, "99")
        .bearer_auth(&dev.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let err: ApiError = resp.json().await.unwrap();
    assert_eq!(err.code, ErrorCode::ApiVersionMismatch);
    assert!(err.message.contains("99"), "{}", err.message);
    // revoked: 401 on every call
    assert!(h.server().state.revoke_device(dev.id).await.unwrap());
    for path in ["/api/v1/device", "/api/v1/feed"] {
        assert_eq!(
            h.get(&dev, path).send().await.unwrap().status(),
            401,
            "{path}"
        );
    }
    let item = PushItem::Message(StaffMessageItem {
        id: MessageId::new(),
        thread: MessageThread::Group,
        body: "Hallo".into(),
        staff_id: None,
    });
    assert_eq!(h.push(&dev, &item).await.status(), 401);
    let resp = h
        .http
        .post(h.url("/api/v1/uploads"))
        .header(API_VERSION_HEADER, API_VERSION)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "100")
        .bearer_auth(&dev.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

async fn read_feed(h: &Harness, dev: &common::Device, limit: u32) -> (Vec<Change>, Cursor) {
    let mut cursor = Cursor(0);
    let mut all = Vec::new();
    loop {
        let page: FeedPage = h
            .get(
                dev,
                &format!("/api/v1/feed?since={}&limit={limit}", cursor.0),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(page.changes.len() <= limit as usize);
        assert!(page.cursor >= cursor, "the cursor never goes back");
        for c in &page.changes {
            assert!(c.seq > cursor.0);
        }
        cursor = page.cursor;
        all.extend(page.changes);
        if !page.has_more {
            return (all, cursor);
        }
    }
}

#[tokio::test]
async fn feed_pages_through_the_groups_data_only() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let (changes, cursor) = read_feed(&h, &dev, 2).await;
    let children: Vec<&Child> = changes
        .iter()
        .filter_map(|c| match &c.kind {
            ChangeKind::Child(ch) => Some(ch),
            _ => None,
        })
        .collect();
    assert_eq!(children.len(), 4);
    assert!(children.iter().all(|c| h.kids.contains(&c.id)));
    assert!(
        !children.iter().any(|c| c.id == h.other_kid),
        "no child of another group"
    );
    let staff: Vec<&Staff> = changes
        .iter()
        .filter_map(|c| match &c.kind {
            ChangeKind::Staff(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(staff.len(), 1);
    assert!(staff[0].pin_verifier.starts_with("$argon2id$"));
    assert!(
        changes
            .iter()
            .any(|c| matches!(&c.kind, ChangeKind::Group(g) if g.id == h.group))
    );
    // nothing new: an empty page with the same cursor
    let page: FeedPage = h
        .get(&dev, &format!("/api/v1/feed?since={}", cursor.0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(page.changes.is_empty());
    assert_eq!(page.cursor, cursor);
    // a consent change shows up as the child's new state
    let kid = h.kids[0];
    h.store()
        .set_consent(kid, PhotoConsent::OwnParents, "test".into(), Utc::now())
        .await
        .unwrap();
    let page: FeedPage = h
        .get(&dev, &format!("/api/v1/feed?since={}", cursor.0))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page.changes.len(), 1);
    assert!(
        matches!(&page.changes[0].kind, ChangeKind::Child(c) if c.id == kid && c.photo_consent == PhotoConsent::OwnParents)
    );
    // bad query: a clear 400
    let resp = h.get(&dev, "/api/v1/feed?since=abc").send().await.unwrap();
    assert_eq!(resp.status(), 400);
}

fn message(body: &str) -> PushItem {
    PushItem::Message(StaffMessageItem {
        id: MessageId::new(),
        thread: MessageThread::Group,
        body: body.into(),
        staff_id: None,
    })
}

#[tokio::test]
async fn push_retry_gets_stored_answer() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let item = message("Neem morgen regenlaarzen mee!");
    let first = h.push(&dev, &item).await;
    assert_eq!(first.status(), 200);
    let first: PushReceipt = first.json().await.unwrap();
    let again = h.push(&dev, &item).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: PushReceipt = again.json().await.unwrap();
    assert_eq!(first, again);
    assert_eq!(h.count("SELECT COUNT(*) FROM messages").await, 1);
}

#[tokio::test]
async fn concurrent_duplicates_create_one_item() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let item = PushItem::Diary(StaffDiaryItem {
        id: DiaryEntryId::new(),
        children: vec![h.kids[0], h.kids[1], h.kids[3]],
        text: "Vandaag in de zandbak gespeeld.".into(),
        photos: vec![],
        baby: Some(BabyFields {
            feedings: vec![Feeding {
                kind: FeedingKind::Fles,
                amount_ml: Some(150),
                what: None,
                at: chrono::NaiveTime::from_hms_opt(10, 15, 0).unwrap(),
            }],
            ..BabyFields::default()
        }),
        staff_id: Some(h.staff),
        written_at_device: Utc::now(),
    });
    let (a, b, c) = tokio::join!(
        h.push(&dev, &item),
        h.push(&dev, &item),
        h.push(&dev, &item)
    );
    let mut bodies = Vec::new();
    for r in [a, b, c] {
        assert_eq!(r.status(), 200);
        bodies.push(r.json::<PushReceipt>().await.unwrap());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "all three get the same answer"
    );
    assert_eq!(h.count("SELECT COUNT(*) FROM diary_entries").await, 1);
    assert_eq!(h.count("SELECT COUNT(*) FROM diary_children").await, 3);
    assert_eq!(h.count("SELECT COUNT(*) FROM idempotency").await, 1);
}

#[tokio::test]
async fn same_key_other_payload_is_422() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let item = message("Eerste versie");
    assert_eq!(h.push(&dev, &item).await.status(), 200);
    let PushItem::Message(mut m) = item.clone() else {
        unreachable!()
    };
    m.body = "Andere tekst".into();
    let resp = h.push(&dev, &PushItem::Message(m)).await;
    assert_eq!(resp.status(), 422);
    let err: ApiError = resp.json().await.unwrap();
    assert_eq!(err.code, ErrorCode::IdempotencyKeyReused);
    // a key that is not the item's id
    let other = message("x");
    let resp = h
        .push_with_key(&dev, &MessageId::new().to_string(), &other)
        .await;
    assert_eq!(resp.status(), 400);
    let resp = h.push_with_key(&dev, "not-a-uuid", &other).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(h.count("SELECT COUNT(*) FROM messages").await, 1);
    let stored = h
        .sql()
        .strings(
            "SELECT body FROM messages WHERE id = ?1",
            kring_server::sql_params![item.id().to_string()],
        )
        .await
        .unwrap()
        .remove(0);
    assert_eq!(stored, "Eerste versie");
}

#[tokio::test]
async fn pushes_are_checked_against_the_servers_truth() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    // a child of another group
    let item = PushItem::Diary(StaffDiaryItem {
        id: DiaryEntryId::new(),
        children: vec![h.other_kid],
        text: "x".into(),
        photos: vec![],
        baby: None,
        staff_id: None,
        written_at_device: Utc::now(),
    });
    let resp = h.push(&dev, &item).await;
    assert_eq!(resp.status(), 422);
    // a photo tagging a child without consent
    let photo = PushItem::Photo(PhotoItem {
        id: PhotoId::new(),
        upload_id: UploadId::new(),
        sha256: "00".repeat(32),
        tags: vec![h.kids[0], h.kids[2]],
        no_children_recognizable: false,
        audience_shown: Audience::StaffOnly,
        taken_at_device: Utc::now(),
        staff_id: None,
    });
    let resp = h.push(&dev, &photo).await;
    assert_eq!(resp.status(), 422);
    let err: ApiError = resp.json().await.unwrap();
    assert_eq!(err.code, ErrorCode::ConsentRefused);
    // a photo whose upload never happened
    let PushItem::Photo(mut p) = photo else {
        unreachable!()
    };
    p.id = PhotoId::new();
    p.tags = vec![h.kids[0]];
    let resp = h.push(&dev, &PushItem::Photo(p)).await;
    assert_eq!(resp.status(), 422);
    assert_eq!(
        resp.json::<ApiError>().await.unwrap().code,
        ErrorCode::UploadIncomplete
    );
    // a diary entry using a photo that has not arrived
    let item = PushItem::Diary(StaffDiaryItem {
        id: DiaryEntryId::new(),
        children: vec![h.kids[0]],
        text: "met foto".into(),
        photos: vec![PhotoId::new()],
        baby: None,
        staff_id: None,
        written_at_device: Utc::now(),
    });
    assert_eq!(h.push(&dev, &item).await.status(), 422);
    // a read receipt for a message of another group
    let receipt = PushItem::ReadReceipt(ReadReceiptItem {
        id: ReadReceiptId::new(),
        message_id: MessageId::new(),
        staff_id: None,
    });
    assert_eq!(h.push(&dev, &receipt).await.status(), 422);
    // a staff member of another group
    let other_staff = h
        .store()
        .create_staff(kring_server::store::NewStaff {
            org: h.org,
            name: "Piet".into(),
            role: StaffRole::Pedagogical,
            pin: "4321".into(),
            groups: vec![h.other_group],
        })
        .await
        .unwrap()
        .id;
    let PushItem::Message(mut m) = message("hallo") else {
        unreachable!()
    };
    m.staff_id = Some(other_staff);
    assert_eq!(h.push(&dev, &PushItem::Message(m)).await.status(), 422);
    assert_eq!(h.count("SELECT COUNT(*) FROM diary_entries").await, 0);
    assert_eq!(h.count("SELECT COUNT(*) FROM photos").await, 0);
    assert_eq!(h.count("SELECT COUNT(*) FROM messages").await, 0);
    assert_eq!(h.count("SELECT COUNT(*) FROM idempotency").await, 0);
}

#[tokio::test]
async fn device_clock_does_not_order_anything() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let item = PushItem::Diary(StaffDiaryItem {
        id: DiaryEntryId::new(),
        children: vec![h.kids[0]],
        text: "klok op 1970".into(),
        photos: vec![],
        baby: None,
        staff_id: None,
        written_at_device: chrono::DateTime::from_timestamp(0, 0).unwrap(),
    });
    let before = Utc::now();
    let receipt: PushReceipt = h.push(&dev, &item).await.json().await.unwrap();
    assert!(receipt.received_at >= before - Duration::seconds(1));
    let written = h
        .sql()
        .strings("SELECT written_at FROM diary_entries", vec![])
        .await
        .unwrap()
        .remove(0);
    assert!(
        written.starts_with(&before.format("%Y-").to_string()),
        "{written}"
    );
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_4xx() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let post = |body: Vec<u8>, ctype: &'static str| {
        h.http
            .post(h.url("/api/v1/items"))
            .header(API_VERSION_HEADER, API_VERSION)
            .header(IDEMPOTENCY_KEY_HEADER, MessageId::new().to_string())
            .header("content-type", ctype)
            .bearer_auth(&dev.secret)
            .body(body)
            .send()
    };
    let resp = post(b"{\"kind\":\"message\",".to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<ApiError>().await.unwrap().code,
        ErrorCode::MalformedJson
    );
    let resp = post(b"{\"kind\":\"teleport\"}".to_vec(), "application/json")
        .await
        .unwrap();
    assert!(resp.status().is_client_error());
    let resp = post(b"\xff\xfe\x00garbage".to_vec(), "application/json")
        .await
        .unwrap();
    assert!(resp.status().is_client_error());
    let resp = post(b"{}".to_vec(), "text/plain").await.unwrap();
    assert_eq!(resp.status(), 415);
    let mut huge = b"{\"kind\":\"message\",\"body\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 2 * 1024 * 1024));
    huge.extend(b"\"}");
    let resp = post(huge, "application/json").await.unwrap();
    assert_eq!(resp.status(), 413);
    let resp = h
        .http
        .post(h.url("/api/v1/enroll"))
        .header(API_VERSION_HEADER, API_VERSION)
        .header("content-type", "application/json")
        .body("[1,2,3]")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // the server is still fine
    assert_eq!(
        h.get(&dev, "/api/v1/device").send().await.unwrap().status(),
        200
    );
    assert_eq!(h.count("SELECT COUNT(*) FROM messages").await, 0);
}

/// An organisation's time zone travels to its devices with the group, so
/// their "today" is the day where the children are (Bonaire runs on
/// America/Kralendijk, five or six hours behind Amsterdam).
#[tokio::test]
async fn an_organisations_time_zone_reaches_its_devices() {
    let h = Harness::start().await;
    let before = h.enroll().await;
    assert_eq!(before.enrolled.group.time_zone, "Europe/Amsterdam");
    h.sql()
        .execute(
            "UPDATE organisations SET time_zone = 'America/Kralendijk'",
            vec![],
        )
        .await
        .unwrap();
    let dev = h.enroll().await;
    assert_eq!(dev.enrolled.group.time_zone, "America/Kralendijk");
    let calendar = dev.enrolled.group.calendar().unwrap();
    // 02:00 UTC on the 15th is still the evening of the 14th in Kralendijk
    let t = chrono::DateTime::parse_from_rfc3339("2026-01-15T02:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(calendar.today(t).to_string(), "2026-01-14");
    // the feed still serves the device (its day now comes from that zone)
    let (changes, _) = read_feed(&h, &dev, 50).await;
    assert!(!changes.is_empty());
}

/// The group's kind of care (dagopvang or BSO) travels to its devices: it
/// decides which table of the ratio the screen uses.
#[tokio::test]
async fn a_groups_kind_of_care_reaches_its_devices() {
    let h = Harness::start().await;
    let before = h.enroll().await;
    assert_eq!(
        before.enrolled.group.care,
        kring_protocol::GroupCare::Dagopvang
    );
    h.sql()
        .execute("UPDATE groups SET kind = 'bso'", vec![])
        .await
        .unwrap();
    let dev = h.enroll().await;
    assert_eq!(dev.enrolled.group.care, kring_protocol::GroupCare::Bso);
}
