//! The portal's languages: Dutch (the source language, no catalogue) and
//! English (`server/translations/en.po`, a gettext catalogue whose msgids
//! are the Dutch strings, like the kiosk's `ui/translations`).
//!
//! - [`Tr`] translates: `s` a fixed string, `f`/`f2`/`f3` a string with
//!   `{0}`, `{1}`, `{2}` placeholders, `n` a singular/plural pair by count.
//!   Templates reach it as `l.t` (every [`crate::portal::web::view::Layout`]
//!   carries one) and write `{{ l.t.s("Foto's") }}`; askama escapes the
//!   result like any other value.
//! - The language of a request is decided once, in [`middleware`]: the
//!   `kring_lang` cookie (set by the switch in every page's footer, and at
//!   sign-in from the account's saved choice), else `Accept-Language`
//!   (English first: English), else Dutch. The handler runs inside
//!   [`scope`], so [`Tr::current`] (and `Layout::default()`) answer the
//!   request's language anywhere below it; outside a request (background
//!   mails, tests) it is Dutch unless a caller passes a [`Tr`] explicitly.
//! - A string missing from the catalogue shows in Dutch; the test
//!   `translations_are_complete` fails on it before it ships.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::OnceLock;

/// Name of the language cookie.
pub const LANG_COOKIE: &str = "kring_lang";

/// The catalogue, compiled in.
const EN_PO: &str = include_str!("../../translations/en.po");

/// A portal language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Lang {
    #[default]
    Nl,
    En,
}

impl Lang {
    /// The code of `<html lang>`, the cookie and the database: "nl" or "en".
    pub fn code(self) -> &'static str {
        match self {
            Self::Nl => "nl",
            Self::En => "en",
        }
    }

    /// "nl" / "en" (case-insensitive, a region allowed: "en-GB"); else None.
    pub fn parse(s: &str) -> Option<Self> {
        let primary = s.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "nl" => Some(Self::Nl),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The first of our languages in an `Accept-Language` header, by the
    /// order of preference (q values) the browser gives; None when it names
    /// neither.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(f32, usize, Self)> = None;
        for (i, part) in header.split(',').enumerate() {
            let mut bits = part.split(';');
            let Some(tag) = bits.next() else { continue };
            let Some(lang) = Self::parse(tag) else {
                continue;
            };
            let q = bits
                .filter_map(|b| b.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            let better = match best {
                None => true,
                Some((bq, bi, _)) => q > bq || (q == bq && i < bi),
            };
            if better {
                best = Some((q, i, lang));
            }
        }
        best.map(|(_, _, l)| l)
    }
}

/// The translator of one request (or one mail): a language and the path of
/// the page (for the language switch's way back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tr {
    lang: Lang,
    here: std::sync::Arc<str>,
}

impl Default for Tr {
    /// The request's translator ([`Tr::current`]).
    fn default() -> Self {
        Self::current()
    }
}

tokio::task_local! {
    static CURRENT: Tr;
}

/// Runs `fut` with `tr` as [`Tr::current`].
pub async fn scope<F: std::future::Future>(tr: Tr, fut: F) -> F::Output {
    CURRENT.scope(tr, fut).await
}

/// Runs `f` (blocking code, e.g. on `spawn_blocking`) with `tr` as [`Tr::current`].
pub fn scope_sync<R>(tr: Tr, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(tr, f)
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Self {
            lang,
            here: std::sync::Arc::from("/"),
        }
    }

    /// The translator of the request being answered; Dutch outside one.
    pub fn current() -> Self {
        CURRENT
            .try_with(Clone::clone)
            .unwrap_or_else(|_| Self::new(Lang::Nl))
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// "nl" or "en", for `<html lang>`.
    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    /// The other language: what the switch offers.
    pub fn other(&self) -> Lang {
        match self.lang {
            Lang::Nl => Lang::En,
            Lang::En => Lang::Nl,
        }
    }

    /// The switch's label, in the language it switches to.
    pub fn other_name(&self) -> &'static str {
        match self.lang {
            Lang::Nl => "English",
            Lang::En => "Nederlands",
        }
    }

    /// The path (and query) of the page, where the switch returns to.
    pub fn here(&self) -> &str {
        &self.here
    }

    /// A fixed string.
    pub fn s<'a>(&self, msg: &'a str) -> &'a str {
        match self.lang {
            Lang::Nl => msg,
            Lang::En => catalogue()
                .get(msg)
                .and_then(|e| e.first())
                .map(String::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or(msg),
        }
    }

    /// A string with `{0}` filled in.
    pub fn f(&self, msg: &str, a: impl Display) -> String {
        fill(self.s(msg), &[&a])
    }

    /// A string with `{0}` and `{1}` filled in.
    pub fn f2(&self, msg: &str, a: impl Display, b: impl Display) -> String {
        fill(self.s(msg), &[&a, &b])
    }

    /// A string with `{0}`, `{1}` and `{2}` filled in.
    pub fn f3(&self, msg: &str, a: impl Display, b: impl Display, c: impl Display) -> String {
        fill(self.s(msg), &[&a, &b, &c])
    }

    /// `one` or `many` by `count` (`{0}` is the count), `msgid_plural` in
    /// the catalogue. Dutch and English share the rule: 1 is singular.
    pub fn n(&self, one: &str, many: &str, count: i64) -> String {
        let form = usize::from(count != 1);
        let text = match self.lang {
            Lang::Nl => [one, many][form],
            Lang::En => catalogue()
                .get(one)
                .and_then(|e| e.get(form))
                .map(String::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or([one, many][form]),
        };
        fill(text, &[&count])
    }
}

/// Short for [`Tr::current`]: `tr().s("…")` in Rust code.
pub fn tr() -> Tr {
    Tr::current()
}

/// Marks a string for the catalogue where it is not translated on the spot
/// (a table of names, translated later with [`Tr::s`]).
pub const fn mark(msg: &'static str) -> &'static str {
    msg
}

/// `text` with `{0}`, `{1}`, ... replaced by `args`, in one pass (a value
/// that itself holds `{1}` stays as it is); other braces stay too.
fn fill(text: &str, args: &[&dyn Display]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let arg = after.find('}').and_then(|close| {
            let n: usize = after[..close].parse().ok()?;
            Some((args.get(n)?, close))
        });
        match arg {
            Some((a, close)) => {
                let _ = write!(out, "{a}");
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The English catalogue: msgid → msgstr forms (one, or two for a plural).
pub fn catalogue() -> &'static HashMap<String, Vec<String>> {
    static MAP: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    MAP.get_or_init(|| match parse_po(EN_PO) {
        Ok(entries) => entries
            .into_iter()
            .map(|e| (e.key(), e.msgstr))
            .collect(),
        Err(e) => {
            tracing::error!(error = %e, "server/translations/en.po does not parse; English falls back to Dutch");
            HashMap::new()
        }
    })
}

/// One entry of a PO file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoEntry {
    pub msgctxt: Option<String>,
    pub msgid: String,
    pub msgid_plural: Option<String>,
    /// `msgstr`, or `msgstr[0]`, `msgstr[1]`, ...
    pub msgstr: Vec<String>,
    /// Line of the `msgid`.
    pub line: usize,
}

impl PoEntry {
    /// The lookup key: the msgid, prefixed by `msgctxt` and U+0004 (gettext's
    /// own convention) when there is a context.
    pub fn key(&self) -> String {
        match &self.msgctxt {
            Some(c) => format!("{c}\u{4}{}", self.msgid),
            None => self.msgid.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoError {
    #[error("line {line}: {what}")]
    Syntax { line: usize, what: String },
}

/// Which part of an entry a PO line fills.
#[derive(Clone, Copy, PartialEq)]
enum PoField {
    Ctxt,
    Id,
    Plural,
    Str(usize),
}

fn po_append(e: &mut PoEntry, f: PoField, v: &str) {
    match f {
        PoField::Ctxt => e.msgctxt.get_or_insert_with(String::new).push_str(v),
        PoField::Id => e.msgid.push_str(v),
        PoField::Plural => e.msgid_plural.get_or_insert_with(String::new).push_str(v),
        PoField::Str(n) => {
            if e.msgstr.len() <= n {
                e.msgstr.resize(n + 1, String::new());
            }
            e.msgstr[n].push_str(v);
        }
    }
}

/// Parses a PO file (the subset gettext tools write: comments, `msgctxt`,
/// `msgid`, `msgid_plural`, `msgstr`, `msgstr[n]`, continued strings). The
/// header entry (empty msgid) is left out.
pub fn parse_po(text: &str) -> Result<Vec<PoEntry>, PoError> {
    let mut out = Vec::new();
    let mut cur = PoEntry::default();
    let mut field: Option<PoField> = None;
    let mut started = false;
    let finish = |cur: &mut PoEntry, out: &mut Vec<PoEntry>| {
        let done = std::mem::take(cur);
        if !done.msgid.is_empty() {
            out.push(done);
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        let err = |what: &str| PoError::Syntax {
            line: line_no,
            what: what.to_string(),
        };
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (keyword, rest) = match line.find(char::is_whitespace) {
            Some(p) if !line.starts_with('"') => (&line[..p], line[p..].trim()),
            _ => ("", line),
        };
        let value = unquote(rest).ok_or_else(|| err("expected a quoted string"))?;
        let new_field = match keyword {
            "" => {
                let f = field.ok_or_else(|| err("a string outside an entry"))?;
                po_append(&mut cur, f, &value);
                continue;
            }
            "msgctxt" => PoField::Ctxt,
            "msgid" => PoField::Id,
            "msgid_plural" => PoField::Plural,
            "msgstr" => PoField::Str(0),
            k if k.starts_with("msgstr[") && k.ends_with(']') => {
                let n = k["msgstr[".len()..k.len() - 1]
                    .parse::<usize>()
                    .map_err(|_| err("bad msgstr index"))?;
                PoField::Str(n)
            }
            _ => return Err(err("unknown keyword")),
        };
        // a new entry starts at msgctxt, or at msgid without a msgctxt before it
        let starts_entry = match new_field {
            PoField::Ctxt => true,
            PoField::Id => field != Some(PoField::Ctxt),
            _ => false,
        };
        if starts_entry {
            if started {
                finish(&mut cur, &mut out);
            }
            started = true;
        } else if !started {
            return Err(err("msgstr before msgid"));
        }
        if new_field == PoField::Id {
            cur.line = line_no;
        }
        field = Some(new_field);
        po_append(&mut cur, new_field, &value);
    }
    if started {
        finish(&mut cur, &mut out);
    }
    Ok(out)
}

/// The text of a C-style quoted PO string.
fn unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                _ => return None,
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Decides the request's language, and runs the rest of the request in it.
pub async fn middleware(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let headers = req.headers();
    let jar = axum_extra::extract::cookie::CookieJar::from_headers(headers);
    let lang = jar
        .get(LANG_COOKIE)
        .and_then(|c| Lang::parse(c.value()))
        .or_else(|| {
            headers
                .get(axum::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default();
    // A page answered to a POST (a form shown again with its error) has no
    // GET at its path (`/agenda/annuleren`): the switch goes back to the
    // start page instead of a 405.
    let here = if matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    ) {
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    } else {
        "/"
    };
    let tr = Tr {
        lang,
        here: std::sync::Arc::from(here),
    };
    scope(tr, next.run(req)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn po_entries_plurals_contexts_and_continuations() {
        let po = r#"# a comment
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"

#: server/templates/base.html
msgid "Foto's"
msgstr "Photos"

msgctxt "weekday"
msgid "ma"
msgstr "Mon"

msgid "1 foto"
msgid_plural "{0} foto's"
msgstr[0] "1 photo"
msgstr[1] "{0} photos"

msgid ""
"Zeg \"hallo\"\n"
"tegen "
msgstr "Say \"hello\"\nto "
"
"#;
        // the last line is broken on purpose: a lone quote
        let err = parse_po(po).expect_err("a lone quote");
        assert!(matches!(err, PoError::Syntax { line: 23, .. }), "{err:?}");
        let po = po.trim_end().trim_end_matches('"').to_string();
        let entries = parse_po(&po).expect("parses");
        assert_eq!(entries.len(), 4, "{entries:?}");
        assert_eq!(entries[0].msgid, "Foto's");
        assert_eq!(entries[0].msgstr, vec!["Photos"]);
        assert_eq!(entries[0].line, 7);
        assert_eq!(entries[1].key(), "weekday\u{4}ma");
        assert_eq!(entries[2].msgid_plural.as_deref(), Some("{0} foto's"));
        assert_eq!(entries[2].msgstr, vec!["1 photo", "{0} photos"]);
        assert_eq!(entries[3].msgid, "Zeg \"hallo\"\ntegen ");
        assert_eq!(entries[3].msgstr, vec!["Say \"hello\"\nto "]);
        assert!(parse_po("msgstr \"x\"").is_err(), "msgstr before msgid");
        assert!(parse_po("msgid x").is_err(), "unquoted");
        assert!(parse_po("msgfoo \"x\"").is_err(), "unknown keyword");
    }

    #[test]
    fn the_catalogue_parses() {
        parse_po(EN_PO).expect("server/translations/en.po parses");
        assert!(!catalogue().is_empty());
    }

    #[test]
    fn dutch_is_the_source_and_english_comes_from_the_catalogue() {
        let nl = Tr::new(Lang::Nl);
        let en = Tr::new(Lang::En);
        assert_eq!(nl.s("Uitloggen"), "Uitloggen");
        assert_eq!(en.s("Uitloggen"), "Sign out");
        assert_eq!(nl.s("niet in de catalogus"), "niet in de catalogus");
        assert_eq!(en.s("niet in de catalogus"), "niet in de catalogus");
        assert_eq!(nl.n("{0} maand", "{0} maanden", 1), "1 maand");
        assert_eq!(nl.n("{0} maand", "{0} maanden", 3), "3 maanden");
        assert_eq!(en.n("{0} maand", "{0} maanden", 1), "1 month");
        assert_eq!(en.n("{0} maand", "{0} maanden", 3), "3 months");
        assert_eq!(fill("{1} en {0}", &[&"a", &2]), "2 en a");
        assert_eq!(fill("{0} en {1}", &[&"{1}", &"b"]), "{1} en b", "one pass");
        assert_eq!(fill("{x} {5} {0", &[&"a"]), "{x} {5} {0");
    }

    #[test]
    fn accept_language_picks_our_best_language() {
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9"), Some(Lang::En));
        assert_eq!(
            Lang::from_accept_language("nl-NL,nl;q=0.9,en;q=0.8"),
            Some(Lang::Nl)
        );
        assert_eq!(
            Lang::from_accept_language("de-DE,en;q=0.5,nl;q=0.7"),
            Some(Lang::Nl)
        );
        assert_eq!(Lang::from_accept_language("fr, en;q=0"), None);
        assert_eq!(Lang::from_accept_language(""), None);
        assert_eq!(Lang::parse("EN_us"), Some(Lang::En));
        assert_eq!(Lang::parse("xx"), None);
    }

    #[tokio::test]
    async fn the_current_language_is_the_scope() {
        assert_eq!(Tr::current().lang(), Lang::Nl, "outside a request: Dutch");
        let inside = scope(Tr::new(Lang::En), async { Tr::current().lang() }).await;
        assert_eq!(inside, Lang::En);
    }
}
