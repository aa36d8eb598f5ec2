//! SQLite: the portal's data (accounts, sessions, reset tokens) and the
//! per-object reads for a parent, decided at read time (see [`crate::portal`]).

mod accounts;
mod archive;
mod children;
mod diary;
mod family;
mod messages;
mod photos;
mod sessions;
mod timeline;

pub use accounts::*;
pub use archive::*;
pub use children::*;
pub use diary::*;
pub use family::*;
pub use messages::*;
pub use photos::*;
pub use sessions::*;
pub use timeline::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::org;
    use crate::org::ParentRole;
    use crate::portal::*;
    use chrono::{Duration, Utc};
    use kring_protocol::PhotoConsent;
    use kring_protocol::{ChildId, ConsentedChild, GroupId, PhotoId};

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("t.sqlite3")).expect("open");
        (dir, db)
    }

    /// The sample organisation, written through the store.
    fn sample(db: &Db) -> org::SampleOrg {
        let store = crate::store::SqlStore::from_db(db.clone());
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(org::sample(&store, Utc::now().date_naive()))
            .expect("sample")
    }

    #[test]
    fn documents_for_the_first_parent_only() {
        assert!(DocumentAudience::FirstParent.allows(ParentRole::First));
        assert!(!DocumentAudience::FirstParent.allows(ParentRole::Second));
        assert!(DocumentAudience::AllParents.allows(ParentRole::Second));
    }

    #[test]
    fn sessions_expire_idle_and_stay_in_their_organisation() {
        let (_dir, db) = db();
        let s = sample(&db);
        db.call_sync(|c| -> Result<(), org::OrgError> {
            let other = org::create_organisation(c, "ander", "Ander")?;
            let parent = org::create_parent(c, &s.org, "Anne@Example.nl", "Anne", "geheim-1")?;
            let (account, hash) = find_login(c, &s.org, " anne@example.nl ")?.expect("found");
            assert!(verify_password(&hash, "geheim-1"));
            assert!(!verify_password(&hash, "geheim-2"));
            assert_eq!(account.parent_id(), Some(parent));
            assert!(account.must_change_password);
            assert!(find_login(c, &other, "anne@example.nl")?.is_none());
            let times = SessionTimes {
                idle: Duration::minutes(30),
                absolute: Duration::hours(8),
            };
            let now = Utc::now();
            let token = create_session(c, &account, now, times)?;
            assert!(load_session(c, &s.org, &token, now, times)?.is_some());
            assert!(load_session(c, &other, &token, now, times)?.is_none());
            assert!(load_session(c, &s.org, "nonsense", now, times)?.is_none());
            assert!(
                load_session(c, &s.org, &token, now + Duration::minutes(31), times)?.is_none(),
                "idle expiry"
            );
            let token = create_session(c, &account, now, times)?;
            let mut t = now;
            for _ in 0..20 {
                t += Duration::minutes(25);
                let alive = load_session(c, &s.org, &token, t, times)?.is_some();
                assert_eq!(alive, t < now + times.absolute, "absolute expiry at {t}");
            }
            Ok(())
        })
        .expect("scenario");
    }

    #[test]
    fn reset_tokens_work_once_and_expire() {
        let (_dir, db) = db();
        let s = sample(&db);
        db.call_sync(|c| -> Result<(), org::OrgError> {
            org::create_parent(c, &s.org, "bo@example.nl", "Bo", "pw")?;
            let (account, _) = find_login(c, &s.org, "bo@example.nl")?.expect("found");
            let now = Utc::now();
            let token = create_reset(c, &account, now, Duration::minutes(60))?;
            assert!(check_reset(c, &s.org, &token, now + Duration::minutes(61), false)?.is_none());
            assert!(check_reset(c, &s.org, &token, now, true)?.is_some());
            assert!(
                check_reset(c, &s.org, &token, now, true)?.is_none(),
                "single use"
            );
            Ok(())
        })
        .expect("scenario");
    }

    #[test]
    fn photo_visibility_follows_consent_and_placement() {
        let group = GroupId::new();
        let other_group = GroupId::new();
        let today = Utc::now().date_naive();
        let kid = |consent, placed: Option<GroupId>| {
            let placements: Vec<Placement> = placed
                .into_iter()
                .map(|g| Placement {
                    group: g,
                    group_name: "G".into(),
                    start: today - Duration::days(30),
                    end: None,
                    days: String::new(),
                })
                .collect();
            MyChild {
                id: ChildId::new(),
                first_name: "K".into(),
                last_name: "T".into(),
                birth_date: today,
                consent,
                role: ParentRole::First,
                kept: placements.clone(),
                placements,
            }
        };
        let sem = kid(PhotoConsent::Group, Some(group));
        let noor = kid(PhotoConsent::OwnParents, Some(group));
        let elsewhere = kid(PhotoConsent::Group, Some(other_group));
        let ended = kid(PhotoConsent::Group, None);
        let photo = |tags: &[&MyChild], ncr: bool| PhotoRow {
            id: PhotoId::new(),
            group,
            blob_key: String::new(),
            thumb_key: String::new(),
            width: 1,
            height: 1,
            no_children_recognizable: ncr,
            received_at: Utc::now(),
            tags: tags
                .iter()
                .map(|k| ConsentedChild {
                    id: k.id,
                    consent: k.consent,
                })
                .collect(),
        };
        // Sem and Noor together: Sem's parents do not see it (Noor own_parents only).
        let both = photo(&[&sem, &noor], false);
        assert!(photo_visible_for(&both, std::slice::from_ref(&sem)).is_empty());
        assert_eq!(
            photo_visible_for(&both, std::slice::from_ref(&noor)),
            vec![noor.id]
        );
        // Group photo without children: every current child of the group, not elsewhere.
        let nobody = photo(&[], true);
        assert_eq!(
            photo_visible_for(&nobody, std::slice::from_ref(&sem)),
            vec![sem.id]
        );
        assert!(photo_visible_for(&nobody, std::slice::from_ref(&elsewhere)).is_empty());
        // Untagged, unconfirmed: staff only.
        assert!(photo_visible_for(&photo(&[], false), std::slice::from_ref(&sem)).is_empty());
        // Placement ended: nothing, even of itself.
        let own = photo(&[&ended], false);
        assert!(photo_visible_for(&own, std::slice::from_ref(&ended)).is_empty());
        // Consent withdrawn to none after the photo: hidden from everyone.
        let mut withdrawn = photo(&[&sem], false);
        withdrawn.tags[0].consent = PhotoConsent::None;
        assert!(photo_visible_for(&withdrawn, std::slice::from_ref(&sem)).is_empty());
    }
}
