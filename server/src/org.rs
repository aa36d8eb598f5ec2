//! The organisation's own data: locations, groups, children, parents, staff,
//! and the writes that parents and managers make (messages, absences,
//! consents, diary). The types live here; the reads and writes are
//! [`crate::store::Store`] methods. Every write that a group's device must see
//! records a change in the same transaction; callers nudge the groups returned.

use crate::db::DbError;
use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};
use chrono::NaiveDate;
use kring_protocol::{
    AbsenceReason, ChildId, GroupId, OrganisationId, PartOfDay, PhotoConsent, StaffId, Weekday,
};

/// For tools and tests that drive SQLite directly (the sync tests, the
/// system test, the soak run, the demo's own tests); server code goes through
/// [`crate::store::Store`].
pub use crate::store::sql::org::{
    cancel_absence, create_child, create_group, create_location, create_organisation,
    create_parent, create_parent_hashed, create_staff, link_parent, parent_diary, parent_message,
    place_child, report_absence, reset_pin, set_consent, set_consent_by_parent,
    set_parent_password, set_staff_login,
};

#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("could not hash a secret: {0}")]
    Hash(String),
}

/// A group whose feed changed, with its new sequence number: nudge it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupChange {
    pub group: GroupId,
    pub seq: i64,
}

/// The groups whose feed changed: nudge them.
pub type Changed = Vec<GroupChange>;

/// Argon2id with the OWASP-recommended minimum (19 MiB, t=2): also verified
/// on the device to unlock offline, so it must stay affordable on a Pi.
pub fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Argon2 checks and hashes running at once in this process. Each holds
/// 19 MiB and a core for tens of milliseconds: a burst of logins waits here in
/// line instead of filling the blocking pool and the allocator (100 logins at
/// once kept ~450 MiB before this bound).
fn argon2_permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| tokio::sync::Semaphore::new(argon2_limit()))
}

/// One per core, at most 8 (152 MiB).
fn argon2_limit() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    cores.clamp(1, 8)
}

/// Runs Argon2 work `f` on the blocking pool, bounded by [`argon2_permits`]:
/// never on the async workers, never more at once than there are cores.
pub async fn argon2_work<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, OrgError> {
    let _permit = argon2_permits()
        .acquire()
        .await
        .map_err(|e| OrgError::Hash(e.to_string()))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OrgError::Hash(e.to_string()))
}

/// [`hash_secret`] through [`argon2_work`].
pub async fn hash_secret_bounded(secret: String) -> Result<String, OrgError> {
    argon2_work(move || hash_secret(&secret)).await?
}

/// A PHC string for a PIN or password.
pub fn hash_secret(secret: &str) -> Result<String, OrgError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| OrgError::Hash(e.to_string()))
}

pub fn days_str(days: &[Weekday]) -> String {
    days.iter()
        .map(|d| match d {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Kind of group: day care (0-4) or after-school care (4-12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Kdv,
    Bso,
}

/// A new child, before placement.
#[derive(Debug, Clone)]
pub struct NewChild<'a> {
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub birth_date: NaiveDate,
    pub consent: PhotoConsent,
    pub allergies: Option<&'a str>,
    pub notes: Option<&'a str>,
}

/// Which parent a parent is for a child: only the first sees invoices and documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentRole {
    First,
    Second,
}

/// An absence reported for a child (by a parent, or by the organisation).
#[derive(Debug, Clone)]
pub struct NewAbsence<'a> {
    pub child: ChildId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub part_of_day: PartOfDay,
    pub reason: AbsenceReason,
    pub note: Option<&'a str>,
    pub reported_by: &'a str,
}

/// A small organisation for tests and examples: one location, groups
/// "Dolfijnen" (KDV) and "Zwaluwen" (BSO), four children on Dolfijnen with
/// consents `[group, own_parents, none, group]`, one child on Zwaluwen, and
/// one staff member (PIN 1234) on Dolfijnen.
#[derive(Debug, Clone)]
pub struct SampleOrg {
    pub org: OrganisationId,
    pub group: GroupId,
    pub other_group: GroupId,
    pub kids: Vec<ChildId>,
    pub other_kid: ChildId,
    pub staff: StaffId,
}

/// Creates a [`SampleOrg`] through any store (tests and examples).
pub async fn sample(
    store: &dyn crate::store::Store,
    today: NaiveDate,
) -> Result<SampleOrg, crate::store::StoreError> {
    use crate::store::{ChildDetails, NewPlacement, NewStaff};
    use chrono::Datelike;
    let org = store
        .create_organisation("test".into(), "Testopvang".into())
        .await?;
    let loc = store.create_location(org, "Locatie Test".into()).await?;
    let group = store
        .create_group(loc, "Dolfijnen".into(), GroupKind::Kdv, (0, 4))
        .await?;
    let other_group = store
        .create_group(loc, "Zwaluwen".into(), GroupKind::Bso, (4, 12))
        .await?;
    let days = vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
    let start = today - chrono::Duration::days(100);
    let place = async |first: &str, last: &str, years: i32, consent, group| {
        let child = store
            .create_child(
                org,
                ChildDetails {
                    first_name: first.into(),
                    last_name: last.into(),
                    birth_date: today.with_year(today.year() - years).unwrap_or(today),
                    consent,
                    allergies: None,
                    notes: None,
                },
            )
            .await?;
        store
            .place_child(NewPlacement {
                child,
                group,
                days: days.clone(),
                start,
                end: None,
            })
            .await?;
        Ok::<_, crate::store::StoreError>(child)
    };
    let mut kids = Vec::new();
    for (name, consent) in [
        ("Sem", PhotoConsent::Group),
        ("Noor", PhotoConsent::OwnParents),
        ("Daan", PhotoConsent::None),
        ("Emma", PhotoConsent::Group),
    ] {
        kids.push(place(name, "Test", 1, consent, group).await?);
    }
    let other_kid = place("Bram", "Anders", 7, PhotoConsent::Group, other_group).await?;
    let staff = store
        .create_staff(NewStaff {
            org,
            name: "Fatima".into(),
            role: kring_protocol::StaffRole::Pedagogical,
            pin: "1234".into(),
            groups: vec![group],
        })
        .await?
        .id;
    Ok(SampleOrg {
        org,
        group,
        other_group,
        kids,
        other_kid,
        staff,
    })
}

/// One checked line of the import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub line: usize,
    pub first: String,
    pub last: String,
    pub birth: NaiveDate,
    pub group: GroupId,
    pub days: Vec<Weekday>,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
    pub consent: PhotoConsent,
    /// ouder1 is the first parent, ouder2 the second.
    pub parents: Vec<ImportParent>,
}

/// A parent on a line of the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportParent {
    pub role: ParentRole,
    pub name: String,
    /// Lower-case.
    pub email: String,
}

/// First passwords of new parents by e-mail: (password to mail, its hash).
pub type FirstPasswords = std::collections::HashMap<String, (String, String)>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A burst of 40 logins runs at most as many Argon2 checks at once as
    /// there are permits, and every one of them runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn argon2_work_is_bounded() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(argon2_work(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                }))
            })
            .collect();
        let mut done = 0;
        for t in tasks {
            t.await.expect("task").expect("work");
            done += 1;
        }
        assert_eq!(done, 40);
        let limit = argon2_limit();
        let most = most.load(Ordering::SeqCst);
        assert!(most >= 1 && most <= limit, "{most} at once, limit {limit}");
    }
}
