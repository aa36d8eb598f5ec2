//! Status bar and Synchronisatie: online/offline, what waits, what needs attention.

use super::Screen;
use super::{model, s};
use crate::app::Ctx;
use crate::{AppAdapter, AppWindow, Page, SyncAdapter, SyncRow, Words};
use kring_sync::SyncStatus;
use kring_sync::store::{ItemKind, ItemState};
use slint::ComponentHandle;
use std::rc::Rc;

/// Synchronisatie: what it shows comes from the store and the engine; it
/// holds no child data.
#[derive(Debug, Default)]
pub struct SyncScreen;

impl Screen for SyncScreen {
    fn pages(&self) -> &'static [Page] {
        &[Page::Sync]
    }
    fn enter(&self, ctx: &Rc<Ctx>) {
        refresh(ctx);
    }
    fn clear(&self, _ctx: &Ctx) {}
}

pub fn screen() -> Rc<dyn Screen> {
    Rc::new(SyncScreen)
}

/// The status bar and Synchronisatie's buttons.
pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) {
    ui.global::<SyncAdapter>().on_repaired_seen({
        let ctx = ctx.clone();
        move || {
            for incident in ctx.read("incidents", ctx.store.incidents()) {
                if let Err(error) = ctx.store.incident_seen(incident.id) {
                    tracing::warn!(%error, "could not mark a repair as seen");
                }
            }
            show_repairs(&ctx);
        }
    });
    ui.global::<SyncAdapter>().on_retry({
        let ctx = ctx.clone();
        move |id| {
            if let Ok(id) = uuid::Uuid::parse_str(&id) {
                if let Err(error) = ctx.store.retry(&id) {
                    tracing::warn!(%error, item = %id, "cannot retry an item");
                }
                ctx.saved();
            }
        }
    });
}

fn kind_label(ui: &AppWindow, k: ItemKind) -> slint::SharedString {
    ui.global::<Words>().invoke_item_kind(k.into())
}

/// Shows the engine's status (called on the UI thread).
///
/// The status arrives later than it was taken (it travels through the event
/// loop), so its counts and rows may be older than the store: while the
/// server cannot be reached, an old status overwrote the count of items saved
/// since. What the store holds is read here instead; the status only adds
/// what only the engine knows (online, the last sync, the item being sent).
pub fn apply_status(ui: &AppWindow, st: &SyncStatus) {
    if st.revoked {
        crate::app::with_ctx(|ctx| {
            ctx.engine.borrow_mut().take();
            ctx.lock();
        });
        super::admin::show_revoked(ui);
        return;
    }
    let a = ui.global::<AppAdapter>();
    a.set_online(st.online);
    let mut last_sync = s("—");
    if let Some(t) = st.last_sync {
        crate::app::with_ctx(|ctx| last_sync = super::hhmm(&ctx.calendar(), &t));
    }
    ui.global::<SyncAdapter>().set_last_sync_text(last_sync);
    crate::app::with_ctx(|ctx| {
        ctx.refresh_calendar();
        ctx.sending.set(st.sending);
        show_items(ctx);
        // The feed may have brought new children, absences or messages.
        ctx.refresh(Page::Today);
    });
}

/// The newest repair start-up made that staff have not yet seen (a damaged
/// store moved aside), as the notice on Synchronisatie.
pub fn show_repairs(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    let sync = ui.global::<SyncAdapter>();
    let incidents = ctx.read("incidents", ctx.store.incidents());
    sync.set_repaired(!incidents.is_empty());
    if let Some(i) = incidents.first() {
        let r = &i.recovery;
        let local = ctx.calendar().local(i.at);
        sync.set_repaired_when(s(local.format("%d-%m %H:%M").to_string()));
        sync.set_restored(r.restored as i32);
        sync.set_lost(r.lost.len() as i32);
        sync.set_maybe_more_lost(r.incomplete);
        sync.set_enroll_again(!r.credentials_kept);
    }
}

/// The status bar's counts, as the store has them now.
pub fn show_counts(ctx: &Ctx) {
    let Some(ui) = ctx.ui() else { return };
    let (waiting, attention) = match ctx.store.counts() {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, "cannot count the outbox");
            return;
        }
    };
    let a = ui.global::<AppAdapter>();
    a.set_waiting_count(i32::try_from(waiting).unwrap_or(i32::MAX));
    a.set_attention_count(i32::try_from(attention).unwrap_or(i32::MAX));
}

/// The counts and the Synchronisatie list from the store; the item the
/// engine last said it is sending shows as being sent.
pub fn show_items(ctx: &Ctx) {
    show_counts(ctx);
    let Some(ui) = ctx.ui() else { return };
    let items = ctx.read("recent_items", ctx.store.recent_items(50));
    let sending = ctx.sending.get();
    let calendar = ctx.calendar();
    let rows: Vec<SyncRow> = items
        .into_iter()
        .map(|i| SyncRow {
            id: s(i.id.to_string()),
            kind: kind_label(&ui, i.kind),
            time: super::hhmm(&calendar, &i.created_at),
            state: crate::codes::sync_state(&i.state, sending == Some(i.id)),
            reason: match &i.state {
                ItemState::Wedged { reason } => {
                    crate::codes::sync_reason(&ui.global::<Words>(), reason)
                }
                _ => s(""),
            },
        })
        .collect();
    ui.global::<SyncAdapter>().set_items(model(rows));
}

/// Reads the store directly (no engine, or before its first status).
pub fn refresh(ctx: &Rc<Ctx>) {
    show_repairs(ctx);
    show_items(ctx);
}
