//! Attendance on the device: each tap is an outbox item (saved durably, pushed
//! like a photo); the group's events as the server numbered them arrive in the
//! feed. [`Store::attendance`] gives both, for
//! [`kring_protocol::attendance::Presence::fold`].

use super::{ItemKind, Store, StoreError, time_str};
use chrono::{DateTime, Duration, Utc};
use kring_protocol::attendance::{MAX_BY_CHARS, Ordered};
use kring_protocol::{
    AttendanceEvent, AttendanceId, AttendanceItem, AttendanceRecord, PushItem, PushReceipt, StaffId,
};
use rusqlite::{Connection, TransactionBehavior, params};
use std::ops::Range;

/// How long the device keeps the server's attendance events.
const KEEP: Duration = Duration::days(3);

/// An attendance event to save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttendance {
    /// When it happened (now, or earlier when staff tapped late).
    pub at: DateTime<Utc>,
    pub event: AttendanceEvent,
    /// The earlier event this one corrects.
    pub replaces: Option<AttendanceId>,
    /// Who is unlocked.
    pub staff: Option<StaffId>,
}

/// `by` trimmed; blank is no one; longer than the server takes is an error.
fn clean_by(by: &mut Option<String>) -> Result<(), StoreError> {
    if let Some(name) = by.take() {
        let name = name.trim();
        if name.chars().count() > MAX_BY_CHARS {
            return Err(StoreError::Invalid(format!(
                "a name of at most {MAX_BY_CHARS} characters"
            )));
        }
        if !name.is_empty() {
            *by = Some(name.to_owned());
        }
    }
    Ok(())
}

impl Store {
    /// Saves an attendance event durably and queues it for the server.
    pub fn save_attendance(
        &self,
        new: NewAttendance,
        now: DateTime<Utc>,
    ) -> Result<AttendanceId, StoreError> {
        let mut event = new.event;
        match &mut event {
            AttendanceEvent::ChildIn { by, .. } | AttendanceEvent::ChildOut { by, .. } => {
                clean_by(by)?
            }
            _ => {}
        }
        let id = AttendanceId::new();
        let item = PushItem::Attendance(AttendanceItem {
            id,
            at: new.at,
            event,
            replaces: new.replaces,
            recorded_by: new.staff,
            recorded_at_device: now,
        });
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        self.insert_outbox(&tx, &item, ItemKind::Attendance, &[], now)?;
        tx.commit()?;
        self.wrote();
        Ok(id)
    }

    /// The group's attendance events that happened in `during`: the server's
    /// (with their sequence) and this device's own, sent or waiting (a sent
    /// one carries the sequence of its receipt).
    pub fn attendance(&self, during: Range<DateTime<Utc>>) -> Result<Vec<Ordered>, StoreError> {
        let conn = self.conn()?;
        let (from, to) = (time_str(during.start), time_str(during.end));
        let mut out = Vec::new();
        let mut q = conn.prepare("SELECT seq, json FROM attendance WHERE at >= ?1 AND at < ?2")?;
        let rows = q.query_map(params![from, to], |r| {
            Ok((r.get::<_, i64>("seq")?, r.get::<_, String>("json")?))
        })?;
        for row in rows {
            let (seq, json) = row?;
            out.push(Ordered {
                seq: Some(seq),
                local: 0,
                item: serde_json::from_str(&json)?,
            });
        }
        let mut q = conn.prepare(
            "SELECT seq, payload, receipt FROM outbox WHERE kind = 'attendance' ORDER BY seq",
        )?;
        let rows = q.query_map([], |r| {
            Ok((
                r.get::<_, i64>("seq")?,
                r.get::<_, String>("payload")?,
                r.get::<_, Option<String>>("receipt")?,
            ))
        })?;
        for row in rows {
            let (local, payload, receipt) = row?;
            let PushItem::Attendance(item) = serde_json::from_str(&payload)? else {
                continue;
            };
            if !during.contains(&item.at) {
                continue;
            }
            let seq = receipt
                .map(|r| serde_json::from_str::<PushReceipt>(&r))
                .transpose()?
                .map(|r| r.seq);
            out.push(Ordered { seq, local, item });
        }
        Ok(out)
    }
}

/// Keeps one attendance event from the feed.
pub(super) fn apply(tx: &Connection, seq: i64, a: &AttendanceRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR REPLACE INTO attendance (id, seq, at, json) VALUES (?1, ?2, ?3, ?4)",
        params![
            a.item.id.to_string(),
            seq,
            time_str(a.item.at),
            serde_json::to_string(&a.item)?
        ],
    )?;
    Ok(())
}

/// Forgets the server's events of more than [`KEEP`] ago, and this device's
/// own sent ones of that age.
pub(super) fn forget_old(tx: &Connection, now: DateTime<Utc>) -> Result<(), StoreError> {
    let before = time_str(now - KEEP);
    tx.execute("DELETE FROM attendance WHERE at < ?1", params![before])?;
    tx.execute(
        "DELETE FROM outbox WHERE kind = 'attendance' AND state = 'sent' AND created_at < ?1",
        params![before],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kring_protocol::attendance::{Effect, Presence};
    use kring_protocol::{Change, ChangeKind, ChildId, Cursor, FeedPage};

    fn day(now: DateTime<Utc>) -> Range<DateTime<Utc>> {
        now - Duration::hours(12)..now + Duration::hours(12)
    }

    fn check_in(child: ChildId, at: DateTime<Utc>, by: &str) -> NewAttendance {
        NewAttendance {
            at,
            event: AttendanceEvent::ChildIn {
                child_id: child,
                by: Some(by.into()),
            },
            replaces: None,
            staff: None,
        }
    }

    #[test]
    fn a_check_in_is_saved_queued_and_read_back_with_its_receipts_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = Utc::now();
        let noor = ChildId::new();
        let id = {
            let (s, _) = Store::open(dir.path()).expect("open");
            s.save_attendance(check_in(noor, now, "  Oma  "), now)
                .expect("save")
        };
        // durable: a new process sees it waiting
        let (s, _) = Store::open(dir.path()).expect("reopen");
        let pending = s.pending().expect("pending");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].kind, ItemKind::Attendance);
        assert_eq!(pending[0].id, id.0);
        let events = s.attendance(day(now)).expect("events");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].seq, None, "not numbered by the server yet");
        assert_eq!(events[0].item.event.by(), Some("Oma"), "trimmed");
        assert!(Presence::fold(events).child(&noor).here());

        s.mark_sent(
            &id.0,
            &PushReceipt {
                item_id: id.0,
                seq: 41,
                received_at: now,
                sha256: None,
            },
            now,
        )
        .expect("sent");
        let events = s.attendance(day(now)).expect("events");
        assert_eq!(events[0].seq, Some(41), "the receipt's place in the order");
        // outside the day asked for: not returned
        assert!(
            s.attendance(now + Duration::days(1)..now + Duration::days(2))
                .expect("events")
                .is_empty()
        );
    }

    #[test]
    fn a_name_longer_than_the_server_takes_is_refused_and_nothing_is_saved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let now = Utc::now();
        let long = "x".repeat(MAX_BY_CHARS + 1);
        let err = s
            .save_attendance(check_in(ChildId::new(), now, &long), now)
            .expect_err("too long");
        assert!(matches!(err, StoreError::Invalid(_)), "{err}");
        assert!(s.pending().expect("pending").is_empty());
    }

    #[test]
    fn the_feeds_events_and_this_devices_own_echo_fold_once_in_the_servers_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let now = Utc::now();
        let noor = ChildId::new();
        // this device checks Noor out while another screen already did
        let mine = s
            .save_attendance(
                NewAttendance {
                    at: now,
                    event: AttendanceEvent::ChildOut {
                        child_id: noor,
                        by: None,
                    },
                    replaces: None,
                    staff: None,
                },
                now,
            )
            .expect("save");
        let record = |seq: i64, item: AttendanceItem| Change {
            seq,
            kind: ChangeKind::Attendance(AttendanceRecord {
                item,
                received_at: now,
            }),
        };
        let other = AttendanceItem::new;
        let PushItem::Attendance(my_item) = s.item(&mine.0).expect("item") else {
            panic!("an attendance item");
        };
        s.apply_feed_page(
            &FeedPage {
                changes: vec![
                    record(
                        1,
                        other(
                            now - Duration::hours(8),
                            AttendanceEvent::ChildIn {
                                child_id: noor,
                                by: None,
                            },
                        ),
                    ),
                    record(
                        2,
                        other(
                            now - Duration::minutes(1),
                            AttendanceEvent::ChildOut {
                                child_id: noor,
                                by: Some("Oma".into()),
                            },
                        ),
                    ),
                    record(3, my_item),
                ],
                cursor: Cursor(3),
                has_more: false,
                update: None,
                seal_to: None,
            },
            now,
        )
        .expect("apply");
        let p = Presence::fold(s.attendance(day(now)).expect("events"));
        assert_eq!(p.log.len(), 3, "my own echo is counted once");
        let stay = &p.child(&noor).stays[0];
        assert_eq!(
            stay.picked_up_by.as_deref(),
            Some("Oma"),
            "the first counts"
        );
        let mine_line = p.log.iter().find(|l| l.item.id == mine).expect("mine");
        assert!(
            matches!(mine_line.effect, Effect::Conflict(_)),
            "kept, shown"
        );
    }

    #[test]
    fn events_older_than_three_days_are_forgotten_at_the_next_pull() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (s, _) = Store::open(dir.path()).expect("open");
        let now = Utc::now();
        let old = now - Duration::days(4);
        let item = AttendanceItem::new(
            old,
            AttendanceEvent::StaffIn {
                staff_id: StaffId::new(),
            },
        );
        let page = |seq: i64, changes| FeedPage {
            changes,
            cursor: Cursor(seq),
            has_more: false,
            update: None,
            seal_to: None,
        };
        s.apply_feed_page(
            &page(
                1,
                vec![Change {
                    seq: 1,
                    kind: ChangeKind::Attendance(AttendanceRecord {
                        item,
                        received_at: old,
                    }),
                }],
            ),
            old,
        )
        .expect("apply");
        let week = now - Duration::days(7)..now;
        assert_eq!(s.attendance(week.clone()).expect("events").len(), 1);
        s.apply_feed_page(&page(2, vec![]), now).expect("apply");
        assert!(s.attendance(week).expect("events").is_empty());
    }
}
