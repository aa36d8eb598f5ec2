//! Status bar and Synchronisatie: online/offline, what waits, what needs attention.

use super::{model, s};
use crate::app::Ctx;
use crate::{AppAdapter, AppWindow, SyncAdapter, SyncRow, Words};
use kring_sync::store::{ItemKind, ItemState};
use kring_sync::{ItemView, SyncStatus};
use slint::ComponentHandle;
use std::rc::Rc;

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) {
    ui.global::<SyncAdapter>().on_repaired_seen({
        let ctx = ctx.clone();
        move || {
            for incident in ctx.store.incidents().unwrap_or_default() {
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
                let _ = ctx.store.retry(&id);
                ctx.wake_engine();
                refresh(&ctx);
            }
        }
    });
}

fn kind_label(ui: &AppWindow, k: ItemKind) -> slint::SharedString {
    ui.global::<Words>().invoke_item_kind(match k {
        ItemKind::Photo => 0,
        ItemKind::Diary => 1,
        ItemKind::Message => 2,
        ItemKind::ReadReceipt => 3,
    })
}

/// Shows the engine's status (called on the UI thread).
pub fn apply_status(ui: &AppWindow, st: &SyncStatus) {
    if st.revoked {
        crate::app::with_ctx(|ctx| {
            ctx.engine.borrow_mut().take();
            ctx.lock();
        });
        super::admin::show_revoked(ui);
        return;
    }
    crate::app::with_ctx(|ctx| {
        // The feed may have brought new children, absences or messages.
        if ctx.staff.borrow().is_some() {
            super::today::refresh(ctx);
        }
    });
    let a = ui.global::<AppAdapter>();
    a.set_online(st.online);
    a.set_waiting_count(st.waiting as i32);
    a.set_attention_count(st.needs_attention as i32);
    let sync = ui.global::<SyncAdapter>();
    sync.set_last_sync_text(match st.last_sync {
        Some(t) => super::hhmm(&t),
        None => s("—"),
    });
    let rows: Vec<SyncRow> = st
        .items
        .iter()
        .map(|i| SyncRow {
            id: s(i.id.to_string()),
            kind: kind_label(ui, i.kind),
            time: super::hhmm(&i.created_at),
            state: match &i.state {
                ItemView::Waiting => 0,
                ItemView::Sending => 1,
                ItemView::Sent => 2,
                ItemView::NeedsAttention(_) => 3,
            },
            reason: s(match &i.state {
                ItemView::NeedsAttention(r) => r.clone(),
                _ => String::new(),
            }),
        })
        .collect();
    sync.set_items(model(rows));
}

/// The newest repair start-up made that staff have not yet seen (a damaged
/// store moved aside), as the notice on Synchronisatie.
pub fn show_repairs(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    let sync = ui.global::<SyncAdapter>();
    let incidents = ctx.store.incidents().unwrap_or_default();
    sync.set_repaired(!incidents.is_empty());
    if let Some(i) = incidents.first() {
        let r = &i.recovery;
        let local = i.at.with_timezone(&chrono::Local);
        sync.set_repaired_when(s(local.format("%d-%m %H:%M").to_string()));
        sync.set_restored(r.restored as i32);
        sync.set_lost(r.lost.len() as i32);
        sync.set_maybe_more_lost(r.incomplete);
        sync.set_enroll_again(!r.credentials_kept);
    }
}

/// Reads the store directly (no engine, or before its first status).
pub fn refresh(ctx: &Rc<Ctx>) {
    show_repairs(ctx);
    let Some(ui) = ctx.ui() else { return };
    let items = ctx.store.recent_items(50).unwrap_or_default();
    let (waiting, attention) = ctx.store.counts().unwrap_or((0, 0));
    let a = ui.global::<AppAdapter>();
    a.set_waiting_count(waiting as i32);
    a.set_attention_count(attention as i32);
    let rows: Vec<SyncRow> = items
        .into_iter()
        .map(|i| SyncRow {
            id: s(i.id.to_string()),
            kind: kind_label(&ui, i.kind),
            time: super::hhmm(&i.created_at),
            state: match &i.state {
                ItemState::Waiting => 0,
                ItemState::Sent => 2,
                ItemState::Wedged { .. } => 3,
            },
            reason: s(match i.state {
                ItemState::Wedged { reason } => reason,
                _ => String::new(),
            }),
        })
        .collect();
    ui.global::<SyncAdapter>().set_items(model(rows));
}
