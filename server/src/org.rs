//! The organisation's own data: locations, groups, children, parents, staff,
//! and the writes that parents and managers make (messages, absences,
//! consents, diary). The types live here; the reads and writes are
//! [`crate::store::Store`] methods. Every write that a group's device must see
//! records a change in the same transaction; callers nudge the groups returned.

use crate::db::DbError;
use argon2::password_hash::{
    self, Output, ParamsString, PasswordHash, Salt, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    place_child, report_absence, reset_pin_hashed, set_consent, set_consent_by_parent,
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
    Argon2::new(Algorithm::Argon2id, Version::V0x13, hasher_params())
}

fn hasher_params() -> Params {
    Params::new(19 * 1024, 2, 1, None).unwrap_or_default()
}

/// Largest working memory a stored hash may ask for: 256 MiB.
const MAX_ARGON2_BLOCKS: usize = 256 * 1024;

/// The working memory of one Argon2 computation (19 MiB with
/// [`hasher`]'s parameters), kept and used again. Allocating and freeing it
/// per hash let glibc's heap grow without bound under a burst of logins (its
/// mmap threshold rises to 19 MiB after the first free, and the freed blocks
/// fragment): 2,500 logins left the server at 4 GB; with the memory reused
/// it stays at one block per permit of [`argon2_work`].
#[derive(Default)]
pub struct Argon2Memory(Vec<Block>);

impl std::fmt::Debug for Argon2Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Argon2Memory({} KiB)", self.0.len())
    }
}

impl Argon2Memory {
    fn blocks(&mut self, n: usize) -> Option<&mut [Block]> {
        if n > MAX_ARGON2_BLOCKS {
            return None;
        }
        if self.0.len() < n {
            self.0.resize(n, Block::default());
        }
        self.0.get_mut(..n)
    }
}

/// The PHC hash of `password` with `salt`, computed in `memory`.
fn hash_in<'a>(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    password: &[u8],
    salt: Salt<'a>,
    memory: &mut Argon2Memory,
) -> password_hash::Result<PasswordHash<'a>> {
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf)?;
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let blocks =
        memory
            .blocks(params.block_count())
            .ok_or(password_hash::Error::ParamValueInvalid(
                password_hash::errors::InvalidValue::TooLong,
            ))?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let output = Output::init_with(len, |out| {
        Ok(argon.hash_password_into_with_memory(password, salt_bytes, out, &mut *blocks)?)
    })?;
    Ok(PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt),
        hash: Some(output),
    })
}

/// A PHC string for a PIN or password, computed in `memory`.
pub fn hash_secret_in(secret: &str, memory: &mut Argon2Memory) -> Result<String, OrgError> {
    let salt = SaltString::generate(&mut OsRng);
    hash_in(
        Algorithm::Argon2id,
        Version::V0x13,
        hasher_params(),
        secret.as_bytes(),
        salt.as_salt(),
        memory,
    )
    .map(|h| h.to_string())
    .map_err(|e| OrgError::Hash(e.to_string()))
}

/// True when `password` matches the PHC string `hash` (any Argon2 variant
/// and parameters up to 256 MiB), computed in `memory`; the comparison is
/// constant-time.
pub fn verify_secret_in(hash: &str, password: &str, memory: &mut Argon2Memory) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    hash_in(
        algorithm,
        version,
        params,
        password.as_bytes(),
        salt,
        memory,
    )
    .is_ok_and(|h| h.hash == Some(expected))
}

/// Argon2 checks and hashes running at once in this process, each with its
/// own kept [`Argon2Memory`]: a burst of logins waits here in line instead of
/// filling the blocking pool and the heap.
struct Argon2Pool {
    permits: tokio::sync::Semaphore,
    memories: std::sync::Mutex<Vec<Argon2Memory>>,
}

fn argon2_pool() -> &'static Argon2Pool {
    static POOL: std::sync::OnceLock<Argon2Pool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| Argon2Pool {
        permits: tokio::sync::Semaphore::new(argon2_limit()),
        memories: std::sync::Mutex::new(Vec::new()),
    })
}

/// One per core, at most 8 (152 MiB).
fn argon2_limit() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    cores.clamp(1, 8)
}

/// Runs Argon2 work `f` on the blocking pool with a kept working memory:
/// never on the async workers, never more at once than there are cores.
pub async fn argon2_work<T: Send + 'static>(
    f: impl FnOnce(&mut Argon2Memory) -> T + Send + 'static,
) -> Result<T, OrgError> {
    let pool = argon2_pool();
    let _permit = pool
        .permits
        .acquire()
        .await
        .map_err(|e| OrgError::Hash(e.to_string()))?;
    let take = || {
        pool.memories
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default()
    };
    let mut memory = take();
    let (memory, out) = tokio::task::spawn_blocking(move || {
        let out = f(&mut memory);
        (memory, out)
    })
    .await
    .map_err(|e| OrgError::Hash(e.to_string()))?;
    pool.memories
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(memory);
    Ok(out)
}

/// [`hash_secret`] through [`argon2_work`].
pub async fn hash_secret_bounded(secret: String) -> Result<String, OrgError> {
    argon2_work(move |memory| hash_secret_in(&secret, memory)).await?
}

/// A PHC string for a PIN or password (a working memory of its own: tools,
/// tests and the store's own writes; request handlers use
/// [`hash_secret_bounded`]).
pub fn hash_secret(secret: &str) -> Result<String, OrgError> {
    hash_secret_in(secret, &mut Argon2Memory::default())
}

/// The weekdays of a placement's `days` column (`mon,wed,fri`), the
/// inverse of [`days_str`]; unknown words are skipped.
pub fn parse_days(s: &str) -> Vec<Weekday> {
    s.split(',')
        .filter_map(|d| match d.trim() {
            "mon" => Some(Weekday::Mon),
            "tue" => Some(Weekday::Tue),
            "wed" => Some(Weekday::Wed),
            "thu" => Some(Weekday::Thu),
            "fri" => Some(Weekday::Fri),
            "sat" => Some(Weekday::Sat),
            "sun" => Some(Weekday::Sun),
            _ => None,
        })
        .collect()
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

/// The password hash of an account that has no password yet (a parent from
/// the CSV import, until they use their set-password link): no password
/// matches it, and a login against it takes as long as for an unknown address.
pub const NO_PASSWORD_YET: &str = "!no-password-yet";

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Hashes made in kept memory are ordinary PHC strings: the argon2
    /// crate's own verifier (the device's PIN check) accepts them, and ours
    /// accepts the crate's, with the same memory used again between them.
    #[test]
    fn kept_memory_hashes_are_standard() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let mut memory = Argon2Memory::default();
        let ours = hash_secret_in("1234", &mut memory).expect("hash");
        let parsed = PasswordHash::new(&ours).expect("PHC");
        assert!(hasher().verify_password(b"1234", &parsed).is_ok());
        assert!(hasher().verify_password(b"1235", &parsed).is_err());
        // theirs, with other parameters (smaller memory, other variant)
        let small = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(64, 3, 1, Some(24)).expect("params"),
        );
        let salt = SaltString::generate(&mut OsRng);
        let theirs = small
            .hash_password(b"geheim", &salt)
            .expect("hash")
            .to_string();
        assert!(verify_secret_in(&theirs, "geheim", &mut memory));
        assert!(!verify_secret_in(&theirs, "Geheim", &mut memory));
        assert!(verify_secret_in(&ours, "1234", &mut memory));
        assert!(!verify_secret_in("not a hash", "1234", &mut memory));
        // a stored hash asking for more than 256 MiB is refused, not computed
        let huge = ours.replace("m=19456", "m=1048576");
        assert!(!verify_secret_in(&huge, "1234", &mut memory));
        assert_eq!(memory.0.len(), 19 * 1024, "one block per KiB, kept");
    }

    /// A burst of 40 logins runs at most as many Argon2 checks at once as
    /// there are permits, and every one of them runs.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn argon2_work_is_bounded() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(argon2_work(move |_memory| {
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
