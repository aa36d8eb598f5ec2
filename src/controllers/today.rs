//! Vandaag: who is expected today, who is absent and why, badges.

use super::Screen;
use super::{model, s};
use crate::app::Ctx;
use crate::view;
use crate::{AppWindow, ChildRow, Page, TodayAdapter, Words};
use kring_bkr::{Care, Limit, Outcome};
use kring_protocol::{GroupCare, MessageAuthor, MessageThread, PartOfDay};
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
        t.set_ratio_text("".into());
        t.set_ratio_lines("".into());
        t.set_ratio_alert(false);
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
    let (parts, alert) = ratio_line(ctx, &ui.global::<Words>());
    t.set_ratio_text(s(parts.join(" · ")));
    t.set_ratio_lines(s(parts.join("\n")));
    t.set_ratio_alert(alert);
}

/// The ratio for the children expected today (those not away for the whole
/// day): how many beroepskrachten they need, or why the group is too large
/// for any number (`true`: say it as a warning).
fn ratio_line(ctx: &Ctx, w: &Words) -> (Vec<String>, bool) {
    let today = ctx.today();
    let absences = ctx.read("absences", ctx.store.absences());
    let mut kids = ctx.read("children", ctx.store.children());
    kids.retain(|c| {
        view::expected_today(c, today)
            && !view::absence_today(&absences, &c.id, today)
                .is_some_and(|a| a.part_of_day == PartOfDay::WholeDay)
    });
    if kids.is_empty() {
        return (vec![], false);
    }
    let care = match ctx.read("group", ctx.store.group()).map(|g| g.care) {
        Some(GroupCare::Bso) => Care::Bso,
        Some(GroupCare::Dagopvang) | None => Care::Dagopvang,
    };
    let births: Vec<_> = kids.iter().map(|c| c.birth_date).collect();
    let children = i32::try_from(kids.len()).unwrap_or(i32::MAX);
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    match kring_bkr::assess(care, &births, today).map(|a| a.outcome) {
        Ok(Outcome::Staff { staff, .. }) => (
            vec![
                w.invoke_children_expected(children).into(),
                w.invoke_staff_needed(count(staff)).into(),
            ],
            false,
        ),
        Ok(Outcome::TooLarge(Limit::Children { max })) => {
            (vec![w.invoke_ratio_too_many(count(max)).into()], true)
        }
        Ok(Outcome::TooLarge(Limit::Young { max })) => match care {
            Care::Dagopvang => (
                vec![w.invoke_ratio_too_many_babies(count(max)).into()],
                true,
            ),
            Care::Bso => (vec![w.invoke_ratio_too_many_young(count(max)).into()], true),
        },
        Err(error) => {
            tracing::warn!(%error, "a child's birth date is after today: no ratio shown");
            (vec![], false)
        }
    }
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
