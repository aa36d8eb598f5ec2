//! Snapshot of every serialisable wire type, so that a wire change is always
//! deliberate: a changed snapshot means a protocol change (bump API_VERSION or
//! make sure old peers still parse it).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use insta::assert_json_snapshot;
use kring_protocol::mqtt::{Nudge, Presence};
use kring_protocol::*;
use uuid::Uuid;

fn id<T: From<Uuid>>(n: u128) -> T {
    T::from(Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0000 + n,
    ))
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(2026, 11, 20)
        .and_then(|d| d.and_hms_opt(h, m, 0))
        .map(|dt| dt.and_utc())
        .expect("valid date")
}

fn date(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("valid date")
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

fn group() -> GroupInfo {
    GroupInfo {
        id: id(1),
        name: "Dolfijnen".into(),
        location_id: id(2),
        location_name: "Kindcentrum De Linde".into(),
        organisation_id: id(3),
        organisation_name: "Kinderopvang Zonnebloem".into(),
        time_zone: "Europe/Amsterdam".into(),
        care: GroupCare::Dagopvang,
    }
}

#[test]
fn enrollment() {
    assert_json_snapshot!(
        "enroll_request",
        EnrollRequest {
            code: "K7QM-2XPD".into(),
            device_name: "Scherm Dolfijnen".into(),
            app_version: "0.1.0".into(),
        }
    );
    assert_json_snapshot!(
        "enroll_response",
        EnrollResponse {
            device_id: id(10),
            device_secret: "secret".into(),
            group: group(),
            mqtt: MqttConnectInfo {
                host: String::new(),
                port: 1883,
                topic_prefix: "kring/v1/devices/01900000-0000-7000-8000-00000000000a".into(),
                tls: true,
            },
            seal_to: Some("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".into()),
        }
    );
}

#[test]
fn a_group_from_a_server_that_sends_no_time_zone_is_in_amsterdam() {
    let mut json = serde_json::to_value(group()).expect("json");
    json.as_object_mut().expect("object").remove("time_zone");
    let old: GroupInfo = serde_json::from_value(json).expect("an older server's group parses");
    assert_eq!(old.time_zone, "Europe/Amsterdam");
    assert_eq!(old.calendar().map(|c| c.name()), Ok("Europe/Amsterdam"));
    let mut odd = group();
    odd.time_zone = "Mars/Olympus".into();
    assert!(odd.calendar().is_err());
}

#[test]
fn mqtt_from_a_server_that_says_nothing_of_tls_is_plain() {
    let json = serde_json::json!({"host": "", "port": 1883, "topic_prefix": "kring/v1/devices/x"});
    let old: MqttConnectInfo = serde_json::from_value(json).expect("an older server's mqtt parses");
    assert!(!old.tls);
}

#[test]
fn a_group_from_a_server_that_sends_no_care_is_dagopvang() {
    let mut json = serde_json::to_value(group()).expect("json");
    json.as_object_mut().expect("object").remove("care");
    let old: GroupInfo = serde_json::from_value(json).expect("an older server's group parses");
    assert_eq!(old.care, GroupCare::Dagopvang);
    let mut bso = group();
    bso.care = GroupCare::Bso;
    let json = serde_json::to_value(&bso).expect("json");
    assert_eq!(json["care"], "bso");
}

#[test]
fn feed() {
    let changes = vec![
        Change {
            seq: 1,
            kind: ChangeKind::Group(group()),
        },
        Change {
            seq: 2,
            kind: ChangeKind::Child(Child {
                id: id(20),
                first_name: "Sem".into(),
                last_name: "de Vries".into(),
                birth_date: NaiveDate::from_ymd_opt(2025, 8, 14).expect("date"),
                photo_consent: PhotoConsent::Group,
                planned_days: vec![Weekday::Mon, Weekday::Tue, Weekday::Thu],
                placement_start: NaiveDate::from_ymd_opt(2026, 2, 1).expect("date"),
                placement_end: None,
                allergies: Some("koemelk".into()),
                notes: Some("Knuffel: konijn".into()),
                pickup: vec!["Anouk de Vries".into(), "Bram de Vries".into()],
                extra_days: vec![],
                cancelled_days: vec![],
            }),
        },
        Change {
            seq: 3,
            kind: ChangeKind::ChildRemoved { id: id(21) },
        },
        Change {
            seq: 4,
            kind: ChangeKind::Staff(Staff {
                id: id(30),
                name: "Fatima".into(),
                role: StaffRole::Pedagogical,
                pin_verifier: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            }),
        },
        Change {
            seq: 5,
            kind: ChangeKind::StaffRemoved { id: id(31) },
        },
        Change {
            seq: 6,
            kind: ChangeKind::Absence(Absence {
                id: id(40),
                child_id: id(20),
                from: date(23),
                to: date(24),
                part_of_day: PartOfDay::WholeDay,
                reason: AbsenceReason::Ziek,
                note: Some("koorts".into()),
                cancelled: false,
            }),
        },
        Change {
            seq: 7,
            kind: ChangeKind::Message(Message {
                id: id(50),
                thread: MessageThread::Child { child_id: id(20) },
                author: MessageAuthor::Parent {
                    id: id(60),
                    name: "Anouk de Vries".into(),
                },
                body: "Oma haalt Sem vandaag op.".into(),
                sent_at: at(7, 45),
                read_by_group_at: None,
            }),
        },
        Change {
            seq: 8,
            kind: ChangeKind::Message(Message {
                id: id(51),
                thread: MessageThread::Group,
                author: MessageAuthor::Staff {
                    id: Some(id(30)),
                    name: "Fatima".into(),
                },
                body: "Neem morgen regenlaarzen mee!".into(),
                sent_at: at(15, 0),
                read_by_group_at: Some(at(15, 0)),
            }),
        },
        Change {
            seq: 9,
            kind: ChangeKind::ParentDiaryEntry(ParentDiaryEntry {
                id: id(70),
                child_id: id(20),
                parent_id: id(60),
                parent_name: "Anouk de Vries".into(),
                text: "Slecht geslapen vannacht.".into(),
                written_at: at(7, 30),
            }),
        },
        Change {
            seq: 10,
            kind: ChangeKind::Attendance(AttendanceRecord {
                item: AttendanceItem {
                    id: id(120),
                    at: at(7, 50),
                    event: AttendanceEvent::ChildIn {
                        child_id: id(20),
                        by: Some("Anouk de Vries".into()),
                    },
                    replaces: None,
                    recorded_by: Some(id(30)),
                    recorded_at_device: at(7, 52),
                },
                received_at: at(7, 52),
            }),
        },
    ];
    assert_json_snapshot!(
        "feed_page",
        FeedPage {
            changes,
            cursor: Cursor(10),
            has_more: false,
            update: None,
            seal_to: None,
        }
    );
}

/// The agenda's days (issue 16) ride on the child: absent when empty, so a
/// child without them is the same bytes as before, and a device of before
/// (which knows neither field) reads a child with them and ignores them.
#[test]
fn a_child_with_extra_and_cancelled_days() {
    let child = Child {
        id: id(20),
        first_name: "Sem".into(),
        last_name: "de Vries".into(),
        birth_date: NaiveDate::from_ymd_opt(2025, 8, 14).expect("date"),
        photo_consent: PhotoConsent::Group,
        planned_days: vec![Weekday::Mon],
        placement_start: NaiveDate::from_ymd_opt(2026, 2, 1).expect("date"),
        placement_end: None,
        allergies: None,
        notes: None,
        pickup: vec![],
        extra_days: vec![date(25)],
        cancelled_days: vec![date(23)],
    };
    assert_json_snapshot!("child_with_agenda_days", child);
    /// `Child` as devices before the agenda knew it.
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct OlderChild {
        id: ChildId,
        first_name: String,
        planned_days: Vec<Weekday>,
        #[serde(default)]
        pickup: Vec<String>,
    }
    let json = serde_json::to_string(&child).expect("json");
    let older: OlderChild = serde_json::from_str(&json).expect("an older device reads it");
    assert_eq!(older.planned_days, vec![Weekday::Mon]);
    let back: Child = serde_json::from_str(&json).expect("round trip");
    assert_eq!(back, child);
    let plain = Child {
        extra_days: vec![],
        cancelled_days: vec![],
        ..child
    };
    let json = serde_json::to_value(&plain).expect("json");
    assert!(json.get("extra_days").is_none() && json.get("cancelled_days").is_none());
}

#[test]
fn push_items() {
    let photo = PushItem::Photo(PhotoItem {
        id: id(80),
        upload_id: id(81),
        sha256: "ab".repeat(32),
        tags: vec![id(20), id(22)],
        no_children_recognizable: false,
        audience_shown: decide_audience(
            &[
                ConsentedChild {
                    id: id(20),
                    consent: PhotoConsent::Group,
                },
                ConsentedChild {
                    id: id(22),
                    consent: PhotoConsent::OwnParents,
                },
            ],
            false,
        ),
        taken_at_device: at(10, 5),
        staff_id: Some(id(30)),
    });
    assert_json_snapshot!("push_photo", photo);
    let diary = PushItem::Diary(StaffDiaryItem {
        id: id(90),
        children: vec![id(20), id(22), id(23)],
        text: "Vandaag in de zandbak gespeeld.".into(),
        photos: vec![id(80)],
        baby: Some(BabyFields {
            feedings: vec![Feeding {
                kind: FeedingKind::Fles,
                amount_ml: Some(150),
                what: None,
                at: time(10, 15),
            }],
            sleeps: vec![Sleep {
                from: time(12, 30),
                to: Some(time(14, 0)),
            }],
            nappies: vec![Nappy {
                kind: NappyKind::Nat,
                at: time(11, 0),
            }],
            mood: Some(Mood::Blij),
        }),
        staff_id: Some(id(30)),
        written_at_device: at(14, 10),
    });
    assert_json_snapshot!("push_diary", diary);
    let message = PushItem::Message(StaffMessageItem {
        id: id(100),
        thread: MessageThread::Group,
        body: "Neem morgen regenlaarzen mee!".into(),
        staff_id: None,
    });
    assert_json_snapshot!("push_message", message);
    let receipt = PushItem::ReadReceipt(ReadReceiptItem {
        id: id(110),
        message_id: id(50),
        staff_id: Some(id(30)),
    });
    assert_json_snapshot!("push_read_receipt", receipt);
    let out = PushItem::Attendance(AttendanceItem {
        id: id(121),
        at: at(16, 10),
        event: AttendanceEvent::ChildOut {
            child_id: id(20),
            by: None,
        },
        replaces: Some(id(122)),
        recorded_by: None,
        recorded_at_device: at(16, 14),
    });
    assert_json_snapshot!("push_attendance", out);
    // a sealed item: the age file in base64 (made up here: sealing is random)
    let sealed = PushItem::Sealed(kring_protocol::SealedItem {
        id: id(80),
        upload_id: Some(id(81)),
        sealed: "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSAuLi4K".into(),
    });
    assert_json_snapshot!("push_sealed", sealed);
    for event in [
        AttendanceEvent::ChildAbsent {
            child_id: id(20),
            reason: AbsenceReason::Ziek,
            note: Some("koorts".into()),
        },
        AttendanceEvent::StaffIn { staff_id: id(30) },
        AttendanceEvent::StaffOut { staff_id: id(30) },
        AttendanceEvent::BreakStart { staff_id: id(30) },
        AttendanceEvent::BreakEnd { staff_id: id(30) },
        AttendanceEvent::Undo { target: id(121) },
    ] {
        let name = format!(
            "attendance_{}",
            serde_json::to_value(&event)
                .ok()
                .and_then(|v| v.get("type").and_then(|t| t.as_str().map(str::to_owned)))
                .unwrap_or_default()
        );
        assert_json_snapshot!(name, event);
    }
    assert_json_snapshot!(
        "push_receipt",
        PushReceipt {
            item_id: Uuid::from_u128(80),
            seq: 42,
            received_at: at(10, 6),
            sha256: Some("ab".repeat(32)),
        }
    );
}

#[test]
fn audiences_and_errors() {
    assert_json_snapshot!("audience_staff_only", Audience::StaffOnly);
    assert_json_snapshot!("audience_whole_group", Audience::WholeGroup);
    assert_json_snapshot!(
        "audience_refused",
        Audience::Refused {
            no_consent: vec![id(20)]
        }
    );
    assert_json_snapshot!(
        "api_error",
        ApiError::new(
            ErrorCode::ApiVersionMismatch,
            "server speaks API version 1, device 2"
        )
    );
    assert_json_snapshot!("nudge", Nudge { seq: 7 });
    assert_json_snapshot!("presence", Presence::Offline);
    assert_json_snapshot!("version_mismatch", check_version(Some("2")));
}

#[test]
fn wire_types_round_trip() {
    let json = r#"{"kind":"message","id":"01900000-0000-7000-8000-000000000064","thread":{"thread":"group"},"body":"Hoi","staff_id":null}"#;
    let item: PushItem = serde_json::from_str(json).expect("parses");
    assert_eq!(item.kind_name(), "message");
    assert_eq!(serde_json::to_string(&item).expect("serialises"), json);
    let bad = r#"{"kind":"teleport","id":"01900000-0000-7000-8000-000000000064"}"#;
    assert!(serde_json::from_str::<PushItem>(bad).is_err());
}
