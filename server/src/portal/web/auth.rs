//! Logging in and out, the forced password change, "wachtwoord vergeten".

use super::view::{ChangePasswordPage, ForgotPage, Layout, LoginPage, ResetPage};
use super::{AnyUser, Ctx, SESSION_COOKIE, WebError, cookie, render, session_times};
use crate::AppState;
use crate::portal::i18n::{Tr, tr};
use crate::portal::mail::Mail;
use crate::portal::{self, Account, UserKind};
use crate::ratelimit::Attempt;
use crate::store::ResetLink;
use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Duration, Utc};
use serde::Deserialize;
use std::net::SocketAddr;

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// The key under which failed logins and reset requests of one account count.
fn account_key(ctx: &Ctx, email: &str) -> String {
    format!("{}:{}", ctx.tenant.id, email.trim().to_lowercase())
}

/// An attempt counted against the client address and the account *before*
/// it is checked, so that parallel guesses get no more tries than the limits
/// allow; it stays a failure unless it [`succeeded`](Counted::succeeded).
struct Counted<'a> {
    address: Attempt<'a>,
    account: Attempt<'a, String>,
}

impl Counted<'_> {
    fn succeeded(self) {
        self.address.succeeded();
        self.account.succeeded();
    }
}

/// Counts an attempt of this address on this account, or says how long to wait.
fn count_attempt<'a>(
    state: &'a AppState,
    ip: std::net::IpAddr,
    account: &str,
) -> Result<Counted<'a>, WebError> {
    let too_many = |wait: std::time::Duration| WebError::TooMany(wait.as_secs().max(1));
    let address = state.login_limiter.attempt(ip).map_err(too_many)?;
    match state.account_limiter.attempt(account.to_string()) {
        Ok(account) => Ok(Counted { address, account }),
        Err(wait) => {
            // refused before it was tried: it does not count
            address.succeeded();
            Err(too_many(wait))
        }
    }
}

fn layout(ctx: &Ctx, title: &str, csrf: String) -> Layout {
    Layout {
        title: title.to_string(),
        org: ctx.tenant.name.clone(),
        csrf,
        ..Layout::default()
    }
}

/// Where a logged-in account starts.
fn home_of(account: &Account) -> &'static str {
    if account.must_change_password {
        "/wachtwoord-wijzigen"
    } else if account.kind == UserKind::Staff {
        "/beheer"
    } else {
        "/mijn-kind"
    }
}

pub async fn home(ctx: Ctx) -> Response {
    match &ctx.session {
        Some(s) => Redirect::to(home_of(&s.account)).into_response(),
        None => Redirect::to("/inloggen").into_response(),
    }
}

pub async fn login_page(State(state): State<AppState>, ctx: Ctx) -> Result<Response, WebError> {
    if let Some(s) = &ctx.session {
        return Ok(Redirect::to(home_of(&s.account)).into_response());
    }
    let (csrf, jar) = ctx.anonymous_csrf(&state);
    let page = LoginPage {
        l: layout(&ctx, tr().s("Inloggen"), csrf),
        email: String::new(),
    };
    Ok((jar, render(&page)?).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    pub csrf: String,
    pub email: String,
    pub password: String,
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&form.csrf)?;
    let ip = super::client_ip(&state, peer, &headers);
    let key = account_key(&ctx, &form.email);
    let attempt = count_attempt(&state, ip, &key)?;
    let org = ctx.tenant.id;
    let email = form.email.clone();
    let found = state.store.find_login(org, email).await?;
    let password = form.password.clone();
    let account = crate::org::argon2_work(move |memory| match found {
        Some(login) if login.password_hash == crate::org::NO_PASSWORD_YET => {
            // no password chosen yet: as long as any other wrong login
            portal::verify_dummy(&password, memory);
            None
        }
        Some(login) if crate::org::verify_secret_in(&login.password_hash, &password, memory) => {
            Some(login.account)
        }
        Some(_) => None,
        None => {
            // About the same time for an unknown address.
            portal::verify_dummy(&password, memory);
            None
        }
    })
    .await?;
    let Some(account) = account else {
        drop(attempt); // a failure: it stays counted
        tracing::info!(org = %ctx.tenant.slug, client = %ip, "portal login failed");
        let (csrf, jar) = ctx.anonymous_csrf(&state);
        let mut l = layout(&ctx, tr().s("Inloggen"), csrf);
        l.error = tr().s("Dit e-mailadres en wachtwoord horen niet bij elkaar. Probeer het opnieuw, of kies Wachtwoord vergeten.").into();
        let page = LoginPage {
            l,
            email: form.email,
        };
        let mut resp = (jar, render(&page)?).into_response();
        *resp.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
        return Ok(resp);
    };
    attempt.succeeded();
    let times = session_times(&state);
    let a = account.clone();
    let previous = ctx.token.clone();
    // A new token at every login; a previous session in this browser ends.
    let token = state
        .store
        .start_session(a, previous, Utc::now(), times)
        .await?;
    tracing::info!(org = %ctx.tenant.slug, kind = account.kind.as_str(), user = %account.id, "portal login");
    let jar = ctx.jar.clone().add(cookie(&state, SESSION_COOKIE, token));
    let jar = super::lang::remember_at_login(&state, &account, jar).await?;
    Ok((jar, Redirect::to(home_of(&account))).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct CsrfOnly {
    pub csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    user: AnyUser,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    user.ctx.check_csrf(&form.csrf)?;
    if let Some(token) = user.ctx.token.clone() {
        state.store.delete_session(token).await?;
    }
    let jar = user
        .ctx
        .jar
        .clone()
        .remove(cookie(&state, SESSION_COOKIE, String::new()));
    Ok((jar, Redirect::to("/inloggen")).into_response())
}

pub async fn change_page(user: AnyUser) -> Result<Response, WebError> {
    let mut l = layout(&user.ctx, tr().s("Wachtwoord wijzigen"), user.csrf.clone());
    l.user = user.account.name.clone();
    if !user.account.must_change_password {
        l.role = role_of(&user.account);
    }
    render(&ChangePasswordPage {
        l,
        forced: user.account.must_change_password,
    })
}

fn role_of(a: &Account) -> &'static str {
    match a.kind {
        UserKind::Parent => "parent",
        UserKind::Staff => "manager",
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ChangeForm {
    pub csrf: String,
    pub current_password: String,
    pub new_password: String,
    pub new_password_repeat: String,
}

/// Why a new password is refused, in words; None when it is fine.
pub fn password_problem(new: &str, repeat: &str, old: Option<&str>) -> Option<String> {
    if new.chars().count() < MIN_PASSWORD_CHARS {
        return Some(tr().f(
            "Kies een wachtwoord van minstens {0} tekens.",
            MIN_PASSWORD_CHARS,
        ));
    }
    if new != repeat {
        return Some(
            tr().s("De twee nieuwe wachtwoorden zijn niet gelijk.")
                .into(),
        );
    }
    if old == Some(new) {
        return Some(tr().s("Kies een ander wachtwoord dan het oude.").into());
    }
    None
}

pub async fn change(
    State(state): State<AppState>,
    user: AnyUser,
    Form(form): Form<ChangeForm>,
) -> Result<Response, WebError> {
    user.ctx.check_csrf(&form.csrf)?;
    let account = user.account.clone();
    // guessing the current password with a stolen session is limited too
    let key = account_key(&user.ctx, &account.email);
    let attempt = state
        .account_limiter
        .attempt(key)
        .map_err(|wait| WebError::TooMany(wait.as_secs().max(1)))?;
    let a = account.clone();
    let hash = state.store.password_hash(a).await?.unwrap_or_default();
    let current = form.current_password.clone();
    let current_ok = crate::org::argon2_work(move |memory| {
        crate::org::verify_secret_in(&hash, &current, memory)
    })
    .await?;
    let problem = if current_ok {
        attempt.succeeded();
        password_problem(
            &form.new_password,
            &form.new_password_repeat,
            Some(&form.current_password),
        )
    } else {
        drop(attempt); // a wrong current password stays counted
        Some(tr().s("Uw huidige wachtwoord klopt niet.").into())
    };
    if let Some(problem) = problem {
        let mut l = layout(&user.ctx, tr().s("Wachtwoord wijzigen"), user.csrf.clone());
        l.user = account.name.clone();
        l.error = problem;
        let mut resp = render(&ChangePasswordPage {
            l,
            forced: account.must_change_password,
        })?;
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let new_hash = crate::org::hash_secret_bounded(form.new_password.clone()).await?;
    let keep = user.ctx.token.clone();
    let a = account.clone();
    state.store.set_password(a, new_hash, keep).await?;
    tracing::info!(user = %account.id, "password changed");
    let mut next = account;
    next.must_change_password = false;
    Ok(Redirect::to(home_of(&next)).into_response())
}

pub async fn forgot_page(State(state): State<AppState>, ctx: Ctx) -> Result<Response, WebError> {
    let (csrf, jar) = ctx.anonymous_csrf(&state);
    let page = ForgotPage {
        l: layout(&ctx, tr().s("Wachtwoord vergeten"), csrf),
        sent: false,
    };
    Ok((jar, render(&page)?).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ForgotForm {
    pub csrf: String,
    pub email: String,
}

pub async fn forgot(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ctx: Ctx,
    Form(form): Form<ForgotForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&form.csrf)?;
    let ip = super::client_ip(&state, peer, &headers);
    let key = account_key(&ctx, &form.email);
    // Every request counts, for a known address or not: a mailbox cannot be
    // flooded, and the limit does not tell which addresses exist.
    let _counted = count_attempt(&state, ip, &key)?;
    let org = ctx.tenant.id;
    let email = form.email.clone();
    let valid = Duration::minutes(state.settings.portal.reset_valid_minutes.max(1));
    let made = state
        .store
        .create_reset(org, email, Utc::now(), valid)
        .await?;
    // (an unknown address gets the same answer, and no mail)
    if let Some(ResetLink { account, token }) = made {
        let link = format!(
            "{}/wachtwoord-herstellen/{token}",
            // from the settings, never from the request's Host header
            crate::portal::notify::portal_origin(&state.settings, &ctx.tenant.slug)
        );
        tracing::info!(user = %account.id, "password reset mail");
        // in the account's own language when it chose one, else the page's
        let t = match state
            .store
            .account_language(account.kind, account.id)
            .await?
        {
            Some(lang) => Tr::new(lang),
            None => tr(),
        };
        let body = t.f3(
            "Beste {0},\n\nU vroeg om een nieuw wachtwoord voor het ouderportaal van {1}.\nKies een nieuw wachtwoord via deze link (eenmalig te gebruiken, {2} minuten geldig):\n\n",
            &account.name,
            &ctx.tenant.name,
            valid.num_minutes(),
        ) + &link
            + t.s("\n\nHeeft u dit niet gevraagd? Dan kunt u deze e-mail negeren; uw wachtwoord blijft hetzelfde.\n");
        state.mailer.send_later(Mail {
            to: account.email.clone(),
            subject: t.f("Nieuw wachtwoord voor {0}", &ctx.tenant.name),
            body,
        });
    }
    let (csrf, jar) = ctx.anonymous_csrf(&state);
    let page = ForgotPage {
        l: layout(&ctx, tr().s("Wachtwoord vergeten"), csrf),
        sent: true,
    };
    Ok((jar, render(&page)?).into_response())
}

pub async fn reset_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let org = ctx.tenant.id;
    let t = token.clone();
    let valid = state.store.check_reset(org, t, Utc::now()).await?.is_some();
    let (csrf, jar) = ctx.anonymous_csrf(&state);
    let page = ResetPage {
        l: layout(&ctx, tr().s("Nieuw wachtwoord kiezen"), csrf),
        token,
        valid,
    };
    let mut resp = (jar, render(&page)?).into_response();
    if !valid {
        *resp.status_mut() = axum::http::StatusCode::NOT_FOUND;
    }
    Ok(resp)
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct ResetForm {
    pub csrf: String,
    pub new_password: String,
    pub new_password_repeat: String,
}

pub async fn reset(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ctx: Ctx,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&form.csrf)?;
    // The token is checked before anything is hashed, and wrong tokens count
    // against the address: guessing costs the server a database read, not an
    // Argon2 hash, and stops at the limit.
    let ip = super::client_ip(&state, peer, &headers);
    let attempt = state
        .login_limiter
        .attempt(ip)
        .map_err(|wait| WebError::TooMany(wait.as_secs().max(1)))?;
    let org = ctx.tenant.id;
    if state
        .store
        .check_reset(org, token.clone(), Utc::now())
        .await?
        .is_none()
    {
        drop(attempt); // a wrong or used token stays counted
        return Err(WebError::NotFound);
    }
    attempt.succeeded();
    if let Some(problem) = password_problem(&form.new_password, &form.new_password_repeat, None) {
        let (csrf, jar) = ctx.anonymous_csrf(&state);
        let mut l = layout(&ctx, tr().s("Nieuw wachtwoord kiezen"), csrf);
        l.error = problem;
        let mut resp = (
            jar,
            render(&ResetPage {
                l,
                token,
                valid: true,
            })?,
        )
            .into_response();
        *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(resp);
    }
    let hash = crate::org::hash_secret_bounded(form.new_password.clone()).await?;
    let done = state
        .store
        .reset_password(org, token, hash, Utc::now())
        .await?;
    let Some(account) = done else {
        return Err(WebError::NotFound);
    };
    tracing::info!(user = %account.id, "password reset used");
    let (csrf, jar) = ctx.anonymous_csrf(&state);
    let mut l = layout(&ctx, tr().s("Inloggen"), csrf);
    l.notice = tr()
        .s("Uw nieuwe wachtwoord is opgeslagen. Log in met uw nieuwe wachtwoord.")
        .into();
    Ok((
        jar,
        render(&LoginPage {
            l,
            email: account.email,
        })?,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        assert!(password_problem("kort", "kort", None).is_some());
        assert!(password_problem("lang-genoeg-1", "lang-genoeg-2", None).is_some());
        assert!(
            password_problem("lang-genoeg-1", "lang-genoeg-1", Some("lang-genoeg-1")).is_some()
        );
        assert_eq!(
            password_problem("lang-genoeg-1", "lang-genoeg-1", Some("oud")),
            None
        );
    }
}
