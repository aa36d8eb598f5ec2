//! Portal fixture: the sample organisation ("test": groups A = Dolfijnen and
//! B = Zwaluwen) plus a second organisation ("ander"), parents with known
//! passwords, location managers, photos with every consent situation, diary
//! entries, messages, absences and documents; and [`Browser`], a cookie-keeping
//! HTTP client that talks to `<slug>.localhost:<port>` like a browser would.
//!
//! Logging a parent in from a test:
//! ```ignore
//! let p = Portal::start().await;
//! let mut b = p.browser("test");
//! b.login(&p.logins["sem"]).await;            // 303 to /mijn-kind
//! let page = b.get("/mijn-kind").await;
//! ```
#![allow(dead_code, clippy::unwrap_used)]

use super::{Harness, jpeg};
use chrono::{Duration, Utc};
use kring_protocol::{
    ChildId, GroupId, OrganisationId, ParentId, PhotoConsent, StaffId, StaffRole, Weekday,
};
use kring_server::db::time_str;
use kring_server::org::{self, ParentRole};
use kring_server::photo::{PhotoLimits, process};
use kring_server::sql_params;
use kring_server::store::testing::SqlValue;
use kring_server::store::{AbsenceReport, ChildDetails, NewPlacement, NewStaff};
use std::collections::HashMap;
use std::net::SocketAddr;

/// One of the fixture's passwords (all at least 10 characters).
pub const PASSWORD: &str = "wachtwoord-123";

#[derive(Debug, Clone)]
pub struct Login {
    pub email: String,
    pub password: String,
}

pub struct Portal {
    pub h: Harness,
    pub addr: SocketAddr,
    /// Logins by role name: sem (first parent of Sem, group A), sem2 (second
    /// parent of Sem), noor (parent of Noor, group A, other family), emma
    /// (parent of Emma), bram (parent of Bram, group B), other_org (parent in
    /// "ander"), manager, other_manager (manager of "ander"), fresh (a parent
    /// who must still change the password).
    pub logins: HashMap<&'static str, Login>,
    /// Ids by placeholder name (without braces), e.g. "photo_sem".
    pub ids: HashMap<&'static str, String>,
    pub other_org: OrganisationId,
    pub other_group: GroupId,
    /// Enrolled devices: group A's, and the other organisation's.
    pub devices: Option<(super::Device, super::Device)>,
}

pub async fn insert_photo(
    h: &Harness,
    group: &GroupId,
    tags: &[ChildId],
    no_children_recognizable: bool,
    age_minutes: i64,
) -> String {
    let processed = process(&jpeg(64, 48), &PhotoLimits::default()).unwrap();
    let id = uuid::Uuid::now_v7().to_string();
    let blob = format!("photos/fx/{id}.jpg");
    let thumb = format!("thumbs/fx/{id}.jpg");
    let blobs = h.server().state.blobs.clone();
    let (b, t, jpeg, thumbnail) = (
        blob.clone(),
        thumb.clone(),
        processed.jpeg.clone(),
        processed.thumbnail.clone(),
    );
    // the store blocks (S3: it waits for the client): off the runtime
    tokio::task::spawn_blocking(move || {
        blobs.put(&b, &jpeg)?;
        blobs.put(&t, &thumbnail)
    })
    .await
    .unwrap()
    .unwrap();
    let sql = h.sql();
    sql.execute(
        "INSERT INTO photos (id, group_id, upload_id, sha256, blob_key, thumb_key, width, height,
                             no_children_recognizable, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        sql_params![
            &id,
            group.to_string(),
            uuid::Uuid::now_v7().to_string(),
            processed.sha256,
            blob,
            thumb,
            processed.width,
            processed.height,
            no_children_recognizable,
            time_str(Utc::now() - Duration::minutes(age_minutes))
        ],
    )
    .await
    .unwrap();
    for t in tags {
        sql.execute(
            "INSERT INTO photo_tags (photo_id, child_id) VALUES (?1, ?2)",
            sql_params![&id, t.to_string()],
        )
        .await
        .unwrap();
    }
    id
}

async fn staff_diary(h: &Harness, group: &GroupId, children: &[ChildId], text: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let sql = h.sql();
    sql.execute(
        "INSERT INTO diary_entries (id, group_id, author_kind, author_name, text, written_at)
         VALUES (?1, ?2, 'staff', 'Fatima', ?3, ?4)",
        sql_params![&id, group.to_string(), text, time_str(Utc::now())],
    )
    .await
    .unwrap();
    for k in children {
        sql.execute(
            "INSERT INTO diary_children (entry_id, child_id) VALUES (?1, ?2)",
            sql_params![&id, k.to_string()],
        )
        .await
        .unwrap();
    }
    id
}

async fn staff_message(
    h: &Harness,
    group: &GroupId,
    child: Option<&ChildId>,
    body: &str,
) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    h.sql()
        .execute(
            "INSERT INTO messages (id, group_id, child_id, author_kind, author_name, body, sent_at, read_by_group_at)
             VALUES (?1, ?2, ?3, 'staff', 'Groep', ?4, ?5, ?5)",
            sql_params![
                &id,
                group.to_string(),
                child.map(ToString::to_string),
                body,
                time_str(Utc::now())
            ],
        )
        .await
        .unwrap();
    id
}

async fn parent(
    h: &Harness,
    org: &OrganisationId,
    email: &str,
    name: &str,
    must_change: bool,
) -> ParentId {
    let id = h
        .store()
        .create_parent(*org, email.into(), name.into(), PASSWORD.into())
        .await
        .unwrap();
    if !must_change {
        h.store().set_must_change_password(id, false).await.unwrap();
    }
    id
}

/// Gives a staff member a portal login (no forced change).
async fn staff_login(h: &Harness, staff: &StaffId, email: &str) {
    h.store()
        .set_staff_login(*staff, email.into(), PASSWORD.into(), false)
        .await
        .unwrap();
}

impl Portal {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut kring_server::settings::Settings)) -> Self {
        let h = Harness::start_with(tweak).await;
        let addr = h.server().http_addr;
        let today = Utc::now().date_naive();
        let (sem, noor, daan, emma) = (h.kids[0], h.kids[1], h.kids[2], h.kids[3]);
        let bram = h.other_kid;
        let (group_a, group_b, org_a, staff_a) = (h.group, h.other_group, h.org, h.staff);
        let mut ids: HashMap<&'static str, String> = HashMap::new();
        let mut logins: HashMap<&'static str, Login> = HashMap::new();
        let login = |email: &str| Login {
            email: email.to_string(),
            password: PASSWORD.to_string(),
        };
        let store = h.store();
        // Parents of the sample organisation.
        let p_sem = parent(&h, &org_a, "sem.ouder@example.nl", "Anne Test", false).await;
        let p_sem2 = parent(&h, &org_a, "sem.tweede@example.nl", "Bas Test", false).await;
        let p_noor = parent(&h, &org_a, "noor.ouder@example.nl", "Carla Test", false).await;
        let p_emma = parent(&h, &org_a, "emma.ouder@example.nl", "Dirk Test", false).await;
        let p_bram = parent(&h, &org_a, "bram.ouder@example.nl", "Els Anders", false).await;
        let p_fresh = parent(&h, &org_a, "daan.ouder@example.nl", "Fleur Test", true).await;
        for (child, parent, role) in [
            (sem, p_sem, ParentRole::First),
            (sem, p_sem2, ParentRole::Second),
            (noor, p_noor, ParentRole::First),
            (emma, p_emma, ParentRole::First),
            (bram, p_bram, ParentRole::First),
            (daan, p_fresh, ParentRole::First),
        ] {
            store.link_parent(child, parent, role).await.unwrap();
        }
        // A pedagogical staff member with a password: no portal access.
        staff_login(&h, &staff_a, "fatima@example.nl").await;
        let staff = |org, name: &str, role, pin: &str, groups| NewStaff {
            org,
            name: name.into(),
            role,
            pin: pin.into(),
            groups,
        };
        let manager = store
            .create_staff(staff(
                org_a,
                "Petra",
                StaffRole::Manager,
                "9999",
                vec![group_a, group_b],
            ))
            .await
            .unwrap()
            .id;
        staff_login(&h, &manager, "manager@example.nl").await;

        // The other organisation.
        let other = store
            .create_organisation("ander".into(), "Andere Opvang".into())
            .await
            .unwrap();
        let loc = store.create_location(other, "Elders".into()).await.unwrap();
        ids.insert("location_other_org", loc.to_string());
        let location_a = h
            .sql()
            .strings(
                "SELECT location_id FROM groups WHERE id = ?1",
                sql_params![group_a.to_string()],
            )
            .await
            .unwrap()
            .remove(0);
        ids.insert("location_a", location_a);
        let og = store
            .create_group(loc, "Egeltjes".into(), org::GroupKind::Kdv, (0, 4))
            .await
            .unwrap();
        let ok = store
            .create_child(
                other,
                ChildDetails {
                    first_name: "Olivia".into(),
                    last_name: "Elders".into(),
                    birth_date: today - Duration::days(400),
                    consent: PhotoConsent::Group,
                    allergies: None,
                    notes: None,
                },
            )
            .await
            .unwrap();
        store
            .place_child(NewPlacement {
                child: ok,
                group: og,
                days: vec![Weekday::Mon, Weekday::Tue],
                start: today - Duration::days(100),
                end: None,
            })
            .await
            .unwrap();
        let p_other = parent(&h, &other, "olivia.ouder@example.nl", "Gert Elders", false).await;
        store
            .link_parent(ok, p_other, ParentRole::First)
            .await
            .unwrap();
        let other_staff = store
            .create_staff(staff(
                other,
                "Joke",
                StaffRole::Pedagogical,
                "1357",
                vec![og],
            ))
            .await
            .unwrap()
            .id;
        let other_manager = store
            .create_staff(staff(other, "Henk", StaffRole::Manager, "8888", vec![og]))
            .await
            .unwrap()
            .id;
        staff_login(&h, &other_manager, "manager@ander.example.nl").await;

        // Photos.
        for (name, group, tags, no_children, age) in [
            ("photo_sem", group_a, vec![sem], false, 50),
            ("photo_sem_noor", group_a, vec![sem, noor], false, 40),
            ("photo_sem_emma", group_a, vec![sem, emma], false, 35),
            ("photo_group", group_a, vec![], true, 30),
            ("photo_staff_only", group_a, vec![], false, 20),
            ("photo_b", group_b, vec![bram], false, 10),
            ("photo_b_group", group_b, vec![], true, 9),
            ("photo_other_org", og, vec![ok], false, 5),
            ("photo_other_org_group", og, vec![], true, 4),
        ] {
            ids.insert(
                name,
                insert_photo(&h, &group, &tags, no_children, age).await,
            );
        }
        // Diary.
        for (name, group, child, text) in [
            ("diary_sem", group_a, sem, "Sem heeft goed gegeten."),
            ("diary_noor", group_a, noor, "Noor sliep lang."),
            ("diary_b", group_b, bram, "Bram speelde buiten."),
            ("diary_other_org", og, ok, "Olivia was vrolijk."),
        ] {
            ids.insert(name, staff_diary(&h, &group, &[child], text).await);
        }
        // Messages.
        for (name, group, child, body) in [
            ("msg_sem", group_a, Some(sem), "Sem mist zijn knuffel."),
            (
                "msg_noor",
                group_a,
                Some(noor),
                "Noor heeft een schaafwond.",
            ),
            ("msg_group_a", group_a, None, "Neem regenlaarzen mee."),
            ("msg_b", group_b, Some(bram), "Bram is opgehaald."),
            ("msg_group_b", group_b, None, "Morgen naar het bos."),
            ("msg_other_org", og, Some(ok), "Olivia gaat naar de dokter."),
        ] {
            ids.insert(name, staff_message(&h, &group, child.as_ref(), body).await);
        }
        // Absences.
        for (name, child) in [
            ("absence_sem", sem),
            ("absence_noor", noor),
            ("absence_bram", bram),
            ("absence_other_org", ok),
        ] {
            let created = store
                .report_absence(
                    AbsenceReport {
                        child,
                        from: today + Duration::days(7),
                        to: today + Duration::days(7),
                        part_of_day: kring_protocol::PartOfDay::WholeDay,
                        reason: kring_protocol::AbsenceReason::Vakantie,
                        note: None,
                        reported_by: "fixture".into(),
                    },
                    Utc::now(),
                )
                .await
                .unwrap();
            ids.insert(name, created.id.to_string());
        }
        // Agenda: weekdays two weeks ahead (Sem: Mon-Fri; Olivia: Mon, Tue).
        // Sem's first is cancelled and requested again (paid): request_sem;
        // the second is a contract day to cancel; the third is cancelled,
        // free to request. Olivia's Monday the same: request_other_org.
        let weekday_from = |d: chrono::NaiveDate, allowed: &[u32]| {
            let mut d = d;
            while !allowed.contains(&d.format("%u").to_string().parse::<u32>().unwrap()) {
                d += Duration::days(1);
            }
            d
        };
        let d1 = weekday_from(today + Duration::days(14), &[1, 2, 3, 4, 5]);
        let d2 = weekday_from(d1 + Duration::days(1), &[1, 2, 3, 4, 5]);
        let d3 = weekday_from(d2 + Duration::days(1), &[1, 2, 3, 4, 5]);
        let od = weekday_from(today + Duration::days(14), &[1]);
        use kring_server::portal::agenda::{NewDayRequest, Payment};
        for (parent, child, cancel, ask, name) in [
            (p_sem, sem, vec![d1, d3], Some(d1), "request_sem"),
            (p_other, ok, vec![od], Some(od), "request_other_org"),
        ] {
            for d in cancel {
                store
                    .cancel_day_for_parent(parent, child, d, "fixture".into(), today, Utc::now())
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
            }
            if let Some(d) = ask {
                let id = store
                    .request_day(
                        parent,
                        NewDayRequest {
                            child,
                            day: d,
                            part_of_day: kring_protocol::PartOfDay::WholeDay,
                            payment: Payment::Paid,
                            gives_up: None,
                            requested_by: "fixture".into(),
                        },
                        today,
                        Utc::now(),
                    )
                    .await
                    .unwrap()
                    .unwrap()
                    .unwrap();
                ids.insert(name, id);
            }
        }
        ids.insert("day_sem_contract", d2.to_string());
        ids.insert("day_sem_free", d3.to_string());
        // Documents.
        use kring_server::portal::DocumentAudience;
        for (name, child, title, body, audience) in [
            (
                "doc_first",
                sem,
                "Contract",
                "Alleen voor de eerste ouder.",
                DocumentAudience::FirstParent,
            ),
            (
                "doc_all",
                sem,
                "Wenbrief",
                "Voor beide ouders.",
                DocumentAudience::AllParents,
            ),
            (
                "doc_noor",
                noor,
                "Contract Noor",
                "Van Noor.",
                DocumentAudience::FirstParent,
            ),
        ] {
            let id = store
                .create_document(child, title.into(), body.into(), audience, Utc::now())
                .await
                .unwrap();
            ids.insert(name, id);
        }

        // News and Mijn locatie: a post of location A with a photo and a PDF,
        // one for the whole organisation, one of the other organisation; an
        // information page of location A; a staff photo shared with consent.
        {
            use kring_server::portal::news::{FileChange, NewsDraft, NewsKind, NewsPdf, NewsPhoto};
            let blobs = h.server().state.blobs.clone();
            let photo = process(&jpeg(64, 48), &PhotoLimits::default()).unwrap();
            tokio::task::spawn_blocking(move || {
                blobs.put("nieuws/fx/a.jpg", &photo.jpeg)?;
                blobs.put("nieuws-klein/fx/a.jpg", &photo.thumbnail)?;
                blobs.put("team-klein/fx/a.jpg", &photo.thumbnail)?;
                blobs.put("nieuws-pdf/fx-a.pdf", b"%PDF-1.4 fixture")
            })
            .await
            .unwrap()
            .unwrap();
            let loc_a: kring_protocol::LocationId = ids["location_a"].parse().unwrap();
            let draft = |location, title: &str, with_files: bool| NewsDraft {
                location,
                kind: NewsKind::Nieuws,
                title: title.into(),
                body: "Tekst.".into(),
                photo: if with_files {
                    FileChange::Set(NewsPhoto {
                        key: "nieuws/fx/a.jpg".into(),
                        thumb_key: "nieuws-klein/fx/a.jpg".into(),
                    })
                } else {
                    FileChange::Keep
                },
                pdf: if with_files {
                    FileChange::Set(NewsPdf {
                        key: "nieuws-pdf/fx-a.pdf".into(),
                        name: "bijlage.pdf".into(),
                        bytes: 16,
                    })
                } else {
                    FileChange::Keep
                },
                author_name: "Petra".into(),
            };
            for (name, org, location, title, files) in [
                ("news_a", org_a, Some(loc_a), "Nieuws van A", true),
                ("news_org", org_a, None, "Nieuws voor iedereen", false),
                (
                    "news_other_org",
                    other,
                    Some(loc),
                    "Nieuws van elders",
                    false,
                ),
            ] {
                let saved = store
                    .save_news(org, None, draft(location, title, files), Utc::now())
                    .await
                    .unwrap()
                    .unwrap();
                ids.insert(name, saved.id);
            }
            let page = store
                .add_location_page(
                    org_a,
                    loc_a,
                    "Ziek kind".into(),
                    "Bel ons.".into(),
                    Utc::now(),
                )
                .await
                .unwrap()
                .unwrap();
            ids.insert("page_a", page);
            store
                .set_staff_photo(
                    org_a,
                    staff_a,
                    Some("team-klein/fx/a.jpg".into()),
                    Utc::now(),
                )
                .await
                .unwrap()
                .unwrap();
        }

        // Roster and agenda settings: Fatima on group A Monday to Friday
        // (so requests count her, as without a roster), an exception on
        // each organisation's group (extra: it changes no count), a closed
        // day of location A three weeks ahead.
        {
            use kring_protocol::Weekday::*;
            store
                .set_roster_week(
                    org_a,
                    group_a,
                    vec![(staff_a, vec![Mon, Tue, Wed, Thu, Fri])],
                )
                .await
                .unwrap()
                .unwrap();
        }
        for (org, group, staff, name) in [
            (org_a, group_a, staff_a, "roster_exception_a"),
            (other, og, other_staff, "roster_exception_other"),
        ] {
            store
                .add_roster_exception(org, group, staff, today + Duration::days(20), false)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let rosters = store.org_rosters(org, today).await.unwrap();
            let id = rosters
                .iter()
                .flat_map(|g| g.exceptions.iter())
                .map(|x| x.id.clone())
                .next()
                .unwrap();
            ids.insert(name, id);
        }
        let closed_a = today + Duration::days(21);
        store
            .add_closed_days(
                org_a,
                ids["location_a"].parse().unwrap(),
                (closed_a, closed_a),
                "Studiedag".into(),
            )
            .await
            .unwrap()
            .unwrap();
        ids.insert("closed_day_a", closed_a.to_string());
        ids.insert("this_year", chrono::Datelike::year(&today).to_string());
        ids.insert("child_sem", sem.to_string());
        ids.insert("child_noor", noor.to_string());
        ids.insert("child_bram", bram.to_string());
        ids.insert("child_other_org", ok.to_string());
        ids.insert("child_daan", daan.to_string());
        ids.insert("child_emma", emma.to_string());
        ids.insert("parent_noor", p_noor.to_string());
        ids.insert("parent_emma", p_emma.to_string());
        ids.insert("parent_other_org", p_other.to_string());
        ids.insert("staff_a", staff_a.to_string());
        ids.insert("staff_other_org", other_staff.to_string());
        ids.insert("group_a", group_a.to_string());
        ids.insert("group_b", group_b.to_string());
        ids.insert("group_other_org", og.to_string());
        let _ = (p_sem, p_sem2, p_noor, p_emma, p_bram, p_other, p_fresh);
        let (other_org, other_group) = (other, og);
        logins.insert("sem", login("sem.ouder@example.nl"));
        logins.insert("sem2", login("sem.tweede@example.nl"));
        logins.insert("noor", login("noor.ouder@example.nl"));
        logins.insert("emma", login("emma.ouder@example.nl"));
        logins.insert("bram", login("bram.ouder@example.nl"));
        logins.insert("fresh", login("daan.ouder@example.nl"));
        logins.insert("other_org", login("olivia.ouder@example.nl"));
        logins.insert("manager", login("manager@example.nl"));
        logins.insert("other_manager", login("manager@ander.example.nl"));
        let p = Portal {
            h,
            addr,
            logins,
            ids,
            other_org,
            other_group,
            devices: None,
        };
        // Devices (enrolled over the real API).
        let dev_a = p.h.enroll().await;
        let dev_other = p.h.enroll_in(other_group).await;
        let mut p = p;
        p.ids.insert("device_a", dev_a.id.to_string());
        p.ids.insert("device_other_org", dev_other.id.to_string());
        p.devices = Some((dev_a, dev_other));
        p
    }

    /// Appliance releases for the authorization matrix: `release_a` (the
    /// tiny verity bundle, organisation "test") rolled out to `device_a`,
    /// which reported it `failed`; `release_other_org` ("ander") rolled out
    /// to all of that organisation's screens.
    pub async fn with_releases(&mut self) {
        use kring_server::store::{NewRelease, NewRollout, RolloutScope};
        let state = self.h.server().state.clone();
        let bundle = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/updates/tiny-verity.raucb");
        let (dev_a, _) = self.devices.as_ref().unwrap();
        for (name, org, scope) in [
            ("release_a", self.h.org, RolloutScope::Device(dev_a.id)),
            (
                "release_other_org",
                self.other_org,
                RolloutScope::Organisation,
            ),
        ] {
            let stored = kring_server::releases::import_file(&state.data_dir, &bundle).unwrap();
            let id = stored.id;
            state
                .store
                .create_release(NewRelease {
                    id,
                    org,
                    version: stored.manifest.version,
                    compatible: stored.manifest.compatible,
                    sha256: stored.sha256,
                    size: stored.size,
                    file_name: stored.file_name,
                    uploaded_at: Utc::now(),
                    uploaded_by: None,
                })
                .await
                .unwrap();
            state
                .store
                .create_rollout(
                    org,
                    NewRollout {
                        release: id,
                        scope,
                        window: None,
                        created_at: Utc::now(),
                        created_by: None,
                        nudged: true,
                    },
                )
                .await
                .unwrap();
            self.ids.insert(name, id.to_string());
        }
        let release: kring_protocol::ReleaseId = self.ids["release_a"].parse().unwrap();
        state
            .store
            .report_update(
                dev_a.id,
                kring_protocol::UpdateReport {
                    release_id: release,
                    state: kring_protocol::UpdateState::Failed,
                    detail: Some("test".into()),
                },
                Utc::now(),
            )
            .await
            .unwrap();
    }

    /// A browser on `<slug>.localhost`.
    pub fn browser(&self, slug: &str) -> Browser {
        Browser::new(self.addr, slug)
    }

    /// A browser on `slug`, logged in as `who` (a key of `logins`).
    pub async fn logged_in(&self, slug: &str, who: &str) -> Browser {
        let mut b = self.browser(slug);
        let resp = b.login(&self.logins[who]).await;
        assert_eq!(resp.status, 303, "login of {who} failed: {}", resp.text);
        b
    }

    /// The `.eml` files in the mail folder, oldest first.
    pub fn mails(&self) -> Vec<String> {
        let dir = self.h.dir.path().join("mail");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(Result::ok).collect())
            .unwrap_or_default();
        files.sort_by_key(|f| f.metadata().and_then(|m| m.modified()).ok());
        files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f.path()).ok())
            .map(|s| decode_qp(&s))
            .collect()
    }

    /// Waits up to 5 s for a mail to `to` containing `needle`.
    pub async fn wait_for_mail(&self, to: &str, needle: &str) -> String {
        for _ in 0..100 {
            if let Some(m) = self
                .mails()
                .into_iter()
                .find(|m| m.contains(&format!("To: {to}")) && m.contains(needle))
            {
                return m;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} with {needle:?}; mails: {:?}", self.mails());
    }

    pub async fn exec(&self, sql: &str, args: &[&str]) {
        let args = args.iter().map(|a| SqlValue::from(*a)).collect();
        self.h.sql().execute(sql, args).await.unwrap();
    }
}

/// Undoes quoted-printable soft line breaks and `=XX` escapes (lettre encodes
/// long or non-ASCII bodies that way), so tests can search the text.
pub fn decode_qp(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An answer as a test sees it.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub bytes: Vec<u8>,
}

impl Page {
    /// The value of the first `name="csrf"` field on the page.
    pub fn csrf(&self) -> Option<String> {
        field_value(&self.text, "csrf")
    }
}

/// The `value` of the first input named `name`.
pub fn field_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    rest.split('"').next().map(str::to_string)
}

/// A cookie-keeping client for one host, without following redirects.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    pub host: String,
    pub cookies: HashMap<String, String>,
    pub csrf: Option<String>,
    pub extra_headers: Vec<(String, String)>,
}

impl Browser {
    pub fn new(addr: SocketAddr, slug: &str) -> Self {
        let host = format!("{slug}.localhost");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&host, addr)
            .build()
            .unwrap();
        Self {
            client,
            base: format!("http://{host}:{}", addr.port()),
            host,
            cookies: HashMap::new(),
            csrf: None,
            extra_headers: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Sends a request built on `self.client` with this browser's cookies.
    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        self.finish(req).await
    }

    async fn finish(&mut self, req: reqwest::RequestBuilder) -> Page {
        let mut req = req;
        if !self.cookies.is_empty() {
            req = req.header("cookie", self.cookie_header());
        }
        for (k, v) in &self.extra_headers {
            req = req.header(k, v);
        }
        let resp = req.send().await.unwrap();
        for sc in resp.headers().get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let (pair, attrs) = sc.split_once(';').unwrap_or((sc, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.to_ascii_lowercase().contains("max-age=0") {
                self.cookies.remove(k.trim());
            } else {
                self.cookies
                    .insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string());
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.unwrap().to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let page = Page {
            status,
            location,
            headers,
            text,
            bytes,
        };
        if let Some(t) = page.csrf() {
            self.csrf = Some(t);
        }
        page
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.base));
        self.finish(req).await
    }

    /// POSTs a form as is (no CSRF field added).
    pub async fn post_raw(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.client.post(format!("{}{path}", self.base)).form(form);
        self.finish(req).await
    }

    /// POSTs a form with the CSRF token of the last page seen.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(form);
        let req = self.client.post(format!("{}{path}", self.base)).form(&all);
        self.finish(req).await
    }

    /// Logs in (fetching the login page first for its CSRF cookie and token).
    pub async fn login(&mut self, login: &Login) -> Page {
        let page = self.get("/inloggen").await;
        assert!(
            page.csrf().is_some(),
            "login page without csrf: {}",
            page.text
        );
        let resp = self
            .post(
                "/inloggen",
                &[("email", &login.email), ("password", &login.password)],
            )
            .await;
        if resp.status == 303 {
            // Load a page to learn the session's CSRF token.
            let target = resp.location.clone().unwrap_or_else(|| "/".into());
            self.get(&target).await;
        }
        resp
    }
}
