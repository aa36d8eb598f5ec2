//! Dagboek: an entry for one child or several, today's photos, and quick
//! fields for babies (one tap each).

use super::Screen;
use super::{model, s};
use crate::Page;
use crate::Words;
use crate::app::Ctx;
use crate::view;
use crate::{AppWindow, DiaryAdapter, DiaryLine, PickChild, PickPhoto};
use chrono::{NaiveTime, Timelike};
use kring_protocol::{
    BabyFields, ChildId, Feeding, FeedingKind, Mood, Nappy, NappyKind, PhotoId, PushItem, Sleep,
};
use kring_sync::store::ItemKind;
use slint::ComponentHandle;
use slint::SharedString;
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Debug, Default)]
pub struct DiaryState {
    pub children: Vec<ChildId>,
    pub photos: Vec<PhotoId>,
    pub baby: BabyFields,
    pub sleeping_since: Option<NaiveTime>,
}

/// The time of day now, to the minute.
fn now_time(ctx: &Ctx) -> NaiveTime {
    let n = ctx.local_now().time();
    NaiveTime::from_hms_opt(n.hour(), n.minute(), 0).unwrap_or(n)
}

/// Dagboek's own state: the entry being written.
#[derive(Debug, Default)]
pub struct DiaryScreen {
    state: RefCell<DiaryState>,
}

impl Screen for DiaryScreen {
    fn pages(&self) -> &'static [Page] {
        &[Page::Diary]
    }
    fn enter(&self, ctx: &Rc<Ctx>) {
        self.refresh(ctx);
    }
    fn clear(&self, ctx: &Ctx) {
        *self.state.borrow_mut() = DiaryState::default();
        let Some(ui) = ctx.ui() else { return };
        let d = ui.global::<DiaryAdapter>();
        d.set_roster(model(vec![]));
        d.set_photos(model(vec![]));
        d.set_entries(model(vec![]));
        d.set_quick_summary(model(vec![]));
        d.set_any_baby_selected(false);
        d.set_text("".into());
    }
}

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) -> Rc<dyn Screen> {
    let screen = Rc::new(DiaryScreen::default());
    let d = ui.global::<DiaryAdapter>();
    let with = |f: fn(&Rc<Ctx>, &mut DiaryState)| {
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            ctx.touched();
            f(&ctx, &mut screen.state.borrow_mut());
            screen.refresh(&ctx);
        }
    };
    d.on_toggle_child({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |id| {
            ctx.touched();
            if let Ok(id) = id.parse::<ChildId>() {
                let mut st = screen.state.borrow_mut();
                match st.children.iter().position(|c| *c == id) {
                    Some(i) => {
                        st.children.remove(i);
                    }
                    None => st.children.push(id),
                }
            }
            screen.refresh(&ctx);
        }
    });
    d.on_toggle_photo({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |id| {
            ctx.touched();
            if let Ok(id) = id.parse::<PhotoId>() {
                let mut st = screen.state.borrow_mut();
                match st.photos.iter().position(|p| *p == id) {
                    Some(i) => {
                        st.photos.remove(i);
                    }
                    None => st.photos.push(id),
                }
            }
            screen.refresh(&ctx);
        }
    });
    d.on_add_bottle({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |ml| {
            ctx.touched();
            screen.state.borrow_mut().baby.feedings.push(Feeding {
                kind: FeedingKind::Fles,
                amount_ml: Some(ml.max(0) as u32),
                what: None,
                at: now_time(&ctx),
            });
            screen.refresh(&ctx);
        }
    });
    d.on_add_food(with(|ctx, st| {
        st.baby.feedings.push(Feeding {
            kind: FeedingKind::Eten,
            amount_ml: None,
            what: None,
            at: now_time(ctx),
        })
    }));
    d.on_sleep_start(with(|ctx, st| st.sleeping_since = Some(now_time(ctx))));
    d.on_sleep_end(with(|ctx, st| {
        let from = st.sleeping_since.take().unwrap_or_else(|| now_time(ctx));
        st.baby.sleeps.push(Sleep {
            from,
            to: Some(now_time(ctx)),
        });
    }));
    d.on_nappy({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |k| {
            ctx.touched();
            let kind = NappyKind::from(k);
            screen.state.borrow_mut().baby.nappies.push(Nappy {
                kind,
                at: now_time(&ctx),
            });
            screen.refresh(&ctx);
        }
    });
    d.on_mood({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move |m| {
            ctx.touched();
            screen.state.borrow_mut().baby.mood = Some(Mood::from(m));
            screen.refresh(&ctx);
        }
    });
    d.on_clear_quick(with(|_, st| {
        st.baby = BabyFields::default();
        st.sleeping_since = None;
    }));
    d.on_save({
        let (ctx, screen) = (ctx.clone(), screen.clone());
        move || {
            ctx.touched();
            screen.save(&ctx);
        }
    });
    screen
}

/// A baby-field time, "14:05".
fn hm(t: &chrono::NaiveTime) -> SharedString {
    t.format("%H:%M").to_string().into()
}

fn quick_summary(w: &Words<'_>, st: &DiaryState) -> Vec<SharedString> {
    let mut out = Vec::new();
    for f in &st.baby.feedings {
        let at = hm(&f.at);
        out.push(match (f.kind, f.amount_ml) {
            (FeedingKind::Fles, Some(ml)) => {
                w.invoke_bottle(i32::try_from(ml).unwrap_or(i32::MAX), at)
            }
            (FeedingKind::Borst, _) => w.invoke_breastfeed(at),
            _ => w.invoke_ate(at),
        });
    }
    if let Some(since) = st.sleeping_since {
        out.push(w.invoke_sleeping_since(hm(&since)));
    }
    for sl in &st.baby.sleeps {
        out.push(w.invoke_slept(hm(&sl.from), sl.to.map(|t| hm(&t)).unwrap_or_default()));
    }
    for n in &st.baby.nappies {
        out.push(w.invoke_nappy(n.kind.into(), hm(&n.at)));
    }
    if let Some(m) = st.baby.mood {
        out.push(w.invoke_mood(m.into()));
    }
    out
}

impl DiaryScreen {
    fn refresh(&self, ctx: &Rc<Ctx>) {
        let Some(ui) = ctx.ui() else { return };
        if ctx.staff.borrow().is_none() {
            return;
        }
        let d = ui.global::<DiaryAdapter>();
        let calendar = ctx.calendar();
        let today = calendar.today(ctx.now());
        let mut kids = ctx.read("children", ctx.store.children());
        kids.retain(|c| view::expected_today(c, today));
        kids.sort_by(|a, b| a.first_name.cmp(&b.first_name));
        let st = self.state.borrow();
        let roster: Vec<PickChild> = kids
            .iter()
            .map(|c| PickChild {
                id: s(c.id.to_string()),
                name: s(c.first_name.clone()),
                selected: st.children.contains(&c.id),
                baby: view::age_months(c.birth_date, today) < 18,
            })
            .collect();
        let any_baby = roster.iter().any(|r| r.selected && r.baby);
        d.set_any_baby_selected(any_baby);
        d.set_roster(model(roster));
        // today's photos (thumbnails kept on the device)
        let photos: Vec<PickPhoto> = ctx
            .read("recent_items", ctx.store.recent_items(100))
            .into_iter()
            .filter(|i| i.kind == ItemKind::Photo && calendar.is_on(i.created_at, today))
            .filter_map(|i| {
                let bytes = ctx.store.thumbnail(&i.id).ok().flatten()?;
                let rgb = image::load_from_memory(&bytes).ok()?.to_rgb8();
                let buf = slint::SharedPixelBuffer::<slint::Rgb8Pixel>::clone_from_slice(
                    rgb.as_raw(),
                    rgb.width(),
                    rgb.height(),
                );
                Some(PickPhoto {
                    id: s(i.id.to_string()),
                    thumb: slint::Image::from_rgb8(buf),
                    selected: st.photos.iter().any(|p| p.0 == i.id),
                })
            })
            .collect();
        d.set_photos(model(photos));
        d.set_quick_summary(model(quick_summary(&ui.global::<Words>(), &st)));
        let name_of = |id: &ChildId| {
            kids.iter()
                .find(|c| c.id == *id)
                .map(|c| c.first_name.clone())
                .unwrap_or_default()
        };
        let mut lines: Vec<(chrono::DateTime<chrono::Utc>, DiaryLine)> = ctx
            .read("parent_diary", ctx.store.parent_diary())
            .into_iter()
            .map(|p| {
                (
                    p.written_at,
                    DiaryLine {
                        who: s(p.parent_name),
                        children: s(name_of(&p.child_id)),
                        time: super::hhmm(&calendar, &p.written_at),
                        text: s(p.text),
                        from_parent: true,
                    },
                )
            })
            .collect();
        for item in ctx.read("recent_items", ctx.store.recent_items(100)) {
            if item.kind != ItemKind::Diary {
                continue;
            }
            // the text is sealed on the card: readable only in the run that saved it
            if let Ok(Some(PushItem::Diary(dd))) = ctx.store.readable(&item.id) {
                let names: Vec<String> = dd.children.iter().map(name_of).collect();
                lines.push((
                    item.created_at,
                    DiaryLine {
                        who: s(""),
                        children: s(super::join_names(&ui, &names)),
                        time: super::hhmm(&calendar, &item.created_at),
                        text: s(dd.text),
                        from_parent: false,
                    },
                ));
            }
        }
        lines.sort_by_key(|l| std::cmp::Reverse(l.0));
        d.set_entries(model(lines.into_iter().map(|(_, l)| l).collect()));
    }

    fn save(&self, ctx: &Rc<Ctx>) {
        let Some(ui) = ctx.ui() else { return };
        let d = ui.global::<DiaryAdapter>();
        let text = d.get_text().to_string();
        let (children, photos, baby) = {
            let st = self.state.borrow();
            let b = &st.baby;
            let baby = (!b.feedings.is_empty()
                || !b.sleeps.is_empty()
                || !b.nappies.is_empty()
                || b.mood.is_some())
            .then(|| b.clone());
            (st.children.clone(), st.photos.clone(), baby)
        };
        if children.is_empty() {
            d.set_error_message(ui.global::<Words>().invoke_choose_child_first());
            return;
        }
        if text.trim().is_empty() && baby.is_none() && photos.is_empty() {
            d.set_error_message(ui.global::<Words>().invoke_write_first());
            return;
        }
        let result = ctx.store.save_diary(
            kring_sync::NewDiary {
                children,
                text,
                photos,
                baby,
                staff: ctx.staff_id(),
            },
            ctx.now(),
        );
        match result {
            Ok(_) => {
                *self.state.borrow_mut() = DiaryState::default();
                d.set_text("".into());
                d.set_error_message("".into());
                d.set_saved_message(ui.global::<Words>().invoke_saved());
                ctx.saved();
                self.refresh(ctx);
            }
            Err(e) => d.set_error_message(s(e.to_string())),
        }
    }
}
