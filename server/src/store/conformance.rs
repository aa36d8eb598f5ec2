//! The contract every [`Store`] backend must meet, as async checks on a fresh
//! store. A backend runs all of them with one line (the shape of
//! matrix-rust-sdk's state-store integration tests):
//!
//! ```ignore
//! kring_server::store_conformance_tests!(|dir: &std::path::Path| {
//!     SqlStore::open(&dir.join("db")).expect("open")
//! });
//! ```
//!
//! It is compiled with the crate feature `conformance` (off in the server
//! binary), so a backend in another crate runs it from its own tests; the
//! SQLite backend runs it in `server/tests/it/store_conformance.rs`. The
//! crate using the macro needs `tokio` (with `macros` and `rt`) for its tests.
//!
//! Each check seeds what it needs through the store itself, so it holds for
//! any backend. A new method gets a check here, and the macro a line.

use super::{
    AbsenceReport, ChildDetails, CompletedUpload, DaySpan, GroupLookup, NewParentMessage,
    NewPlacement, NewRelease, NewRollout, NewStaff, NewUpload, RolloutScope, Store, StoreError,
    SweptUpload, UploadQuota,
};
use crate::device_api::devices::{AuthedDevice, DeviceReport};
use crate::org::{GroupChange, GroupKind, ParentRole};
use crate::portal::SessionTimes;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use kring_protocol::{
    AttendanceEvent, AttendanceId, AttendanceItem, Audience, Calendar, ChangeKind, ChildId, Cursor,
    DeviceId, ErrorCode, GroupId, InstallWindow, MessageId, MessageThread, OrganisationId,
    PhotoConsent, PhotoId, PhotoItem, PushItem, PushReceipt, ReleaseId, StaffId, StaffMessageItem,
    StaffRole, UpdateReport, UpdateState, UploadId, Weekday,
};
use std::sync::Arc;

/// The temporary directories the suite gives each backend.
pub use tempfile;

/// Runs every check of the suite against the store made by `$open`, an async
/// closure from a fresh empty directory to a store (one `#[tokio::test]` per
/// check). Opened twice with the same directory, it must give two stores on
/// one database (two server processes): the concurrency checks race them.
#[macro_export]
macro_rules! store_conformance_tests {
    (@checks $fresh:ident; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (_dir, store) = $fresh().await;
                suite::$check(&*store).await;
            }
        )+
    };
    (@pairs $pair:ident; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let (_dir, a, b) = $pair().await;
                suite::$check(a, b).await;
            }
        )+
    };
    ($open:expr) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;
            use $crate::store::conformance as suite;

            async fn fresh() -> (
                suite::tempfile::TempDir,
                std::sync::Arc<dyn $crate::store::Store>,
            ) {
                let dir = suite::tempfile::tempdir().expect("a temporary directory");
                let open = $open;
                let store = std::sync::Arc::new(open(dir.path()).await);
                (dir, store)
            }

            /// Two stores on one database: two server processes.
            async fn pair() -> (
                suite::tempfile::TempDir,
                std::sync::Arc<dyn $crate::store::Store>,
                std::sync::Arc<dyn $crate::store::Store>,
            ) {
                let dir = suite::tempfile::tempdir().expect("a temporary directory");
                let open = $open;
                let a = std::sync::Arc::new(open(dir.path()).await);
                let b = std::sync::Arc::new(open(dir.path()).await);
                (dir, a, b)
            }

            $crate::store_conformance_tests!(@pairs pair;
                two_processes_store_a_pushed_item_once,
                two_processes_keep_the_group_sequence_dense_and_in_order,
                two_processes_enroll_one_device_per_code,
                two_processes_nudge_a_rollout_once,
                two_processes_run_a_job_once,
                two_processes_move_an_upload_on_once,
                two_processes_build_each_archive_once,
            );

            $crate::store_conformance_tests!(@checks fresh;
                push_retry_returns_the_first_answer,
                push_other_body_under_same_id_is_a_conflict,
                group_sequence_strictly_increases,
                feed_pages_follow_the_cursor,
                consent_is_checked_at_write_and_read,
                push_checks_children_and_staff_of_the_group,
                photo_needs_own_complete_upload_with_matching_hash,
                uploads_lifecycle,
                a_photo_and_the_unused_sweep_never_share_an_upload,
                uploads_are_limited_per_device,
                enrollment_code_works_once,
                revoked_device_is_refused,
                organisation_slug_is_unique,
                groups_are_found_by_id_or_name,
                photo_for_parent_follows_consent_now,
                the_timeline_shows_exactly_the_photos_the_rule_allows,
                sessions_expire_and_stay_in_their_organisation,
                reset_tokens_work_once,
                attendance_is_stored_once_and_reaches_the_feed,
                attendance_is_checked_against_the_group,
                attendance_feed_carries_only_today_and_yesterday,
                attendance_reads_stay_with_their_owner,
                child_pickup_is_its_parents_by_name,
                absences_follow_the_current_placement,
                agenda_cancels_requests_and_tegoed,
                agenda_swap_gives_up_a_contract_day,
                the_roster_counts_the_staff_planned_that_day,
                vacation_hours_are_guaranteed_a_month_ahead_and_promised_meanwhile,
                agenda_settings_stay_in_their_organisation,
                a_leavers_data_is_deleted_after_the_retention_period,
                update_offer_follows_scope_and_the_newest_rollout,
                update_offer_ends_with_good_rolled_back_or_failed_until_retry,
                update_reports_are_idempotent_and_only_for_rolled_out_releases,
                rollouts_nudge_their_devices_once,
                releases_are_kept_once_and_counted_per_state,
                a_job_is_claimed_once_per_period,
                news_and_locations_are_read_per_parent,
                news_edits_and_deletes_hand_back_unused_files,
                account_language_is_kept_per_account,
            );
        }
    };
}

/// A small organisation: one group with three children (consent group,
/// own parents, none), another group with one child, a staff member on the
/// first group, an enrolled device on it.
#[derive(Debug)]
pub struct World {
    pub org: OrganisationId,
    pub group: GroupId,
    pub other_group: GroupId,
    /// Consent: group, own parents, none.
    pub kids: [ChildId; 3],
    pub other_kid: ChildId,
    pub staff: StaffId,
    pub device: AuthedDevice,
    pub secret: String,
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

pub async fn seed(s: &dyn Store, slug: &str) -> World {
    let org = s
        .create_organisation(slug.into(), format!("Opvang {slug}"))
        .await
        .expect("organisation");
    let loc = s
        .create_location(org, "Locatie".into())
        .await
        .expect("location");
    let group = s
        .create_group(loc, "Dolfijnen".into(), GroupKind::Kdv, (0, 4))
        .await
        .expect("group");
    let other_group = s
        .create_group(loc, "Zwaluwen".into(), GroupKind::Bso, (4, 12))
        .await
        .expect("group");
    let mut kids = Vec::new();
    let days = vec![Weekday::Mon, Weekday::Wed, Weekday::Fri];
    for (name, consent, g) in [
        ("Sem", PhotoConsent::Group, group),
        ("Noor", PhotoConsent::OwnParents, group),
        ("Daan", PhotoConsent::None, group),
        ("Bram", PhotoConsent::Group, other_group),
    ] {
        let child = placed_child(
            s,
            org,
            (name, consent, 500),
            &days,
            &[(g, today() - Duration::days(30), None)],
        )
        .await;
        kids.push(child);
    }
    let staff = s
        .create_staff(NewStaff {
            org,
            name: "Fatima".into(),
            role: StaffRole::Pedagogical,
            pin: "1234".into(),
            groups: vec![group],
        })
        .await
        .expect("staff")
        .id;
    let code = s
        .create_enrollment_code(group, Utc::now(), Duration::minutes(15))
        .await
        .expect("code");
    let enrolled = s
        .enroll_device(code.code, "Scherm".into(), "1.0".into(), Utc::now())
        .await
        .expect("enroll");
    World {
        org,
        group,
        other_group,
        kids: [kids[0], kids[1], kids[2]],
        other_kid: kids[3],
        staff,
        device: AuthedDevice {
            id: enrolled.id,
            group,
            calendar: kring_protocol::Calendar::default(),
        },
        secret: enrolled.secret,
    }
}

/// A new child of `org`, `(first name, consent, age in days)`, placed on
/// `days` for each `(group, start, end)`.
async fn placed_child(
    s: &dyn Store,
    org: OrganisationId,
    (name, consent, age_days): (&str, PhotoConsent, i64),
    days: &[Weekday],
    placements: &[(GroupId, NaiveDate, Option<NaiveDate>)],
) -> ChildId {
    let child = s
        .create_child(
            org,
            ChildDetails {
                first_name: name.into(),
                last_name: "Test".into(),
                birth_date: today() - Duration::days(age_days),
                consent,
                allergies: None,
                notes: None,
            },
        )
        .await
        .expect("child");
    for &(group, start, end) in placements {
        s.place_child(NewPlacement {
            child,
            group,
            days: days.to_vec(),
            start,
            end,
        })
        .await
        .expect("placement");
    }
    child
}

fn message(thread: MessageThread, body: &str) -> PushItem {
    PushItem::Message(StaffMessageItem {
        id: MessageId::new(),
        thread,
        body: body.into(),
        staff_id: None,
    })
}

fn receipt(body: &str) -> PushReceipt {
    serde_json::from_str(body).expect("a receipt")
}

/// A quota no check of the suite reaches unless it means to.
const ROOMY: UploadQuota = UploadQuota {
    open: 1000,
    open_bytes: u64::MAX / 2,
    unused: 1000,
};

/// A complete upload of `device`, with the sha256 `sha`.
async fn complete_upload(s: &dyn Store, device: DeviceId, sha: &str) -> UploadId {
    let id = UploadId::new();
    s.create_upload(
        NewUpload {
            id,
            device,
            length: 10,
            metadata_json: "{}".into(),
            expected_sha256: None,
            created_at: Utc::now(),
            expires_at: Utc::now() + Duration::hours(1),
        },
        ROOMY,
    )
    .await
    .expect("create upload");
    s.set_upload_offset(id, 10).await.expect("offset");
    s.complete_upload(
        id,
        CompletedUpload {
            sha256: sha.into(),
            blob_key: format!("photos/{id}.jpg"),
            thumb_key: format!("thumbs/{id}.jpg"),
            width: 4,
            height: 3,
        },
        Utc::now(),
    )
    .await
    .expect("complete upload");
    id
}

fn photo(upload: UploadId, sha: &str, tags: Vec<ChildId>) -> PushItem {
    PushItem::Photo(PhotoItem {
        id: PhotoId::new(),
        upload_id: upload,
        sha256: sha.into(),
        tags,
        no_children_recognizable: false,
        audience_shown: Audience::StaffOnly,
        taken_at_device: Utc::now(),
        staff_id: None,
    })
}

fn is_invalid(e: &StoreError, want: ErrorCode) -> bool {
    matches!(e, StoreError::Invalid { code, .. } if *code == want)
}

// ---- items -----------------------------------------------------------------

pub async fn push_retry_returns_the_first_answer(s: &dyn Store) {
    let w = seed(s, "retry").await;
    let item = message(MessageThread::Group, "Vandaag naar het bos");
    let t0 = Utc::now();
    let first = s.push_item(w.device, item.clone(), t0).await.expect("push");
    assert!(!first.replayed);
    assert_eq!(first.status, 200);
    let GroupChange { group, seq } = first.changed.expect("a message changes the feed");
    assert_eq!(group, w.group);
    assert_eq!(receipt(&first.body).seq, seq);
    assert_eq!(receipt(&first.body).item_id, item.id());
    let again = s
        .push_item(w.device, item, t0 + Duration::seconds(5))
        .await
        .expect("retry");
    assert!(again.replayed);
    assert_eq!(again.body, first.body, "a retry gets the stored answer");
    assert_eq!(again.changed, None, "a retry changes nothing");
    let page = s
        .feed_page(w.group, Cursor(seq - 1), 100, today())
        .await
        .expect("feed");
    let messages = page
        .changes
        .iter()
        .filter(|c| matches!(c.kind, ChangeKind::Message(_)))
        .count();
    assert_eq!(messages, 1, "stored once");
}

pub async fn push_other_body_under_same_id_is_a_conflict(s: &dyn Store) {
    let w = seed(s, "conflict").await;
    let item = message(MessageThread::Group, "Eerste versie");
    s.push_item(w.device, item.clone(), Utc::now())
        .await
        .expect("push");
    let PushItem::Message(mut m) = item else {
        unreachable!("built as a message")
    };
    m.body = "Tweede versie".into();
    let err = s
        .push_item(w.device, PushItem::Message(m), Utc::now())
        .await
        .expect_err("another body under the same id");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

pub async fn group_sequence_strictly_increases(s: &dyn Store) {
    let w = seed(s, "seq").await;
    let parent = s
        .create_parent(
            w.org,
            "ouder@example.nl".into(),
            "Anouk".into(),
            "pw-12345".into(),
        )
        .await
        .expect("parent");
    let mut seqs = Vec::new();
    for i in 0..3 {
        let out = s
            .push_item(
                w.device,
                message(MessageThread::Group, &format!("bericht {i}")),
                Utc::now(),
            )
            .await
            .expect("push");
        seqs.push(out.changed.expect("changed").seq);
        let changed = s
            .parent_message(
                NewParentMessage {
                    group: w.group,
                    child: w.kids[0],
                    parent,
                    parent_name: "Anouk".into(),
                    body: format!("antwoord {i}"),
                },
                Utc::now(),
            )
            .await
            .expect("parent message")
            .changed;
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].group, w.group);
        seqs.push(changed[0].seq);
    }
    assert!(
        seqs.windows(2).all(|p| p[0] < p[1]),
        "strictly increasing: {seqs:?}"
    );
    // The other group's sequence is its own.
    let other = s
        .feed_page(w.other_group, Cursor(0), 1000, today())
        .await
        .expect("feed");
    assert!(other.cursor.0 < seqs[seqs.len() - 1]);
}

pub async fn feed_pages_follow_the_cursor(s: &dyn Store) {
    let w = seed(s, "pages").await;
    for i in 0..5 {
        s.push_item(
            w.device,
            message(MessageThread::Group, &format!("bericht {i}")),
            Utc::now(),
        )
        .await
        .expect("push");
    }
    let all = s
        .feed_page(w.group, Cursor(0), 1000, today())
        .await
        .expect("whole feed");
    assert!(!all.has_more);
    let mut cursor = Cursor(0);
    let mut seen = Vec::new();
    loop {
        let page = s
            .feed_page(w.group, cursor, 2, today())
            .await
            .expect("page");
        assert!(page.changes.len() <= 2);
        assert!(page.changes.iter().all(|c| c.seq > cursor.0));
        seen.extend(page.changes.iter().map(|c| c.seq));
        if !page.has_more {
            assert_eq!(page.cursor, all.cursor);
            break;
        }
        assert!(page.cursor.0 > cursor.0, "the cursor moves");
        cursor = page.cursor;
    }
    let whole: Vec<i64> = all.changes.iter().map(|c| c.seq).collect();
    assert_eq!(seen, whole, "pages add up to the whole feed, in order");
    let empty = s
        .feed_page(w.group, all.cursor, 10, today())
        .await
        .expect("after the end");
    assert!(empty.changes.is_empty());
    assert_eq!(empty.cursor, all.cursor);
}

pub async fn consent_is_checked_at_write_and_read(s: &dyn Store) {
    let w = seed(s, "consent").await;
    // A photo of a child without consent is refused.
    let sha = "ab".repeat(32);
    let upload = complete_upload(s, w.device.id, &sha).await;
    let err = s
        .push_item(w.device, photo(upload, &sha, vec![w.kids[2]]), Utc::now())
        .await
        .expect_err("no consent");
    assert!(matches!(err, StoreError::ConsentRefused(_)), "{err:?}");
    // The feed carries the consent as it is when read.
    let before = s
        .feed_page(w.group, Cursor(0), 1000, today())
        .await
        .expect("feed");
    let changed = s
        .set_consent(w.kids[0], PhotoConsent::None, "test".into(), Utc::now())
        .await
        .expect("consent");
    assert_eq!(changed.len(), 1);
    assert!(changed[0].seq > before.cursor.0);
    let after = s
        .feed_page(w.group, before.cursor, 1000, today())
        .await
        .expect("feed");
    let child = after
        .changes
        .iter()
        .find_map(|c| match &c.kind {
            ChangeKind::Child(ch) if ch.id == w.kids[0] => Some(ch.clone()),
            _ => None,
        })
        .expect("the child changed");
    assert_eq!(child.photo_consent, PhotoConsent::None);
    // With consent withdrawn, a photo of that child is refused as well.
    let upload = complete_upload(s, w.device.id, &sha).await;
    let err = s
        .push_item(w.device, photo(upload, &sha, vec![w.kids[0]]), Utc::now())
        .await
        .expect_err("consent withdrawn");
    assert!(matches!(err, StoreError::ConsentRefused(_)), "{err:?}");
}

pub async fn push_checks_children_and_staff_of_the_group(s: &dyn Store) {
    let w = seed(s, "checks").await;
    let err = s
        .push_item(
            w.device,
            message(
                MessageThread::Child {
                    child_id: w.other_kid,
                },
                "hallo",
            ),
            Utc::now(),
        )
        .await
        .expect_err("a child of another group");
    assert!(is_invalid(&err, ErrorCode::ValidationFailed), "{err:?}");
    let mut item = StaffMessageItem {
        id: MessageId::new(),
        thread: MessageThread::Group,
        body: "hallo".into(),
        staff_id: Some(StaffId::new()),
    };
    let err = s
        .push_item(w.device, PushItem::Message(item.clone()), Utc::now())
        .await
        .expect_err("unknown staff");
    assert!(is_invalid(&err, ErrorCode::ValidationFailed), "{err:?}");
    item.staff_id = Some(w.staff);
    let out = s
        .push_item(w.device, PushItem::Message(item), Utc::now())
        .await
        .expect("staff of the group");
    assert!(out.changed.is_some());
    let err = s
        .push_item(w.device, message(MessageThread::Group, "   "), Utc::now())
        .await
        .expect_err("empty message");
    assert!(is_invalid(&err, ErrorCode::ValidationFailed), "{err:?}");
}

pub async fn photo_needs_own_complete_upload_with_matching_hash(s: &dyn Store) {
    let w = seed(s, "photo").await;
    let sha = "cd".repeat(32);
    // unknown upload
    let err = s
        .push_item(w.device, photo(UploadId::new(), &sha, vec![]), Utc::now())
        .await
        .expect_err("unknown upload");
    assert!(is_invalid(&err, ErrorCode::UploadIncomplete), "{err:?}");
    // another device's upload
    let code = s
        .create_enrollment_code(w.group, Utc::now(), Duration::minutes(15))
        .await
        .expect("code");
    let other = s
        .enroll_device(code.code, "Tweede".into(), "1.0".into(), Utc::now())
        .await
        .expect("enroll");
    let theirs = complete_upload(s, other.id, &sha).await;
    let err = s
        .push_item(w.device, photo(theirs, &sha, vec![w.kids[0]]), Utc::now())
        .await
        .expect_err("not our upload");
    assert!(is_invalid(&err, ErrorCode::UploadIncomplete), "{err:?}");
    // a different hash
    let ours = complete_upload(s, w.device.id, &sha).await;
    let err = s
        .push_item(
            w.device,
            photo(ours, &"ef".repeat(32), vec![w.kids[0]]),
            Utc::now(),
        )
        .await
        .expect_err("hash differs");
    assert!(
        is_invalid(&err, ErrorCode::UploadChecksumMismatch),
        "{err:?}"
    );
    // the good one; its receipt carries the verified hash
    let out = s
        .push_item(w.device, photo(ours, &sha, vec![w.kids[0]]), Utc::now())
        .await
        .expect("photo");
    assert_eq!(receipt(&out.body).sha256.as_deref(), Some(sha.as_str()));
    // one photo per upload
    let err = s
        .push_item(w.device, photo(ours, &sha, vec![w.kids[0]]), Utc::now())
        .await
        .expect_err("upload used twice");
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
}

// ---- uploads ---------------------------------------------------------------

pub async fn uploads_lifecycle(s: &dyn Store) {
    let w = seed(s, "uploads").await;
    let now: DateTime<Utc> = Utc::now();
    let new = |id, expires_at| NewUpload {
        id,
        device: w.device.id,
        length: 100,
        metadata_json: r#"{"filetype":"image/jpeg"}"#.into(),
        expected_sha256: Some("00".repeat(32)),
        created_at: now,
        expires_at,
    };
    let live = UploadId::new();
    s.create_upload(new(live, now + Duration::hours(1)), ROOMY)
        .await
        .expect("create");
    let err = s
        .create_upload(new(live, now + Duration::hours(1)), ROOMY)
        .await
        .expect_err("same id twice");
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
    let row = s.upload(live).await.expect("load").expect("exists");
    assert_eq!(row.device, w.device.id);
    assert_eq!((row.offset, row.length), (0, 100));
    assert!(!row.completed);
    assert_eq!(
        row.expected_sha256.as_deref(),
        Some("00".repeat(32).as_str())
    );
    s.set_upload_offset(live, 60).await.expect("offset");
    assert_eq!(s.upload(live).await.expect("load").expect("row").offset, 60);
    assert!(s.upload(UploadId::new()).await.expect("load").is_none());
    // refused
    let refused = UploadId::new();
    s.create_upload(new(refused, now + Duration::hours(1)), ROOMY)
        .await
        .expect("create");
    s.fail_upload(refused, "not a JPEG".into())
        .await
        .expect("fail");
    let row = s.upload(refused).await.expect("load").expect("row");
    assert_eq!(row.failed_reason.as_deref(), Some("not a JPEG"));
    // expired: an unfinished one is swept, a complete one stays
    let stale = UploadId::new();
    s.create_upload(new(stale, now - Duration::minutes(1)), ROOMY)
        .await
        .expect("create");
    let done = UploadId::new();
    s.create_upload(new(done, now - Duration::minutes(1)), ROOMY)
        .await
        .expect("create");
    s.complete_upload(
        done,
        CompletedUpload {
            sha256: "11".repeat(32),
            blob_key: "photos/x.jpg".into(),
            thumb_key: "thumbs/x.jpg".into(),
            width: 8,
            height: 6,
        },
        now,
    )
    .await
    .expect("complete");
    assert!(s.upload(done).await.expect("load").expect("row").completed);
    let swept = s
        .sweep_expired_uploads(now, now - Duration::hours(1))
        .await
        .expect("sweep");
    let ids: Vec<UploadId> = swept.iter().map(|u| u.id).collect();
    assert_eq!(ids, vec![stale]);
    assert!(
        swept[0].blob_keys.is_empty(),
        "an unfinished upload has no files"
    );
    assert!(s.upload(stale).await.expect("load").is_none());
    assert!(s.upload(done).await.expect("load").is_some());
    assert!(s.upload(live).await.expect("load").is_some());
    // a complete upload no photo took goes after the unused period, with its files
    let swept = s
        .sweep_expired_uploads(now, now + Duration::seconds(1))
        .await
        .expect("sweep");
    assert_eq!(
        swept,
        vec![SweptUpload {
            id: done,
            blob_keys: vec!["photos/x.jpg".into(), "thumbs/x.jpg".into()],
        }]
    );
    assert!(s.upload(done).await.expect("load").is_none());
}

/// A complete upload a photo took is never swept as unused; one swept first
/// cannot be taken by a photo any more (the device uploads it again).
pub async fn a_photo_and_the_unused_sweep_never_share_an_upload(s: &dyn Store) {
    let w = seed(s, "unused").await;
    let sha = "ab".repeat(32);
    let taken = complete_upload(s, w.device.id, &sha).await;
    s.push_item(w.device, photo(taken, &sha, vec![w.kids[0]]), Utc::now())
        .await
        .expect("photo");
    let later = Utc::now() + Duration::days(30);
    let swept = s.sweep_expired_uploads(later, later).await.expect("sweep");
    assert!(swept.is_empty(), "a used upload was swept: {swept:?}");
    let upload = complete_upload(s, w.device.id, &sha).await;
    let swept = s.sweep_expired_uploads(later, later).await.expect("sweep");
    assert_eq!(swept.iter().map(|u| u.id).collect::<Vec<_>>(), vec![upload]);
    let err = s
        .push_item(w.device, photo(upload, &sha, vec![w.kids[0]]), Utc::now())
        .await
        .expect_err("the upload is gone");
    assert!(is_invalid(&err, ErrorCode::UploadIncomplete), "{err:?}");
}

/// A device gets at most so many unfinished uploads (count and bytes) and
/// complete uploads no photo took; a taken or finished one frees its place,
/// and one device's quota is not another's.
pub async fn uploads_are_limited_per_device(s: &dyn Store) {
    let w = seed(s, "quota").await;
    let quota = UploadQuota {
        open: 2,
        open_bytes: 250,
        unused: 1,
    };
    let now = Utc::now();
    let new = |device: DeviceId, length: u64| NewUpload {
        id: UploadId::new(),
        device,
        length,
        metadata_json: "{}".into(),
        expected_sha256: None,
        created_at: now,
        expires_at: now + Duration::hours(1),
    };
    let over = |e: StoreError| is_invalid(&e, ErrorCode::RateLimited);
    let first = new(w.device.id, 100);
    s.create_upload(first.clone(), quota).await.expect("first");
    let err = s
        .create_upload(new(w.device.id, 200), quota)
        .await
        .expect_err("over the bytes");
    assert!(over(err));
    s.create_upload(new(w.device.id, 100), quota)
        .await
        .expect("second");
    let err = s
        .create_upload(new(w.device.id, 10), quota)
        .await
        .expect_err("over the count");
    assert!(over(err));
    // another device of the group is not held back by this one
    let other = second_device(s, w.group).await;
    s.create_upload(new(other.id, 100), quota)
        .await
        .expect("another device");
    // finishing the first frees an open place but fills the unused one
    s.complete_upload(
        first.id,
        CompletedUpload {
            sha256: "cd".repeat(32),
            blob_key: "photos/q.jpg".into(),
            thumb_key: "thumbs/q.jpg".into(),
            width: 8,
            height: 6,
        },
        now,
    )
    .await
    .expect("complete");
    let err = s
        .create_upload(new(w.device.id, 10), quota)
        .await
        .expect_err("an unused upload waits");
    assert!(over(err));
    // a photo takes it: room again
    s.push_item(
        w.device,
        photo(first.id, &"cd".repeat(32), vec![w.kids[0]]),
        Utc::now(),
    )
    .await
    .expect("photo");
    s.create_upload(new(w.device.id, 10), quota)
        .await
        .expect("room again");
}

// ---- devices ---------------------------------------------------------------

pub async fn enrollment_code_works_once(s: &dyn Store) {
    let w = seed(s, "enroll").await;
    let now = Utc::now();
    let code = s
        .create_enrollment_code(w.group, now, Duration::minutes(15))
        .await
        .expect("code");
    assert_eq!(code.group, w.group);
    // typed by hand: lower case, a space instead of the dash
    let typed = code.code.to_lowercase().replace('-', " ");
    let d = s
        .enroll_device(typed, "Scherm 2".into(), "1.0".into(), now)
        .await
        .expect("enroll");
    assert_eq!(d.group.id, w.group);
    assert_eq!(d.group.organisation_id, w.org);
    let err = s
        .enroll_device(code.code, "Scherm 3".into(), "1.0".into(), now)
        .await
        .expect_err("used");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let expired = s
        .create_enrollment_code(w.group, now - Duration::minutes(20), Duration::minutes(15))
        .await
        .expect("code");
    let err = s
        .enroll_device(expired.code, "Scherm 4".into(), "1.0".into(), now)
        .await
        .expect_err("expired");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let authed = s
        .authenticate_device(d.secret.clone(), DeviceReport::default(), now)
        .await
        .expect("auth");
    assert_eq!(
        authed,
        Some(AuthedDevice {
            id: d.id,
            group: w.group,
            calendar: kring_protocol::Calendar::default(),
        })
    );
}

pub async fn revoked_device_is_refused(s: &dyn Store) {
    let w = seed(s, "revoke").await;
    let now = Utc::now();
    let report = DeviceReport {
        app_version: Some("2.0".into()),
        outbox_pending: Some(3),
        release: Some("kring-qemu-virt 1.0.0".into()),
    };
    assert_eq!(
        s.authenticate_device(w.secret.clone(), report, now)
            .await
            .expect("auth"),
        Some(w.device)
    );
    let listed = s.list_devices(Some(w.org)).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].app_version, "2.0", "the report is stored");
    assert_eq!(listed[0].outbox_pending, Some(3));
    assert_eq!(listed[0].release.as_deref(), Some("kring-qemu-virt 1.0.0"));
    let mqtt = kring_protocol::mqtt::password(&w.secret);
    assert!(
        s.check_mqtt_password(w.device.id, mqtt.clone())
            .await
            .expect("check")
    );
    for wrong in ["wrong".to_string(), w.secret.clone()] {
        assert!(
            !s.check_mqtt_password(w.device.id, wrong)
                .await
                .expect("check"),
            "MQTT takes its own password, not the API secret"
        );
    }
    assert_eq!(
        s.authenticate_device(mqtt.clone(), DeviceReport::default(), now)
            .await
            .expect("auth"),
        None,
        "the API takes the secret, not the MQTT password"
    );
    s.set_device_online(w.device.id, true, now)
        .await
        .expect("online");
    assert!(s.list_devices(None).await.expect("list")[0].online);
    assert_eq!(
        s.active_devices_of_group(w.group).await.expect("active"),
        vec![w.device.id]
    );
    assert_eq!(
        s.device_organisation(w.device.id.to_string())
            .await
            .expect("org"),
        Some(w.org.to_string())
    );
    assert!(s.revoke_device(w.device.id, now).await.expect("revoke"));
    assert!(
        !s.revoke_device(w.device.id, now).await.expect("again"),
        "already revoked"
    );
    assert_eq!(
        s.authenticate_device(w.secret.clone(), DeviceReport::default(), now)
            .await
            .expect("auth"),
        None
    );
    assert!(
        !s.check_mqtt_password(w.device.id, mqtt)
            .await
            .expect("check")
    );
    assert!(
        s.active_devices_of_group(w.group)
            .await
            .expect("active")
            .is_empty()
    );
    assert_eq!(
        s.revoked_devices().await.expect("revoked"),
        vec![w.device.id]
    );
    let listed = s.list_devices(Some(w.org)).await.expect("list");
    assert!(listed[0].revoked_at.is_some());
    assert!(!listed[0].online, "revoking ends presence");
}

// ---- organisation ----------------------------------------------------------

pub async fn organisation_slug_is_unique(s: &dyn Store) {
    s.create_organisation("zon".into(), "De Zon".into())
        .await
        .expect("first");
    let err = s
        .create_organisation("zon".into(), "Andere Zon".into())
        .await
        .expect_err("same slug");
    assert!(matches!(err, StoreError::Duplicate(_)), "{err:?}");
}

pub async fn groups_are_found_by_id_or_name(s: &dyn Store) {
    let w = seed(s, "find").await;
    assert_eq!(
        s.find_group("dolfijnen".into()).await.expect("find"),
        GroupLookup::Found(w.group)
    );
    assert_eq!(
        s.find_group(w.other_group.to_string()).await.expect("find"),
        GroupLookup::Found(w.other_group)
    );
    assert_eq!(
        s.find_group("Onbekend".into()).await.expect("find"),
        GroupLookup::NotFound
    );
    // a second organisation with a group of the same name: the name alone
    // is ambiguous (never the first one found), organisation/name is not
    let other = seed(s, "find2").await;
    match s.find_group("Dolfijnen".into()).await.expect("find") {
        GroupLookup::Ambiguous(all) => {
            let mut found: Vec<_> = all
                .iter()
                .map(|g| (g.organisation_slug.as_str(), g.id))
                .collect();
            found.sort();
            assert_eq!(found, vec![("find", w.group), ("find2", other.group)]);
        }
        other => panic!("a name two groups carry must be ambiguous: {other:?}"),
    }
    let err = s
        .find_group("Dolfijnen".into())
        .await
        .expect("find")
        .one("Dolfijnen")
        .expect_err("ambiguous");
    assert!(err.contains("find2/Dolfijnen"), "{err}");
    assert_eq!(
        s.find_group("find2/dolfijnen".into()).await.expect("find"),
        GroupLookup::Found(other.group)
    );
    assert_eq!(
        s.find_group("find/Zwaluwen".into()).await.expect("find"),
        GroupLookup::Found(w.other_group)
    );
    assert_eq!(
        s.find_group("nergens/Dolfijnen".into())
            .await
            .expect("find"),
        GroupLookup::NotFound
    );
    let info = s
        .group_info(w.group)
        .await
        .expect("info")
        .expect("the group");
    assert_eq!(info.name, "Dolfijnen");
    assert_eq!(info.organisation_id, w.org);
    assert!(s.group_info(GroupId::new()).await.expect("info").is_none());
}

// ---- portal ----------------------------------------------------------------

/// The timeline decides visibility in SQL; it must list exactly the photos
/// the consent rule (`photo_for_parent`, `kring_protocol::decide_audience`)
/// lets the parent see: every combination of tags over a child with `group`
/// consent, one with `own_parents` and one whose consent became `none`, with
/// and without "no children recognizable", for a parent of two of them and a
/// parent of the third, before and after a consent changes.
pub async fn the_timeline_shows_exactly_the_photos_the_rule_allows(s: &dyn Store) {
    let w = seed(s, "timelinerule").await;
    let [sem, noor, daan] = w.kids;
    let parent = |email: &'static str| async move {
        s.create_parent(w.org, email.into(), "Ouder".into(), "pw-123456".into())
            .await
            .expect("parent")
    };
    let both = parent("sem.noor@example.nl").await;
    s.link_parent(sem, both, ParentRole::First)
        .await
        .expect("link");
    s.link_parent(noor, both, ParentRole::First)
        .await
        .expect("link");
    let of_daan = parent("daan@example.nl").await;
    s.link_parent(daan, of_daan, ParentRole::First)
        .await
        .expect("link");
    // Daan may be photographed while the photos are taken, not afterwards
    s.set_consent(daan, PhotoConsent::Group, "ouder".into(), Utc::now())
        .await
        .expect("consent");
    let sha = "5a".repeat(32);
    let mut photos = Vec::new();
    for mask in 0..8u8 {
        for ncr in [false, true] {
            let tags: Vec<ChildId> = [sem, noor, daan]
                .into_iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, k)| k)
                .collect();
            let upload = complete_upload(s, w.device.id, &sha).await;
            let mut item = photo(upload, &sha, tags);
            if let PushItem::Photo(p) = &mut item {
                p.no_children_recognizable = ncr;
            }
            photos.push(item.id().to_string());
            s.push_item(w.device, item, Utc::now() - Duration::minutes(30))
                .await
                .expect("photo");
        }
    }
    s.set_consent(daan, PhotoConsent::None, "ouder".into(), Utc::now())
        .await
        .expect("consent");
    let check = |when: &'static str| {
        let photos = photos.clone();
        async move {
            for p in [both, of_daan] {
                let mut allowed = Vec::new();
                for id in &photos {
                    if s.photo_for_parent(p, id.clone(), today())
                        .await
                        .expect("read")
                        .is_some()
                    {
                        allowed.push(id.clone());
                    }
                }
                let mut listed: Vec<String> = s
                    .timeline(p, None, today(), 100, None)
                    .await
                    .expect("timeline")
                    .into_iter()
                    .filter_map(|i| match i {
                        crate::portal::TimelineItem::Photo { photo, .. } => {
                            Some(photo.id.to_string())
                        }
                        crate::portal::TimelineItem::Diary(_) => None,
                    })
                    .collect();
                allowed.sort();
                listed.sort();
                assert_eq!(listed, allowed, "{when}: the timeline and the rule differ");
                assert!(
                    !allowed.is_empty() || p == of_daan,
                    "{when}: nothing allowed"
                );
            }
        }
    };
    check("as taken").await;
    s.set_consent(noor, PhotoConsent::Group, "ouder".into(), Utc::now())
        .await
        .expect("consent");
    check("after Noor's consent widened").await;
}

pub async fn photo_for_parent_follows_consent_now(s: &dyn Store) {
    let w = seed(s, "parentphoto").await;
    let parent = s
        .create_parent(
            w.org,
            "sem@example.nl".into(),
            "Ouder Sem".into(),
            "pw-123456".into(),
        )
        .await
        .expect("parent");
    s.link_parent(w.kids[0], parent, ParentRole::First)
        .await
        .expect("link");
    let other = s
        .create_parent(
            w.org,
            "bram@example.nl".into(),
            "Ouder Bram".into(),
            "pw-123456".into(),
        )
        .await
        .expect("parent");
    s.link_parent(w.other_kid, other, ParentRole::First)
        .await
        .expect("link");
    let sha = "aa".repeat(32);
    let upload = complete_upload(s, w.device.id, &sha).await;
    let item = photo(upload, &sha, vec![w.kids[0]]);
    let id = item.id().to_string();
    s.push_item(w.device, item, Utc::now() - Duration::minutes(5))
        .await
        .expect("photo");
    let seen = s
        .photo_for_parent(parent, id.clone(), today())
        .await
        .expect("read")
        .expect("the parent of a tagged child with consent sees it");
    assert_eq!(seen.group, w.group);
    assert!(
        s.photo_for_parent(other, id.clone(), today())
            .await
            .expect("read")
            .is_none(),
        "a parent of another group's child does not"
    );
    assert!(
        s.photo_for_parent(parent, "not-an-id".into(), today())
            .await
            .expect("read")
            .is_none()
    );
    // consent withdrawn: hidden at once, also this photo taken before
    s.set_consent(w.kids[0], PhotoConsent::None, "ouder".into(), Utc::now())
        .await
        .expect("withdraw");
    assert!(
        s.photo_for_parent(parent, id, today())
            .await
            .expect("read")
            .is_none(),
        "a photo of a child without consent is not returned"
    );
}

pub async fn account_language_is_kept_per_account(s: &dyn Store) {
    use crate::portal::UserKind;
    use crate::portal::i18n::Lang;
    let w = seed(s, "taal").await;
    let anne = s
        .create_parent(
            w.org,
            "anne@taal.nl".into(),
            "Anne".into(),
            "geheim-1".into(),
        )
        .await
        .expect("parent");
    let bert = s
        .create_parent(
            w.org,
            "bert@taal.nl".into(),
            "Bert".into(),
            "geheim-1".into(),
        )
        .await
        .expect("parent");
    let lang = |kind, id| s.account_language(kind, id);
    assert_eq!(lang(UserKind::Parent, anne.0).await.expect("read"), None);
    s.set_account_language(UserKind::Parent, anne.0, Lang::En)
        .await
        .expect("save");
    assert_eq!(
        lang(UserKind::Parent, anne.0).await.expect("read"),
        Some(Lang::En)
    );
    assert_eq!(
        lang(UserKind::Parent, bert.0).await.expect("read"),
        None,
        "another parent keeps their own"
    );
    s.set_account_language(UserKind::Parent, anne.0, Lang::Nl)
        .await
        .expect("save");
    assert_eq!(
        lang(UserKind::Parent, anne.0).await.expect("read"),
        Some(Lang::Nl)
    );
    // staff (a manager) have theirs in their own table
    assert_eq!(lang(UserKind::Staff, w.staff.0).await.expect("read"), None);
    s.set_account_language(UserKind::Staff, w.staff.0, Lang::En)
        .await
        .expect("save");
    assert_eq!(
        lang(UserKind::Staff, w.staff.0).await.expect("read"),
        Some(Lang::En)
    );
    assert_eq!(
        lang(UserKind::Parent, w.staff.0).await.expect("read"),
        None,
        "an id of the other kind is no account"
    );
}

pub async fn sessions_expire_and_stay_in_their_organisation(s: &dyn Store) {
    let w = seed(s, "sessions").await;
    let other = s
        .create_organisation("elders".into(), "Elders".into())
        .await
        .expect("org");
    s.create_parent(
        w.org,
        "Anne@Example.nl".into(),
        "Anne".into(),
        "geheim-1".into(),
    )
    .await
    .expect("parent");
    let login = s
        .find_login(w.org, " anne@example.nl ".into())
        .await
        .expect("find")
        .expect("found, case and spaces ignored");
    assert!(crate::portal::verify_password(
        &login.password_hash,
        "geheim-1"
    ));
    assert!(login.account.must_change_password);
    assert!(
        s.find_login(other, "anne@example.nl".into())
            .await
            .expect("find")
            .is_none()
    );
    let times = SessionTimes {
        idle: Duration::minutes(30),
        absolute: Duration::hours(8),
    };
    let now = Utc::now();
    let token = s
        .start_session(login.account.clone(), None, now, times)
        .await
        .expect("session");
    let session = s
        .load_session(w.org, token.clone(), now, times)
        .await
        .expect("load")
        .expect("live");
    assert_eq!(session.account, login.account);
    assert!(
        s.load_session(other, token.clone(), now, times)
            .await
            .expect("load")
            .is_none(),
        "nothing on another organisation"
    );
    assert!(
        s.load_session(w.org, token.clone(), now + Duration::minutes(31), times)
            .await
            .expect("load")
            .is_none(),
        "idle expiry"
    );
    // absolute expiry, even when used all the time
    let token = s
        .start_session(login.account.clone(), None, now, times)
        .await
        .expect("session");
    let mut t = now;
    for _ in 0..20 {
        t += Duration::minutes(25);
        let alive = s
            .load_session(w.org, token.clone(), t, times)
            .await
            .expect("load")
            .is_some();
        assert_eq!(alive, t < now + times.absolute, "absolute expiry at {t}");
    }
    // a new login ends the previous session of the browser; logout ends one
    let first = s
        .start_session(login.account.clone(), None, now, times)
        .await
        .expect("session");
    let second = s
        .start_session(login.account.clone(), Some(first.clone()), now, times)
        .await
        .expect("session");
    assert!(
        s.load_session(w.org, first, now, times)
            .await
            .expect("load")
            .is_none()
    );
    s.delete_session(second.clone()).await.expect("logout");
    assert!(
        s.load_session(w.org, second, now, times)
            .await
            .expect("load")
            .is_none()
    );
    let live = s
        .start_session(login.account, None, now, times)
        .await
        .expect("session");
    let swept = s
        .sweep_sessions(now + Duration::hours(9), times)
        .await
        .expect("sweep");
    assert!(swept >= 1, "expired sessions are swept");
    assert!(
        s.load_session(w.org, live, now, times)
            .await
            .expect("load")
            .is_none()
    );
}

pub async fn reset_tokens_work_once(s: &dyn Store) {
    let w = seed(s, "reset").await;
    s.create_parent(
        w.org,
        "bo@example.nl".into(),
        "Bo".into(),
        "pw-oud-123".into(),
    )
    .await
    .expect("parent");
    let now = Utc::now();
    assert!(
        s.create_reset(
            w.org,
            "onbekend@example.nl".into(),
            now,
            Duration::minutes(60)
        )
        .await
        .expect("reset")
        .is_none()
    );
    let link = s
        .create_reset(w.org, "bo@example.nl".into(), now, Duration::minutes(60))
        .await
        .expect("reset")
        .expect("a link");
    assert!(
        s.check_reset(w.org, link.token.clone(), now + Duration::minutes(61))
            .await
            .expect("check")
            .is_none(),
        "expired"
    );
    assert!(
        s.check_reset(w.org, link.token.clone(), now)
            .await
            .expect("check")
            .is_some()
    );
    let hash = crate::org::hash_secret("pw-nieuw-123").expect("hash");
    let used = s
        .reset_password(w.org, link.token.clone(), hash, now)
        .await
        .expect("reset")
        .expect("used");
    assert_eq!(used, link.account);
    assert!(
        s.reset_password(w.org, link.token, "x".into(), now)
            .await
            .expect("reset")
            .is_none(),
        "single use"
    );
    let login = s
        .find_login(w.org, "bo@example.nl".into())
        .await
        .expect("find")
        .expect("found");
    assert!(crate::portal::verify_password(
        &login.password_hash,
        "pw-nieuw-123"
    ));
    assert!(!login.account.must_change_password);
}

// ---- attendance --------------------------------------------------------------

/// An attendance event at `at`.
fn attendance(at: DateTime<Utc>, event: AttendanceEvent) -> AttendanceItem {
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

/// The attendance records in the group's feed after `since`.
async fn attendance_in_feed(
    s: &dyn Store,
    group: GroupId,
    since: Cursor,
    now: DateTime<Utc>,
) -> Vec<(i64, kring_protocol::AttendanceRecord)> {
    let today = Calendar::default().today(now);
    s.feed_page(group, since, 1000, today)
        .await
        .expect("feed")
        .changes
        .into_iter()
        .filter_map(|c| match c.kind {
            ChangeKind::Attendance(a) => Some((c.seq, a)),
            _ => None,
        })
        .collect()
}

/// A second enrolled device of `group`.
async fn second_device(s: &dyn Store, group: GroupId) -> AuthedDevice {
    let code = s
        .create_enrollment_code(group, Utc::now(), Duration::minutes(15))
        .await
        .expect("code");
    let enrolled = s
        .enroll_device(code.code, "Tweede scherm".into(), "1.0".into(), Utc::now())
        .await
        .expect("enroll");
    AuthedDevice {
        id: enrolled.id,
        group,
        calendar: Calendar::default(),
    }
}

pub async fn attendance_is_stored_once_and_reaches_the_feed(s: &dyn Store) {
    let w = seed(s, "attendance").await;
    let now = Utc::now();
    let start = s
        .feed_page(w.group, Cursor(0), 1000, Calendar::default().today(now))
        .await
        .expect("feed")
        .cursor;
    let mut item = attendance(now, child_in(w.kids[0], Some("  Oma Ans  ")));
    item.recorded_by = Some(w.staff);
    let first = s
        .push_item(w.device, PushItem::Attendance(item.clone()), now)
        .await
        .expect("push");
    let GroupChange { group, seq } = first.changed.expect("attendance changes the feed");
    assert_eq!(group, w.group);
    assert_eq!(receipt(&first.body).seq, seq);
    let again = s
        .push_item(w.device, PushItem::Attendance(item.clone()), now)
        .await
        .expect("retry");
    assert!(again.replayed);
    assert_eq!(again.body, first.body, "a retry gets the first answer");
    assert_eq!(again.changed, None);
    // another body under the same id
    let mut other = item.clone();
    other.event = child_in(w.kids[0], Some("Opa"));
    let err = s
        .push_item(w.device, PushItem::Attendance(other), now)
        .await
        .expect_err("another body");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // the group's (other) devices read it in the feed, `by` trimmed
    let feed = attendance_in_feed(s, w.group, start, now).await;
    assert_eq!(feed.len(), 1, "stored once: {feed:?}");
    let (fseq, record) = &feed[0];
    assert_eq!(*fseq, seq);
    assert_eq!(record.item.id, item.id);
    assert_eq!(record.item.event.by(), Some("Oma Ans"));
    assert_eq!(record.item.recorded_by, Some(w.staff));
    assert_eq!(record.received_at.timestamp(), now.timestamp());
    // a second device of the group pushes the check-out; both are kept
    let second = second_device(s, w.group).await;
    let out = s
        .push_item(
            second,
            PushItem::Attendance(attendance(now, child_out(w.kids[0], None))),
            now,
        )
        .await
        .expect("the second device");
    assert!(out.changed.is_some_and(|c| c.seq > seq));
    assert_eq!(attendance_in_feed(s, w.group, start, now).await.len(), 2);
}

pub async fn attendance_is_checked_against_the_group(s: &dyn Store) {
    let w = seed(s, "attcheck").await;
    let elders = seed(s, "attelders").await;
    let now = Utc::now();
    let today = Calendar::default().today(now);
    let before = s
        .feed_page(w.group, Cursor(0), 1000, today)
        .await
        .expect("feed")
        .cursor;
    let refused = |what: &'static str, item: AttendanceItem| async move {
        let err = s
            .push_item(w.device, PushItem::Attendance(item), now)
            .await
            .expect_err(what);
        assert!(
            is_invalid(&err, ErrorCode::ValidationFailed),
            "{what}: {err:?}"
        );
        err.to_string()
    };
    let msg = refused(
        "a child of another group",
        attendance(now, child_in(w.other_kid, None)),
    )
    .await;
    assert!(msg.contains("not placed"), "{msg}");
    refused(
        "a staff member of another organisation",
        attendance(
            now,
            AttendanceEvent::StaffIn {
                staff_id: elders.staff,
            },
        ),
    )
    .await;
    let mut by_other = attendance(now, child_in(w.kids[0], None));
    by_other.recorded_by = Some(elders.staff);
    refused("recorded by another organisation's staff", by_other).await;
    refused(
        "a name too long",
        attendance(now, child_in(w.kids[0], Some(&"x".repeat(81)))),
    )
    .await;
    refused(
        "in the future",
        attendance(now + Duration::minutes(6), child_in(w.kids[0], None)),
    )
    .await;
    refused(
        "too long ago",
        attendance(
            now - Duration::days(crate::device_api::items::ATTENDANCE_MAX_BEHIND_DAYS)
                - Duration::minutes(1),
            child_in(w.kids[0], None),
        ),
    )
    .await;
    refused(
        "an undo of nothing",
        attendance(
            now,
            AttendanceEvent::Undo {
                target: AttendanceId::new(),
            },
        ),
    )
    .await;
    // an event of another organisation's group is not this group's to undo
    let theirs = attendance(now, child_in(elders.kids[0], None));
    s.push_item(elders.device, PushItem::Attendance(theirs.clone()), now)
        .await
        .expect("their own check-in");
    refused(
        "an undo of another group's event",
        attendance(now, AttendanceEvent::Undo { target: theirs.id }),
    )
    .await;
    // a correction must be about the same child
    let sem_in = attendance(now, child_in(w.kids[0], Some("Papa")));
    let ok = s
        .push_item(w.device, PushItem::Attendance(sem_in.clone()), now)
        .await
        .expect("a check-in");
    let mut fix = attendance(now, child_in(w.kids[1], Some("Papa")));
    fix.replaces = Some(sem_in.id);
    let msg = refused("a correction about another child", fix.clone()).await;
    assert!(msg.contains("same child"), "{msg}");
    fix.event = AttendanceEvent::StaffIn { staff_id: w.staff };
    refused("a correction about a staff member", fix.clone()).await;
    fix.event = child_in(w.kids[0], Some("Mama"));
    fix.at = now - Duration::minutes(20);
    s.push_item(w.device, PushItem::Attendance(fix), now)
        .await
        .expect("a correction of the same child");
    // nothing refused reached the feed: only the two accepted events did
    let feed = attendance_in_feed(s, w.group, before, now).await;
    assert_eq!(feed.len(), 2, "{feed:?}");
    assert_eq!(feed[0].0, ok.changed.expect("changed").seq);
}

pub async fn attendance_feed_carries_only_today_and_yesterday(s: &dyn Store) {
    let w = seed(s, "attfeed").await;
    let cal = Calendar::default();
    let now = Utc::now();
    let today = cal.today(now);
    let yesterday = today.pred_opt().expect("a day before");
    let before_yesterday = yesterday.pred_opt().expect("a day before");
    // pushed on their own day (the store takes the server's now as given)
    let old_at = cal.start_of(before_yesterday) + Duration::hours(9);
    let old = attendance(old_at, child_in(w.kids[0], None));
    s.push_item(w.device, PushItem::Attendance(old.clone()), old_at)
        .await
        .expect("the day before yesterday");
    let y_at = cal.start_of(yesterday) + Duration::hours(9);
    let y = attendance(y_at, child_in(w.kids[1], None));
    s.push_item(w.device, PushItem::Attendance(y.clone()), y_at)
        .await
        .expect("yesterday");
    let t = attendance(now, child_in(w.kids[2], None));
    s.push_item(w.device, PushItem::Attendance(t.clone()), now)
        .await
        .expect("today");
    let ids: Vec<AttendanceId> = attendance_in_feed(s, w.group, Cursor(0), now)
        .await
        .into_iter()
        .map(|(_, a)| a.item.id)
        .collect();
    assert_eq!(ids, vec![y.id, t.id], "a new device gets no older history");
    // the cursor still moves past the skipped one
    let page = s
        .feed_page(w.group, Cursor(0), 1000, today)
        .await
        .expect("feed");
    assert!(!page.has_more);
    let last = page.changes.last().map(|c| c.seq).expect("changes");
    assert_eq!(page.cursor.0, last);
}

pub async fn attendance_reads_stay_with_their_owner(s: &dyn Store) {
    let w = seed(s, "attread").await;
    let elders = seed(s, "attreadelders").await;
    let cal = Calendar::default();
    let now = Utc::now();
    let span = DaySpan::of(&cal, cal.today(now));
    let parent = s
        .create_parent(
            w.org,
            "sem@example.nl".into(),
            "Anne Test".into(),
            "pw-123456".into(),
        )
        .await
        .expect("parent");
    s.link_parent(w.kids[0], parent, ParentRole::First)
        .await
        .expect("link");
    let sem = attendance(now, child_in(w.kids[0], Some("Papa")));
    let noor = attendance(now, child_in(w.kids[1], Some("Oma")));
    let undo = attendance(now, AttendanceEvent::Undo { target: sem.id });
    for i in [&sem, &noor, &undo] {
        s.push_item(w.device, PushItem::Attendance(i.clone()), now)
            .await
            .expect("push");
    }
    // the parent reads their own child's events and the undo of them, nothing of Noor
    let mine = s.attendance_for_parent(parent, span).await.expect("read");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].child, w.kids[0]);
    let ids: Vec<AttendanceId> = mine[0].events.iter().map(|e| e.item.id).collect();
    assert_eq!(ids, vec![sem.id, undo.id]);
    assert!(mine[0].events.windows(2).all(|p| p[0].seq < p[1].seq));
    // the manager's day: the group's events in order, with names
    let info = s.group_info(w.group).await.expect("info").expect("group");
    let day = s
        .group_day(w.org, w.group, span)
        .await
        .expect("read")
        .expect("the organisation's group");
    let ids: Vec<AttendanceId> = day.events.iter().map(|e| e.item.id).collect();
    assert_eq!(ids, vec![sem.id, noor.id, undo.id]);
    assert!(day.children.iter().any(|c| c.id == w.kids[1] && c.placed));
    assert!(day.staff.iter().any(|m| m.id == w.staff));
    assert_eq!(day.location, info.location_id);
    let loc = s
        .location_day(w.org, info.location_id, span)
        .await
        .expect("read")
        .expect("the organisation's location");
    assert_eq!(loc.groups.len(), 2);
    assert!(
        s.org_locations(w.org)
            .await
            .expect("locations")
            .iter()
            .any(|l| l.id == info.location_id)
    );
    // another organisation gets nothing of it
    assert!(
        s.group_day(elders.org, w.group, span)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        s.location_day(elders.org, info.location_id, span)
            .await
            .expect("read")
            .is_none()
    );
    // another day has none of today's events
    let tomorrow = DaySpan::of(&cal, span.day.succ_opt().expect("a next day"));
    let later = s
        .group_day(w.org, w.group, tomorrow)
        .await
        .expect("read")
        .expect("group");
    assert!(later.events.is_empty());
}

pub async fn child_pickup_is_its_parents_by_name(s: &dyn Store) {
    let w = seed(s, "pickup").await;
    let today = Calendar::default().today(Utc::now());
    let before = s
        .feed_page(w.group, Cursor(0), 1000, today)
        .await
        .expect("feed")
        .cursor;
    for (email, name, role) in [
        ("bas@example.nl", "Bas Test", ParentRole::Second),
        ("anne@example.nl", "Anne Test", ParentRole::First),
    ] {
        let p = s
            .create_parent(w.org, email.into(), name.into(), "pw-123456".into())
            .await
            .expect("parent");
        s.link_parent(w.kids[0], p, role).await.expect("link");
    }
    // linking a parent is news for the group's devices
    let page = s
        .feed_page(w.group, before, 1000, today)
        .await
        .expect("feed");
    let child = page
        .changes
        .iter()
        .find_map(|c| match &c.kind {
            ChangeKind::Child(ch) if ch.id == w.kids[0] => Some(ch.clone()),
            _ => None,
        })
        .expect("the child changed");
    assert_eq!(
        child.pickup,
        vec!["Anne Test", "Bas Test"],
        "first parent first"
    );
}

/// The absences (with their health notes) in `group`'s feed after `since`.
async fn absences_in_feed(
    s: &dyn Store,
    group: GroupId,
    since: Cursor,
    today: NaiveDate,
) -> Vec<kring_protocol::Absence> {
    s.feed_page(group, since, 1000, today)
        .await
        .expect("feed")
        .changes
        .into_iter()
        .filter_map(|c| match c.kind {
            ChangeKind::Absence(a) => Some(a),
            _ => None,
        })
        .collect()
}

/// A child moving from one group to another takes its absences along: the
/// group it leaves learns of absences only on days it still has the child,
/// and nothing once the placement has ended; the new group learns of those
/// on its days.
pub async fn absences_follow_the_current_placement(s: &dyn Store) {
    let w = seed(s, "moving").await;
    let today = today();
    // on the old group until next week, on the new one after that
    let child = placed_child(
        s,
        w.org,
        ("Mila", PhotoConsent::Group, 1400),
        &[Weekday::Mon, Weekday::Tue],
        &[
            (
                w.group,
                today - Duration::days(300),
                Some(today + Duration::days(6)),
            ),
            (w.other_group, today + Duration::days(7), None),
        ],
    )
    .await;
    let cursor = |g| async move {
        s.feed_page(g, Cursor(0), 1000, today)
            .await
            .expect("feed")
            .cursor
    };
    let (old0, new0) = (cursor(w.group).await, cursor(w.other_group).await);
    let report = |from: NaiveDate, to: NaiveDate, note: &str| {
        s.report_absence(
            AbsenceReport {
                child,
                from,
                to,
                part_of_day: kring_protocol::PartOfDay::WholeDay,
                reason: kring_protocol::AbsenceReason::Ziek,
                note: Some(note.into()),
                reported_by: "Ouder".into(),
            },
            Utc::now(),
        )
    };
    let this_week = report(today, today, "koorts").await.expect("absence").id;
    let after_move = report(
        today + Duration::days(8),
        today + Duration::days(9),
        "waterpokken",
    )
    .await
    .expect("absence")
    .id;
    let notes = |v: Vec<kring_protocol::Absence>| {
        v.into_iter()
            .map(|a| (a.id, a.note.unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        notes(absences_in_feed(s, w.group, old0, today).await),
        vec![(this_week, "koorts".to_string())],
        "the group the child leaves sees only the absence on its own days"
    );
    assert_eq!(
        notes(absences_in_feed(s, w.other_group, new0, today).await),
        vec![(after_move, "waterpokken".to_string())],
        "the new group sees the absence on its days, not the one before the move"
    );
    // after the move, the old group's feed read from the start carries none
    // of the child's absences any more, not even the ones from its own days
    let later = today + Duration::days(10);
    assert!(
        absences_in_feed(s, w.group, Cursor(0), later)
            .await
            .iter()
            .all(|a| a.child_id != child),
        "an ended placement shows no absences"
    );
    assert_eq!(
        absences_in_feed(s, w.other_group, Cursor(0), later)
            .await
            .iter()
            .filter(|a| a.child_id == child)
            .count(),
        1
    );
    // the day after the old placement ended, the old group's screen is told:
    // the child is removed there (and with it the absences it kept)
    let before = cursor(w.group).await;
    let day_after = today + Duration::days(7);
    let changed = s
        .announce_ended_placements(day_after, Utc::now())
        .await
        .expect("announce");
    assert_eq!(
        changed.iter().map(|c| c.group).collect::<Vec<_>>(),
        vec![w.group]
    );
    let removed = s
        .feed_page(w.group, before, 1000, day_after)
        .await
        .expect("feed")
        .changes
        .iter()
        .any(|c| matches!(c.kind, ChangeKind::ChildRemoved { id } if id == child));
    assert!(removed, "the old group's screen is told the child left");
    assert!(
        s.announce_ended_placements(day_after, Utc::now())
            .await
            .expect("again")
            .is_empty(),
        "once"
    );
}

/// Retention, by time travel: a child who leaves keeps its diary, photos,
/// messages and absences for the organisation's 8 weeks; the day after, they
/// are gone (the photo files named for deletion), except a photo also of a
/// child who leaves later; that goes when the other child's data expires too.
/// Her parent sees her photos and diary until the last day. A second run
/// deletes nothing.
pub async fn a_leavers_data_is_deleted_after_the_retention_period(s: &dyn Store) {
    let w = seed(s, "retention").await;
    let today = today();
    // Lieke leaves in 5 days, Mees in 20
    let mut leavers = Vec::new();
    for (name, leaves_in) in [("Lieke", 5), ("Mees", 20)] {
        let child = placed_child(
            s,
            w.org,
            (name, PhotoConsent::Group, 900),
            &[Weekday::Mon],
            &[(
                w.group,
                today - Duration::days(300),
                Some(today + Duration::days(leaves_in)),
            )],
        )
        .await;
        leavers.push((child, today + Duration::days(leaves_in)));
    }
    let [(lieke, lieke_leaves), (mees, mees_leaves)] = [leavers[0], leavers[1]];
    let sha = "7e".repeat(32);
    let push_photo = |tags: Vec<ChildId>| {
        let sha = sha.clone();
        async move {
            let upload = complete_upload(s, w.device.id, &sha).await;
            let item = photo(upload, &sha, tags);
            let id = item.id();
            s.push_item(w.device, item, Utc::now())
                .await
                .expect("photo");
            id
        }
    };
    let alone = push_photo(vec![lieke]).await;
    let together = push_photo(vec![lieke, mees]).await;
    let diary = PushItem::Diary(kring_protocol::StaffDiaryItem {
        id: kring_protocol::DiaryEntryId::new(),
        children: vec![lieke],
        text: "Lieke heeft geverfd.".into(),
        photos: vec![PhotoId(alone)],
        baby: None,
        staff_id: None,
        written_at_device: Utc::now(),
    });
    s.push_item(w.device, diary, Utc::now())
        .await
        .expect("diary");
    let parent = s
        .create_parent(
            w.org,
            "lieke@example.nl".into(),
            "Ouder".into(),
            "pw-123456".into(),
        )
        .await
        .expect("parent");
    s.link_parent(lieke, parent, ParentRole::First)
        .await
        .expect("link");
    s.parent_message(
        NewParentMessage {
            group: w.group,
            child: lieke,
            parent,
            parent_name: "Ouder".into(),
            body: "Lieke heeft koorts gehad.".into(),
        },
        Utc::now(),
    )
    .await
    .expect("message");
    s.report_absence(
        AbsenceReport {
            child: lieke,
            from: today,
            to: today,
            part_of_day: kring_protocol::PartOfDay::WholeDay,
            reason: kring_protocol::AbsenceReason::Ziek,
            note: Some("waterpokken".into()),
            reported_by: "Ouder".into(),
        },
        Utc::now(),
    )
    .await
    .expect("absence");
    // her presence today (with an undo of it, and the check-in again), a document
    let came = attendance(Utc::now(), child_in(lieke, Some("Oma Ans")));
    let undo = attendance(Utc::now(), AttendanceEvent::Undo { target: came.id });
    let again = attendance(Utc::now(), child_in(lieke, Some("Oma Ans")));
    for item in [came, undo, again] {
        s.push_item(w.device, PushItem::Attendance(item), Utc::now())
            .await
            .expect("attendance");
    }
    s.create_document(
        lieke,
        "Contract".into(),
        "Tot ziens".into(),
        crate::portal::DocumentAudience::AllParents,
        Utc::now(),
    )
    .await
    .expect("document");
    let expire = |on: NaiveDate| async move {
        s.expire_child_data(on, Utc::now())
            .await
            .expect("retention")
    };
    let nothing = crate::store::ChildDataExpired::default();
    // her parent is told once, the day after her last day, until when
    // her photos and diary are kept
    let notices = |on: NaiveDate| async move {
        s.leaving_notices(on, Utc::now())
            .await
            .expect("notices")
            .into_iter()
            .filter(|n| n.child == lieke)
            .collect::<Vec<_>>()
    };
    assert!(notices(lieke_leaves).await.is_empty(), "still placed");
    let told = notices(lieke_leaves + Duration::days(1)).await;
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(
        (told[0].parent, told[0].keep_until, told[0].email.as_str()),
        (
            parent,
            lieke_leaves + Duration::weeks(8),
            "lieke@example.nl"
        )
    );
    assert!(
        notices(lieke_leaves + Duration::days(2)).await.is_empty(),
        "once"
    );
    let banner = s
        .leaving_children(parent, lieke_leaves + Duration::days(1))
        .await
        .expect("leaving");
    assert_eq!(
        banner,
        vec![crate::store::Leaving {
            child: lieke,
            keep_until: lieke_leaves + Duration::weeks(8)
        }]
    );
    // while her photos and diary are kept, so is the thread about her
    // (read only: the write form needs a placement of today)
    let thread = |on: NaiveDate| async move {
        s.thread_for_parent(parent, lieke, on)
            .await
            .expect("thread")
            .map(|t| t.messages.into_iter().map(|m| m.body).collect::<Vec<_>>())
    };
    for on in [lieke_leaves, lieke_leaves + Duration::weeks(8)] {
        assert_eq!(
            thread(on).await,
            Some(vec!["Lieke heeft koorts gehad.".to_string()]),
            "on {on}"
        );
    }
    assert_eq!(
        thread(lieke_leaves + Duration::weeks(8) + Duration::days(1)).await,
        Some(vec![]),
        "not after the 8 weeks (the child stays in the portal for its documents)"
    );
    // the last day of Lieke's 8 weeks: everything stays
    let last_day = lieke_leaves + Duration::weeks(8);
    assert_eq!(expire(last_day).await, nothing, "too early");
    // the day after: her data goes; the photo with Mees stays
    let gone = expire(last_day + Duration::days(1)).await;
    assert_eq!(
        (
            gone.children,
            gone.photos,
            gone.diary_entries,
            gone.messages,
            gone.absences
        ),
        (1, 1, 1, 1, 1),
        "{gone:?}"
    );
    assert_eq!(gone.blob_keys.len(), 2, "the photo and its thumbnail");
    assert_eq!(
        expire(last_day + Duration::days(2)).await,
        nothing,
        "idempotent"
    );
    assert!(
        s.leaving_children(parent, last_day + Duration::days(2))
            .await
            .expect("leaving")
            .is_empty(),
        "no banner once the data is gone"
    );
    // the day after Mees's 8 weeks: the photo of both goes too
    let gone = expire(mees_leaves + Duration::weeks(8) + Duration::days(1)).await;
    assert_eq!((gone.children, gone.photos), (1, 1), "{gone:?}");
    // portal_access_months (15) after her last day: Lieke and her parent's
    // account go, with everything of theirs; Mees stays until his
    let accounts = |on: NaiveDate| async move {
        s.expire_accounts(on, Utc::now())
            .await
            .expect("retention of accounts")
    };
    let months = |d: NaiveDate, m: u32| {
        d.checked_add_months(chrono::Months::new(m))
            .expect("a date")
    };
    assert!(
        accounts(months(lieke_leaves, 15)).await.is_empty(),
        "the last day of the portal period: nothing"
    );
    assert!(
        s.find_login(w.org, "lieke@example.nl".into())
            .await
            .expect("login")
            .is_some()
    );
    let gone = accounts(months(lieke_leaves, 15) + Duration::days(1)).await;
    assert_eq!(
        (
            gone.children,
            gone.parents,
            gone.placements,
            gone.attendance,
            gone.documents
        ),
        (1, 1, 1, 3, 1),
        "{gone:?}"
    );
    assert!(
        s.find_login(w.org, "lieke@example.nl".into())
            .await
            .expect("login")
            .is_none(),
        "her parent's account is gone"
    );
    assert!(
        s.child_overviews(w.org, Some(lieke.to_string()))
            .await
            .expect("children")
            .is_empty()
    );
    assert!(
        accounts(months(lieke_leaves, 15) + Duration::days(2))
            .await
            .is_empty(),
        "idempotent"
    );
    let gone = accounts(months(mees_leaves, 15) + Duration::days(1)).await;
    assert_eq!((gone.children, gone.parents), (1, 0), "{gone:?}");
    // the children who stay keep everything
    assert!(
        s.feed_page(w.group, Cursor(0), 1000, today)
            .await
            .expect("feed")
            .changes
            .iter()
            .any(|c| matches!(&c.kind, ChangeKind::Child(k) if k.id == w.kids[0]))
    );
    let _ = (alone, together);
}

// ---- updates -----------------------------------------------------------------

/// An enrolled device with its secret, so it can report a `Kring-Release`.
struct Screen {
    id: DeviceId,
    secret: String,
}

async fn screen(s: &dyn Store, group: GroupId, release: Option<&str>) -> Screen {
    let code = s
        .create_enrollment_code(group, Utc::now(), Duration::minutes(15))
        .await
        .expect("code");
    let enrolled = s
        .enroll_device(code.code, "Scherm".into(), "1.0".into(), Utc::now())
        .await
        .expect("enroll");
    let screen = Screen {
        id: enrolled.id,
        secret: enrolled.secret,
    };
    if let Some(r) = release {
        says_release(s, &screen, r).await;
    }
    screen
}

/// The device's next request carries `Kring-Release: <release>`.
async fn says_release(s: &dyn Store, screen: &Screen, release: &str) {
    let report = DeviceReport {
        release: Some(release.into()),
        ..DeviceReport::default()
    };
    s.authenticate_device(screen.secret.clone(), report, Utc::now())
        .await
        .expect("auth")
        .expect("an active device");
}

async fn add_release(
    s: &dyn Store,
    org: OrganisationId,
    compatible: &str,
    version: &str,
) -> ReleaseId {
    let id = ReleaseId::new();
    let added = s
        .create_release(NewRelease {
            id,
            org,
            version: version.into(),
            compatible: compatible.into(),
            sha256: format!("{:0>64}", id.0.simple()),
            size: 180_000_000,
            file_name: format!("releases/{id}.raucb"),
            uploaded_at: Utc::now(),
            uploaded_by: None,
        })
        .await
        .expect("release");
    assert!(added.new);
    assert_eq!(added.id, id);
    id
}

async fn roll_out(
    s: &dyn Store,
    org: OrganisationId,
    release: ReleaseId,
    scope: RolloutScope,
    at: DateTime<Utc>,
) -> Vec<DeviceId> {
    s.create_rollout(
        org,
        NewRollout {
            release,
            scope,
            window: Some(InstallWindow::nightly()),
            created_at: at,
            created_by: None,
            nudged: true,
        },
    )
    .await
    .expect("rollout")
    .devices
    .into_iter()
    .map(|n| n.device)
    .collect()
}

async fn offered(s: &dyn Store, device: DeviceId) -> Option<ReleaseId> {
    s.update_offer(device)
        .await
        .expect("offer")
        .map(|o| o.release_id)
}

async fn report(s: &dyn Store, device: DeviceId, release: ReleaseId, state: UpdateState) {
    s.report_update(
        device,
        UpdateReport {
            release_id: release,
            state,
            detail: None,
        },
        Utc::now(),
    )
    .await
    .expect("report");
}

const QEMU: &str = "kring-qemu-virt";

pub async fn update_offer_follows_scope_and_the_newest_rollout(s: &dyn Store) {
    let w = seed(s, "offers").await;
    let location = s.org_locations(w.org).await.expect("locations")[0].id;
    let a = screen(s, w.group, Some("kring-qemu-virt 1.0.0")).await;
    let b = screen(s, w.other_group, Some("kring-qemu-virt 1.0.0")).await;
    let pi = screen(s, w.group, Some("kring-rpi4 1.0.0")).await;
    let desktop = screen(s, w.group, None).await;
    let t = Utc::now();
    assert_eq!(offered(s, a.id).await, None, "nothing rolled out yet");

    // organisation-wide: every device of the compatible
    let v2 = add_release(s, w.org, QEMU, "2.0.0").await;
    let covered = roll_out(s, w.org, v2, RolloutScope::Organisation, t).await;
    for d in [a.id, b.id, pi.id, desktop.id, w.device.id] {
        assert!(covered.contains(&d), "the organisation covers every device");
    }
    assert_eq!(offered(s, a.id).await, Some(v2));
    assert_eq!(offered(s, b.id).await, Some(v2));
    assert_eq!(offered(s, pi.id).await, None, "another compatible");
    assert_eq!(
        offered(s, desktop.id).await,
        None,
        "no Kring-Release, no offer"
    );
    let offer = s.update_offer(a.id).await.expect("offer").expect("some");
    assert_eq!(offer.version, "2.0.0");
    assert_eq!(offer.size, 180_000_000);
    assert_eq!(offer.window, Some(InstallWindow::nightly()));

    // a newer rollout to one group wins there, not elsewhere
    let v3 = add_release(s, w.org, QEMU, "3.0.0").await;
    let covered = roll_out(
        s,
        w.org,
        v3,
        RolloutScope::Group(w.group),
        t + Duration::seconds(1),
    )
    .await;
    assert!(covered.contains(&a.id) && !covered.contains(&b.id));
    assert_eq!(offered(s, a.id).await, Some(v3));
    assert_eq!(offered(s, b.id).await, Some(v2));
    // the location covers both groups; a device rollout only the device
    let v4 = add_release(s, w.org, QEMU, "4.0.0").await;
    roll_out(
        s,
        w.org,
        v4,
        RolloutScope::Location(location),
        t + Duration::seconds(2),
    )
    .await;
    assert_eq!(offered(s, a.id).await, Some(v4));
    assert_eq!(offered(s, b.id).await, Some(v4));
    let covered = roll_out(
        s,
        w.org,
        v3,
        RolloutScope::Device(b.id),
        t + Duration::seconds(3),
    )
    .await;
    assert_eq!(covered, vec![b.id]);
    assert_eq!(
        offered(s, b.id).await,
        Some(v3),
        "most recent wins, not highest"
    );
    assert_eq!(offered(s, a.id).await, Some(v4));
    // a newer rollout of another compatible does not hide this one's
    let pi2 = add_release(s, w.org, "kring-rpi4", "2.0.0").await;
    roll_out(
        s,
        w.org,
        pi2,
        RolloutScope::Organisation,
        t + Duration::seconds(4),
    )
    .await;
    assert_eq!(offered(s, a.id).await, Some(v4));
    assert_eq!(offered(s, pi.id).await, Some(pi2));
    // a device that runs the version is offered nothing
    says_release(s, &a, "kring-qemu-virt 4.0.0").await;
    assert_eq!(offered(s, a.id).await, None);
    // the bundle goes only to the device offered it
    assert_eq!(
        s.offered_bundle(b.id, v3)
            .await
            .expect("bundle")
            .map(|r| r.id),
        Some(v3)
    );
    assert_eq!(s.offered_bundle(b.id, v4).await.expect("bundle"), None);
    assert_eq!(s.offered_bundle(a.id, v4).await.expect("bundle"), None);

    // another organisation's device, release and scopes stay apart
    let other = seed(s, "offers-other").await;
    let x = screen(s, other.group, Some("kring-qemu-virt 1.0.0")).await;
    assert_eq!(
        offered(s, x.id).await,
        None,
        "org-wide rollouts stay in their org"
    );
    assert_eq!(s.offered_bundle(x.id, v2).await.expect("bundle"), None);
    for scope in [
        RolloutScope::Device(x.id),
        RolloutScope::Group(other.group),
        RolloutScope::Organisation,
    ] {
        let r = s
            .create_rollout(
                other.org,
                NewRollout {
                    release: v2,
                    scope,
                    window: None,
                    created_at: t,
                    created_by: None,
                    nudged: true,
                },
            )
            .await;
        assert!(matches!(r, Err(StoreError::NotFound("release"))), "{r:?}");
        let r = s
            .create_rollout(
                w.org,
                NewRollout {
                    release: v2,
                    scope,
                    window: None,
                    created_at: t,
                    created_by: None,
                    nudged: true,
                },
            )
            .await;
        if scope != RolloutScope::Organisation {
            assert!(
                matches!(r, Err(StoreError::NotFound(_))),
                "{scope:?}: {r:?}"
            );
        }
    }
    assert_eq!(offered(s, x.id).await, None);
}

pub async fn update_offer_ends_with_good_rolled_back_or_failed_until_retry(s: &dyn Store) {
    let w = seed(s, "final").await;
    let t = Utc::now();
    let v2 = add_release(s, w.org, QEMU, "2.0.0").await;
    let mut screens = Vec::new();
    for _ in 0..3 {
        screens.push(screen(s, w.group, Some("kring-qemu-virt 1.0.0")).await);
    }
    roll_out(s, w.org, v2, RolloutScope::Group(w.group), t).await;
    for (sc, end) in screens.iter().zip([
        UpdateState::Failed,
        UpdateState::RolledBack,
        UpdateState::Good,
    ]) {
        for step in [
            UpdateState::Downloading,
            UpdateState::Downloaded,
            UpdateState::Installing,
        ] {
            report(s, sc.id, v2, step).await;
            assert_eq!(
                offered(s, sc.id).await,
                Some(v2),
                "still offered while {step:?}"
            );
        }
        report(s, sc.id, v2, end).await;
        assert_eq!(offered(s, sc.id).await, None, "never again after {end:?}");
        // a late report of an earlier step does not bring it back (that would loop)
        report(s, sc.id, v2, UpdateState::Downloading).await;
        assert_eq!(offered(s, sc.id).await, None, "{end:?} stays");
    }
    let [failed, rolled_back, good] = [&screens[0], &screens[1], &screens[2]];
    // "Opnieuw proberen" clears failed and rolled back, never good
    assert_eq!(
        s.retry_update(w.org, good.id, v2).await.expect("retry"),
        None
    );
    assert_eq!(offered(s, good.id).await, None);
    let other = seed(s, "final-other").await;
    assert_eq!(
        s.retry_update(other.org, rolled_back.id, v2)
            .await
            .expect("retry"),
        None,
        "another organisation's manager"
    );
    assert_eq!(offered(s, rolled_back.id).await, None);
    for sc in [failed, rolled_back] {
        let nudge = s
            .retry_update(w.org, sc.id, v2)
            .await
            .expect("retry")
            .expect("cleared");
        assert_eq!(nudge.device, sc.id);
        assert_eq!(offered(s, sc.id).await, Some(v2), "offered again");
        assert_eq!(
            s.retry_update(w.org, sc.id, v2).await.expect("retry"),
            None,
            "nothing left to clear"
        );
    }
}

pub async fn update_reports_are_idempotent_and_only_for_rolled_out_releases(s: &dyn Store) {
    let w = seed(s, "reports").await;
    // stored to the microsecond
    let t = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    let a = screen(s, w.group, Some("kring-qemu-virt 1.0.0")).await;
    let v2 = add_release(s, w.org, QEMU, "2.0.0").await;
    let never = add_release(s, w.org, QEMU, "9.0.0").await;
    roll_out(s, w.org, v2, RolloutScope::Device(a.id), t).await;
    let other = seed(s, "reports-other").await;
    let theirs = add_release(s, other.org, QEMU, "2.0.0").await;
    roll_out(s, other.org, theirs, RolloutScope::Organisation, t).await;
    let bad = |release| UpdateReport {
        release_id: release,
        state: UpdateState::Downloading,
        detail: None,
    };
    for r in [theirs, never, ReleaseId::new()] {
        let got = s.report_update(a.id, bad(r), t).await;
        assert!(matches!(got, Err(StoreError::NotFound(_))), "{got:?}");
    }
    let progress = |n: u64| UpdateReport {
        release_id: v2,
        state: UpdateState::Downloading,
        detail: Some(n.to_string()),
    };
    s.report_update(a.id, progress(12_000_000), t)
        .await
        .expect("report");
    let first = s.device_updates(w.org).await.expect("updates");
    let mine = first.iter().find(|u| u.device == a.id).expect("a's update");
    assert_eq!(mine.release, v2);
    assert_eq!(mine.state, Some(UpdateState::Downloading));
    assert_eq!(mine.detail.as_deref(), Some("12000000"));
    assert_eq!(mine.updated_at, Some(t));
    // the same report again changes nothing, not even its time
    s.report_update(a.id, progress(12_000_000), t + Duration::seconds(5))
        .await
        .expect("again");
    let again = s.device_updates(w.org).await.expect("updates");
    assert_eq!(first, again);
    s.report_update(a.id, progress(24_000_000), t + Duration::seconds(6))
        .await
        .expect("progress");
    let later = s.device_updates(w.org).await.expect("updates");
    let mine = later.iter().find(|u| u.device == a.id).expect("a's update");
    assert_eq!(mine.detail.as_deref(), Some("24000000"));
    assert_eq!(mine.updated_at, Some(t + Duration::seconds(6)));
    // the new release runs: it becomes the device's own, and is done
    report(s, a.id, v2, UpdateState::Running).await;
    let listed = s.list_devices(Some(w.org)).await.expect("devices");
    let row = listed.iter().find(|d| d.id == a.id).expect("a");
    assert_eq!(row.release.as_deref(), Some("kring-qemu-virt 2.0.0"));
    assert_eq!(offered(s, a.id).await, None);
    report(s, a.id, v2, UpdateState::Good).await;
    let done = s.device_updates(w.org).await.expect("updates");
    let mine = done.iter().find(|u| u.device == a.id).expect("a's update");
    assert_eq!(mine.state, Some(UpdateState::Good));
    // the other organisation's view holds nothing of this device
    let theirs_view = s.device_updates(other.org).await.expect("updates");
    assert!(theirs_view.iter().all(|u| u.device != a.id));
}

pub async fn rollouts_nudge_their_devices_once(s: &dyn Store) {
    let w = seed(s, "nudges").await;
    let a = screen(s, w.group, Some("kring-qemu-virt 1.0.0")).await;
    let b = screen(s, w.other_group, Some("kring-qemu-virt 1.0.0")).await;
    let v2 = add_release(s, w.org, QEMU, "2.0.0").await;
    let now = Utc::now();
    assert!(
        s.pending_rollout_nudges(now)
            .await
            .expect("none")
            .is_empty()
    );
    // a rollout the caller nudged itself is not pending
    roll_out(s, w.org, v2, RolloutScope::Group(w.group), now).await;
    assert!(
        s.pending_rollout_nudges(now)
            .await
            .expect("none")
            .is_empty()
    );
    // the CLI's are, once, each device once with its group's sequence
    for scope in [
        RolloutScope::Organisation,
        RolloutScope::Group(w.other_group),
    ] {
        s.create_rollout(
            w.org,
            NewRollout {
                release: v2,
                scope,
                window: None,
                created_at: now,
                created_by: None,
                nudged: false,
            },
        )
        .await
        .expect("rollout");
    }
    let nudges = s.pending_rollout_nudges(now).await.expect("pending");
    let mut devices: Vec<DeviceId> = nudges.iter().map(|n| n.device).collect();
    devices.sort();
    let mut expected = vec![a.id, b.id, w.device.id];
    expected.sort();
    assert_eq!(devices, expected);
    let b_seq = nudges.iter().find(|n| n.device == b.id).expect("b").seq;
    assert_eq!(
        b_seq,
        s.feed_page(w.other_group, Cursor(0), 500, today())
            .await
            .expect("feed")
            .cursor
            .0
    );
    assert!(
        s.pending_rollout_nudges(now)
            .await
            .expect("done")
            .is_empty()
    );
    // a revoked device is not covered
    assert!(s.revoke_device(a.id, now).await.expect("revoke"));
    let covered = roll_out(s, w.org, v2, RolloutScope::Organisation, now).await;
    assert!(!covered.contains(&a.id) && covered.contains(&b.id));
    let bad_window = s
        .create_rollout(
            w.org,
            NewRollout {
                release: v2,
                scope: RolloutScope::Organisation,
                window: Some(InstallWindow {
                    from: "7 uur".into(),
                    until: "25:00".into(),
                }),
                created_at: now,
                created_by: None,
                nudged: true,
            },
        )
        .await;
    assert!(matches!(bad_window, Err(StoreError::Invalid { .. })));
}

pub async fn releases_are_kept_once_and_counted_per_state(s: &dyn Store) {
    let w = seed(s, "releases").await;
    let t = Utc::now();
    let id = add_release(s, w.org, QEMU, "2.0.0").await;
    let again = s
        .create_release(NewRelease {
            id: ReleaseId::new(),
            org: w.org,
            version: "2.0.0".into(),
            compatible: QEMU.into(),
            sha256: format!("{:0>64}", id.0.simple()),
            size: 1,
            file_name: "releases/x.raucb".into(),
            uploaded_at: t,
            uploaded_by: None,
        })
        .await
        .expect("same bundle");
    assert_eq!(
        (again.id, again.new),
        (id, false),
        "the same SHA-256 is one release"
    );
    let row = s.release(id).await.expect("release").expect("some");
    assert_eq!((row.org, row.version.as_str()), (w.org, "2.0.0"));
    assert_eq!(
        s.find_organisation("releases".into()).await.expect("find"),
        Some(w.org)
    );
    assert_eq!(
        s.find_organisation("Opvang releases".into())
            .await
            .expect("find"),
        Some(w.org)
    );
    assert_eq!(
        s.find_organisation(w.org.to_string()).await.expect("find"),
        Some(w.org)
    );
    assert_eq!(
        s.find_organisation("nergens".into()).await.expect("find"),
        None
    );

    let screens = [
        screen(s, w.group, Some("kring-qemu-virt 1.0.0")).await,
        screen(s, w.group, Some("kring-qemu-virt 1.0.0")).await,
        screen(s, w.group, Some("kring-qemu-virt 1.0.0")).await,
    ];
    roll_out(s, w.org, id, RolloutScope::Organisation, t).await;
    report(s, screens[0].id, id, UpdateState::Downloading).await;
    report(s, screens[1].id, id, UpdateState::RolledBack).await;
    let list = s.releases(Some(w.org)).await.expect("releases");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].rollouts, 1);
    assert_eq!(list[0].offered, 1, "the third screen, nothing reported yet");
    assert_eq!(
        list[0].states,
        vec![(UpdateState::Downloading, 1), (UpdateState::RolledBack, 1)]
    );
    let other = seed(s, "releases-other").await;
    assert!(
        s.releases(Some(other.org))
            .await
            .expect("theirs")
            .is_empty()
    );
    assert_eq!(s.releases(None).await.expect("all").len(), 1);
}

// ---- two processes on one database -----------------------------------------

/// Sixteen pushes of one item at once, half through each process: one
/// stored, fifteen answered from it, every answer the same.
pub async fn two_processes_store_a_pushed_item_once(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let w = seed(&*a, "race-push").await;
    let item = message(MessageThread::Group, "Tegelijk verstuurd");
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let item = item.clone();
        let device = w.device;
        tasks.push(tokio::spawn(async move {
            s.push_item(device, item, Utc::now()).await
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("task").expect("push"));
    }
    let first: Vec<_> = outcomes.iter().filter(|o| !o.replayed).collect();
    assert_eq!(first.len(), 1, "one push stored the item");
    assert!(
        outcomes.iter().all(|o| o.body == first[0].body),
        "every push got the stored answer"
    );
    let page = b
        .feed_page(w.group, Cursor(0), 1000, today())
        .await
        .expect("feed");
    let messages = page
        .changes
        .iter()
        .filter(|c| matches!(c.kind, ChangeKind::Message(_)))
        .count();
    assert_eq!(messages, 1, "stored once");
}

/// Writers in both processes on one group while a reader follows the feed:
/// every sequence number is handed out once, without gaps, and the reader's
/// cursor never passes a change it has not seen.
pub async fn two_processes_keep_the_group_sequence_dense_and_in_order(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let w = seed(&*a, "race-seq").await;
    let parent = a
        .create_parent(
            w.org,
            "ouder@example.nl".into(),
            "Anouk".into(),
            "pw-12345".into(),
        )
        .await
        .expect("parent");
    let start = a
        .feed_page(w.group, Cursor(0), 10_000, today())
        .await
        .expect("feed")
        .cursor;
    const EACH: usize = 12;
    let mut writers = Vec::new();
    for (n, s) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        let device = w.device;
        let (group, child) = (w.group, w.kids[0]);
        writers.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..EACH {
                let seq = if n % 2 == 0 {
                    s.push_item(
                        device,
                        message(MessageThread::Group, &format!("scherm {n}.{i}")),
                        Utc::now(),
                    )
                    .await
                    .expect("push")
                    .changed
                    .expect("changed")
                    .seq
                } else {
                    s.parent_message(
                        NewParentMessage {
                            group,
                            child,
                            parent,
                            parent_name: "Anouk".into(),
                            body: format!("ouder {n}.{i}"),
                        },
                        Utc::now(),
                    )
                    .await
                    .expect("parent message")
                    .changed[0]
                        .seq
                };
                seqs.push(seq);
            }
            seqs
        }));
    }
    // the reader: small pages, as fast as it can, while the writers write
    let reader = {
        let b = b.clone();
        let group = w.group;
        tokio::spawn(async move {
            let mut cursor = start;
            let mut seen = std::collections::BTreeSet::new();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
            while seen.len() < 4 * EACH && std::time::Instant::now() < deadline {
                let page = b.feed_page(group, cursor, 5, today()).await.expect("feed");
                for c in &page.changes {
                    if matches!(c.kind, ChangeKind::Message(_)) {
                        seen.insert(c.seq);
                    }
                }
                cursor = page.cursor;
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    let mut all = Vec::new();
    for t in writers {
        let seqs = t.await.expect("writer");
        assert!(
            seqs.windows(2).all(|p| p[0] < p[1]),
            "one writer's sequence numbers increase: {seqs:?}"
        );
        all.extend(seqs);
    }
    all.sort_unstable();
    let expected: Vec<i64> = (start.0 + 1..=start.0 + all.len() as i64).collect();
    assert_eq!(all, expected, "each number once, no gaps");
    let seen = reader.await.expect("reader");
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        expected,
        "the reader saw every change (its cursor never skipped one)"
    );
}

/// One code, eight enrollments at once through two processes: one device.
pub async fn two_processes_enroll_one_device_per_code(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let w = seed(&*a, "race-code").await;
    let code = a
        .create_enrollment_code(w.group, Utc::now(), Duration::minutes(15))
        .await
        .expect("code")
        .code;
    let before = a
        .active_devices_of_group(w.group)
        .await
        .expect("devices")
        .len();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let code = code.clone();
        tasks.push(tokio::spawn(async move {
            s.enroll_device(code, format!("Scherm {i}"), "1.0".into(), Utc::now())
                .await
        }));
    }
    let mut enrolled = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => enrolled += 1,
            Err(StoreError::NotFound(_)) => {}
            Err(e) => panic!("an enrollment failed otherwise: {e}"),
        }
    }
    assert_eq!(enrolled, 1, "the code made one device");
    let after = b
        .active_devices_of_group(w.group)
        .await
        .expect("devices")
        .len();
    assert_eq!(after, before + 1);
}

/// A new rollout, swept by both processes at once: its devices are nudged
/// by one of them.
pub async fn two_processes_nudge_a_rollout_once(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let w = seed(&*a, "race-nudge").await;
    let release = add_release(&*a, w.org, QEMU, "2.0.0").await;
    // made by the admin CLI, which has no broker: the servers nudge
    a.create_rollout(
        w.org,
        NewRollout {
            release,
            scope: RolloutScope::Group(w.group),
            window: None,
            created_at: Utc::now(),
            created_by: None,
            nudged: false,
        },
    )
    .await
    .expect("rollout");
    let (x, y) = tokio::join!(
        a.pending_rollout_nudges(Utc::now()),
        b.pending_rollout_nudges(Utc::now())
    );
    let (x, y) = (x.expect("sweep"), y.expect("sweep"));
    assert_eq!(
        x.len() + y.len(),
        1,
        "the one device is nudged once: {x:?} {y:?}"
    );
}

/// A periodic job runs when its period has passed since the last claim.
pub async fn a_job_is_claimed_once_per_period(s: &dyn Store) {
    let t = Utc::now();
    let every = Duration::seconds(20);
    let claim = |at| s.claim_job("sweep".into(), at, every);
    assert!(claim(t).await.expect("claim"), "a new job runs at once");
    assert!(
        !claim(t).await.expect("claim"),
        "not twice at the same time"
    );
    assert!(!claim(t + Duration::seconds(19)).await.expect("claim"));
    assert!(
        claim(t + Duration::seconds(20)).await.expect("claim"),
        "a period later"
    );
    assert!(
        s.claim_job("other".into(), t, every).await.expect("claim"),
        "jobs are claimed by name"
    );
}

/// Two processes claiming the same job at the same moment: one runs it.
pub async fn two_processes_run_a_job_once(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let every = Duration::seconds(20);
    let t0 = Utc::now();
    for round in 0..5 {
        let t = t0 + every * round;
        let (x, y) = tokio::join!(
            a.claim_job("sessions".into(), t, every),
            b.claim_job("sessions".into(), t, every)
        );
        let (x, y) = (x.expect("claim"), y.expect("claim"));
        assert!(
            x ^ y,
            "round {round}: exactly one process runs it ({x}, {y})"
        );
    }
}

/// Two processes storing the same part of one upload at once (a device that
/// resumed on the other while its first PATCH still ran): one part is
/// stored, the other is refused, the bytes are the winner's; a rewind drops
/// what lies past it, and completion drops the parts.
pub async fn two_processes_move_an_upload_on_once(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let w = seed(&*a, "race-upload").await;
    let id = UploadId::new();
    let now = Utc::now();
    a.create_upload(
        NewUpload {
            id,
            device: w.device.id,
            length: 12,
            metadata_json: "{}".into(),
            expected_sha256: None,
            created_at: now,
            expires_at: now + Duration::hours(1),
        },
        ROOMY,
    )
    .await
    .expect("create");
    let (x, y) = tokio::join!(
        a.append_upload_part(id, 0, b"aaaa".to_vec()),
        b.append_upload_part(id, 0, b"bbbb".to_vec())
    );
    let (x, y) = (x.expect("append"), y.expect("append"));
    assert!(x ^ y, "one part stored ({x}, {y})");
    let winner: &[u8] = if x { b"aaaa" } else { b"bbbb" };
    assert_eq!(b.upload_bytes(id).await.expect("bytes"), winner);
    assert_eq!(a.upload(id).await.expect("row").expect("row").offset, 4);
    assert!(
        !a.append_upload_part(id, 0, b"cccc".to_vec())
            .await
            .expect("stale"),
        "a part at a stale offset is refused"
    );
    assert!(
        !a.append_upload_part(id, 4, vec![0; 9]).await.expect("long"),
        "a part past the length is refused"
    );
    assert!(
        b.append_upload_part(id, 4, b"dddd".to_vec())
            .await
            .expect("next")
    );
    b.rewind_upload(id, 4).await.expect("rewind");
    assert_eq!(a.upload(id).await.expect("row").expect("row").offset, 4);
    assert_eq!(a.upload_bytes(id).await.expect("bytes"), winner);
    assert!(
        a.append_upload_part(id, 4, b"eeeeeeee".to_vec())
            .await
            .expect("rest")
    );
    let mut all = winner.to_vec();
    all.extend_from_slice(b"eeeeeeee");
    assert_eq!(b.upload_bytes(id).await.expect("bytes"), all);
    a.complete_upload(
        id,
        CompletedUpload {
            sha256: "00".repeat(32),
            blob_key: "photos/00/x.jpg".into(),
            thumb_key: "thumbs/00/x.jpg".into(),
            width: 1,
            height: 1,
        },
        Utc::now(),
    )
    .await
    .expect("complete");
    assert!(
        b.upload_bytes(id).await.expect("bytes").is_empty(),
        "parts dropped"
    );
}

/// Two processes building parents' archives at once: each request is
/// claimed by one of them; a claim left by a builder that died is taken
/// over; an archive is finished once, and its link works once.
pub async fn two_processes_build_each_archive_once(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let w = seed(&*a, "race-archive").await;
    let now = Utc::now();
    let mut asked = Vec::new();
    for (i, kid) in w.kids.iter().enumerate() {
        let parent = a
            .create_parent(
                w.org,
                format!("ouder{i}@example.nl"),
                "Ouder".into(),
                "pw-123456".into(),
            )
            .await
            .expect("parent");
        a.link_parent(*kid, parent, ParentRole::First)
            .await
            .expect("link");
        let r = a
            .request_archive(parent, *kid, today(), now)
            .await
            .expect("request")
            .expect("the parent's own child");
        assert!(r.new);
        let again = a
            .request_archive(parent, *kid, today(), now)
            .await
            .expect("request")
            .expect("the parent's own child");
        assert_eq!(again.id, r.id, "an open request is answered, not doubled");
        asked.push(r.id);
        // another's child: nothing
        assert!(
            a.request_archive(parent, w.other_kid, today(), now)
                .await
                .expect("request")
                .is_none()
        );
    }
    let stale = now - Duration::minutes(30);
    let drain = |s: Arc<dyn Store>| async move {
        let mut got = Vec::new();
        while let Some(job) = s.claim_archive(now, stale).await.expect("claim") {
            got.push(job.id);
        }
        got
    };
    let (x, y) = tokio::join!(drain(a.clone()), drain(b.clone()));
    let mut all: Vec<_> = x.iter().chain(y.iter()).copied().collect();
    all.sort();
    asked.sort();
    assert_eq!(
        all, asked,
        "each request claimed exactly once ({x:?}, {y:?})"
    );
    // a builder died: after the stale time its claims are taken over
    let later = now + Duration::minutes(31);
    let taken = b
        .claim_archive(later, later - Duration::minutes(30))
        .await
        .expect("claim")
        .expect("a stale claim is taken over");
    let (f1, f2) = tokio::join!(
        a.finish_archive(
            taken.id,
            "archives/a.zip".into(),
            10,
            Vec::new(),
            later,
            Duration::days(7)
        ),
        b.finish_archive(
            taken.id,
            "archives/b.zip".into(),
            10,
            Vec::new(),
            later,
            Duration::days(7)
        )
    );
    let (f1, f2) = (f1.expect("finish"), f2.expect("finish"));
    assert!(
        f1.is_some() ^ f2.is_some(),
        "finished once ({f1:?}, {f2:?})"
    );
    let token = f1.or(f2).expect("one token");
    let key = crate::store::ArchiveKey::Token(token);
    let (g1, g2) = tokio::join!(
        a.fetch_archive(w.org, key.clone(), later),
        b.fetch_archive(w.org, key.clone(), later)
    );
    let ready = [g1.expect("fetch"), g2.expect("fetch")]
        .into_iter()
        .filter(|f| matches!(f, crate::store::ArchiveFetch::Ready { .. }))
        .count();
    assert_eq!(ready, 1, "the link works once");
}

/// The agenda (issue 16): a contract day cancelled in time earns a day of
/// tegoed, one cancelled late does not; a request from tegoed needs tegoed
/// not promised to another request; approving spends it (once) and reaches
/// the group's feed with the cancelled day; refusing takes nothing; tegoed
/// past its date is written off as expired; another parent's child and
/// another organisation's request are nothing.
pub async fn agenda_cancels_requests_and_tegoed(s: &dyn Store) {
    use crate::portal::agenda::{AgendaRefusal, CancelKind, NewDayRequest, Payment, RequestStatus};
    let w = seed(s, "agenda").await;
    let other = seed(s, "agenda-ander").await;
    let sem = w.kids[0];
    let parent = s
        .create_parent(
            w.org,
            "ouder@agenda.nl".into(),
            "Anne".into(),
            "pw-123456".into(),
        )
        .await
        .expect("parent");
    s.link_parent(sem, parent, ParentRole::First)
        .await
        .expect("link");
    let stranger = s
        .create_parent(
            w.org,
            "ander@agenda.nl".into(),
            "Bo".into(),
            "pw-123456".into(),
        )
        .await
        .expect("parent");
    // a Monday well after the placement started (Sem: Mon, Wed, Fri)
    let mut t = today() + Duration::days(7);
    while t.format("%u").to_string() != "1" {
        t += Duration::days(1);
    }
    let now = Utc::now();
    let day = |n: i64| t + Duration::days(n);
    let cancel = |d: NaiveDate, on: NaiveDate| {
        s.cancel_day_for_parent(parent, sem, d, "Anne".into(), on, now)
    };
    let balance = |on: NaiveDate| async move {
        s.agenda_for_parent(parent, sem, (on, on + Duration::days(40)), on, now)
            .await
            .expect("agenda")
            .expect("own child")
    };
    // Monday for Wednesday: Monday and Tuesday, in time
    let (kind, changed) = cancel(day(2), t)
        .await
        .expect("cancel")
        .expect("mine")
        .expect("ok");
    assert_eq!(kind, CancelKind::InTime);
    assert_eq!(changed.len(), 1, "the group's feed learns of it");
    assert_eq!(balance(t).await.balance, 1);
    // Thursday for Friday: too late for tegoed
    let (kind, _) = cancel(day(4), day(3))
        .await
        .expect("cancel")
        .expect("mine")
        .expect("ok");
    assert_eq!(kind, CancelKind::Late);
    assert_eq!(balance(t).await.balance, 1);
    assert_eq!(
        cancel(day(4), day(3))
            .await
            .expect("cancel")
            .expect("mine")
            .err(),
        Some(AgendaRefusal::AlreadyCancelled)
    );
    assert_eq!(
        cancel(day(1), t)
            .await
            .expect("cancel")
            .expect("mine")
            .err(),
        Some(AgendaRefusal::NotAContractDay),
        "Tuesday is no contract day"
    );
    assert!(
        s.cancel_day_for_parent(stranger, sem, day(7), "Bo".into(), t, now)
            .await
            .expect("cancel")
            .is_none()
    );
    let ask = |d: NaiveDate, payment: Payment| {
        s.request_day(
            parent,
            NewDayRequest {
                child: sem,
                day: d,
                part_of_day: kring_protocol::PartOfDay::WholeDay,
                payment,
                gives_up: None,
                requested_by: "Anne".into(),
            },
            t,
            now,
        )
    };
    // Tuesday next week from tegoed: the one day is promised to it
    let id = ask(day(8), Payment::Credit)
        .await
        .expect("ask")
        .expect("mine")
        .expect("ok");
    assert_eq!(
        ask(day(10), Payment::Credit)
            .await
            .expect("ask")
            .expect("mine")
            .err(),
        Some(AgendaRefusal::NoCredit)
    );
    assert_eq!(
        ask(day(8), Payment::Paid)
            .await
            .expect("ask")
            .expect("mine")
            .err(),
        Some(AgendaRefusal::AlreadyRequested)
    );
    assert_eq!(
        ask(day(7), Payment::Paid)
            .await
            .expect("ask")
            .expect("mine")
            .err(),
        Some(AgendaRefusal::AlreadyPlanned)
    );
    let a = balance(t).await;
    assert_eq!((a.balance, a.pending_credit, a.available()), (1, 1, 0));
    // the other organisation's manager finds nothing
    assert!(
        s.decide_day_request(other.org, id.clone(), true, "X".into(), t, now)
            .await
            .expect("decide")
            .is_none()
    );
    let listed = s.day_requests(w.org, t).await.expect("list");
    assert!(
        listed
            .iter()
            .any(|r| r.id == id && r.status == RequestStatus::Requested)
    );
    assert!(s.day_requests(other.org, t).await.expect("list").is_empty());
    let planned = s.planned_day(w.group, day(8)).await.expect("planned");
    assert!(
        !planned.children.iter().any(|(c, _)| *c == sem),
        "not yet approved"
    );
    let cursor = s
        .feed_page(w.group, Cursor(0), 1000, today())
        .await
        .expect("feed")
        .cursor;
    let changed = s
        .decide_day_request(w.org, id.clone(), true, "Petra".into(), t, now)
        .await
        .expect("decide")
        .expect("ours")
        .expect("approved");
    assert_eq!(changed.len(), 1);
    let a = balance(t).await;
    assert_eq!((a.balance, a.pending_credit), (0, 0), "spent at approval");
    assert!(a.ledger.iter().any(|r| r.kind == "spent"));
    assert_eq!(
        s.decide_day_request(w.org, id.clone(), true, "Petra".into(), t, now)
            .await
            .expect("decide")
            .expect("ours")
            .err(),
        Some(AgendaRefusal::AlreadyDecided),
        "never spent twice"
    );
    let planned = s.planned_day(w.group, day(8)).await.expect("planned");
    assert!(planned.children.iter().any(|(c, _)| *c == sem));
    assert_eq!(planned.staff, 1);
    let planned = s.planned_day(w.group, day(2)).await.expect("planned");
    assert!(
        !planned.children.iter().any(|(c, _)| *c == sem),
        "cancelled"
    );
    let fed: Vec<kring_protocol::Child> = s
        .feed_page(w.group, cursor, 1000, today())
        .await
        .expect("feed")
        .changes
        .into_iter()
        .filter_map(|c| match c.kind {
            ChangeKind::Child(k) if k.id == sem => Some(k),
            _ => None,
        })
        .collect();
    assert_eq!(fed.len(), 1);
    assert_eq!(fed[0].extra_days, vec![day(8)]);
    assert_eq!(fed[0].cancelled_days, vec![day(2), day(4)]);
    // a refused request from tegoed gives nothing back: nothing was taken
    cancel(day(14), t)
        .await
        .expect("cancel")
        .expect("mine")
        .expect("ok");
    let id = ask(day(15), Payment::Credit)
        .await
        .expect("ask")
        .expect("mine")
        .expect("ok");
    s.decide_day_request(w.org, id, false, "Petra".into(), t, now)
        .await
        .expect("decide")
        .expect("ours")
        .expect("refused");
    assert_eq!(balance(t).await.balance, 1);
    // past its date the tegoed is written off
    let rules = s.agenda_rules(w.org).await.expect("rules");
    let late = rules.valid_until(day(14)) + Duration::days(1);
    let a = balance(late).await;
    assert_eq!(a.balance, 0);
    assert!(a.ledger.iter().any(|r| r.kind == "expired"));
    assert!(
        s.agenda_for_parent(stranger, sem, (t, t), t, now)
            .await
            .expect("agenda")
            .is_none()
    );
}

/// Ruilen: a swap gives up a contract day for another day at approval,
/// costs and earns no tegoed, and only a contract day can be given up.
pub async fn agenda_swap_gives_up_a_contract_day(s: &dyn Store) {
    use crate::portal::agenda::{AgendaRefusal, NewDayRequest, Payment};
    let w = seed(s, "ruilen").await;
    let sem = w.kids[0];
    let parent = s
        .create_parent(
            w.org,
            "ouder@ruilen.nl".into(),
            "Anne".into(),
            "pw-123456".into(),
        )
        .await
        .expect("parent");
    s.link_parent(sem, parent, ParentRole::First)
        .await
        .expect("link");
    let mut t = today() + Duration::days(7);
    while t.format("%u").to_string() != "1" {
        t += Duration::days(1);
    }
    let (now, day) = (Utc::now(), |n: i64| t + Duration::days(n));
    let swap = |d: NaiveDate, gives_up: NaiveDate| {
        s.request_day(
            parent,
            NewDayRequest {
                child: sem,
                day: d,
                part_of_day: kring_protocol::PartOfDay::Morning,
                payment: Payment::Swap,
                gives_up: Some(gives_up),
                requested_by: "Anne".into(),
            },
            t,
            now,
        )
    };
    // Tuesday next week is no contract day to give up
    assert_eq!(
        swap(day(1), day(8))
            .await
            .expect("ask")
            .expect("mine")
            .err(),
        Some(AgendaRefusal::NotAContractDay)
    );
    // Tuesday for Wednesday
    let id = swap(day(1), day(2))
        .await
        .expect("ask")
        .expect("mine")
        .expect("ok");
    let has = |p: crate::portal::agenda::PlannedDay| p.children.iter().any(|(c, _)| *c == sem);
    assert!(has(s.planned_day(w.group, day(2)).await.expect("planned")));
    s.decide_day_request(w.org, id, true, "Petra".into(), t, now)
        .await
        .expect("decide")
        .expect("ours")
        .expect("approved");
    assert!(!has(s.planned_day(w.group, day(2)).await.expect("planned")));
    assert!(has(s.planned_day(w.group, day(1)).await.expect("planned")));
    let a = s
        .agenda_for_parent(parent, sem, (t, day(14)), t, now)
        .await
        .expect("agenda")
        .expect("own child");
    assert_eq!(a.balance, 0, "a swap earns no tegoed");
    assert!(a.ledger.is_empty());
    assert!(
        a.cancelled
            .iter()
            .any(|c| c.day == day(2) && c.kind == crate::portal::agenda::CancelKind::Swap)
    );
}

/// The roster (issue 16): without one a group counts its linked staff;
/// with one, the week pattern of that weekday minus the staff off that date
/// plus those extra; another organisation changes nothing.
pub async fn the_roster_counts_the_staff_planned_that_day(s: &dyn Store) {
    let w = seed(s, "rooster").await;
    let other = seed(s, "rooster-ander").await;
    let mut staff = Vec::new();
    for name in ["Anouk", "Bilal"] {
        staff.push(
            s.create_staff(NewStaff {
                org: w.org,
                name: name.into(),
                role: StaffRole::Pedagogical,
                pin: "2468".into(),
                groups: vec![w.group],
            })
            .await
            .expect("staff")
            .id,
        );
    }
    let (a, b) = (staff[0], staff[1]);
    let mut t = today() + Duration::days(7);
    while t.format("%u").to_string() != "1" {
        t += Duration::days(1);
    }
    let day = |n: i64| t + Duration::days(n);
    let planned = |d: NaiveDate| async move {
        let p = s.planned_day(w.group, d).await.expect("planned");
        (p.staff, p.rostered)
    };
    // no roster: Fatima, Anouk and Bilal are linked
    assert_eq!(planned(t).await, (3, false));
    assert!(
        s.set_roster_week(other.org, w.group, vec![(a, vec![Weekday::Mon])])
            .await
            .expect("set")
            .is_none(),
        "another organisation's group"
    );
    assert_eq!(planned(t).await, (3, false));
    s.set_roster_week(
        w.org,
        w.group,
        vec![
            (a, vec![Weekday::Mon]),
            (b, vec![Weekday::Mon, Weekday::Tue]),
            // another organisation's staff member is never on the roster
            (other.staff, vec![Weekday::Mon]),
        ],
    )
    .await
    .expect("set")
    .expect("ours");
    assert_eq!(planned(day(0)).await, (2, true));
    assert_eq!(planned(day(1)).await, (1, true));
    assert_eq!(planned(day(2)).await, (0, true));
    // Anouk off on Monday, extra on Wednesday
    s.add_roster_exception(w.org, w.group, a, day(0), true)
        .await
        .expect("add")
        .expect("ours")
        .expect("ok");
    s.add_roster_exception(w.org, w.group, a, day(2), false)
        .await
        .expect("add")
        .expect("ours")
        .expect("ok");
    assert_eq!(planned(day(0)).await, (1, true));
    assert_eq!(planned(day(2)).await, (1, true));
    assert_eq!(planned(day(7)).await, (2, true), "only that date");
    assert_eq!(
        s.add_roster_exception(w.org, w.group, other.staff, day(0), false)
            .await
            .expect("add")
            .expect("ours")
            .err(),
        Some(crate::portal::agenda::RosterRefusal::NotStaff)
    );
    let rosters = s.org_rosters(w.org, t).await.expect("rosters");
    let g = rosters.iter().find(|g| g.group == w.group).expect("group");
    assert!(g.has_roster());
    assert_eq!(g.exceptions.len(), 2);
    assert_eq!(
        g.staff.iter().find(|x| x.id == b).expect("Bilal").days,
        vec![Weekday::Mon, Weekday::Tue]
    );
    assert!(
        !rosters
            .iter()
            .find(|g| g.group == w.other_group)
            .expect("other group")
            .has_roster()
    );
    let monday = g
        .exceptions
        .iter()
        .find(|x| x.day == day(0))
        .expect("exception")
        .id
        .clone();
    assert!(
        s.remove_roster_exception(other.org, monday.clone())
            .await
            .expect("remove")
            .is_none()
    );
    s.remove_roster_exception(w.org, monday)
        .await
        .expect("remove")
        .expect("ours");
    assert_eq!(planned(day(0)).await, (2, true));
    // an empty week: only the exception is left
    s.set_roster_week(w.org, w.group, vec![])
        .await
        .expect("set")
        .expect("ours");
    assert_eq!(planned(day(2)).await, (1, true), "Wednesday's exception");
}

/// Vacation hours (BSO): a balance per calendar year; a request a month
/// ahead is guaranteed (approved, hours taken, the feed told); later it
/// waits with its hours promised, so the balance cannot be overspent;
/// approval takes them, refusal gives them back; a KDV child has none.
pub async fn vacation_hours_are_guaranteed_a_month_ahead_and_promised_meanwhile(s: &dyn Store) {
    use crate::portal::agenda::{NewVacationRequest, RequestStatus, VacationRefusal};
    use chrono::Datelike;
    use kring_protocol::PartOfDay;
    let w = seed(s, "vakantie").await;
    let other = seed(s, "vakantie-ander").await;
    let (sem, bram) = (w.kids[0], w.other_kid);
    let parent = s
        .create_parent(
            w.org,
            "ouder@vakantie.nl".into(),
            "Anne".into(),
            "pw-123456".into(),
        )
        .await
        .expect("parent");
    for k in [sem, bram] {
        s.link_parent(k, parent, ParentRole::First)
            .await
            .expect("link");
    }
    // a Monday, with its next two weeks in one calendar year
    let mut t = today() + Duration::days(7);
    if t.month() == 12 && t.day() >= 10 {
        t = NaiveDate::from_ymd_opt(t.year() + 1, 1, 8).expect("date");
    }
    while t.format("%u").to_string() != "1" {
        t += Duration::days(1);
    }
    let now = Utc::now();
    let (near, near2, far) = (
        t + Duration::days(8),
        t + Duration::days(10),
        t + Duration::days(36),
    );
    let ask = |child: ChildId, d: NaiveDate, part: PartOfDay| {
        s.request_vacation(
            parent,
            NewVacationRequest {
                child,
                day: d,
                part_of_day: part,
                requested_by: "Anne".into(),
            },
            t,
            now,
        )
    };
    assert_eq!(
        ask(sem, near, PartOfDay::Morning)
            .await
            .expect("ask")
            .expect("mine")
            .err(),
        Some(VacationRefusal::NotBso)
    );
    assert_eq!(
        ask(bram, near, PartOfDay::Morning)
            .await
            .expect("ask")
            .expect("mine")
            .err(),
        Some(VacationRefusal::NotEnoughHours {
            year: near.year(),
            left: 0,
            needed: 5
        })
    );
    assert!(
        s.set_vacation_allowance(other.org, bram, near.year(), 15)
            .await
            .expect("set")
            .is_none()
    );
    for y in [near.year(), far.year()] {
        s.set_vacation_allowance(w.org, bram, y, 15)
            .await
            .expect("set")
            .expect("ours");
    }
    let year_of = |d: NaiveDate| async move {
        let v = s
            .vacation_for_parent(parent, bram, t)
            .await
            .expect("vacation")
            .expect("mine");
        assert!(v.bso);
        v.years.into_iter().find(|y| y.year == d.year())
    };
    let has = |p: crate::portal::agenda::PlannedDay| p.children.iter().any(|(c, _)| *c == bram);
    // a month ahead (a Tuesday, no contract day): guaranteed
    let (far_id, guaranteed, changed) = ask(bram, far, PartOfDay::Morning)
        .await
        .expect("ask")
        .expect("mine")
        .expect("ok");
    assert!(guaranteed);
    assert_eq!(changed.len(), 1, "the group's feed learns of it");
    assert!(has(s
        .planned_day(w.other_group, far)
        .await
        .expect("planned")));
    // within a month: waits, with its hours promised
    let (near_id, guaranteed, changed) = ask(bram, near, PartOfDay::WholeDay)
        .await
        .expect("ask")
        .expect("mine")
        .expect("ok");
    assert!(!guaranteed);
    assert!(changed.is_empty());
    assert!(!has(s
        .planned_day(w.other_group, near)
        .await
        .expect("planned")));
    let y = year_of(near).await.expect("year");
    let taken_far = if far.year() == near.year() { 5 } else { 0 };
    assert_eq!((y.hours, y.taken, y.promised), (15, taken_far, 10));
    assert!(matches!(
        ask(bram, near2, PartOfDay::WholeDay)
            .await
            .expect("ask")
            .expect("mine")
            .err(),
        Some(VacationRefusal::NotEnoughHours { needed: 10, .. })
    ));
    assert_eq!(
        ask(bram, near, PartOfDay::Morning)
            .await
            .expect("ask")
            .expect("mine")
            .err(),
        Some(VacationRefusal::AlreadyRequested)
    );
    // the manager: another organisation finds nothing; approval takes the hours
    assert!(
        s.decide_vacation_request(other.org, near_id.clone(), true, "X".into(), t, now)
            .await
            .expect("decide")
            .is_none()
    );
    let listed = s.vacation_requests(w.org, t).await.expect("list");
    assert!(
        listed
            .iter()
            .any(|r| r.id == near_id && r.status == RequestStatus::Requested)
    );
    assert!(
        listed
            .iter()
            .any(|r| r.id == far_id && r.status == RequestStatus::Approved && r.guaranteed)
    );
    assert!(
        s.vacation_requests(other.org, t)
            .await
            .expect("list")
            .is_empty()
    );
    let changed = s
        .decide_vacation_request(w.org, near_id.clone(), true, "Petra".into(), t, now)
        .await
        .expect("decide")
        .expect("ours")
        .expect("approved");
    assert_eq!(changed.len(), 1);
    assert!(has(s
        .planned_day(w.other_group, near)
        .await
        .expect("planned")));
    let y = year_of(near).await.expect("year");
    assert_eq!((y.taken, y.promised), (taken_far + 10, 0));
    assert_eq!(
        s.decide_vacation_request(w.org, near_id, false, "Petra".into(), t, now)
            .await
            .expect("decide")
            .expect("ours")
            .err(),
        Some(VacationRefusal::AlreadyDecided)
    );
    // refused: the promised hours come back
    s.set_vacation_allowance(w.org, bram, near.year(), 40)
        .await
        .expect("set")
        .expect("ours");
    let (id2, _, _) = ask(bram, near2, PartOfDay::Afternoon)
        .await
        .expect("ask")
        .expect("mine")
        .expect("ok");
    let before = year_of(near).await.expect("year").left();
    s.decide_vacation_request(w.org, id2, false, "Petra".into(), t, now)
        .await
        .expect("decide")
        .expect("ours")
        .expect("refused");
    assert_eq!(year_of(near).await.expect("year").left(), before + 5);
    assert!(!has(s
        .planned_day(w.other_group, near2)
        .await
        .expect("planned")));
    // a KDV-only child has no vacation section
    let v = s
        .vacation_for_parent(parent, sem, t)
        .await
        .expect("vacation")
        .expect("mine");
    assert!(!v.bso);
    let stranger = s
        .create_parent(
            w.org,
            "ander@vakantie.nl".into(),
            "Bo".into(),
            "pw-123456".into(),
        )
        .await
        .expect("parent");
    assert!(
        s.vacation_for_parent(stranger, bram, t)
            .await
            .expect("vacation")
            .is_none()
    );
    assert!(
        ask(bram, near, PartOfDay::Morning)
            .await
            .expect("ask")
            .is_some(),
        "the own parent is answered"
    );
}

/// Closed days, the group maximum and the rules with vacation hours are set
/// per organisation; another organisation's location or group is nothing.
pub async fn agenda_settings_stay_in_their_organisation(s: &dyn Store) {
    use crate::portal::agenda::{AgendaRules, VacationHours};
    let w = seed(s, "instellingen").await;
    let other = seed(s, "instellingen-ander").await;
    let loc = s.org_locations(w.org).await.expect("locations")[0].id;
    let d = today() + Duration::days(30);
    assert!(
        s.add_closed_days(other.org, loc, (d, d), "Studiedag".into())
            .await
            .expect("add")
            .is_none()
    );
    assert_eq!(
        s.add_closed_days(w.org, loc, (d, d + Duration::days(2)), "Studiedagen".into())
            .await
            .expect("add"),
        Some(3)
    );
    let closed = s.org_closed_days(w.org).await.expect("closed");
    assert_eq!(closed.len(), 3);
    assert_eq!(closed[0].name, "Studiedagen");
    assert!(
        s.org_closed_days(other.org)
            .await
            .expect("closed")
            .is_empty()
    );
    assert!(
        s.remove_closed_day(other.org, loc, d)
            .await
            .expect("remove")
            .is_none()
    );
    s.remove_closed_day(w.org, loc, d)
        .await
        .expect("remove")
        .expect("ours");
    assert_eq!(s.org_closed_days(w.org).await.expect("closed").len(), 2);
    // the group maximum
    assert!(
        s.set_max_children(other.org, w.group, Some(3))
            .await
            .expect("set")
            .is_none()
    );
    assert_eq!(
        s.planned_day(w.group, d)
            .await
            .expect("planned")
            .max_children,
        16
    );
    s.set_max_children(w.org, w.group, Some(9))
        .await
        .expect("set")
        .expect("ours");
    assert_eq!(
        s.planned_day(w.group, d)
            .await
            .expect("planned")
            .max_children,
        9
    );
    s.set_max_children(w.org, w.group, None)
        .await
        .expect("set")
        .expect("ours");
    assert_eq!(
        s.planned_day(w.other_group, d)
            .await
            .expect("planned")
            .max_children,
        22
    );
    // rules with vacation hours; defaults until set
    assert_eq!(
        s.agenda_rules(w.org).await.expect("rules").vacation_hours,
        VacationHours::default()
    );
    let rules = AgendaRules {
        notice_working_days: 3,
        credit_valid_months: 6,
        working_days: vec![Weekday::Mon, Weekday::Tue],
        vacation_hours: VacationHours {
            morning: 4,
            afternoon: 6,
            whole_day: 11,
        },
    };
    s.set_agenda_rules(w.org, rules.clone()).await.expect("set");
    assert_eq!(s.agenda_rules(w.org).await.expect("rules"), rules);
    assert_eq!(
        s.agenda_rules(other.org).await.expect("rules"),
        AgendaRules::default()
    );
    // BSO children: Bram, with no hours yet
    let kids = s.bso_children(w.org, today()).await.expect("bso");
    assert_eq!(kids.len(), 1);
    assert_eq!(kids[0].child, w.other_kid);
    assert_eq!(kids[0].years[0].hours, 0);
}

/// News and Mijn locatie: a parent reads the organisation's posts and those
/// of the locations of their children (a placement that has not ended),
/// never another location's or organisation's; staff photos only with consent.
pub async fn news_and_locations_are_read_per_parent(s: &dyn Store) {
    use crate::portal::news::{FileChange, LocationDetails, NewsDraft, NewsKind};
    let w = seed(s, "nieuws").await;
    let loc_a = s.org_locations(w.org).await.expect("locations")[0].id;
    let loc_b = s
        .create_location(w.org, "Oost".into())
        .await
        .expect("location");
    let group_b = s
        .create_group(loc_b, "Vlinders".into(), GroupKind::Kdv, (0, 4))
        .await
        .expect("group");
    let kid_b = placed_child(
        s,
        w.org,
        ("Lotte", PhotoConsent::Group, 500),
        &[Weekday::Mon],
        &[(group_b, today() - Duration::days(10), None)],
    )
    .await;
    // a child whose placement at location B ended yesterday
    let kid_gone = placed_child(
        s,
        w.org,
        ("Tim", PhotoConsent::Group, 500),
        &[Weekday::Mon],
        &[(
            group_b,
            today() - Duration::days(100),
            Some(today() - Duration::days(1)),
        )],
    )
    .await;
    let parent = async |email: &str, org, child| {
        let p = s
            .create_parent(org, email.into(), "Ouder".into(), "geheim-123".into())
            .await
            .expect("parent");
        if let Some(child) = child {
            s.link_parent(child, p, ParentRole::First)
                .await
                .expect("link");
        }
        p
    };
    let p_a = parent("a@example.nl", w.org, Some(w.kids[0])).await;
    let p_b = parent("b@example.nl", w.org, Some(kid_b)).await;
    let p_gone = parent("weg@example.nl", w.org, Some(kid_gone)).await;
    let other = seed(s, "ander-nieuws").await;
    let p_other = parent("o@example.nl", other.org, Some(other.kids[0])).await;
    let post = async |org, location, title: &str| {
        s.save_news(
            org,
            None,
            NewsDraft {
                location,
                kind: NewsKind::Nieuws,
                title: title.into(),
                body: "Tekst".into(),
                photo: FileChange::Keep,
                pdf: FileChange::Keep,
                author_name: "Petra".into(),
            },
            Utc::now(),
        )
        .await
        .expect("save")
        .expect("the organisation's")
        .id
    };
    let n_a = post(w.org, Some(loc_a), "A").await;
    let n_b = post(w.org, Some(loc_b), "B").await;
    let n_all = post(w.org, None, "Iedereen").await;
    let n_other = post(other.org, None, "Elders").await;
    // a location of another organisation is refused
    let other_loc = s.org_locations(other.org).await.expect("locations")[0].id;
    assert!(
        s.save_news(
            w.org,
            None,
            NewsDraft {
                location: Some(other_loc),
                kind: NewsKind::Nieuwsbrief,
                title: "x".into(),
                body: "y".into(),
                photo: FileChange::Keep,
                pdf: FileChange::Keep,
                author_name: "Petra".into(),
            },
            Utc::now(),
        )
        .await
        .expect("save")
        .is_none()
    );
    let titles = async |p| {
        s.news_for_parent(p, today())
            .await
            .expect("news")
            .into_iter()
            .map(|n| n.title)
            .collect::<Vec<_>>()
    };
    assert_eq!(titles(p_a).await, ["Iedereen", "A"], "newest first");
    assert_eq!(titles(p_b).await, ["Iedereen", "B"]);
    assert_eq!(titles(p_gone).await, ["Iedereen"], "an ended placement");
    assert_eq!(titles(p_other).await, ["Elders"]);
    for (p, id, visible) in [
        (p_a, &n_a, true),
        (p_a, &n_b, false),
        (p_a, &n_other, false),
        (p_b, &n_a, false),
        (p_other, &n_all, false),
        (p_other, &n_other, true),
    ] {
        assert_eq!(
            s.news_post_for_parent(p, id.clone(), today())
                .await
                .expect("read")
                .is_some(),
            visible,
            "{id}"
        );
    }
    assert_eq!(s.news_of_org(w.org).await.expect("list").len(), 3);
    assert!(
        s.news_post(other.org, n_a.clone())
            .await
            .expect("read")
            .is_none()
    );

    // Mijn locatie
    assert!(
        s.set_location_details(
            w.org,
            loc_a,
            LocationDetails {
                address: "Dorpsstraat 1".into(),
                opening_hours: "7:30-18:30".into(),
                phone: "030 1234567".into(),
                email: "a@opvang.nl".into(),
            },
        )
        .await
        .expect("details")
    );
    assert!(
        !s.set_location_details(other.org, loc_a, LocationDetails::default())
            .await
            .expect("details"),
        "another organisation's location"
    );
    s.add_location_page(w.org, loc_a, "Ziek".into(), "Bel ons".into(), Utc::now())
        .await
        .expect("page")
        .expect("added");
    assert!(
        s.add_location_page(other.org, loc_a, "x".into(), "y".into(), Utc::now())
            .await
            .expect("page")
            .is_none()
    );
    let mine = s.locations_for_parent(p_a, today()).await.expect("mine");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].details.address, "Dorpsstraat 1");
    assert_eq!(mine[0].pages.len(), 1);
    assert_eq!(mine[0].team.len(), 1, "Fatima works on a group there");
    assert!(!mine[0].team[0].has_photo);
    let theirs = s.locations_for_parent(p_b, today()).await.expect("theirs");
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].id, loc_b);
    assert!(theirs[0].team.is_empty());
    assert!(
        s.locations_for_parent(p_gone, today())
            .await
            .expect("gone")
            .is_empty()
    );

    // staff photos: stored only through set_staff_photo, shown to the location's parents
    assert!(
        s.set_staff_photo(other.org, w.staff, Some("team/x.jpg".into()), Utc::now())
            .await
            .expect("photo")
            .is_none(),
        "another organisation's staff"
    );
    assert_eq!(
        s.set_staff_photo(w.org, w.staff, Some("team/x.jpg".into()), Utc::now())
            .await
            .expect("photo"),
        Some(None)
    );
    assert!(s.locations_for_parent(p_a, today()).await.expect("mine")[0].team[0].has_photo);
    assert_eq!(
        s.staff_photo_for_parent(p_a, w.staff, today())
            .await
            .expect("photo")
            .as_deref(),
        Some("team/x.jpg")
    );
    for p in [p_b, p_other, p_gone] {
        assert!(
            s.staff_photo_for_parent(p, w.staff, today())
                .await
                .expect("photo")
                .is_none()
        );
    }
    assert_eq!(
        s.set_staff_photo(w.org, w.staff, None, Utc::now())
            .await
            .expect("photo"),
        Some(Some("team/x.jpg".into()))
    );
    assert!(
        s.staff_photo_for_parent(p_a, w.staff, today())
            .await
            .expect("photo")
            .is_none()
    );

    // the news mail: who may read it and wants news (on by default)
    s.set_notification_prefs(
        p_b,
        vec![super::NotificationPref {
            kind: "news",
            email: false,
        }],
    )
    .await
    .expect("prefs");
    let to = s
        .news_recipients(n_all.clone(), Utc::now())
        .await
        .expect("recipients")
        .expect("a post");
    let mut emails: Vec<_> = to.parents.iter().map(|p| p.email.as_str()).collect();
    emails.sort_unstable();
    assert_eq!(emails, ["a@example.nl", "weg@example.nl"]);
    let to = s
        .news_recipients(n_b.clone(), Utc::now())
        .await
        .expect("recipients");
    assert!(
        to.is_none_or(|t| t.parents.is_empty()),
        "b switched news off"
    );
}

/// Editing a post hands back the files it no longer uses; deleting hands back all.
pub async fn news_edits_and_deletes_hand_back_unused_files(s: &dyn Store) {
    use crate::portal::news::{FileChange, NewsDraft, NewsKind, NewsPdf, NewsPhoto};
    let w = seed(s, "nieuws-files").await;
    let draft = |photo, pdf| NewsDraft {
        location: None,
        kind: NewsKind::Nieuwsbrief,
        title: "Brief".into(),
        body: "Tekst".into(),
        photo,
        pdf,
        author_name: "Petra".into(),
    };
    let photo = |n: &str| NewsPhoto {
        key: format!("nieuws/{n}.jpg"),
        thumb_key: format!("nieuws-klein/{n}.jpg"),
    };
    let pdf = NewsPdf {
        key: "nieuws-pdf/1.pdf".into(),
        name: "brief.pdf".into(),
        bytes: 10,
    };
    let saved = s
        .save_news(
            w.org,
            None,
            draft(FileChange::Set(photo("1")), FileChange::Set(pdf.clone())),
            Utc::now(),
        )
        .await
        .expect("save")
        .expect("saved");
    assert!(saved.created && saved.unused_keys.is_empty());
    let edit = s
        .save_news(
            w.org,
            Some(saved.id.clone()),
            draft(FileChange::Set(photo("2")), FileChange::Keep),
            Utc::now(),
        )
        .await
        .expect("save")
        .expect("saved");
    assert!(!edit.created);
    assert_eq!(
        edit.unused_keys,
        ["nieuws/1.jpg".to_string(), "nieuws-klein/1.jpg".to_string()]
    );
    let post = s
        .news_post(w.org, saved.id.clone())
        .await
        .expect("read")
        .expect("there");
    assert_eq!(post.photo, Some(photo("2")));
    assert_eq!(post.pdf, Some(pdf));
    assert_eq!(post.kind, NewsKind::Nieuwsbrief);
    let other = seed(s, "nieuws-ander").await;
    assert!(
        s.delete_news(other.org, saved.id.clone())
            .await
            .expect("delete")
            .is_none()
    );
    let mut keys = s
        .delete_news(w.org, saved.id.clone())
        .await
        .expect("delete")
        .expect("deleted");
    keys.sort();
    assert_eq!(
        keys,
        ["nieuws-klein/2.jpg", "nieuws-pdf/1.pdf", "nieuws/2.jpg"]
    );
    assert!(s.news_post(w.org, saved.id).await.expect("read").is_none());
}
