//! The parent portal and the location admin: server-rendered HTML (askama
//! templates in `server/templates/`), in Dutch or English (the catalogue of
//! [`crate::portal::i18n`], the switch of [`lang`]), usable on a phone, no
//! JavaScript.
//!
//! - The organisation comes from the Host header: `<slug>.<portal.base_domain>`;
//!   an unknown organisation is 404. A session belongs to one organisation and
//!   is ignored on another organisation's host.
//! - Sessions: a random 256-bit token in an HttpOnly, SameSite=Lax cookie
//!   (Secure with `portal.secure_cookies`), stored as SHA-256 with idle and
//!   absolute expiry.
//! - CSRF: every POST form carries the session's synchronizer token (or, before
//!   login, a double-submit token from a cookie), checked by the handler; every
//!   POST that the browser marks as not `Sec-Fetch-Site: same-origin` (or, from
//!   a client without that header, with a foreign `Origin`) is refused here.
//! - Failed logins and reset requests count per client address ([`client_ip`])
//!   and per account, never across everybody (no one can lock all users out).
//! - Authorisation per object in [`crate::portal`]; objects a user may not see
//!   answer 404, the same as objects that do not exist.
//!
//! **Architecture Invariant:** the router is built from [`routes`], the same
//! table the authorization-matrix test checks for coverage: a route that the
//! matrix does not list fails the test.

mod admin;
mod agenda;
mod archive;
mod auth;
mod erase;
pub mod lang;
mod news;
mod parent;
mod planning;
mod presence;
mod updates;
pub(crate) mod view;

use crate::AppState;
use crate::portal::i18n::Tr;
use crate::portal::{self, Account, Session, SessionTimes, Tenant};
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::{Duration, Utc};
use kring_protocol::{ParentId, StaffId};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "kring_sessie";
/// Name of the pre-login CSRF cookie (double submit).
pub const CSRF_COOKIE: &str = "kring_csrf";
/// Name of the CSRF field in every form.
pub const CSRF_FIELD: &str = "csrf";

pub use admin::IMPORT_HEADER;
pub use parent::TIMELINE_PAGE;
pub(crate) use parent::baby_lines;

/// Every portal route: method, path (axum syntax), handler.
pub fn routes() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("GET", "/", get(auth::home)),
        ("GET", "/static/portal.css", get(stylesheet)),
        ("GET", "/inloggen", get(auth::login_page)),
        ("POST", "/inloggen", post(auth::login)),
        ("POST", "/uitloggen", post(auth::logout)),
        ("POST", "/taal", post(lang::switch)),
        ("GET", "/wachtwoord-wijzigen", get(auth::change_page)),
        ("POST", "/wachtwoord-wijzigen", post(auth::change)),
        ("GET", "/wachtwoord-vergeten", get(auth::forgot_page)),
        ("POST", "/wachtwoord-vergeten", post(auth::forgot)),
        (
            "GET",
            "/wachtwoord-herstellen/{token}",
            get(auth::reset_page),
        ),
        ("POST", "/wachtwoord-herstellen/{token}", post(auth::reset)),
        // parents
        ("GET", "/mijn-kind", get(parent::timeline)),
        ("GET", "/fotos/{id}", get(parent::photo_page)),
        ("GET", "/fotos/{id}/origineel", get(parent::photo_original)),
        ("GET", "/fotos/{id}/download", get(parent::photo_download)),
        ("GET", "/fotos/{id}/klein", get(parent::photo_thumb)),
        ("GET", "/dagboek/nieuw", get(parent::diary_new)),
        ("POST", "/dagboek", post(parent::diary_create)),
        ("GET", "/dagboek/{id}", get(parent::diary_page)),
        ("GET", "/berichten", get(parent::messages)),
        ("POST", "/berichten", post(parent::message_create)),
        ("GET", "/berichten/kind/{child}", get(parent::thread)),
        ("GET", "/berichten/bericht/{id}", get(parent::message_page)),
        ("GET", "/agenda", get(agenda::agenda)),
        ("POST", "/agenda/aanvragen", post(agenda::request)),
        ("POST", "/agenda/afmelden", post(agenda::cancel)),
        ("POST", "/agenda/vakantie", post(agenda::vacation_request)),
        ("GET", "/afwezig", get(parent::absences)),
        ("POST", "/afwezig", post(parent::absence_create)),
        (
            "POST",
            "/afwezig/{id}/intrekken",
            post(parent::absence_cancel),
        ),
        ("GET", "/toestemmingen", get(parent::consents)),
        ("POST", "/toestemmingen/{child}", post(parent::consent_set)),
        ("GET", "/notificaties", get(parent::notifications)),
        ("POST", "/notificaties", post(parent::notifications_set)),
        ("GET", "/account", get(parent::account)),
        ("GET", "/documenten/{id}", get(parent::document)),
        ("GET", "/nieuws", get(news::news_list)),
        ("GET", "/nieuws/{id}", get(news::news_post)),
        ("GET", "/nieuws/{id}/foto", get(news::news_photo)),
        ("GET", "/nieuws/{id}/klein", get(news::news_thumb)),
        ("GET", "/nieuws/{id}/bijlage", get(news::news_pdf)),
        ("GET", "/mijn-locatie", get(news::my_location)),
        ("GET", "/mijn-locatie/team/{id}/foto", get(news::team_photo)),
        ("POST", "/archief/kind/{child}", post(archive::request)),
        ("GET", "/archief/{id}/downloaden", get(archive::by_parent)),
        // the mail's single-use link (no login needed, like a reset link)
        ("GET", "/archief/ophalen/{token}", get(archive::by_token)),
        // location manager
        ("GET", "/beheer", get(admin::overview)),
        ("GET", "/beheer/kinderen", get(admin::children)),
        ("GET", "/beheer/kinderen/{id}", get(admin::child)),
        ("GET", "/beheer/ouders", get(admin::parents)),
        (
            "POST",
            "/beheer/kinderen/{id}/export",
            post(erase::export_child),
        ),
        (
            "GET",
            "/beheer/kinderen/{id}/wissen",
            get(erase::confirm_child),
        ),
        (
            "POST",
            "/beheer/kinderen/{id}/wissen",
            post(erase::erase_child),
        ),
        (
            "POST",
            "/beheer/ouders/{id}/export",
            post(erase::export_parent),
        ),
        (
            "GET",
            "/beheer/ouders/{id}/wissen",
            get(erase::confirm_parent),
        ),
        (
            "POST",
            "/beheer/ouders/{id}/wissen",
            post(erase::erase_parent),
        ),
        ("GET", "/beheer/gewist", get(erase::erasures)),
        ("GET", "/beheer/aanvragen", get(agenda::requests)),
        (
            "POST",
            "/beheer/aanvragen/{id}/goedkeuren",
            post(agenda::approve),
        ),
        (
            "POST",
            "/beheer/aanvragen/{id}/afwijzen",
            post(agenda::refuse),
        ),
        ("GET", "/beheer/rooster", get(planning::roster)),
        ("POST", "/beheer/rooster/{id}", post(planning::roster_save)),
        (
            "POST",
            "/beheer/rooster/{id}/uitzonderingen",
            post(planning::exception_add),
        ),
        (
            "POST",
            "/beheer/rooster/uitzonderingen/{id}/verwijderen",
            post(planning::exception_remove),
        ),
        ("GET", "/beheer/agenda", get(planning::settings)),
        ("POST", "/beheer/agenda/regels", post(planning::rules_save)),
        (
            "POST",
            "/beheer/agenda/sluitingsdagen",
            post(planning::closed_add),
        ),
        (
            "POST",
            "/beheer/agenda/sluitingsdagen/{location}/{day}/verwijderen",
            post(planning::closed_remove),
        ),
        (
            "POST",
            "/beheer/agenda/groepen/{id}",
            post(planning::group_max),
        ),
        (
            "POST",
            "/beheer/agenda/vakantie-uren",
            post(planning::vacation_hours),
        ),
        ("GET", "/beheer/medewerkers", get(admin::staff)),
        (
            "POST",
            "/beheer/medewerkers/{id}/pin",
            post(admin::staff_pin),
        ),
        (
            "POST",
            "/beheer/medewerkers/{id}/foto",
            post(news::admin_staff_photo)
                .layer(axum::extract::DefaultBodyLimit::max(news::NEWS_BODY_LIMIT)),
        ),
        (
            "GET",
            "/beheer/medewerkers/{id}/foto",
            get(news::admin_staff_photo_get),
        ),
        (
            "POST",
            "/beheer/medewerkers/{id}/foto/verwijderen",
            post(news::admin_staff_photo_delete),
        ),
        ("GET", "/beheer/nieuws", get(news::admin_news)),
        ("GET", "/beheer/nieuws/nieuw", get(news::admin_news_new)),
        // a photo and a PDF: these routes' own body limit
        (
            "POST",
            "/beheer/nieuws",
            post(news::admin_news_create)
                .layer(axum::extract::DefaultBodyLimit::max(news::NEWS_BODY_LIMIT)),
        ),
        ("GET", "/beheer/nieuws/{id}", get(news::admin_news_edit)),
        (
            "POST",
            "/beheer/nieuws/{id}",
            post(news::admin_news_update)
                .layer(axum::extract::DefaultBodyLimit::max(news::NEWS_BODY_LIMIT)),
        ),
        (
            "POST",
            "/beheer/nieuws/{id}/verwijderen",
            post(news::admin_news_delete),
        ),
        (
            "GET",
            "/beheer/nieuws/{id}/foto",
            get(news::admin_news_photo),
        ),
        ("GET", "/beheer/locatie", get(news::admin_location)),
        (
            "POST",
            "/beheer/locatie/{id}",
            post(news::admin_location_details),
        ),
        (
            "POST",
            "/beheer/locatie/{id}/paginas",
            post(news::admin_location_page_add),
        ),
        (
            "POST",
            "/beheer/locatie/paginas/{id}",
            post(news::admin_location_page_update),
        ),
        (
            "POST",
            "/beheer/locatie/paginas/{id}/verwijderen",
            post(news::admin_location_page_delete),
        ),
        ("GET", "/beheer/toestemmingen", get(admin::consents)),
        ("GET", "/beheer/import", get(admin::import_page)),
        ("POST", "/beheer/import", post(admin::import)),
        ("GET", "/beheer/apparaten", get(admin::devices)),
        (
            "POST",
            "/beheer/apparaten/koppelcode",
            post(admin::enroll_code),
        ),
        (
            "POST",
            "/beheer/apparaten/{id}/intrekken",
            post(admin::revoke),
        ),
        (
            "POST",
            "/beheer/apparaten/{id}/opnieuw",
            post(updates::retry),
        ),
        ("GET", "/beheer/updates", get(updates::updates)),
        // a bundle of up to 1 GiB, streamed to disk: this route's own body limit
        (
            "POST",
            "/beheer/updates",
            post(updates::upload).layer(axum::extract::DefaultBodyLimit::max(
                updates::UPLOAD_BODY_LIMIT,
            )),
        ),
        (
            "POST",
            "/beheer/updates/{id}/uitrollen",
            post(updates::rollout),
        ),
        (
            "GET",
            "/beheer/locaties/{id}/aanwezig",
            get(presence::presence),
        ),
        (
            "GET",
            "/beheer/groepen/{id}/logboek/{datum}",
            get(presence::day_log),
        ),
        (
            "GET",
            "/beheer/groepen/{id}/logboek/{datum}/csv",
            get(presence::day_log_csv),
        ),
    ]
}

/// (method, path) of every portal route, for the matrix test.
pub fn route_table() -> Vec<(&'static str, &'static str)> {
    routes().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// The body limit of every portal route without one of its own (a CSV
/// import is the largest form that uses it).
pub const FORM_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// A date as forms and paths carry it (`2026-12-04`, spaces around it
/// ignored); anything else is None.
pub(super) fn form_day(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

/// An id (a UUID) from a form or a path; anything else is None.
pub(super) fn form_id<T: From<uuid::Uuid>>(s: &str) -> Option<T> {
    uuid::Uuid::parse_str(s.trim()).ok().map(T::from)
}

/// The portal's routes, with its security headers and Origin check.
pub fn router(state: &AppState) -> Router<AppState> {
    let mut r = Router::new();
    for (_, path, handler) in routes() {
        r = r.route(path, handler);
    }
    r.layer(axum::extract::DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(origin_check))
        // outermost: every answer below (also a refusal) is in the request's language
        .layer(middleware::from_fn(crate::portal::i18n::middleware))
        .with_state(state.clone())
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../static/portal.css"),
    )
        .into_response()
}

/// Every portal answer: not cached (pages hold children's data), not framed,
/// no referrer (the reset link holds a token), a strict CSP (no scripts at all).
async fn security_headers(req: Request, next: Next) -> Response {
    let is_static = req.uri().path().starts_with("/static/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src 'self' data:; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    resp
}

/// Refuses state-changing requests from other sites (defence in depth next to
/// the CSRF tokens): a foreign or `null` Origin, or `Sec-Fetch-Site: cross-site`.
async fn origin_check(req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let headers = req.headers();
        if !same_origin(headers) {
            // never log a reset link's token
            let path = req.uri().path();
            let path = if path.starts_with("/wachtwoord-herstellen/") {
                "/wachtwoord-herstellen/…"
            } else {
                path
            };
            tracing::warn!(
                path,
                origin = ?headers.get(header::ORIGIN),
                host = ?headers.get(header::HOST),
                fetch_site = ?headers.get("sec-fetch-site"),
                "cross-site POST refused"
            );
            return WebError::Csrf.into_response();
        }
    }
    next.run(req).await
}

fn same_origin(headers: &HeaderMap) -> bool {
    // Browsers say where a request comes from in Sec-Fetch-Site; it is the
    // reliable signal (with our `Referrer-Policy: no-referrer`, Chromium sends
    // `Origin: null` even on a same-origin form POST).
    if let Some(site) = headers.get("sec-fetch-site") {
        return site
            .to_str()
            .is_ok_and(|v| v.eq_ignore_ascii_case("same-origin"));
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin.to_str().ok(), host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/').eq_ignore_ascii_case(host)),
        _ => false,
    }
}

pub use crate::ratelimit::client_ip;

/// The organisation slug in a Host header, e.g. `zonnebloem` from
/// `zonnebloem.localhost:8080` with base domain `localhost`.
pub fn host_slug(host: &str, base_domain: &str) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_string(),
        _ => host,
    };
    let name = name.trim_end_matches('.');
    let slug = name.strip_suffix(&format!(".{}", base_domain.to_ascii_lowercase()))?;
    let ok = !slug.is_empty()
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    ok.then(|| slug.to_string())
}

// ---------------------------------------------------------------------------
// Errors

/// What a portal handler can answer instead of a page.
#[derive(Debug)]
pub enum WebError {
    /// Unknown, or not yours: the same answer.
    NotFound,
    /// Missing or wrong CSRF token, or a cross-site POST.
    Csrf,
    /// Not logged in: to the login page.
    Login,
    /// Logged in with a password that must be changed first.
    ChangePassword,
    /// Too many failed logins from this address.
    TooMany(u64),
    /// A form larger than its route's limit (bytes): nothing was stored.
    TooLarge(usize),
    Internal(String),
}

impl WebError {
    /// A multipart form that could not be read: larger than the route's
    /// limit (`limit` bytes) says so; anything else is a broken form,
    /// answered like a forged one.
    pub fn from_multipart(e: &axum::extract::multipart::MultipartError, limit: usize) -> Self {
        tracing::info!(error = %e, "form could not be read");
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::TooLarge(limit)
        } else {
            Self::Csrf
        }
    }
}

impl From<crate::org::OrgError> for WebError {
    fn from(e: crate::org::OrgError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let t = Tr::current();
        let (status, title, text) = match self {
            Self::Login => return Redirect::to("/inloggen").into_response(),
            Self::ChangePassword => return Redirect::to("/wachtwoord-wijzigen").into_response(),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                t.s("Niet gevonden"),
                t.s("Deze pagina bestaat niet, of is niet voor u bedoeld.")
                    .to_string(),
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                t.s("Formulier verlopen"),
                t.s("Dit formulier is verlopen of kwam niet van deze site. Ga terug, laad de pagina opnieuw en probeer het nog eens.").to_string(),
            ),
            Self::TooMany(secs) => {
                let mut resp = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Html(view::error_page(
                        t.s("Te vaak geprobeerd"),
                        &t.n(
                            "Te veel mislukte pogingen. Probeer het over {0} minuut opnieuw.",
                            "Te veel mislukte pogingen. Probeer het over {0} minuten opnieuw.",
                            i64::try_from(secs.div_ceil(60)).unwrap_or(i64::MAX),
                        ),
                    )),
                )
                    .into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                return resp;
            }
            Self::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                t.s("Te groot"),
                t.f(
                    "Wat u stuurde is groter dan {0}. Er is niets opgeslagen. Ga terug en kies een kleiner bestand.",
                    view::size_words(u64::try_from(limit).unwrap_or(u64::MAX)),
                ),
            ),
            Self::Internal(e) => {
                tracing::error!(error = %e, "portal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    t.s("Er ging iets mis"),
                    t.s("Er ging iets mis aan onze kant. Probeer het later opnieuw.")
                        .to_string(),
                )
            }
        };
        (status, Html(view::error_page(title, &text))).into_response()
    }
}

// ---------------------------------------------------------------------------
// Request context and role extractors

/// The organisation of the Host header and the session, if any.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub tenant: Tenant,
    pub session: Option<Session>,
    pub token: Option<String>,
    pub jar: CookieJar,
}

pub fn session_times(state: &AppState) -> SessionTimes {
    SessionTimes {
        idle: Duration::minutes(state.settings.portal.session_idle_minutes.max(1)),
        absolute: Duration::hours(state.settings.portal.session_absolute_hours.max(1)),
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let slug = host_slug(host, &state.settings.portal.base_domain).ok_or(WebError::NotFound)?;
        let jar = CookieJar::from_headers(&parts.headers);
        let token = jar.get(SESSION_COOKIE).map(|c| c.value().to_string());
        let times = session_times(state);
        let lookup = token.clone();
        let tenant = state
            .store
            .tenant_by_slug(slug)
            .await?
            .ok_or(WebError::NotFound)?;
        let session = match lookup {
            Some(t) => {
                state
                    .store
                    .load_session(tenant.id, t, Utc::now(), times)
                    .await?
            }
            None => None,
        };
        Ok(Ctx {
            tenant,
            session,
            token,
            jar,
        })
    }
}

impl Ctx {
    /// Checks a form's CSRF token: the session's, or before login the cookie's.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), WebError> {
        let expected = match &self.session {
            Some(s) => Some(s.csrf.clone()),
            None => self.jar.get(CSRF_COOKIE).map(|c| c.value().to_string()),
        };
        match expected {
            Some(e) if !submitted.is_empty() && portal::tokens_equal(&e, submitted) => Ok(()),
            _ => Err(WebError::Csrf),
        }
    }

    /// The CSRF token for a form: the session's, or before login the
    /// double-submit token (creating its cookie when missing).
    pub fn anonymous_csrf(&self, state: &AppState) -> (String, CookieJar) {
        if let Some(s) = &self.session {
            return (s.csrf.clone(), self.jar.clone());
        }
        match self.jar.get(CSRF_COOKIE) {
            Some(c) => (c.value().to_string(), self.jar.clone()),
            None => {
                let token = portal::random_token();
                let jar = self
                    .jar
                    .clone()
                    .add(cookie(state, CSRF_COOKIE, token.clone()));
                (token, jar)
            }
        }
    }
}

/// A cookie with our attributes: HttpOnly, SameSite=Lax, Path=/, Secure when configured.
pub fn cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build((name, value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.portal.secure_cookies)
        .path("/")
        .build()
}

/// Any logged-in user, also one who must still change the password.
#[derive(Debug, Clone)]
pub struct AnyUser {
    pub ctx: Ctx,
    pub account: Account,
    pub csrf: String,
}

impl FromRequestParts<AppState> for AnyUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let ctx = Ctx::from_request_parts(parts, state).await?;
        let Some(session) = ctx.session.clone() else {
            return Err(WebError::Login);
        };
        Ok(AnyUser {
            account: session.account,
            csrf: session.csrf,
            ctx,
        })
    }
}

/// A logged-in parent (password already changed).
#[derive(Debug, Clone)]
pub struct ParentUser {
    pub ctx: Ctx,
    pub account: Account,
    pub parent: ParentId,
    pub csrf: String,
}

impl FromRequestParts<AppState> for ParentUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let u = AnyUser::from_request_parts(parts, state).await?;
        if u.account.must_change_password {
            return Err(WebError::ChangePassword);
        }
        let parent = u.account.parent_id().ok_or(WebError::NotFound)?;
        Ok(ParentUser {
            parent,
            ctx: u.ctx,
            account: u.account,
            csrf: u.csrf,
        })
    }
}

/// A logged-in location manager (password already changed).
#[derive(Debug, Clone)]
pub struct ManagerUser {
    pub ctx: Ctx,
    pub account: Account,
    pub staff: StaffId,
    pub csrf: String,
}

impl FromRequestParts<AppState> for ManagerUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let u = AnyUser::from_request_parts(parts, state).await?;
        if u.account.must_change_password {
            return Err(WebError::ChangePassword);
        }
        let staff = u.account.manager_id().ok_or(WebError::NotFound)?;
        Ok(ManagerUser {
            staff,
            ctx: u.ctx,
            account: u.account,
            csrf: u.csrf,
        })
    }
}

/// Renders a template as an HTML page.
pub fn render<T: askama::Template>(t: &T) -> Result<Response, WebError> {
    Ok(Html(t.render()?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_come_from_the_host() {
        assert_eq!(
            host_slug("zonnebloem.localhost:8080", "localhost").as_deref(),
            Some("zonnebloem")
        );
        assert_eq!(
            host_slug("Kober.OuderPortaal.nl", "ouderportaal.nl").as_deref(),
            Some("kober")
        );
        assert_eq!(host_slug("localhost:8080", "localhost"), None);
        assert_eq!(host_slug("a.b.localhost", "localhost"), None);
        assert_eq!(host_slug("zonnebloem.evil.nl", "localhost"), None);
        assert_eq!(host_slug("127.0.0.1:8080", "localhost"), None);
    }

    #[test]
    fn origin_must_match_the_host() {
        let mut h = HeaderMap::new();
        h.insert(
            header::HOST,
            HeaderValue::from_static("zonnebloem.localhost:8080"),
        );
        assert!(same_origin(&h), "no Origin: a non-browser client");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://zonnebloem.localhost:8080"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://anker.localhost:8080"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(!same_origin(&h), "another organisation's subdomain");
        // what Chromium sends for a form on the page itself under no-referrer
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(same_origin(&h));
    }
}
