//! A location manager's export of everything about one child or parent
//! (inzageverzoek: a ZIP with every row as JSON, and for a child its photo
//! originals and diary page; each export on the child's access log), and
//! erasure on request after a confirmation step (the retention run's own
//! deletion, recorded in `erasures` without the person's name). Only the
//! manager's own organisation: another's child or parent answers 404.

use super::admin::{Notice, layout};
use super::parent::CsrfForm;
use super::view::{AdminErasePage, AdminErasuresPage, ErasureLine};
use super::{ManagerUser, WebError, render};
use crate::AppState;
use crate::portal::i18n::tr;
use crate::store::{AccessEntry, Export};
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kring_protocol::{ChildId, ParentId};

/// How many erasures the list shows.
const ERASURES_SHOWN: u32 = 100;

fn parse<T: From<uuid::Uuid>>(id: &str) -> Result<T, WebError> {
    uuid::Uuid::parse_str(id.trim())
        .map(T::from)
        .map_err(|_| WebError::NotFound)
}

/// Which person an export or erasure is about.
#[derive(Debug, Clone, Copy)]
enum Who {
    Child(ChildId),
    Parent(ParentId),
}

async fn export(state: &AppState, u: &ManagerUser, who: Who) -> Result<Response, WebError> {
    let org = u.ctx.tenant.id;
    let found: Option<Export> = match who {
        Who::Child(c) => state.store.export_child(org, c).await?,
        Who::Parent(p) => state.store.export_parent(org, p).await?,
    };
    let e = found.ok_or(WebError::NotFound)?;
    // the export is on the access log of the child, or of each of the parent's children
    let (children, what) = match who {
        Who::Child(c) => (vec![c], "gegevens geëxporteerd (inzageverzoek)"),
        Who::Parent(_) => (
            e.data["kinderen"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|k| k["id"].as_str())
                        .filter_map(|id| uuid::Uuid::parse_str(id).ok().map(ChildId))
                        .collect()
                })
                .unwrap_or_default(),
            "gegevens van een ouder geëxporteerd (inzageverzoek)",
        ),
    };
    for child in children {
        state
            .store
            .record_access(AccessEntry {
                org,
                child,
                staff: Some(u.staff),
                staff_name: u.account.name.clone(),
                what: what.into(),
                at: Utc::now(),
            })
            .await?;
    }
    let file = format!(
        "{}/export-{}.zip",
        crate::portal::archive::ARCHIVE_DIR,
        uuid::Uuid::now_v7().simple()
    );
    let path = state.data_dir.join(&file);
    let (blobs, calendar, org_name) = (
        state.blobs.clone(),
        u.ctx.tenant.calendar,
        u.ctx.tenant.name.clone(),
    );
    {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            crate::portal::archive::write_export(&path, &e, &calendar, &org_name, blobs.as_ref())
        })
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Internal(e.to_string()))?;
    }
    let name = match who {
        Who::Child(c) => format!("inzage-kind-{}.zip", &c.to_string()[..8]),
        Who::Parent(p) => format!("inzage-ouder-{}.zip", &p.to_string()[..8]),
    };
    super::archive::serve_zip_once(&path, &name).await
}

pub async fn export_child(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&form.csrf)?;
    export(&state, &u, Who::Child(parse(&id)?)).await
}

pub async fn export_parent(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&form.csrf)?;
    export(&state, &u, Who::Parent(parse(&id)?)).await
}

/// The confirmation step: what will go, and that it cannot be undone.
async fn confirm(state: &AppState, u: &ManagerUser, who: Who) -> Result<Response, WebError> {
    let org = u.ctx.tenant.id;
    let (name, kind, action) = match who {
        Who::Child(c) => {
            let k = state
                .store
                .child_overviews(org, Some(c.to_string()))
                .await?
                .into_iter()
                .next()
                .ok_or(WebError::NotFound)?;
            (
                format!("{} {}", k.first_name, k.last_name),
                "child",
                format!("/beheer/kinderen/{c}/wissen"),
            )
        }
        Who::Parent(p) => {
            let parent = state
                .store
                .parent_overviews(org)
                .await?
                .into_iter()
                .find(|x| x.id == p)
                .ok_or(WebError::NotFound)?;
            (parent.name, "parent", format!("/beheer/ouders/{p}/wissen"))
        }
    };
    render(&AdminErasePage {
        l: layout(u, &tr().f("{0} wissen", &name), "kinderen"),
        name,
        kind,
        action,
    })
}

pub async fn confirm_child(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    confirm(&state, &u, Who::Child(parse(&id)?)).await
}

pub async fn confirm_parent(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    confirm(&state, &u, Who::Parent(parse(&id)?)).await
}

async fn erase(state: &AppState, u: &ManagerUser, who: Who) -> Result<Response, WebError> {
    let org = u.ctx.tenant.id;
    let (by, by_name, now) = (u.staff, u.account.name.clone(), Utc::now());
    let erased = match who {
        Who::Child(c) => {
            state
                .store
                .erase_child_now(org, c, by, by_name, now)
                .await?
        }
        Who::Parent(p) => {
            state
                .store
                .erase_parent_now(org, p, by, by_name, now)
                .await?
        }
    }
    .ok_or(WebError::NotFound)?;
    let failed = crate::delete_erased_files(state, &erased).await;
    state.nudge_changed(&erased.changed);
    tracing::info!(
        by = %u.staff,
        children = erased.children,
        parents = erased.parents,
        photos = erased.photos,
        files_not_deleted = failed,
        "erased on request"
    );
    Ok(Redirect::to("/beheer/gewist?ok=gewist").into_response())
}

pub async fn erase_child(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&form.csrf)?;
    erase(&state, &u, Who::Child(parse(&id)?)).await
}

pub async fn erase_parent(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&form.csrf)?;
    erase(&state, &u, Who::Parent(parse(&id)?)).await
}

/// Who erased what and when (counts, never the name of who was erased).
pub async fn erasures(
    State(state): State<AppState>,
    u: ManagerUser,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let rows = state
        .store
        .erasures(u.ctx.tenant.id, ERASURES_SHOWN)
        .await?;
    let calendar = u.ctx.tenant.calendar;
    let lines = rows
        .into_iter()
        .map(|r| ErasureLine {
            when: super::view::when(&calendar, r.at),
            what: match r.kind.as_str() {
                "kind" => tr().s("Een kind, op verzoek").into(),
                "ouder" => tr().s("Een ouder, op verzoek").into(),
                "bewaartermijn" => tr().s("Na de bewaartermijn").into(),
                other => other.to_string(),
            },
            by: r.by_name,
            counts: counts_words(&r.counts),
        })
        .collect();
    let mut l = layout(&u, tr().s("Gewist"), "kinderen");
    if q.ok == "gewist" {
        l.notice = tr().s("Alles is gewist.").into();
    }
    render(&AdminErasuresPage { l, lines })
}

/// "1 kind, 12 foto's, …" from the stored counts (zeros left out).
fn counts_words(json: &str) -> String {
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(json) else {
        return String::new();
    };
    m.iter()
        .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| format!("{k}: {n}")))
        .collect::<Vec<_>>()
        .join(", ")
}
