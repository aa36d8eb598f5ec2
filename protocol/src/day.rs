//! One idea of "today": a childcare day is a calendar day in the location's
//! time zone, never in UTC and never in whatever zone a host happens to run
//! in. A child planned on Monday is expected from Monday 00:00 to Tuesday
//! 00:00 *in Amsterdam*, also at 00:30 when UTC still says Sunday, and on the
//! 23- and 25-hour days of the summer-time changes.
//!
//! Server and device use the same [`Calendar`]: the organisation's time zone
//! travels to the device in [`crate::GroupInfo::time_zone`].

use chrono::{DateTime, Days, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
pub use chrono_tz::Tz;
use std::fmt;
use std::ops::Range;

/// The time zone of an organisation that has not chosen one.
pub const DEFAULT_TIME_ZONE: &str = "Europe/Amsterdam";

/// A time zone name that is not in the IANA database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTimeZone(pub String);

impl fmt::Display for UnknownTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown time zone {:?} (expected an IANA name such as Europe/Amsterdam)",
            self.0
        )
    }
}

impl std::error::Error for UnknownTimeZone {}

/// The calendar of a location: which day it is there, and when that day
/// starts and ends in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    tz: Tz,
}

impl Default for Calendar {
    fn default() -> Self {
        Self {
            tz: chrono_tz::Europe::Amsterdam,
        }
    }
}

impl Calendar {
    pub fn new(tz: Tz) -> Self {
        Self { tz }
    }

    /// The calendar of an IANA time zone name, e.g. `Europe/Amsterdam`.
    pub fn from_name(name: &str) -> Result<Self, UnknownTimeZone> {
        name.parse::<Tz>()
            .map(Self::new)
            .map_err(|_| UnknownTimeZone(name.to_owned()))
    }

    /// The IANA name, as stored and sent.
    pub fn name(&self) -> &'static str {
        self.tz.name()
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The day it is at the location at `now`.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        self.local(now).date_naive()
    }

    /// `t` on the location's wall clock.
    pub fn local(&self, t: DateTime<Utc>) -> DateTime<Tz> {
        t.with_timezone(&self.tz)
    }

    /// The wall-clock time of `t` at the location, "14:05".
    pub fn hhmm(&self, t: DateTime<Utc>) -> String {
        self.local(t).format("%H:%M").to_string()
    }

    /// The first moment of `day` at the location. Where a zone skips
    /// midnight (a DST change at 00:00, as some zones have), the day starts
    /// at the first wall-clock time that exists.
    pub fn start_of(&self, day: NaiveDate) -> DateTime<Utc> {
        let mut t = day.and_time(NaiveTime::MIN);
        // at most a few hours can be skipped; step in quarters of an hour
        for _ in 0..=4 * 24 {
            match self.tz.from_local_datetime(&t) {
                LocalResult::Single(l) => return l.with_timezone(&Utc),
                LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
                LocalResult::None => t += chrono::Duration::minutes(15),
            }
        }
        // unreachable for real zones: fall back to the UTC reading
        day.and_time(NaiveTime::MIN).and_utc()
    }

    /// The moments of `day` at the location: from its start up to the start
    /// of the next day (23, 24 or 25 hours long).
    pub fn day_range(&self, day: NaiveDate) -> Range<DateTime<Utc>> {
        let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
        self.start_of(day)..self.start_of(next)
    }

    /// Whether `t` falls on `day` at the location.
    pub fn is_on(&self, t: DateTime<Utc>, day: NaiveDate) -> bool {
        self.today(t) == day
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test time")
            .with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("test date")
    }

    #[test]
    fn the_default_is_amsterdam_and_names_round_trip() {
        let c = Calendar::default();
        assert_eq!(c.name(), DEFAULT_TIME_ZONE);
        assert_eq!(Calendar::from_name("Europe/Amsterdam"), Ok(c));
        assert_eq!(
            Calendar::from_name("Europe/Brussels").map(|c| c.name()),
            Ok("Europe/Brussels")
        );
        let err = Calendar::from_name("Mars/Olympus").expect_err("unknown");
        assert!(err.to_string().contains("Mars/Olympus"), "{err}");
    }

    #[test]
    fn half_past_eleven_in_the_evening_is_still_today_in_winter_and_summer() {
        let c = Calendar::default();
        // 23:30 in Amsterdam in winter is 22:30 UTC, in summer 21:30 UTC
        assert_eq!(c.today(utc("2026-01-14T22:30:00Z")), date(2026, 1, 14));
        assert_eq!(c.hhmm(utc("2026-01-14T22:30:00Z")), "23:30");
        assert_eq!(c.today(utc("2026-07-14T21:30:00Z")), date(2026, 7, 14));
        assert_eq!(c.hhmm(utc("2026-07-14T21:30:00Z")), "23:30");
    }

    #[test]
    fn half_past_midnight_is_already_tomorrow_while_utc_says_yesterday() {
        let c = Calendar::default();
        // 00:30 in Amsterdam: 23:30 UTC the day before (winter), 22:30 (summer)
        let winter = utc("2026-01-14T23:30:00Z");
        assert_eq!(winter.date_naive(), date(2026, 1, 14));
        assert_eq!(c.today(winter), date(2026, 1, 15));
        assert_eq!(c.hhmm(winter), "00:30");
        let summer = utc("2026-07-14T22:30:00Z");
        assert_eq!(c.today(summer), date(2026, 7, 15));
        assert!(c.is_on(summer, date(2026, 7, 15)));
        assert!(!c.is_on(summer, date(2026, 7, 14)));
    }

    #[test]
    fn a_day_is_midnight_to_midnight_where_the_children_are() {
        let c = Calendar::default();
        let day = c.day_range(date(2026, 1, 15));
        assert_eq!(day.start, utc("2026-01-14T23:00:00Z"));
        assert_eq!(day.end, utc("2026-01-15T23:00:00Z"));
        assert!(day.contains(&utc("2026-01-14T23:30:00Z")));
        assert!(!day.contains(&utc("2026-01-15T23:00:00Z")));
    }

    #[test]
    fn the_spring_change_day_has_23_hours_and_the_autumn_one_25() {
        let c = Calendar::default();
        // summer time starts on the last Sunday of March at 02:00 (-> 03:00)
        let spring = c.day_range(date(2026, 3, 29));
        assert_eq!(spring.start, utc("2026-03-28T23:00:00Z"));
        assert_eq!(spring.end, utc("2026-03-29T22:00:00Z"));
        assert_eq!((spring.end - spring.start).num_hours(), 23);
        // and ends on the last Sunday of October at 03:00 (-> 02:00)
        let autumn = c.day_range(date(2026, 10, 25));
        assert_eq!(autumn.start, utc("2026-10-24T22:00:00Z"));
        assert_eq!(autumn.end, utc("2026-10-25T23:00:00Z"));
        assert_eq!((autumn.end - autumn.start).num_hours(), 25);
        // 02:30 local happens twice in autumn: both are that Sunday
        assert_eq!(c.today(utc("2026-10-25T00:30:00Z")), date(2026, 10, 25));
        assert_eq!(c.today(utc("2026-10-25T01:30:00Z")), date(2026, 10, 25));
        assert_eq!(c.hhmm(utc("2026-10-25T00:30:00Z")), "02:30");
        assert_eq!(c.hhmm(utc("2026-10-25T01:30:00Z")), "02:30");
        // and 23:30 on the evening of the spring change is UTC 21:30
        assert_eq!(c.today(utc("2026-03-29T21:30:00Z")), date(2026, 3, 29));
        assert_eq!(c.today(utc("2026-03-29T22:30:00Z")), date(2026, 3, 30));
    }

    #[test]
    fn a_zone_that_skips_midnight_starts_the_day_at_the_first_real_minute() {
        // America/Santiago moves its clocks from 00:00 to 01:00 in September
        let c = Calendar::from_name("America/Santiago").expect("zone");
        let start = c.start_of(date(2024, 9, 8));
        assert_eq!(c.local(start).format("%H:%M").to_string(), "01:00");
        assert_eq!(c.today(start), date(2024, 9, 8));
    }
}
