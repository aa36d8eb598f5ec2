//! The SQL backend of [`Store`], for SQLite and PostgreSQL alike: one file
//! per data area, each holding the SQL of that area, written once in the
//! subset both engines understand ([`conn`]). Every method runs on the
//! blocking pool through [`SqlStore::run`], the one place where blocking
//! database work leaves the async runtime.
//!
//! **Architecture Invariant:** SQL lives in this module and nowhere else in
//! the server (the broker excepted, which has none); engine differences live
//! in the two drivers, [`sqlite`] and [`postgres`], and their migrations.

pub mod admin;
pub mod agenda;
pub mod attendance;
pub mod conn;
pub mod demo;
pub mod devices;
pub mod export;
pub mod feed;
pub mod items;
pub mod news;
pub mod notify;
pub mod org;
pub mod portal;
pub mod postgres;
pub mod retention;
pub mod roster;
pub mod sqlite;
pub mod updates;
pub mod uploads;

use super::{
    AbsenceReport, AccessEntry, ChildDataExpired, ChildDetails, CompletedUpload, Created,
    EnrolledDevice, LoginRow, NewParentDiary, NewParentMessage, NewPlacement, NewStaff, NewUpload,
    NotificationPref, PushOutcome, ResetLink, Store, StoreError, StoreFuture, SweptUpload, Thread,
    UploadQuota, UploadRow,
};
use super::{
    ArchiveContents, ArchiveFetch, ArchiveJob, ArchiveKey, ArchiveRequested, ArchiveStatus,
};
use super::{ChildAttendance, DaySpan, GroupDay, GroupLookup, LocationDay, LocationName};
use super::{
    ChildOverview, FirstPasswordLinks, GroupName, GroupSummary, ImportResult, ParentOverview,
    StaffOverview,
};
use super::{
    DeviceNudge, DeviceUpdate, NewRelease, NewRollout, ReleaseAdded, ReleaseRow, ReleaseSummary,
    RolloutCreated,
};
use crate::device_api::devices::{AuthedDevice, DeviceReport, DeviceRow, EnrollmentCode};
use crate::org::{Changed, GroupKind, ImportRow, NewAbsence, NewChild, OrgError, ParentRole};
use crate::portal::agenda::{
    AgendaRefusal, AgendaRules, BsoChild, CancelOutcome, ChildAgenda, ChildVacation, ClosedDay,
    DayRequestView, GroupRoster, NewDayRequest, NewVacationRequest, PlannedDay, RosterRefusal,
    VacationOutcome, VacationRefusal, VacationRequestView,
};
use crate::portal::news::{LocationDetails, LocationInfo, NewsDraft, NewsPost, SavedNews};
use crate::portal::notify::NewsRecipients;
use crate::portal::{
    AbsenceView, Account, ConsentChange, DiaryView, DocumentAudience, DocumentView, MessageView,
    MyChild, PhotoRow, Session, SessionTimes, Tenant, TimelineItem,
};
use chrono::{DateTime, NaiveDate, Utc};
use conn::{Connection, TransactionBehavior};
pub use conn::{Db, DbError};
use kring_protocol::{
    AbsenceId, ChildId, Cursor, DeviceId, DiaryEntryId, FeedPage, GroupId, GroupInfo, LocationId,
    MessageId, OrganisationId, ParentId, PhotoConsent, PushItem, ReleaseId, StaffId, UpdateOffer,
    UpdateReport, UploadId, Weekday,
};

/// The calendar of an organisation's stored time zone. A name this build's
/// time-zone database does not know is logged and read as Europe/Amsterdam,
/// so a bad setting never takes the portal or the devices down.
pub(crate) fn calendar_of(time_zone: &str) -> kring_protocol::Calendar {
    kring_protocol::Calendar::from_name(time_zone).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "unknown organisation time zone; using Europe/Amsterdam");
        kring_protocol::Calendar::default()
    })
}
use std::path::Path;

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        StoreError::backend(e)
    }
}

impl From<OrgError> for StoreError {
    fn from(e: OrgError) -> Self {
        StoreError::backend(e)
    }
}

/// Maps a unique violation to [`StoreError::Duplicate`] (`what` already exists).
pub(crate) fn duplicate(what: &str) -> impl FnOnce(DbError) -> StoreError + '_ {
    move |e| {
        if e.is_unique_violation() {
            StoreError::Duplicate(what.to_string())
        } else {
            StoreError::from(e)
        }
    }
}

/// The SQL store, on SQLite (one writer connection: SQLite has one writer
/// anyway, and this keeps transactions strictly ordered) or PostgreSQL (a
/// pool; transactions that lose a race are run again). Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqlStore {
    db: Db,
}

impl SqlStore {
    /// Opens (creating if needed) the database and applies pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            db: Db::open(path)?,
        })
    }

    /// The store over an already open database.
    pub fn from_db(db: Db) -> Self {
        Self { db }
    }

    /// The raw database handle (for the admin CLI and tests that inspect rows).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Runs `f` with a connection on the blocking pool: the one seam. With
    /// PostgreSQL, a transaction that lost a race (a deadlock, a
    /// serialization failure, or a key another transaction wrote first: two
    /// pushes of one item) is run again, at most [`RACE_RETRIES`] times; the
    /// second run sees what the winner committed (the stored answer).
    fn run<R, F>(&self, mut f: F) -> StoreFuture<R>
    where
        R: Send + 'static,
        F: FnMut(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let db = self.db.clone();
        Box::pin(async move {
            db.call(move |c| {
                let mut attempt = 0;
                loop {
                    match f(c) {
                        Err(e) if attempt < RACE_RETRIES && lost_a_race(c, &e) => {
                            attempt += 1;
                            tracing::debug!(error = %e, attempt, "transaction lost a race; again");
                        }
                        other => return other,
                    }
                }
            })
            .await
        })
    }
}

impl SqlStore {
    /// Runs `f`, which only reads, in one snapshot: every statement sees the
    /// database as it was when the first began (PostgreSQL: `REPEATABLE READ
    /// READ ONLY`; SQLite: one read transaction).
    fn read<R, F>(&self, mut f: F) -> StoreFuture<R>
    where
        R: Send + 'static,
        F: FnMut(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::ReadSnapshot)?;
            let out = f(&tx)?;
            tx.finish()?;
            Ok(out)
        })
    }
}

/// How often a PostgreSQL transaction that lost a race is run again.
const RACE_RETRIES: u32 = 3;

/// True when `e` is PostgreSQL telling that another transaction won a race.
fn lost_a_race(c: &Connection, e: &StoreError) -> bool {
    if c.engine() != conn::Engine::Postgres {
        return false;
    }
    let StoreError::Backend(b) = e else {
        return false;
    };
    let db = b
        .downcast_ref::<DbError>()
        .or_else(|| match b.downcast_ref::<OrgError>() {
            Some(OrgError::Db(d)) => Some(d),
            _ => None,
        });
    db.is_some_and(|d| d.is_unique_violation() || d.is_retryable())
}

impl Store for SqlStore {
    fn push_item(
        &self,
        device: AuthedDevice,
        item: PushItem,
        now: DateTime<Utc>,
    ) -> StoreFuture<PushOutcome> {
        self.run(move |c| items::push(c, &device, &item, now))
    }

    fn feed_page(
        &self,
        group: GroupId,
        since: Cursor,
        limit: u32,
        today: NaiveDate,
    ) -> StoreFuture<FeedPage> {
        self.read(move |c| Ok(feed::feed_page(c, &group, since, limit, today)?))
    }

    fn group_info(&self, group: GroupId) -> StoreFuture<Option<GroupInfo>> {
        self.run(move |c| Ok(feed::load_group(c, &group)?))
    }

    fn find_group(&self, query: String) -> StoreFuture<GroupLookup> {
        self.run(move |c| Ok(devices::find_group(c, &query)?))
    }

    fn create_enrollment_code(
        &self,
        group: GroupId,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> StoreFuture<EnrollmentCode> {
        self.run(move |c| Ok(devices::create_code(c, &group, now, ttl)?))
    }

    fn enroll_device(
        &self,
        code: String,
        name: String,
        app_version: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<EnrolledDevice> {
        self.run(move |c| devices::enroll(c, &code, &name, &app_version, now))
    }

    fn authenticate_device(
        &self,
        secret: String,
        report: DeviceReport,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<AuthedDevice>> {
        self.run(move |c| {
            let d = devices::authenticate(c, &secret)?;
            if let Some(d) = &d {
                devices::remember_mqtt_password(c, &d.id, &secret)?;
                devices::touch(c, &d.id, now)?;
                devices::record_report(c, &d.id, &report)?;
            }
            Ok(d)
        })
    }

    fn check_mqtt_password(&self, device: DeviceId, password: String) -> StoreFuture<bool> {
        self.run(move |c| Ok(devices::check_mqtt_password(c, &device, &password)?))
    }

    fn set_device_online(
        &self,
        device: DeviceId,
        online: bool,
        now: DateTime<Utc>,
    ) -> StoreFuture<()> {
        self.run(move |c| Ok(devices::set_online(c, &device, online, now)?))
    }

    fn revoke_device(&self, device: DeviceId, now: DateTime<Utc>) -> StoreFuture<bool> {
        self.run(move |c| Ok(devices::revoke(c, &device, now)?))
    }

    fn active_devices_of_group(&self, group: GroupId) -> StoreFuture<Vec<DeviceId>> {
        self.run(move |c| Ok(devices::active_devices_of_group(c, &group)?))
    }

    fn revoked_devices(&self) -> StoreFuture<Vec<DeviceId>> {
        self.run(|c| Ok(devices::revoked_devices(c)?))
    }

    fn list_devices(&self, org: Option<OrganisationId>) -> StoreFuture<Vec<DeviceRow>> {
        self.run(move |c| Ok(devices::list_where(c, org.as_ref())?))
    }

    fn device_organisation(&self, device: String) -> StoreFuture<Option<String>> {
        self.run(move |c| Ok(devices::device_org(c, &device)?))
    }

    fn create_organisation(&self, slug: String, name: String) -> StoreFuture<OrganisationId> {
        self.run(move |c| {
            org::create_organisation(c, &slug, &name).map_err(|e| match e {
                OrgError::Db(e) if e.is_unique_violation() => {
                    StoreError::Duplicate(format!("an organisation with slug {slug}"))
                }
                other => other.into(),
            })
        })
    }

    fn create_location(&self, org_id: OrganisationId, name: String) -> StoreFuture<LocationId> {
        self.run(move |c| Ok(org::create_location(c, &org_id, &name)?))
    }

    fn create_group(
        &self,
        location: LocationId,
        name: String,
        kind: GroupKind,
        ages: (u8, u8),
    ) -> StoreFuture<GroupId> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let id = org::create_group(&tx, &location, &name, kind, ages)?;
            tx.commit()?;
            Ok(id)
        })
    }

    fn create_child(&self, org_id: OrganisationId, child: ChildDetails) -> StoreFuture<ChildId> {
        self.run(move |c| {
            let new = NewChild {
                first_name: &child.first_name,
                last_name: &child.last_name,
                birth_date: child.birth_date,
                consent: child.consent,
                allergies: child.allergies.as_deref(),
                notes: child.notes.as_deref(),
            };
            Ok(org::create_child(c, &org_id, &new)?)
        })
    }

    fn place_child(&self, p: NewPlacement) -> StoreFuture<Changed> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let changed = org::place_child(&tx, &p.child, &p.group, &p.days, p.start, p.end)?;
            tx.commit()?;
            Ok(changed)
        })
    }

    fn create_staff(&self, s: NewStaff) -> StoreFuture<Created<StaffId>> {
        let db = self.db.clone();
        Box::pin(async move {
            // hashed before a connection is taken: never while holding the database
            let pin_hash = super::hash_off_runtime(s.pin.clone()).await?;
            db.call(move |c| {
                let tx = c.transaction()?;
                let (id, changed) =
                    org::create_staff_hashed(&tx, &s.org, &s.name, s.role, &pin_hash, &s.groups)?;
                tx.commit()?;
                Ok(Created { id, changed })
            })
            .await
        })
    }

    fn create_parent(
        &self,
        org_id: OrganisationId,
        email: String,
        name: String,
        password: String,
    ) -> StoreFuture<ParentId> {
        let db = self.db.clone();
        Box::pin(async move {
            let hash = super::hash_off_runtime(password).await?;
            db.call(move |c| Ok(org::create_parent_hashed(c, &org_id, &email, &name, &hash)?))
                .await
        })
    }

    fn set_must_change_password(&self, parent: ParentId, must_change: bool) -> StoreFuture<()> {
        self.run(move |c| Ok(org::set_must_change_password(c, &parent, must_change)?))
    }

    fn account_language(
        &self,
        kind: crate::portal::UserKind,
        id: uuid::Uuid,
    ) -> StoreFuture<Option<crate::portal::i18n::Lang>> {
        self.run(move |c| Ok(portal::account_language(c, kind, &id)?))
    }

    fn set_account_language(
        &self,
        kind: crate::portal::UserKind,
        id: uuid::Uuid,
        lang: crate::portal::i18n::Lang,
    ) -> StoreFuture<()> {
        self.run(move |c| Ok(portal::set_account_language(c, kind, &id, lang)?))
    }

    fn set_staff_login(
        &self,
        staff: StaffId,
        email: String,
        password: String,
        must_change: bool,
    ) -> StoreFuture<()> {
        let db = self.db.clone();
        Box::pin(async move {
            let hash = super::hash_off_runtime(password).await?;
            db.call(move |c| {
                Ok(org::set_staff_login_hashed(
                    c,
                    &staff,
                    &email,
                    &hash,
                    must_change,
                )?)
            })
            .await
        })
    }

    fn link_parent(&self, child: ChildId, parent: ParentId, role: ParentRole) -> StoreFuture<()> {
        self.run(move |c| {
            let tx = c.transaction()?;
            org::link_parent(&tx, &child, &parent, role)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn set_consent(
        &self,
        child: ChildId,
        consent: PhotoConsent,
        changed_by: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Changed> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let changed = org::set_consent(&tx, &child, consent, &changed_by, now)?;
            tx.commit()?;
            Ok(changed)
        })
    }

    fn parent_message(
        &self,
        m: NewParentMessage,
        now: DateTime<Utc>,
    ) -> StoreFuture<Created<MessageId>> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let (id, changed) = org::parent_message(
                &tx,
                &m.group,
                &m.child,
                &m.parent,
                &m.parent_name,
                &m.body,
                now,
            )?;
            tx.commit()?;
            Ok(Created { id, changed })
        })
    }

    fn tenant_by_slug(&self, slug: String) -> StoreFuture<Option<Tenant>> {
        self.run(move |c| Ok(portal::tenant_by_slug(c, &slug)?))
    }

    fn find_login(&self, org_id: OrganisationId, email: String) -> StoreFuture<Option<LoginRow>> {
        self.run(move |c| {
            Ok(
                portal::find_login(c, &org_id, &email)?.map(|(account, password_hash)| LoginRow {
                    account,
                    password_hash,
                }),
            )
        })
    }

    fn password_hash(&self, account: Account) -> StoreFuture<Option<String>> {
        self.run(move |c| Ok(portal::password_hash(c, &account)?))
    }

    fn set_password(
        &self,
        account: Account,
        hash: String,
        keep_session: Option<String>,
    ) -> StoreFuture<()> {
        self.run(move |c| {
            let tx = c.transaction()?;
            portal::set_password(&tx, &account, &hash, keep_session.as_deref())?;
            tx.commit()?;
            Ok(())
        })
    }

    fn start_session(
        &self,
        account: Account,
        previous: Option<String>,
        now: DateTime<Utc>,
        times: SessionTimes,
    ) -> StoreFuture<String> {
        self.run(move |c| {
            let tx = c.transaction()?;
            if let Some(old) = &previous {
                portal::delete_session(&tx, old)?;
            }
            let token = portal::create_session(&tx, &account, now, times)?;
            tx.commit()?;
            Ok(token)
        })
    }

    fn load_session(
        &self,
        org_id: OrganisationId,
        token: String,
        now: DateTime<Utc>,
        times: SessionTimes,
    ) -> StoreFuture<Option<Session>> {
        self.run(move |c| Ok(portal::load_session(c, &org_id, &token, now, times)?))
    }

    fn delete_session(&self, token: String) -> StoreFuture<()> {
        self.run(move |c| Ok(portal::delete_session(c, &token)?))
    }

    fn sweep_sessions(&self, now: DateTime<Utc>, times: SessionTimes) -> StoreFuture<usize> {
        self.run(move |c| Ok(portal::sweep_sessions(c, now, times)?))
    }

    fn create_reset(
        &self,
        org_id: OrganisationId,
        email: String,
        now: DateTime<Utc>,
        valid: chrono::Duration,
    ) -> StoreFuture<Option<ResetLink>> {
        self.run(move |c| {
            let Some((account, _)) = portal::find_login(c, &org_id, &email)? else {
                return Ok(None);
            };
            let token = portal::create_reset(c, &account, now, valid)?;
            Ok(Some(ResetLink { account, token }))
        })
    }

    fn check_reset(
        &self,
        org_id: OrganisationId,
        token: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Account>> {
        self.run(move |c| Ok(portal::check_reset(c, &org_id, &token, now, false)?))
    }

    fn reset_password(
        &self,
        org_id: OrganisationId,
        token: String,
        hash: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Account>> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let account = portal::check_reset(&tx, &org_id, &token, now, true)?;
            if let Some(a) = &account {
                portal::set_password(&tx, a, &hash, None)?;
            }
            tx.commit()?;
            Ok(account)
        })
    }

    fn parent_children(&self, parent: ParentId, today: NaiveDate) -> StoreFuture<Vec<MyChild>> {
        self.read(move |c| Ok(portal::parent_children(c, &parent, today)?))
    }

    fn my_child(
        &self,
        parent: ParentId,
        child: ChildId,
        today: NaiveDate,
    ) -> StoreFuture<Option<MyChild>> {
        self.read(move |c| Ok(portal::my_child(c, &parent, &child, today)?))
    }

    fn photo_for_parent(
        &self,
        parent: ParentId,
        photo: String,
        today: NaiveDate,
    ) -> StoreFuture<Option<PhotoRow>> {
        self.read(move |c| Ok(portal::photo_for_parent(c, &parent, &photo, today)?))
    }

    fn diary_for_parent(
        &self,
        parent: ParentId,
        entry: String,
        today: NaiveDate,
    ) -> StoreFuture<Option<DiaryView>> {
        self.read(move |c| Ok(portal::diary_for_parent(c, &parent, &entry, today)?))
    }

    fn timeline(
        &self,
        parent: ParentId,
        only: Option<ChildId>,
        today: NaiveDate,
        limit: usize,
        before: Option<DateTime<Utc>>,
    ) -> StoreFuture<Vec<TimelineItem>> {
        self.read(move |c| {
            Ok(portal::timeline(
                c,
                &parent,
                only.as_ref(),
                today,
                limit,
                before,
            )?)
        })
    }

    fn thread_for_parent(
        &self,
        parent: ParentId,
        child: ChildId,
        today: NaiveDate,
    ) -> StoreFuture<Option<Thread>> {
        self.read(move |c| {
            Ok(portal::thread_for_parent(c, &parent, &child, today)?
                .map(|(child, messages)| Thread { child, messages }))
        })
    }

    fn message_for_parent(
        &self,
        parent: ParentId,
        message: String,
        today: NaiveDate,
    ) -> StoreFuture<Option<MessageView>> {
        self.read(move |c| Ok(portal::message_for_parent(c, &parent, &message, today)?))
    }

    fn absences_of(&self, child: ChildId) -> StoreFuture<Vec<AbsenceView>> {
        self.run(move |c| Ok(portal::absences_of(c, &child)?))
    }

    fn consent_history(&self, child: ChildId) -> StoreFuture<Vec<ConsentChange>> {
        self.run(move |c| Ok(portal::consent_history(c, &child)?))
    }

    fn record_access(&self, entry: AccessEntry) -> StoreFuture<()> {
        self.run(move |c| Ok(retention::record_access(c, &entry)?))
    }

    fn access_log(
        &self,
        org: OrganisationId,
        child: ChildId,
        limit: u32,
    ) -> StoreFuture<Vec<AccessEntry>> {
        self.read(move |c| Ok(retention::access_log(c, &org, &child, limit)?))
    }

    fn notification_prefs(&self, parent: ParentId) -> StoreFuture<Vec<NotificationPref>> {
        self.run(move |c| {
            Ok(portal::notification_prefs(c, &parent)?
                .into_iter()
                .map(|(kind, email)| NotificationPref { kind, email })
                .collect())
        })
    }

    fn set_notification_prefs(
        &self,
        parent: ParentId,
        prefs: Vec<NotificationPref>,
    ) -> StoreFuture<()> {
        self.run(move |c| {
            let tx = c.transaction()?;
            for p in &prefs {
                portal::set_notification_pref(&tx, &parent, p.kind, p.email)?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn news_for_parent(&self, parent: ParentId, today: NaiveDate) -> StoreFuture<Vec<NewsPost>> {
        self.read(move |c| Ok(news::news_for_parent(c, &parent, today)?))
    }

    fn news_post_for_parent(
        &self,
        parent: ParentId,
        id: String,
        today: NaiveDate,
    ) -> StoreFuture<Option<NewsPost>> {
        self.read(move |c| Ok(news::news_post_for_parent(c, &parent, &id, today)?))
    }

    fn news_of_org(&self, org: OrganisationId) -> StoreFuture<Vec<NewsPost>> {
        self.read(move |c| Ok(news::news_of_org(c, &org)?))
    }

    fn news_post(&self, org: OrganisationId, id: String) -> StoreFuture<Option<NewsPost>> {
        self.read(move |c| Ok(news::news_post(c, &org, &id)?))
    }

    fn save_news(
        &self,
        org: OrganisationId,
        id: Option<String>,
        draft: NewsDraft,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<SavedNews>> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let saved = news::save_news(&tx, &org, id.as_deref(), &draft, now)?;
            tx.commit()?;
            Ok(saved)
        })
    }

    fn delete_news(&self, org: OrganisationId, id: String) -> StoreFuture<Option<Vec<String>>> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let keys = news::delete_news(&tx, &org, &id)?;
            tx.commit()?;
            Ok(keys)
        })
    }

    fn locations_for_parent(
        &self,
        parent: ParentId,
        today: NaiveDate,
    ) -> StoreFuture<Vec<LocationInfo>> {
        self.read(move |c| Ok(news::locations_for_parent(c, &parent, today)?))
    }

    fn location_infos(&self, org: OrganisationId) -> StoreFuture<Vec<LocationInfo>> {
        self.read(move |c| Ok(news::location_infos(c, &org)?))
    }

    fn set_location_details(
        &self,
        org: OrganisationId,
        location: LocationId,
        details: LocationDetails,
    ) -> StoreFuture<bool> {
        self.run(move |c| Ok(news::set_location_details(c, &org, &location, &details)?))
    }

    fn add_location_page(
        &self,
        org: OrganisationId,
        location: LocationId,
        title: String,
        body: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<String>> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let id = news::add_location_page(&tx, &org, &location, &title, &body, now)?;
            tx.commit()?;
            Ok(id)
        })
    }

    fn delete_location_page(&self, org: OrganisationId, page: String) -> StoreFuture<bool> {
        self.run(move |c| Ok(news::delete_location_page(c, &org, &page)?))
    }

    fn update_location_page(
        &self,
        org: OrganisationId,
        page: String,
        title: String,
        body: String,
    ) -> StoreFuture<bool> {
        self.run(move |c| Ok(news::update_location_page(c, &org, &page, &title, &body)?))
    }

    fn set_staff_photo(
        &self,
        org: OrganisationId,
        staff: StaffId,
        key: Option<String>,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Option<String>>> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let old = news::set_staff_photo(&tx, &org, &staff, key.as_deref(), now)?;
            tx.commit()?;
            Ok(old)
        })
    }

    fn staff_photo_for_parent(
        &self,
        parent: ParentId,
        staff: StaffId,
        today: NaiveDate,
    ) -> StoreFuture<Option<String>> {
        self.read(move |c| Ok(news::staff_photo_for_parent(c, &parent, &staff, today)?))
    }

    fn staff_photo(&self, org: OrganisationId, staff: StaffId) -> StoreFuture<Option<String>> {
        self.read(move |c| Ok(news::staff_photo(c, &org, &staff)?))
    }

    fn news_recipients(
        &self,
        id: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<NewsRecipients>> {
        self.read(move |c| Ok(notify::news_recipients(c, &id, now)?))
    }

    fn documents_for_parent(&self, child: MyChild) -> StoreFuture<Vec<DocumentView>> {
        self.read(move |c| Ok(portal::documents_for_parent(c, &child)?))
    }

    fn document_for_parent(
        &self,
        parent: ParentId,
        document: String,
        today: NaiveDate,
    ) -> StoreFuture<Option<DocumentView>> {
        self.read(move |c| Ok(portal::document_for_parent(c, &parent, &document, today)?))
    }

    fn create_document(
        &self,
        child: ChildId,
        title: String,
        body: String,
        audience: DocumentAudience,
        now: DateTime<Utc>,
    ) -> StoreFuture<String> {
        self.run(move |c| {
            Ok(portal::create_document(
                c, &child, &title, &body, audience, now,
            )?)
        })
    }

    fn parent_diary(
        &self,
        e: NewParentDiary,
        now: DateTime<Utc>,
    ) -> StoreFuture<Created<DiaryEntryId>> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let (id, changed) = org::parent_diary(
                &tx,
                &e.group,
                &e.child,
                &e.parent,
                &e.parent_name,
                &e.text,
                now,
            )?;
            tx.commit()?;
            Ok(Created { id, changed })
        })
    }

    fn report_absence(
        &self,
        a: AbsenceReport,
        now: DateTime<Utc>,
    ) -> StoreFuture<Created<AbsenceId>> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let (id, changed) = org::report_absence(
                &tx,
                &NewAbsence {
                    child: a.child,
                    from: a.from,
                    to: a.to,
                    part_of_day: a.part_of_day,
                    reason: a.reason,
                    note: a.note.as_deref(),
                    reported_by: &a.reported_by,
                },
                now,
            )?;
            tx.commit()?;
            Ok(Created { id, changed })
        })
    }

    fn cancel_absence_for_parent(
        &self,
        parent: ParentId,
        absence: AbsenceId,
        today: NaiveDate,
    ) -> StoreFuture<Option<Changed>> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let Some(portal::AbsenceOwner {
                child,
                to,
                cancelled,
            }) = portal::absence_owner(&tx, &absence.to_string())?
            else {
                return Ok(None);
            };
            if portal::my_child(&tx, &parent, &child, today)?.is_none() {
                return Ok(None);
            }
            if cancelled || to < today {
                return Ok(Some(Vec::new()));
            }
            let changed = org::cancel_absence(&tx, &absence, &child)?;
            tx.commit()?;
            Ok(Some(changed))
        })
    }

    fn set_consent_by_parent(
        &self,
        parent: ParentId,
        parent_name: String,
        child: ChildId,
        consent: PhotoConsent,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Changed>> {
        self.run(move |c| {
            let tx = c.transaction()?;
            let Some(kid) = portal::my_child(&tx, &parent, &child, today)? else {
                return Ok(None);
            };
            if kid.consent == consent {
                return Ok(Some(Vec::new()));
            }
            let changed =
                org::set_consent_by_parent(&tx, &child, consent, &parent, &parent_name, now)?;
            tx.commit()?;
            Ok(Some(changed))
        })
    }

    fn group_summaries(
        &self,
        org_id: OrganisationId,
        today: NaiveDate,
    ) -> StoreFuture<Vec<GroupSummary>> {
        self.read(move |c| Ok(admin::group_summaries(c, &org_id, today)?))
    }

    fn org_groups(&self, org_id: OrganisationId) -> StoreFuture<Vec<GroupName>> {
        self.run(move |c| Ok(admin::org_groups(c, &org_id)?))
    }

    fn child_overviews(
        &self,
        org_id: OrganisationId,
        only: Option<String>,
    ) -> StoreFuture<Vec<ChildOverview>> {
        self.read(move |c| Ok(admin::child_overviews(c, &org_id, only.as_deref())?))
    }

    fn parent_overviews(&self, org_id: OrganisationId) -> StoreFuture<Vec<ParentOverview>> {
        self.run(move |c| Ok(admin::parent_overviews(c, &org_id)?))
    }

    fn staff_overviews(&self, org_id: OrganisationId) -> StoreFuture<Vec<StaffOverview>> {
        self.run(move |c| Ok(admin::staff_overviews(c, &org_id)?))
    }

    fn staff_in_org(&self, staff: StaffId, org_id: OrganisationId) -> StoreFuture<bool> {
        self.run(move |c| Ok(admin::staff_in_org(c, &staff, &org_id)?))
    }

    fn reset_pin(&self, staff: StaffId, pin: String) -> StoreFuture<Changed> {
        let db = self.db.clone();
        Box::pin(async move {
            let pin_hash = super::hash_off_runtime(pin).await?;
            db.call(move |c| {
                let tx = c.transaction()?;
                let changed = org::reset_pin_hashed(&tx, &staff, &pin_hash)?;
                tx.commit()?;
                Ok(changed)
            })
            .await
        })
    }

    fn import_children(
        &self,
        org_id: OrganisationId,
        rows: Vec<ImportRow>,
        links: FirstPasswordLinks,
        confirmed_links: bool,
    ) -> StoreFuture<ImportResult> {
        self.run(move |c| {
            Ok(admin::import_children(
                c,
                &org_id,
                &rows,
                links,
                confirmed_links,
            )?)
        })
    }

    fn org_locations(&self, org_id: OrganisationId) -> StoreFuture<Vec<LocationName>> {
        self.run(move |c| Ok(attendance::org_locations(c, &org_id)?))
    }

    fn location_day(
        &self,
        org_id: OrganisationId,
        location: LocationId,
        span: DaySpan,
    ) -> StoreFuture<Option<LocationDay>> {
        self.read(move |c| Ok(attendance::location_day(c, &org_id, &location, span)?))
    }

    fn group_day(
        &self,
        org_id: OrganisationId,
        group: GroupId,
        span: DaySpan,
    ) -> StoreFuture<Option<GroupDay>> {
        self.read(move |c| Ok(attendance::group_day(c, &org_id, &group, span)?))
    }

    fn attendance_for_parent(
        &self,
        parent: ParentId,
        span: DaySpan,
    ) -> StoreFuture<Vec<ChildAttendance>> {
        self.read(move |c| Ok(attendance::for_parent(c, &parent, span)?))
    }

    fn find_organisation(&self, id_or_name: String) -> StoreFuture<Option<OrganisationId>> {
        self.run(move |c| updates::find_organisation(c, &id_or_name))
    }

    fn create_release(&self, release: NewRelease) -> StoreFuture<ReleaseAdded> {
        self.run(move |c| updates::create_release(c, &release))
    }

    fn release(&self, id: ReleaseId) -> StoreFuture<Option<ReleaseRow>> {
        self.run(move |c| Ok(updates::release(c, &id)?))
    }

    fn releases(&self, org_id: Option<OrganisationId>) -> StoreFuture<Vec<ReleaseSummary>> {
        self.read(move |c| Ok(updates::releases(c, org_id.as_ref())?))
    }

    fn create_rollout(
        &self,
        org_id: OrganisationId,
        rollout: NewRollout,
    ) -> StoreFuture<RolloutCreated> {
        self.run(move |c| updates::create_rollout(c, &org_id, &rollout))
    }

    fn pending_rollout_nudges(&self, now: DateTime<Utc>) -> StoreFuture<Vec<DeviceNudge>> {
        self.run(move |c| Ok(updates::pending_rollout_nudges(c, now)?))
    }

    fn update_offer(&self, device: DeviceId) -> StoreFuture<Option<UpdateOffer>> {
        self.read(move |c| Ok(updates::update_offer(c, &device)?))
    }

    fn offered_bundle(
        &self,
        device: DeviceId,
        release: ReleaseId,
    ) -> StoreFuture<Option<ReleaseRow>> {
        self.read(move |c| Ok(updates::offered_bundle(c, &device, &release)?))
    }

    fn report_update(
        &self,
        device: DeviceId,
        report: UpdateReport,
        now: DateTime<Utc>,
    ) -> StoreFuture<()> {
        self.run(move |c| updates::report_update(c, &device, &report, now))
    }

    fn device_updates(&self, org_id: OrganisationId) -> StoreFuture<Vec<DeviceUpdate>> {
        self.read(move |c| Ok(updates::device_updates(c, &org_id)?))
    }

    fn retry_update(
        &self,
        org_id: OrganisationId,
        device: DeviceId,
        release: ReleaseId,
    ) -> StoreFuture<Option<DeviceNudge>> {
        self.run(move |c| Ok(updates::retry_update(c, &org_id, &device, &release)?))
    }

    fn load_demo(&self, today: NaiveDate) -> StoreFuture<Option<crate::demo::DemoSummary>> {
        self.run(move |c| Ok(demo::load_demo(c, today)?))
    }

    fn load_demo_photos(
        &self,
        blobs: std::sync::Arc<dyn crate::blob::BlobStore>,
        now: DateTime<Utc>,
    ) -> StoreFuture<usize> {
        self.run(move |c| demo::load_demo_photos(c, &*blobs, now).map_err(StoreError::backend))
    }

    fn notification_recipients(
        &self,
        event: crate::portal::notify::Event,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<crate::portal::notify::Recipients>> {
        self.run(move |c| Ok(notify::recipients(c, event, now)?))
    }

    fn seal_keys(&self, candidate: String, now: DateTime<Utc>) -> StoreFuture<Vec<String>> {
        self.run(move |c| {
            c.execute(
                "INSERT INTO seal_keys (generation, identity, created_at) VALUES (1, ?1, ?2)
                 ON CONFLICT (generation) DO NOTHING",
                conn::params![&candidate, &conn::time_str(now)],
            )?;
            c.query_rows(
                "SELECT identity FROM seal_keys ORDER BY generation DESC",
                conn::params![],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<Vec<String>, _>>()
            .map_err(StoreError::from)
        })
    }

    fn request_archive(
        &self,
        parent: ParentId,
        child: ChildId,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<ArchiveRequested>> {
        self.run(move |c| Ok(portal::request_archive(c, &parent, &child, today, now)?))
    }

    fn claim_archive(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreFuture<Option<ArchiveJob>> {
        self.run(move |c| Ok(portal::claim_archive(c, now, stale_before)?))
    }

    fn archive_contents(
        &self,
        job: ArchiveJob,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<ArchiveContents>> {
        self.read(move |c| Ok(portal::archive_contents(c, &job, now)?))
    }

    fn finish_archive(
        &self,
        id: uuid::Uuid,
        file_name: String,
        size: u64,
        photos: Vec<kring_protocol::PhotoId>,
        now: DateTime<Utc>,
        valid: chrono::Duration,
    ) -> StoreFuture<Option<String>> {
        self.run(move |c| {
            Ok(portal::finish_archive(
                c, &id, &file_name, size, &photos, now, valid,
            )?)
        })
    }

    fn fail_archive(&self, id: uuid::Uuid, now: DateTime<Utc>) -> StoreFuture<()> {
        self.run(move |c| Ok(portal::fail_archive(c, &id, now)?))
    }

    fn fetch_archive(
        &self,
        org: OrganisationId,
        key: ArchiveKey,
        now: DateTime<Utc>,
    ) -> StoreFuture<ArchiveFetch> {
        self.run(move |c| Ok(portal::fetch_archive(c, &org, &key, now)?))
    }

    fn archives_of(&self, parent: ParentId, now: DateTime<Utc>) -> StoreFuture<Vec<ArchiveStatus>> {
        self.read(move |c| Ok(portal::archives_of(c, &parent, now)?))
    }

    fn sweep_archives(&self, now: DateTime<Utc>) -> StoreFuture<Vec<String>> {
        self.run(move |c| Ok(portal::sweep_archives(c, now)?))
    }

    fn claim_job(
        &self,
        name: String,
        now: DateTime<Utc>,
        every: chrono::Duration,
    ) -> StoreFuture<bool> {
        self.run(move |c| {
            let (now, next) = (conn::time_str(now), conn::time_str(now + every));
            c.execute(
                "INSERT INTO jobs (name, next_run_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                conn::params![&name, &now],
            )?;
            let claimed = c.execute(
                "UPDATE jobs SET next_run_at = ?3 WHERE name = ?1 AND next_run_at <= ?2",
                conn::params![&name, &now, &next],
            )?;
            Ok(claimed == 1)
        })
    }

    fn append_upload_part(&self, id: UploadId, at: u64, bytes: Vec<u8>) -> StoreFuture<bool> {
        self.run(move |c| uploads::append_part(c, &id, at, &bytes))
    }

    fn upload_bytes(&self, id: UploadId) -> StoreFuture<Vec<u8>> {
        self.run(move |c| uploads::bytes(c, &id))
    }

    fn rewind_upload(&self, id: UploadId, offset: u64) -> StoreFuture<()> {
        self.run(move |c| uploads::rewind(c, &id, offset))
    }

    fn create_upload(&self, upload: NewUpload, quota: UploadQuota) -> StoreFuture<()> {
        self.run(move |c| uploads::create(c, &upload, &quota))
    }

    fn upload(&self, id: UploadId) -> StoreFuture<Option<UploadRow>> {
        self.run(move |c| uploads::load(c, &id))
    }

    fn set_upload_offset(&self, id: UploadId, offset: u64) -> StoreFuture<()> {
        self.run(move |c| uploads::set_offset(c, &id, offset))
    }

    fn fail_upload(&self, id: UploadId, reason: String) -> StoreFuture<()> {
        self.run(move |c| uploads::fail(c, &id, &reason))
    }

    fn complete_upload(
        &self,
        id: UploadId,
        photo: CompletedUpload,
        now: DateTime<Utc>,
    ) -> StoreFuture<()> {
        self.run(move |c| uploads::complete(c, &id, &photo, now))
    }

    fn announce_ended_placements(
        &self,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Changed> {
        self.run(move |c| Ok(retention::announce_ended_placements(c, today, now)?))
    }

    fn export_child(
        &self,
        org: OrganisationId,
        child: ChildId,
    ) -> StoreFuture<Option<super::Export>> {
        self.read(move |c| Ok(export::export_child(c, &org, &child)?))
    }

    fn export_parent(
        &self,
        org: OrganisationId,
        parent: ParentId,
    ) -> StoreFuture<Option<super::Export>> {
        self.read(move |c| Ok(export::export_parent(c, &org, &parent)?))
    }

    fn erase_child_now(
        &self,
        org: OrganisationId,
        child: ChildId,
        by: StaffId,
        by_name: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<super::Erased>> {
        self.run(move |c| {
            Ok(export::erase_child_now(
                c, &org, &child, &by, &by_name, now,
            )?)
        })
    }

    fn erase_parent_now(
        &self,
        org: OrganisationId,
        parent: ParentId,
        by: StaffId,
        by_name: String,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<super::Erased>> {
        self.run(move |c| {
            Ok(export::erase_parent_now(
                c, &org, &parent, &by, &by_name, now,
            )?)
        })
    }

    fn erasures(&self, org: OrganisationId, limit: u32) -> StoreFuture<Vec<super::ErasureRow>> {
        self.read(move |c| Ok(export::erasures(c, &org, limit)?))
    }

    fn expire_accounts(&self, today: NaiveDate, now: DateTime<Utc>) -> StoreFuture<super::Erased> {
        self.run(move |c| Ok(retention::expire_accounts(c, today, now)?))
    }

    fn leaving_notices(
        &self,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Vec<super::LeavingNotice>> {
        self.run(move |c| Ok(retention::leaving_notices(c, today, now)?))
    }

    fn leaving_children(
        &self,
        parent: ParentId,
        today: NaiveDate,
    ) -> StoreFuture<Vec<super::Leaving>> {
        self.read(move |c| Ok(retention::leaving_children(c, &parent, today)?))
    }

    fn expire_child_data(
        &self,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<ChildDataExpired> {
        self.run(move |c| Ok(retention::expire_child_data(c, today, now)?))
    }

    fn sweep_expired_uploads(
        &self,
        now: DateTime<Utc>,
        unused_before: DateTime<Utc>,
    ) -> StoreFuture<Vec<SweptUpload>> {
        self.run(move |c| uploads::sweep_expired(c, now, unused_before))
    }
    fn agenda_rules(&self, org: OrganisationId) -> StoreFuture<AgendaRules> {
        self.read(move |c| Ok(agenda::rules(c, &org)?))
    }

    fn set_agenda_rules(&self, org: OrganisationId, rules: AgendaRules) -> StoreFuture<()> {
        self.run(move |c| Ok(agenda::set_rules(c, &org, &rules)?))
    }

    fn add_closed_day(&self, group: GroupId, day: NaiveDate, name: String) -> StoreFuture<()> {
        self.run(move |c| Ok(agenda::add_closed_day(c, &group, day, &name)?))
    }

    fn agenda_for_parent(
        &self,
        parent: ParentId,
        child: ChildId,
        (from, to): (NaiveDate, NaiveDate),
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<ChildAgenda>> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = agenda::agenda_for_parent(&tx, &parent, &child, from, to, today, now)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn request_day(
        &self,
        parent: ParentId,
        request: NewDayRequest,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Result<String, AgendaRefusal>>> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = agenda::request_day(&tx, &parent, &request, today, now)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn cancel_day_for_parent(
        &self,
        parent: ParentId,
        child: ChildId,
        day: NaiveDate,
        by: String,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<CancelOutcome>> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = agenda::cancel_day(&tx, &parent, &child, day, &by, today, now)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn day_requests(
        &self,
        org: OrganisationId,
        today: NaiveDate,
    ) -> StoreFuture<Vec<DayRequestView>> {
        self.read(move |c| Ok(agenda::requests_for_org(c, &org, today)?))
    }

    fn planned_day(&self, group: GroupId, day: NaiveDate) -> StoreFuture<PlannedDay> {
        self.read(move |c| Ok(agenda::planned_day(c, &group, day)?))
    }

    fn decide_day_request(
        &self,
        org: OrganisationId,
        request: String,
        approve: bool,
        by: String,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Result<Changed, AgendaRefusal>>> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = agenda::decide(&tx, &org, &request, approve, &by, today, now)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn org_rosters(&self, org: OrganisationId, since: NaiveDate) -> StoreFuture<Vec<GroupRoster>> {
        self.read(move |c| Ok(roster::org_rosters(c, &org, since)?))
    }

    fn set_roster_week(
        &self,
        org: OrganisationId,
        group: GroupId,
        week: Vec<(StaffId, Vec<Weekday>)>,
    ) -> StoreFuture<Option<()>> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = roster::set_roster_week(&tx, &org, &group, &week)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn add_roster_exception(
        &self,
        org: OrganisationId,
        group: GroupId,
        staff: StaffId,
        day: NaiveDate,
        off: bool,
    ) -> StoreFuture<Option<Result<(), RosterRefusal>>> {
        self.run(move |c| {
            Ok(roster::add_roster_exception(
                c, &org, &group, &staff, day, off,
            )?)
        })
    }

    fn remove_roster_exception(&self, org: OrganisationId, id: String) -> StoreFuture<Option<()>> {
        self.run(move |c| Ok(roster::remove_roster_exception(c, &org, &id)?))
    }

    fn org_closed_days(&self, org: OrganisationId) -> StoreFuture<Vec<ClosedDay>> {
        self.read(move |c| Ok(roster::org_closed_days(c, &org)?))
    }

    fn add_closed_days(
        &self,
        org: OrganisationId,
        location: LocationId,
        (from, to): (NaiveDate, NaiveDate),
        name: String,
    ) -> StoreFuture<Option<u32>> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = roster::add_closed_days(&tx, &org, &location, from, to, &name)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn remove_closed_day(
        &self,
        org: OrganisationId,
        location: LocationId,
        day: NaiveDate,
    ) -> StoreFuture<Option<()>> {
        self.run(move |c| Ok(roster::remove_closed_day(c, &org, &location, day)?))
    }

    fn set_max_children(
        &self,
        org: OrganisationId,
        group: GroupId,
        max: Option<u32>,
    ) -> StoreFuture<Option<()>> {
        self.run(move |c| Ok(roster::set_max_children(c, &org, &group, max)?))
    }

    fn bso_children(&self, org: OrganisationId, today: NaiveDate) -> StoreFuture<Vec<BsoChild>> {
        self.read(move |c| Ok(roster::bso_children(c, &org, today)?))
    }

    fn set_vacation_allowance(
        &self,
        org: OrganisationId,
        child: ChildId,
        year: i32,
        hours: u32,
    ) -> StoreFuture<Option<()>> {
        self.run(move |c| {
            Ok(roster::set_vacation_allowance(
                c, &org, &child, year, hours,
            )?)
        })
    }

    fn vacation_for_parent(
        &self,
        parent: ParentId,
        child: ChildId,
        today: NaiveDate,
    ) -> StoreFuture<Option<ChildVacation>> {
        self.read(move |c| {
            if portal::my_child(c, &parent, &child, today)?.is_none() {
                return Ok(None);
            }
            Ok(Some(roster::child_vacation(c, &child, today)?))
        })
    }

    fn request_vacation(
        &self,
        parent: ParentId,
        request: NewVacationRequest,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<VacationOutcome>> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = roster::request_vacation(&tx, &parent, &request, today, now)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn vacation_requests(
        &self,
        org: OrganisationId,
        today: NaiveDate,
    ) -> StoreFuture<Vec<VacationRequestView>> {
        self.read(move |c| Ok(roster::vacation_requests_for_org(c, &org, today)?))
    }

    fn decide_vacation_request(
        &self,
        org: OrganisationId,
        request: String,
        approve: bool,
        by: String,
        today: NaiveDate,
        now: DateTime<Utc>,
    ) -> StoreFuture<Option<Result<Changed, VacationRefusal>>> {
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let out = roster::decide_vacation(&tx, &org, &request, approve, &by, today, now)?;
            tx.commit()?;
            Ok(out)
        })
    }

    fn decision_recipients(
        &self,
        child: ChildId,
    ) -> StoreFuture<Option<(String, Vec<crate::portal::notify::Recipient>)>> {
        self.read(move |c| Ok(roster::decision_recipients(c, &child)?))
    }

    fn day_request(&self, org: OrganisationId, id: String) -> StoreFuture<Option<DayRequestView>> {
        self.read(move |c| Ok(agenda::request_of_org(c, &org, &id)?))
    }

    fn vacation_request(
        &self,
        org: OrganisationId,
        id: String,
    ) -> StoreFuture<Option<VacationRequestView>> {
        self.read(move |c| Ok(roster::vacation_request_of_org(c, &org, &id)?))
    }
}
