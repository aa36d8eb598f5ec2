//! The kiosk's screens driven through Slint's testing backend, found by their
//! accessible labels, with a real device store underneath (no network).

use crate::common::{self, Fixture, fixture as build_fixture, fixture_in};

use i_slint_backend_testing::{ElementHandle, mock_elapsed_time};
use kring::{
    AdminAdapter, AppAdapter, AppWindow, AudienceKind, DiaryAdapter, LockAdapter, LockStage,
    MessagesAdapter, Page, PhotoAdapter, SyncAdapter, TodayAdapter, WriterAdapter,
};
use kring_protocol::*;
use kring_sync::store::ItemKind;
use kring_sync::{Clock, Store};
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

/// After the PIN of someone not checked in on the group: go on to Vandaag
/// without checking in.
fn past_presence(ui: &AppWindow) {
    // (a store that cannot be read unlocks straight to Vandaag)
    if ui.global::<LockAdapter>().get_stage() == LockStage::Presence {
        click(ui, "Naar Vandaag");
    }
}

fn unlock(f: &Fixture) {
    click(&f.ui, "Ontgrendelen");
    click(&f.ui, "Fatima");
    enter_pin(&f.ui, "1234");
    past_presence(&f.ui);
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
    assert_eq!(lock.get_stage(), LockStage::Pin);
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
    past_presence(&f.ui);
    assert_eq!(app.get_page(), Page::Today);
    assert_eq!(app.get_staff_name(), "Fatima");
    assert!(f.ui.global::<TodayAdapter>().get_children().row_count() >= 4);
}

/// Fills every screen with child data: a child's details, a tagged photo, a
/// diary entry being written, an open thread with a draft, the writing sheet.
fn fill_every_screen(f: &Fixture) {
    let app = f.ui.global::<AppAdapter>();
    let today = f.ui.global::<TodayAdapter>();
    today.invoke_open_child(f.sem.to_string().into());
    assert!(today.get_detail_open());
    assert_eq!(today.get_detail_messages().row_count(), 1);
    app.invoke_navigate(Page::Photo);
    let p = f.ui.global::<PhotoAdapter>();
    p.invoke_shutter();
    p.invoke_toggle_tag(f.sem.to_string().into());
    assert_eq!(p.get_visible_names(), "Sem");
    app.invoke_navigate(Page::Diary);
    let d = f.ui.global::<DiaryAdapter>();
    d.invoke_toggle_child(f.noor.to_string().into());
    d.invoke_add_bottle(120);
    d.set_text("Noor heeft goed gegeten".into());
    assert!(d.get_roster().iter().any(|c| c.selected));
    assert_eq!(d.get_quick_summary().row_count(), 1);
    app.invoke_navigate(Page::Messages);
    let m = f.ui.global::<MessagesAdapter>();
    m.invoke_open_thread(f.sem.to_string().into());
    m.set_draft("Sem is moe".into());
    assert_eq!(m.get_messages().row_count(), 1);
    let w = f.ui.global::<WriterAdapter>();
    w.set_target("message".into());
    w.set_text("Sem is moe".into());
    w.set_open(true);
}

/// After locking, no screen shows or keeps any child's data.
fn assert_no_child_data(f: &Fixture) {
    let today = f.ui.global::<TodayAdapter>();
    assert_eq!(today.get_children().row_count(), 0);
    assert!(!today.get_detail_open());
    assert_eq!(today.get_detail().name, "");
    assert_eq!(today.get_detail_notes(), "");
    assert_eq!(today.get_detail_diary().row_count(), 0);
    assert_eq!(today.get_detail_messages().row_count(), 0);
    let p = f.ui.global::<PhotoAdapter>();
    assert!(!p.get_captured());
    assert_eq!(p.get_chips().row_count(), 0);
    assert_eq!(p.get_visible_names(), "");
    assert_eq!(p.get_hidden().row_count(), 0);
    assert_eq!(p.get_still().size().width, 0);
    let d = f.ui.global::<DiaryAdapter>();
    assert_eq!(d.get_roster().row_count(), 0);
    assert_eq!(d.get_photos().row_count(), 0);
    assert_eq!(d.get_entries().row_count(), 0);
    assert_eq!(d.get_quick_summary().row_count(), 0);
    assert_eq!(d.get_text(), "");
    let m = f.ui.global::<MessagesAdapter>();
    assert_eq!(m.get_threads().row_count(), 0);
    assert_eq!(m.get_messages().row_count(), 0);
    assert_eq!(m.get_open_id(), "");
    assert_eq!(m.get_open_title(), "");
    assert_eq!(m.get_draft(), "");
    let w = f.ui.global::<WriterAdapter>();
    assert!(!w.get_open());
    assert_eq!(w.get_text(), "");
    let l = f.ui.global::<LockAdapter>();
    assert_eq!(l.get_chosen_name(), "");
    assert_eq!(l.get_staff().row_count(), 0);
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

#[test]
fn idle_locks_again_and_leaves_no_child_in_the_window() {
    let f = fixture();
    unlock(&f);
    assert!(exists(&f.ui, "Sem Test"), "the child list shows Sem");
    fill_every_screen(&f);
    for _ in 0..60 {
        mock_elapsed_time(Duration::from_secs(1));
    }
    assert_eq!(
        f.ui.global::<AppAdapter>().get_page(),
        Page::Messages,
        "not yet after one minute"
    );
    for _ in 0..61 {
        mock_elapsed_time(Duration::from_secs(1));
    }
    assert_eq!(f.ui.global::<AppAdapter>().get_page(), Page::Locked);
    assert_no_child_data(&f);
}

#[test]
fn a_screen_forgets_its_child_data_on_lock_not_only_its_window() {
    let f = fixture();
    unlock(&f);
    fill_every_screen(&f);
    f.ui.global::<AppAdapter>().invoke_lock();
    assert_no_child_data(&f);
    let waiting = f.store.counts().unwrap().0;
    // the next one to unlock finds every screen empty
    unlock(&f);
    let app = f.ui.global::<AppAdapter>();
    app.invoke_navigate(Page::Photo);
    let p = f.ui.global::<PhotoAdapter>();
    assert!(!p.get_captured());
    p.invoke_save();
    assert_eq!(
        f.store.counts().unwrap().0,
        waiting,
        "the photo taken before the lock is gone"
    );
    app.invoke_navigate(Page::Diary);
    let d = f.ui.global::<DiaryAdapter>();
    assert!(d.get_roster().row_count() >= 4);
    assert!(!d.get_roster().iter().any(|c| c.selected));
    assert_eq!(d.get_quick_summary().row_count(), 0);
    app.invoke_navigate(Page::Messages);
    let m = f.ui.global::<MessagesAdapter>();
    assert!(m.get_threads().row_count() >= 2);
    assert_eq!(m.get_open_id(), "");
    assert_eq!(m.get_messages().row_count(), 0);
}

#[test]
fn every_page_has_one_screen() {
    let f = fixture();
    for page in [
        Page::Locked,
        Page::Today,
        Page::Photo,
        Page::Diary,
        Page::Messages,
        Page::Sync,
        Page::Admin,
        Page::Enroll,
    ] {
        let showing = f
            .ctx
            .screens()
            .iter()
            .filter(|s| s.pages().contains(&page))
            .count();
        assert_eq!(showing, 1, "{page:?}");
    }
}

fn photo_items(store: &Store) -> Vec<PhotoItem> {
    store
        .pending()
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == ItemKind::Photo)
        .filter_map(|r| match store.readable(&r.id).unwrap() {
            Some(PushItem::Photo(p)) => Some(p),
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
    assert_eq!(p.get_audience_kind(), AudienceKind::StaffOnly);
    // Sem (group consent) alone: his parents see it
    click(&f.ui, "Sem");
    assert_eq!(p.get_audience_kind(), AudienceKind::TaggedParents);
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
        .filter_map(|r| match f.store.readable(&r.id).unwrap() {
            Some(PushItem::Diary(d)) => Some(d),
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
        .filter_map(|r| match f.store.readable(&r.id).unwrap() {
            Some(PushItem::ReadReceipt(r)) => Some(r),
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
        .filter_map(|r| match f.store.readable(&r.id).unwrap() {
            Some(PushItem::Message(m)) => Some(m),
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
    past_presence(&f.ui);
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

/// Issue 11: with the server stopped the status bar froze (22:26 at 22:28,
/// "23 nog niet verstuurd" with 40 waiting). The clock ticks on its own, and
/// the count follows every save, even when an older engine status arrives
/// after them.
#[test]
fn the_status_bar_keeps_time_and_count_while_offline() {
    let f = fixture();
    let app = f.ui.global::<AppAdapter>();
    unlock(&f);
    // the fixture's group is in Europe/Amsterdam
    let shown = |t: chrono::DateTime<chrono::Utc>| Calendar::default().hhmm(t);
    assert_eq!(app.get_clock_text(), shown(f.clock.now()));
    for _ in 0..3 {
        f.clock.advance(chrono::Duration::minutes(1));
        mock_elapsed_time(Duration::from_secs(1));
        assert_eq!(app.get_clock_text(), shown(f.clock.now()));
    }
    // what the engine last said, before anything was saved (offline)
    let old = kring_sync::SyncStatus {
        online: false,
        ..Default::default()
    };
    let waiting = || f.store.counts().unwrap().0 as i32;
    // a read receipt (opening a thread) and photos, each counted at once
    f.ui.global::<AppAdapter>().invoke_navigate(Page::Messages);
    click(&f.ui, "Sem Test");
    assert_eq!(waiting(), 1);
    assert_eq!(app.get_waiting_count(), 1, "the read receipt is counted");
    f.ui.global::<AppAdapter>().invoke_navigate(Page::Photo);
    let p = f.ui.global::<PhotoAdapter>();
    for n in 2..=4 {
        p.invoke_shutter();
        p.invoke_save();
        assert_eq!(waiting(), n);
        assert_eq!(app.get_waiting_count(), n);
    }
    // the old status arrives late: the count stays what the store says
    kring::controllers::sync::apply_status(&f.ui, &old);
    assert_eq!(app.get_waiting_count(), waiting());
    assert!(!app.get_online());
    f.ctx.navigate(Page::Sync);
    let rows = f.ui.global::<SyncAdapter>().get_items();
    assert_eq!(rows.row_count(), 4);
    assert_eq!(app.get_waiting_count(), 4);
}

/// "Today" is the day where the group is (its organisation's time zone), not
/// the day in UTC or in the device's own zone: at 00:30 in Amsterdam, UTC
/// still says yesterday; at 23:30 it is still today.
#[test]
fn today_is_the_day_at_the_location() {
    let f = fixture();
    let app = f.ui.global::<AppAdapter>();
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    // Thursday 15 January 2026, 00:30 in Amsterdam (23:30 UTC on the 14th)
    f.clock.set(at("2026-01-14T23:30:00Z"));
    assert_eq!(f.ctx.today().to_string(), "2026-01-15");
    mock_elapsed_time(Duration::from_secs(1));
    assert_eq!(app.get_clock_text(), "00:30");
    unlock(&f);
    assert_eq!(
        f.ui.global::<TodayAdapter>().get_date_text(),
        "15-01-2026",
        "Vandaag shows the day in Amsterdam"
    );
    // 23:30 in summer (21:30 UTC) is still that day, not the next
    f.clock.set(at("2026-07-14T21:30:00Z"));
    assert_eq!(f.ctx.today().to_string(), "2026-07-14");
    mock_elapsed_time(Duration::from_secs(1));
    assert_eq!(app.get_clock_text(), "23:30");
}

/// A store read that fails is logged and said on the screen, in both
/// languages, instead of an empty Vandaag.
#[test]
fn a_store_that_cannot_be_read_says_so() {
    i_slint_backend_testing::init_no_event_loop();
    let dir = tempfile::tempdir().unwrap();
    let group = {
        let (store, _) = Store::open(dir.path()).unwrap();
        let group = common::seed(&store);
        store.checkpoint().unwrap();
        group
    };
    // A child's stored data no longer reads (the same length: the database
    // file itself stays sound).
    let db = dir.path().join(kring_sync::store::DB_FILE);
    let mut bytes = std::fs::read(&db).unwrap();
    let key = b"\"first_name\"";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("a child in the database file");
    bytes[at..at + key.len()].copy_from_slice(b"\"FIRST_NAME\"");
    std::fs::write(&db, bytes).unwrap();
    let (store, _) = Store::open(dir.path()).unwrap();
    assert!(store.children().is_err(), "the children no longer read");
    let f = common::kiosk(dir, store, group);
    let app = f.ui.global::<AppAdapter>();
    assert!(!app.get_read_failed());
    unlock(&f);
    assert!(app.get_read_failed(), "Vandaag says it could not read");
    assert!(exists(
        &f.ui,
        "De gegevens van dit scherm konden niet worden gelezen. Probeer het opnieuw; lukt het niet, start het scherm dan opnieuw op."
    ));
    f.ui.global::<AdminAdapter>()
        .invoke_set_language("en".into());
    f.ctx.navigate(Page::Today);
    assert!(exists(
        &f.ui,
        "The data for this screen could not be read. Try again; if that does not help, restart the screen."
    ));
    // a page that reads nothing broken says nothing
    f.ctx.navigate(Page::Sync);
    assert!(!app.get_read_failed());
}

/// Why an item needs attention is data from the sync side; the words are
/// the UI's, in its language.
#[test]
fn why_an_item_needs_attention_is_said_in_the_screens_language() {
    let f = fixture();
    unlock(&f);
    let id = f
        .store
        .save_message(MessageThread::Group, "Tot morgen", None, chrono::Utc::now())
        .unwrap();
    f.store
        .mark_wedged(
            &id.0,
            &kring_sync::decide::Reason::Refused {
                status: 422,
                message: Some("not placed".into()),
            },
        )
        .unwrap();
    f.store
        .mark_wedged(
            &f.store
                .save_message(MessageThread::Group, "Nog een", None, chrono::Utc::now())
                .unwrap()
                .0,
            &kring_sync::decide::Reason::PhotoGone,
        )
        .unwrap();
    let reasons = |f: &Fixture| -> Vec<String> {
        f.ctx.navigate(Page::Sync);
        f.ui.global::<SyncAdapter>()
            .get_items()
            .iter()
            .map(|r| r.reason.to_string())
            .collect()
    };
    assert_eq!(
        reasons(&f),
        [
            "De foto staat niet meer (heel) op dit scherm",
            "De server weigerde dit (422): not placed"
        ]
    );
    assert_eq!(f.ui.global::<AppAdapter>().get_attention_count(), 2);
    f.ui.global::<AdminAdapter>()
        .invoke_set_language("en".into());
    assert_eq!(
        reasons(&f),
        [
            "The photo is no longer (completely) on this screen",
            "The server refused this (422): not placed"
        ]
    );
}

/// On 800×480 a card with three badges kept "N…" of Noor's name. Now the
/// first name is drawn whole at both sizes; on the small screen the messages
/// and notes badges shrink to their icon (a screen reader still reads their
/// words), the consent badge keeps its words.
#[test]
fn a_first_name_is_never_cut_by_badges() {
    i_slint_backend_testing::init_no_event_loop();
    let mut measured = Vec::new();
    for (w, h) in [(800u32, 480u32), (1280, 800)] {
        let f = common::busy_fixture();
        f.ui.window().set_size(slint::PhysicalSize::new(w, h));
        f.ui.show().unwrap();
        unlock(&f);
        let width = |label: &str| {
            ElementHandle::find_by_accessible_label(&f.ui, label)
                .next()
                .unwrap_or_else(|| panic!("no {label:?} at {w}x{h}"))
                .size()
                .width
        };
        measured.push((width("Noor"), width("Let op"), width("Alleen eigen ouders")));
        f.ui.hide().unwrap();
    }
    let [
        (small_name, small_notes, small_consent),
        (large_name, large_notes, large_consent),
    ] = measured[..]
    else {
        panic!("two sizes")
    };
    assert!(small_name > 20.0, "{small_name}");
    assert_eq!(
        small_name, large_name,
        "the first name is drawn whole on both"
    );
    assert!(small_notes < 40.0, "compact notes badge: {small_notes}");
    assert!(
        large_notes > small_notes + 20.0,
        "words at 1280: {large_notes}"
    );
    assert_eq!(small_consent, large_consent, "the consent keeps its words");
}

/// Vandaag says how many beroepskrachten the children expected today need
/// (kring-bkr): three babies and a two-year-old need two (the table's 0 tot 3
/// row allows 5 with one, but Z = 3/3 + (1/6)/1.2 = 1.14 rounds up to 2).
#[test]
fn vandaag_shows_the_ratio_for_the_children_expected() {
    let f = fixture();
    unlock(&f);
    let t = f.ui.global::<TodayAdapter>();
    assert_eq!(
        t.get_ratio_text(),
        "4 kinderen verwacht · 2 beroepskrachten nodig"
    );
    assert!(!t.get_ratio_alert());
    f.ui.global::<AdminAdapter>()
        .invoke_set_language("en".into());
    f.ctx.refresh(Page::Today);
    assert_eq!(
        f.ui.global::<TodayAdapter>().get_ratio_text(),
        "4 children expected · 2 staff needed"
    );
}

/// The attendance items waiting in the outbox, in the order saved.
fn attendance_items(store: &Store) -> Vec<AttendanceItem> {
    store
        .pending()
        .unwrap()
        .iter()
        .filter(|r| r.kind == ItemKind::Attendance)
        .filter_map(|r| match store.readable(&r.id) {
            Ok(Some(PushItem::Attendance(a))) => Some(a),
            _ => None,
        })
        .collect()
}

fn row(f: &Fixture, id: ChildId) -> kring::ChildRow {
    f.ui.global::<TodayAdapter>()
        .get_children()
        .iter()
        .find(|r| r.id == id.to_string().as_str())
        .unwrap_or_else(|| panic!("no row for {id}"))
}

/// Puts the kiosk's clock at 10:00 today at the location, so that a test
/// that moves time stays on one day whenever it runs.
fn mid_morning(f: &Fixture) {
    let cal = f.ctx.calendar();
    let start = cal.start_of(f.ctx.today());
    f.clock.set(start + chrono::Duration::hours(10));
}

/// One tap checks a child in, "Aanpassen" sets the real time and who brought
/// it (a correction, the tap stays in the log), "Ongedaan maken" undoes a
/// tap; a check-in that takes the group below the ratio asks first; the
/// ratio and the day's budget follow who is here.
#[test]
fn children_in_and_out_with_one_tap_adjust_undo_and_the_live_ratio() {
    let f = fixture();
    f.ui.window().set_size(slint::PhysicalSize::new(1280, 800));
    mid_morning(&f);
    let t = f.ui.global::<TodayAdapter>();
    click(&f.ui, "Ontgrendelen");
    click(&f.ui, "Fatima");
    enter_pin(&f.ui, "1234");
    assert!(
        exists(&f.ui, "Je bent niet ingecheckt op deze groep."),
        "after the PIN: not on the group yet"
    );
    click(&f.ui, "Inchecken op de groep");
    assert_eq!(f.ui.global::<AppAdapter>().get_page(), Page::Today);
    let cal = f.ctx.calendar();
    f.clock.advance(chrono::Duration::minutes(20));
    let at_tap = f.ctx.now();

    // Sem (10 months) in with one tap: one baby, one leidster
    click(&f.ui, "Sem Test binnen");
    assert_eq!(row(&f, f.sem).presence, kring::ChildPresence::Here);
    assert_eq!(
        row(&f, f.sem).status_text,
        format!("Binnen sinds {}", cal.hhmm(at_tap))
    );
    assert_eq!(
        t.get_toast_text(),
        format!("Sem is binnen ({})", cal.hhmm(at_tap))
    );
    assert_eq!(
        t.get_ratio_text(),
        "1 kind aanwezig · 1 beroepskracht nodig · 1 ingecheckt"
    );
    assert!(!t.get_ratio_alert());
    assert!(t.get_four_eyes(), "one adult alone with a child");

    // she came a quarter of an hour earlier, brought by her grandmother
    click(&f.ui, "Aanpassen");
    assert!(t.get_adjust_open());
    assert!(exists(&f.ui, "Mama van Sem"), "the people the server knows");
    click(&f.ui, "15 minuten eerder");
    f.ui.global::<WriterAdapter>()
        .invoke_done("pickup".into(), "  Oma ".into());
    assert_eq!(t.get_adjust_typed(), "Oma");
    click(&f.ui, "Opslaan");
    assert!(!t.get_adjust_open());
    let earlier = at_tap - chrono::Duration::minutes(15);
    assert_eq!(
        row(&f, f.sem).status_text,
        format!("Binnen sinds {} · gebracht door Oma", cal.hhmm(earlier))
    );
    let items = attendance_items(&f.store);
    assert_eq!(items.len(), 3, "staff in, the tap, its correction");
    assert_eq!(items[2].replaces, Some(items[1].id), "a new item, no edit");
    assert_eq!(items[2].at, earlier);
    assert!(items.iter().all(|i| i.recorded_by.is_some()));

    // Noor and Daan: three babies with one leidster is still fine
    click(&f.ui, "Noor Test binnen");
    click(&f.ui, "Daan Test binnen");
    assert!(!t.get_confirm_open());
    // Emma (2) would need a second beroepskracht: the screen says so first
    click(&f.ui, "Emma Test binnen");
    assert!(t.get_confirm_open());
    assert!(
        t.get_confirm_text().contains("2 beroepskrachten nodig")
            && t.get_confirm_text().contains("3 u"),
        "{}",
        t.get_confirm_text()
    );
    assert_eq!(row(&f, f.emma).presence, kring::ChildPresence::Expected);
    click(&f.ui, "Toch binnen melden");
    assert_eq!(row(&f, f.emma).presence, kring::ChildPresence::Here);
    assert!(t.get_ratio_alert(), "short of staff");
    assert_eq!(
        t.get_ratio_text(),
        "4 kinderen aanwezig · 2 beroepskrachten nodig · 1 ingecheckt"
    );
    // half an hour later: the day's allowance is running
    f.clock.advance(chrono::Duration::minutes(30));
    f.ctx.refresh(Page::Today);
    assert_eq!(
        t.get_budget_text(),
        "Onder de ratio: vandaag mag dat nog 2 u 30 min"
    );
    assert!(!t.get_budget_alert());

    // Sem goes home by mistake: undone
    click(&f.ui, "Sem Test naar huis");
    assert_eq!(row(&f, f.sem).presence, kring::ChildPresence::Gone);
    click(&f.ui, "Ongedaan maken");
    assert_eq!(row(&f, f.sem).presence, kring::ChildPresence::Here);
    assert_eq!(t.get_toast_text(), "Ongedaan gemaakt");
    // the card keeps the whole story
    t.invoke_open_child(f.sem.to_string().into());
    let lines: Vec<String> = t
        .get_detail_attendance()
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].ends_with("(aangepast)"), "{lines:?}");
    assert!(lines[1].contains("gebracht door Oma"), "{lines:?}");
    assert!(lines[2].ends_with("(ongedaan gemaakt)"), "{lines:?}");
    // after a while undo is gone with the message
    mock_elapsed_time(kring::controllers::today::UNDO_FOR + Duration::from_secs(1));
    assert_eq!(t.get_toast_text(), "");
    // a later correction, from the card: Sem's check-in, another minute earlier
    t.invoke_open_child(f.sem.to_string().into());
    click(&f.ui, "Tijd of naam aanpassen");
    assert!(t.get_adjust_open());
    assert_eq!(t.get_adjust_time(), cal.hhmm(earlier));
    assert_eq!(t.get_adjust_typed(), "Oma", "who brought her is kept");
    click(&f.ui, "1 minuut eerder");
    click(&f.ui, "Opslaan");
    let last = attendance_items(&f.store).pop().unwrap();
    assert_eq!(
        last.replaces,
        Some(items[2].id),
        "it replaces the correction"
    );
    assert_eq!(last.at, earlier - chrono::Duration::minutes(1));
    assert_eq!(
        row(&f, f.sem).status_text,
        format!(
            "Binnen sinds {} · gebracht door Oma",
            cal.hhmm(earlier - chrono::Duration::minutes(1))
        )
    );
}

/// A planned child who does not come is marked absent with a reason.
#[test]
fn a_child_who_does_not_come_is_marked_absent() {
    let f = fixture();
    unlock(&f);
    let t = f.ui.global::<TodayAdapter>();
    t.invoke_open_child(f.daan.to_string().into());
    click(&f.ui, "Afwezig: ziek");
    assert!(!t.get_detail_open());
    let r = row(&f, f.daan);
    assert_eq!(r.presence, kring::ChildPresence::Absent);
    assert!(r.absent);
    assert_eq!(r.status_text, "Afgemeld door de groep: ziek");
    let items = attendance_items(&f.store);
    assert!(matches!(
        items[0].event,
        AttendanceEvent::ChildAbsent { child_id, reason: AbsenceReason::Ziek, .. } if child_id == f.daan
    ));
}

/// Staff check in, take a break and check out from the lock screen after
/// their PIN; going away below the ratio is announced before the tap.
#[test]
fn staff_check_in_break_and_out_from_the_lock_screen() {
    let f = fixture();
    mid_morning(&f);
    let lock = f.ui.global::<LockAdapter>();
    let app = f.ui.global::<AppAdapter>();
    click(&f.ui, "Ontgrendelen");
    click(&f.ui, "Fatima");
    enter_pin(&f.ui, "1234");
    click(&f.ui, "Inchecken op de groep");
    click(&f.ui, "Sem Test binnen");
    app.invoke_lock();

    click(&f.ui, "Pauze of naar huis");
    click(&f.ui, "Fatima");
    enter_pin(&f.ui, "1234");
    assert_eq!(lock.get_stage(), LockStage::Presence);
    assert!(lock.get_presence_text().starts_with("Ingecheckt sinds"));
    assert!(
        lock.get_presence_warning()
            .contains("minder dan de helft van de 1 beroepskrachten"),
        "leaving the only leidster with a baby: {}",
        lock.get_presence_warning()
    );
    click(&f.ui, "Pauze");
    assert_eq!(lock.get_stage(), LockStage::Clock);
    assert_eq!(app.get_page(), Page::Locked);

    // back from the break: the stage comes by itself after the PIN
    f.clock.advance(chrono::Duration::minutes(30));
    click(&f.ui, "Ontgrendelen");
    click(&f.ui, "Fatima");
    enter_pin(&f.ui, "1234");
    assert_eq!(lock.get_stage(), LockStage::Presence);
    assert!(lock.get_presence_text().starts_with("Met pauze sinds"));
    click(&f.ui, "Pauze voorbij");
    assert_eq!(app.get_page(), Page::Today);
    // 30 minutes with a baby and no one on the floor
    assert!(
        f.ui.global::<TodayAdapter>()
            .get_budget_text()
            .contains("30 min met minder dan de helft"),
        "{}",
        f.ui.global::<TodayAdapter>().get_budget_text()
    );
    assert!(f.ui.global::<TodayAdapter>().get_budget_alert());
    app.invoke_lock();

    click(&f.ui, "Pauze of naar huis");
    click(&f.ui, "Fatima");
    enter_pin(&f.ui, "1234");
    click(&f.ui, "Uitchecken");
    assert_eq!(app.get_page(), Page::Locked);
    // the stage after a PIN, left alone, goes back to the clock: no one
    // else can go on as Fatima
    click(&f.ui, "Ontgrendelen");
    click(&f.ui, "Fatima");
    enter_pin(&f.ui, "1234");
    assert_eq!(lock.get_stage(), LockStage::Presence);
    mock_elapsed_time(kring::controllers::lock::PRESENCE_FOR + Duration::from_secs(1));
    assert_eq!(lock.get_stage(), LockStage::Clock);
    assert!(!exists(&f.ui, "Naar Vandaag"));
    let kinds: Vec<&'static str> = attendance_items(&f.store)
        .iter()
        .map(|i| match i.event {
            AttendanceEvent::StaffIn { .. } => "in",
            AttendanceEvent::BreakStart { .. } => "pauze",
            AttendanceEvent::BreakEnd { .. } => "pauze voorbij",
            AttendanceEvent::StaffOut { .. } => "uit",
            AttendanceEvent::ChildIn { .. } => "kind in",
            _ => "?",
        })
        .collect();
    assert_eq!(kinds, ["in", "kind in", "pauze", "pauze voorbij", "uit"]);
}

/// Another screen's check-out arrives through the feed; this screen's own
/// check-out of the same child, numbered later by the server, is kept and
/// shown as not counting.
#[test]
fn two_screens_checking_out_the_same_child_are_settled_and_shown() {
    let f = fixture();
    mid_morning(&f);
    unlock(&f);
    let now = f.ctx.now();
    let item = AttendanceItem::new;
    let page = |seq: i64, items: Vec<AttendanceItem>| FeedPage {
        changes: items
            .into_iter()
            .enumerate()
            .map(|(i, item)| Change {
                seq: seq + i as i64,
                kind: ChangeKind::Attendance(AttendanceRecord {
                    item,
                    received_at: now,
                }),
            })
            .collect(),
        cursor: Cursor(seq + 1),
        has_more: false,
        update: None,
        seal_to: None,
    };
    let came = item(
        now - chrono::Duration::hours(3),
        AttendanceEvent::ChildIn {
            child_id: f.noor,
            by: None,
        },
    );
    f.store.apply_feed_page(&page(20, vec![came]), now).unwrap();
    f.ctx.refresh(Page::Today);
    assert_eq!(row(&f, f.noor).presence, kring::ChildPresence::Here);
    click(&f.ui, "Noor Test naar huis");
    let mine = attendance_items(&f.store).pop().unwrap();
    let theirs = item(
        now - chrono::Duration::minutes(1),
        AttendanceEvent::ChildOut {
            child_id: f.noor,
            by: Some("Papa".into()),
        },
    );
    f.store
        .apply_feed_page(&page(30, vec![theirs, mine]), now)
        .unwrap();
    f.ctx.refresh(Page::Today);
    let t = f.ui.global::<TodayAdapter>();
    assert!(row(&f, f.noor).status_text.contains("opgehaald door Papa"));
    t.invoke_open_child(f.noor.to_string().into());
    let lines: Vec<String> = t
        .get_detail_attendance()
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[2].ends_with("(telt niet: een ander scherm was eerst)"),
        "{lines:?}"
    );
}
