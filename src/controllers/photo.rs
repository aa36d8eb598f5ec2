//! Foto maken: live preview, shutter, tag the children (consent decides who
//! may be tagged and who will see it), save durably.

use super::{model, s};
use crate::Words;
use crate::app::Ctx;
use crate::view;
use crate::{AppWindow, HiddenLine, PhotoAdapter, TagChip};
use kring_protocol::{Audience, ChildId, ConsentedChild, PhotoConsent, decide_audience};
use slint::{ComponentHandle, Rgb8Pixel, SharedPixelBuffer};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The photo being tagged.
#[derive(Debug, Default)]
pub struct PhotoState {
    pub still: Option<Vec<u8>>,
    pub tags: Vec<ChildId>,
    pub no_children: bool,
}

fn to_image(rgb: &image::RgbImage) -> slint::Image {
    let buf =
        SharedPixelBuffer::<Rgb8Pixel>::clone_from_slice(rgb.as_raw(), rgb.width(), rgb.height());
    slint::Image::from_rgb8(buf)
}

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) {
    let p = ui.global::<PhotoAdapter>();
    p.on_shutter({
        let ctx = ctx.clone();
        move || {
            ctx.touched();
            shutter(&ctx);
        }
    });
    p.on_toggle_tag({
        let ctx = ctx.clone();
        move |id| {
            ctx.touched();
            if let Ok(id) = id.parse::<ChildId>() {
                let allowed = consents(&ctx)
                    .iter()
                    .any(|(c, consent, _)| *c == id && *consent != PhotoConsent::None);
                if !allowed {
                    return;
                }
                let mut st = ctx.photo.borrow_mut();
                if let Some(i) = st.tags.iter().position(|t| *t == id) {
                    st.tags.remove(i);
                } else {
                    st.tags.push(id);
                }
            }
            show_tags(&ctx);
        }
    });
    p.on_set_no_children({
        let ctx = ctx.clone();
        move |on| {
            ctx.touched();
            ctx.photo.borrow_mut().no_children = on;
            show_tags(&ctx);
        }
    });
    p.on_save({
        let ctx = ctx.clone();
        move || {
            ctx.touched();
            save(&ctx);
        }
    });
    p.on_discard({
        let ctx = ctx.clone();
        move || {
            ctx.touched();
            *ctx.photo.borrow_mut() = PhotoState::default();
            if let Some(ui) = ctx.ui() {
                let p = ui.global::<PhotoAdapter>();
                p.set_captured(false);
                p.set_still(Default::default());
            }
        }
    });
}

/// Today's roster with consents: (id, consent, first name).
fn consents(ctx: &Ctx) -> Vec<(ChildId, PhotoConsent, String)> {
    let today = ctx.today();
    let mut kids = ctx.store.children().unwrap_or_default();
    kids.retain(|c| view::expected_today(c, today));
    kids.sort_by(|a, b| a.first_name.cmp(&b.first_name));
    kids.into_iter()
        .map(|c| (c.id, c.photo_consent, c.first_name))
        .collect()
}

fn audience(ctx: &Ctx) -> Audience {
    let all = consents(ctx);
    let st = ctx.photo.borrow();
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

fn show_tags(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    let p = ui.global::<PhotoAdapter>();
    let all = consents(ctx);
    let w = ui.global::<Words>();
    let tags = ctx.photo.borrow().tags.clone();
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
    p.set_no_children(ctx.photo.borrow().no_children);
    let name_of = |c: &ChildId| {
        all.iter()
            .find(|(id, _, _)| id == c)
            .map(|(_, _, n)| n.clone())
            .unwrap_or_default()
    };
    let v = view::audience_view(&audience(ctx), name_of, |names| {
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

/// Opens the photo screen: camera on, live preview.
pub fn enter(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    let p = ui.global::<PhotoAdapter>();
    p.set_saved_message("".into());
    p.set_error_message("".into());
    if ctx.photo.borrow().still.is_none() {
        p.set_captured(false);
    }
    if ctx.camera_on.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Ok(mut cam) = ctx.camera.lock()
        && let Err(e) = cam.start()
    {
        p.set_error_message(s(format!("Camera: {e}")));
    }
    // Frames are read and scaled on a worker thread; the UI only shows them.
    let camera = ctx.camera.clone();
    let on = ctx.camera_on.clone();
    let latest = ctx.latest_frame.clone();
    let weak = ui.as_weak();
    std::thread::spawn(move || {
        while on.load(Ordering::SeqCst) {
            let frame = match camera.lock() {
                Ok(mut cam) => cam.frame(),
                Err(_) => break,
            };
            match frame {
                Ok(frame) => {
                    let preview = kring_hardware::preview(&frame.jpeg, 800, 450);
                    if let Ok(mut l) = latest.lock() {
                        *l = Some(frame);
                    }
                    if let Ok(rgb) = preview {
                        let buf = SharedPixelBuffer::<Rgb8Pixel>::clone_from_slice(
                            rgb.as_raw(),
                            rgb.width(),
                            rgb.height(),
                        );
                        let _ = weak.upgrade_in_event_loop(move |ui| {
                            ui.global::<PhotoAdapter>()
                                .set_preview(slint::Image::from_rgb8(buf));
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "camera frame failed");
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
        if let Ok(mut cam) = camera.lock() {
            cam.stop();
        }
    });
}

pub fn camera_off(ctx: &Ctx) {
    ctx.camera_on.store(false, Ordering::SeqCst);
}

fn shutter(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    let p = ui.global::<PhotoAdapter>();
    let frame = ctx
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
    *ctx.photo.borrow_mut() = PhotoState {
        still: Some(frame.jpeg),
        tags: vec![],
        no_children: false,
    };
    p.set_captured(true);
    p.set_saved_message("".into());
    show_tags(ctx);
}

fn save(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    let p = ui.global::<PhotoAdapter>();
    let audience = audience(ctx);
    if matches!(audience, Audience::Refused { .. }) {
        p.set_error_message(ui.global::<Words>().invoke_child_without_consent_tagged());
        return;
    }
    let (still, tags, no_children) = {
        let st = ctx.photo.borrow();
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
            *ctx.photo.borrow_mut() = PhotoState::default();
            p.set_captured(false);
            p.set_still(Default::default());
            p.set_error_message("".into());
            p.set_saved_message(ui.global::<Words>().invoke_saved());
            ctx.wake_engine();
            super::sync::refresh(ctx);
        }
        Err(e) => p.set_error_message(s(format!("{e}"))),
    }
}
