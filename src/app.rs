//! The kiosk application: one context shared by the screens' controllers on
//! the UI thread; the sync engine runs on a tokio runtime on other threads and
//! reaches the UI only through `upgrade_in_event_loop`.

use crate::controllers;
use crate::settings::KioskSettings;
use crate::{AppAdapter, AppWindow, Page};
use kring_hardware::{Backlight, Camera, NoBacklight};
use kring_protocol::Staff;
use kring_sync::{EngineConfig, EngineHandle, Store, SyncStatus, SystemClock};
use slint::{ComponentHandle, Timer, TimerMode};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Everything the screens share. Lives on the UI thread.
pub struct Ctx {
    pub ui: slint::Weak<AppWindow>,
    pub store: Arc<Store>,
    pub settings: KioskSettings,
    pub engine: RefCell<Option<EngineHandle>>,
    pub runtime: Option<tokio::runtime::Handle>,
    /// The staff member who unlocked the screen.
    pub staff: RefCell<Option<Staff>>,
    pub pin_backoff: RefCell<crate::pin::Backoff>,
    /// Staff chosen on the lock screen, before the PIN.
    pub chosen: RefCell<Option<Staff>>,
    /// Beheer asked for a manager PIN (instead of a normal unlock).
    pub admin_unlock: Cell<bool>,
    pub idle: Timer,
    pub clock: Timer,
    pub pin_block: Timer,
    /// Dims the backlight a while after locking.
    pub dim: Timer,
    /// The screen's backlight (sysfs on the device; set by `main`).
    pub backlight: RefCell<Box<dyn Backlight>>,
    pub camera: Arc<Mutex<Box<dyn Camera>>>,
    pub camera_on: Arc<std::sync::atomic::AtomicBool>,
    /// The latest camera frame (JPEG as it came).
    pub latest_frame: Arc<Mutex<Option<kring_hardware::Frame>>>,
    pub preview_timer: Timer,
    pub english: Cell<bool>,
    pub photo: RefCell<controllers::photo::PhotoState>,
    pub diary: RefCell<controllers::diary::DiaryState>,
    pub open_thread: RefCell<Option<String>>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Ctx {
    pub fn ui(&self) -> Option<AppWindow> {
        self.ui.upgrade()
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    pub fn today(&self) -> chrono::NaiveDate {
        chrono::Local::now().date_naive()
    }

    pub fn staff_id(&self) -> Option<kring_protocol::StaffId> {
        self.staff.borrow().as_ref().map(|s| s.id)
    }

    /// The saved item is committed: let the engine look now.
    pub fn wake_engine(&self) {
        if let Some(e) = self.engine.borrow().as_ref() {
            e.wake();
        }
    }

    /// Any touch: full brightness again; while locked, dim again later.
    pub fn wake_screen(self: &Rc<Self>) {
        self.set_backlight(1.0);
        if self.staff.borrow().is_none() {
            self.dim_later();
        }
    }

    fn set_backlight(&self, level: f32) {
        let mut b = self.backlight.borrow_mut();
        if (b.level() - level).abs() > f32::EPSILON
            && let Err(error) = b.set_level(level)
        {
            tracing::warn!(%error, level, "cannot set the backlight");
        }
    }

    /// Starts (again) the timer that dims the locked screen.
    fn dim_later(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        self.dim.start(
            TimerMode::SingleShot,
            Duration::from_secs(self.settings.dim_seconds.max(1)),
            move || {
                if let Some(ctx) = weak.upgrade()
                    && ctx.staff.borrow().is_none()
                {
                    tracing::debug!("locked and untouched: dimming");
                    ctx.set_backlight(ctx.settings.dim_level.clamp(0.0, 1.0));
                }
            },
        );
    }

    /// Staff touched the screen: the idle lock starts again.
    pub fn touched(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        self.idle.start(
            TimerMode::SingleShot,
            Duration::from_secs(self.settings.idle_seconds.max(5)),
            move || {
                if let Some(ctx) = weak.upgrade() {
                    tracing::info!("idle: locking");
                    ctx.lock();
                }
            },
        );
    }

    /// Locks the screen: no child data stays in the window.
    pub fn lock(self: &Rc<Self>) {
        *self.staff.borrow_mut() = None;
        *self.chosen.borrow_mut() = None;
        self.admin_unlock.set(false);
        self.idle.stop();
        controllers::photo::camera_off(self);
        if let Some(ui) = self.ui() {
            controllers::clear_child_data(&ui);
            let a = ui.global::<AppAdapter>();
            let enrolled = self.store.device().ok().flatten().is_some();
            a.set_staff_name("".into());
            a.set_page(if enrolled { Page::Locked } else { Page::Enroll });
            controllers::lock::reset(&ui);
        }
        self.dim_later();
    }

    pub fn navigate(self: &Rc<Self>, page: Page) {
        let Some(ui) = self.ui() else { return };
        let unlocked = self.staff.borrow().is_some();
        let page = match page {
            Page::Locked | Page::Enroll => page,
            Page::Admin => page,
            _ if !unlocked => Page::Locked,
            other => other,
        };
        if page != Page::Photo {
            controllers::photo::camera_off(self);
        }
        ui.global::<AppAdapter>().set_page(page);
        match page {
            Page::Today => controllers::today::refresh(self),
            Page::Photo => controllers::photo::enter(self),
            Page::Diary => controllers::diary::refresh(self),
            Page::Messages => controllers::messages::refresh(self),
            Page::Sync => controllers::sync::refresh(self),
            Page::Admin | Page::Enroll => controllers::admin::refresh(self),
            Page::Locked => {}
        }
    }

    /// Starts the sync engine if the device is enrolled and a runtime exists.
    pub fn start_engine(self: &Rc<Self>) {
        let Some(rt) = self.runtime.clone() else {
            return;
        };
        if self.engine.borrow().is_some() || self.store.device().ok().flatten().is_none() {
            return;
        }
        let _guard = rt.enter();
        let (handle, _task) = kring_sync::spawn(
            self.store.clone(),
            Arc::new(SystemClock),
            EngineConfig {
                app_version: env!("CARGO_PKG_VERSION").to_string(),
                ..EngineConfig::default()
            },
        );
        let mut status = handle.status();
        let weak = self.ui.clone();
        rt.spawn(async move {
            loop {
                let s: SyncStatus = status.borrow_and_update().clone();
                let _ =
                    weak.upgrade_in_event_loop(move |ui| controllers::sync::apply_status(&ui, &s));
                if status.changed().await.is_err() {
                    break;
                }
            }
        });
        *self.engine.borrow_mut() = Some(handle);
    }
}

thread_local! {
    static CURRENT: RefCell<std::rc::Weak<Ctx>> = const { RefCell::new(std::rc::Weak::new()) };
}

/// Runs `f` with the kiosk's context, on the UI thread (for results that come
/// back from other threads through `upgrade_in_event_loop`).
pub fn with_ctx(f: impl FnOnce(&Rc<Ctx>)) {
    if let Some(ctx) = CURRENT.with(|c| c.borrow().upgrade()) {
        f(&ctx);
    }
}

/// Builds the window and wires every screen. `runtime` is None in UI tests
/// (no engine); `camera` is the synthetic one there.
pub fn build(
    store: Arc<Store>,
    settings: KioskSettings,
    runtime: Option<tokio::runtime::Handle>,
    camera: Box<dyn Camera>,
) -> Result<(AppWindow, Rc<Ctx>), slint::PlatformError> {
    let ui = AppWindow::new()?;
    let english = settings.language == "en";
    let ctx = Rc::new(Ctx {
        ui: ui.as_weak(),
        store,
        settings,
        engine: RefCell::new(None),
        runtime,
        staff: RefCell::new(None),
        pin_backoff: RefCell::new(crate::pin::Backoff::default()),
        chosen: RefCell::new(None),
        admin_unlock: Cell::new(false),
        idle: Timer::default(),
        clock: Timer::default(),
        pin_block: Timer::default(),
        dim: Timer::default(),
        backlight: RefCell::new(Box::new(NoBacklight::default())),
        camera: Arc::new(Mutex::new(camera)),
        camera_on: Arc::default(),
        latest_frame: Arc::default(),
        preview_timer: Timer::default(),
        english: Cell::new(english),
        photo: RefCell::default(),
        diary: RefCell::default(),
        open_thread: RefCell::new(None),
    });
    if english {
        let _ = slint::select_bundled_translation("en");
    } else {
        let _ = slint::select_bundled_translation("");
    }
    CURRENT.with(|c| *c.borrow_mut() = Rc::downgrade(&ctx));
    controllers::setup(&ui, &ctx);
    ctx.lock();
    ctx.start_engine();
    Ok((ui, ctx))
}
