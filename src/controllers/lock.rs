//! Vergrendeld: group name and clock; choose yourself, then the PIN pad.

use super::{model, s};
use crate::Words;
use crate::app::Ctx;
use crate::{AdminAdapter, AppAdapter, AppWindow, LockAdapter, Page, StaffEntry};
use kring_protocol::StaffRole;
use slint::ComponentHandle;
use std::rc::Rc;

pub fn reset(ui: &AppWindow) {
    let l = ui.global::<LockAdapter>();
    l.set_stage(0);
    l.set_pin("".into());
    l.set_message("".into());
    l.set_chosen_name("".into());
    l.set_staff(model(vec![]));
}

fn show_staff(ctx: &Rc<Ctx>, ui: &AppWindow, managers_only: bool) {
    let mut staff = ctx.store.staff().unwrap_or_default();
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
    l.set_stage(1);
}

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) {
    let l = ui.global::<LockAdapter>();
    l.on_tapped({
        let ctx = ctx.clone();
        move || {
            let Some(ui) = ctx.ui() else { return };
            ctx.admin_unlock.set(false);
            show_staff(&ctx, &ui, false);
        }
    });
    l.on_open_admin({
        let ctx = ctx.clone();
        move || {
            let Some(ui) = ctx.ui() else { return };
            ctx.admin_unlock.set(true);
            show_staff(&ctx, &ui, true);
        }
    });
    l.on_choose({
        let ctx = ctx.clone();
        move |id| {
            let Some(ui) = ctx.ui() else { return };
            let staff = ctx.store.staff().unwrap_or_default();
            if let Some(st) = staff
                .into_iter()
                .find(|st| st.id.to_string() == id.as_str())
            {
                let l = ui.global::<LockAdapter>();
                l.set_chosen_name(s(st.name.clone()));
                l.set_pin("".into());
                l.set_message("".into());
                l.set_stage(2);
                *ctx.chosen.borrow_mut() = Some(st);
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
        let ctx = ctx.clone();
        move || {
            let Some(ui) = ctx.ui() else { return };
            *ctx.chosen.borrow_mut() = None;
            let l = ui.global::<LockAdapter>();
            l.set_pin("".into());
            l.set_message("".into());
            l.set_stage(0);
        }
    });
    l.on_submit({
        let ctx = ctx.clone();
        move || submit(&ctx)
    });
}

fn submit(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    let l = ui.global::<LockAdapter>();
    if l.get_blocked() {
        return;
    }
    let Some(staff) = ctx.chosen.borrow().clone() else {
        return;
    };
    let pin = l.get_pin().to_string();
    l.set_pin("".into());
    if crate::pin::verify(&pin, &staff.pin_verifier) {
        ctx.pin_backoff.borrow_mut().succeeded();
        l.set_message("".into());
        if ctx.admin_unlock.get() {
            ctx.admin_unlock.set(false);
            ui.global::<AdminAdapter>().set_unlocked(true);
            ui.global::<AppAdapter>().set_page(Page::Admin);
            super::admin::refresh(ctx);
            return;
        }
        ui.global::<AppAdapter>()
            .set_staff_name(s(staff.name.clone()));
        *ctx.staff.borrow_mut() = Some(staff);
        *ctx.chosen.borrow_mut() = None;
        l.set_stage(0);
        ctx.touched();
        ctx.navigate(Page::Today);
        return;
    }
    let wait = ctx.pin_backoff.borrow_mut().failed();
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
    ctx.pin_block
        .start(slint::TimerMode::SingleShot, wait, move || {
            if let Some(ui) = weak.upgrade() {
                let l = ui.global::<LockAdapter>();
                l.set_blocked(false);
                l.set_message("".into());
            }
        });
}
