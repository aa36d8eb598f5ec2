//! Template structs (askama, `server/templates/`) and the Dutch formatting
//! helpers they use: times in the organisation's time zone, ages, words for
//! consents.

use crate::portal::i18n::{Tr, mark};
use askama::Template;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use kring_protocol::{Calendar, PhotoConsent, UpdateState};

/// Short day names, Monday first (translated where shown).
const WEEKDAYS: [&str; 7] = [
    mark("ma"),
    mark("di"),
    mark("wo"),
    mark("do"),
    mark("vr"),
    mark("za"),
    mark("zo"),
];
/// Short month names (translated where shown).
const MONTHS: [&str; 12] = [
    mark("jan"),
    mark("feb"),
    mark("mrt"),
    mark("apr"),
    mark("mei"),
    mark("jun"),
    mark("jul"),
    mark("aug"),
    mark("sep"),
    mark("okt"),
    mark("nov"),
    mark("dec"),
];

fn weekday(d: &impl Datelike) -> &'static str {
    Tr::current().s(WEEKDAYS[d.weekday().num_days_from_monday() as usize])
}

fn month(d: &impl Datelike) -> &'static str {
    Tr::current().s(MONTHS[d.month0() as usize])
}

/// "di 3 nov 14:05", local time of the organisation (`calendar`).
pub fn when(calendar: &Calendar, t: DateTime<Utc>) -> String {
    let l = calendar.local(t);
    format!(
        "{} {} {} {:02}:{:02}",
        weekday(&l),
        l.day(),
        month(&l),
        l.hour(),
        l.minute()
    )
}

/// "di 3 nov 2026".
pub fn day(d: NaiveDate) -> String {
    format!("{} {} {} {}", weekday(&d), d.day(), month(&d), d.year())
}

/// "1 jaar en 3 maanden", "8 maanden", "6 jaar".
pub fn age(birth: NaiveDate, today: NaiveDate) -> String {
    let mut months =
        (today.year() - birth.year()) * 12 + today.month() as i32 - birth.month() as i32;
    if today.day() < birth.day() {
        months -= 1;
    }
    let months = months.max(0);
    let (y, m) = (i64::from(months / 12), i64::from(months % 12));
    let t = Tr::current();
    let years = t.n("{0} jaar", "{0} jaar", y);
    let months = t.n("{0} maand", "{0} maanden", m);
    match (y, m) {
        (0, _) => months,
        (_, 0) => years,
        _ => t.f2("{0} en {1}", years, months),
    }
}

/// The consent in the parents' words.
pub fn consent_words(c: PhotoConsent) -> &'static str {
    match c {
        PhotoConsent::None => Tr::current().s("Geen foto's"),
        PhotoConsent::OwnParents => Tr::current().s("Foto's alleen voor de eigen ouders"),
        PhotoConsent::Group => {
            Tr::current().s("Foto's ook in groepsfoto's voor andere ouders van de groep")
        }
    }
}

/// "ma, di, do" from "mon,tue,thu".
pub fn days_words(days: &str) -> String {
    days.split(',')
        .filter_map(|d| match d.trim() {
            "mon" => Some(WEEKDAYS[0]),
            "tue" => Some(WEEKDAYS[1]),
            "wed" => Some(WEEKDAYS[2]),
            "thu" => Some(WEEKDAYS[3]),
            "fri" => Some(WEEKDAYS[4]),
            "sat" => Some(WEEKDAYS[5]),
            "sun" => Some(WEEKDAYS[6]),
            _ => None,
        })
        .map(|d| Tr::current().s(d))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn part_of_day_words(p: &str) -> &'static str {
    match p {
        "morning" => Tr::current().s("ochtend"),
        "afternoon" => Tr::current().s("middag"),
        _ => Tr::current().s("hele dag"),
    }
}

pub fn reason_words(r: &str) -> &'static str {
    match r {
        "ziek" => Tr::current().s("ziek"),
        "vakantie" => Tr::current().s("vakantie"),
        _ => Tr::current().s("anders"),
    }
}

/// The frame of every page.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub title: String,
    pub org: String,
    /// Name of the logged-in user ("" when anonymous).
    pub user: String,
    /// "parent", "manager" or "" (anonymous, or forced password change).
    pub role: &'static str,
    /// Which menu item is active.
    pub active: &'static str,
    pub csrf: String,
    /// A green confirmation line.
    pub notice: String,
    /// A red error line.
    pub error: String,
    /// The request's translator (`{{ l.t.s(...) }}` in a template);
    /// `Layout::default()` takes the request's language.
    pub t: Tr,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: Tr,
    title: &'a str,
    text: &'a str,
}

/// A stand-alone error page (no session needed).
pub fn error_page(title: &str, text: &str) -> String {
    ErrorPage {
        t: Tr::current(),
        title,
        text,
    }
    .render()
    .unwrap_or_else(|_| text.to_string())
}

// ---- auth

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub l: Layout,
    pub email: String,
}

#[derive(Template)]
#[template(path = "change_password.html")]
pub struct ChangePasswordPage {
    pub l: Layout,
    pub forced: bool,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage {
    pub l: Layout,
    pub sent: bool,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage {
    pub l: Layout,
    pub token: String,
    pub valid: bool,
}

// ---- parents

/// A child chip / option.
#[derive(Debug, Clone)]
pub struct KidOption {
    pub id: String,
    pub name: String,
    pub groups: String,
    pub selected: bool,
    /// Has a current placement (can write, report absence, ...).
    pub placed: bool,
}

#[derive(Debug, Clone)]
pub struct TimelineRow {
    /// "photo" or "diary".
    pub kind: &'static str,
    pub id: String,
    pub when: String,
    pub children: String,
    pub author: String,
    pub text: String,
    pub photos: Vec<String>,
}

/// What the group recorded today about one child, in words.
#[derive(Debug, Clone)]
pub struct TodayCard {
    pub child_id: String,
    pub child: String,
    /// "Gebracht om 08:05 door Papa", ...
    pub lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "timeline.html")]
pub struct TimelinePage {
    pub l: Layout,
    pub leaving: Vec<LeavingBanner>,
    pub today: Vec<TodayCard>,
    pub kids: Vec<KidOption>,
    pub all_selected: bool,
    pub items: Vec<TimelineRow>,
    /// Time of the last item when there may be older ones ("" otherwise).
    pub older: String,
    /// The child filter, kept on the next page ("" for all children).
    pub filter: String,
}

#[derive(Template)]
#[template(path = "photo.html")]
pub struct PhotoPage {
    pub l: Layout,
    pub id: String,
    pub when: String,
    pub children: String,
    pub width: u32,
    pub height: u32,
}

#[derive(Template)]
#[template(path = "diary.html")]
pub struct DiaryPage {
    pub l: Layout,
    pub row: TimelineRow,
    pub baby: Vec<String>,
}

#[derive(Template)]
#[template(path = "diary_new.html")]
pub struct DiaryNewPage {
    pub l: Layout,
    pub kids: Vec<KidOption>,
}

#[derive(Debug, Clone)]
pub struct ThreadSummary {
    pub child_id: String,
    pub child: String,
    pub groups: String,
    pub last: String,
    pub last_when: String,
    pub count: usize,
}

#[derive(Template)]
#[template(path = "messages.html")]
pub struct MessagesPage {
    pub l: Layout,
    pub threads: Vec<ThreadSummary>,
    pub kids: Vec<KidOption>,
}

#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: String,
    pub from_parent: bool,
    pub to_all: bool,
    pub author: String,
    pub group: String,
    pub when: String,
    pub body: String,
    /// "" when not read yet.
    pub read_when: String,
}

#[derive(Template)]
#[template(path = "thread.html")]
pub struct ThreadPage {
    pub l: Layout,
    pub child_id: String,
    pub child: String,
    pub groups: String,
    pub placed: bool,
    pub messages: Vec<MessageRow>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub l: Layout,
    pub m: MessageRow,
    pub child_id: String,
}

#[derive(Debug, Clone)]
pub struct AbsenceRow {
    pub id: String,
    pub child: String,
    pub from: String,
    pub to: String,
    pub part: &'static str,
    pub reason: &'static str,
    pub note: String,
    pub cancelled: bool,
    pub cancellable: bool,
}

#[derive(Template)]
#[template(path = "absences.html")]
pub struct AbsencesPage {
    pub l: Layout,
    pub kids: Vec<KidOption>,
    pub today: String,
    pub absences: Vec<AbsenceRow>,
}

#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub consent: &'static str,
    pub by: String,
    pub when: String,
}

#[derive(Debug, Clone)]
pub struct ConsentRow {
    pub child_id: String,
    pub child: String,
    pub current: &'static str,
    pub words: &'static str,
    pub history: Vec<HistoryRow>,
}

#[derive(Template)]
#[template(path = "consents.html")]
pub struct ConsentsPage {
    pub l: Layout,
    pub rows: Vec<ConsentRow>,
}

#[derive(Debug, Clone)]
pub struct PrefRow {
    pub kind: &'static str,
    pub label: &'static str,
    pub on: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
pub struct NotificationsPage {
    pub l: Layout,
    pub prefs: Vec<PrefRow>,
}

#[derive(Debug, Clone)]
pub struct AccountChild {
    pub id: String,
    pub first_name: String,
    pub name: String,
    /// The latest archive request of the child: "waiting", "ready",
    /// "downloaded", "expired", "failed", or "" (none).
    pub archive: &'static str,
    /// For "ready": the request's id and the link's last day.
    pub archive_id: String,
    pub archive_until: String,
    pub age: String,
    pub role: &'static str,
    pub placements: Vec<String>,
    pub documents: Vec<(String, String)>,
}

/// "The care of Noor stopped; photos and diary are kept until …" with the
/// archive button (Mijn kind and Overig).
#[derive(Debug, Clone)]
pub struct LeavingBanner {
    pub child_id: String,
    pub first_name: String,
    pub until: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage {
    pub l: Layout,
    pub leaving: Vec<LeavingBanner>,
    pub name: String,
    pub email: String,
    pub children: Vec<AccountChild>,
}

#[derive(Template)]
#[template(path = "document.html")]
pub struct DocumentPage {
    pub l: Layout,
    pub title: String,
    pub body: String,
    pub when: String,
}

// ---- location manager

#[derive(Debug, Clone)]
pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub ages: String,
    pub children: i64,
    pub staff: i64,
    pub devices: i64,
}

#[derive(Template)]
#[template(path = "admin_overview.html")]
pub struct AdminOverviewPage {
    pub l: Layout,
    pub groups: Vec<GroupRow>,
    /// (id, name) of every location, for "Aanwezig vandaag".
    pub locations: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin_presence.html")]
pub struct AdminPresencePage {
    pub l: Layout,
    /// "vr 4 dec 2026".
    pub date: String,
    /// "14:05".
    pub time: String,
    /// Today and yesterday as `YYYY-MM-DD`, for the day logs.
    pub today: String,
    pub yesterday: String,
    pub groups: Vec<crate::portal::attendance::GroupNow>,
}

/// The day log for print (a page of its own: no menu, print CSS).
#[derive(Template)]
#[template(path = "attendance_log.html")]
pub struct AttendanceLogPage {
    pub t: Tr,
    pub org: String,
    pub log: crate::portal::attendance::GroupLog,
    pub group_id: String,
    pub location_id: String,
    /// This day, the day before and the day after as `YYYY-MM-DD`.
    pub day: String,
    pub prev: String,
    pub next: String,
    pub printed_by: String,
    pub printed_at: String,
}

#[derive(Debug, Clone)]
pub struct AdminChildRow {
    pub id: String,
    pub name: String,
    pub age: String,
    pub birth: String,
    pub placements: Vec<String>,
    pub consent: &'static str,
    pub consent_words: &'static str,
    pub parents: Vec<String>,
    pub allergies: String,
}

#[derive(Template)]
#[template(path = "admin_children.html")]
pub struct AdminChildrenPage {
    pub l: Layout,
    pub rows: Vec<AdminChildRow>,
}

#[derive(Template)]
#[template(path = "admin_child.html")]
pub struct AdminChildPage {
    pub l: Layout,
    pub row: AdminChildRow,
    pub history: Vec<HistoryRow>,
    /// Who opened this child's data, newest first.
    pub access: Vec<AccessRow>,
}

/// One line of a child's access log.
#[derive(Debug, Clone)]
pub struct AccessRow {
    pub when: String,
    pub who: String,
    pub what: String,
}

#[derive(Debug, Clone)]
pub struct AdminParentRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub children: Vec<String>,
    pub must_change: bool,
}

#[derive(Template)]
#[template(path = "admin_parents.html")]
pub struct AdminParentsPage {
    pub l: Layout,
    pub rows: Vec<AdminParentRow>,
}

#[derive(Debug, Clone)]
pub struct AdminStaffRow {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    pub groups: String,
}

#[derive(Template)]
#[template(path = "admin_staff.html")]
pub struct AdminStaffPage {
    pub l: Layout,
    pub rows: Vec<AdminStaffRow>,
}

#[derive(Template)]
#[template(path = "admin_consents.html")]
pub struct AdminConsentsPage {
    pub l: Layout,
    pub rows: Vec<(AdminChildRow, Vec<HistoryRow>)>,
}

#[derive(Template)]
#[template(path = "admin_import.html")]
pub struct AdminImportPage {
    pub l: Layout,
    pub errors: Vec<String>,
    pub imported: Vec<String>,
    pub text: String,
    /// Existing accounts under another name: offer "the same parent".
    pub confirm: bool,
}

#[derive(Debug, Clone)]
pub struct DeviceRowView {
    pub id: String,
    pub name: String,
    pub group: String,
    pub last_seen: String,
    pub online: bool,
    pub waiting: String,
    pub version: String,
    pub revoked: String,
    /// The appliance release it runs (`kring-qemu-virt 2.0.0`), or "".
    pub release: String,
    /// The update that concerns it now, in words (`2.0.0: installeren`), or "".
    pub update: String,
    /// The update went wrong (shown in red).
    pub update_bad: bool,
    /// When it last reported on that update, or "".
    pub update_when: String,
    /// The release "Opnieuw proberen" is for, or "" (no button).
    pub retry_release: String,
}

#[derive(Template)]
#[template(path = "admin_devices.html")]
pub struct AdminDevicesPage {
    pub l: Layout,
    pub groups: Vec<(String, String)>,
    pub devices: Vec<DeviceRowView>,
    /// A fresh code: (code, group name, valid until, QR as SVG, link).
    pub code: Option<(String, String, String, String, String)>,
}

// ---- updates

/// A state as counted on the updates page ("downloaden: 2"); None: offered,
/// nothing reported yet.
pub fn update_state_label(state: Option<UpdateState>) -> &'static str {
    let t = Tr::current();
    match state {
        None => t.s("aangeboden"),
        Some(UpdateState::Downloading) => t.s("downloaden"),
        Some(UpdateState::Downloaded) => t.s("gedownload"),
        Some(UpdateState::Installing) => t.s("installeren"),
        Some(UpdateState::Installed) => t.s("geïnstalleerd"),
        Some(UpdateState::Running) => t.s("nieuwe versie draait"),
        Some(UpdateState::Good) => t.s("goedgekeurd"),
        Some(UpdateState::RolledBack) => t.s("teruggezet"),
        Some(UpdateState::Failed) => t.s("mislukt"),
    }
}

/// Whether a state means the update went wrong (shown in red).
pub fn update_state_bad(state: Option<UpdateState>) -> bool {
    matches!(state, Some(UpdateState::RolledBack | UpdateState::Failed))
}

/// Where a device is with an update, in the manager's words; `detail` is
/// the device's (bytes so far while downloading, else the reason), `size`
/// the bundle's.
pub fn update_words(state: Option<UpdateState>, detail: Option<&str>, size: u64) -> String {
    let reason = detail.map(str::trim).filter(|d| !d.is_empty());
    let t = Tr::current();
    match state {
        Some(UpdateState::Downloading) => match reason.and_then(|d| d.parse::<u64>().ok()) {
            Some(done) => t.f("downloaden ({0})", progress_words(done.min(size), size)),
            None => t.s("downloaden").into(),
        },
        Some(UpdateState::Downloaded) => t.s("gedownload, wacht op installatiemoment").into(),
        Some(UpdateState::Installing) => t.s("installeren").into(),
        Some(UpdateState::Installed) => t.s("geïnstalleerd, herstart").into(),
        Some(UpdateState::RolledBack | UpdateState::Failed) => match reason {
            Some(r) => format!("{}: {r}", update_state_label(state)),
            None => update_state_label(state).into(),
        },
        other => update_state_label(other).into(),
    }
}

/// "12 van 180 MB" (kB below a megabyte); rounded as [`size_words`].
pub fn progress_words(done: u64, total: u64) -> String {
    let (unit, name) = if total >= 1_000_000 {
        (1_000_000, "MB")
    } else {
        (1_000, "kB")
    };
    Tr::current().f3(
        "{0} van {1} {2}",
        done / unit,
        (total + unit / 2) / unit,
        name,
    )
}

/// "180 MB", "27 kB", "512 bytes".
pub fn size_words(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{} MB", (b + 500_000) / 1_000_000),
        b if b >= 1_000 => format!("{} kB", (b + 500) / 1_000),
        b => format!("{b} bytes"),
    }
}

/// One count on the updates page.
#[derive(Debug, Clone)]
pub struct CountView {
    pub label: &'static str,
    pub count: u32,
    pub bad: bool,
}

/// A release on the updates page.
#[derive(Debug, Clone)]
pub struct ReleaseView {
    pub id: String,
    pub version: String,
    pub compatible: String,
    pub size: String,
    pub uploaded: String,
    pub sha256: String,
    pub rollouts: u32,
    pub counts: Vec<CountView>,
}

#[derive(Template)]
#[template(path = "admin_updates.html")]
pub struct AdminUpdatesPage {
    pub l: Layout,
    pub releases: Vec<ReleaseView>,
    /// Rollout targets as (value, name): locations, groups, single screens.
    pub locations: Vec<(String, String)>,
    pub groups: Vec<(String, String)>,
    pub devices: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_states_in_dutch() {
        let mb = 180_000_000;
        assert_eq!(
            update_words(Some(UpdateState::Downloading), Some("12000000"), mb),
            "downloaden (12 van 180 MB)"
        );
        assert_eq!(
            update_words(Some(UpdateState::Downloading), Some("veel"), mb),
            "downloaden"
        );
        assert_eq!(
            update_words(Some(UpdateState::Downloading), Some("13000"), 26_395),
            "downloaden (13 van 26 kB)"
        );
        assert_eq!(update_words(None, None, mb), "aangeboden");
        assert_eq!(
            update_words(Some(UpdateState::Downloaded), None, mb),
            "gedownload, wacht op installatiemoment"
        );
        assert_eq!(
            update_words(Some(UpdateState::Installed), None, mb),
            "geïnstalleerd, herstart"
        );
        assert_eq!(
            update_words(Some(UpdateState::Running), None, mb),
            "nieuwe versie draait"
        );
        assert_eq!(
            update_words(Some(UpdateState::Good), None, mb),
            "goedgekeurd"
        );
        assert_eq!(
            update_words(Some(UpdateState::RolledBack), Some("kiosk start niet"), mb),
            "teruggezet: kiosk start niet"
        );
        assert_eq!(
            update_words(Some(UpdateState::Failed), Some(" "), mb),
            "mislukt"
        );
        assert!(update_state_bad(Some(UpdateState::Failed)));
        assert!(!update_state_bad(Some(UpdateState::Good)));
        assert_eq!(size_words(512), "512 bytes");
    }

    #[test]
    fn ages_and_dates_in_dutch() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).expect("date");
        let b = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(age(b(2026, 3, 22), today), "8 maanden");
        assert_eq!(age(b(2026, 3, 23), today), "7 maanden");
        assert_eq!(age(b(2025, 10, 1), today), "1 jaar en 1 maand");
        assert_eq!(age(b(2020, 11, 22), today), "6 jaar");
        assert_eq!(day(today), "zo 22 nov 2026");
        // 12:00 UTC in November is 13:00 in Amsterdam, in July 14:00.
        let t = DateTime::parse_from_rfc3339("2026-11-22T12:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        let amsterdam = Calendar::default();
        assert_eq!(when(&amsterdam, t), "zo 22 nov 13:00");
        let t = DateTime::parse_from_rfc3339("2026-07-01T12:00:00Z")
            .expect("t")
            .with_timezone(&Utc);
        assert_eq!(when(&amsterdam, t), "wo 1 jul 14:00");
        // the same moment on Bonaire (UTC-4, no summer time)
        let bonaire = Calendar::from_name("America/Kralendijk").expect("zone");
        assert_eq!(when(&bonaire, t), "wo 1 jul 08:00");
        assert_eq!(days_words("mon,wed,fri"), "ma, wo, vr");
    }
}

#[derive(Template)]
#[template(path = "admin_erase.html")]
pub struct AdminErasePage {
    pub l: Layout,
    pub name: String,
    /// "child" or "parent".
    pub kind: &'static str,
    pub action: String,
}

#[derive(Debug, Clone)]
pub struct ErasureLine {
    pub when: String,
    pub what: String,
    pub by: String,
    pub counts: String,
}

#[derive(Template)]
#[template(path = "admin_erasures.html")]
pub struct AdminErasuresPage {
    pub l: Layout,
    pub lines: Vec<ErasureLine>,
}
