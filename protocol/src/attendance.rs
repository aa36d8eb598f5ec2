//! Attendance: the presentielijst. Every tap on the group screen (a child in
//! or out, absent, a staff member in, out or on a break, an undo) is one
//! event, pushed like a photo and never edited: a correction is a new event
//! that *replaces* an earlier one, an undo is a new event that cancels one.
//!
//! [`Presence::fold`] turns a group's events into who is here, the same way
//! on the device, on the server and in the day log. The order is the
//! server's: events the server has numbered come in its change sequence,
//! events still waiting on this device after them, in the order they were
//! saved. A correction takes the place of the event it replaces, so editing
//! a time never reorders the day. Two screens that both check out the same
//! child are settled by that order: the first counts, the second is kept and
//! shown as a [`Conflict`], never dropped.

use crate::{AbsenceReason, AttendanceId, ChildId, StaffId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Longest name accepted for who brought or picked up a child.
pub const MAX_BY_CHARS: usize = 80;

/// One attendance event, pushed as `PushItem::Attendance`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceItem {
    pub id: AttendanceId,
    /// When it happened: "now" by default, set earlier when staff tap late.
    pub at: DateTime<Utc>,
    pub event: AttendanceEvent,
    /// This event corrects an earlier one (its time, or who brought or
    /// picked up); the earlier one stays in the log as replaced.
    #[serde(default)]
    pub replaces: Option<AttendanceId>,
    /// Who was unlocked when it was recorded.
    pub recorded_by: Option<StaffId>,
    /// The device's clock when saved: informative only.
    pub recorded_at_device: DateTime<Utc>,
}

impl AttendanceItem {
    /// A new event (a fresh id) that happened at `at`, recorded then by no
    /// one in particular; set `replaces` and `recorded_by` as needed.
    pub fn new(at: DateTime<Utc>, event: AttendanceEvent) -> Self {
        Self {
            id: AttendanceId::new(),
            at,
            event,
            replaces: None,
            recorded_by: None,
            recorded_at_device: at,
        }
    }
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum AttendanceEvent {
    /// The child arrived; `by` is who brought it (optional).
    ChildIn {
        child_id: ChildId,
        by: Option<String>,
    },
    /// The child went home; `by` is who picked it up (optional).
    ChildOut {
        child_id: ChildId,
        by: Option<String>,
    },
    /// A planned child did not come today.
    ChildAbsent {
        child_id: ChildId,
        reason: AbsenceReason,
        note: Option<String>,
    },
    /// A staff member started working on the group.
    StaffIn {
        staff_id: StaffId,
    },
    /// A staff member left the group.
    StaffOut {
        staff_id: StaffId,
    },
    BreakStart {
        staff_id: StaffId,
    },
    BreakEnd {
        staff_id: StaffId,
    },
    /// Cancels `target` (the undo right after a mistaken tap).
    Undo {
        target: AttendanceId,
    },
}

impl AttendanceEvent {
    /// The child the event is about.
    pub fn child(&self) -> Option<ChildId> {
        match self {
            Self::ChildIn { child_id, .. }
            | Self::ChildOut { child_id, .. }
            | Self::ChildAbsent { child_id, .. } => Some(*child_id),
            _ => None,
        }
    }

    /// The staff member the event is about.
    pub fn staff(&self) -> Option<StaffId> {
        match self {
            Self::StaffIn { staff_id }
            | Self::StaffOut { staff_id }
            | Self::BreakStart { staff_id }
            | Self::BreakEnd { staff_id } => Some(*staff_id),
            _ => None,
        }
    }

    /// Who brought or picked up, when said.
    pub fn by(&self) -> Option<&str> {
        match self {
            Self::ChildIn { by, .. } | Self::ChildOut { by, .. } => by.as_deref(),
            _ => None,
        }
    }
}

/// An attendance event as the server recorded it (in the feed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttendanceRecord {
    pub item: AttendanceItem,
    /// Server time of arrival.
    pub received_at: DateTime<Utc>,
}

/// An event with its place in the order: the server's change sequence when
/// it has one, else after all of those in the order saved on this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ordered {
    pub seq: Option<i64>,
    pub local: i64,
    pub item: AttendanceItem,
}

/// What became of an event in the fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// It counts.
    Applied,
    /// An undo: cancels its target.
    Undoes,
    /// Cancelled by a later undo.
    Undone,
    /// Replaced by a later correction.
    Replaced,
    /// Did not fit what was already recorded (kept, not applied).
    Conflict(Conflict),
}

/// Why an event did not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// The child was already checked in (another screen was first).
    AlreadyIn,
    /// The child was not checked in (already checked out elsewhere).
    NotIn,
    /// The staff member was already on the group.
    AlreadyWorking,
    /// The staff member was not on the group.
    NotWorking,
    /// The staff member was already on a break.
    AlreadyOnBreak,
    /// The staff member was not on a break.
    NotOnBreak,
}

/// One line of the day's log: the event and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub item: AttendanceItem,
    pub seq: Option<i64>,
    pub effect: Effect,
}

/// A child's stay: from `in_at` until `out_at` (still here when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stay {
    pub in_at: DateTime<Utc>,
    pub brought_by: Option<String>,
    pub in_event: AttendanceId,
    pub out_at: Option<DateTime<Utc>>,
    pub picked_up_by: Option<String>,
    pub out_event: Option<AttendanceId>,
}

/// A time span (open while `to` is `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
}

impl Span {
    fn covers(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && self.to.is_none_or(|to| t < to)
    }
}

/// A child's day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChildDay {
    pub stays: Vec<Stay>,
    /// Marked absent on the group screen (cleared when the child comes after all).
    pub absent: Option<(AbsenceReason, Option<String>, AttendanceId)>,
}

impl ChildDay {
    /// Checked in and not checked out.
    pub fn here(&self) -> bool {
        self.stays.last().is_some_and(|s| s.out_at.is_none())
    }

    /// Checked out after being here (gone home).
    pub fn gone(&self) -> bool {
        self.stays.last().is_some_and(|s| s.out_at.is_some())
    }

    fn here_at(&self, t: DateTime<Utc>) -> bool {
        self.stays.iter().any(|s| {
            Span {
                from: s.in_at,
                to: s.out_at,
            }
            .covers(t)
        })
    }
}

/// A staff member's day on the group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffDay {
    pub shifts: Vec<Span>,
    pub breaks: Vec<Span>,
}

impl StaffDay {
    /// On the group now (checked in, not checked out), on a break or not.
    pub fn working(&self) -> bool {
        self.shifts.last().is_some_and(|s| s.to.is_none())
    }

    /// On a break now.
    pub fn on_break(&self) -> bool {
        self.working() && self.breaks.last().is_some_and(|b| b.to.is_none())
    }

    /// On the floor at `t`: working and not on a break.
    pub fn on_floor_at(&self, t: DateTime<Utc>) -> bool {
        self.shifts.iter().any(|s| s.covers(t)) && !self.breaks.iter().any(|b| b.covers(t))
    }
}

/// Who was present from `at` until the next snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub at: DateTime<Utc>,
    pub children: Vec<ChildId>,
    pub staff: Vec<StaffId>,
}

/// The group's presence folded from its events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Presence {
    pub children: BTreeMap<ChildId, ChildDay>,
    pub staff: BTreeMap<StaffId, StaffDay>,
    /// Every event in order, with what became of it.
    pub log: Vec<LogLine>,
}

impl Presence {
    /// Folds events (any order; duplicates by id are kept once, the one with
    /// a server sequence winning).
    pub fn fold(events: impl IntoIterator<Item = Ordered>) -> Self {
        let mut by_id: HashMap<AttendanceId, Ordered> = HashMap::new();
        for e in events {
            match by_id.get(&e.item.id) {
                Some(known) if known.seq.is_some() => {}
                _ => {
                    by_id.insert(e.item.id, e);
                }
            }
        }
        let mut events: Vec<Ordered> = by_id.into_values().collect();
        events.sort_by_key(|e| (e.seq.unwrap_or(i64::MAX), e.local, e.item.id));

        // Undos and corrections point backwards; walk from the last event to
        // the first. An undone event does nothing (an undone correction gives
        // back what it corrected); a correction that was corrected again
        // still replaces what it replaced (the chain ends at the last one).
        let mut dead: HashMap<AttendanceId, Effect> = HashMap::new();
        for e in events.iter().rev() {
            match dead.get(&e.item.id) {
                Some(Effect::Undone) => continue,
                Some(_) => {
                    if let Some(target) = e.item.replaces {
                        dead.entry(target).or_insert(Effect::Replaced);
                    }
                    continue;
                }
                None => {}
            }
            if let AttendanceEvent::Undo { target } = e.item.event {
                dead.entry(target).or_insert(Effect::Undone);
            }
            if let Some(target) = e.item.replaces {
                dead.entry(target).or_insert(Effect::Replaced);
            }
        }

        // A correction takes the place of the event it replaces.
        let place: HashMap<AttendanceId, usize> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.item.id, i))
            .collect();
        let slot = |e: &Ordered| -> usize {
            let mut at = place.get(&e.item.id).copied().unwrap_or(usize::MAX);
            let mut seen = HashSet::new();
            let mut cur = e.item.replaces;
            while let Some(target) = cur {
                if !seen.insert(target) {
                    break;
                }
                match place.get(&target) {
                    Some(&i) => {
                        at = i;
                        cur = events[i].item.replaces;
                    }
                    None => break,
                }
            }
            at
        };
        let mut order: Vec<(usize, usize)> =
            (0..events.len()).map(|i| (slot(&events[i]), i)).collect();
        order.sort();

        let mut p = Presence::default();
        let mut effects: Vec<Effect> = vec![Effect::Applied; events.len()];
        for &(_, i) in &order {
            let e = &events[i];
            if let Some(d) = dead.get(&e.item.id) {
                effects[i] = *d;
                continue;
            }
            effects[i] = p.apply(&e.item);
        }
        p.log = events
            .into_iter()
            .zip(effects)
            .map(|(e, effect)| LogLine {
                item: e.item,
                seq: e.seq,
                effect,
            })
            .collect();
        p
    }

    fn apply(&mut self, item: &AttendanceItem) -> Effect {
        use AttendanceEvent as E;
        let at = item.at;
        match &item.event {
            E::Undo { .. } => Effect::Undoes,
            E::ChildIn { child_id, by } => {
                let day = self.children.entry(*child_id).or_default();
                if day.here() {
                    return Effect::Conflict(Conflict::AlreadyIn);
                }
                day.absent = None;
                day.stays.push(Stay {
                    in_at: at,
                    brought_by: by.clone(),
                    in_event: item.id,
                    out_at: None,
                    picked_up_by: None,
                    out_event: None,
                });
                Effect::Applied
            }
            E::ChildOut { child_id, by } => {
                let day = self.children.entry(*child_id).or_default();
                match day.stays.last_mut() {
                    Some(stay) if stay.out_at.is_none() => {
                        stay.out_at = Some(at.max(stay.in_at));
                        stay.picked_up_by = by.clone();
                        stay.out_event = Some(item.id);
                        Effect::Applied
                    }
                    _ => Effect::Conflict(Conflict::NotIn),
                }
            }
            E::ChildAbsent {
                child_id,
                reason,
                note,
            } => {
                let day = self.children.entry(*child_id).or_default();
                if day.here() {
                    return Effect::Conflict(Conflict::AlreadyIn);
                }
                day.absent = Some((*reason, note.clone(), item.id));
                Effect::Applied
            }
            E::StaffIn { staff_id } => {
                let day = self.staff.entry(*staff_id).or_default();
                if day.working() {
                    return Effect::Conflict(Conflict::AlreadyWorking);
                }
                day.shifts.push(Span { from: at, to: None });
                Effect::Applied
            }
            E::StaffOut { staff_id } => {
                let day = self.staff.entry(*staff_id).or_default();
                if !day.working() {
                    return Effect::Conflict(Conflict::NotWorking);
                }
                if let Some(b) = day.breaks.last_mut().filter(|b| b.to.is_none()) {
                    b.to = Some(at.max(b.from));
                }
                if let Some(s) = day.shifts.last_mut() {
                    s.to = Some(at.max(s.from));
                }
                Effect::Applied
            }
            E::BreakStart { staff_id } => {
                let day = self.staff.entry(*staff_id).or_default();
                if !day.working() {
                    return Effect::Conflict(Conflict::NotWorking);
                }
                if day.on_break() {
                    return Effect::Conflict(Conflict::AlreadyOnBreak);
                }
                day.breaks.push(Span { from: at, to: None });
                Effect::Applied
            }
            E::BreakEnd { staff_id } => {
                let day = self.staff.entry(*staff_id).or_default();
                if !day.on_break() {
                    return Effect::Conflict(Conflict::NotOnBreak);
                }
                if let Some(b) = day.breaks.last_mut() {
                    b.to = Some(at.max(b.from));
                }
                Effect::Applied
            }
        }
    }

    /// The child's day (empty when nothing was recorded).
    pub fn child(&self, id: &ChildId) -> ChildDay {
        self.children.get(id).cloned().unwrap_or_default()
    }

    /// The staff member's day (empty when nothing was recorded).
    pub fn staff_day(&self, id: &StaffId) -> StaffDay {
        self.staff.get(id).cloned().unwrap_or_default()
    }

    /// Children checked in now.
    pub fn children_here(&self) -> Vec<ChildId> {
        self.children
            .iter()
            .filter(|(_, d)| d.here())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Staff on the floor now (working, not on a break).
    pub fn staff_on_floor(&self) -> Vec<StaffId> {
        self.staff
            .iter()
            .filter(|(_, d)| d.working() && !d.on_break())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Who was present from `from` until `until`: one snapshot at `from` and
    /// one at every moment someone came or went in between.
    pub fn timeline(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Snapshot> {
        let mut moments: Vec<DateTime<Utc>> = vec![from];
        for d in self.children.values() {
            for s in &d.stays {
                moments.push(s.in_at);
                moments.extend(s.out_at);
            }
        }
        for d in self.staff.values() {
            for s in d.shifts.iter().chain(&d.breaks) {
                moments.push(s.from);
                moments.extend(s.to);
            }
        }
        moments.retain(|t| *t >= from && *t < until);
        moments.sort();
        moments.dedup();
        let mut out: Vec<Snapshot> = Vec::with_capacity(moments.len());
        for at in moments {
            let snap = Snapshot {
                at,
                children: self
                    .children
                    .iter()
                    .filter(|(_, d)| d.here_at(at))
                    .map(|(id, _)| *id)
                    .collect(),
                staff: self
                    .staff
                    .iter()
                    .filter(|(_, d)| d.on_floor_at(at))
                    .map(|(id, _)| *id)
                    .collect(),
            };
            if out
                .last()
                .is_some_and(|l| l.children == snap.children && l.staff == snap.staff)
            {
                continue;
            }
            out.push(snap);
        }
        out
    }
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

    fn ev(seq: Option<i64>, local: i64, t: DateTime<Utc>, event: AttendanceEvent) -> Ordered {
        Ordered {
            seq,
            local,
            item: AttendanceItem::new(t, event),
        }
    }

    fn child_in(c: ChildId, by: &str) -> AttendanceEvent {
        AttendanceEvent::ChildIn {
            child_id: c,
            by: Some(by.into()),
        }
    }

    fn child_out(c: ChildId, by: &str) -> AttendanceEvent {
        AttendanceEvent::ChildOut {
            child_id: c,
            by: Some(by.into()),
        }
    }

    #[test]
    fn in_and_out_make_a_stay_with_who_brought_and_picked_up() {
        let noor = ChildId::new();
        let p = Presence::fold([
            ev(Some(1), 0, at(7, 5), child_in(noor, "papa")),
            ev(Some(2), 0, at(16, 12), child_out(noor, "oma")),
        ]);
        let day = p.child(&noor);
        assert_eq!(day.stays.len(), 1);
        assert_eq!(day.stays[0].in_at, at(7, 5));
        assert_eq!(day.stays[0].brought_by.as_deref(), Some("papa"));
        assert_eq!(day.stays[0].out_at, Some(at(16, 12)));
        assert_eq!(day.stays[0].picked_up_by.as_deref(), Some("oma"));
        assert!(day.gone() && !day.here());
        assert!(p.log.iter().all(|l| l.effect == Effect::Applied));
    }

    #[test]
    fn two_screens_checking_out_the_same_child_the_servers_first_counts_and_the_second_is_kept() {
        let noor = ChildId::new();
        let first = ev(Some(5), 0, at(16, 13), child_out(noor, "oma"));
        let second = ev(Some(6), 0, at(16, 12), child_out(noor, "opa"));
        let p = Presence::fold([
            second.clone(),
            ev(Some(1), 0, at(7, 0), child_in(noor, "papa")),
            first.clone(),
        ]);
        assert_eq!(p.child(&noor).stays[0].picked_up_by.as_deref(), Some("oma"));
        let effect = |id| p.log.iter().find(|l| l.item.id == id).map(|l| l.effect);
        assert_eq!(effect(first.item.id), Some(Effect::Applied));
        assert_eq!(
            effect(second.item.id),
            Some(Effect::Conflict(Conflict::NotIn))
        );
        assert_eq!(p.log.len(), 3, "nothing is dropped");
    }

    #[test]
    fn an_undo_cancels_and_an_undone_undo_does_not() {
        let noor = ChildId::new();
        let tap = ev(Some(1), 0, at(7, 0), child_in(noor, "papa"));
        let undo = ev(
            Some(2),
            0,
            at(7, 0),
            AttendanceEvent::Undo {
                target: tap.item.id,
            },
        );
        let p = Presence::fold([tap.clone(), undo.clone()]);
        assert!(!p.child(&noor).here());
        assert_eq!(p.log[0].effect, Effect::Undone);
        assert_eq!(p.log[1].effect, Effect::Undoes);

        let undo_undo = ev(
            None,
            1,
            at(7, 1),
            AttendanceEvent::Undo {
                target: undo.item.id,
            },
        );
        let p = Presence::fold([tap, undo, undo_undo]);
        assert!(p.child(&noor).here(), "the undo was undone");
    }

    #[test]
    fn a_correction_replaces_the_time_and_keeps_its_place_in_the_order() {
        let noor = ChildId::new();
        let tap = ev(Some(1), 0, at(8, 30), child_in(noor, "papa"));
        let out = ev(Some(2), 0, at(12, 0), child_out(noor, "mama"));
        // corrected after the check-out: she really came at 7:45
        let mut fix = ev(Some(3), 0, at(7, 45), child_in(noor, "oma"));
        fix.item.replaces = Some(tap.item.id);
        let p = Presence::fold([tap, out, fix]);
        let day = p.child(&noor);
        assert_eq!(day.stays.len(), 1);
        assert_eq!(day.stays[0].in_at, at(7, 45));
        assert_eq!(day.stays[0].brought_by.as_deref(), Some("oma"));
        assert_eq!(day.stays[0].out_at, Some(at(12, 0)));
        assert_eq!(p.log[0].effect, Effect::Replaced);
        assert!(p.log[1..].iter().all(|l| l.effect == Effect::Applied));
    }

    #[test]
    fn a_correction_of_a_correction_replaces_the_whole_chain_and_undoing_the_last_gives_back_the_one_before()
     {
        let noor = ChildId::new();
        let tap = ev(Some(1), 0, at(8, 30), child_in(noor, "papa"));
        let mut fix = ev(Some(2), 0, at(8, 0), child_in(noor, "oma"));
        fix.item.replaces = Some(tap.item.id);
        let mut again = ev(Some(3), 0, at(7, 55), child_in(noor, "opa"));
        again.item.replaces = Some(fix.item.id);
        let p = Presence::fold([tap.clone(), fix.clone(), again.clone()]);
        let day = p.child(&noor);
        assert_eq!(day.stays.len(), 1);
        assert_eq!(day.stays[0].in_at, at(7, 55));
        assert_eq!(day.stays[0].brought_by.as_deref(), Some("opa"));
        assert_eq!(p.log[0].effect, Effect::Replaced);
        assert_eq!(p.log[1].effect, Effect::Replaced);

        let undo = ev(
            Some(4),
            0,
            at(9, 0),
            AttendanceEvent::Undo {
                target: again.item.id,
            },
        );
        let p = Presence::fold([tap, fix, again, undo]);
        let day = p.child(&noor);
        assert_eq!(day.stays.len(), 1, "one stay, not two");
        assert_eq!(day.stays[0].in_at, at(8, 0));
        assert_eq!(day.stays[0].brought_by.as_deref(), Some("oma"));
    }

    #[test]
    fn waiting_events_come_after_the_servers_and_a_duplicate_is_counted_once() {
        let noor = ChildId::new();
        let tap = ev(None, 7, at(7, 0), child_in(noor, "papa"));
        let mut echoed = tap.clone();
        echoed.seq = Some(3);
        let p = Presence::fold([tap, echoed]);
        assert_eq!(p.log.len(), 1);
        assert_eq!(p.log[0].seq, Some(3));
        assert!(p.child(&noor).here());
    }

    #[test]
    fn staff_on_the_floor_excludes_breaks_and_the_timeline_counts_both() {
        let anouk = StaffId::new();
        let noor = ChildId::new();
        let p = Presence::fold([
            ev(
                Some(1),
                0,
                at(7, 0),
                AttendanceEvent::StaffIn { staff_id: anouk },
            ),
            ev(Some(2), 0, at(7, 10), child_in(noor, "papa")),
            ev(
                Some(3),
                0,
                at(12, 0),
                AttendanceEvent::BreakStart { staff_id: anouk },
            ),
            ev(
                Some(4),
                0,
                at(12, 30),
                AttendanceEvent::BreakEnd { staff_id: anouk },
            ),
        ]);
        assert_eq!(p.staff_on_floor(), vec![anouk]);
        let line = p.timeline(at(6, 0), at(13, 0));
        let counts: Vec<(DateTime<Utc>, usize, usize)> = line
            .iter()
            .map(|s| (s.at, s.children.len(), s.staff.len()))
            .collect();
        assert_eq!(
            counts,
            vec![
                (at(6, 0), 0, 0),
                (at(7, 0), 0, 1),
                (at(7, 10), 1, 1),
                (at(12, 0), 1, 0),
                (at(12, 30), 1, 1),
            ]
        );
        // a second break start while on a break does not fit
        let p = Presence::fold([
            ev(
                Some(1),
                0,
                at(7, 0),
                AttendanceEvent::StaffIn { staff_id: anouk },
            ),
            ev(
                Some(2),
                0,
                at(12, 0),
                AttendanceEvent::BreakStart { staff_id: anouk },
            ),
            ev(
                Some(3),
                0,
                at(12, 1),
                AttendanceEvent::BreakStart { staff_id: anouk },
            ),
        ]);
        assert_eq!(p.log[2].effect, Effect::Conflict(Conflict::AlreadyOnBreak));
        assert!(p.staff_day(&anouk).on_break());
    }

    #[test]
    fn absent_then_coming_after_all_clears_the_absence() {
        let noor = ChildId::new();
        let p = Presence::fold([
            ev(
                Some(1),
                0,
                at(8, 0),
                AttendanceEvent::ChildAbsent {
                    child_id: noor,
                    reason: AbsenceReason::Ziek,
                    note: None,
                },
            ),
            ev(Some(2), 0, at(10, 0), child_in(noor, "papa")),
        ]);
        let day = p.child(&noor);
        assert!(day.absent.is_none());
        assert!(day.here());
    }
}
