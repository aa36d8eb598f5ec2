//! The kiosk application: one context shared by the screens' controllers on
//! the UI thread; the sync engine runs on a tokio runtime on other threads and
//! reaches the UI only through `upgrade_in_event_loop`.

use crate::controllers::{self, Screen};
use crate::settings::KioskSettings;
use crate::{AppAdapter, AppWindow, Page};
use kring_hardware::{Backlight, Camera, NoBacklight};
use kring_protocol::{Calendar, Staff};
use kring_sync::{Clock, EngineConfig, EngineHandle, Store, StoreError, SyncStatus, SystemClock};
use slint::{ComponentHandle, Timer, TimerMode};
use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the screens truly share. Lives on the UI thread. Each screen's own
/// state lives in its screen ([`controllers::Screen`]), registered once here.
pub struct Ctx {
    pub ui: slint::Weak<AppWindow>,
    pub store: Arc<Store>,
    pub settings: KioskSettings,
    pub engine: RefCell<Option<EngineHandle>>,
    /// The item the engine last said it is sending.
    pub sending: Cell<Option<uuid::Uuid>>,
    pub runtime: Option<tokio::runtime::Handle>,
    /// The staff member who unlocked the screen.
    pub staff: RefCell<Option<Staff>>,
    /// Locks after a while without a touch.
    pub idle: Timer,
    /// The time of day, for the status bar and the lock screen, and for
    /// stamping what is saved (injectable: tests move it).
    pub clock: Arc<dyn Clock>,
    /// Shows `clock` in the status bar and on the lock screen, every second.
    pub clock_tick: Timer,
    /// Dims the backlight a while after locking.
    pub dim: Timer,
    /// The screen's backlight (sysfs on the device; set by `main`).
    pub backlight: RefCell<Box<dyn Backlight>>,
    /// Foto maken's preview, and Beheer's QR scan and camera name.
    pub camera: Arc<Mutex<Box<dyn Camera>>>,
    pub english: Cell<bool>,
    /// The group's calendar (its organisation's time zone), read from the
    /// store at start, after enrollment and on every engine status (the feed
    /// may change the group), not on every clock tick.
    calendar: Cell<Calendar>,
    /// Every screen, registered once by `controllers::setup`.
    screens: OnceCell<Vec<Rc<dyn Screen>>>,
    /// Tells the updater whether an installation could hurt now.
    quiet_poll: Timer,
}

/// The calendar of the group this device serves: its organisation's time zone
/// (Europe/Amsterdam before enrollment, for an unknown zone, or when the store
/// cannot be read).
pub fn calendar_of(store: &Store) -> Calendar {
    match store.group() {
        Ok(Some(group)) => group.calendar().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the organisation's time zone is unknown here; using Europe/Amsterdam");
            Calendar::default()
        }),
        Ok(None) => Calendar::default(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the group; using Europe/Amsterdam");
            Calendar::default()
        }
    }
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
        self.clock.now()
    }

    /// The calendar of the group's location (its organisation's time zone),
    /// whatever zone the device itself is set to.
    pub fn calendar(&self) -> Calendar {
        self.calendar.get()
    }

    /// Reads the group's calendar from the store again (its time zone may
    /// have come with enrollment or a feed change).
    pub fn refresh_calendar(&self) {
        self.calendar.set(calendar_of(&self.store));
    }

    /// Now on the location's wall clock.
    pub fn local_now(&self) -> chrono::DateTime<kring_protocol::day::Tz> {
        self.calendar().local(self.now())
    }

    /// The childcare day it is now: a day at the location.
    pub fn today(&self) -> chrono::NaiveDate {
        self.calendar().today(self.now())
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

    /// Something was saved to the outbox (or its state changed here): the
    /// engine looks now, and the status bar counts what the store holds at
    /// once (not when the engine next reports, which may be much later
    /// while the server cannot be reached).
    pub fn saved(&self) {
        self.wake_engine();
        controllers::sync::show_items(self);
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

    /// What a store read gave; when it failed, the failure is logged and the
    /// page says it could not read its data (until the next page), and the
    /// screen shows what it has without it (the default, e.g. no rows).
    pub fn read<T: Default>(&self, what: &'static str, read: Result<T, StoreError>) -> T {
        match read {
            Ok(v) => v,
            Err(error) => {
                tracing::error!(%error, what, "cannot read the device store");
                if let Some(ui) = self.ui() {
                    ui.global::<AppAdapter>().set_read_failed(true);
                }
                T::default()
            }
        }
    }

    /// Registers the screens (once; `controllers::setup`).
    pub fn register(&self, screens: Vec<Rc<dyn Screen>>) {
        if self.screens.set(screens).is_err() {
            tracing::error!("the screens were registered twice; the first list stays");
        }
    }

    /// Every registered screen.
    pub fn screens(&self) -> &[Rc<dyn Screen>] {
        self.screens.get().map_or(&[], Vec::as_slice)
    }

    /// The screen that shows `page`.
    pub fn screen(&self, page: Page) -> Option<&Rc<dyn Screen>> {
        self.screens().iter().find(|s| s.pages().contains(&page))
    }

    /// Locks the screen: every screen forgets its child data.
    pub fn lock(self: &Rc<Self>) {
        *self.staff.borrow_mut() = None;
        self.idle.stop();
        if let Some(ui) = self.ui() {
            ui.global::<AppAdapter>().set_read_failed(false);
        }
        for screen in self.screens() {
            screen.clear(self);
        }
        if let Some(ui) = self.ui() {
            let a = ui.global::<AppAdapter>();
            let enrolled = self.read("device", self.store.device()).is_some();
            a.set_staff_name("".into());
            a.set_page(if enrolled { Page::Locked } else { Page::Enroll });
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
        for screen in self.screens() {
            if !screen.pages().contains(&page) {
                screen.leave(self);
            }
        }
        let a = ui.global::<AppAdapter>();
        a.set_page(page);
        a.set_read_failed(false);
        if let Some(screen) = self.screen(page) {
            screen.enter(self);
        }
    }

    /// The store changed under the screens (the engine brought news).
    pub fn refresh(self: &Rc<Self>, page: Page) {
        if let Some(screen) = self.screen(page) {
            screen.refresh(self);
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
        let release = crate::appliance::running_release();
        let (handle, _task) = kring_sync::spawn(
            self.store.clone(),
            self.clock.clone(),
            EngineConfig {
                app_version: env!("CARGO_PKG_VERSION").to_string(),
                release: release.as_ref().map(|r| r.header()),
                ..EngineConfig::default()
            },
        );
        if let Some(release) = release {
            self.start_updater(release, &handle);
        }
        let mut status = handle.status();
        let weak = self.ui.clone();
        rt.spawn(async move {
            loop {
                let s: SyncStatus = status.borrow_and_update().clone();
                // Reached in this run: `last_sync` may be from before a restart.
                if s.online {
                    crate::appliance::HEALTH.synced();
                }
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

impl Ctx {
    /// On an appliance: downloads what the server offers and asks for the
    /// installation while the screen is locked (see `kring_sync::update`).
    fn start_updater(self: &Rc<Self>, release: kring_sync::update::Release, engine: &EngineHandle) {
        let Ok(Some(creds)) = self.store.device() else {
            return;
        };
        let client =
            match kring_sync::client::ApiClient::new(&creds.server_url, Some(creds.secret.clone()))
            {
                Ok(c) => c
                    .with_app_version(env!("CARGO_PKG_VERSION"))
                    .with_release(release.header()),
                Err(error) => {
                    tracing::error!(?error, "the updater has no HTTP client");
                    return;
                }
            };
        let (quiet_tx, quiet) = tokio::sync::watch::channel(false);
        let weak = Rc::downgrade(self);
        self.quiet_poll
            .start(TimerMode::Repeated, Duration::from_secs(2), move || {
                if let Some(ctx) = weak.upgrade() {
                    // Locked: nobody is taking a photo or writing.
                    quiet_tx.send_replace(ctx.staff.borrow().is_none());
                }
            });
        kring_sync::update::spawn_updater(
            kring_sync::update::UpdaterConfig::new(
                self.settings.data_dir.join(crate::appliance::UPDATE_DIR),
                release,
            ),
            kring_sync::update::UpdaterInputs {
                client,
                store: self.store.clone(),
                clock: self.clock.clone(),
                calendar: self.calendar(),
                offer: engine.offer(),
                quiet,
            },
        );
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
    build_with_clock(store, settings, runtime, camera, Arc::new(SystemClock))
}

/// [`build`] with the given clock (tests move time with a `ManualClock`).
pub fn build_with_clock(
    store: Arc<Store>,
    settings: KioskSettings,
    runtime: Option<tokio::runtime::Handle>,
    camera: Box<dyn Camera>,
    clock: Arc<dyn Clock>,
) -> Result<(AppWindow, Rc<Ctx>), slint::PlatformError> {
    let ui = AppWindow::new()?;
    let english = settings.language == "en";
    let calendar = calendar_of(&store);
    let ctx = Rc::new(Ctx {
        ui: ui.as_weak(),
        store,
        settings,
        engine: RefCell::new(None),
        sending: Cell::new(None),
        runtime,
        staff: RefCell::new(None),
        idle: Timer::default(),
        clock,
        clock_tick: Timer::default(),
        dim: Timer::default(),
        backlight: RefCell::new(Box::new(NoBacklight::default())),
        camera: Arc::new(Mutex::new(camera)),
        english: Cell::new(english),
        screens: OnceCell::new(),
        calendar: Cell::new(calendar),
        quiet_poll: Timer::default(),
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
