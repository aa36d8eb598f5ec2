//! The writing sheet and its on-screen keyboard (`ui/widgets/keyboard.slint`).
//!
//! A key becomes a key press and release on the window, so it lands in the
//! sheet's focused text input at its cursor, exactly like a hardware key.
//! "Klaar" hands the text to the page it was opened from.

use super::Screen;
use crate::app::Ctx;
use crate::{
    AdminAdapter, AppWindow, DiaryAdapter, MessagesAdapter, Page, TodayAdapter, WriterAdapter,
};
use slint::ComponentHandle;
use slint::platform::WindowEvent;
use std::rc::Rc;

/// The writing sheet, over any page: what is being written may name a child.
pub struct WriterScreen {
    ui: slint::Weak<AppWindow>,
}

impl std::fmt::Debug for WriterScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterScreen").finish_non_exhaustive()
    }
}

impl Screen for WriterScreen {
    fn pages(&self) -> &'static [Page] {
        &[]
    }
    fn clear(&self, _ctx: &Ctx) {
        if let Some(ui) = self.ui.upgrade() {
            close(&ui);
        }
    }
}

pub fn setup(ui: &AppWindow) -> Rc<dyn Screen> {
    let w = ui.global::<WriterAdapter>();
    w.on_key({
        let weak = ui.as_weak();
        move |text| {
            if let Some(ui) = weak.upgrade() {
                let window = ui.window();
                window.dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
                window.dispatch_event(WindowEvent::KeyReleased { text });
            }
        }
    });
    w.on_done({
        let weak = ui.as_weak();
        move |target, text| {
            if let Some(ui) = weak.upgrade() {
                deliver(&ui, &target, text);
                close(&ui);
            }
        }
    });
    Rc::new(WriterScreen { ui: ui.as_weak() })
}

/// Puts the written text where it belongs.
fn deliver(ui: &AppWindow, target: &str, text: slint::SharedString) {
    match target {
        "diary" => ui.global::<DiaryAdapter>().set_text(text),
        "message" => ui.global::<MessagesAdapter>().set_draft(text),
        "pickup" => {
            let t = ui.global::<TodayAdapter>();
            t.set_adjust_typed(text.trim().into());
            t.set_adjust_by("".into());
        }
        "server-url" => ui
            .global::<AdminAdapter>()
            .set_server_url(text.trim().into()),
        "code" => ui
            .global::<AdminAdapter>()
            .set_code(text.trim().to_uppercase().into()),
        other => tracing::warn!(target = other, "text written for an unknown field"),
    }
}

/// Closes the sheet and forgets what was on it (also on lock).
pub fn close(ui: &AppWindow) {
    let w = ui.global::<WriterAdapter>();
    w.set_open(false);
    w.set_text("".into());
    w.set_target("".into());
}
