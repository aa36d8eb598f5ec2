//! A kiosk over a real device store with a small group (no network).
#![allow(dead_code)]

use chrono::{NaiveDate, Utc};
use kring::AppWindow;
use kring_protocol::*;
use kring_sync::{ManualClock, Store};
use std::rc::Rc;
use std::sync::Arc;

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub ui: AppWindow,
    pub ctx: Rc<kring::app::Ctx>,
    /// The kiosk's clock: moves only when a test moves it.
    pub clock: Arc<ManualClock>,
    pub sem: ChildId,
    pub noor: ChildId,
    pub daan: ChildId,
    pub emma: ChildId,
    pub message: MessageId,
}

pub fn verifier(pin: &str) -> String {
    use argon2::PasswordHasher;
    use argon2::password_hash::{SaltString, rand_core::OsRng};
    argon2::Argon2::default()
        .hash_password(pin.as_bytes(), &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string()
}

pub fn child(id: ChildId, first: &str, consent: PhotoConsent, months: i64) -> Child {
    let today = chrono::Local::now().date_naive();
    Child {
        id,
        first_name: first.into(),
        last_name: "Test".into(),
        birth_date: today - chrono::Duration::days(months * 30),
        photo_consent: consent,
        planned_days: vec![
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ],
        placement_start: NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
        placement_end: None,
        allergies: None,
        notes: None,
        pickup: vec![format!("Mama van {first}"), format!("Papa van {first}")],
        extra_days: vec![],
        cancelled_days: vec![],
    }
}

/// Builds the kiosk; the caller has set up the Slint platform.
pub fn fixture() -> Fixture {
    fixture_in(tempfile::tempdir().unwrap())
}

/// Builds the kiosk over a store in `dir` (which may hold a store already).
pub fn fixture_in(dir: tempfile::TempDir) -> Fixture {
    let (store, _) = Store::open(dir.path()).unwrap();
    let group = seed(&store);
    kiosk(dir, store, group)
}

/// The group in a store, as [`seed`] wrote it.
pub struct Group {
    pub sem: ChildId,
    pub noor: ChildId,
    pub daan: ChildId,
    pub emma: ChildId,
    pub message: MessageId,
}

/// Enrolls the store and fills it with a small group: four children, a
/// staff member (PIN 1234), a location manager (9876), a parent's message.
pub fn seed(store: &Store) -> Group {
    let group = GroupInfo {
        id: GroupId::new(),
        name: "Dolfijnen".into(),
        location_id: LocationId::new(),
        location_name: "De Linde".into(),
        organisation_id: OrganisationId::new(),
        organisation_name: "Zonnebloem".into(),
        time_zone: "Europe/Amsterdam".into(),
        care: GroupCare::Dagopvang,
    };
    store
        .save_enrollment(
            "http://127.0.0.1:9",
            &EnrollResponse {
                device_id: DeviceId::new(),
                device_secret: "geheim".into(),
                group: group.clone(),
                mqtt: MqttConnectInfo {
                    host: String::new(),
                    port: 1883,
                    topic_prefix: String::new(),
                    tls: false,
                },
                // as a real server: what the kiosk saves is sealed
                seal_to: kring_protocol::SealKeys::parse(&[kring_protocol::SealKeys::generate()])
                    .ok()
                    .and_then(|k| k.recipient())
                    .map(|r| r.to_string()),
            },
            Utc::now(),
        )
        .unwrap();
    let (sem, noor, daan, emma) = (
        ChildId::new(),
        ChildId::new(),
        ChildId::new(),
        ChildId::new(),
    );
    let parent = ParentId::new();
    let message = MessageId::new();
    let changes = vec![
        ChangeKind::Group(group),
        ChangeKind::Child(child(sem, "Sem", PhotoConsent::Group, 10)),
        ChangeKind::Child(child(noor, "Noor", PhotoConsent::OwnParents, 11)),
        ChangeKind::Child(child(daan, "Daan", PhotoConsent::None, 9)),
        ChangeKind::Child(child(emma, "Emma", PhotoConsent::Group, 30)),
        ChangeKind::Staff(Staff {
            id: StaffId::new(),
            name: "Fatima".into(),
            role: StaffRole::Pedagogical,
            pin_verifier: verifier("1234"),
        }),
        ChangeKind::Staff(Staff {
            id: StaffId::new(),
            name: "Petra".into(),
            role: StaffRole::Manager,
            pin_verifier: verifier("9876"),
        }),
        ChangeKind::Message(Message {
            id: message,
            thread: MessageThread::Child { child_id: sem },
            author: MessageAuthor::Parent {
                id: parent,
                name: "Anouk".into(),
            },
            body: "Oma haalt Sem vandaag op.".into(),
            sent_at: Utc::now(),
            read_by_group_at: None,
        }),
    ];
    let page = FeedPage {
        changes: changes
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Change {
                seq: i as i64 + 1,
                kind,
            })
            .collect(),
        cursor: Cursor(8),
        has_more: false,
        update: None,
        seal_to: None,
    };
    store.apply_feed_page(&page, Utc::now()).unwrap();
    Group {
        sem,
        noor,
        daan,
        emma,
        message,
    }
}

/// Builds the kiosk over `store` (in `dir`) holding `group`.
pub fn kiosk(dir: tempfile::TempDir, store: Store, group: Group) -> Fixture {
    let Group {
        sem,
        noor,
        daan,
        emma,
        message,
    } = group;
    let store = Arc::new(store);
    let settings = kring::settings::KioskSettings {
        data_dir: dir.path().to_path_buf(),
        idle_seconds: 120,
        ..Default::default()
    };
    let camera = Box::new(kring_hardware::SyntheticCamera::new(640, 480).with_fps(0));
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let (ui, ctx) =
        kring::app::build_with_clock(store.clone(), settings, None, camera, clock.clone()).unwrap();
    Fixture {
        _dir: dir,
        store,
        ui,
        ctx,
        clock,
        sem,
        noor,
        daan,
        emma,
        message,
    }
}

/// The small group, with Noor carrying every badge a card can have: an
/// unread message from her parent, notes ("Let op") and her consent.
pub fn busy_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Store::open(dir.path()).unwrap();
    let group = seed(&store);
    let mut noor = child(group.noor, "Noor", PhotoConsent::OwnParents, 11);
    noor.notes = Some("Slaapt na de lunch".into());
    let page = FeedPage {
        changes: vec![
            Change {
                seq: 9,
                kind: ChangeKind::Child(noor),
            },
            Change {
                seq: 10,
                kind: ChangeKind::Message(Message {
                    id: MessageId::new(),
                    thread: MessageThread::Child {
                        child_id: group.noor,
                    },
                    author: MessageAuthor::Parent {
                        id: ParentId::new(),
                        name: "Mirjam".into(),
                    },
                    body: "Noor heeft vannacht slecht geslapen.".into(),
                    sent_at: Utc::now(),
                    read_by_group_at: None,
                }),
            },
        ],
        cursor: Cursor(10),
        has_more: false,
        update: None,
        seal_to: None,
    };
    store.apply_feed_page(&page, Utc::now()).unwrap();
    kiosk(dir, store, group)
}
