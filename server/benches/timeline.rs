//! How long a parent's timeline page takes when the group is busy: 2,000
//! photos in the group over two months (a quarter of Sem alone, the rest of
//! other children, with a child whose parents keep photos to themselves, or
//! staff only), 120 diary entries about Sem with photos in some of them. The
//! page is decided in SQL (visible photos only, with a limit), so the cost
//! follows the page, not the group. Prints a table.
//!
//! `cargo bench -p kring-server --bench timeline` (SQLite in a temporary
//! directory); with `KRING_TEST_BACKEND=postgres` on a fresh PostgreSQL
//! database (the test cluster the integration tests start).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use chrono::{Duration, Utc};
use kring_protocol::{ChildId, GroupId};
use kring_server::db::time_str;
use kring_server::org::{self, ParentRole};
use kring_server::portal::web::TIMELINE_PAGE;
use kring_server::settings::Settings;
use kring_server::store::testing::TestSql;
use std::time::Instant;

const PHOTOS: usize = 2_000;
const DIARY: usize = 120;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    let engine = if kring_server::store::testing::postgres_requested() {
        let pg = kring_server::store::testing::TestPostgres::get().unwrap();
        settings.database.url = Some(pg.fresh_database().await.unwrap());
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let opened = kring_server::open_store(&settings).await.unwrap();
    let store = opened.store.clone();
    let sql = TestSql::new(opened.backend.clone());
    let today = Utc::now().date_naive();
    let s = org::sample(store.as_ref(), today - Duration::days(90))
        .await
        .unwrap();
    let parent = store
        .create_parent(
            s.org,
            "sem@example.nl".into(),
            "Ouder Sem".into(),
            "bench-123456".into(),
        )
        .await
        .unwrap();
    store
        .link_parent(s.kids[0], parent, ParentRole::First)
        .await
        .unwrap();
    let t = Instant::now();
    let visible = fill(&sql, s.group, &s.kids).await;
    let fill_time = t.elapsed();

    println!(
        "{engine}: {PHOTOS} photos in the group ({visible} visible to Sem's parent), {DIARY} diary entries; fill {fill_time:.1?}"
    );
    println!();
    println!("| page | runs | mean | p99 | items |");
    println!("|---|---|---|---|---|");
    let runs = 200;
    for (what, only, before) in [
        ("first page, all children", None, None),
        ("first page, Sem only", Some(s.kids[0]), None),
        (
            "a page 45 days back",
            None,
            Some(Utc::now() - Duration::days(45)),
        ),
    ] {
        let mut times = Vec::with_capacity(runs);
        let mut items = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let page = store
                .timeline(parent, only, today, TIMELINE_PAGE, before)
                .await
                .unwrap();
            times.push(t.elapsed());
            items = page.len();
        }
        times.sort();
        let mean = times.iter().sum::<std::time::Duration>() / runs as u32;
        let p99 = times[runs * 99 / 100 - 1];
        println!("| {what} | {runs} | {mean:.2?} | {p99:.2?} | {items} |");
    }
}

/// Fills the group; returns how many photos Sem's parent may see (those not
/// inside a diary entry count as timeline items of their own).
async fn fill(sql: &TestSql, group: GroupId, kids: &[ChildId]) -> usize {
    // kids: Sem (group), Noor (own parents only), Daan (none), Mila (group)
    let (sem, noor, mila) = (kids[0], kids[1], kids[3]);
    let now = Utc::now();
    let mut photos = Vec::new();
    let mut tags = Vec::new();
    let mut visible = 0;
    let mut ids = Vec::new();
    for i in 0..PHOTOS {
        let id = uuid::Uuid::now_v7();
        let at = time_str(now - Duration::minutes(i as i64 * 43));
        let (tagged, ncr): (Vec<ChildId>, bool) = match i % 8 {
            0 | 1 => (vec![sem], false),
            2 => (vec![sem, noor], false),
            3 | 4 => (vec![mila], false),
            5 => (vec![noor], false),
            6 => (Vec::new(), false),
            _ => (Vec::new(), i % 16 == 7),
        };
        if (tagged == [sem]) || (tagged.is_empty() && ncr) {
            visible += 1;
        }
        photos.push(format!(
            "('{id}', '{group}', '{}', '{}', 'photos/b/{id}.jpg', 'thumbs/b/{id}.jpg', 1600, 1200, {}, '{at}')",
            uuid::Uuid::now_v7(),
            "ab".repeat(32),
            i32::from(ncr)
        ));
        for k in tagged {
            tags.push(format!("('{id}', '{k}')"));
        }
        ids.push((id, at));
    }
    for chunk in photos.chunks(250) {
        sql.execute(
            &format!(
                "INSERT INTO photos (id, group_id, upload_id, sha256, blob_key, thumb_key, width, height,
                                     no_children_recognizable, received_at) VALUES {}",
                chunk.join(",")
            ),
            Vec::new(),
        )
        .await
        .unwrap();
    }
    for chunk in tags.chunks(500) {
        sql.execute(
            &format!(
                "INSERT INTO photo_tags (photo_id, child_id) VALUES {}",
                chunk.join(",")
            ),
            Vec::new(),
        )
        .await
        .unwrap();
    }
    // a diary entry about Sem every half day, with the photo of Sem taken just before
    let mut entries = Vec::new();
    let mut about = Vec::new();
    let mut with_photo = Vec::new();
    for d in 0..DIARY {
        let id = uuid::Uuid::now_v7();
        let at = time_str(now - Duration::hours(d as i64 * 12));
        entries.push(format!(
            "('{id}', '{group}', 'staff', 'Fatima', 'Sem heeft lekker gespeeld.', '{at}')"
        ));
        about.push(format!("('{id}', '{sem}')"));
        // every photo index ≡ 0 (mod 8) is Sem alone; attach one per entry
        if let Some((photo, _)) = ids.get(d * 8) {
            with_photo.push(format!("('{id}', '{photo}')"));
        }
    }
    for (table, cols, rows) in [
        (
            "diary_entries",
            "(id, group_id, author_kind, author_name, text, written_at)",
            &entries,
        ),
        ("diary_children", "(entry_id, child_id)", &about),
        ("diary_photos", "(entry_id, photo_id)", &with_photo),
    ] {
        sql.execute(
            &format!("INSERT INTO {table} {cols} VALUES {}", rows.join(",")),
            Vec::new(),
        )
        .await
        .unwrap();
    }
    visible - with_photo.len()
}
