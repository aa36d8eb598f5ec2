//! Vandaag: who is expected today, who is absent and why, badges.

use super::Screen;
use super::{model, s};
use crate::app::Ctx;
use crate::view;
use crate::{AppWindow, ChildRow, Page, TodayAdapter, Words};
use kring_protocol::{MessageAuthor, MessageThread};
use slint::ComponentHandle;
use std::rc::Rc;

/// Vandaag keeps nothing in Rust: it shows the store.
#[derive(Debug, Default)]
pub struct TodayScreen;

impl Screen for TodayScreen {
    fn pages(&self) -> &'static [Page] {
        &[Page::Today]
    }
    fn enter(&self, ctx: &Rc<Ctx>) {
        refresh(ctx);
    }
    fn refresh(&self, ctx: &Rc<Ctx>) {
        refresh(ctx);
    }
    fn clear(&self, ctx: &Ctx) {
        let Some(ui) = ctx.ui() else { return };
        let t = ui.global::<TodayAdapter>();
        t.set_children(model(vec![]));
        t.set_detail_open(false);
        t.set_detail(Default::default());
        t.set_detail_notes("".into());
        t.set_detail_diary(model(vec![]));
        t.set_detail_messages(model(vec![]));
    }
}

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) -> Rc<dyn Screen> {
    let t = ui.global::<TodayAdapter>();
    t.on_open_child({
        let ctx = ctx.clone();
        move |id| {
            ctx.touched();
            open_child(&ctx, &id);
        }
    });
    t.on_close_detail({
        let ctx = ctx.clone();
        move || {
            if let Some(ui) = ctx.ui() {
                ui.global::<TodayAdapter>().set_detail_open(false);
            }
        }
    });
    Rc::new(TodayScreen)
}

/// Rows of the children expected today, absent ones last.
pub fn rows(ctx: &Ctx) -> Vec<ChildRow> {
    let today = ctx.today();
    let Some(ui) = ctx.ui() else {
        return vec![];
    };
    let w = ui.global::<Words>();
    let absences = ctx.read("absences", ctx.store.absences());
    let messages = ctx.read("messages", ctx.store.messages());
    let mut kids = ctx.read("children", ctx.store.children());
    kids.retain(|c| view::expected_today(c, today));
    kids.sort_by(|a, b| a.first_name.cmp(&b.first_name));
    let mut rows: Vec<ChildRow> = kids
        .iter()
        .map(|c| {
            let absent = view::absence_today(&absences, &c.id, today);
            let unread = messages
                .iter()
                .filter(|m| {
                    m.thread == MessageThread::Child { child_id: c.id }
                        && matches!(m.author, MessageAuthor::Parent { .. })
                        && m.read_by_group_at.is_none()
                })
                .count();
            ChildRow {
                id: s(c.id.to_string()),
                name: s(format!("{} {}", c.first_name, c.last_name)),
                first_name: s(c.first_name.clone()),
                last_name: s(c.last_name.clone()),
                initials: s(view::initials(&c.first_name, &c.last_name)),
                age_text: match view::age(c.birth_date, today) {
                    view::Age::Months(m) => w.invoke_age_months(m),
                    view::Age::Years(y) => w.invoke_age_years(y),
                },
                status_text: match absent {
                    Some(a) => w.invoke_absent(a.reason.into(), a.part_of_day.into()),
                    None => w.invoke_expected(),
                },
                absent: absent.is_some(),
                consent: c.photo_consent.into(),
                has_notes: c.allergies.is_some() || c.notes.is_some(),
                unread: unread as i32,
            }
        })
        .collect();
    rows.sort_by_key(|r| r.absent);
    rows
}

pub fn refresh(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    if ctx.staff.borrow().is_none() {
        return;
    }
    let t = ui.global::<TodayAdapter>();
    t.set_children(model(rows(ctx)));
    t.set_date_text(s(ctx.today().format("%d-%m-%Y").to_string()));
}

fn open_child(ctx: &Rc<Ctx>, id: &str) {
    let Some(ui) = ctx.ui() else { return };
    let t = ui.global::<TodayAdapter>();
    let Some(row) = rows(ctx).into_iter().find(|r| r.id.as_str() == id) else {
        return;
    };
    let child = ctx
        .read("children", ctx.store.children())
        .into_iter()
        .find(|c| c.id.to_string() == id);
    let notes = child
        .map(|c| {
            [c.allergies.map(|a| format!("Allergie: {a}")), c.notes]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let diary: Vec<slint::SharedString> = ctx
        .read("parent_diary", ctx.store.parent_diary())
        .into_iter()
        .filter(|d| d.child_id.to_string() == id)
        .map(|d| s(format!("{}: {}", d.parent_name, d.text)))
        .collect();
    let msgs: Vec<slint::SharedString> = ctx
        .read("messages", ctx.store.messages())
        .into_iter()
        .filter(
            |m| matches!(m.thread, MessageThread::Child { child_id } if child_id.to_string() == id),
        )
        .map(|m| {
            let who = match &m.author {
                MessageAuthor::Parent { name, .. } | MessageAuthor::Staff { name, .. } => {
                    name.clone()
                }
            };
            s(format!("{who}: {}", m.body))
        })
        .collect();
    t.set_detail(row);
    t.set_detail_notes(s(notes));
    t.set_detail_diary(model(diary));
    t.set_detail_messages(model(msgs));
    t.set_detail_open(true);
}
