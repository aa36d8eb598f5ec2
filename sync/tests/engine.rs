//! The sync engine against a real kring-server through a fault-injecting
//! proxy: nothing lost, nothing duplicated, whatever the network does.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, Duration as CDuration, Utc};
use common::proxy::Fault;
use common::{World, jpeg, test_config, wait_for, wait_status};
use kring_protocol::{Audience, MessageThread, PhotoConsent, PushItem};
use kring_sync::store::ItemState;
use kring_sync::{EngineConfig, ItemView, ManualClock, NewDiary, NewPhoto, SystemClock};
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn audience_for(world: &World, tags: &[usize]) -> Audience {
    let consents = [
        PhotoConsent::Group,
        PhotoConsent::OwnParents,
        PhotoConsent::None,
        PhotoConsent::Group,
    ];
    let tagged: Vec<_> = tags
        .iter()
        .map(|i| kring_protocol::ConsentedChild {
            id: world.kids[*i],
            consent: consents[*i],
        })
        .collect();
    kring_protocol::decide_audience(&tagged, false)
}

/// Saves `photo` on the device, tagged with the world's child `kid` alone.
fn save_photo_of(d: &common::Device, w: &World, photo: &[u8], kid: usize) {
    d.store
        .save_photo(
            NewPhoto {
                jpeg: photo,
                thumbnail: None,
                tags: vec![w.kids[kid]],
                no_children_recognizable: false,
                audience: audience_for(w, &[kid]),
                staff: None,
            },
            Utc::now(),
        )
        .unwrap();
}

#[tokio::test]
async fn lost_responses_create_no_duplicates() {
    let w = World::start().await;
    // The first push of each item is answered by the server, but the answer is lost.
    for _ in 0..3 {
        w.proxy
            .push(Some("POST /api/v1/items"), Fault::DropResponse);
    }
    let d = w.device(Arc::new(SystemClock), test_config()).await;
    let now = Utc::now();
    d.store
        .save_message(
            MessageThread::Group,
            "Neem regenlaarzen mee",
            Some(w.staff),
            now,
        )
        .unwrap();
    d.store
        .save_diary(
            NewDiary {
                children: vec![w.kids[0], w.kids[1]],
                text: "Buiten gespeeld".into(),
                photos: vec![],
                baby: None,
                staff: Some(w.staff),
            },
            now,
        )
        .unwrap();
    let photo = jpeg(640, 480, 1);
    let photo_id = d
        .store
        .save_photo(
            NewPhoto {
                jpeg: &photo,
                thumbnail: None,
                tags: vec![w.kids[0]],
                no_children_recognizable: false,
                audience: audience_for(&w, &[0]),
                staff: Some(w.staff),
            },
            now,
        )
        .unwrap();
    d.handle.wake();
    wait_status(&d.handle, 20, |s| {
        s.waiting == 0 && s.needs_attention == 0 && s.items.len() == 3
    })
    .await;
    assert_eq!(w.proxy.pending_faults(), 0, "every fault was used");
    assert_eq!(w.count("SELECT COUNT(*) FROM messages"), 1);
    assert_eq!(w.count("SELECT COUNT(*) FROM diary_entries"), 1);
    assert_eq!(w.count("SELECT COUNT(*) FROM photos"), 1);
    // the photo's bytes are gone once the server confirmed its hash
    assert!(!d.store.photo_upload(&photo_id.0).unwrap().stored);
    assert!(d.store.read_photo(&photo_id.0, 0, 10).is_err());
}

#[tokio::test]
async fn an_upload_cut_five_times_resends_at_most_one_chunk_per_cut() {
    let w = World::start().await;
    let config = test_config();
    let chunk = config.chunk_size as u64;
    let photo = jpeg(1600, 1200, 2);
    assert!(
        photo.len() as u64 > 6 * chunk,
        "photo of {} bytes",
        photo.len()
    );
    for i in 0..5 {
        // cut somewhere inside the chunk (headers are ~300 bytes)
        w.proxy.push(
            Some("PATCH"),
            Fault::CutRequestAfter(400 + (i * 9_973) % (chunk as usize - 500)),
        );
    }
    let d = w.device(Arc::new(SystemClock), config).await;
    save_photo_of(&d, &w, &photo, 3);
    d.handle.wake();
    wait_status(&d.handle, 30, |s| s.waiting == 0 && !s.items.is_empty()).await;
    assert_eq!(w.proxy.pending_faults(), 0);
    assert_eq!(w.count("SELECT COUNT(*) FROM photos"), 1);
    let sha = w.strings("SELECT sha256 FROM photos");
    assert_eq!(sha[0], kring_sync_sha(&photo));
    let sent = w.proxy.patch_bytes.load(Ordering::SeqCst);
    let chunks = (photo.len() as u64).div_ceil(chunk);
    let header_allowance = (chunks + 5) * 1024;
    assert!(
        sent <= photo.len() as u64 + 5 * chunk + header_allowance,
        "sent {sent} bytes for a {} byte photo",
        photo.len()
    );
}

/// The server removed the photo's complete upload before the photo item
/// arrived (it drops uploads no photo took after a week): the push is refused
/// with `upload_incomplete`, and the device uploads the bytes again and pushes
/// once more, instead of leaving the photo waiting for attention.
#[tokio::test]
async fn a_photo_whose_upload_the_server_lost_is_uploaded_again() {
    let w = World::start().await;
    w.proxy.push(
        Some("POST /api/v1/items"),
        Fault::Answer(
            422,
            r#"{"code":"upload_incomplete","message":"the photo's upload is unknown or not complete"}"#,
        ),
    );
    let d = w.device(Arc::new(SystemClock), test_config()).await;
    let photo = jpeg(640, 480, 4);
    save_photo_of(&d, &w, &photo, 3);
    d.handle.wake();
    let s = wait_status(&d.handle, 30, |s| s.waiting == 0 && !s.items.is_empty()).await;
    assert_eq!(s.items[0].state, ItemView::Sent, "{s:?}");
    assert_eq!(w.proxy.pending_faults(), 0);
    assert_eq!(w.count("SELECT COUNT(*) FROM photos"), 1);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM uploads WHERE completed_at IS NOT NULL"),
        2,
        "the bytes went up a second time"
    );
    assert_eq!(
        w.strings("SELECT sha256 FROM photos")[0],
        kring_sync_sha(&photo)
    );
}

fn kring_sync_sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn three_500s_then_200_store_one_item() {
    let w = World::start().await;
    for _ in 0..3 {
        w.proxy.push(Some("POST /api/v1/items"), Fault::Answer500);
    }
    let d = w.device(Arc::new(SystemClock), test_config()).await;
    let id = d
        .store
        .save_message(
            MessageThread::Child {
                child_id: w.kids[0],
            },
            "Sem heeft goed gegeten",
            None,
            Utc::now(),
        )
        .unwrap();
    d.handle.wake();
    let s = wait_status(&d.handle, 20, |s| s.waiting == 0 && !s.items.is_empty()).await;
    assert_eq!(s.items[0].state, ItemView::Sent);
    assert_eq!(w.proxy.pending_faults(), 0);
    assert_eq!(
        w.count(&format!("SELECT COUNT(*) FROM messages WHERE id = '{id}'")),
        1
    );
    assert_eq!(w.count("SELECT COUNT(*) FROM messages"), 1);
}

#[tokio::test]
async fn a_refused_item_does_not_hold_back_the_rest() {
    let w = World::start().await;
    let d = w.device(Arc::new(SystemClock), test_config()).await;
    let now = Utc::now();
    // a child of another group: the server answers 422
    let bad = d
        .store
        .save_diary(
            NewDiary {
                children: vec![w.other_kid],
                text: "verkeerde groep".into(),
                photos: vec![],
                baby: None,
                staff: None,
            },
            now,
        )
        .unwrap();
    let good = d
        .store
        .save_message(MessageThread::Group, "Tot morgen!", None, now)
        .unwrap();
    d.handle.wake();
    let s = wait_status(&d.handle, 20, |s| s.waiting == 0 && s.needs_attention == 1).await;
    let bad_row = s.items.iter().find(|i| i.id == bad.0).unwrap();
    assert!(
        matches!(&bad_row.state, ItemView::NeedsAttention(kring_sync::decide::Reason::Refused { message: Some(m), .. }) if m.contains("not placed")),
        "{bad_row:?}"
    );
    let good_row = s.items.iter().find(|i| i.id == good.0).unwrap();
    assert_eq!(good_row.state, ItemView::Sent);
    assert_eq!(w.count("SELECT COUNT(*) FROM messages"), 1);
    assert_eq!(w.count("SELECT COUNT(*) FROM diary_entries"), 0);
}

#[tokio::test]
async fn a_day_of_queued_items_drains_in_order_when_the_network_returns() {
    let w = World::start().await;
    let start: DateTime<Utc> = Utc::now();
    let clock = Arc::new(ManualClock::new(start));
    let (dir, store) = w.enroll_store().await;
    w.proxy.set_down(true);
    let (handle, _task) = kring_sync::spawn(store.clone(), clock.clone(), test_config());
    let d = common::Device {
        dir,
        url: w.proxy.url(),
        store,
        handle,
        task: _task,
    };
    let mut ids = Vec::new();
    // 48 items over 24 hours of device time, the network down all along
    for i in 0..48 {
        clock.advance(CDuration::minutes(30));
        let id = d
            .store
            .save_message(
                MessageThread::Group,
                &format!("bericht {i:02}"),
                None,
                clock.now_utc(),
            )
            .unwrap();
        ids.push(id);
        d.handle.wake();
        tokio::task::yield_now().await;
    }
    let s = wait_status(&d.handle, 10, |s| !s.online && s.waiting == 48).await;
    assert!(s.last_error.is_some());
    assert_eq!(w.count("SELECT COUNT(*) FROM messages"), 0);
    // the network is back
    w.proxy.set_down(false);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        clock.advance(CDuration::seconds(30));
        d.handle.wake();
        if w.count("SELECT COUNT(*) FROM messages") == 48 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the queue did not drain"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let order = w.strings("SELECT body FROM messages ORDER BY sent_at, rowid");
    let want: Vec<String> = (0..48).map(|i| format!("bericht {i:02}")).collect();
    assert_eq!(
        order, want,
        "the server got them in the order they were saved"
    );
    wait_status(&d.handle, 10, |s| s.online && s.waiting == 0).await;
}

#[tokio::test]
async fn a_server_that_answers_again_ends_the_back_off_at_once() {
    let w = World::start().await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let (dir, store) = w.enroll_store().await;
    w.proxy.set_down(true);
    let config = EngineConfig {
        // long back-offs, and a clock that does not move: only the end of
        // the back-off can let these items go
        backoff: kring_sync::decide::Backoff {
            base: std::time::Duration::from_secs(600),
            cap: std::time::Duration::from_secs(3600),
        },
        ..test_config()
    };
    let (handle, task) = kring_sync::spawn(store.clone(), clock.clone(), config);
    let d = common::Device {
        dir,
        url: w.proxy.url(),
        store,
        handle,
        task,
    };
    for i in 0..3 {
        d.store
            .save_message(
                MessageThread::Group,
                &format!("terug {i}"),
                None,
                clock.now_utc(),
            )
            .unwrap();
    }
    d.handle.wake();
    wait_for(10, || {
        d.store
            .pending()
            .unwrap()
            .iter()
            .any(|r| r.attempts > 0 && r.next_attempt_at.is_some())
    })
    .await;
    assert_eq!(w.count("SELECT COUNT(*) FROM messages"), 0);
    // The server is back; the doorbell reconnects and asks for a pull.
    w.proxy.set_down(false);
    d.handle.pull_now();
    wait_for(10, || w.count("SELECT COUNT(*) FROM messages") == 3).await;
    wait_status(&d.handle, 10, |s| s.online && s.waiting == 0).await;
}

trait NowUtc {
    fn now_utc(&self) -> DateTime<Utc>;
}
impl NowUtc for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        kring_sync::Clock::now(self)
    }
}

#[tokio::test]
async fn a_wrong_device_clock_changes_nothing_on_the_server() {
    let w = World::start().await;
    for (name, t) in [
        ("1970", DateTime::from_timestamp(0, 0).unwrap()),
        ("two days ahead", Utc::now() + CDuration::days(2)),
    ] {
        let clock = Arc::new(ManualClock::new(t));
        let d = w.device(clock.clone(), test_config()).await;
        let before = w.count("SELECT COUNT(*) FROM diary_entries");
        d.store
            .save_diary(
                NewDiary {
                    children: vec![w.kids[0]],
                    text: format!("klok {name}"),
                    photos: vec![],
                    baby: None,
                    staff: None,
                },
                kring_sync::Clock::now(&*clock),
            )
            .unwrap();
        d.handle.wake();
        wait_status(&d.handle, 20, |s| s.waiting == 0 && !s.items.is_empty()).await;
        assert_eq!(w.count("SELECT COUNT(*) FROM diary_entries"), before + 1);
        let written = w.strings(&format!(
            "SELECT written_at FROM diary_entries WHERE text = 'klok {name}'"
        ));
        let written: DateTime<Utc> = written[0].parse().unwrap();
        assert!(
            (written - Utc::now()).num_minutes().abs() < 5,
            "{name}: server time {written}"
        );
        d.handle.stop();
    }
}

#[tokio::test]
async fn a_diary_entry_waits_for_its_photo() {
    let w = World::start().await;
    // the photo's push fails a few times; the diary entry must not overtake it
    for _ in 0..2 {
        w.proxy.push(Some("POST /api/v1/items"), Fault::Answer500);
    }
    let d = w.device(Arc::new(SystemClock), test_config()).await;
    let now = Utc::now();
    let photo = jpeg(320, 240, 3);
    let p = d
        .store
        .save_photo(
            NewPhoto {
                jpeg: &photo,
                thumbnail: None,
                tags: vec![],
                no_children_recognizable: true,
                audience: Audience::WholeGroup,
                staff: None,
            },
            now,
        )
        .unwrap();
    d.store
        .save_diary(
            NewDiary {
                children: vec![w.kids[0], w.kids[1], w.kids[3]],
                text: "Zie de foto".into(),
                photos: vec![p],
                baby: None,
                staff: None,
            },
            now,
        )
        .unwrap();
    // the server's enrollment gave its key: both wait sealed on the device
    assert!(d.store.seal_to().unwrap().is_some());
    assert!(matches!(d.store.item(&p.0).unwrap(), PushItem::Sealed(_)));
    d.handle.wake();
    let s = wait_status(&d.handle, 20, |s| s.waiting == 0 && s.items.len() == 2).await;
    assert!(s.items.iter().all(|i| i.state == ItemView::Sent), "{s:?}");
    assert_eq!(w.count("SELECT COUNT(*) FROM diary_photos"), 1);
    // ...and the server opened them: the text and the JPEG's own hash
    assert_eq!(
        w.strings("SELECT text FROM diary_entries WHERE author_kind = 'staff'"),
        vec!["Zie de foto".to_string()]
    );
    assert_eq!(
        w.strings("SELECT sha256 FROM photos"),
        vec![kring_sync_sha(&photo)]
    );
}

#[tokio::test]
async fn revocation_wipes_the_device() {
    let w = World::start().await;
    let d = w.device(Arc::new(SystemClock), test_config()).await;
    // first a normal pull fills the store
    wait_for(10, || d.store.children().map(|c| c.len()).unwrap_or(0) == 4).await;
    let photo = jpeg(320, 240, 4);
    w.proxy.set_down(true);
    let photo_id = d
        .store
        .save_photo(
            NewPhoto {
                jpeg: &photo,
                thumbnail: Some(&photo),
                tags: vec![w.kids[0]],
                no_children_recognizable: false,
                audience: audience_for(&w, &[0]),
                staff: None,
            },
            Utc::now(),
        )
        .unwrap();
    let device_id = d.store.device().unwrap().unwrap().device_id;
    w.server.state.revoke_device(device_id).await.unwrap();
    w.proxy.set_down(false);
    d.handle.wake();
    wait_status(&d.handle, 20, |s| s.revoked).await;
    assert!(d.store.device().unwrap().is_none(), "credentials wiped");
    assert!(
        d.store.children().unwrap().is_empty(),
        "cached children wiped"
    );
    assert!(d.store.pending().unwrap().is_empty(), "outbox wiped");
    assert!(
        d.store.read_photo(&photo_id.0, 0, 10).is_err(),
        "photo wiped"
    );
    assert_eq!(
        d.store.thumbnail(&photo_id.0).unwrap(),
        None,
        "thumbnail wiped"
    );
    let (_, pending) = (0, d.store.counts().unwrap());
    assert_eq!(pending, (0, 0));
    let _ = ItemState::Waiting;
}

/// The same with the broker listening only for MQTT over TLS: the device,
/// told so at enrollment, connects with TLS (trusting the deployment's CA)
/// and its MQTT password.
#[tokio::test]
async fn a_parent_message_rings_the_doorbell_over_tls() {
    let certs = tempfile::tempdir().unwrap();
    let tls = kring_server::store::testing::TestTls::make(certs.path()).unwrap();
    let w = World::start_with(|s| tls.configure(s)).await;
    let mut config = test_config();
    config.mqtt = true;
    config.mqtt_ca_pem = Some(tls.ca_pem.clone());
    doorbell_brings_a_parent_message(&w, config).await;
}

#[tokio::test]
async fn a_parent_message_reaches_the_device_through_the_doorbell() {
    let w = World::start().await;
    let mut config = test_config();
    config.mqtt = true;
    doorbell_brings_a_parent_message(&w, config).await;
}

/// A device with the doorbell (`config`) hears of a parent's message within
/// two seconds, without waiting for its next pull.
async fn doorbell_brings_a_parent_message(w: &World, config: EngineConfig) {
    // the doorbell connects to the server's host; the proxy is on the same host
    let d = w.device(Arc::new(SystemClock), config).await;
    wait_for(10, || d.store.children().map(|c| c.len()).unwrap_or(0) == 4).await;
    wait_for(10, || w.count("SELECT online FROM devices") == 1).await;
    let parent = w
        .server
        .state
        .backend
        .call_sync(|c| {
            kring_server::org::create_parent(c, &w.org, "ouder@example.nl", "Anouk", "wachtwoord-1")
        })
        .unwrap();
    let (msg, changed) = w
        .server
        .state
        .backend
        .call_sync(|c| {
            kring_server::org::parent_message(
                c,
                &w.group,
                &w.kids[0],
                &parent,
                "Anouk",
                "Oma haalt Sem op",
                Utc::now(),
            )
        })
        .unwrap();
    let t0 = std::time::Instant::now();
    w.server.state.nudge_changed(&changed);
    wait_for(5, || {
        d.store.messages().unwrap().iter().any(|m| m.id == msg)
    })
    .await;
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(2),
        "took {:?}",
        t0.elapsed()
    );
}
