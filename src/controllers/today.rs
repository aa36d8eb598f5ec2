//! Vandaag: who is expected today, who is here (one tap to check a child in
//! or out), who is absent and why, badges, and the ratio as the BKR engine
//! computes it for the children and staff present.

use super::Screen;
use super::{hhmm, model, s};
use crate::app::Ctx;
use crate::presence::GroupDay;
use crate::view;
use crate::{AppWindow, ChildPresence, ChildRow, Page, TodayAdapter, Words};
use chrono::{DateTime, Duration, Utc};
use kring_bkr::day::Heads;
use kring_bkr::{Care, Limit, Outcome};
use kring_protocol::attendance::{ChildDay, Effect};
use kring_protocol::{
    AttendanceEvent, AttendanceId, Child, ChildId, MessageAuthor, MessageThread, PartOfDay,
};
use kring_sync::NewAttendance;
use slint::{ComponentHandle, Timer, TimerMode};
use std::cell::RefCell;
use std::rc::Rc;

/// How long "Ongedaan maken" and "Aanpassen" stay after a tap. Later
/// corrections are new events too, made from the day log (never edits).
pub const UNDO_FOR: std::time::Duration = std::time::Duration::from_secs(20);

/// An event this screen recorded, while it can still be undone or adjusted.
#[derive(Debug, Clone)]
struct Recorded {
    id: AttendanceId,
    child: ChildId,
    first_name: String,
    event: AttendanceEvent,
    at: DateTime<Utc>,
}

/// Vandaag's own state: the last tap (for undo and adjust), the tap waiting
/// for "toch" after a heads-up, the correction being prepared.
#[derive(Default)]
pub struct TodayScreen {
    last: RefCell<Option<Recorded>>,
    confirm: RefCell<Option<AttendanceEvent>>,
    adjust: RefCell<Option<DateTime<Utc>>>,
    toast: Timer,
}

impl std::fmt::Debug for TodayScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TodayScreen")
            .field("last", &self.last.borrow().as_ref().map(|r| r.id))
            .finish_non_exhaustive()
    }
}

impl Screen for TodayScreen {
    fn pages(&self) -> &'static [Page] {
        &[Page::Today]
    }
    fn enter(&self, ctx: &Rc<Ctx>) {
        refresh(ctx);
    }
    fn refresh(&self, ctx: &Rc<Ctx>) {
        refresh(ctx);
    }
    fn clear(&self, ctx: &Ctx) {
        *self.last.borrow_mut() = None;
        *self.confirm.borrow_mut() = None;
        *self.adjust.borrow_mut() = None;
        self.toast.stop();
        let Some(ui) = ctx.ui() else { return };
        let t = ui.global::<TodayAdapter>();
        t.set_children(model(vec![]));
        t.set_detail_open(false);
        t.set_detail(Default::default());
        t.set_detail_notes("".into());
        t.set_detail_diary(model(vec![]));
        t.set_detail_messages(model(vec![]));
        t.set_detail_attendance(model(vec![]));
        t.set_ratio_text("".into());
        t.set_ratio_lines("".into());
        t.set_ratio_alert(false);
        t.set_budget_text("".into());
        t.set_budget_alert(false);
        t.set_four_eyes(false);
        t.set_toast_text("".into());
        t.set_confirm_open(false);
        t.set_confirm_text("".into());
        t.set_adjust_open(false);
        t.set_adjust_title("".into());
        t.set_adjust_people(model(vec![]));
        t.set_adjust_by("".into());
        t.set_adjust_typed("".into());
    }
}

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) -> Rc<dyn Screen> {
    let screen = Rc::new(TodayScreen::default());
    let t = ui.global::<TodayAdapter>();
    t.on_open_child({
        let ctx = ctx.clone();
        move |id| {
            ctx.touched();
            open_child(&ctx, &id);
        }
    });
    t.on_close_detail({
        let ctx = ctx.clone();
        move || {
            if let Some(ui) = ctx.ui() {
                ui.global::<TodayAdapter>().set_detail_open(false);
            }
        }
    });
    t.on_toggle({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |id| {
            ctx.touched();
            screen.toggle(&ctx, &id);
        }
    });
    t.on_confirm({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            ctx.touched();
            let event = screen.confirm.borrow_mut().take();
            if let Some(ui) = ctx.ui() {
                ui.global::<TodayAdapter>().set_confirm_open(false);
            }
            if let Some(event) = event {
                screen.record(&ctx, event, ctx.now(), None);
            }
        }
    });
    t.on_cancel_confirm({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            *screen.confirm.borrow_mut() = None;
            if let Some(ui) = ctx.ui() {
                ui.global::<TodayAdapter>().set_confirm_open(false);
            }
        }
    });
    t.on_undo({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            ctx.touched();
            screen.undo(&ctx);
        }
    });
    t.on_adjust({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            ctx.touched();
            screen.open_adjust(&ctx);
        }
    });
    t.on_adjust_minutes({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |minutes| {
            ctx.touched();
            screen.move_time(&ctx, minutes);
        }
    });
    t.on_adjust_save({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            ctx.touched();
            screen.save_adjust(&ctx);
        }
    });
    t.on_adjust_close({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            *screen.adjust.borrow_mut() = None;
            if let Some(ui) = ctx.ui() {
                ui.global::<TodayAdapter>().set_adjust_open(false);
            }
            screen.keep_toast(&ctx);
        }
    });
    t.on_adjust_child({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |id| {
            ctx.touched();
            let Ok(child_id) = id.parse::<uuid::Uuid>().map(ChildId) else {
                return;
            };
            if let Some(ui) = ctx.ui() {
                ui.global::<TodayAdapter>().set_detail_open(false);
            }
            screen.adjust_later(&ctx, child_id);
        }
    });
    t.on_mark_absent({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |id, reason| {
            ctx.touched();
            let Ok(child_id) = id.parse::<uuid::Uuid>().map(ChildId) else {
                return;
            };
            if let Some(ui) = ctx.ui() {
                ui.global::<TodayAdapter>().set_detail_open(false);
            }
            let event = AttendanceEvent::ChildAbsent {
                child_id,
                reason: reason.into(),
                note: None,
            };
            screen.record(&ctx, event, ctx.now(), None);
        }
    });
    screen
}

fn child_of(ctx: &Ctx, id: &ChildId) -> Option<Child> {
    ctx.read("children", ctx.store.children())
        .into_iter()
        .find(|c| c.id == *id)
}

fn group_day(ctx: &Ctx) -> Option<GroupDay> {
    match GroupDay::read(&ctx.store, &ctx.calendar(), ctx.now()) {
        Ok(day) => Some(day),
        Err(e) => {
            ctx.read::<()>("attendance", Err(e));
            None
        }
    }
}

/// The heads-up in words, or `None` when the group stays within the ratio.
pub(crate) fn heads_text(w: &Words, heads: Heads) -> Option<slint::SharedString> {
    let n = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    match heads {
        Heads::Fine => None,
        Heads::BelowRatio {
            required,
            remaining,
        } => Some(w.invoke_heads_below(n(required), minutes(remaining))),
        Heads::AllowanceSpent { required } => Some(w.invoke_heads_spent(n(required))),
        Heads::BelowHalf { required } => Some(w.invoke_heads_half(n(required))),
        Heads::TooLarge => Some(w.invoke_heads_too_large()),
    }
}

/// Whole minutes of `d` (a started minute counts as passed).
fn minutes(d: Duration) -> i32 {
    i32::try_from(d.num_minutes()).unwrap_or(i32::MAX)
}

impl TodayScreen {
    /// One tap on a child's button: in when not here, out when here. A
    /// check-in that would take the group below the ratio asks first.
    fn toggle(self: &Rc<Self>, ctx: &Rc<Ctx>, id: &str) {
        let Some(ui) = ctx.ui() else { return };
        let Ok(child_id) = id.parse::<uuid::Uuid>().map(ChildId) else {
            return;
        };
        let Some(day) = group_day(ctx) else { return };
        let now = ctx.now();
        if day.presence.child(&child_id).here() {
            let event = AttendanceEvent::ChildOut { child_id, by: None };
            self.record(ctx, event, now, None);
            return;
        }
        let event = AttendanceEvent::ChildIn { child_id, by: None };
        let w = ui.global::<Words>();
        match heads_text(&w, day.if_child_in(&child_id, now)) {
            None => self.record(ctx, event, now, None),
            Some(text) => {
                *self.confirm.borrow_mut() = Some(event);
                let t = ui.global::<TodayAdapter>();
                t.set_confirm_text(text);
                t.set_confirm_action(w.invoke_still_check_in());
                t.set_confirm_open(true);
            }
        }
    }

    /// Saves the event (durably, to the outbox) and says so, with undo.
    fn record(
        self: &Rc<Self>,
        ctx: &Rc<Ctx>,
        event: AttendanceEvent,
        at: DateTime<Utc>,
        replaces: Option<AttendanceId>,
    ) {
        let Some(ui) = ctx.ui() else { return };
        let w = ui.global::<Words>();
        let t = ui.global::<TodayAdapter>();
        let Some(child) = event.child().and_then(|c| child_of(ctx, &c)) else {
            return;
        };
        let saved = ctx.store.save_attendance(
            NewAttendance {
                at,
                event: event.clone(),
                replaces,
                staff: ctx.staff_id(),
            },
            ctx.now(),
        );
        match saved {
            Ok(id) => {
                ctx.saved();
                let time = hhmm(&ctx.calendar(), &at);
                let name = s(child.first_name.clone());
                t.set_toast_text(match &event {
                    AttendanceEvent::ChildIn { .. } => w.invoke_checked_in(name, time),
                    AttendanceEvent::ChildOut { .. } => w.invoke_checked_out(name, time),
                    _ => w.invoke_absent_saved(name),
                });
                *self.last.borrow_mut() = Some(Recorded {
                    id,
                    child: child.id,
                    first_name: child.first_name,
                    event,
                    at,
                });
                self.keep_toast(ctx);
            }
            Err(error) => {
                tracing::error!(%error, "attendance not saved");
                *self.last.borrow_mut() = None;
                t.set_toast_text(w.invoke_not_saved(s(error.to_string())));
                self.keep_toast(ctx);
            }
        }
        refresh(ctx);
    }

    /// Shows the toast for [`UNDO_FOR`] from now; then undo is over.
    fn keep_toast(self: &Rc<Self>, ctx: &Rc<Ctx>) {
        let (screen, ctx) = (Rc::downgrade(self), Rc::downgrade(ctx));
        self.toast.start(TimerMode::SingleShot, UNDO_FOR, move || {
            let (Some(screen), Some(ctx)) = (screen.upgrade(), ctx.upgrade()) else {
                return;
            };
            *screen.last.borrow_mut() = None;
            if let Some(ui) = ctx.ui() {
                ui.global::<TodayAdapter>().set_toast_text("".into());
            }
        });
    }

    fn undo(self: &Rc<Self>, ctx: &Rc<Ctx>) {
        let Some(last) = self.last.borrow_mut().take() else {
            return;
        };
        let Some(ui) = ctx.ui() else { return };
        let w = ui.global::<Words>();
        let t = ui.global::<TodayAdapter>();
        let now = ctx.now();
        let saved = ctx.store.save_attendance(
            NewAttendance {
                at: now,
                event: AttendanceEvent::Undo { target: last.id },
                replaces: None,
                staff: ctx.staff_id(),
            },
            now,
        );
        match saved {
            Ok(_) => {
                ctx.saved();
                t.set_toast_text(w.invoke_undone());
            }
            Err(error) => {
                tracing::error!(%error, "undo not saved");
                t.set_toast_text(w.invoke_not_saved(s(error.to_string())));
            }
        }
        self.toast
            .start(TimerMode::SingleShot, std::time::Duration::from_secs(4), {
                let weak = ui.as_weak();
                move || {
                    if let Some(ui) = weak.upgrade() {
                        ui.global::<TodayAdapter>().set_toast_text("".into());
                    }
                }
            });
        refresh(ctx);
    }

    /// A later correction: the child's last check-in or check-out that
    /// counts, in the sheet (saving records a new event that replaces it).
    fn adjust_later(self: &Rc<Self>, ctx: &Rc<Ctx>, child_id: ChildId) {
        let Some(day) = group_day(ctx) else { return };
        let Some(child) = child_of(ctx, &child_id) else {
            return;
        };
        let Some(stay) = day.presence.child(&child_id).stays.pop() else {
            return;
        };
        let event_id = stay.out_event.unwrap_or(stay.in_event);
        let Some(line) = day.presence.log.iter().find(|l| l.item.id == event_id) else {
            return;
        };
        *self.last.borrow_mut() = Some(Recorded {
            id: line.item.id,
            child: child_id,
            first_name: child.first_name,
            event: line.item.event.clone(),
            at: line.item.at,
        });
        self.open_adjust(ctx);
    }

    /// Opens the sheet to set the time and who brought or picked up.
    fn open_adjust(self: &Rc<Self>, ctx: &Rc<Ctx>) {
        let Some(last) = self.last.borrow().clone() else {
            return;
        };
        let Some(ui) = ctx.ui() else { return };
        let w = ui.global::<Words>();
        let t = ui.global::<TodayAdapter>();
        let name = s(last.first_name.clone());
        let (title, by_title) = match last.event {
            AttendanceEvent::ChildIn { .. } => (w.invoke_adjust_in(name), w.invoke_brought_by()),
            AttendanceEvent::ChildOut { .. } => {
                (w.invoke_adjust_out(name), w.invoke_picked_up_by())
            }
            _ => return,
        };
        self.toast.stop();
        let people = child_of(ctx, &last.child)
            .map(|c| c.pickup)
            .unwrap_or_default();
        t.set_adjust_title(title);
        t.set_adjust_by_title(by_title);
        t.set_adjust_people(model(people.iter().cloned().map(s).collect()));
        let by = last.event.by().unwrap_or_default().to_owned();
        if people.contains(&by) {
            t.set_adjust_by(s(by));
            t.set_adjust_typed("".into());
        } else {
            t.set_adjust_by("".into());
            t.set_adjust_typed(s(by));
        }
        t.set_adjust_time(hhmm(&ctx.calendar(), &last.at));
        *self.adjust.borrow_mut() = Some(last.at);
        t.set_adjust_open(true);
    }

    /// Moves the time being set; never into the future, never before today.
    fn move_time(&self, ctx: &Rc<Ctx>, by_minutes: i32) {
        let Some(ui) = ctx.ui() else { return };
        let mut adjust = self.adjust.borrow_mut();
        let Some(at) = adjust.as_mut() else { return };
        let start = ctx.calendar().start_of(ctx.today());
        let moved = (*at + Duration::minutes(i64::from(by_minutes)))
            .min(ctx.now())
            .max(start);
        *at = moved;
        ui.global::<TodayAdapter>()
            .set_adjust_time(hhmm(&ctx.calendar(), &moved));
    }

    /// Saves the correction: a new event that replaces the tap.
    fn save_adjust(self: &Rc<Self>, ctx: &Rc<Ctx>) {
        let Some(at) = self.adjust.borrow_mut().take() else {
            return;
        };
        let Some(last) = self.last.borrow_mut().take() else {
            return;
        };
        let Some(ui) = ctx.ui() else { return };
        let t = ui.global::<TodayAdapter>();
        t.set_adjust_open(false);
        let chosen = t.get_adjust_by();
        let named = if chosen.is_empty() {
            t.get_adjust_typed()
        } else {
            chosen
        };
        let by = Some(named.trim().to_owned()).filter(|b| !b.is_empty());
        let event = match last.event {
            AttendanceEvent::ChildIn { child_id, .. } => AttendanceEvent::ChildIn { child_id, by },
            AttendanceEvent::ChildOut { child_id, .. } => {
                AttendanceEvent::ChildOut { child_id, by }
            }
            _ => return,
        };
        self.record(ctx, event, at, Some(last.id));
    }
}

/// The child's line under its name, and where it is.
fn presence_of(
    w: &Words,
    ctx: &Ctx,
    day: &ChildDay,
    parent_absence: Option<&kring_protocol::Absence>,
) -> (slint::SharedString, ChildPresence, bool) {
    let calendar = ctx.calendar();
    if let Some(stay) = day.stays.last() {
        return match stay.out_at {
            None => (
                w.invoke_here_since(
                    hhmm(&calendar, &stay.in_at),
                    s(stay.brought_by.clone().unwrap_or_default()),
                ),
                ChildPresence::Here,
                false,
            ),
            Some(out) => (
                w.invoke_gone_at(
                    hhmm(&calendar, &out),
                    s(stay.picked_up_by.clone().unwrap_or_default()),
                ),
                ChildPresence::Gone,
                false,
            ),
        };
    }
    if let Some((reason, _, _)) = &day.absent {
        return (
            w.invoke_marked_absent((*reason).into()),
            ChildPresence::Absent,
            true,
        );
    }
    match parent_absence {
        Some(a) => (
            w.invoke_absent(a.reason.into(), a.part_of_day.into()),
            ChildPresence::Expected,
            true,
        ),
        None => (w.invoke_expected(), ChildPresence::Expected, false),
    }
}

/// Rows of the children expected today (and any checked in), absent ones last.
pub fn rows(ctx: &Ctx) -> Vec<ChildRow> {
    let today = ctx.today();
    let Some(ui) = ctx.ui() else {
        return vec![];
    };
    let w = ui.global::<Words>();
    let day = group_day(ctx);
    let absences = ctx.read("absences", ctx.store.absences());
    let messages = ctx.read("messages", ctx.store.messages());
    let mut kids = ctx.read("children", ctx.store.children());
    kids.retain(|c| {
        view::expected_today(c, today)
            || day
                .as_ref()
                .is_some_and(|d| d.presence.children.contains_key(&c.id))
    });
    kids.sort_by(|a, b| a.first_name.cmp(&b.first_name));
    let mut rows: Vec<ChildRow> = kids
        .iter()
        .map(|c| {
            let attendance = day
                .as_ref()
                .map(|d| d.presence.child(&c.id))
                .unwrap_or_default();
            let (status_text, presence, absent) = presence_of(
                &w,
                ctx,
                &attendance,
                view::absence_today(&absences, &c.id, today),
            );
            let unread = messages
                .iter()
                .filter(|m| {
                    m.thread == MessageThread::Child { child_id: c.id }
                        && matches!(m.author, MessageAuthor::Parent { .. })
                        && m.read_by_group_at.is_none()
                })
                .count();
            ChildRow {
                id: s(c.id.to_string()),
                name: s(format!("{} {}", c.first_name, c.last_name)),
                first_name: s(c.first_name.clone()),
                last_name: s(c.last_name.clone()),
                initials: s(view::initials(&c.first_name, &c.last_name)),
                age_text: match view::age(c.birth_date, today) {
                    view::Age::Months(m) => w.invoke_age_months(m),
                    view::Age::Years(y) => w.invoke_age_years(y),
                },
                status_text,
                absent,
                consent: c.photo_consent.into(),
                has_notes: c.allergies.is_some() || c.notes.is_some(),
                unread: unread as i32,
                presence,
            }
        })
        .collect();
    rows.sort_by_key(|r| r.absent);
    rows
}

pub fn refresh(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    if ctx.staff.borrow().is_none() {
        return;
    }
    let t = ui.global::<TodayAdapter>();
    t.set_children(model(rows(ctx)));
    t.set_date_text(s(ctx.today().format("%d-%m-%Y").to_string()));
    let w = ui.global::<Words>();
    let day = group_day(ctx);
    let (parts, alert) = match day.as_ref().filter(|d| d.recorded()) {
        Some(day) => present_line(day, &w),
        None => expected_line(ctx, &w),
    };
    t.set_ratio_text(s(parts.join(" · ")));
    t.set_ratio_lines(s(parts.join("\n")));
    t.set_ratio_alert(alert);
    let (budget, budget_alert) = day
        .as_ref()
        .filter(|d| d.recorded())
        .map(|d| budget_line(d, ctx.now(), &w))
        .unwrap_or_default();
    t.set_budget_text(budget);
    t.set_budget_alert(budget_alert);
    t.set_four_eyes(day.as_ref().is_some_and(GroupDay::four_eyes));
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Why the group is too large, in words (always a warning).
fn too_large(care: Care, limit: Limit, w: &Words) -> String {
    match (limit, care) {
        (Limit::Children { max }, _) => w.invoke_ratio_too_many(count(max)).into(),
        (Limit::Young { max }, Care::Dagopvang) => {
            w.invoke_ratio_too_many_babies(count(max)).into()
        }
        (Limit::Young { max }, Care::Bso) => w.invoke_ratio_too_many_young(count(max)).into(),
    }
}

/// The ratio for the children and staff checked in: "5 kinderen aanwezig ·
/// 2 beroepskrachten nodig · 2 ingecheckt" (`true`: short of staff, or the
/// group too large).
fn present_line(day: &GroupDay, w: &Words) -> (Vec<String>, bool) {
    let now = day.now();
    match now.outcome {
        Outcome::Staff { staff, .. } => (
            vec![
                w.invoke_children_present(count(now.children)).into(),
                w.invoke_staff_needed(count(staff)).into(),
                w.invoke_staff_present(count(now.staff)).into(),
            ],
            now.staff < staff,
        ),
        Outcome::TooLarge(limit) => (vec![too_large(day.care, limit, w)], true),
    }
}

/// The day's time below the ratio, when there was any (`true`: more than
/// allowed, or below half at some point).
fn budget_line(day: &GroupDay, now: DateTime<Utc>, w: &Words) -> (slint::SharedString, bool) {
    let budget = day.budget(now);
    if budget.below_half > Duration::zero() {
        return (w.invoke_below_half(minutes(budget.below_half)), true);
    }
    if budget.overspent() {
        return (
            w.invoke_budget_spent(minutes(budget.below - budget.allowance)),
            true,
        );
    }
    let short = matches!(day.now().outcome.required(), Some(r) if day.now().staff < r);
    if budget.below > Duration::zero() || short {
        return (w.invoke_budget_left(minutes(budget.remaining())), false);
    }
    (s(""), false)
}

/// The ratio for the children expected today (those not away for the whole
/// day): how many beroepskrachten they need, or why the group is too large
/// for any number (`true`: say it as a warning).
fn expected_line(ctx: &Ctx, w: &Words) -> (Vec<String>, bool) {
    let today = ctx.today();
    let absences = ctx.read("absences", ctx.store.absences());
    let mut kids = ctx.read("children", ctx.store.children());
    kids.retain(|c| {
        view::expected_today(c, today)
            && !view::absence_today(&absences, &c.id, today)
                .is_some_and(|a| a.part_of_day == PartOfDay::WholeDay)
    });
    if kids.is_empty() {
        return (vec![], false);
    }
    let care = crate::presence::care_of(ctx.read("group", ctx.store.group()).map(|g| g.care));
    let births: Vec<_> = kids.iter().map(|c| c.birth_date).collect();
    let children = i32::try_from(kids.len()).unwrap_or(i32::MAX);
    match kring_bkr::assess(care, &births, today).map(|a| a.outcome) {
        Ok(Outcome::Staff { staff, .. }) => (
            vec![
                w.invoke_children_expected(children).into(),
                w.invoke_staff_needed(count(staff)).into(),
            ],
            false,
        ),
        Ok(Outcome::TooLarge(limit)) => (vec![too_large(care, limit, w)], true),
        Err(error) => {
            tracing::warn!(%error, "a child's birth date is after today: no ratio shown");
            (vec![], false)
        }
    }
}

/// Today's attendance of one child, each event with what became of it.
fn attendance_lines(ctx: &Ctx, w: &Words, child: &ChildId) -> Vec<slint::SharedString> {
    let Some(day) = group_day(ctx) else {
        return vec![];
    };
    let calendar = ctx.calendar();
    day.presence
        .log
        .iter()
        .filter(|l| l.item.event.child() == Some(*child))
        .filter_map(|l| {
            let time = hhmm(&calendar, &l.item.at);
            let by = s(l.item.event.by().unwrap_or_default());
            let line = match &l.item.event {
                AttendanceEvent::ChildIn { .. } => w.invoke_log_in(time, by),
                AttendanceEvent::ChildOut { .. } => w.invoke_log_out(time, by),
                AttendanceEvent::ChildAbsent { reason, .. } => {
                    w.invoke_log_absent(time, (*reason).into())
                }
                _ => return None,
            };
            Some(match l.effect {
                Effect::Applied | Effect::Undoes => line,
                Effect::Undone => w.invoke_log_undone(line),
                Effect::Replaced => w.invoke_log_replaced(line),
                Effect::Conflict(_) => w.invoke_log_conflict(line),
            })
        })
        .collect()
}

fn open_child(ctx: &Rc<Ctx>, id: &str) {
    let Some(ui) = ctx.ui() else { return };
    let t = ui.global::<TodayAdapter>();
    let Some(row) = rows(ctx).into_iter().find(|r| r.id.as_str() == id) else {
        return;
    };
    let child = ctx
        .read("children", ctx.store.children())
        .into_iter()
        .find(|c| c.id.to_string() == id);
    let notes = child
        .map(|c| {
            [c.allergies.map(|a| format!("Allergie: {a}")), c.notes]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let diary: Vec<slint::SharedString> = ctx
        .read("parent_diary", ctx.store.parent_diary())
        .into_iter()
        .filter(|d| d.child_id.to_string() == id)
        .map(|d| s(format!("{}: {}", d.parent_name, d.text)))
        .collect();
    let msgs: Vec<slint::SharedString> = ctx
        .read("messages", ctx.store.messages())
        .into_iter()
        .filter(
            |m| matches!(m.thread, MessageThread::Child { child_id } if child_id.to_string() == id),
        )
        .map(|m| {
            let who = match &m.author {
                MessageAuthor::Parent { name, .. } | MessageAuthor::Staff { name, .. } => {
                    name.clone()
                }
            };
            s(format!("{who}: {}", m.body))
        })
        .collect();
    let w = ui.global::<Words>();
    if let Ok(child_id) = id.parse::<uuid::Uuid>().map(ChildId) {
        t.set_detail_attendance(model(attendance_lines(ctx, &w, &child_id)));
    }
    t.set_detail(row);
    t.set_detail_notes(s(notes));
    t.set_detail_diary(model(diary));
    t.set_detail_messages(model(msgs));
    t.set_detail_open(true);
}
