//! One controller per screen, each wiring its adapter global (see `ui/pages/`).
//!
//! Every screen owns its state and implements [`Screen`]; [`setup`] registers
//! them all once in [`Ctx`], and navigation and locking go through that one
//! list: locking clears every registered screen, so a screen's child data
//! cannot be forgotten there.

pub mod admin;
pub mod diary;
pub mod lock;
pub mod messages;
pub mod photo;
pub mod sync;
pub mod today;
pub mod writer;

use crate::app::Ctx;
use crate::{AppAdapter, AppWindow, Page, Words};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::rc::Rc;

/// A screen of the kiosk: a page (or an overlay) with its own state. All of
/// them live on the UI thread, registered once in [`Ctx`] by [`setup`].
pub trait Screen: std::fmt::Debug {
    /// The pages it shows (none for an overlay such as the writing sheet).
    fn pages(&self) -> &'static [Page];
    /// Its page is shown: fill it from the store.
    fn enter(&self, _ctx: &Rc<Ctx>) {}
    /// Another page is shown (also when it was not shown before).
    fn leave(&self, _ctx: &Ctx) {}
    /// The store changed under it (the engine brought news): show it again
    /// if it shows something now.
    fn refresh(&self, _ctx: &Rc<Ctx>) {}
    /// The screen locks: forget every child's data, in Rust and in the window.
    fn clear(&self, ctx: &Ctx);
}

pub fn model<T: Clone + 'static>(v: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(v))
}

pub fn s(v: impl Into<SharedString>) -> SharedString {
    v.into()
}

/// Names joined with the translated "en": "Sem, Noor en Daan".
pub fn join_names(ui: &AppWindow, names: &[String]) -> String {
    let w = ui.global::<Words>();
    crate::view::join_names(names, |a, b| w.invoke_and_join(a.into(), b.into()).into())
}

/// The clock time of `t` at the group's location, "14:05".
pub fn hhmm(
    calendar: &kring_protocol::Calendar,
    t: &chrono::DateTime<chrono::Utc>,
) -> SharedString {
    calendar.hhmm(*t).into()
}

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) {
    let app = ui.global::<AppAdapter>();
    app.on_navigate({
        let ctx = ctx.clone();
        move |page| {
            ctx.touched();
            ctx.navigate(page);
        }
    });
    app.on_lock({
        let ctx = ctx.clone();
        move || ctx.lock()
    });
    app.on_activity({
        let ctx = ctx.clone();
        move || {
            ctx.wake_screen();
            if ctx.staff.borrow().is_some() {
                ctx.touched();
            }
        }
    });
    // the clock on the lock screen and the status bar: its own timer, from
    // the kiosk's clock (nothing else sets it)
    let tick = {
        let weak = ui.as_weak();
        let ctx = Rc::downgrade(ctx);
        move || {
            if let (Some(ui), Some(ctx)) = (weak.upgrade(), ctx.upgrade()) {
                let a = ui.global::<AppAdapter>();
                let text = hhmm(&ctx.calendar(), &ctx.now());
                if a.get_clock_text() != text {
                    a.set_clock_text(text);
                }
            }
        }
    };
    tick();
    ctx.clock_tick.start(
        slint::TimerMode::Repeated,
        std::time::Duration::from_secs(1),
        tick,
    );
    if let Ok(Some(group)) = ctx.store.group() {
        app.set_group_name(group.name.into());
    }
    sync::setup(ui, ctx);
    // The one list of screens.
    let screens: Vec<Rc<dyn Screen>> = vec![
        lock::setup(ui, ctx),
        today::setup(ui, ctx),
        photo::setup(ui, ctx),
        diary::setup(ui, ctx),
        messages::setup(ui, ctx),
        sync::screen(),
        admin::setup(ui, ctx),
        writer::setup(ui),
    ];
    ctx.register(screens);
}
