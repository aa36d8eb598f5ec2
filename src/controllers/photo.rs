//! Foto maken: live preview, shutter, tag the children (consent decides who
//! may be tagged and who will see it), save durably.

use super::Screen;
use super::{model, s};
use crate::Page;
use crate::Words;
use crate::app::Ctx;
use crate::view;
use crate::{AppWindow, HiddenLine, PhotoAdapter, TagChip};
use kring_hardware::{LiveEvent, LivePreview};
use kring_protocol::{Audience, ChildId, ConsentedChild, PhotoConsent, decide_audience};
use slint::{ComponentHandle, Rgb8Pixel, SharedPixelBuffer};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// The photo being tagged, and the live preview.
#[derive(Debug, Default)]
struct PhotoState {
    pub still: Option<Vec<u8>>,
    pub tags: Vec<ChildId>,
    pub no_children: bool,
    /// The live preview while Foto maken is open; after leaving it, the
    /// stopped one (the next waits for its threads to let go of the camera).
    pub live: Option<LivePreview>,
}

impl PhotoState {
    /// Forgets the photo (back to the live preview); keeps the preview.
    fn clear_photo(&mut self) {
        self.still = None;
        self.tags.clear();
        self.no_children = false;
        if let Some(live) = &self.live {
            live.set_paused(false);
        }
    }
}

fn to_image(rgb: &image::RgbImage) -> slint::Image {
    let buf =
        SharedPixelBuffer::<Rgb8Pixel>::clone_from_slice(rgb.as_raw(), rgb.width(), rgb.height());
    slint::Image::from_rgb8(buf)
}

/// Layout of the viewfinder in `ui/` (logical pixels): the page lies right
/// of the tab rail (`Theme.rail-width` 150) and under the status bar
/// (`Theme.status-bar-height` 56); in it the preview has `Theme.padding`
/// (16) all round and the shutter column (168 wide, `Theme.spacing` 12
/// apart) on its right.
const VIEWFINDER_SIDE: f32 = 150.0 + 2.0 * 16.0 + 12.0 + 168.0;
const VIEWFINDER_TOP: f32 = 56.0 + 2.0 * 16.0;
/// The window's preferred size, for a window that has no size yet.
const WINDOW_DEFAULT: (f32, f32) = (800.0, 480.0);

/// The preview's box on the screen in physical pixels, for a window of
/// `width` x `height` physical pixels at `scale` physical pixels per
/// logical one. The camera picture is fitted into it (`image-fit: contain`).
pub fn viewfinder_box(width: u32, height: u32, scale: f32) -> (u32, u32) {
    let scale = if scale.is_finite() && scale > 0.0 {
        scale
    } else {
        1.0
    };
    let (w, h) = if width == 0 || height == 0 {
        (WINDOW_DEFAULT.0 * scale, WINDOW_DEFAULT.1 * scale)
    } else {
        (width as f32, height as f32)
    };
    let side = |total: f32, taken: f32| ((total - taken * scale).round().max(1.0)) as u32;
    (side(w, VIEWFINDER_SIDE), side(h, VIEWFINDER_TOP))
}

fn preview_box(ui: &AppWindow) -> (u32, u32) {
    let window = ui.window();
    let size = window.size();
    viewfinder_box(size.width, size.height, window.scale_factor())
}

/// Foto maken's own state: the photo being tagged, the live preview and its
/// latest frame.
#[derive(Debug, Default)]
pub struct PhotoScreen {
    state: RefCell<PhotoState>,
    /// The latest camera frame (JPEG as it came), for the shutter.
    latest_frame: Arc<Mutex<Option<kring_hardware::Frame>>>,
}

impl Screen for PhotoScreen {
    fn pages(&self) -> &'static [Page] {
        &[Page::Photo]
    }
    fn enter(&self, ctx: &Rc<Ctx>) {
        self.enter_page(ctx);
    }
    fn leave(&self, _ctx: &Ctx) {
        self.camera_off();
    }
    fn clear(&self, ctx: &Ctx) {
        self.camera_off();
        match self.state.try_borrow_mut() {
            Ok(mut st) => st.clear_photo(),
            Err(_) => tracing::warn!("photo state busy: the photo is not forgotten"),
        }
        if let Ok(mut frame) = self.latest_frame.lock() {
            frame.take();
        }
        let Some(ui) = ctx.ui() else { return };
        let p = ui.global::<PhotoAdapter>();
        p.set_chips(model(vec![]));
        p.set_captured(false);
        p.set_still(Default::default());
        p.set_preview(Default::default());
        p.set_visible_names("".into());
        p.set_hidden(model(vec![]));
    }
}

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) -> Rc<dyn Screen> {
    let screen = Rc::new(PhotoScreen::default());
    let p = ui.global::<PhotoAdapter>();
    p.on_shutter({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            ctx.touched();
            screen.shutter(&ctx);
        }
    });
    p.on_toggle_tag({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |id| {
            ctx.touched();
            if let Ok(id) = id.parse::<ChildId>() {
                let allowed = consents(&ctx)
                    .iter()
                    .any(|(c, consent, _)| *c == id && *consent != PhotoConsent::None);
                if !allowed {
                    return;
                }
                let mut st = screen.state.borrow_mut();
                if let Some(i) = st.tags.iter().position(|t| *t == id) {
                    st.tags.remove(i);
                } else {
                    st.tags.push(id);
                }
            }
            screen.show_tags(&ctx);
        }
    });
    p.on_set_no_children({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |on| {
            ctx.touched();
            screen.state.borrow_mut().no_children = on;
            screen.show_tags(&ctx);
        }
    });
    p.on_save({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            ctx.touched();
            screen.save(&ctx);
        }
    });
    p.on_discard({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            ctx.touched();
            screen.state.borrow_mut().clear_photo();
            if let Some(ui) = ctx.ui() {
                let p = ui.global::<PhotoAdapter>();
                p.set_captured(false);
                p.set_still(Default::default());
            }
        }
    });
    screen
}

/// Today's roster with consents: (id, consent, first name).
fn consents(ctx: &Ctx) -> Vec<(ChildId, PhotoConsent, String)> {
    let today = ctx.today();
    let mut kids = ctx.read("children", ctx.store.children());
    kids.retain(|c| view::expected_today(c, today));
    kids.sort_by(|a, b| a.first_name.cmp(&b.first_name));
    kids.into_iter()
        .map(|c| (c.id, c.photo_consent, c.first_name))
        .collect()
}

impl PhotoScreen {
    fn audience(&self, ctx: &Ctx) -> Audience {
        let all = consents(ctx);
        let st = self.state.borrow();
        let tagged: Vec<ConsentedChild> = st
            .tags
            .iter()
            .filter_map(|t| {
                all.iter()
                    .find(|(c, _, _)| c == t)
                    .map(|(id, consent, _)| ConsentedChild {
                        id: *id,
                        consent: *consent,
                    })
            })
            .collect();
        decide_audience(&tagged, st.no_children)
    }

    fn show_tags(&self, ctx: &Rc<Ctx>) {
        let Some(ui) = ctx.ui() else { return };
        let p = ui.global::<PhotoAdapter>();
        let all = consents(ctx);
        let w = ui.global::<Words>();
        let tags = self.state.borrow().tags.clone();
        let chips: Vec<TagChip> = all
            .iter()
            .map(|(id, consent, name)| TagChip {
                id: s(id.to_string()),
                name: s(name.clone()),
                selected: tags.contains(id),
                disabled: *consent == PhotoConsent::None,
                reason: if *consent == PhotoConsent::None {
                    w.invoke_no_photo_consent()
                } else {
                    s("")
                },
            })
            .collect();
        p.set_chips(model(chips));
        p.set_no_children(self.state.borrow().no_children);
        let name_of = |c: &ChildId| {
            all.iter()
                .find(|(id, _, _)| id == c)
                .map(|(_, _, n)| n.clone())
                .unwrap_or_default()
        };
        let v = view::audience_view(&self.audience(ctx), name_of, |names| {
            super::join_names(&ui, names)
        });
        p.set_audience_kind(v.kind);
        p.set_visible_names(s(v.visible_names));
        p.set_hidden(model(
            v.hidden
                .into_iter()
                .map(|(name, because)| HiddenLine {
                    name: s(name),
                    because: s(because),
                })
                .collect(),
        ));
    }

    /// Opens the photo screen: camera on, live preview (decoded and scaled on
    /// the preview's threads; the UI thread only sets the picture).
    fn enter_page(&self, ctx: &Rc<Ctx>) {
        let Some(ui) = ctx.ui() else { return };
        let p = ui.global::<PhotoAdapter>();
        p.set_saved_message("".into());
        p.set_error_message("".into());
        let captured = self.state.borrow().still.is_some();
        if !captured {
            p.set_captured(false);
        }
        let size = preview_box(&ui);
        let mut st = self.state.borrow_mut();
        if let Some(live) = st.live.as_ref().filter(|l| l.is_running()) {
            live.set_size(size.0, size.1);
            live.set_paused(captured);
            return;
        }
        let weak = ui.as_weak();
        let sink = move |event: LiveEvent| match event {
            LiveEvent::Picture(rgb, shown) => {
                let buf = SharedPixelBuffer::<Rgb8Pixel>::clone_from_slice(
                    rgb.as_raw(),
                    rgb.width(),
                    rgb.height(),
                );
                // `shown` goes with the picture: the next frame is decoded once
                // the UI has set this one (or the closure was dropped).
                let _ = weak.upgrade_in_event_loop(move |ui| {
                    ui.global::<PhotoAdapter>()
                        .set_preview(slint::Image::from_rgb8(buf));
                    drop(shown);
                });
            }
            LiveEvent::CameraError(e) => {
                let message = format!("Camera: {e}");
                let _ = weak.upgrade_in_event_loop(move |ui| {
                    ui.global::<PhotoAdapter>().set_error_message(s(message));
                });
            }
        };
        let previous = st.live.take();
        match LivePreview::start(
            ctx.camera.clone(),
            self.latest_frame.clone(),
            size,
            sink,
            previous,
        ) {
            Ok(live) => {
                live.set_paused(captured);
                st.live = Some(live);
            }
            Err(e) => {
                p.set_error_message(s(format!("Camera: {e}")));
            }
        }
    }

    /// Leaves the photo screen (or locks): the preview stops, and with it the
    /// camera.
    fn camera_off(&self) {
        match self.state.try_borrow_mut() {
            Ok(mut st) => {
                if let Some(live) = st.live.as_mut() {
                    live.stop();
                }
            }
            Err(_) => tracing::warn!("photo state busy: the camera preview keeps running"),
        }
    }

    fn shutter(&self, ctx: &Rc<Ctx>) {
        let Some(ui) = ctx.ui() else { return };
        let p = ui.global::<PhotoAdapter>();
        let frame = self
            .latest_frame
            .lock()
            .ok()
            .and_then(|mut l| l.take())
            .or_else(|| {
                // No preview frame yet: take one now.
                let mut cam = ctx.camera.lock().ok()?;
                let _ = cam.start();
                cam.frame().ok()
            });
        let Some(frame) = frame else {
            p.set_error_message(ui.global::<Words>().invoke_no_camera_image());
            return;
        };
        if let Ok(rgb) = kring_hardware::preview(&frame.jpeg, 800, 450) {
            p.set_still(to_image(&rgb));
        }
        {
            let mut st = self.state.borrow_mut();
            st.clear_photo();
            st.still = Some(frame.jpeg);
            // The live preview is hidden while tagging: decode nothing.
            if let Some(live) = &st.live {
                live.set_paused(true);
            }
        }
        p.set_captured(true);
        p.set_saved_message("".into());
        self.show_tags(ctx);
    }

    fn save(&self, ctx: &Rc<Ctx>) {
        let Some(ui) = ctx.ui() else { return };
        let p = ui.global::<PhotoAdapter>();
        let audience = self.audience(ctx);
        if matches!(audience, Audience::Refused { .. }) {
            p.set_error_message(ui.global::<Words>().invoke_child_without_consent_tagged());
            return;
        }
        let (still, tags, no_children) = {
            let st = self.state.borrow();
            let Some(still) = st.still.clone() else {
                return;
            };
            (still, st.tags.clone(), st.no_children)
        };
        let jpeg = match kring_hardware::strip_metadata(&still) {
            Ok(j) => j,
            Err(e) => {
                p.set_error_message(s(format!("{e}")));
                return;
            }
        };
        let thumb = kring_hardware::thumbnail_jpeg(&jpeg, 320).ok();
        let result = ctx.store.save_photo(
            kring_sync::NewPhoto {
                jpeg: &jpeg,
                thumbnail: thumb.as_deref(),
                tags,
                no_children_recognizable: no_children,
                audience,
                staff: ctx.staff_id(),
            },
            ctx.now(),
        );
        match result {
            Ok(id) => {
                tracing::info!(photo = %id, "photo saved");
                self.state.borrow_mut().clear_photo();
                p.set_captured(false);
                p.set_still(Default::default());
                p.set_error_message("".into());
                p.set_saved_message(ui.global::<Words>().invoke_saved());
                ctx.saved();
            }
            Err(e) => p.set_error_message(s(format!("{e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::viewfinder_box;

    #[test]
    fn the_viewfinder_box_follows_the_window() {
        for (window, scale, want) in [
            // the two screens of docs/screenshots
            ((800, 480), 1.0, (438, 392)),
            ((1280, 800), 1.0, (918, 712)),
            // a HiDPI window: the layout's pixels are twice as many
            ((1600, 960), 2.0, (876, 784)),
            // no size yet: the preferred 800x480
            ((0, 0), 1.0, (438, 392)),
            // nonsense scale: 1
            ((800, 480), f32::NAN, (438, 392)),
            // a window too small for the layout still gets a pixel
            ((300, 50), 1.0, (1, 1)),
        ] {
            assert_eq!(
                viewfinder_box(window.0, window.1, scale),
                want,
                "{window:?} at {scale}"
            );
        }
    }
}
