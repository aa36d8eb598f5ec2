//! Attendance as the portal shows it, in Dutch: a parent's "Vandaag" lines,
//! the location manager's "Aanwezig vandaag" per group, and a group's day log
//! for the GGD (every event with what became of it, the ratio over the day,
//! the time below the ratio against the day's allowance) as page rows and as
//! CSV. Pure: the store gives the day ([`GroupDay`], [`AttendanceRow`]s),
//! [`Presence::fold`] reads it the way the group's screen does, `kring_bkr`
//! gives the ratio.
//!
//! School days are Monday to Friday: the server does not know school
//! holidays yet, so a BSO weekday in the holidays gets a school day's half
//! hour below the ratio instead of three hours (stricter than the rule).

use crate::portal::i18n::{mark, tr};
use crate::store::{AttendanceRow, GroupDay};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use kring_bkr::Care;
use kring_bkr::day::{DayKind, Moment, Standing, day_budget, standing};
use kring_bkr::{Counts, assess_counts};
use kring_protocol::attendance::{ChildDay, Conflict, Effect, LogLine, Presence, StaffDay};
use kring_protocol::{
    AbsenceReason, AttendanceEvent, AttendanceId, Calendar, ChildId, GroupCare, PartOfDay, StaffId,
};
use std::collections::HashMap;

/// The BKR table of a group's kind of care.
pub fn care_of(care: GroupCare) -> Care {
    match care {
        GroupCare::Dagopvang => Care::Dagopvang,
        GroupCare::Bso => Care::Bso,
    }
}

/// The children born on `births` counted into `care`'s age bands on `day`;
/// a birth date after the day (a data error) is logged and not counted.
pub fn counts(care: Care, births: &[NaiveDate], day: NaiveDate) -> Counts {
    let born: Vec<NaiveDate> = births
        .iter()
        .copied()
        .filter(|b| {
            let ok = *b <= day;
            if !ok {
                tracing::warn!(birth = %b, %day, "a child present with a birth date after the day");
            }
            ok
        })
        .collect();
    Counts::of(care, &born, day).unwrap_or_default()
}

/// Monday to Friday. School holidays are not known yet (see the module).
pub fn school_day(day: NaiveDate) -> bool {
    day.weekday().number_from_monday() <= 5
}

pub fn reason_words(r: AbsenceReason) -> &'static str {
    match r {
        AbsenceReason::Ziek => tr().s("ziek"),
        AbsenceReason::Vakantie => tr().s("vakantie"),
        AbsenceReason::Anders => tr().s("anders"),
    }
}

/// Folds a day's rows in the server's order.
pub fn fold(rows: &[AttendanceRow]) -> Presence {
    Presence::fold(rows.iter().map(AttendanceRow::ordered))
}

fn with_by(what: String, by: Option<&str>) -> String {
    match by {
        Some(by) => tr().f2("{0} door {1}", what, by),
        None => what,
    }
}

/// What a parent reads about the child's day: "Gebracht om 08:05 door Papa",
/// "Opgehaald om 17:12 door Oma", "Afgemeld door de groep: ziek". Only what
/// counts (undone, replaced and conflicting taps are not shown).
pub fn parent_lines(day: &ChildDay, calendar: &Calendar) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((reason, _, _)) = &day.absent {
        out.push(tr().f("Afgemeld door de groep: {0}", reason_words(*reason)));
    }
    for stay in &day.stays {
        out.push(with_by(
            tr().f("Gebracht om {0}", calendar.hhmm(stay.in_at)),
            stay.brought_by.as_deref(),
        ));
        if let Some(out_at) = stay.out_at {
            out.push(with_by(
                tr().f("Opgehaald om {0}", calendar.hhmm(out_at)),
                stay.picked_up_by.as_deref(),
            ));
        }
    }
    out
}

// ---- names -------------------------------------------------------------------

/// The names a group's day needs.
struct Names<'a> {
    children: HashMap<ChildId, (&'a str, &'a str, NaiveDate)>,
    staff: HashMap<StaffId, &'a str>,
}

impl<'a> Names<'a> {
    fn of(g: &'a GroupDay) -> Self {
        Self {
            children: g
                .children
                .iter()
                .map(|c| {
                    (
                        c.id,
                        (c.first_name.as_str(), c.last_name.as_str(), c.birth_date),
                    )
                })
                .collect(),
            staff: g.staff.iter().map(|s| (s.id, s.name.as_str())).collect(),
        }
    }

    fn child(&self, id: &ChildId) -> String {
        match self.children.get(id) {
            Some((first, last, _)) => format!("{first} {last}"),
            None => tr().s("onbekend kind").into(),
        }
    }

    fn staff(&self, id: &StaffId) -> String {
        self.staff.get(id).map_or_else(
            || tr().s("onbekende medewerker").into(),
            |n| (*n).to_string(),
        )
    }

    fn births(&self, ids: &[ChildId]) -> Vec<NaiveDate> {
        ids.iter()
            .filter_map(|id| self.children.get(id).map(|c| c.2))
            .collect()
    }

    fn subject(&self, e: &AttendanceEvent) -> String {
        match (e.child(), e.staff()) {
            (Some(c), _) => self.child(&c),
            (_, Some(s)) => self.staff(&s),
            _ => String::new(),
        }
    }
}

// ---- the ratio ------------------------------------------------------------------

/// "1 kind", "7 kinderen".
fn children_words(n: u32) -> String {
    tr().n("{0} kind", "{0} kinderen", i64::from(n))
}

/// "1 beroepskracht", "2 beroepskrachten".
fn staff_words(n: u32) -> String {
    tr().n("{0} beroepskracht", "{0} beroepskrachten", i64::from(n))
}

/// A standing as a CSS class and in words.
fn standing_words(s: Standing) -> (&'static str, &'static str) {
    match s {
        Standing::Enough => ("enough", tr().s("voldoende")),
        Standing::Below { .. } => ("below", tr().s("onder de ratio")),
        Standing::BelowHalf { .. } => ("below-half", tr().s("minder dan de helft van de ratio")),
        Standing::TooLarge => ("too-large", tr().s("groep te groot")),
    }
}

/// The ratio of `children` and `staff` present in `care` on `day`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ratio {
    /// "7 kinderen · 2 beroepskrachten nodig · 2 aanwezig".
    pub line: String,
    /// `enough`, `below`, `below-half` or `too-large`.
    pub class: &'static str,
    pub words: &'static str,
    pub children: u32,
    /// None when the group is too large for the table.
    pub required: Option<u32>,
    pub staff: u32,
}

fn ratio(care: Care, counts: Counts, staff: u32) -> Ratio {
    let required = assess_counts(care, counts).required();
    let (class, words) = standing_words(standing(care, counts, staff));
    let need = match required {
        Some(r) => tr().f("{0} nodig", staff_words(r)),
        None => tr().s("groep te groot voor de tabel").into(),
    };
    Ratio {
        line: tr().f3(
            "{0} · {1} · {2} aanwezig",
            children_words(counts.total()),
            need,
            staff,
        ),
        class,
        words,
        children: counts.total(),
        required,
        staff,
    }
}

/// Band names of `care` (see [`Counts`]).
fn band_names(care: Care) -> &'static [&'static str] {
    const DAGOPVANG: [&str; 4] = [
        mark("0 jaar"),
        mark("1 jaar"),
        mark("2 jaar"),
        mark("3 jaar"),
    ];
    const BSO: [&str; 2] = [mark("4 tot 7 jaar"), mark("7 jaar en ouder")];
    match care {
        Care::Dagopvang => &DAGOPVANG,
        Care::Bso => &BSO,
    }
}

/// "2 van 1 jaar, 3 van 2 jaar" (bands with children only), tr().s("geen").
fn bands_words(care: Care, counts: Counts) -> String {
    let parts: Vec<String> = band_names(care)
        .iter()
        .zip(counts.0)
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| tr().f2("{0} van {1}", n, tr().s(name)))
        .collect();
    if parts.is_empty() {
        tr().s("geen").into()
    } else {
        parts.join(", ")
    }
}

/// "0 min", "25 min", "1 u 05 min": whole minutes, a started minute counted.
pub fn duration_words(d: Duration) -> String {
    let minutes = (d.num_seconds().max(0) + 59) / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => tr().f("{0} min", m),
        (h, m) => tr().f2("{0} u {1} min", h, format!("{m:02}")),
    }
}

// ---- now: "Aanwezig vandaag" ----------------------------------------------------

/// A child on the presence page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildNow {
    pub name: String,
    /// "08:05" (here), "08:05–17:12" (gone), "" (absent, expected).
    pub time: String,
    /// Who brought (here), picked up (gone), the reason (absent).
    pub detail: String,
}

/// A staff member on the presence page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffNow {
    pub name: String,
    /// Since when on the floor or on the break.
    pub since: String,
}

/// One group on the presence page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNow {
    pub id: String,
    pub name: String,
    pub care: &'static str,
    pub here: Vec<ChildNow>,
    pub gone: Vec<ChildNow>,
    pub absent: Vec<ChildNow>,
    /// Planned today and nothing recorded yet.
    pub expected: Vec<ChildNow>,
    pub on_floor: Vec<StaffNow>,
    pub on_break: Vec<StaffNow>,
    pub ratio: Ratio,
    /// Taps that did not fit (see the day log).
    pub conflicts: usize,
}

fn staff_since(day: &StaffDay) -> Option<DateTime<Utc>> {
    let shift = day.shifts.last()?.from;
    let back = day.breaks.last().and_then(|b| b.to).filter(|t| *t > shift);
    Some(back.unwrap_or(shift))
}

/// The group as it is now (after every event of the day).
pub fn group_now(g: &GroupDay, calendar: &Calendar) -> GroupNow {
    let names = Names::of(g);
    let p = fold(&g.events);
    let care = care_of(g.care);
    let hhmm = |t: DateTime<Utc>| calendar.hhmm(t);
    let (mut here, mut gone, mut absent, mut expected) = (vec![], vec![], vec![], vec![]);
    for c in &g.children {
        let day = p.child(&c.id);
        let name = format!("{} {}", c.first_name, c.last_name);
        match day.stays.last() {
            Some(s) if s.out_at.is_none() => here.push(ChildNow {
                name,
                time: hhmm(s.in_at),
                detail: s.brought_by.clone().unwrap_or_default(),
            }),
            Some(s) => gone.push(ChildNow {
                name,
                time: format!(
                    "{}–{}",
                    hhmm(s.in_at),
                    s.out_at.map(hhmm).unwrap_or_default()
                ),
                detail: s.picked_up_by.clone().unwrap_or_default(),
            }),
            None => match &day.absent {
                Some((reason, note, _)) => absent.push(ChildNow {
                    name,
                    time: String::new(),
                    detail: match note {
                        Some(n) => format!("{}: {n}", reason_words(*reason)),
                        None => reason_words(*reason).to_string(),
                    },
                }),
                None => match (c.planned, c.reported_absent) {
                    (true, Some((reason, part))) => absent.push(ChildNow {
                        name,
                        time: String::new(),
                        detail: tr().f2(
                            "{0}{1} (vooraf afgemeld)",
                            reason_words(reason),
                            match part {
                                PartOfDay::WholeDay => "",
                                PartOfDay::Morning => tr().s(", ochtend"),
                                PartOfDay::Afternoon => tr().s(", middag"),
                            },
                        ),
                    }),
                    (true, None) => expected.push(ChildNow {
                        name,
                        time: String::new(),
                        detail: String::new(),
                    }),
                    (false, _) => {}
                },
            },
        }
    }
    let (mut on_floor, mut on_break) = (vec![], vec![]);
    for (id, day) in &p.staff {
        if !day.working() {
            continue;
        }
        let row = |since: Option<DateTime<Utc>>| StaffNow {
            name: names.staff(id),
            since: since.map(hhmm).unwrap_or_default(),
        };
        if day.on_break() {
            on_break.push(row(day.breaks.last().map(|b| b.from)));
        } else {
            on_floor.push(row(staff_since(day)));
        }
    }
    on_floor.sort_by(|a, b| a.name.cmp(&b.name));
    on_break.sort_by(|a, b| a.name.cmp(&b.name));
    let present = counts(care, &names.births(&p.children_here()), g.span.day);
    let staff = u32::try_from(p.staff_on_floor().len()).unwrap_or(u32::MAX);
    GroupNow {
        id: g.group.to_string(),
        name: g.name.clone(),
        care: match care {
            Care::Dagopvang => "KDV",
            Care::Bso => "BSO",
        },
        here,
        gone,
        absent,
        expected,
        on_floor,
        on_break,
        ratio: ratio(care, present, staff),
        conflicts: p
            .log
            .iter()
            .filter(|l| matches!(l.effect, Effect::Conflict(_)))
            .count(),
    }
}

// ---- the day log ---------------------------------------------------------------------

/// One event of the day log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRow {
    /// When it happened ("08:05").
    pub time: String,
    /// tr().s("Gebracht"), tr().s("Opgehaald"), "Afgemeld: ziek", tr().s("Begint"), "Pauze", ...
    pub what: String,
    /// The child or staff member (for an undo: of the event undone).
    pub who: String,
    /// Who brought or picked up.
    pub by: String,
    /// The staff member who was unlocked.
    pub recorded_by: String,
    /// tr().s("geteld"), tr().s("ongedaan gemaakt"), tr().s("vervangen door correctie"), tr().s("conflict: al uitgecheckt"), ...
    pub effect: String,
    /// `counted`, `undone`, `replaced`, `undo` or `conflict`.
    pub class: &'static str,
    /// For a correction: the time and kind of the event it replaces.
    pub correction_of: String,
    /// Server time of arrival ("08:05:31").
    pub received: String,
    pub device: String,
}

/// One stretch of the day with the same children and staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatioRow {
    pub from: String,
    pub to: String,
    pub children: u32,
    /// Children per age band, in words.
    pub bands: String,
    pub staff: u32,
    /// Staff required, or tr().s("te groot").
    pub required: String,
    pub class: &'static str,
    pub words: &'static str,
}

/// The day's time below the ratio against its allowance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayTotals {
    pub below: String,
    pub below_half: String,
    pub too_large: String,
    pub allowance: String,
    /// Which allowance applies, in words.
    pub kind: String,
    pub overspent: bool,
    /// Anything not allowed happened: more than the allowance, below half
    /// of the ratio, or a group too large (the verdict is shown as an error).
    pub alert: bool,
    /// One sentence: within the allowance or not, never below half or not.
    pub verdict: String,
    /// Up to when the day is counted (tr().s("hele dag"), "tot 14:05").
    pub counted_until: String,
}

/// A group's day log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLog {
    pub group: String,
    pub location: String,
    /// "vr 4 dec 2026".
    pub date: String,
    pub rows: Vec<LogRow>,
    pub ratio: Vec<RatioRow>,
    pub totals: DayTotals,
}

fn event_words(e: &AttendanceEvent) -> String {
    match e {
        AttendanceEvent::ChildIn { .. } => tr().s("Gebracht").into(),
        AttendanceEvent::ChildOut { .. } => tr().s("Opgehaald").into(),
        AttendanceEvent::ChildAbsent { reason, note, .. } => match note {
            Some(n) => tr().f2("Afgemeld: {0} ({1})", reason_words(*reason), n),
            None => tr().f("Afgemeld: {0}", reason_words(*reason)),
        },
        AttendanceEvent::StaffIn { .. } => tr().s("Begint").into(),
        AttendanceEvent::StaffOut { .. } => tr().s("Stopt").into(),
        AttendanceEvent::BreakStart { .. } => tr().s("Pauze begint").into(),
        AttendanceEvent::BreakEnd { .. } => tr().s("Pauze voorbij").into(),
        AttendanceEvent::Undo { .. } => tr().s("Ongedaan maken").into(),
    }
}

fn conflict_words(c: Conflict, child_went_home: bool) -> &'static str {
    match c {
        Conflict::AlreadyIn => tr().s("conflict: al binnen"),
        Conflict::NotIn if child_went_home => tr().s("conflict: al uitgecheckt"),
        Conflict::NotIn => tr().s("conflict: niet binnen"),
        Conflict::AlreadyWorking => tr().s("conflict: al aan het werk"),
        Conflict::NotWorking => tr().s("conflict: niet aan het werk"),
        Conflict::AlreadyOnBreak => tr().s("conflict: al met pauze"),
        Conflict::NotOnBreak => tr().s("conflict: niet met pauze"),
    }
}

fn log_rows(p: &Presence, names: &Names<'_>, calendar: &Calendar, g: &GroupDay) -> Vec<LogRow> {
    let by_id: HashMap<AttendanceId, &LogLine> = p.log.iter().map(|l| (l.item.id, l)).collect();
    let rows_by_id: HashMap<AttendanceId, &AttendanceRow> =
        g.events.iter().map(|r| (r.item.id, r)).collect();
    let hhmm = |t: DateTime<Utc>| calendar.hhmm(t);
    p.log
        .iter()
        .map(|l| {
            let e = &l.item.event;
            let target = match e {
                AttendanceEvent::Undo { target } => by_id.get(target).copied(),
                _ => None,
            };
            let who = match target {
                Some(t) => names.subject(&t.item.event),
                None => names.subject(e),
            };
            let (effect, class) = match l.effect {
                Effect::Applied => (tr().s("geteld").to_string(), "counted"),
                Effect::Undone => (tr().s("ongedaan gemaakt").into(), "undone"),
                Effect::Replaced => (tr().s("vervangen door correctie").into(), "replaced"),
                Effect::Undoes => (
                    match target {
                        Some(t) => tr().f2(
                            "maakt ongedaan: {0} om {1}",
                            event_words(&t.item.event).to_lowercase(),
                            hhmm(t.item.at),
                        ),
                        None => tr().s("maakt ongedaan").into(),
                    },
                    "undo",
                ),
                Effect::Conflict(c) => {
                    let went_home = e.child().is_some_and(|c| p.child(&c).gone());
                    (conflict_words(c, went_home).into(), "conflict")
                }
            };
            let correction_of = l
                .item
                .replaces
                .and_then(|r| by_id.get(&r))
                .map(|r| {
                    tr().f2(
                        "{0} om {1}",
                        event_words(&r.item.event).to_lowercase(),
                        hhmm(r.item.at),
                    )
                })
                .unwrap_or_default();
            let row = rows_by_id.get(&l.item.id);
            LogRow {
                time: hhmm(l.item.at),
                what: event_words(e),
                who,
                by: e.by().unwrap_or_default().to_string(),
                recorded_by: l
                    .item
                    .recorded_by
                    .map(|s| names.staff(&s))
                    .unwrap_or_default(),
                effect,
                class,
                correction_of,
                received: row
                    .map(|r| calendar.local(r.received_at).format("%H:%M:%S").to_string())
                    .unwrap_or_default(),
                device: row.and_then(|r| r.device_name.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

/// The day log of `g`, counted up to `now` when the day is today (the
/// whole day when it is over, nothing when it has not begun).
pub fn group_log(g: &GroupDay, calendar: &Calendar, now: DateTime<Utc>) -> GroupLog {
    let names = Names::of(g);
    let p = fold(&g.events);
    let care = care_of(g.care);
    let until = now.clamp(g.span.from, g.span.until);
    let snaps = p.timeline(g.span.from, until);
    let mut moments = Vec::with_capacity(snaps.len());
    let mut ratio_rows = Vec::with_capacity(snaps.len());
    for (i, s) in snaps.iter().enumerate() {
        let to = snaps.get(i + 1).map_or(until, |n| n.at);
        let counts = counts(care, &names.births(&s.children), g.span.day);
        let staff = u32::try_from(s.staff.len()).unwrap_or(u32::MAX);
        let r = ratio(care, counts, staff);
        ratio_rows.push(RatioRow {
            from: calendar.hhmm(s.at),
            to: if to == g.span.until {
                "24:00".into()
            } else {
                calendar.hhmm(to)
            },
            children: counts.total(),
            bands: bands_words(care, counts),
            staff,
            required: r
                .required
                .map_or_else(|| tr().s("te groot").into(), |n| n.to_string()),
            class: r.class,
            words: r.words,
        });
        moments.push(Moment {
            at: s.at,
            counts,
            staff,
        });
    }
    let school = school_day(g.span.day);
    let kind = DayKind::usual(care, school);
    let budget = day_budget(care, kind, &moments, until);
    let kind_words = match kind {
        DayKind::SchoolDay => tr()
            .s("BSO op een schooldag (ma–vr; schoolvakanties zijn nog niet bekend): een half uur")
            .to_string(),
        DayKind::Long if care == Care::Bso => tr().s("BSO op een vrije dag: 3 uur").to_string(),
        DayKind::Long => tr().s("dagopvang: 3 uur").to_string(),
        DayKind::None => tr().s("geen afwijking toegestaan").to_string(),
    };
    let mut verdict = if budget.overspent() {
        tr().f2(
            "Langer onder de ratio dan toegestaan: {0} van {1}.",
            duration_words(budget.below),
            duration_words(budget.allowance),
        )
    } else {
        tr().f2(
            "Binnen de toegestane afwijking: {0} van {1}.",
            duration_words(budget.below),
            duration_words(budget.allowance),
        )
    };
    if budget.below_half > Duration::zero() {
        verdict.push_str(&tr().f(
            " Minder dan de helft van de ratio: {0} (nooit toegestaan).",
            duration_words(budget.below_half),
        ));
    }
    if budget.too_large > Duration::zero() {
        verdict.push_str(&tr().f(
            " Groep te groot voor de tabel: {0}.",
            duration_words(budget.too_large),
        ));
    }
    GroupLog {
        group: g.name.clone(),
        location: g.location_name.clone(),
        date: super::web::view::day(g.span.day),
        rows: log_rows(&p, &names, calendar, g),
        ratio: ratio_rows,
        totals: DayTotals {
            below: duration_words(budget.below),
            below_half: duration_words(budget.below_half),
            too_large: duration_words(budget.too_large),
            allowance: duration_words(budget.allowance),
            kind: kind_words,
            overspent: budget.overspent(),
            alert: budget.overspent()
                || budget.below_half > Duration::zero()
                || budget.too_large > Duration::zero(),
            verdict,
            counted_until: if until >= g.span.until {
                tr().s("hele dag").into()
            } else {
                tr().f("tot {0}", calendar.hhmm(until))
            },
        },
    }
}

/// Excel runs a cell that starts with one of these as a formula: such a cell
/// gets a leading apostrophe (OWASP's advice on CSV injection).
fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// A semicolon-separated writer (see [`log_csv`]).
fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(Vec::new())
}

fn bytes(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, csv::Error> {
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The header of the day log's CSV (its first line after the BOM).
pub const CSV_HEADER: [&str; 10] = [
    "tijd",
    "wat",
    "kind of medewerker",
    "gebracht of opgehaald door",
    "vastgelegd door",
    "effect",
    "correctie van",
    "ontvangen",
    "scherm",
    "groep",
];

/// The day log as CSV for Dutch Excel: **semicolon**-separated (Excel in a
/// Dutch locale splits on `;`, since `,` is the decimal comma), UTF-8 with a
/// byte-order mark (so Excel reads é and ë), quoted where needed (`csv`
/// crate: fields with `;`, `"` or line breaks). First the events under
/// [`CSV_HEADER`], then after an empty line the ratio over the day, then the
/// totals.
pub fn log_csv(log: &GroupLog) -> Result<Vec<u8>, csv::Error> {
    let mut events = writer();
    events.write_record(CSV_HEADER)?;
    for r in &log.rows {
        events.write_record(
            [
                &r.time,
                &r.what,
                &r.who,
                &r.by,
                &r.recorded_by,
                &r.effect,
                &r.correction_of,
                &r.received,
                &r.device,
                &log.group,
            ]
            .map(|s| cell(s)),
        )?;
    }
    let mut ratio = writer();
    ratio.write_record([
        "van",
        "tot",
        "kinderen",
        "per leeftijd",
        "beroepskrachten aanwezig",
        "beroepskrachten nodig",
        "stand",
    ])?;
    for r in &log.ratio {
        ratio.write_record([
            r.from.clone(),
            r.to.clone(),
            r.children.to_string(),
            r.bands.clone(),
            r.staff.to_string(),
            r.required.clone(),
            r.words.to_string(),
        ])?;
    }
    let mut totals = writer();
    let t = &log.totals;
    for (k, v) in [
        ("groep", &log.group),
        ("locatie", &log.location),
        ("datum", &log.date),
        (tr().s("geteld"), &t.counted_until),
        (tr().s("onder de ratio"), &t.below),
        ("minder dan de helft", &t.below_half),
        (tr().s("groep te groot"), &t.too_large),
        ("toegestaan", &t.allowance),
        ("soort dag", &t.kind),
        ("oordeel", &t.verdict),
    ] {
        totals.write_record([k.to_string(), cell(v)])?;
    }
    // an empty line between the parts
    let mut out = Vec::from("\u{feff}".as_bytes());
    out.extend(bytes(events)?);
    out.extend_from_slice(b"\r\n");
    out.extend(bytes(ratio)?);
    out.extend_from_slice(b"\r\n");
    out.extend(bytes(totals)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DayChild, DaySpan, DayStaff};
    use chrono::TimeZone;
    use kring_protocol::{AttendanceItem, GroupId, LocationId};

    const DAY: (i32, u32, u32) = (2026, 12, 4); // a Friday

    fn cal() -> Calendar {
        Calendar::default()
    }

    /// `h:m` on the day in Amsterdam (UTC+1 in December).
    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(DAY.0, DAY.1, DAY.2, h - 1, m, 0)
            .single()
            .unwrap_or_else(|| panic!("{h}:{m}"))
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(DAY.0, DAY.1, DAY.2).unwrap_or_default()
    }

    struct Day {
        g: GroupDay,
        kids: Vec<ChildId>,
        staff: Vec<StaffId>,
    }

    fn day(care: GroupCare) -> Day {
        let kids: Vec<ChildId> = (0..3).map(|_| ChildId::new()).collect();
        let staff: Vec<StaffId> = (0..2).map(|_| StaffId::new()).collect();
        let two = date() - Duration::days(2 * 365 + 10);
        Day {
            g: GroupDay {
                group: GroupId::new(),
                name: "Dolfijnen".into(),
                location: LocationId::new(),
                location_name: "Locatie Test".into(),
                care,
                span: DaySpan::of(&cal(), date()),
                children: ["Sem", "Noor", "Daan"]
                    .iter()
                    .zip(&kids)
                    .map(|(n, id)| DayChild {
                        id: *id,
                        first_name: (*n).into(),
                        last_name: "Test".into(),
                        birth_date: two,
                        placed: true,
                        planned: true,
                        reported_absent: None,
                    })
                    .collect(),
                staff: ["Fatima", "Anouk"]
                    .iter()
                    .zip(&staff)
                    .map(|(n, id)| DayStaff {
                        id: *id,
                        name: (*n).into(),
                    })
                    .collect(),
                events: Vec::new(),
            },
            kids,
            staff,
        }
    }

    impl Day {
        fn push(&mut self, t: DateTime<Utc>, event: AttendanceEvent) -> AttendanceId {
            let item = AttendanceItem {
                recorded_by: Some(self.staff[0]),
                ..AttendanceItem::new(t, event)
            };
            let id = item.id;
            let seq = i64::try_from(self.g.events.len()).unwrap_or_default() + 1;
            self.g.events.push(AttendanceRow {
                seq,
                item,
                received_at: t,
                device_name: Some("Scherm".into()),
            });
            id
        }
    }

    fn child_in(c: ChildId, by: Option<&str>) -> AttendanceEvent {
        AttendanceEvent::ChildIn {
            child_id: c,
            by: by.map(str::to_string),
        }
    }

    fn child_out(c: ChildId, by: Option<&str>) -> AttendanceEvent {
        AttendanceEvent::ChildOut {
            child_id: c,
            by: by.map(str::to_string),
        }
    }

    #[test]
    fn a_parent_reads_who_brought_and_picked_up_in_local_time() {
        let mut d = day(GroupCare::Dagopvang);
        let sem = d.kids[0];
        d.push(at(8, 5), child_in(sem, Some("Papa")));
        d.push(at(17, 12), child_out(sem, Some("Oma")));
        let p = fold(&d.g.events);
        assert_eq!(
            parent_lines(&p.child(&sem), &cal()),
            vec!["Gebracht om 08:05 door Papa", "Opgehaald om 17:12 door Oma"]
        );
        // no one named: no "door"
        let mut d = day(GroupCare::Dagopvang);
        d.push(at(9, 0), child_in(sem, None));
        let p = fold(&d.g.events);
        assert_eq!(
            parent_lines(&p.child(&sem), &cal()),
            vec!["Gebracht om 09:00"]
        );
        // marked absent by the group
        let mut d = day(GroupCare::Dagopvang);
        d.push(
            at(8, 0),
            AttendanceEvent::ChildAbsent {
                child_id: sem,
                reason: AbsenceReason::Ziek,
                note: Some("koorts".into()),
            },
        );
        let p = fold(&d.g.events);
        assert_eq!(
            parent_lines(&p.child(&sem), &cal()),
            vec!["Afgemeld door de groep: ziek"]
        );
    }

    #[test]
    fn now_sorts_children_and_staff_and_gives_the_ratio() {
        let mut d = day(GroupCare::Dagopvang);
        let (sem, noor) = (d.kids[0], d.kids[1]);
        let (fatima, anouk) = (d.staff[0], d.staff[1]);
        d.push(at(7, 0), AttendanceEvent::StaffIn { staff_id: fatima });
        d.push(at(7, 30), AttendanceEvent::StaffIn { staff_id: anouk });
        d.push(at(8, 5), child_in(sem, Some("Papa")));
        d.push(at(8, 10), child_in(noor, None));
        d.push(at(12, 0), AttendanceEvent::BreakStart { staff_id: anouk });
        d.push(at(13, 0), child_out(noor, Some("Oma")));
        let now = group_now(&d.g, &cal());
        assert_eq!(now.here.len(), 1);
        assert_eq!(now.here[0].name, "Sem Test");
        assert_eq!(now.here[0].time, "08:05");
        assert_eq!(now.here[0].detail, "Papa");
        assert_eq!(now.gone[0].time, "08:10–13:00");
        assert_eq!(now.gone[0].detail, "Oma");
        assert_eq!(now.expected[0].name, "Daan Test");
        assert_eq!(now.on_floor[0].name, "Fatima");
        assert_eq!(now.on_break[0].name, "Anouk");
        assert_eq!(now.on_break[0].since, "12:00");
        assert_eq!(
            now.ratio.line,
            "1 kind · 1 beroepskracht nodig · 1 aanwezig"
        );
        assert_eq!(now.ratio.class, "enough");
        // Daan's parent had called him in sick for the morning: absent, not expected
        d.g.children[2].reported_absent = Some((AbsenceReason::Ziek, PartOfDay::Morning));
        let now = group_now(&d.g, &cal());
        assert!(now.expected.is_empty());
        assert_eq!(now.absent[0].name, "Daan Test");
        assert_eq!(now.absent[0].detail, "ziek, ochtend (vooraf afgemeld)");
    }

    #[test]
    fn two_screens_checking_out_the_same_child_show_one_counted_and_one_conflict() {
        let mut d = day(GroupCare::Dagopvang);
        let sem = d.kids[0];
        d.push(at(8, 0), child_in(sem, None));
        d.push(at(17, 0), child_out(sem, Some("Oma")));
        d.push(at(16, 59), child_out(sem, Some("Opa")));
        let log = group_log(&d.g, &cal(), at(23, 0));
        let effects: Vec<&str> = log.rows.iter().map(|r| r.effect.as_str()).collect();
        assert_eq!(
            effects,
            vec!["geteld", "geteld", "conflict: al uitgecheckt"]
        );
        assert_eq!(log.rows[2].by, "Opa");
        assert_eq!(log.rows[2].class, "conflict");
    }

    #[test]
    fn undos_and_corrections_say_what_they_did() {
        let mut d = day(GroupCare::Dagopvang);
        let sem = d.kids[0];
        let tap = d.push(at(8, 30), child_in(sem, Some("Papa")));
        d.push(at(8, 31), AttendanceEvent::Undo { target: tap });
        let again = d.push(at(8, 32), child_in(sem, Some("Papa")));
        d.push(at(8, 40), child_in(sem, Some("Mama")));
        d.g.events[3].item.replaces = Some(again);
        let log = group_log(&d.g, &cal(), at(23, 0));
        let by_class: Vec<(&str, &str)> = log
            .rows
            .iter()
            .map(|r| (r.class, r.effect.as_str()))
            .collect();
        assert_eq!(
            by_class,
            vec![
                ("undone", "ongedaan gemaakt"),
                ("undo", "maakt ongedaan: gebracht om 08:30"),
                ("replaced", "vervangen door correctie"),
                ("counted", "geteld"),
            ]
        );
        assert_eq!(log.rows[1].who, "Sem Test", "the undo names the child");
        assert_eq!(log.rows[3].correction_of, "gebracht om 08:32");
        assert_eq!(log.rows[3].recorded_by, "Fatima");
    }

    #[test]
    fn the_ratio_over_the_day_and_the_time_below_it() {
        // 3 two-year-olds need one beroepskracht; from 9:00 to 9:30 she is
        // on a break and nobody is on the floor: below half the ratio
        let mut d = day(GroupCare::Dagopvang);
        let fatima = d.staff[0];
        for k in d.kids.clone() {
            d.push(at(8, 0), child_in(k, None));
        }
        d.push(at(8, 0), AttendanceEvent::StaffIn { staff_id: fatima });
        d.push(at(9, 0), AttendanceEvent::BreakStart { staff_id: fatima });
        d.push(at(9, 30), AttendanceEvent::BreakEnd { staff_id: fatima });
        let log = group_log(&d.g, &cal(), at(10, 0));
        let rows: Vec<(&str, &str, u32, u32, &str)> = log
            .ratio
            .iter()
            .map(|r| (r.from.as_str(), r.to.as_str(), r.children, r.staff, r.class))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("00:00", "08:00", 0, 0, "enough"),
                ("08:00", "09:00", 3, 1, "enough"),
                ("09:00", "09:30", 3, 0, "below-half"),
                ("09:30", "10:00", 3, 1, "enough"),
            ]
        );
        assert_eq!(log.ratio[1].bands, "3 van 2 jaar");
        assert_eq!(log.totals.below_half, "30 min");
        assert_eq!(log.totals.below, "0 min");
        assert_eq!(log.totals.allowance, "3 u 00 min");
        assert_eq!(log.totals.counted_until, "tot 10:00");
        assert!(
            log.totals.verdict.contains("nooit toegestaan"),
            "{}",
            log.totals.verdict
        );
        assert!(
            log.totals.alert && !log.totals.overspent,
            "below half is shown as an error, also within the allowance"
        );
        // the whole day once it is over; a BSO Friday is a school day
        let mut bso = day(GroupCare::Bso);
        bso.g.events = d.g.events.clone();
        let log = group_log(&bso.g, &cal(), at(23, 0) + Duration::days(1));
        assert_eq!(log.totals.counted_until, "hele dag");
        assert_eq!(log.totals.allowance, "30 min");
        assert_eq!(log.ratio.last().map(|r| r.to.as_str()), Some("24:00"));
    }

    #[test]
    fn csv_is_semicolon_separated_quoted_and_safe_for_excel() {
        let mut d = day(GroupCare::Dagopvang);
        let sem = d.kids[0];
        d.push(at(8, 5), child_in(sem, Some("Oma; \"Ans\"")));
        d.push(at(17, 0), child_out(sem, Some("=HYPERLINK(\"x\")")));
        let log = group_log(&d.g, &cal(), at(23, 0));
        let bytes = log_csv(&log).expect("csv");
        let text = String::from_utf8(bytes).expect("utf-8");
        let text = text.strip_prefix('\u{feff}').expect("a BOM for Excel");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(CSV_HEADER.join(";").as_str()));
        assert_eq!(
            lines.next(),
            Some(
                "08:05;Gebracht;Sem Test;\"Oma; \"\"Ans\"\"\";Fatima;geteld;;08:05:00;Scherm;Dolfijnen"
            )
        );
        let out = lines.next().unwrap_or_default();
        assert!(out.contains(";\"'=HYPERLINK(\"\"x\"\")\";"), "{out}");
        assert!(text.contains("\nvan;tot;kinderen;"), "{text}");
        assert!(
            text.contains("\noordeel;Binnen de toegestane afwijking"),
            "{text}"
        );
        // every record reads back with the csv crate, the quoting intact
        let mut r = csv::ReaderBuilder::new()
            .delimiter(b';')
            .flexible(true)
            .from_reader(text.as_bytes());
        let first = r.records().next().and_then(Result::ok).expect("a record");
        assert_eq!(first.get(3), Some("Oma; \"Ans\""));
    }

    #[test]
    fn durations_count_a_started_minute() {
        assert_eq!(duration_words(Duration::zero()), "0 min");
        assert_eq!(duration_words(Duration::seconds(1)), "1 min");
        assert_eq!(duration_words(Duration::minutes(65)), "1 u 05 min");
        assert!(school_day(date()));
        assert!(!school_day(date() + Duration::days(1)));
    }
}
