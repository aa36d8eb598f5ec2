//! Renders every screen with Slint's software renderer to PNG, at 800x480 and
//! 1280x800, in Dutch and English. Normally into `target/screenshots/`; with
//! `KRING_UPDATE_SCREENSHOTS=1` into `docs/screenshots/` (committed):
//!
//! ```sh
//! KRING_UPDATE_SCREENSHOTS=1 cargo test -p kring --test kiosk screenshots::
//! ```

use crate::common;

use i_slint_backend_testing::{TestingBackend, TestingBackendOptions};
use kring::{
    AdminAdapter, AppAdapter, LockAdapter, MessagesAdapter, Page, PhotoAdapter, TodayAdapter,
    WriterAdapter,
};
use slint::{ComponentHandle, Model};
use std::path::PathBuf;

fn out_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("KRING_UPDATE_SCREENSHOTS").is_some() {
        root.join("docs").join("screenshots")
    } else {
        root.join("target").join("screenshots")
    }
}

#[test]
fn every_screen_in_both_sizes_and_languages() {
    slint::platform::set_platform(Box::new(TestingBackend::new(TestingBackendOptions {
        mock_time: true,
        threading: false,
        renderer_name: Some("software".into()),
    })))
    .unwrap();
    let dir = out_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut written = 0;
    for lang in ["nl", "en"] {
        for (w, h) in [(800u32, 480u32), (1280, 800)] {
            let f = common::busy_fixture();
            if lang == "en" {
                f.ui.global::<AdminAdapter>()
                    .invoke_set_language("en".into());
            }
            f.ui.window().set_size(slint::PhysicalSize::new(w, h));
            f.ui.show().unwrap();
            type Step<'a> = Box<dyn Fn() + 'a>;
            let shots: Vec<(&str, Step)> = vec![
                ("1-vergrendeld", Box::new(|| {})),
                (
                    "1b-pin",
                    Box::new(|| {
                        let l = f.ui.global::<LockAdapter>();
                        l.invoke_tapped();
                        let id = l
                            .get_staff()
                            .iter()
                            .next()
                            .map(|s| s.id.clone())
                            .unwrap_or_default();
                        l.invoke_choose(id);
                        l.invoke_digit(1);
                        l.invoke_digit(2);
                    }),
                ),
                (
                    "1c-inchecken",
                    Box::new(|| {
                        let l = f.ui.global::<LockAdapter>();
                        l.invoke_digit(3);
                        l.invoke_digit(4);
                        l.invoke_submit();
                    }),
                ),
                (
                    "2-vandaag",
                    Box::new(|| {
                        f.ui.global::<LockAdapter>().invoke_staff_in();
                        let t = f.ui.global::<TodayAdapter>();
                        // three babies and a two-year-old with one leidster:
                        // the heads-up, "toch", and 25 minutes below the ratio
                        t.invoke_toggle(f.sem.to_string().into());
                        t.invoke_toggle(f.daan.to_string().into());
                        t.invoke_toggle(f.noor.to_string().into());
                        t.invoke_toggle(f.emma.to_string().into());
                        assert!(t.get_confirm_open(), "Emma takes the group below the ratio");
                        t.invoke_confirm();
                        f.clock.advance(chrono::Duration::minutes(25));
                        // the status bar's clock ticks once a second
                        i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_secs(
                            1,
                        ));
                        f.ctx.refresh(Page::Today);
                        assert!(
                            t.get_budget_text().contains("35 min"),
                            "{}",
                            t.get_budget_text()
                        );
                    }),
                ),
                (
                    "2b-aanpassen",
                    Box::new(|| {
                        let t = f.ui.global::<TodayAdapter>();
                        t.invoke_adjust();
                        t.invoke_adjust_minutes(-1);
                        t.set_adjust_by("Papa van Emma".into());
                    }),
                ),
                (
                    "2c-kind",
                    Box::new(|| {
                        let t = f.ui.global::<TodayAdapter>();
                        t.invoke_adjust_save();
                        t.invoke_open_child(f.emma.to_string().into());
                    }),
                ),
                (
                    "3-foto-maken",
                    Box::new(|| {
                        f.ui.global::<TodayAdapter>().invoke_close_detail();
                        f.ui.global::<AppAdapter>().invoke_navigate(Page::Photo);
                        let p = f.ui.global::<PhotoAdapter>();
                        p.invoke_shutter();
                        p.invoke_toggle_tag(f.sem.to_string().into());
                        p.invoke_toggle_tag(f.noor.to_string().into());
                    }),
                ),
                (
                    "4-dagboek",
                    Box::new(|| {
                        f.ui.global::<AppAdapter>().invoke_navigate(Page::Diary);
                    }),
                ),
                (
                    "4b-schrijven",
                    Box::new(|| {
                        let label = if lang == "en" { "Text" } else { "Tekst" };
                        i_slint_backend_testing::ElementHandle::find_by_accessible_label(
                            &f.ui, label,
                        )
                        .next()
                        .expect("the diary text field")
                        .invoke_accessible_default_action();
                        f.ui.global::<WriterAdapter>().set_text(if lang == "en" {
                            "We played outside in the sand pit and".into()
                        } else {
                            "We hebben buiten in de zandbak gespeeld en".into()
                        });
                    }),
                ),
                (
                    "5-berichten",
                    Box::new(|| {
                        f.ui.global::<WriterAdapter>()
                            .invoke_done("diary".into(), f.ui.global::<WriterAdapter>().get_text());
                        f.ui.global::<AppAdapter>().invoke_navigate(Page::Messages);
                        f.ui.global::<MessagesAdapter>()
                            .invoke_open_thread(f.sem.to_string().into());
                    }),
                ),
                (
                    "6-synchronisatie",
                    Box::new(|| {
                        f.ui.global::<AppAdapter>().invoke_navigate(Page::Sync);
                    }),
                ),
                (
                    "7-beheer",
                    Box::new(|| {
                        f.ui.global::<AdminAdapter>().set_unlocked(true);
                        f.ui.global::<AppAdapter>().invoke_navigate(Page::Admin);
                    }),
                ),
            ];
            for (name, step) in shots {
                step();
                i_slint_backend_testing::mock_elapsed_time(std::time::Duration::from_millis(50));
                let buf = f.ui.window().take_snapshot().unwrap();
                assert_eq!((buf.width(), buf.height()), (w, h));
                let img =
                    image::RgbaImage::from_raw(buf.width(), buf.height(), buf.as_bytes().to_vec())
                        .unwrap();
                // a real screen, not an empty canvas: many different colours
                let colours: std::collections::HashSet<[u8; 4]> =
                    img.pixels().map(|p| p.0).collect();
                assert!(colours.len() > 20, "{name} {w}x{h} {lang} looks empty");
                img.save(dir.join(format!("{name}-{w}x{h}-{lang}.png")))
                    .unwrap();
                written += 1;
            }
            f.ui.hide().unwrap();
        }
    }
    assert_eq!(written, 48);
}
