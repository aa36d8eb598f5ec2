//! Vergrendeld: group name and clock; choose yourself, then the PIN pad.

use super::Screen;
use super::{model, s};
use crate::Words;
use crate::app::Ctx;
use crate::presence::GroupDay;
use crate::{AdminAdapter, AppAdapter, AppWindow, LockAdapter, LockStage, Page, StaffEntry};
use kring_protocol::{AttendanceEvent, Staff, StaffRole};
use kring_sync::NewAttendance;
use slint::{ComponentHandle, Timer};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Vergrendeld's own state: who was chosen, whether for Beheer, the PIN's
/// back-off.
#[derive(Default)]
pub struct LockScreen {
    /// Staff chosen on the lock screen, before the PIN.
    chosen: RefCell<Option<Staff>>,
    /// Beheer asked for a manager PIN (instead of a normal unlock).
    admin_unlock: Cell<bool>,
    /// "Pauze of naar huis": after the PIN, the presence stage always.
    presence_asked: Cell<bool>,
    /// Wrong PINs in a row make the pad wait (kept across locks).
    backoff: RefCell<crate::pin::Backoff>,
    /// Ends the wait.
    block: Timer,
    /// The presence stage follows a verified PIN: left alone, it goes back
    /// to the clock, so no one else can go on as that person.
    presence_timeout: Timer,
}

impl std::fmt::Debug for LockScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockScreen")
            .field("admin_unlock", &self.admin_unlock.get())
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl Screen for LockScreen {
    fn pages(&self) -> &'static [Page] {
        &[Page::Locked]
    }
    fn clear(&self, ctx: &Ctx) {
        *self.chosen.borrow_mut() = None;
        self.admin_unlock.set(false);
        self.presence_asked.set(false);
        let Some(ui) = ctx.ui() else { return };
        let l = ui.global::<LockAdapter>();
        l.set_stage(LockStage::Clock);
        l.set_pin("".into());
        l.set_message("".into());
        l.set_chosen_name("".into());
        l.set_staff(model(vec![]));
        l.set_presence_text("".into());
        l.set_presence_warning("".into());
    }
}

fn show_staff(ctx: &Rc<Ctx>, ui: &AppWindow, managers_only: bool) {
    let mut staff = ctx.read("staff", ctx.store.staff());
    if managers_only {
        staff.retain(|s| s.role == StaffRole::Manager);
    }
    staff.sort_by(|a, b| a.name.cmp(&b.name));
    let l = ui.global::<LockAdapter>();
    l.set_staff(model(
        staff
            .iter()
            .map(|st| StaffEntry {
                id: s(st.id.to_string()),
                name: s(st.name.clone()),
            })
            .collect(),
    ));
    l.set_stage(LockStage::ChooseStaff);
}

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) -> Rc<dyn Screen> {
    let screen = Rc::new(LockScreen::default());
    let l = ui.global::<LockAdapter>();
    l.on_tapped({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            let Some(ui) = ctx.ui() else { return };
            screen.admin_unlock.set(false);
            screen.presence_asked.set(false);
            show_staff(&ctx, &ui, false);
        }
    });
    l.on_open_presence({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            let Some(ui) = ctx.ui() else { return };
            screen.admin_unlock.set(false);
            screen.presence_asked.set(true);
            show_staff(&ctx, &ui, false);
        }
    });
    let on = |event: StaffEvent, then_unlock: bool| {
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || screen.staff_event(&ctx, event, then_unlock)
    };
    l.on_staff_in(on(StaffEvent::In, true));
    l.on_break_end(on(StaffEvent::BreakEnd, true));
    l.on_break_start(on(StaffEvent::BreakStart, false));
    l.on_staff_out(on(StaffEvent::Out, false));
    l.on_go_on({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            if let Some(staff) = screen.chosen.borrow_mut().take() {
                screen.unlock(&ctx, staff);
            }
        }
    });
    l.on_open_admin({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            let Some(ui) = ctx.ui() else { return };
            screen.admin_unlock.set(true);
            show_staff(&ctx, &ui, true);
        }
    });
    l.on_choose({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |id| {
            let Some(ui) = ctx.ui() else { return };
            let staff = ctx.read("staff", ctx.store.staff());
            if let Some(st) = staff
                .into_iter()
                .find(|st| st.id.to_string() == id.as_str())
            {
                let l = ui.global::<LockAdapter>();
                l.set_chosen_name(s(st.name.clone()));
                l.set_pin("".into());
                l.set_message("".into());
                l.set_stage(LockStage::Pin);
                *screen.chosen.borrow_mut() = Some(st);
            }
        }
    });
    l.on_digit({
        let ctx = ctx.clone();
        move |d| {
            let Some(ui) = ctx.ui() else { return };
            let l = ui.global::<LockAdapter>();
            if l.get_blocked() {
                return;
            }
            let mut pin = l.get_pin().to_string();
            if pin.len() < 8 && (0..=9).contains(&d) {
                pin.push(char::from(b'0' + d as u8));
                l.set_pin(pin.into());
            }
        }
    });
    l.on_backspace({
        let ctx = ctx.clone();
        move || {
            let Some(ui) = ctx.ui() else { return };
            let l = ui.global::<LockAdapter>();
            let mut pin = l.get_pin().to_string();
            pin.pop();
            l.set_pin(pin.into());
        }
    });
    l.on_cancel({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            let Some(ui) = ctx.ui() else { return };
            *screen.chosen.borrow_mut() = None;
            let l = ui.global::<LockAdapter>();
            l.set_pin("".into());
            l.set_message("".into());
            l.set_stage(LockStage::Clock);
            l.set_presence_warning("".into());
            screen.presence_asked.set(false);
        }
    });
    l.on_submit({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || screen.submit(&ctx)
    });
    screen
}

/// How long the presence stage waits for a tap after the PIN.
pub const PRESENCE_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// What a staff member does on the presence stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StaffEvent {
    In,
    BreakStart,
    BreakEnd,
    Out,
}

impl LockScreen {
    /// Opens the screen for `staff` on Vandaag.
    fn unlock(&self, ctx: &Rc<Ctx>, staff: Staff) {
        let Some(ui) = ctx.ui() else { return };
        let l = ui.global::<LockAdapter>();
        ui.global::<AppAdapter>()
            .set_staff_name(s(staff.name.clone()));
        *ctx.staff.borrow_mut() = Some(staff);
        self.presence_asked.set(false);
        l.set_stage(LockStage::Clock);
        l.set_presence_warning("".into());
        ctx.touched();
        ctx.navigate(Page::Today);
    }

    /// After the PIN: where `staff` stands on the group today and what they
    /// can do; going away says first what it would do to the ratio.
    fn show_presence(&self, ctx: &Rc<Ctx>, staff: &Staff) {
        let Some(ui) = ctx.ui() else { return };
        let l = ui.global::<LockAdapter>();
        let w = ui.global::<Words>();
        let Some(day) = GroupDay::read(&ctx.store, &ctx.calendar(), ctx.now())
            .map_err(|e| ctx.read::<()>("attendance", Err(e)))
            .ok()
        else {
            return;
        };
        let mine = day.presence.staff_day(&staff.id);
        let calendar = ctx.calendar();
        let text = match (mine.working(), mine.on_break()) {
            (false, _) => w.invoke_not_working(),
            (true, true) => w.invoke_on_break_since(
                mine.breaks
                    .last()
                    .map_or_else(Default::default, |b| super::hhmm(&calendar, &b.from)),
            ),
            (true, false) => w.invoke_working_since(
                mine.shifts
                    .last()
                    .map_or_else(Default::default, |b| super::hhmm(&calendar, &b.from)),
            ),
        };
        l.set_presence_text(text);
        l.set_presence_warning(
            super::today::heads_text(&w, day.if_staff_away(&staff.id, ctx.now()))
                .unwrap_or_default(),
        );
        l.set_can_check_in(!mine.working());
        l.set_can_end_break(mine.on_break());
        l.set_can_break(mine.working() && !mine.on_break());
        l.set_can_leave(mine.working());
        l.set_stage(LockStage::Presence);
        let (weak, ctx) = (ui.as_weak(), Rc::downgrade(ctx));
        self.presence_timeout
            .start(slint::TimerMode::SingleShot, PRESENCE_FOR, move || {
                let (Some(ui), Some(ctx)) = (weak.upgrade(), ctx.upgrade()) else {
                    return;
                };
                if ui.global::<LockAdapter>().get_stage() == LockStage::Presence {
                    ui.global::<LockAdapter>().invoke_cancel();
                    tracing::debug!(staff = ?ctx.staff_id(), "presence stage left alone: back to the clock");
                }
            });
    }

    /// Records the chosen staff member's event; then Vandaag (in, back from
    /// a break) or the lock screen again (a break, home).
    fn staff_event(&self, ctx: &Rc<Ctx>, event: StaffEvent, then_unlock: bool) {
        let Some(staff) = self.chosen.borrow_mut().take() else {
            return;
        };
        let staff_id = staff.id;
        let event = match event {
            StaffEvent::In => AttendanceEvent::StaffIn { staff_id },
            StaffEvent::BreakStart => AttendanceEvent::BreakStart { staff_id },
            StaffEvent::BreakEnd => AttendanceEvent::BreakEnd { staff_id },
            StaffEvent::Out => AttendanceEvent::StaffOut { staff_id },
        };
        let now = ctx.now();
        let saved = ctx.store.save_attendance(
            NewAttendance {
                at: now,
                event,
                replaces: None,
                staff: Some(staff_id),
            },
            now,
        );
        let Some(ui) = ctx.ui() else { return };
        let l = ui.global::<LockAdapter>();
        if let Err(error) = saved {
            tracing::error!(%error, "staff attendance not saved");
            l.set_presence_warning(ui.global::<Words>().invoke_not_saved(s(error.to_string())));
            *self.chosen.borrow_mut() = Some(staff);
            return;
        }
        ctx.saved();
        if then_unlock {
            self.unlock(ctx, staff);
        } else {
            self.presence_asked.set(false);
            l.set_presence_warning("".into());
            l.set_chosen_name("".into());
            l.set_stage(LockStage::Clock);
        }
    }

    fn submit(&self, ctx: &Rc<Ctx>) {
        let Some(ui) = ctx.ui() else { return };
        let l = ui.global::<LockAdapter>();
        if l.get_blocked() {
            return;
        }
        let Some(staff) = self.chosen.borrow().clone() else {
            return;
        };
        let pin = l.get_pin().to_string();
        l.set_pin("".into());
        if crate::pin::verify(&pin, &staff.pin_verifier) {
            self.backoff.borrow_mut().succeeded();
            l.set_message("".into());
            if self.admin_unlock.get() {
                self.admin_unlock.set(false);
                ui.global::<AdminAdapter>().set_unlocked(true);
                ctx.navigate(Page::Admin);
                return;
            }
            let day = GroupDay::read(&ctx.store, &ctx.calendar(), ctx.now());
            let on_group = day
                .as_ref()
                .map(|d| d.presence.staff_day(&staff.id))
                .map(|d| d.working() && !d.on_break());
            if self.presence_asked.get() || matches!(on_group, Ok(false)) {
                self.show_presence(ctx, &staff);
                return;
            }
            if let Err(e) = day {
                ctx.read::<()>("attendance", Err(e));
            }
            *self.chosen.borrow_mut() = None;
            self.unlock(ctx, staff);
            return;
        }
        let wait = self.backoff.borrow_mut().failed();
        if wait.is_zero() {
            l.set_message(ui.global::<Words>().invoke_wrong_pin());
            return;
        }
        let secs = wait.as_secs();
        l.set_message(
            ui.global::<Words>()
                .invoke_pin_wait(i32::try_from(secs).unwrap_or(i32::MAX)),
        );
        l.set_blocked(true);
        let weak = ui.as_weak();
        self.block
            .start(slint::TimerMode::SingleShot, wait, move || {
                if let Some(ui) = weak.upgrade() {
                    let l = ui.global::<LockAdapter>();
                    l.set_blocked(false);
                    l.set_message("".into());
                }
            });
    }
}
