//! Vergrendeld: group name and clock; choose yourself, then the PIN pad.

use super::Screen;
use super::{model, s};
use crate::Words;
use crate::app::Ctx;
use crate::{AdminAdapter, AppAdapter, AppWindow, LockAdapter, LockStage, Page, StaffEntry};
use kring_protocol::{Staff, StaffRole};
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
    /// Wrong PINs in a row make the pad wait (kept across locks).
    backoff: RefCell<crate::pin::Backoff>,
    /// Ends the wait.
    block: Timer,
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
        let Some(ui) = ctx.ui() else { return };
        let l = ui.global::<LockAdapter>();
        l.set_stage(LockStage::Clock);
        l.set_pin("".into());
        l.set_message("".into());
        l.set_chosen_name("".into());
        l.set_staff(model(vec![]));
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
            show_staff(&ctx, &ui, false);
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
        }
    });
    l.on_submit({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || screen.submit(&ctx)
    });
    screen
}

impl LockScreen {
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
            ui.global::<AppAdapter>()
                .set_staff_name(s(staff.name.clone()));
            *ctx.staff.borrow_mut() = Some(staff);
            *self.chosen.borrow_mut() = None;
            l.set_stage(LockStage::Clock);
            ctx.touched();
            ctx.navigate(Page::Today);
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
