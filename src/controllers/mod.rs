//! One controller per screen, each wiring its adapter global (see `ui/pages/`).

pub mod admin;
pub mod diary;
pub mod lock;
pub mod messages;
pub mod photo;
pub mod sync;
pub mod today;
pub mod writer;

use crate::app::Ctx;
use crate::{
    AppAdapter, AppWindow, DiaryAdapter, MessagesAdapter, PhotoAdapter, TodayAdapter, Words,
};
use slint::{ComponentHandle, ModelRc, SharedString, VecModel};
use std::rc::Rc;

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

/// The clock time of `t` on this device, "14:05".
pub fn hhmm<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> SharedString {
    t.with_timezone(&chrono::Local)
        .format("%H:%M")
        .to_string()
        .into()
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
    // the clock on the lock screen and the status bar
    let weak = ui.as_weak();
    let tick = move || {
        if let Some(ui) = weak.upgrade() {
            ui.global::<AppAdapter>()
                .set_clock_text(chrono::Local::now().format("%H:%M").to_string().into());
        }
    };
    tick();
    ctx.clock.start(
        slint::TimerMode::Repeated,
        std::time::Duration::from_secs(1),
        tick,
    );
    if let Ok(Some(group)) = ctx.store.group() {
        app.set_group_name(group.name.into());
    }
    lock::setup(ui, ctx);
    today::setup(ui, ctx);
    photo::setup(ui, ctx);
    diary::setup(ui, ctx);
    messages::setup(ui, ctx);
    sync::setup(ui, ctx);
    admin::setup(ui, ctx);
    writer::setup(ui);
}

/// Removes every child's data from the window (on lock).
pub fn clear_child_data(ui: &AppWindow) {
    writer::close(ui);
    let t = ui.global::<TodayAdapter>();
    t.set_children(model(vec![]));
    t.set_detail_open(false);
    t.set_detail(Default::default());
    t.set_detail_notes("".into());
    t.set_detail_diary(model(vec![]));
    t.set_detail_messages(model(vec![]));
    let p = ui.global::<PhotoAdapter>();
    p.set_chips(model(vec![]));
    p.set_captured(false);
    p.set_still(Default::default());
    p.set_preview(Default::default());
    p.set_visible_names("".into());
    p.set_hidden(model(vec![]));
    let d = ui.global::<DiaryAdapter>();
    d.set_roster(model(vec![]));
    d.set_photos(model(vec![]));
    d.set_entries(model(vec![]));
    d.set_quick_summary(model(vec![]));
    d.set_text("".into());
    let m = ui.global::<MessagesAdapter>();
    m.set_threads(model(vec![]));
    m.set_messages(model(vec![]));
    m.set_open_id("".into());
    m.set_open_title("".into());
    m.set_draft("".into());
}
