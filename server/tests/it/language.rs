//! The portal in Dutch and English over HTTP: the browser's
//! Accept-Language, the switch (cookie and account), the account's choice at
//! sign-in, the mails in the parent's language, and a way back that stays on
//! this site.

use crate::common::portal::Portal;

fn html_lang(text: &str) -> &str {
    text.split("<html lang=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
}

#[tokio::test]
async fn dutch_by_default_english_when_the_browser_asks_for_it_first() {
    let p = Portal::start().await;
    let mut b = p.browser("test");
    let page = b.get("/inloggen").await;
    assert_eq!(html_lang(&page.text), "nl");
    assert!(page.text.contains("Wachtwoord vergeten?"), "{}", page.text);

    let mut b = p.browser("test");
    b.extra_headers
        .push(("accept-language".into(), "en-GB,en;q=0.9,nl;q=0.8".into()));
    let page = b.get("/inloggen").await;
    assert_eq!(html_lang(&page.text), "en");
    assert!(page.text.contains("Forgot your password?"), "{}", page.text);
    assert!(!page.text.contains("Wachtwoord vergeten?"));
    // an error page too
    let page = b.get("/fotos/bestaat-niet").await;
    assert!(page.status == 404 || page.status == 303, "{}", page.status);

    let mut b = p.browser("test");
    b.extra_headers
        .push(("accept-language".into(), "de-DE,nl;q=0.9,en;q=0.8".into()));
    assert_eq!(html_lang(&b.get("/inloggen").await.text), "nl");
}

#[tokio::test]
async fn the_switch_is_kept_in_a_cookie_and_on_the_account() {
    let p = Portal::start().await;
    let mut b = p.logged_in("test", "sem").await;
    let page = b.get("/mijn-kind").await;
    assert_eq!(html_lang(&page.text), "nl");
    assert!(
        page.text.contains("id=\"language-switch\""),
        "{}",
        page.text
    );

    let resp = b
        .post("/taal", &[("taal", "en"), ("terug", "/mijn-kind?kind=x")])
        .await;
    assert_eq!(resp.status, 303);
    assert_eq!(resp.location.as_deref(), Some("/mijn-kind?kind=x"));
    let cookie = resp
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("kring_lang="))
        .expect("the language cookie")
        .to_string();
    assert!(cookie.starts_with("kring_lang=en"), "{cookie}");
    assert!(cookie.contains("Max-Age=31536000"), "a year: {cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let page = b.get("/mijn-kind").await;
    assert_eq!(html_lang(&page.text), "en");
    assert!(page.text.contains("My child") && !page.text.contains("Mijn kind"));

    // the way back stays on this site
    let resp = b
        .post("/taal", &[("taal", "en"), ("terug", "//evil.example/")])
        .await;
    assert_eq!(resp.location.as_deref(), Some("/"));

    // another browser, no cookie: the account's choice wins at sign-in
    let mut fresh = p.logged_in("test", "sem").await;
    assert_eq!(
        fresh.cookies.get("kring_lang").map(String::as_str),
        Some("en")
    );
    let page = fresh.get("/berichten").await;
    assert_eq!(html_lang(&page.text), "en");
    assert!(page.text.contains("Messages"), "{}", page.text);

    // mails to this parent are in English too
    let mut anon = p.browser("test");
    anon.get("/wachtwoord-vergeten").await;
    let resp = anon
        .post("/wachtwoord-vergeten", &[("email", "sem.ouder@example.nl")])
        .await;
    assert_eq!(resp.status, 200);
    let mail = p
        .wait_for_mail("sem.ouder@example.nl", "New password")
        .await;
    assert!(
        mail.contains("Dear ") && mail.contains("You asked for a new password"),
        "{mail}"
    );

    // a page answered to a POST: the switch goes back to a page that has a
    // GET, not to the form's POST-only address
    let page = anon
        .post("/wachtwoord-vergeten", &[("email", "sem.ouder@example.nl")])
        .await;
    assert!(
        page.text
            .contains(r#"<input type="hidden" name="terug" value="/">"#),
        "{}",
        page.text
    );
    let page = b.get("/agenda?maand=2027-01").await;
    assert!(
        page.text
            .contains(r#"<input type="hidden" name="terug" value="/agenda?maand=2027-01">"#),
        "{}",
        page.text
    );

    // another parent never chose: Dutch
    let other = p.logged_in("test", "noor").await;
    assert_eq!(other.cookies.get("kring_lang"), None);
}
