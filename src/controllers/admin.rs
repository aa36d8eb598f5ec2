//! Beheer and Koppelen: enroll with a code (typed or scanned), device info,
//! language, and the revoked state.

use super::Screen;
use super::{model, s};
use crate::app::Ctx;
use crate::{AdminAdapter, AppAdapter, AppWindow, Page, Words};
use slint::ComponentHandle;
use std::rc::Rc;
use std::time::Duration;

/// How long a provisioned koppelcode waits before trying an unreachable server again.
const PROVISIONED_RETRY: Duration = Duration::from_secs(5);

/// Beheer and Koppelen: device data only, no child data.
#[derive(Debug, Default)]
pub struct AdminScreen;

impl Screen for AdminScreen {
    fn pages(&self) -> &'static [Page] {
        &[Page::Admin, Page::Enroll]
    }
    fn enter(&self, ctx: &Rc<Ctx>) {
        refresh(ctx);
    }
    fn clear(&self, _ctx: &Ctx) {}
}

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) -> Rc<dyn Screen> {
    let a = ui.global::<AdminAdapter>();
    a.set_server_url(s(ctx.settings.server_url.clone()));
    a.set_language(s(if ctx.english.get() { "en" } else { "nl" }));
    a.on_enroll({
        let ctx = ctx.clone();
        move || {
            let Some(ui) = ctx.ui() else { return };
            let a = ui.global::<AdminAdapter>();
            enroll(
                &ctx,
                a.get_server_url().to_string(),
                a.get_code().to_string(),
            );
        }
    });
    a.on_scan_qr({
        let ctx = ctx.clone();
        move || scan(&ctx)
    });
    a.on_set_language({
        let ctx = ctx.clone();
        move |lang| {
            let en = lang.as_str() == "en";
            ctx.english.set(en);
            let _ = slint::select_bundled_translation(if en { "en" } else { "" });
            if let Some(ui) = ctx.ui() {
                ui.global::<AdminAdapter>().set_language(lang);
            }
            refresh(&ctx);
        }
    });
    a.on_close({
        let ctx = ctx.clone();
        move || {
            if let Some(ui) = ctx.ui() {
                ui.global::<AdminAdapter>().set_unlocked(false);
            }
            ctx.lock();
        }
    });
    Rc::new(AdminScreen)
}

fn refresh(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    let a = ui.global::<AdminAdapter>();
    let device = ctx.read("device", ctx.store.device());
    a.set_enrolled(device.is_some());
    let w = ui.global::<Words>();
    let mut info = Vec::new();
    if let Some(d) = &device {
        info.push(w.invoke_info_group(s(d.group.name.clone()), s(d.group.location_name.clone())));
        info.push(w.invoke_info_device(s(d.device_id.to_string())));
        info.push(w.invoke_info_server(s(d.server_url.clone())));
    }
    info.push(w.invoke_info_version(s(env!("CARGO_PKG_VERSION"))));
    if let Ok(cam) = ctx.camera.lock() {
        info.push(w.invoke_info_camera(s(cam.name())));
    }
    a.set_info_lines(model(info));
}

/// Trades a code for credentials (in the background), then shows the lock screen.
pub fn enroll(ctx: &Rc<Ctx>, server: String, code: String) {
    enroll_with(ctx, server, code, false);
}

/// Enrolls with the koppelcode from the provisioning file (appliance). Until
/// the network is up the server cannot be reached: it tries again every few
/// seconds. Once the code is used, or refused for good, it is removed.
pub fn enroll_provisioned(ctx: &Rc<Ctx>, server: String, code: String) {
    enroll_with(ctx, server, code, true);
}

fn enroll_with(ctx: &Rc<Ctx>, server: String, code: String, provisioned: bool) {
    let Some(ui) = ctx.ui() else { return };
    let a = ui.global::<AdminAdapter>();
    let Some(rt) = ctx.runtime.clone() else {
        a.set_message(ui.global::<Words>().invoke_enroll_unavailable());
        return;
    };
    if code.trim().is_empty() || server.trim().is_empty() {
        a.set_message(ui.global::<Words>().invoke_enroll_fill_in());
        return;
    }
    a.set_message(ui.global::<Words>().invoke_enrolling());
    let store = ctx.store.clone();
    let clock = ctx.clock.clone();
    let name = ctx.settings.device_name.clone();
    let data_dir = ctx.settings.data_dir.clone();
    let weak = ui.as_weak();
    let (retry_server, retry_code) = (server.clone(), code.clone());
    rt.spawn(async move {
        let result = async {
            let client =
                kring_sync::client::ApiClient::new(&server, None).map_err(|e| format!("{e:?}"))?;
            let resp = client
                .enroll(&code, &name, env!("CARGO_PKG_VERSION"))
                .await
                .map_err(|e| match e {
                    kring_sync::decide::Failure::Status {
                        error: Some(err), ..
                    } => err.message,
                    other => {
                        tracing::warn!(error = ?other, "enrollment failed");
                        String::new()
                    }
                })?;
            let group = resp.group.name.clone();
            store
                .save_enrollment(&server, &resp, clock.now())
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(group)
        }
        .await;
        let _ = weak.upgrade_in_event_loop(move |ui| {
            let a = ui.global::<AdminAdapter>();
            match &result {
                Ok(_) => {
                    if provisioned {
                        crate::appliance::forget_enroll_code(&data_dir);
                    }
                }
                Err(e) if e.is_empty() && provisioned => {
                    tracing::info!("server not reachable yet: trying the koppelcode again soon");
                    slint::Timer::single_shot(PROVISIONED_RETRY, move || {
                        crate::app::with_ctx(|ctx| match ctx.store.device() {
                            Ok(None) => enroll_provisioned(ctx, retry_server, retry_code),
                            Ok(Some(_)) => {}
                            // unreadable store: the next start tries again
                            // (the code stays in the provisioning file)
                            Err(e) => tracing::error!(
                                error = %e,
                                "cannot read the enrollment; not retrying the koppelcode"
                            ),
                        });
                    });
                }
                Err(_) if provisioned => crate::appliance::forget_enroll_code(&data_dir),
                Err(_) => {}
            }
            match result {
                Ok(group) => {
                    a.set_message(ui.global::<Words>().invoke_enrolled_to(s(group.clone())));
                    a.set_revoked(false);
                    a.set_code("".into());
                    ui.global::<AppAdapter>().set_group_name(s(group));
                    crate::app::with_ctx(|ctx| {
                        ctx.refresh_calendar();
                        ctx.start_engine();
                        ctx.lock();
                    });
                }
                // an empty reason: the server could not be reached
                Err(e) if e.is_empty() => {
                    a.set_message(ui.global::<Words>().invoke_server_unreachable())
                }
                Err(e) => a.set_message(s(e)),
            }
        });
    });
}

/// Looks for an enrollment QR code in the next camera frames.
fn scan(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    let a = ui.global::<AdminAdapter>();
    a.set_scanning(true);
    let frame = {
        let Ok(mut cam) = ctx.camera.lock() else {
            return;
        };
        let _ = cam.start();
        let f = cam.frame();
        cam.stop();
        f
    };
    a.set_scanning(false);
    let found = frame
        .ok()
        .and_then(|f| kring_hardware::scan(&f.jpeg))
        .and_then(|t| kring_hardware::parse_enroll_link(&t));
    match found {
        Some(link) => {
            a.set_server_url(s(link.server.clone()));
            a.set_code(s(link.code.clone()));
            enroll(ctx, link.server, link.code);
        }
        None => a.set_message(ui.global::<Words>().invoke_no_code_found()),
    }
}

/// The device was revoked: everything is wiped; show enrollment.
pub fn show_revoked(ui: &AppWindow) {
    ui.global::<AdminAdapter>().set_revoked(true);
    ui.global::<AdminAdapter>().set_enrolled(false);
    ui.global::<AppAdapter>().set_page(Page::Enroll);
}
