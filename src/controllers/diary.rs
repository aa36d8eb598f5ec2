//! Dagboek: an entry for one child or several, today's photos, and quick
//! fields for babies (one tap each).

use super::{model, s};
use crate::Words;
use crate::app::Ctx;
use crate::view;
use crate::{AppWindow, DiaryAdapter, DiaryLine, PickChild, PickPhoto};
use chrono::{Local, NaiveTime, Timelike};
use kring_protocol::{
    BabyFields, ChildId, Feeding, FeedingKind, Mood, Nappy, NappyKind, PhotoId, PushItem, Sleep,
};
use kring_sync::store::ItemKind;
use slint::ComponentHandle;
use slint::SharedString;
use std::rc::Rc;

#[derive(Debug, Default)]
pub struct DiaryState {
    pub children: Vec<ChildId>,
    pub photos: Vec<PhotoId>,
    pub baby: BabyFields,
    pub sleeping_since: Option<NaiveTime>,
}

fn now_time() -> NaiveTime {
    let n = Local::now().time();
    NaiveTime::from_hms_opt(n.hour(), n.minute(), 0).unwrap_or(n)
}

pub fn setup(ui: &AppWindow, ctx: &Rc<Ctx>) {
    let d = ui.global::<DiaryAdapter>();
    let with = |f: fn(&Rc<Ctx>, &mut DiaryState)| {
        let ctx = ctx.clone();
        move || {
            ctx.touched();
            f(&ctx, &mut ctx.diary.borrow_mut());
            refresh(&ctx);
        }
    };
    d.on_toggle_child({
        let ctx = ctx.clone();
        move |id| {
            ctx.touched();
            if let Ok(id) = id.parse::<ChildId>() {
                let mut st = ctx.diary.borrow_mut();
                match st.children.iter().position(|c| *c == id) {
                    Some(i) => {
                        st.children.remove(i);
                    }
                    None => st.children.push(id),
                }
            }
            refresh(&ctx);
        }
    });
    d.on_toggle_photo({
        let ctx = ctx.clone();
        move |id| {
            ctx.touched();
            if let Ok(id) = id.parse::<PhotoId>() {
                let mut st = ctx.diary.borrow_mut();
                match st.photos.iter().position(|p| *p == id) {
                    Some(i) => {
                        st.photos.remove(i);
                    }
                    None => st.photos.push(id),
                }
            }
            refresh(&ctx);
        }
    });
    d.on_add_bottle({
        let ctx = ctx.clone();
        move |ml| {
            ctx.touched();
            ctx.diary.borrow_mut().baby.feedings.push(Feeding {
                kind: FeedingKind::Fles,
                amount_ml: Some(ml.max(0) as u32),
                what: None,
                at: now_time(),
            });
            refresh(&ctx);
        }
    });
    d.on_add_food(with(|_, st| {
        st.baby.feedings.push(Feeding {
            kind: FeedingKind::Eten,
            amount_ml: None,
            what: None,
            at: now_time(),
        })
    }));
    d.on_sleep_start(with(|_, st| st.sleeping_since = Some(now_time())));
    d.on_sleep_end(with(|_, st| {
        let from = st.sleeping_since.take().unwrap_or_else(now_time);
        st.baby.sleeps.push(Sleep {
            from,
            to: Some(now_time()),
        });
    }));
    d.on_nappy({
        let ctx = ctx.clone();
        move |k| {
            ctx.touched();
            let kind = match k {
                1 => NappyKind::Nat,
                2 => NappyKind::Poep,
                _ => NappyKind::Droog,
            };
            ctx.diary.borrow_mut().baby.nappies.push(Nappy {
                kind,
                at: now_time(),
            });
            refresh(&ctx);
        }
    });
    d.on_mood({
        let ctx = ctx.clone();
        move |m| {
            ctx.touched();
            ctx.diary.borrow_mut().baby.mood = Some(match m {
                1 => Mood::Rustig,
                2 => Mood::Moe,
                3 => Mood::Huilerig,
                _ => Mood::Blij,
            });
            refresh(&ctx);
        }
    });
    d.on_clear_quick(with(|_, st| {
        st.baby = BabyFields::default();
        st.sleeping_since = None;
    }));
    d.on_save({
        let ctx = ctx.clone();
        move || {
            ctx.touched();
            save(&ctx);
        }
    });
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
        let k = match n.kind {
            NappyKind::Droog => 0,
            NappyKind::Nat => 1,
            NappyKind::Poep => 2,
        };
        out.push(w.invoke_nappy(k, hm(&n.at)));
    }
    if let Some(m) = st.baby.mood {
        out.push(w.invoke_mood(match m {
            Mood::Blij => 0,
            Mood::Rustig => 1,
            Mood::Moe => 2,
            Mood::Huilerig => 3,
        }));
    }
    out
}

pub fn refresh(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    if ctx.staff.borrow().is_none() {
        return;
    }
    let d = ui.global::<DiaryAdapter>();
    let today = ctx.today();
    let mut kids = ctx.store.children().unwrap_or_default();
    kids.retain(|c| view::expected_today(c, today));
    kids.sort_by(|a, b| a.first_name.cmp(&b.first_name));
    let st = ctx.diary.borrow();
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
        .store
        .recent_items(100)
        .unwrap_or_default()
        .into_iter()
        .filter(|i| {
            i.kind == ItemKind::Photo && i.created_at.with_timezone(&Local).date_naive() == today
        })
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
        .store
        .parent_diary()
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            (
                p.written_at,
                DiaryLine {
                    who: s(p.parent_name),
                    children: s(name_of(&p.child_id)),
                    time: s(p
                        .written_at
                        .with_timezone(&Local)
                        .format("%H:%M")
                        .to_string()),
                    text: s(p.text),
                    from_parent: true,
                },
            )
        })
        .collect();
    for item in ctx.store.recent_items(100).unwrap_or_default() {
        if item.kind != ItemKind::Diary {
            continue;
        }
        if let Ok(PushItem::Diary(dd)) = ctx.store.item(&item.id) {
            let names: Vec<String> = dd.children.iter().map(name_of).collect();
            lines.push((
                item.created_at,
                DiaryLine {
                    who: s(""),
                    children: s(super::join_names(&ui, &names)),
                    time: s(item
                        .created_at
                        .with_timezone(&Local)
                        .format("%H:%M")
                        .to_string()),
                    text: s(dd.text),
                    from_parent: false,
                },
            ));
        }
    }
    lines.sort_by_key(|l| std::cmp::Reverse(l.0));
    d.set_entries(model(lines.into_iter().map(|(_, l)| l).collect()));
}

fn save(ctx: &Rc<Ctx>) {
    let Some(ui) = ctx.ui() else { return };
    let d = ui.global::<DiaryAdapter>();
    let text = d.get_text().to_string();
    let (children, photos, baby) = {
        let st = ctx.diary.borrow();
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
            *ctx.diary.borrow_mut() = DiaryState::default();
            d.set_text("".into());
            d.set_error_message("".into());
            d.set_saved_message(ui.global::<Words>().invoke_saved());
            ctx.wake_engine();
            refresh(ctx);
            super::sync::refresh(ctx);
        }
        Err(e) => d.set_error_message(s(e.to_string())),
    }
}
