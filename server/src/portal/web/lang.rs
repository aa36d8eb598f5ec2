//! The language switch ("English" / "Nederlands" at the foot of every page):
//! a POST form with the page's CSRF token, like every other form. It sets the
//! long-lived `kring_lang` cookie and, when signed in, saves the choice on
//! the account; at sign-in the account's saved choice is put in the cookie
//! ([`remember_at_login`]). See [`crate::portal::i18n`] for how a request's
//! language is decided.

use super::{Ctx, WebError, cookie};
use crate::AppState;
use crate::portal::Account;
use crate::portal::i18n::{LANG_COOKIE, Lang};
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use serde::Deserialize;

/// How long the language cookie lasts: a year.
const LANG_COOKIE_DAYS: i64 = 365;

/// The language cookie (same attributes as the others, a year long).
pub fn lang_cookie(state: &AppState, lang: Lang) -> Cookie<'static> {
    let mut c = cookie(state, LANG_COOKIE, lang.code().to_string());
    c.set_max_age(time::Duration::days(LANG_COOKIE_DAYS));
    c
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct LanguageForm {
    pub csrf: String,
    /// "nl" or "en".
    pub taal: String,
    /// The page to go back to (a path on this site).
    pub terug: String,
}

/// Where the switch may send the browser back to: a path on this site only
/// (never `//other.example` or a full URL).
pub fn safe_return(path: &str) -> &str {
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.chars().any(char::is_control);
    if ok { path } else { "/" }
}

pub async fn switch(
    State(state): State<AppState>,
    ctx: Ctx,
    Form(form): Form<LanguageForm>,
) -> Result<Response, WebError> {
    ctx.check_csrf(&form.csrf)?;
    let lang = Lang::parse(&form.taal).ok_or(WebError::NotFound)?;
    if let Some(session) = &ctx.session {
        let a = &session.account;
        state.store.set_account_language(a.kind, a.id, lang).await?;
        tracing::info!(user = %a.id, lang = lang.code(), "portal language chosen");
    }
    let jar = ctx.jar.clone().add(lang_cookie(&state, lang));
    Ok((jar, Redirect::to(safe_return(&form.terug))).into_response())
}

/// At sign-in: the account's saved language wins (put in the cookie); an
/// account that never chose keeps what the browser has.
pub async fn remember_at_login(
    state: &AppState,
    account: &Account,
    jar: CookieJar,
) -> Result<CookieJar, WebError> {
    Ok(
        match state
            .store
            .account_language(account.kind, account.id)
            .await?
        {
            Some(lang) => jar.add(lang_cookie(state, lang)),
            None => jar,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_back_stays_on_this_site() {
        assert_eq!(safe_return("/mijn-kind?kind=1"), "/mijn-kind?kind=1");
        assert_eq!(safe_return("//evil.example/x"), "/");
        assert_eq!(safe_return("https://evil.example/"), "/");
        assert_eq!(safe_return("/\\evil.example"), "/");
        assert_eq!(safe_return(""), "/");
        assert_eq!(safe_return("/a\r\nSet-Cookie: x"), "/");
    }
}
