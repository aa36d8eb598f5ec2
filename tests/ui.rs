//! The kiosk's screens driven through Slint's testing backend, found by their
//! accessible labels, with a real device store underneath (no network).
#![allow(clippy::unwrap_used)]

mod common;

use common::{Fixture, fixture as build_fixture, fixture_in};

use i_slint_backend_testing::{ElementHandle, mock_elapsed_time};
use kring::{
    AdminAdapter, AppAdapter, AppWindow, DiaryAdapter, LockAdapter, MessagesAdapter, Page,
    PhotoAdapter, SyncAdapter, TodayAdapter, WriterAdapter,
};
use kring_protocol::*;
use kring_sync::Store;
use kring_sync::store::ItemKind;
use slint::{ComponentHandle, Model};
use std::time::Duration;

fn fixture() -> Fixture {
    i_slint_backend_testing::init_no_event_loop();
    build_fixture()
}

fn click(ui: &AppWindow, label: &str) {
    let e = ElementHandle::find_by_accessible_label(ui, label)
        .next()
        .unwrap_or_else(|| panic!("no element labelled {label:?}"));
    e.invoke_accessible_default_action();
}

fn exists(ui: &AppWindow, label: &str) -> bool {
    ElementHandle::find_by_accessible_label(ui, label)
        .next()
        .is_some()
}

fn enter_pin(ui: &AppWindow, pin: &str) {
    for d in pin.chars() {
        click(ui, &format!("PIN {d}"));
    }
    click(ui, "OK");
}

fn unlock(f: &Fixture) {
    click(&f.ui, "Ontgrendelen");
    click(&f.ui, "Fatima");
    enter_pin(&f.ui, "1234");
    assert_eq!(f.ui.global::<AppAdapter>().get_page(), Page::Today);
}

#[test]
fn unlock_with_the_right_pin_and_back_off_after_wrong_ones() {
    let f = fixture();
    let app = f.ui.global::<AppAdapter>();
    let lock = f.ui.global::<LockAdapter>();
    assert_eq!(app.get_page(), Page::Locked);
    click(&f.ui, "Ontgrendelen");
    click(&f.ui, "Fatima");
    assert_eq!(lock.get_stage(), 2);
    for _ in 0..2 {
        enter_pin(&f.ui, "1235");
        assert_eq!(app.get_page(), Page::Locked);
        assert!(!lock.get_blocked());
    }
    enter_pin(&f.ui, "9999");
    assert!(lock.get_blocked(), "the third wrong PIN blocks the pad");
    assert!(lock.get_message().contains("30"), "{}", lock.get_message());
    // while blocked, even the right PIN does nothing
    enter_pin(&f.ui, "1234");
    assert_eq!(app.get_page(), Page::Locked);
    for _ in 0..31 {
        mock_elapsed_time(Duration::from_secs(1));
    }
    assert!(!lock.get_blocked());
    enter_pin(&f.ui, "1234");
    assert_eq!(app.get_page(), Page::Today);
    assert_eq!(app.get_staff_name(), "Fatima");
    assert!(f.ui.global::<TodayAdapter>().get_children().row_count() >= 4);
}

#[test]
fn idle_locks_again_and_leaves_no_child_in_the_window() {
    let f = fixture();
    unlock(&f);
    assert!(exists(&f.ui, "Sem Test"), "the child list shows Sem");
    for _ in 0..60 {
        mock_elapsed_time(Duration::from_secs(1));
    }
    assert_eq!(
        f.ui.global::<AppAdapter>().get_page(),
        Page::Today,
        "not yet after one minute"
    );
    for _ in 0..61 {
        mock_elapsed_time(Duration::from_secs(1));
    }
    assert_eq!(f.ui.global::<AppAdapter>().get_page(), Page::Locked);
    assert_eq!(f.ui.global::<TodayAdapter>().get_children().row_count(), 0);
    for name in [
        "Sem Test",
        "Noor Test",
        "Daan Test",
        "Emma Test",
        "Sem",
        "Noor",
    ] {
        assert!(!exists(&f.ui, name), "{name} is still in the window");
    }
}

fn photo_items(store: &Store) -> Vec<PhotoItem> {
    store
        .pending()
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == ItemKind::Photo)
        .filter_map(|r| match store.item(&r.id).unwrap() {
            PushItem::Photo(p) => Some(p),
            _ => None,
        })
        .collect()
}

#[test]
fn photo_capture_tag_audience_and_save() {
    let f = fixture();
    unlock(&f);
    f.ui.global::<AppAdapter>().invoke_navigate(Page::Photo);
    let p = f.ui.global::<PhotoAdapter>();
    p.invoke_shutter();
    assert!(p.get_captured());
    // nobody tagged: staff only
    assert_eq!(p.get_audience_kind(), 0);
    // Sem (group consent) alone: his parents see it
    click(&f.ui, "Sem");
    assert_eq!(p.get_audience_kind(), 2);
    assert_eq!(p.get_visible_names(), "Sem");
    assert_eq!(p.get_hidden().row_count(), 0);
    // with Noor (own parents only): only Noor's parents; not Sem's, because of Noor
    click(&f.ui, "Noor");
    assert_eq!(p.get_visible_names(), "Noor");
    let hidden = p.get_hidden().row_data(0).unwrap();
    assert_eq!(
        (hidden.name.as_str(), hidden.because.as_str()),
        ("Sem", "Noor")
    );
    // Daan has no consent: cannot be tagged, and the chip says why
    let daan = p.get_chips().iter().find(|c| c.name == "Daan").unwrap();
    assert!(daan.disabled);
    assert!(!daan.reason.is_empty());
    click(&f.ui, "Daan");
    assert!(
        !p.get_chips()
            .iter()
            .find(|c| c.name == "Daan")
            .unwrap()
            .selected
    );
    click(&f.ui, "Opslaan");
    let photos = photo_items(&f.store);
    assert_eq!(photos.len(), 1);
    let mut tags = photos[0].tags.clone();
    tags.sort();
    let mut want = vec![f.sem, f.noor];
    want.sort();
    assert_eq!(tags, want);
    assert!(!photos[0].tags.contains(&f.daan));
    assert!(!p.get_captured(), "back to the live preview");
}

#[test]
fn a_diary_entry_for_three_children_with_a_baby_field() {
    let f = fixture();
    // the wide layout shows the form and the text side by side (a scrolled-away
    // element counts as invisible for the testing backend)
    f.ui.window().set_size(slint::PhysicalSize::new(1280, 800));
    unlock(&f);
    f.ui.global::<AppAdapter>().invoke_navigate(Page::Diary);
    mock_elapsed_time(Duration::from_millis(20));
    for name in ["Sem", "Noor", "Emma"] {
        click(&f.ui, name);
    }
    click(&f.ui, "Fles 150 ml");
    let text = ElementHandle::find_by_accessible_label(&f.ui, "Tekst")
        .next()
        .or_else(|| ElementHandle::find_by_element_type_name(&f.ui, "TextEdit").next())
        .expect("text field");
    text.set_accessible_value("Lekker buiten gespeeld");
    click(&f.ui, "Opslaan");
    let diaries: Vec<StaffDiaryItem> = f
        .store
        .pending()
        .unwrap()
        .into_iter()
        .filter_map(|r| match f.store.item(&r.id).unwrap() {
            PushItem::Diary(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(diaries.len(), 1);
    let d = &diaries[0];
    assert_eq!(d.children.len(), 3);
    for c in [f.sem, f.noor, f.emma] {
        assert!(d.children.contains(&c));
    }
    assert_eq!(d.text, "Lekker buiten gespeeld");
    let baby = d.baby.as_ref().expect("baby fields");
    assert_eq!(baby.feedings[0].amount_ml, Some(150));
}

#[test]
fn reading_a_message_sends_a_read_receipt() {
    let f = fixture();
    unlock(&f);
    f.ui.global::<AppAdapter>().invoke_navigate(Page::Messages);
    click(&f.ui, "Sem Test");
    let receipts: Vec<ReadReceiptItem> = f
        .store
        .pending()
        .unwrap()
        .into_iter()
        .filter_map(|r| match f.store.item(&r.id).unwrap() {
            PushItem::ReadReceipt(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].message_id, f.message);
    // opening it again sends no second receipt
    f.ui.global::<MessagesAdapter>().invoke_close_thread();
    click(&f.ui, "Sem Test");
    assert_eq!(f.store.counts().unwrap().0, 1);
}

#[test]
fn a_message_to_all_parents_of_the_group() {
    let f = fixture();
    unlock(&f);
    f.ui.global::<AppAdapter>().invoke_navigate(Page::Messages);
    click(&f.ui, "Alle ouders van de groep");
    let draft = ElementHandle::find_by_accessible_label(&f.ui, "Bericht")
        .next()
        .expect("message field");
    draft.set_accessible_value("Neem morgen regenlaarzen mee!");
    click(&f.ui, "Versturen");
    let sent: Vec<StaffMessageItem> = f
        .store
        .pending()
        .unwrap()
        .into_iter()
        .filter_map(|r| match f.store.item(&r.id).unwrap() {
            PushItem::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].thread, MessageThread::Group);
    assert_eq!(sent[0].body, "Neem morgen regenlaarzen mee!");
    assert_eq!(f.ui.global::<MessagesAdapter>().get_draft(), "");
}

#[test]
fn beheer_opens_only_with_a_location_manager_pin() {
    let f = fixture();
    let app = f.ui.global::<AppAdapter>();
    let admin = f.ui.global::<AdminAdapter>();
    click(&f.ui, "Beheer");
    assert!(exists(&f.ui, "Petra"), "the location manager is listed");
    assert!(
        !exists(&f.ui, "Fatima"),
        "pedagogical staff cannot open Beheer"
    );
    click(&f.ui, "Petra");
    // a staff member's PIN does not open it
    enter_pin(&f.ui, "1234");
    assert_eq!(app.get_page(), Page::Locked);
    assert!(!admin.get_unlocked());
    enter_pin(&f.ui, "9876");
    assert_eq!(app.get_page(), Page::Admin);
    assert!(admin.get_unlocked());
    // Beheer does not count as a staff unlock: no name in the status bar
    assert_eq!(app.get_staff_name(), "");
}

#[test]
fn writing_with_the_on_screen_keyboard() {
    let f = fixture();
    f.ui.window().set_size(slint::PhysicalSize::new(1280, 800));
    unlock(&f);
    f.ui.global::<AppAdapter>().invoke_navigate(Page::Diary);
    mock_elapsed_time(Duration::from_millis(20));
    let writer = f.ui.global::<WriterAdapter>();
    assert!(!writer.get_open());
    click(&f.ui, "Tekst");
    assert!(
        writer.get_open(),
        "tapping the field opens the writing sheet"
    );
    assert!(exists(&f.ui, "Klaar"));
    // the first letter of a text is a capital without pressing shift
    for key in ["H", "o", "i", "Spatie", "Wissen", "Cijfers en tekens", "!"] {
        click(&f.ui, key);
    }
    assert_eq!(writer.get_text(), "Hoi!");
    click(&f.ui, "Letters");
    click(&f.ui, "Nieuwe regel");
    click(&f.ui, "Hoofdletter");
    click(&f.ui, "W");
    click(&f.ui, "e");
    assert_eq!(writer.get_text(), "Hoi!\nWe");
    click(&f.ui, "Klaar");
    assert!(!writer.get_open());
    assert_eq!(f.ui.global::<DiaryAdapter>().get_text(), "Hoi!\nWe");

    // a message draft
    f.ui.global::<AppAdapter>().invoke_navigate(Page::Messages);
    click(&f.ui, "Sem Test");
    click(&f.ui, "Bericht");
    assert!(writer.get_open());
    for key in ["O", "k"] {
        click(&f.ui, key);
    }
    // locking (idle) closes the sheet and forgets what was on it
    f.ui.global::<AppAdapter>().invoke_lock();
    assert!(!writer.get_open());
    assert_eq!(writer.get_text(), "");
    assert_eq!(f.ui.global::<AppAdapter>().get_page(), Page::Locked);
}

#[test]
fn the_locked_screen_dims_and_a_touch_brings_it_back() {
    let f = fixture();
    let sys = tempfile::tempdir().unwrap();
    std::fs::write(sys.path().join("max_brightness"), "255\n").unwrap();
    std::fs::write(sys.path().join("brightness"), "255\n").unwrap();
    let brightness = || {
        std::fs::read_to_string(sys.path().join("brightness"))
            .unwrap()
            .trim()
            .to_string()
    };
    *f.ctx.backlight.borrow_mut() =
        Box::new(kring_hardware::SysfsBacklight::open(sys.path()).unwrap());
    // locked and untouched for a minute: dimmed (0.15 of 255)
    mock_elapsed_time(Duration::from_secs(61));
    assert_eq!(brightness(), "38");
    // a tap: full brightness at once
    click(&f.ui, "Ontgrendelen");
    assert_eq!(brightness(), "255");
    // while someone works on the screen it never dims
    click(&f.ui, "Fatima");
    enter_pin(&f.ui, "1234");
    for _ in 0..3 {
        mock_elapsed_time(Duration::from_secs(30));
        click(&f.ui, "Vandaag");
    }
    assert_eq!(brightness(), "255");
    // idle: locked after 2 minutes, dimmed a minute later
    mock_elapsed_time(Duration::from_secs(121));
    assert_eq!(f.ui.global::<AppAdapter>().get_page(), Page::Locked);
    assert_eq!(brightness(), "255");
    mock_elapsed_time(Duration::from_secs(61));
    assert_eq!(brightness(), "38");
}

#[test]
fn a_damaged_store_is_explained_on_synchronisatie_until_seen() {
    i_slint_backend_testing::init_no_event_loop();
    let dir = tempfile::tempdir().unwrap();
    // what a card that lost power at the wrong moment might hold
    std::fs::write(
        dir.path().join(kring_sync::store::DB_FILE),
        vec![0x42; 8192],
    )
    .unwrap();
    let f = fixture_in(dir);
    unlock(&f);
    let sync = f.ui.global::<SyncAdapter>();
    assert!(!sync.get_repaired(), "shown on Synchronisatie");
    f.ctx.navigate(Page::Sync);
    assert!(sync.get_repaired());
    assert!(
        sync.get_maybe_more_lost(),
        "the old outbox could not be read"
    );
    assert!(sync.get_enroll_again(), "the credentials could not be read");
    assert_eq!(sync.get_restored(), 0);
    assert_eq!(f.store.incidents().unwrap().len(), 1);
    click(&f.ui, "Begrepen");
    assert!(!sync.get_repaired());
    assert!(f.store.incidents().unwrap().is_empty());
}
