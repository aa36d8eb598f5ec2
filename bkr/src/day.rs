//! The day's allowance below the ratio (the *drie-uursregeling*) and the
//! *vierogenprincipe*.
//!
//! - Dagopvang may run with fewer staff than the ratio asks for at most
//!   **3 hours a day**, and never with fewer than **half** the staff required
//!   (Besluit kwaliteit kinderopvang, art. 7 lid 4; the condition that the
//!   location is open at least 10 hours in a row is the caller's: it passes
//!   [`DayKind`] accordingly).
//! - BSO: at most **half an hour** on school days (before and after school,
//!   free afternoons), with the same floor of half; on vacation days and
//!   whole free days the dagopvang rule (3 hours).
//!
//! The law's wording of these rules could not be read here (sector and
//! government summaries agree on them; see `docs/bkr.md`). "At least half"
//! of an odd number rounds up: half of 3 is met by 2 people, not 1.
//!
//! Pure: the caller gives the day as [`Moment`]s (who was present from when)
//! and the time to count until.

use crate::{Care, Counts, assess_counts};
use chrono::{DateTime, Duration, Utc};

/// Which allowance applies to the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayKind {
    /// Dagopvang (open 10 hours or more), or a BSO vacation or whole free day:
    /// 3 hours.
    Long,
    /// A BSO school day: half an hour.
    SchoolDay,
    /// No deviation allowed (e.g. a dagopvang location open less than 10
    /// hours in a row).
    None,
}

impl DayKind {
    /// The time below the ratio the day allows.
    pub fn allowance(self) -> Duration {
        match self {
            Self::Long => Duration::hours(3),
            Self::SchoolDay => Duration::minutes(30),
            Self::None => Duration::zero(),
        }
    }

    /// The usual kind for `care` on a school day or not.
    pub fn usual(care: Care, school_day: bool) -> Self {
        match (care, school_day) {
            (Care::Bso, true) => Self::SchoolDay,
            _ => Self::Long,
        }
    }
}

/// From `at` (until the next moment), `counts` children and `staff`
/// beroepskrachten were present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Moment {
    pub at: DateTime<Utc>,
    pub counts: Counts,
    pub staff: u32,
}

/// How a staffing compares with the ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Standing {
    /// Enough staff for the children present.
    Enough,
    /// Fewer than required, but at least half: counts against the allowance.
    Below { required: u32 },
    /// Fewer than half the staff required: never allowed.
    BelowHalf { required: u32 },
    /// More children than the table allows with any staff.
    TooLarge,
}

/// Where `staff` leaves `counts` in `care`.
pub fn standing(care: Care, counts: Counts, staff: u32) -> Standing {
    match assess_counts(care, counts).required() {
        None => Standing::TooLarge,
        Some(required) if staff >= required => Standing::Enough,
        // "at least half": 2 of 3, 1 of 2, 1 of 1
        Some(required) if staff >= required.div_ceil(2) => Standing::Below { required },
        Some(required) => Standing::BelowHalf { required },
    }
}

/// The day so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DayBudget {
    pub allowance: Duration,
    /// Time below the ratio (at least half the staff).
    pub below: Duration,
    /// Time with fewer than half the staff required (never allowed).
    pub below_half: Duration,
    /// Time with more children than the table allows.
    pub too_large: Duration,
}

impl DayBudget {
    /// What is left of the allowance (zero when spent).
    pub fn remaining(&self) -> Duration {
        (self.allowance - self.below).max(Duration::zero())
    }

    /// True when the group has been below the ratio for longer than allowed.
    pub fn overspent(&self) -> bool {
        self.below > self.allowance
    }
}

/// The day's time below the ratio from `moments` (in order of time) up to
/// `until`; the last moment lasts until `until`.
pub fn day_budget(
    care: Care,
    kind: DayKind,
    moments: &[Moment],
    until: DateTime<Utc>,
) -> DayBudget {
    let mut budget = DayBudget {
        allowance: kind.allowance(),
        below: Duration::zero(),
        below_half: Duration::zero(),
        too_large: Duration::zero(),
    };
    for (i, m) in moments.iter().enumerate() {
        let end = moments.get(i + 1).map_or(until, |next| next.at).min(until);
        let lasted = end - m.at;
        if lasted <= Duration::zero() {
            continue;
        }
        match standing(care, m.counts, m.staff) {
            Standing::Enough => {}
            Standing::Below { .. } => budget.below += lasted,
            Standing::BelowHalf { .. } => budget.below_half += lasted,
            Standing::TooLarge => budget.too_large += lasted,
        }
    }
    budget
}

/// What the screen says before a change (a child in, a staff member out or
/// on a break) takes effect. The change is never refused: staff decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Heads {
    /// The group stays within the ratio.
    Fine,
    /// Below the ratio from now; `remaining` of the day's allowance is left.
    BelowRatio { required: u32, remaining: Duration },
    /// Below the ratio with nothing of the allowance left.
    AllowanceSpent { required: u32 },
    /// Fewer than half the staff required.
    BelowHalf { required: u32 },
    /// More children than the table allows.
    TooLarge,
}

/// The heads-up for going to `counts` with `staff` given the day so far.
pub fn heads_up(care: Care, budget: &DayBudget, counts: Counts, staff: u32) -> Heads {
    match standing(care, counts, staff) {
        Standing::Enough => Heads::Fine,
        Standing::TooLarge => Heads::TooLarge,
        Standing::BelowHalf { required } => Heads::BelowHalf { required },
        Standing::Below { required } if budget.remaining() > Duration::zero() => {
            Heads::BelowRatio {
                required,
                remaining: budget.remaining(),
            }
        }
        Standing::Below { required } => Heads::AllowanceSpent { required },
    }
}

/// The vierogenprincipe: in dagopvang one adult alone with the children must
/// be seen or heard by another adult; the screen reminds when one is alone.
pub fn four_eyes_reminder(care: Care, adults_present: u32, children: u32) -> bool {
    care == Care::Dagopvang && adults_present == 1 && children > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, h, m, 0)
            .single()
            .unwrap_or_else(|| panic!("{h}:{m}"))
    }

    fn m(h: u32, min: u32, n: [u32; 4], staff: u32) -> Moment {
        Moment {
            at: at(h, min),
            counts: Counts(n),
            staff,
        }
    }

    #[test]
    fn half_of_the_staff_rounds_up() {
        // 12 babies need 4: 2 is half; 20 babies are too many
        assert_eq!(
            standing(Care::Dagopvang, Counts([12, 0, 0, 0]), 2),
            Standing::Below { required: 4 }
        );
        assert_eq!(
            standing(Care::Dagopvang, Counts([12, 0, 0, 0]), 1),
            Standing::BelowHalf { required: 4 }
        );
        // 7 babies need 3: half is 1.5, so 2
        assert_eq!(
            standing(Care::Dagopvang, Counts([7, 0, 0, 0]), 2),
            Standing::Below { required: 3 }
        );
        assert_eq!(
            standing(Care::Dagopvang, Counts([7, 0, 0, 0]), 1),
            Standing::BelowHalf { required: 3 }
        );
        assert_eq!(
            standing(Care::Dagopvang, Counts([0, 0, 17, 0]), 5),
            Standing::TooLarge
        );
        assert_eq!(
            standing(Care::Bso, Counts([0, 12, 0, 0]), 1),
            Standing::Enough
        );
    }

    #[test]
    fn the_day_counts_only_the_time_below() {
        // 07:00 two staff for 9 two-year-olds (enough); 12:30 one on a break
        // (below: 9 > 8); 13:30 back; 17:00 one leaves with 5 left (enough)
        let day = [
            m(7, 0, [0, 0, 9, 0], 2),
            m(12, 30, [0, 0, 9, 0], 1),
            m(13, 30, [0, 0, 9, 0], 2),
            m(17, 0, [0, 0, 5, 0], 1),
        ];
        let b = day_budget(Care::Dagopvang, DayKind::Long, &day, at(18, 30));
        assert_eq!(b.below, Duration::hours(1));
        assert_eq!(b.remaining(), Duration::hours(2));
        assert!(!b.overspent());
        // counted only up to `until`
        let b = day_budget(Care::Dagopvang, DayKind::Long, &day, at(13, 0));
        assert_eq!(b.below, Duration::minutes(30));
        // a BSO school day allows half an hour
        let bso = [m(15, 0, [0, 13, 0, 0], 1), m(15, 45, [0, 13, 0, 0], 2)];
        let b = day_budget(Care::Bso, DayKind::SchoolDay, &bso, at(18, 0));
        assert_eq!(b.below, Duration::minutes(45));
        assert!(b.overspent());
        assert_eq!(b.remaining(), Duration::zero());
    }

    #[test]
    fn below_half_and_too_large_are_counted_apart() {
        let day = [
            m(8, 0, [7, 0, 0, 0], 1),
            m(8, 20, [0, 0, 17, 0], 3),
            m(8, 30, [0, 0, 0, 0], 0),
        ];
        let b = day_budget(Care::Dagopvang, DayKind::Long, &day, at(9, 0));
        assert_eq!(b.below_half, Duration::minutes(20));
        assert_eq!(b.too_large, Duration::minutes(10));
        assert_eq!(b.below, Duration::zero());
    }

    #[test]
    fn heads_up_before_a_break_or_a_check_out() {
        let fresh = day_budget(Care::Dagopvang, DayKind::Long, &[], at(7, 0));
        // 9 two-year-olds, one of two staff goes on a break: below, 3 h left
        assert_eq!(
            heads_up(Care::Dagopvang, &fresh, Counts([0, 0, 9, 0]), 1),
            Heads::BelowRatio {
                required: 2,
                remaining: Duration::hours(3)
            }
        );
        // a child leaves first: 8 with one is fine
        assert_eq!(
            heads_up(Care::Dagopvang, &fresh, Counts([0, 0, 8, 0]), 1),
            Heads::Fine
        );
        // the allowance spent
        let spent = day_budget(
            Care::Dagopvang,
            DayKind::Long,
            &[m(9, 0, [0, 0, 9, 0], 1)],
            at(12, 0),
        );
        assert_eq!(
            heads_up(Care::Dagopvang, &spent, Counts([0, 0, 9, 0]), 1),
            Heads::AllowanceSpent { required: 2 }
        );
        // fewer than half: 12 babies with one
        assert_eq!(
            heads_up(Care::Dagopvang, &fresh, Counts([12, 0, 0, 0]), 1),
            Heads::BelowHalf { required: 4 }
        );
        // no deviation allowed at all
        let none = day_budget(Care::Dagopvang, DayKind::None, &[], at(7, 0));
        assert_eq!(
            heads_up(Care::Dagopvang, &none, Counts([0, 0, 9, 0]), 1),
            Heads::AllowanceSpent { required: 2 }
        );
    }

    #[test]
    fn the_usual_allowance() {
        assert_eq!(
            DayKind::usual(Care::Dagopvang, true).allowance(),
            Duration::hours(3)
        );
        assert_eq!(
            DayKind::usual(Care::Bso, true).allowance(),
            Duration::minutes(30)
        );
        assert_eq!(
            DayKind::usual(Care::Bso, false).allowance(),
            Duration::hours(3)
        );
    }

    #[test]
    fn four_eyes_only_in_dagopvang_with_one_adult_and_children() {
        assert!(four_eyes_reminder(Care::Dagopvang, 1, 3));
        assert!(!four_eyes_reminder(Care::Dagopvang, 2, 3));
        assert!(!four_eyes_reminder(Care::Dagopvang, 1, 0));
        assert!(!four_eyes_reminder(Care::Bso, 1, 10));
    }
}
