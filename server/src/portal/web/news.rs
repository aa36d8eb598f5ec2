//! News, newsletters and Mijn locatie: the parent's pages (`/nieuws`,
//! `/mijn-locatie`) and the manager's (`/beheer/nieuws`, `/beheer/locatie`,
//! staff photos). What a parent may read is decided per object by the
//! `*_for_parent` store methods; anything else answers 404.

use super::view::Layout;
use super::{ManagerUser, ParentUser, WebError, render};
use crate::AppState;
use crate::photo::PhotoLimits;
use crate::portal::i18n::tr;
use crate::portal::news::{
    self, FileChange, InfoPage, LocationDetails, LocationInfo, MAX_BODY_CHARS, MAX_TITLE_CHARS,
    NewsDraft, NewsKind, NewsPdf, NewsPhoto, NewsPost,
};
use askama::Template;
use axum::Form;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use kring_protocol::{Calendar, LocationId, StaffId};
use serde::Deserialize;

/// The body limit of the routes that take a photo and a PDF (multipart):
/// the photo and PDF limits themselves are checked per file.
pub const NEWS_BODY_LIMIT: usize = 40 * 1024 * 1024;

// ---------------------------------------------------------------------------
// What the templates show

/// A post as a card or a page.
#[derive(Clone)]
pub struct PostView {
    pub id: String,
    pub kind: &'static str,
    pub kind_word: &'static str,
    pub title: String,
    pub paragraphs: Vec<String>,
    /// The first paragraph, for the list.
    pub intro: String,
    pub place: String,
    pub when: String,
    pub has_photo: bool,
    pub pdf_name: String,
    pub pdf_size: String,
    pub location: String,
}

fn post_view(p: NewsPost, calendar: &Calendar) -> PostView {
    let paragraphs = news::paragraphs(&p.body);
    PostView {
        id: p.id,
        kind: p.kind.as_str(),
        kind_word: p.kind.word(),
        title: p.title,
        intro: paragraphs.first().cloned().unwrap_or_default(),
        paragraphs,
        place: p
            .location_name
            .unwrap_or_else(|| tr().s("Hele organisatie").to_string()),
        when: super::view::when(calendar, p.published_at),
        has_photo: p.photo.is_some(),
        pdf_size: p
            .pdf
            .as_ref()
            .map(|f| news::size_words(f.bytes))
            .unwrap_or_default(),
        pdf_name: p.pdf.map(|f| f.name).unwrap_or_default(),
        location: p.location.map(|l| l.to_string()).unwrap_or_default(),
    }
}

/// How many of each kind `/nieuws` shows before "Alle bekijken".
pub const NEWS_RECENT: usize = 5;

/// One kind of post on `/nieuws`: the most recent, or all of them.
pub struct NewsSection {
    pub kind: &'static str,
    pub heading: &'static str,
    pub empty: &'static str,
    pub posts: Vec<PostView>,
    /// More than shown: the "Alle bekijken" button.
    pub more: bool,
}

#[derive(Template)]
#[template(path = "news.html")]
pub struct NewsPage {
    pub l: Layout,
    pub sections: Vec<NewsSection>,
    /// Showing all posts of one kind (`?alle=`).
    pub all: bool,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct NewsQuery {
    /// "nieuws" or "nieuwsbrief": every post of that kind.
    pub alle: String,
}

/// The sections of `/nieuws`: news and newsletters, the most recent of each
/// (the seeds' "Alle bekijken" shows the rest), or every post of one kind.
pub fn news_sections(posts: Vec<PostView>, all: Option<NewsKind>) -> Vec<NewsSection> {
    [NewsKind::Nieuws, NewsKind::Nieuwsbrief]
        .into_iter()
        .filter(|k| all.is_none_or(|a| a == *k))
        .map(|kind| {
            let mut posts: Vec<PostView> = posts
                .iter()
                .filter(|p| p.kind == kind.as_str())
                .map(PostView::clone)
                .collect();
            let more = all.is_none() && posts.len() > NEWS_RECENT;
            if all.is_none() {
                posts.truncate(NEWS_RECENT);
            }
            let (heading, empty) = match kind {
                NewsKind::Nieuws => (tr().s("Nieuws"), tr().s("Er is nog geen nieuws.")),
                NewsKind::Nieuwsbrief => (
                    tr().s("Nieuwsbrieven"),
                    tr().s("Er zijn nog geen nieuwsbrieven."),
                ),
            };
            NewsSection {
                kind: kind.as_str(),
                heading,
                empty,
                posts,
                more,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "news_post.html")]
pub struct NewsPostPage {
    pub l: Layout,
    pub p: PostView,
}

pub struct PageView {
    pub id: String,
    pub title: String,
    pub paragraphs: Vec<String>,
    /// The text as typed, for the edit form.
    pub body: String,
}

pub struct MemberView {
    pub id: String,
    pub name: String,
    pub initials: String,
    pub has_photo: bool,
}

pub struct LocationView {
    pub id: String,
    pub name: String,
    pub address: String,
    pub opening_hours: String,
    pub phone: String,
    pub phone_link: String,
    pub email: String,
    pub team: Vec<MemberView>,
    pub pages: Vec<PageView>,
}

fn location_view(l: LocationInfo) -> LocationView {
    let LocationDetails {
        address,
        opening_hours,
        phone,
        email,
    } = l.details;
    LocationView {
        id: l.id.to_string(),
        name: l.name,
        phone_link: phone
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect(),
        address,
        opening_hours,
        phone,
        email,
        team: l
            .team
            .into_iter()
            .map(|m| MemberView {
                id: m.id.to_string(),
                initials: m
                    .name
                    .split_whitespace()
                    .filter_map(|w| w.chars().next())
                    .filter(|c| c.is_uppercase())
                    .take(2)
                    .collect(),
                name: m.name,
                has_photo: m.has_photo,
            })
            .collect(),
        pages: l
            .pages
            .into_iter()
            .map(|InfoPage { id, title, body }| PageView {
                id,
                title,
                paragraphs: news::paragraphs(&body),
                body,
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "my_location.html")]
pub struct MyLocationPage {
    pub l: Layout,
    pub locations: Vec<LocationView>,
}

// ---------------------------------------------------------------------------
// Parents

pub async fn news_list(
    State(state): State<AppState>,
    u: ParentUser,
    Query(q): Query<NewsQuery>,
) -> Result<Response, WebError> {
    let all = NewsKind::parse(&q.alle);
    let posts = state
        .store
        .news_for_parent(u.parent, super::parent::today(&u))
        .await?;
    let calendar = u.ctx.tenant.calendar;
    let posts = posts.into_iter().map(|p| post_view(p, &calendar)).collect();
    let title = match all {
        Some(NewsKind::Nieuwsbrief) => tr().s("Alle nieuwsbrieven"),
        Some(NewsKind::Nieuws) => tr().s("Alle nieuwsberichten"),
        None => tr().s("Nieuws"),
    };
    render(&NewsPage {
        l: super::parent::layout(&u, title, "nieuws"),
        sections: news_sections(posts, all),
        all: all.is_some(),
    })
}

async fn visible_post(state: &AppState, u: &ParentUser, id: String) -> Result<NewsPost, WebError> {
    state
        .store
        .news_post_for_parent(u.parent, id, super::parent::today(u))
        .await?
        .ok_or(WebError::NotFound)
}

pub async fn news_post(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let p = visible_post(&state, &u, id).await?;
    let calendar = u.ctx.tenant.calendar;
    let title = p.title.clone();
    render(&NewsPostPage {
        l: super::parent::layout(&u, &title, "nieuws"),
        p: post_view(p, &calendar),
    })
}

async fn blob_response(
    state: &AppState,
    key: String,
    content_type: &'static str,
    attachment: Option<String>,
) -> Result<Response, WebError> {
    let blobs = state.blobs.clone();
    let bytes = tokio::task::spawn_blocking(move || blobs.get(&key))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(name) = attachment {
        // the name is cleaned when stored (`pdf_file_name`): no quotes, no controls
        let value = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"bijlage.pdf\""));
        h.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(resp)
}

pub async fn news_photo(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let photo = visible_post(&state, &u, id)
        .await?
        .photo
        .ok_or(WebError::NotFound)?;
    blob_response(&state, photo.key, "image/jpeg", None).await
}

pub async fn news_thumb(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let photo = visible_post(&state, &u, id)
        .await?
        .photo
        .ok_or(WebError::NotFound)?;
    blob_response(&state, photo.thumb_key, "image/jpeg", None).await
}

pub async fn news_pdf(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let pdf = visible_post(&state, &u, id)
        .await?
        .pdf
        .ok_or(WebError::NotFound)?;
    blob_response(&state, pdf.key, "application/pdf", Some(pdf.name)).await
}

pub async fn my_location(
    State(state): State<AppState>,
    u: ParentUser,
) -> Result<Response, WebError> {
    let locations = state
        .store
        .locations_for_parent(u.parent, super::parent::today(&u))
        .await?;
    render(&MyLocationPage {
        l: super::parent::layout(&u, tr().s("Mijn locatie"), "mijn-locatie"),
        locations: locations.into_iter().map(location_view).collect(),
    })
}

pub async fn team_photo(
    State(state): State<AppState>,
    u: ParentUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let staff: StaffId = id.parse().map_err(|_| WebError::NotFound)?;
    let key = state
        .store
        .staff_photo_for_parent(u.parent, staff, super::parent::today(&u))
        .await?
        .ok_or(WebError::NotFound)?;
    blob_response(&state, key, "image/jpeg", None).await
}

// ---------------------------------------------------------------------------
// Location manager: news

pub struct LocationChoice {
    pub id: String,
    pub name: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "admin_news.html")]
pub struct AdminNewsPage {
    pub l: Layout,
    pub posts: Vec<PostView>,
}

#[derive(Template)]
#[template(path = "admin_news_form.html")]
pub struct AdminNewsFormPage {
    pub l: Layout,
    /// "" for a new post.
    pub id: String,
    pub kind: &'static str,
    pub title: String,
    pub body: String,
    pub whole_org: bool,
    pub locations: Vec<LocationChoice>,
    pub has_photo: bool,
    pub pdf_name: String,
    pub pdf_max: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Notice {
    pub ok: String,
}

pub async fn admin_news(
    State(state): State<AppState>,
    u: ManagerUser,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let posts = state.store.news_of_org(u.ctx.tenant.id).await?;
    let calendar = u.ctx.tenant.calendar;
    let mut l = super::admin::layout(&u, tr().s("Nieuws en nieuwsbrieven"), "nieuws");
    l.notice = match q.ok.as_str() {
        "geplaatst" => tr().s("Het bericht staat in het ouderportaal. Ouders die e-mail voor nieuws aan hebben staan, krijgen een e-mail."),
        "opgeslagen" => tr().s("De wijziging is opgeslagen."),
        "verwijderd" => tr().s("Het bericht is verwijderd."),
        _ => "",
    }
    .into();
    render(&AdminNewsPage {
        l,
        posts: posts.into_iter().map(|p| post_view(p, &calendar)).collect(),
    })
}

async fn form_page(
    state: &AppState,
    u: &ManagerUser,
    post: Option<&NewsPost>,
    form: Option<&NewsForm>,
    error: &str,
) -> Result<Response, WebError> {
    let locations = state.store.org_locations(u.ctx.tenant.id).await?;
    let chosen = match (form, post) {
        (Some(f), _) => f.location.clone(),
        (None, Some(p)) => p.location.map(|l| l.to_string()).unwrap_or_default(),
        (None, None) => String::new(),
    };
    let title = if post.is_some() {
        tr().s("Bericht bewerken")
    } else {
        tr().s("Nieuw bericht")
    };
    let mut l = super::admin::layout(u, title, "nieuws");
    l.error = error.to_string();
    let page = AdminNewsFormPage {
        l,
        id: post.map(|p| p.id.clone()).unwrap_or_default(),
        kind: form
            .and_then(|f| NewsKind::parse(&f.kind))
            .or(post.map(|p| p.kind))
            .unwrap_or(NewsKind::Nieuws)
            .as_str(),
        title: form
            .map(|f| f.title.clone())
            .or(post.map(|p| p.title.clone()))
            .unwrap_or_default(),
        body: form
            .map(|f| f.body.clone())
            .or(post.map(|p| p.body.clone()))
            .unwrap_or_default(),
        whole_org: chosen.is_empty(),
        locations: locations
            .into_iter()
            .map(|loc| LocationChoice {
                selected: loc.id.to_string() == chosen,
                id: loc.id.to_string(),
                name: loc.name,
            })
            .collect(),
        has_photo: post.is_some_and(|p| p.photo.is_some()),
        pdf_name: post
            .and_then(|p| p.pdf.as_ref().map(|f| f.name.clone()))
            .unwrap_or_default(),
        pdf_max: news::size_words(
            i64::try_from(state.settings.portal.news_pdf_max_bytes).unwrap_or(i64::MAX),
        ),
    };
    let mut resp = render(&page)?;
    if !error.is_empty() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

pub async fn admin_news_new(
    State(state): State<AppState>,
    u: ManagerUser,
) -> Result<Response, WebError> {
    form_page(&state, &u, None, None, "").await
}

pub async fn admin_news_edit(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let post = state
        .store
        .news_post(u.ctx.tenant.id, id)
        .await?
        .ok_or(WebError::NotFound)?;
    form_page(&state, &u, Some(&post), None, "").await
}

/// A file from a multipart form: its name and bytes.
#[derive(Default)]
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The news form (multipart: `foto` and `pdf` are files).
#[derive(Default)]
pub struct NewsForm {
    pub csrf: String,
    pub kind: String,
    /// "" = the whole organisation.
    pub location: String,
    pub title: String,
    pub body: String,
    pub photo: Option<Upload>,
    pub pdf: Option<Upload>,
    pub remove_photo: bool,
    pub remove_pdf: bool,
}

async fn read_news_form(mut multipart: Multipart) -> Result<NewsForm, WebError> {
    let mut f = NewsForm::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(WebError::from_multipart(&e, NEWS_BODY_LIMIT)),
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().unwrap_or_default().to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| WebError::from_multipart(&e, NEWS_BODY_LIMIT))?;
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "csrf" => f.csrf = text(),
            "kind" => f.kind = text(),
            "location" => f.location = text(),
            "title" => f.title = text(),
            "body" => f.body = text(),
            "foto_weg" => f.remove_photo = text() == "ja",
            "pdf_weg" => f.remove_pdf = text() == "ja",
            "foto" | "pdf" if !bytes.is_empty() => {
                let upload = Upload {
                    name: file_name,
                    bytes: bytes.to_vec(),
                };
                if name == "foto" {
                    f.photo = Some(upload);
                } else {
                    f.pdf = Some(upload);
                }
            }
            _ => {}
        }
    }
    Ok(f)
}

/// Runs a JPEG through the photo pipeline (metadata stripped, thumbnail) and
/// stores both under `prefix`. `Err(words)`: the manager's file is refused.
async fn store_photo(
    state: &AppState,
    prefix: &'static str,
    bytes: Vec<u8>,
) -> Result<Result<NewsPhoto, &'static str>, WebError> {
    let limits = PhotoLimits {
        max_pixels: state.settings.limits.max_pixels,
        max_bytes: state.settings.limits.max_upload_bytes,
        ..PhotoLimits::default()
    };
    let _permit = state
        .photo_work
        .acquire()
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let blobs = state.blobs.clone();
    tokio::task::spawn_blocking(move || {
        let processed = match crate::photo::process(&bytes, &limits) {
            Ok(p) => p,
            Err(e) if e.is_client_error() => {
                tracing::info!(error = %e, "photo refused");
                return Ok(Err(tr().s(
                    "De foto kan niet worden gebruikt. Kies een JPEG-foto (niet te groot).",
                )));
            }
            Err(e) => return Err(WebError::Internal(e.to_string())),
        };
        let id = uuid::Uuid::now_v7();
        let shard = &processed.sha256[..2];
        let photo = NewsPhoto {
            key: format!("{prefix}/{shard}/{id}.jpg"),
            thumb_key: format!("{prefix}-klein/{shard}/{id}.jpg"),
        };
        blobs
            .put(&photo.key, &processed.jpeg)
            .map_err(|e| WebError::Internal(e.to_string()))?;
        blobs
            .put(&photo.thumb_key, &processed.thumbnail)
            .map_err(|e| WebError::Internal(e.to_string()))?;
        Ok(Ok(photo))
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))?
}

async fn store_pdf(state: &AppState, upload: Upload) -> Result<Result<NewsPdf, String>, WebError> {
    let max = state.settings.portal.news_pdf_max_bytes;
    if let Err(e) = news::check_pdf(&upload.bytes, max) {
        tracing::info!(error = %e, "attachment refused");
        return Ok(Err(match e {
            news::AttachmentError::NotAPdf => tr()
                .s("De bijlage is geen PDF-bestand. Kies een PDF.")
                .to_string(),
            news::AttachmentError::TooLarge { .. } => tr().f(
                "De bijlage is te groot. Een PDF mag hoogstens {0} zijn.",
                news::size_words(i64::try_from(max).unwrap_or(i64::MAX)),
            ),
        }));
    }
    let pdf = NewsPdf {
        key: format!("nieuws-pdf/{}.pdf", uuid::Uuid::now_v7()),
        name: news::pdf_file_name(&upload.name),
        bytes: i64::try_from(upload.bytes.len()).unwrap_or(i64::MAX),
    };
    let blobs = state.blobs.clone();
    let key = pdf.key.clone();
    tokio::task::spawn_blocking(move || blobs.put(&key, &upload.bytes))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(Ok(pdf))
}

/// Removes blobs no longer used (in the background: a failure only leaves a file).
fn delete_blobs(state: &AppState, keys: Vec<String>) {
    if keys.is_empty() {
        return;
    }
    let blobs = state.blobs.clone();
    tokio::task::spawn_blocking(move || {
        for key in keys {
            if let Err(e) = blobs.delete(&key) {
                tracing::warn!(error = %e, key, "could not delete an unused file");
            }
        }
    });
}

async fn save(
    state: &AppState,
    u: &ManagerUser,
    id: Option<String>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    let form = read_news_form(multipart).await?;
    u.ctx.check_csrf(&form.csrf)?;
    let org = u.ctx.tenant.id;
    let existing = match &id {
        Some(id) => Some(
            state
                .store
                .news_post(org, id.clone())
                .await?
                .ok_or(WebError::NotFound)?,
        ),
        None => None,
    };
    let refuse = |msg: String| {
        let form = &form;
        let existing = existing.as_ref();
        async move { form_page(state, u, existing, Some(form), &msg).await }
    };
    let title = form.title.trim().to_string();
    let body = form.body.trim().to_string();
    let Some(kind) = NewsKind::parse(&form.kind) else {
        return refuse(tr().s("Kies of het nieuws of een nieuwsbrief is.").into()).await;
    };
    if title.is_empty() || body.is_empty() {
        return refuse(tr().s("Vul een titel en een tekst in.").into()).await;
    }
    if title.chars().count() > MAX_TITLE_CHARS || body.chars().count() > MAX_BODY_CHARS {
        return refuse(tr().f2(
            "De titel mag hoogstens {0} tekens hebben, de tekst hoogstens {1}.",
            MAX_TITLE_CHARS,
            MAX_BODY_CHARS,
        ))
        .await;
    }
    let location = if form.location.is_empty() {
        None
    } else {
        Some(
            form.location
                .parse::<LocationId>()
                .map_err(|_| WebError::NotFound)?,
        )
    };
    // the PDF first: it is cheap to refuse
    let mut stored = Vec::new();
    let pdf = match form.pdf.as_ref() {
        Some(upload) => match store_pdf(
            state,
            Upload {
                name: upload.name.clone(),
                bytes: upload.bytes.clone(),
            },
        )
        .await?
        {
            Ok(pdf) => {
                stored.push(pdf.key.clone());
                FileChange::Set(pdf)
            }
            Err(msg) => return refuse(msg).await,
        },
        None if form.remove_pdf => FileChange::Remove,
        None => FileChange::Keep,
    };
    let photo = match form.photo.as_ref() {
        Some(upload) => match store_photo(state, "nieuws", upload.bytes.clone()).await? {
            Ok(photo) => {
                stored.push(photo.key.clone());
                stored.push(photo.thumb_key.clone());
                FileChange::Set(photo)
            }
            Err(msg) => {
                delete_blobs(state, stored);
                return refuse(msg.into()).await;
            }
        },
        None if form.remove_photo => FileChange::Remove,
        None => FileChange::Keep,
    };
    let draft = NewsDraft {
        location,
        kind,
        title,
        body,
        photo,
        pdf,
        author_name: u.account.name.clone(),
    };
    let saved = match state.store.save_news(org, id, draft, Utc::now()).await {
        Ok(Some(saved)) => saved,
        Ok(None) => {
            delete_blobs(state, stored);
            return Err(WebError::NotFound);
        }
        Err(e) => {
            delete_blobs(state, stored);
            return Err(e.into());
        }
    };
    delete_blobs(state, saved.unused_keys);
    tracing::info!(news = %saved.id, created = saved.created, kind = kind.as_str(), "news saved");
    if saved.created {
        crate::portal::notify::spawn_news(state, saved.id);
        Ok(Redirect::to("/beheer/nieuws?ok=geplaatst").into_response())
    } else {
        Ok(Redirect::to("/beheer/nieuws?ok=opgeslagen").into_response())
    }
}

pub async fn admin_news_create(
    State(state): State<AppState>,
    u: ManagerUser,
    multipart: Multipart,
) -> Result<Response, WebError> {
    save(&state, &u, None, multipart).await
}

pub async fn admin_news_update(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Result<Response, WebError> {
    save(&state, &u, Some(id), multipart).await
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf: String,
}

pub async fn admin_news_delete(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let keys = state
        .store
        .delete_news(u.ctx.tenant.id, id.clone())
        .await?
        .ok_or(WebError::NotFound)?;
    delete_blobs(&state, keys);
    tracing::info!(news = %id, "news deleted");
    Ok(Redirect::to("/beheer/nieuws?ok=verwijderd").into_response())
}

pub async fn admin_news_photo(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let photo = state
        .store
        .news_post(u.ctx.tenant.id, id)
        .await?
        .and_then(|p| p.photo)
        .ok_or(WebError::NotFound)?;
    blob_response(&state, photo.thumb_key, "image/jpeg", None).await
}

// ---------------------------------------------------------------------------
// Location manager: the location's details, pages and team photos

#[derive(Template)]
#[template(path = "admin_location.html")]
pub struct AdminLocationPage {
    pub l: Layout,
    pub locations: Vec<LocationView>,
}

pub async fn admin_location(
    State(state): State<AppState>,
    u: ManagerUser,
    Query(q): Query<Notice>,
) -> Result<Response, WebError> {
    let locations = state.store.location_infos(u.ctx.tenant.id).await?;
    let mut l = super::admin::layout(&u, tr().s("Mijn locatie"), "locatie");
    l.notice = match q.ok.as_str() {
        "gegevens" => tr().s("De gegevens van de locatie zijn opgeslagen."),
        "pagina" => tr().s("De informatiepagina is toegevoegd."),
        "pagina-weg" => tr().s("De informatiepagina is verwijderd."),
        "pagina-bewerkt" => tr().s("De informatiepagina is opgeslagen."),
        "foto" => tr().s("De foto staat bij Ons team."),
        "foto-weg" => tr().s("De foto is verwijderd."),
        _ => "",
    }
    .into();
    l.error = match q.ok.as_str() {
        "geen-toestemming" => tr().s("Zonder toestemming van de medewerker wordt geen foto opgeslagen. Vink de toestemming aan."),
        "geen-foto" => tr().s("De foto kan niet worden gebruikt. Kies een JPEG-foto (niet te groot)."),
        "leeg" => tr().s("Vul een titel en een tekst in."),
        _ => "",
    }
    .into();
    render(&AdminLocationPage {
        l,
        locations: locations.into_iter().map(location_view).collect(),
    })
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct DetailsForm {
    pub csrf: String,
    pub address: String,
    pub opening_hours: String,
    pub phone: String,
    pub email: String,
}

fn short(s: &str, max: usize) -> String {
    s.trim().chars().take(max).collect()
}

pub async fn admin_location_details(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<DetailsForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let location: LocationId = id.parse().map_err(|_| WebError::NotFound)?;
    let details = LocationDetails {
        address: short(&f.address, 500),
        opening_hours: short(&f.opening_hours, 1000),
        phone: short(&f.phone, 40),
        email: short(&f.email, 200),
    };
    if !state
        .store
        .set_location_details(u.ctx.tenant.id, location, details)
        .await?
    {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to("/beheer/locatie?ok=gegevens").into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct PageForm {
    pub csrf: String,
    pub title: String,
    pub body: String,
}

pub async fn admin_location_page_add(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<PageForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let location: LocationId = id.parse().map_err(|_| WebError::NotFound)?;
    let (title, body) = (f.title.trim(), f.body.trim());
    if title.is_empty() || body.is_empty() {
        return Ok(Redirect::to("/beheer/locatie?ok=leeg").into_response());
    }
    state
        .store
        .add_location_page(
            u.ctx.tenant.id,
            location,
            short(title, MAX_TITLE_CHARS),
            short(body, MAX_BODY_CHARS),
            Utc::now(),
        )
        .await?
        .ok_or(WebError::NotFound)?;
    Ok(Redirect::to("/beheer/locatie?ok=pagina").into_response())
}

/// `POST /beheer/locatie/paginas/{id}`: a new title and text.
pub async fn admin_location_page_update(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<PageForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let (title, body) = (f.title.trim(), f.body.trim());
    if title.is_empty() || body.is_empty() {
        return Ok(Redirect::to("/beheer/locatie?ok=leeg").into_response());
    }
    if !state
        .store
        .update_location_page(
            u.ctx.tenant.id,
            id,
            short(title, MAX_TITLE_CHARS),
            short(body, MAX_BODY_CHARS),
        )
        .await?
    {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to("/beheer/locatie?ok=pagina-bewerkt").into_response())
}

pub async fn admin_location_page_delete(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    if !state
        .store
        .delete_location_page(u.ctx.tenant.id, id)
        .await?
    {
        return Err(WebError::NotFound);
    }
    Ok(Redirect::to("/beheer/locatie?ok=pagina-weg").into_response())
}

/// `POST /beheer/medewerkers/{id}/foto` (multipart: `csrf`, `foto`,
/// `toestemming`): without the staff member's consent nothing is stored.
pub async fn admin_staff_photo(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    let staff: StaffId = id.parse().map_err(|_| WebError::NotFound)?;
    let (mut csrf, mut consent, mut photo) = (String::new(), false, Vec::new());
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(WebError::from_multipart(&e, NEWS_BODY_LIMIT)),
        };
        let name = field.name().unwrap_or_default().to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| WebError::from_multipart(&e, NEWS_BODY_LIMIT))?;
        match name.as_str() {
            "csrf" => csrf = String::from_utf8_lossy(&bytes).into_owned(),
            "toestemming" => consent = &bytes[..] == b"ja",
            "foto" => photo = bytes.to_vec(),
            _ => {}
        }
    }
    u.ctx.check_csrf(&csrf)?;
    let org = u.ctx.tenant.id;
    // the staff member must be ours before any file is stored
    if !state
        .store
        .staff_overviews(org)
        .await?
        .iter()
        .any(|s| s.id == staff)
    {
        return Err(WebError::NotFound);
    }
    if !consent {
        return Ok(Redirect::to("/beheer/locatie?ok=geen-toestemming").into_response());
    }
    let stored = match store_photo(&state, "team", photo).await? {
        Ok(p) => p,
        Err(_) => return Ok(Redirect::to("/beheer/locatie?ok=geen-foto").into_response()),
    };
    // only the smaller picture is kept: that is all "Ons team" shows
    delete_blobs(&state, vec![stored.key]);
    match state
        .store
        .set_staff_photo(org, staff, Some(stored.thumb_key.clone()), Utc::now())
        .await?
    {
        Some(old) => delete_blobs(&state, old.into_iter().collect()),
        None => {
            delete_blobs(&state, vec![stored.thumb_key]);
            return Err(WebError::NotFound);
        }
    }
    tracing::info!(staff = %staff, "staff photo shared with consent");
    Ok(Redirect::to("/beheer/locatie?ok=foto").into_response())
}

pub async fn admin_staff_photo_delete(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Result<Response, WebError> {
    u.ctx.check_csrf(&f.csrf)?;
    let staff: StaffId = id.parse().map_err(|_| WebError::NotFound)?;
    let old = state
        .store
        .set_staff_photo(u.ctx.tenant.id, staff, None, Utc::now())
        .await?
        .ok_or(WebError::NotFound)?;
    delete_blobs(&state, old.into_iter().collect());
    tracing::info!(staff = %staff, "staff photo removed");
    Ok(Redirect::to("/beheer/locatie?ok=foto-weg").into_response())
}

pub async fn admin_staff_photo_get(
    State(state): State<AppState>,
    u: ManagerUser,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let staff: StaffId = id.parse().map_err(|_| WebError::NotFound)?;
    let key = state
        .store
        .staff_photo(u.ctx.tenant.id, staff)
        .await?
        .ok_or(WebError::NotFound)?;
    blob_response(&state, key, "image/jpeg", None).await
}
