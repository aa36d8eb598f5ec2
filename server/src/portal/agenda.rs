//! The parents' agenda (issue 16): an organisation's rules for cancelling
//! days and tegoed, extra-day requests, swaps (ruilen) and cancellations, and
//! whether a requested day fits the group (BKR and maximum size). Pure: the
//! reads and writes are [`crate::store::Store`] methods (`store/sql/agenda.rs`).
//!
//! Tegoed is a ledger, never a counter: a contract day cancelled in time
//! earns one `earned` row valid until a date; spending (at approval) or
//! expiring writes a row that uses up one earned row, the oldest first.

use crate::portal::i18n::{mark, tr};
use chrono::{Datelike, Months, NaiveDate};
use kring_bkr::{Care, Counts, Outcome, assess_counts};
use kring_protocol::{ChildId, GroupId, PartOfDay, Weekday};

/// An organisation's rules. Defaults (no row in `agenda_rules`): cancel at
/// least 2 working days ahead, tegoed valid 3 months, Monday to Friday count
/// as working days. The seeds name the idea (Kober's "spelregels" for
/// tegoed, Korein's "binnen 30 dagen") but not the numbers; 2 working days
/// and 3 months are the common terms of Dutch organisations' tegoed rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgendaRules {
    /// A contract day cancelled at least this many working days ahead
    /// (today counts, the day itself does not) earns one day of tegoed.
    pub notice_working_days: u32,
    /// Tegoed stays valid this many months after the cancelled day: a
    /// request must be approved before then.
    pub credit_valid_months: u32,
    /// The weekdays that count as working days; a closed day never does.
    pub working_days: Vec<Weekday>,
    /// What vacation care (BSO) costs in hours: a morning, an afternoon, a
    /// whole day. Defaults 5, 5 and 10 (a vacation day of 7:30 to 17:30).
    pub vacation_hours: VacationHours,
}

/// The hours each part of a vacation day costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VacationHours {
    pub morning: u32,
    pub afternoon: u32,
    pub whole_day: u32,
}

impl Default for VacationHours {
    fn default() -> Self {
        Self {
            morning: 5,
            afternoon: 5,
            whole_day: 10,
        }
    }
}

impl VacationHours {
    pub fn of(&self, part: PartOfDay) -> u32 {
        match part {
            PartOfDay::Morning => self.morning,
            PartOfDay::Afternoon => self.afternoon,
            PartOfDay::WholeDay => self.whole_day,
        }
    }
}

/// "1 uur", "5 uur": Dutch says uur for any number.
pub fn hours_words(n: i64) -> String {
    tr().n("{0} uur", "{0} uur", n)
}

impl Default for AgendaRules {
    fn default() -> Self {
        Self {
            notice_working_days: 2,
            credit_valid_months: 3,
            working_days: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            vacation_hours: VacationHours::default(),
        }
    }
}

/// "hele dag", "ochtend", "middag".
pub fn part_words(p: kring_protocol::PartOfDay) -> &'static str {
    use kring_protocol::PartOfDay;
    match p {
        PartOfDay::WholeDay => tr().s("hele dag"),
        PartOfDay::Morning => tr().s("ochtend"),
        PartOfDay::Afternoon => tr().s("middag"),
    }
}

/// The protocol's weekday of a date.
pub fn weekday_of(d: NaiveDate) -> Weekday {
    match d.weekday() {
        chrono::Weekday::Mon => Weekday::Mon,
        chrono::Weekday::Tue => Weekday::Tue,
        chrono::Weekday::Wed => Weekday::Wed,
        chrono::Weekday::Thu => Weekday::Thu,
        chrono::Weekday::Fri => Weekday::Fri,
        chrono::Weekday::Sat => Weekday::Sat,
        chrono::Weekday::Sun => Weekday::Sun,
    }
}

const WEEKDAY_WORDS: [(Weekday, &str); 7] = [
    (Weekday::Mon, mark("maandag")),
    (Weekday::Tue, mark("dinsdag")),
    (Weekday::Wed, mark("woensdag")),
    (Weekday::Thu, mark("donderdag")),
    (Weekday::Fri, mark("vrijdag")),
    (Weekday::Sat, mark("zaterdag")),
    (Weekday::Sun, mark("zondag")),
];

/// "woensdag 6 januari 2027", for mails.
pub fn long_day(d: NaiveDate) -> String {
    const MONTHS: [&str; 12] = [
        mark("januari"),
        mark("februari"),
        mark("maart"),
        mark("april"),
        mark("mei"),
        mark("juni"),
        mark("juli"),
        mark("augustus"),
        mark("september"),
        mark("oktober"),
        mark("november"),
        mark("december"),
    ];
    let wd = WEEKDAY_WORDS
        .iter()
        .find(|(w, _)| *w == weekday_of(d))
        .map_or("", |(_, n)| tr().s(n));
    format!(
        "{wd} {} {} {}",
        d.day(),
        tr().s(MONTHS[d.month0() as usize]),
        d.year()
    )
}

/// "maandag, woensdag en vrijdag".
pub fn weekdays_words(days: &[Weekday]) -> String {
    let names: Vec<&str> = WEEKDAY_WORDS
        .iter()
        .filter(|(d, _)| days.contains(d))
        .map(|(_, n)| tr().s(n))
        .collect();
    match names.as_slice() {
        [] => tr().s("geen dagen").into(),
        [one] => (*one).into(),
        [init @ .., last] => tr().f2("{0} en {1}", init.join(", "), last),
    }
}

impl AgendaRules {
    pub fn is_working_day(&self, d: NaiveDate, closed: &[NaiveDate]) -> bool {
        self.working_days.contains(&weekday_of(d)) && !closed.contains(&d)
    }

    /// Working days from `today` (included) to `day` (not included).
    pub fn working_days_before(
        &self,
        today: NaiveDate,
        day: NaiveDate,
        closed: &[NaiveDate],
    ) -> u32 {
        today
            .iter_days()
            .take_while(|d| *d < day)
            .filter(|d| self.is_working_day(*d, closed))
            .count()
            .try_into()
            .unwrap_or(u32::MAX)
    }

    /// Whether cancelling `day` on `today` earns tegoed.
    pub fn in_time(&self, today: NaiveDate, day: NaiveDate, closed: &[NaiveDate]) -> bool {
        day > today && self.working_days_before(today, day, closed) >= self.notice_working_days
    }

    /// The last day tegoed earned by cancelling `day` can be spent (approved) on.
    pub fn valid_until(&self, day: NaiveDate) -> NaiveDate {
        day.checked_add_months(Months::new(self.credit_valid_months))
            .unwrap_or(NaiveDate::MAX)
    }

    /// The vacation rules in words, as parents of a BSO child read them.
    pub fn vacation_words(&self) -> Vec<String> {
        let h = self.vacation_hours;
        vec![
            tr().f3(
                "Vakantieopvang kost vakantie-uren: een ochtend {0}, een middag {1}, een hele dag {2}.",
                hours_words(h.morning.into()),
                hours_words(h.afternoon.into()),
                hours_words(h.whole_day.into()),
            ),
            tr().s("Vakantie-uren gelden een kalenderjaar; wat op 31 december over is, vervalt.")
                .into(),
            tr().s("Vraagt u de opvang een maand of langer van tevoren aan, dan is hij gegarandeerd: \
             meteen goedgekeurd en de uren gaan er meteen af. Later aanvragen mag ook; dan keurt \
             de locatie hem goed of af, en de uren zijn zolang voor u gereserveerd.")
                .into(),
        ]
    }

    /// The rules in words, as parents read them.
    pub fn words(&self) -> Vec<String> {
        let days = tr().n(
            "{0} werkdag",
            "{0} werkdagen",
            self.notice_working_days.into(),
        );
        let months = tr().n("{0} maand", "{0} maanden", self.credit_valid_months.into());
        vec![
            tr().f(
                "Meldt u een opvangdag uiterlijk {0} van tevoren af, dan krijgt u 1 dag tegoed. \
                 De dag van afmelden telt mee, de opvangdag zelf niet.",
                days,
            ),
            tr().f(
                "Werkdagen zijn {0}; dagen dat de locatie dicht is tellen niet.",
                weekdays_words(&self.working_days),
            ),
            tr().s("Later afmelden mag ook, maar dan krijgt u geen tegoed.").to_string(),
            tr().f(
                "Tegoed blijft {0} geldig na de afgemelde dag; daarna vervalt het. U zet het \
                 in voor een extra dag; het gaat van uw tegoed af als de locatie de dag goedkeurt.",
                months,
            ),
            tr().s("Ruilen: u geeft een opvangdag op voor een andere dag. Dat kost geen tegoed en levert \
             geen tegoed op.")
                .to_string(),
        ]
    }
}

/// How an extra day is paid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payment {
    /// Invoiced afterwards.
    Paid,
    /// One day of tegoed, taken at approval.
    Credit,
    /// In exchange for a contract day (`gives_up`).
    Swap,
}

impl Payment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::Credit => "credit",
            Self::Swap => "swap",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "paid" => Some(Self::Paid),
            "credit" => Some(Self::Credit),
            "swap" => Some(Self::Swap),
            _ => None,
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Self::Paid => tr().s("betaald"),
            Self::Credit => tr().s("van tegoed"),
            Self::Swap => tr().s("geruild"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Requested,
    Approved,
    Refused,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Approved => "approved",
            Self::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "requested" => Some(Self::Requested),
            "approved" => Some(Self::Approved),
            "refused" => Some(Self::Refused),
            _ => None,
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Self::Requested => tr().s("aangevraagd"),
            Self::Approved => tr().s("goedgekeurd"),
            Self::Refused => tr().s("afgewezen"),
        }
    }
}

/// Why a cancelled contract day is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelKind {
    /// In time: earned a day of tegoed.
    InTime,
    /// Too late for tegoed.
    Late,
    /// Given up for another day (ruilen).
    Swap,
}

impl CancelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InTime => "in_time",
            Self::Late => "late",
            Self::Swap => "swap",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "in_time" => Some(Self::InTime),
            "late" => Some(Self::Late),
            "swap" => Some(Self::Swap),
            _ => None,
        }
    }
}

/// A request for an extra day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDayRequest {
    pub child: ChildId,
    pub day: NaiveDate,
    pub part_of_day: PartOfDay,
    pub payment: Payment,
    /// For a swap: the contract day given up.
    pub gives_up: Option<NaiveDate>,
    pub requested_by: String,
}

/// A stored request, as the parent and the manager see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRequestView {
    pub id: String,
    pub child: ChildId,
    pub child_name: String,
    pub birth_date: NaiveDate,
    pub group: GroupId,
    pub group_name: String,
    pub day: NaiveDate,
    pub part_of_day: PartOfDay,
    pub payment: Payment,
    pub gives_up: Option<NaiveDate>,
    pub status: RequestStatus,
    pub requested_by: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A cancelled contract day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelledDay {
    pub group: GroupId,
    pub day: NaiveDate,
    pub kind: CancelKind,
}

/// One row of the tegoed ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditRow {
    /// "earned", "spent" or "expired".
    pub kind: String,
    /// Earned: the last day it can be used.
    pub valid_until: Option<NaiveDate>,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A child's agenda for a stretch of days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildAgenda {
    pub rules: AgendaRules,
    /// Closed days of the child's locations in the stretch, with their names.
    pub closed: Vec<(NaiveDate, String)>,
    pub requests: Vec<DayRequestView>,
    pub cancelled: Vec<CancelledDay>,
    /// Tegoed that can be spent today (earned, not used up, not expired).
    pub balance: u32,
    /// Requests from tegoed still waiting for a decision.
    pub pending_credit: u32,
    pub ledger: Vec<CreditRow>,
}

impl ChildAgenda {
    /// Tegoed not yet promised to a waiting request.
    pub fn available(&self) -> u32 {
        self.balance.saturating_sub(self.pending_credit)
    }
}

/// Why a request, a cancellation or an approval was refused, in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AgendaRefusal {
    #[error("{}", tr().s("Uw kind heeft op die dag geen plaatsing bij ons."))]
    NotPlaced,
    #[error("{}", tr().s("Kies een dag na vandaag."))]
    NotAfterToday,
    #[error("{}", tr().s("De locatie is die dag gesloten."))]
    Closed,
    #[error("{}", tr().s("Op die dag komt uw kind al."))]
    AlreadyPlanned,
    #[error("{}", tr().s("Voor die dag loopt al een aanvraag."))]
    AlreadyRequested,
    #[error(
        "{}",
        tr().s("U heeft geen tegoed (meer) om in te zetten. Vraag de dag betaald aan, of ruil een opvangdag.")
    )]
    NoCredit,
    #[error("{}", tr().s("Die dag is geen opvangdag van uw kind."))]
    NotAContractDay,
    #[error("{}", tr().s("Die dag is al afgemeld."))]
    AlreadyCancelled,
    #[error("{}", tr().s("Over deze aanvraag is al beslist."))]
    AlreadyDecided,
    #[error("{}", tr().s("Die dag is al voorbij."))]
    Past,
}

/// What cancelling a day did: how it was cancelled and the groups whose
/// feed changed, or why it could not be.
pub type CancelOutcome = Result<(CancelKind, crate::org::Changed), AgendaRefusal>;

/// The group's planned day, for the manager's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDay {
    pub care: Care,
    /// The most children the group may hold (set, or 16 KDV / 22 BSO).
    pub max_children: u32,
    /// Birth dates of the children planned (contract days and approved
    /// extra days, without absences and cancelled days).
    pub children: Vec<(ChildId, NaiveDate)>,
    /// Pedagogical staff planned that day: by the group's roster (its week
    /// pattern and that day's exceptions), or when the group has no roster
    /// at all, the staff linked to the group.
    pub staff: u32,
    /// Whether `staff` comes from a roster.
    pub rostered: bool,
}

impl PlannedDay {
    /// Where the staff count comes from, in words.
    pub fn staff_words(&self) -> &'static str {
        if self.rostered {
            tr().s("Leidsters: ingeroosterd op die dag volgens het rooster.")
        } else {
            tr().s("Deze groep heeft geen rooster: alle leidsters gekoppeld aan de groep tellen als ingeroosterd.")
        }
    }
}

/// A staff member on a group's weekly roster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterStaff {
    pub id: kring_protocol::StaffId,
    pub name: String,
    /// The weekdays the staff member works on the group.
    pub days: Vec<Weekday>,
}

/// A date on which a staff member is off, or works extra, on a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterException {
    pub id: String,
    pub staff: kring_protocol::StaffId,
    pub staff_name: String,
    pub day: NaiveDate,
    /// True: not working that day; false: working extra that day.
    pub off: bool,
}

/// A group as the manager's roster and agenda pages show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRoster {
    pub group: GroupId,
    pub name: String,
    pub bso: bool,
    /// The maximum set for the group (None: the default, 16 KDV / 22 BSO).
    pub max_children: Option<u32>,
    /// The pedagogical staff linked to the group, with their weekdays.
    pub staff: Vec<RosterStaff>,
    /// Exceptions from a week ago on, by date.
    pub exceptions: Vec<RosterException>,
}

impl GroupRoster {
    /// Whether the group has a roster at all (a weekday or an exception).
    pub fn has_roster(&self) -> bool {
        self.staff.iter().any(|s| !s.days.is_empty()) || !self.exceptions.is_empty()
    }
}

/// Why a roster change was refused, in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RosterRefusal {
    #[error("{}", tr().s("Kies een pedagogisch medewerker van uw organisatie."))]
    NotStaff,
}

/// A closed day of a location of the organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedDay {
    pub location: kring_protocol::LocationId,
    pub location_name: String,
    pub day: NaiveDate,
    pub name: String,
}

/// A BSO child of the organisation with its vacation hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BsoChild {
    pub child: ChildId,
    pub name: String,
    pub groups: String,
    pub years: Vec<VacationYear>,
}

/// Vacation care asked for a month or more ahead is guaranteed: `day` falls
/// on or after the same date a month after `today`.
pub fn vacation_guaranteed(today: NaiveDate, day: NaiveDate) -> bool {
    match day.checked_sub_months(Months::new(1)) {
        Some(month_before) => today <= month_before,
        None => false,
    }
}

/// A request for vacation care (BSO).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewVacationRequest {
    pub child: ChildId,
    pub day: NaiveDate,
    pub part_of_day: PartOfDay,
    pub requested_by: String,
}

/// A stored vacation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacationRequestView {
    pub id: String,
    pub child: ChildId,
    pub child_name: String,
    pub birth_date: NaiveDate,
    pub group: GroupId,
    pub group_name: String,
    pub day: NaiveDate,
    pub part_of_day: PartOfDay,
    pub hours: u32,
    pub guaranteed: bool,
    pub status: RequestStatus,
    pub requested_by: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A child's vacation hours of one calendar year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VacationYear {
    pub year: i32,
    /// The hours the organisation gave for the year.
    pub hours: u32,
    /// Taken by approved requests.
    pub taken: u32,
    /// Promised to requests still waiting.
    pub promised: u32,
}

impl VacationYear {
    pub fn left(&self) -> u32 {
        self.hours
            .saturating_sub(self.taken)
            .saturating_sub(self.promised)
    }
}

/// A child's vacation hours: the years from this year on, and its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildVacation {
    /// Whether the child has a BSO placement (no vacation section otherwise).
    pub bso: bool,
    pub years: Vec<VacationYear>,
    pub requests: Vec<VacationRequestView>,
}

/// Why vacation care cannot be asked for, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VacationRefusal {
    #[error("{}", tr().s("Uw kind heeft op die dag geen plaatsing op de buitenschoolse opvang."))]
    NotBso,
    #[error("{}", tr().s("Kies een dag na vandaag."))]
    NotAfterToday,
    #[error("{}", tr().s("De locatie is die dag gesloten."))]
    Closed,
    #[error("{}", tr().s("Voor die dag loopt al een aanvraag voor vakantieopvang."))]
    AlreadyRequested,
    #[error(
        "{}",
        tr().f3("Er zijn niet genoeg vakantie-uren voor {0}: nog {1} uur, nodig {2} uur.", .year, .left, .needed)
    )]
    NotEnoughHours { year: i32, left: u32, needed: u32 },
    #[error("{}", tr().s("Over deze aanvraag is al beslist."))]
    AlreadyDecided,
    #[error("{}", tr().s("De dag is al voorbij."))]
    Past,
}

/// What asking for vacation care did: the request's id and whether it was
/// guaranteed (approved at once), with the groups whose feed changed.
pub type VacationOutcome = Result<(String, bool, crate::org::Changed), VacationRefusal>;

/// Whether a day fits, and why in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fit {
    pub fits: bool,
    pub children: u32,
    pub required: Option<u32>,
    pub words: String,
}

/// Adds `child` (born `birth`) to the planned day, unless already in it, and
/// checks the BKR and the maximum size.
pub fn fit(planned: &PlannedDay, child: ChildId, birth: NaiveDate, day: NaiveDate) -> Fit {
    let mut births: Vec<NaiveDate> = planned.children.iter().map(|(_, b)| *b).collect();
    if !planned.children.iter().any(|(c, _)| *c == child) {
        births.push(birth);
    }
    let n = u32::try_from(births.len()).unwrap_or(u32::MAX);
    let staff = planned.staff;
    let Ok(counts) = Counts::of(planned.care, &births, day) else {
        return Fit {
            fits: false,
            children: n,
            required: None,
            words: tr()
                .s("past niet: een geboortedatum ligt na die dag")
                .into(),
        };
    };
    let outcome = assess_counts(planned.care, counts);
    match outcome {
        Outcome::TooLarge(_) => Fit {
            fits: false,
            children: n,
            required: None,
            words: tr().n(
                "past niet: {0} kind is te veel voor één groep volgens de BKR",
                "past niet: {0} kinderen is te veel voor één groep volgens de BKR",
                n.into(),
            ),
        },
        Outcome::Staff { staff: need, .. } => {
            let over_max = n > planned.max_children;
            let short = need > staff;
            let head = if over_max || short {
                tr().s("past niet")
            } else {
                tr().s("past")
            };
            let mut words = format!(
                "{head}: {}",
                tr().f3(
                    "{0}, {1}, {2} ingeroosterd",
                    tr().n("{0} kind", "{0} kinderen", n.into()),
                    tr().n("{0} leidster nodig", "{0} leidsters nodig", need.into()),
                    staff,
                )
            );
            if over_max {
                words.push_str(&tr().f(
                    " (de groep mag hoogstens {0} kinderen hebben)",
                    planned.max_children,
                ));
            }
            Fit {
                fits: !(over_max || short),
                children: n,
                required: Some(need),
                words,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vacation_a_month_ahead_is_guaranteed() {
        assert!(vacation_guaranteed(d("2026-12-06"), d("2027-01-06")));
        assert!(vacation_guaranteed(d("2026-12-06"), d("2027-02-01")));
        assert!(!vacation_guaranteed(d("2026-12-07"), d("2027-01-06")));
        // 31 March minus a month is 28 February
        assert!(vacation_guaranteed(d("2027-02-28"), d("2027-03-31")));
        assert!(!vacation_guaranteed(d("2027-03-01"), d("2027-03-31")));
        let h = VacationHours::default();
        assert_eq!(
            (h.of(PartOfDay::Morning), h.of(PartOfDay::WholeDay)),
            (5, 10)
        );
        let y = VacationYear {
            year: 2027,
            hours: 20,
            taken: 10,
            promised: 5,
        };
        assert_eq!(y.left(), 5);
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn in_time_counts_working_days_without_closed_days() {
        let r = AgendaRules::default();
        // Monday 7 December 2026: Mon and Tue before Wednesday
        assert!(r.in_time(d("2026-12-07"), d("2026-12-09"), &[]));
        assert!(!r.in_time(d("2026-12-08"), d("2026-12-09"), &[]));
        // a closed Tuesday does not count
        assert!(!r.in_time(d("2026-12-07"), d("2026-12-09"), &[d("2026-12-08")]));
        // Friday for Monday: Friday only (weekend does not count)
        assert!(!r.in_time(d("2026-12-11"), d("2026-12-14"), &[]));
        assert!(r.in_time(d("2026-12-10"), d("2026-12-14"), &[]));
        assert_eq!(r.valid_until(d("2026-11-30")), d("2027-02-28"));
    }

    #[test]
    fn a_day_fits_in_words() {
        let births: Vec<(ChildId, NaiveDate)> =
            (0..10).map(|_| (ChildId::new(), d("2024-01-01"))).collect();
        let planned = PlannedDay {
            care: Care::Dagopvang,
            max_children: 16,
            children: births,
            staff: 2,
            rostered: true,
        };
        let f = fit(&planned, ChildId::new(), d("2024-02-01"), d("2026-12-09"));
        assert!(f.fits, "{f:?}");
        assert_eq!(
            f.words,
            "past: 11 kinderen, 2 leidsters nodig, 2 ingeroosterd"
        );
        let one = PlannedDay {
            staff: 1,
            ..planned
        };
        let f = fit(&one, ChildId::new(), d("2024-02-01"), d("2026-12-09"));
        assert!(!f.fits);
        assert!(
            f.words
                .starts_with("past niet: 11 kinderen, 2 leidsters nodig, 1 ingeroosterd")
        );
    }
}
