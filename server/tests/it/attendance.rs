//! Attendance end to end over real HTTP and MQTT: a tap on one screen reaches
//! the group's other screen (nudge, feed), two screens checking out the same
//! child are both kept and the day log shows which one counted, pushes are
//! checked against the group, parents read their own child's day in words,
//! and the location manager's presence page, day log and CSV.
#![allow(clippy::unwrap_used)]

use crate::common;

use chrono::{DateTime, Duration, Utc};
use common::portal::Portal;
use common::{Device, Harness};
use kring_protocol::mqtt::{self, Nudge};
use kring_protocol::*;
use kring_server::device_api::devices::AuthedDevice;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::time::timeout;

const WAIT: std::time::Duration = std::time::Duration::from_secs(5);

fn item(at: DateTime<Utc>, event: AttendanceEvent) -> AttendanceItem {
    AttendanceItem::new(at, event)
}

fn child_in(child: ChildId, by: Option<&str>) -> AttendanceEvent {
    AttendanceEvent::ChildIn {
        child_id: child,
        by: by.map(str::to_string),
    }
}

fn child_out(child: ChildId, by: Option<&str>) -> AttendanceEvent {
    AttendanceEvent::ChildOut {
        child_id: child,
        by: by.map(str::to_string),
    }
}

async fn push_ok(h: &Harness, dev: &Device, a: &AttendanceItem) -> PushReceipt {
    let resp = h.push(dev, &PushItem::Attendance(a.clone())).await;
    assert_eq!(resp.status(), 200, "{a:?}");
    resp.json().await.unwrap()
}

async fn feed(h: &Harness, dev: &Device, since: i64) -> FeedPage {
    h.get(dev, &format!("/api/v1/feed?since={since}&limit=500"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn records(page: &FeedPage) -> Vec<(i64, AttendanceRecord)> {
    page.changes
        .iter()
        .filter_map(|c| match &c.kind {
            ChangeKind::Attendance(a) => Some((c.seq, a.clone())),
            _ => None,
        })
        .collect()
}

/// Subscribes `dev` to its nudges; returns once the broker confirmed.
async fn subscribe(h: &Harness, dev: &Device) -> (AsyncClient, rumqttc::EventLoop) {
    let addr = h.server().mqtt_addr.unwrap();
    let id = dev.id.to_string();
    let mut o = MqttOptions::new(id.clone(), "127.0.0.1", addr.port());
    o.set_credentials(id, dev.mqtt_password());
    o.set_keep_alive(std::time::Duration::from_secs(5));
    let (client, mut events) = AsyncClient::new(o, 16);
    client
        .subscribe(mqtt::nudge_topic(&dev.id), QoS::AtLeastOnce)
        .await
        .unwrap();
    timeout(WAIT, async {
        loop {
            if let Ok(Event::Incoming(Packet::SubAck(_))) = events.poll().await {
                return;
            }
        }
    })
    .await
    .expect("subscribed");
    (client, events)
}

#[tokio::test]
async fn a_check_in_reaches_the_groups_other_device_with_a_nudge_and_a_retry_is_answered_once() {
    let h = Harness::start().await;
    let (first, second) = (h.enroll().await, h.enroll().await);
    let (_client, mut events) = subscribe(&h, &second).await;
    let start = feed(&h, &second, 0).await.cursor.0;
    let sem = h.kids[0];
    let mut a = item(Utc::now(), child_in(sem, Some(" Papa ")));
    a.recorded_by = Some(h.staff);
    let receipt = push_ok(&h, &first, &a).await;
    let nudge: Nudge = timeout(WAIT, async {
        loop {
            if let Ok(Event::Incoming(Packet::Publish(m))) = events.poll().await {
                return serde_json::from_slice(&m.payload).unwrap();
            }
        }
    })
    .await
    .expect("the other device is nudged within seconds");
    assert_eq!(nudge.seq, receipt.seq);
    let page = feed(&h, &second, start).await;
    let got = records(&page);
    assert_eq!(got.len(), 1, "{page:?}");
    assert_eq!(got[0].0, receipt.seq);
    assert_eq!(got[0].1.item.id, a.id);
    assert_eq!(got[0].1.item.event.by(), Some("Papa"), "stored trimmed");
    assert_eq!(
        got[0].1.received_at.timestamp_micros(),
        receipt.received_at.timestamp_micros()
    );
    // the retry (the answer was lost): the stored answer, nothing new
    let resp = h.push(&first, &PushItem::Attendance(a.clone())).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["idempotent-replayed"], "true");
    let again: PushReceipt = resp.json().await.unwrap();
    assert_eq!(again, receipt);
    assert_eq!(h.count("SELECT COUNT(*) FROM attendance").await, 1);
    assert_eq!(records(&feed(&h, &second, start).await).len(), 1);
    // the child's parents are who may pick up (none in this harness yet)
    let child = feed(&h, &second, 0)
        .await
        .changes
        .into_iter()
        .find_map(|c| match c.kind {
            ChangeKind::Child(k) if k.id == sem => Some(k),
            _ => None,
        })
        .unwrap();
    assert!(child.pickup.is_empty());
}

#[tokio::test]
async fn pushes_about_another_groups_child_or_too_far_in_the_future_are_refused() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let cases = [
        (
            item(Utc::now(), child_in(h.other_kid, None)),
            "not placed on this device's group",
        ),
        (
            item(
                Utc::now() + Duration::minutes(10),
                child_in(h.kids[0], None),
            ),
            "ahead of the server's clock",
        ),
        (
            item(Utc::now(), child_in(h.kids[0], Some(&"o".repeat(81)))),
            "at most 80 characters",
        ),
        (
            item(
                Utc::now(),
                AttendanceEvent::Undo {
                    target: AttendanceId::new(),
                },
            ),
            "not an attendance event of this device's group",
        ),
    ];
    for (a, words) in cases {
        let resp = h.push(&dev, &PushItem::Attendance(a)).await;
        assert_eq!(resp.status(), 422);
        let err: ApiError = resp.json().await.unwrap();
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        assert!(err.message.contains(words), "{}", err.message);
    }
    assert_eq!(h.count("SELECT COUNT(*) FROM attendance").await, 0);
}

#[tokio::test]
async fn the_feed_skips_events_older_than_yesterday() {
    let h = Harness::start().await;
    let dev = h.enroll().await;
    let cal = Calendar::default();
    let now = Utc::now();
    let day_before_yesterday = cal.today(now) - Duration::days(2);
    let old_at = cal.start_of(day_before_yesterday) + Duration::hours(8);
    // stored when it happened (a device that pushed then), straight through the store
    let authed = AuthedDevice {
        id: dev.id,
        group: h.group,
        calendar: cal,
    };
    let old = item(old_at, child_in(h.kids[0], None));
    h.server()
        .state
        .store
        .push_item(authed, PushItem::Attendance(old.clone()), old_at)
        .await
        .unwrap();
    let new = item(now, child_in(h.kids[1], None));
    push_ok(&h, &dev, &new).await;
    // a device enrolled now, from cursor 0
    let fresh = h.enroll().await;
    let ids: Vec<AttendanceId> = records(&feed(&h, &fresh, 0).await)
        .into_iter()
        .map(|(_, r)| r.item.id)
        .collect();
    assert_eq!(ids, vec![new.id]);
    assert_eq!(
        h.count("SELECT COUNT(*) FROM attendance").await,
        2,
        "both stored"
    );
}

/// The fixture's group-A device and a second one on group A.
async fn two_screens(p: &Portal) -> (&Device, Device) {
    let (dev, _) = p.devices.as_ref().unwrap();
    (dev, p.h.enroll().await)
}

fn child(p: &Portal, key: &str) -> ChildId {
    ChildId(uuid::Uuid::parse_str(&p.ids[key]).unwrap())
}

#[tokio::test]
async fn two_screens_checking_out_the_same_child_are_both_kept_and_the_day_log_shows_the_conflict()
{
    let p = Portal::start().await;
    let (a, b) = two_screens(&p).await;
    let sem = child(&p, "child_sem");
    let now = Utc::now();
    push_ok(&p.h, a, &item(now, child_in(sem, Some("Papa")))).await;
    push_ok(&p.h, a, &item(now, child_out(sem, Some("Oma")))).await;
    // the second screen had not heard yet: its check-out is kept, not counted
    push_ok(&p.h, &b, &item(now, child_out(sem, Some("Opa")))).await;
    assert_eq!(p.h.count("SELECT COUNT(*) FROM attendance").await, 3);
    let mut m = p.logged_in("test", "manager").await;
    let today = Calendar::default().today(now);
    let page = m
        .get(&format!(
            "/beheer/groepen/{}/logboek/{today}",
            p.ids["group_a"]
        ))
        .await;
    assert_eq!(page.status, 200);
    let effects: Vec<&str> = page
        .text
        .split("<tr class=\"effect-")
        .skip(1)
        .map(|r| r.split('"').next().unwrap())
        .collect();
    assert_eq!(effects, vec!["counted", "counted", "conflict"]);
    assert!(page.text.contains("conflict: al uitgecheckt"));
    assert!(page.text.contains("Opa"), "the conflicting tap is kept");
    // the presence page: Sem went home with Oma, the conflict is pointed out
    let presence = m
        .get(&format!(
            "/beheer/locaties/{}/aanwezig",
            p.ids["location_a"]
        ))
        .await;
    assert_eq!(presence.status, 200);
    assert!(
        presence.text.contains("opgehaald door Oma"),
        "{}",
        presence.text
    );
    assert!(presence.text.contains("Conflicten vandaag: 1"));
}

#[tokio::test]
async fn a_parent_reads_who_brought_and_picked_up_and_another_family_does_not() {
    let p = Portal::start().await;
    let (dev, _) = p.devices.as_ref().unwrap();
    let (sem, noor) = (child(&p, "child_sem"), child(&p, "child_noor"));
    let now = Utc::now();
    let hhmm = Calendar::default().hhmm(now);
    push_ok(&p.h, dev, &item(now, child_in(sem, Some("Papa")))).await;
    push_ok(&p.h, dev, &item(now, child_out(sem, Some("Oma Ans")))).await;
    push_ok(&p.h, dev, &item(now, child_in(noor, None))).await;
    let mistaken = item(now, child_out(noor, Some("Buurvrouw")));
    push_ok(&p.h, dev, &mistaken).await;
    push_ok(
        &p.h,
        dev,
        &item(
            now,
            AttendanceEvent::Undo {
                target: mistaken.id,
            },
        ),
    )
    .await;
    for who in ["sem", "sem2"] {
        let mut b = p.logged_in("test", who).await;
        let page = b.get("/mijn-kind").await;
        assert_eq!(page.status, 200);
        assert!(
            page.text.contains(&format!("Gebracht om {hhmm} door Papa")),
            "{who}: {}",
            page.text
        );
        assert!(
            page.text
                .contains(&format!("Opgehaald om {hhmm} door Oma Ans"))
        );
        assert!(!page.text.contains("Buurvrouw"), "nothing of Noor");
        assert!(!page.text.contains(&format!("id=\"today-{noor}\"")));
    }
    let mut noor_parent = p.logged_in("test", "noor").await;
    let page = noor_parent.get("/mijn-kind").await;
    assert!(!page.text.contains("Oma Ans"), "nothing of Sem");
    assert!(!page.text.contains("Papa"));
    // Noor's undone check-out is not shown; her check-in without a name is
    assert!(page.text.contains(&format!("Gebracht om {hhmm}</li>")));
    assert!(!page.text.contains("Opgehaald"));
    assert!(!page.text.contains("Buurvrouw"));
    // another family asking for Sem's card: the filter ignores a child not theirs
    let page = noor_parent.get(&format!("/mijn-kind?kind={sem}")).await;
    assert!(!page.text.contains("Oma Ans"));
    // a parent in another organisation sees none of it
    let mut other = p.logged_in("ander", "other_org").await;
    assert!(!other.get("/mijn-kind").await.text.contains("Gebracht om"));
}

#[tokio::test]
async fn the_day_log_downloads_as_csv_and_prints_for_the_ggd() {
    let p = Portal::start().await;
    let (dev, _) = p.devices.as_ref().unwrap();
    let sem = child(&p, "child_sem");
    let staff = StaffId(uuid::Uuid::parse_str(&p.ids["staff_a"]).unwrap());
    let now = Utc::now();
    let mut s_in = item(now, AttendanceEvent::StaffIn { staff_id: staff });
    s_in.recorded_by = Some(staff);
    push_ok(&p.h, dev, &s_in).await;
    let mut c_in = item(now, child_in(sem, Some("Oma; \"Ans\"")));
    c_in.recorded_by = Some(staff);
    push_ok(&p.h, dev, &c_in).await;
    let today = Calendar::default().today(now);
    let base = format!("/beheer/groepen/{}/logboek/{today}", p.ids["group_a"]);
    let mut m = p.logged_in("test", "manager").await;

    let csv = m.get(&format!("{base}/csv")).await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    let disposition = csv.headers["content-disposition"].to_str().unwrap();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"logboek-dolfijnen-{today}.csv\"")
    );
    assert_eq!(csv.headers["cache-control"], "no-store");
    let text = String::from_utf8(csv.bytes.clone()).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a BOM for Excel");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(
        lines[0],
        kring_server::portal::attendance::CSV_HEADER.join(";")
    );
    let hhmm = Calendar::default().hhmm(now);
    assert!(
        lines[1].starts_with(&format!("{hhmm};Begint;Fatima;;Fatima;geteld;")),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(&format!(
            "{hhmm};Gebracht;Sem Test;\"Oma; \"\"Ans\"\"\";Fatima;geteld;"
        )),
        "{}",
        lines[2]
    );
    assert!(lines[2].ends_with(";Testscherm;Dolfijnen"), "{}", lines[2]);
    assert_eq!(lines[3], "", "an empty line before the ratio");
    assert!(lines[4].starts_with("van;tot;kinderen;"));
    assert!(text.contains(";1 van 1 jaar;1;1;voldoende\r\n"), "{text}");
    assert!(text.contains("\r\noordeel;Binnen de toegestane afwijking"));

    let page = m.get(&base).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("class=\"print-page\""));
    assert!(!page.text.contains("<nav"), "no menu on the page to print");
    assert!(page.text.contains("Logboek Dolfijnen"));
    assert!(page.text.contains("id=\"log-ratio\""));
    assert!(page.text.contains("Oma; &#34;Ans&#34;") || page.text.contains("Oma; &quot;Ans&quot;"));
    assert!(page.text.contains(&format!("href=\"{base}/csv\"")));
    // the presence page links both and counts the ratio now
    let presence = m
        .get(&format!(
            "/beheer/locaties/{}/aanwezig",
            p.ids["location_a"]
        ))
        .await;
    assert!(presence.text.contains(&format!("href=\"{base}\"")));
    assert!(presence.text.contains(&format!("href=\"{base}/csv\"")));
    assert!(
        presence
            .text
            .contains("1 kind · 1 beroepskracht nodig · 1 aanwezig · voldoende"),
        "{}",
        presence.text
    );
    assert!(
        presence.text.contains("gebracht door Oma; &#34;Ans&#34;")
            || presence.text.contains("gebracht door Oma; &quot;Ans&quot;")
    );
    // the overview links the location's page
    let overview = m.get("/beheer").await;
    assert!(overview.text.contains(&format!(
        "/beheer/locaties/{}/aanwezig",
        p.ids["location_a"]
    )));
}

/// A child whose parent called in sick for today is "Afgemeld" on the
/// manager's presence page, not "Nog niet binnen".
#[tokio::test]
async fn a_child_reported_absent_by_a_parent_is_listed_as_absent_on_the_presence_page() {
    let p = Portal::start().await;
    let noor = child(&p, "child_noor");
    let today = Calendar::default().today(Utc::now());
    // planned every day, so the test holds on any weekday
    p.h.sql()
        .execute(
            "UPDATE placements SET days = 'mon,tue,wed,thu,fri,sat,sun' WHERE child_id = ?1",
            kring_server::sql_params![noor.to_string()],
        )
        .await
        .unwrap();
    p.h.store()
        .report_absence(
            kring_server::store::AbsenceReport {
                child: noor,
                from: today,
                to: today,
                part_of_day: kring_protocol::PartOfDay::WholeDay,
                reason: kring_protocol::AbsenceReason::Ziek,
                note: None,
                reported_by: "test".into(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    let mut m = p.logged_in("test", "manager").await;
    let page = m
        .get(&format!(
            "/beheer/locaties/{}/aanwezig",
            p.ids["location_a"]
        ))
        .await;
    assert_eq!(page.status, 200);
    let absent = page
        .text
        .split(&format!("id=\"absent-{}\"", p.ids["group_a"]))
        .nth(1)
        .and_then(|rest| rest.split("</ul>").next())
        .unwrap_or_default();
    assert!(
        absent.contains("ziek (vooraf afgemeld)"),
        "Noor under Afgemeld: {absent}"
    );
    let expected = page
        .text
        .split(&format!("id=\"expected-{}\"", p.ids["group_a"]))
        .nth(1)
        .and_then(|rest| rest.split("</ul>").next())
        .unwrap_or_default();
    assert!(!expected.contains("Noor"), "not expected: {expected}");
}
