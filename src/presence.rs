//! Who is here on the group today, read from the store: the attendance
//! events folded ([`Presence::fold`]), and what the BKR engine says about
//! them now, over the day so far, and if one more child came in or one
//! staff member went away. Pure apart from [`GroupDay::read`].

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use kring_bkr::day::{DayBudget, DayKind, Heads, Moment, day_budget, heads_up};
use kring_bkr::{Care, Counts, Outcome, assess_counts, band_of};
use kring_protocol::attendance::Presence;
use kring_protocol::{Calendar, Child, ChildId, GroupCare, StaffId};
use kring_sync::{Store, StoreError};
use std::collections::HashMap;

/// The group's day so far.
#[derive(Debug, Clone)]
pub struct GroupDay {
    pub care: Care,
    pub day: NaiveDate,
    pub start: DateTime<Utc>,
    pub kind: DayKind,
    pub presence: Presence,
    births: HashMap<ChildId, NaiveDate>,
}

/// The group now, in numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub children: u32,
    pub staff: u32,
    pub counts: Counts,
    pub outcome: Outcome,
}

/// The kind of care of the group as the engine knows it.
pub fn care_of(care: Option<GroupCare>) -> Care {
    match care {
        Some(GroupCare::Bso) => Care::Bso,
        Some(GroupCare::Dagopvang) | None => Care::Dagopvang,
    }
}

impl GroupDay {
    /// Today's events from the store, folded.
    pub fn read(
        store: &Store,
        calendar: &Calendar,
        now: DateTime<Utc>,
    ) -> Result<Self, StoreError> {
        let day = calendar.today(now);
        let range = calendar.day_range(day);
        let events = store.attendance(range.clone())?;
        let care = care_of(store.group()?.map(|g| g.care));
        Ok(Self::new(
            care,
            day,
            range.start,
            Presence::fold(events),
            &store.children()?,
        ))
    }

    pub fn new(
        care: Care,
        day: NaiveDate,
        start: DateTime<Utc>,
        presence: Presence,
        children: &[Child],
    ) -> Self {
        // BSO on a weekday is a school day (half an hour); school holidays
        // are not known on the device yet, so a vacation day counts as one.
        let school_day = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        Self {
            care,
            day,
            start,
            kind: DayKind::usual(care, school_day),
            presence,
            births: children.iter().map(|c| (c.id, c.birth_date)).collect(),
        }
    }

    /// Anything recorded today (until then Vandaag shows who is expected).
    pub fn recorded(&self) -> bool {
        !self.presence.log.is_empty()
    }

    fn band(&self, child: &ChildId) -> Option<usize> {
        let birth = self.births.get(child)?;
        Some(band_of(self.care, kring_bkr::age_on(*birth, self.day)?))
    }

    /// The children counted into the engine's age bands (a child no longer
    /// on the group, or born after today, is not counted).
    pub fn counts<'a>(&self, children: impl IntoIterator<Item = &'a ChildId>) -> Counts {
        children
            .into_iter()
            .filter_map(|c| self.band(c))
            .fold(Counts::default(), Counts::with)
    }

    pub fn now(&self) -> Now {
        let here = self.presence.children_here();
        let counts = self.counts(&here);
        Now {
            children: counts.total(),
            staff: u32::try_from(self.presence.staff_on_floor().len()).unwrap_or(u32::MAX),
            counts,
            outcome: assess_counts(self.care, counts),
        }
    }

    /// The day's time below the ratio up to `now`.
    pub fn budget(&self, now: DateTime<Utc>) -> DayBudget {
        let moments: Vec<Moment> = self
            .presence
            .timeline(self.start, now)
            .into_iter()
            .map(|s| Moment {
                at: s.at,
                counts: self.counts(&s.children),
                staff: u32::try_from(s.staff.len()).unwrap_or(u32::MAX),
            })
            .collect();
        day_budget(self.care, self.kind, &moments, now)
    }

    /// What checking `child` in now would mean.
    pub fn if_child_in(&self, child: &ChildId, now: DateTime<Utc>) -> Heads {
        let n = self.now();
        let counts = match self.band(child) {
            Some(band) => n.counts.with(band),
            None => n.counts,
        };
        heads_up(self.care, &self.budget(now), counts, n.staff)
    }

    /// What `staff` going away (a break or home) now would mean; `Fine` when
    /// they are not on the floor.
    pub fn if_staff_away(&self, staff: &StaffId, now: DateTime<Utc>) -> Heads {
        let n = self.now();
        if !self.presence.staff_on_floor().contains(staff) {
            return Heads::Fine;
        }
        heads_up(
            self.care,
            &self.budget(now),
            n.counts,
            n.staff.saturating_sub(1),
        )
    }

    /// One adult alone with children in dagopvang: the vierogen reminder.
    pub fn four_eyes(&self) -> bool {
        let n = self.now();
        kring_bkr::day::four_eyes_reminder(self.care, n.staff, n.children)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use kring_protocol::attendance::Ordered;
    use kring_protocol::{AttendanceEvent, AttendanceItem, PhotoConsent};

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        // Friday 4 December 2026 (a weekday)
        Utc.with_ymd_and_hms(2026, 12, 4, h, m, 0)
            .single()
            .unwrap_or_else(|| panic!("{h}:{m}"))
    }

    fn child(months: u32) -> Child {
        let day = NaiveDate::from_ymd_opt(2026, 12, 4).expect("day");
        Child {
            id: ChildId::new(),
            first_name: "K".into(),
            last_name: "L".into(),
            birth_date: day - chrono::Months::new(months),
            photo_consent: PhotoConsent::Group,
            planned_days: vec![],
            placement_start: day,
            placement_end: None,
            allergies: None,
            notes: None,
            pickup: vec![],
            extra_days: vec![],
            cancelled_days: vec![],
        }
    }

    fn ev(seq: i64, t: DateTime<Utc>, event: AttendanceEvent) -> Ordered {
        Ordered {
            seq: Some(seq),
            local: 0,
            item: AttendanceItem::new(t, event),
        }
    }

    fn day_of(events: Vec<Ordered>, kids: &[Child]) -> GroupDay {
        GroupDay::new(
            Care::Dagopvang,
            NaiveDate::from_ymd_opt(2026, 12, 4).expect("day"),
            at(0, 0) - Duration::hours(1),
            Presence::fold(events),
            kids,
        )
    }

    #[test]
    fn four_babies_with_one_leidster_need_two_and_the_budget_runs_while_short() {
        // four babies: 4 of 3 per beroepskracht (table 1, 0 jaar) -> 2 needed
        let kids: Vec<Child> = (0..4).map(|_| child(6)).collect();
        let anouk = StaffId::new();
        let mut events = vec![ev(
            1,
            at(7, 0),
            AttendanceEvent::StaffIn { staff_id: anouk },
        )];
        for (i, k) in kids.iter().enumerate() {
            events.push(ev(
                2 + i as i64,
                at(8, 0),
                AttendanceEvent::ChildIn {
                    child_id: k.id,
                    by: None,
                },
            ));
        }
        let g = day_of(events, &kids);
        let n = g.now();
        assert_eq!((n.children, n.staff), (4, 1));
        assert_eq!(n.outcome.required(), Some(2));
        assert!(g.four_eyes(), "one adult alone with babies");
        let b = g.budget(at(9, 20));
        assert_eq!(b.below, Duration::minutes(80));
        assert_eq!(b.remaining(), Duration::minutes(100), "nog 1 u 40 min");
        // a fifth baby: still 2 needed (5 of 3 -> 2), still below, 100 min left
        let fifth = child(3);
        let mut all = kids.clone();
        all.push(fifth.clone());
        let g = GroupDay::new(g.care, g.day, g.start, g.presence.clone(), &all);
        assert!(matches!(
            g.if_child_in(&fifth.id, at(9, 20)),
            Heads::BelowRatio { required: 2, remaining } if remaining == Duration::minutes(100)
        ));
    }

    #[test]
    fn the_second_leidster_going_on_a_break_is_announced_before_and_the_first_is_not_counted_twice()
    {
        let kids: Vec<Child> = (0..4).map(|_| child(6)).collect();
        let (a, b) = (StaffId::new(), StaffId::new());
        let mut events = vec![
            ev(1, at(7, 0), AttendanceEvent::StaffIn { staff_id: a }),
            ev(2, at(7, 0), AttendanceEvent::StaffIn { staff_id: b }),
        ];
        for (i, k) in kids.iter().enumerate() {
            events.push(ev(
                3 + i as i64,
                at(8, 0),
                AttendanceEvent::ChildIn {
                    child_id: k.id,
                    by: None,
                },
            ));
        }
        let g = day_of(events, &kids);
        assert_eq!(g.budget(at(12, 0)).below, Duration::zero());
        assert!(!g.four_eyes());
        assert!(matches!(
            g.if_staff_away(&b, at(12, 0)),
            Heads::BelowRatio { required: 2, .. }
        ));
        assert_eq!(
            g.if_staff_away(&StaffId::new(), at(12, 0)),
            Heads::Fine,
            "someone not on the floor changes nothing"
        );
    }

    #[test]
    fn nothing_recorded_is_not_a_ratio_yet() {
        let g = day_of(vec![], &[child(20)]);
        assert!(!g.recorded());
        assert_eq!(g.now().children, 0);
    }
}
