//! The catalogue's guards: every string the portal translates has an English
//! translation, the catalogue holds nothing that is no longer used, and no
//! template shows text that bypasses the catalogue.
//!
//! Adding a string: write `{{ l.t.s("…") }}` in a template (or `tr().s("…")`,
//! `.f("… {0}", x)`, `.n("één", "{0} meer", n)` in Rust), add the entry to
//! `server/translations/en.po`; `translations_are_complete` lists what is
//! missing.

use super::i18n::{PoEntry, parse_po};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Templates and sources another branch is changing; converted after the
/// merge. Empty this list then: the tests below cover them from then on.
const NOT_YET_TRANSLATED: &[&str] = &[];

/// Words that may stand in a template as they are.
const UNTRANSLATED_WORDS: &[&str] = &["kring"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
    out.sort();
}

fn relative(p: &Path) -> String {
    p.strip_prefix(root())
        .unwrap_or(p)
        .to_string_lossy()
        .replace('\\', "/")
}

/// A string literal at the start of `s` (after spaces): its text, and the
/// rest after it. Rust escapes (`\n`, `\"`, `\\`, `\'`, a line continuation).
fn literal(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                '\n' => {
                    // a continued line: the next line's leading spaces go too
                    let rest = &body[i + 2..];
                    let skip = rest.len() - rest.trim_start().len();
                    for _ in 0..rest[..skip].chars().count() {
                        chars.next();
                    }
                }
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
    None
}

/// `text` without its `#[cfg(test)]` items (a test module, a test fn).
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(open) = after.find('{') else {
            return out;
        };
        let mut depth = 0usize;
        let mut end = after.len();
        let mut in_str = false;
        let mut prev = ' ';
        for (i, c) in after[open..].char_indices() {
            match c {
                '"' if prev != '\\' && prev != '\'' => in_str = !in_str,
                '{' if !in_str => depth += 1,
                '}' if !in_str => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// A use of the catalogue: msgid, and the plural msgid for `n`.
type Use = (String, Option<String>);

/// Every catalogue call in `text`: `.s("…")`, `.f("…"`, `.f2("…"`,
/// `.f3("…"`, `.n("…", "…"`, `mark("…")`; with where it stands.
fn calls(text: &str, file: &str, out: &mut BTreeMap<Use, String>) {
    for marker in [".s(", ".f(", ".f2(", ".f3(", ".n(", "mark("] {
        let mut from = 0;
        while let Some(at) = text[from..].find(marker) {
            let start = from + at + marker.len();
            from = start;
            let Some((msgid, rest)) = literal(&text[start..]) else {
                continue;
            };
            let plural = if marker == ".n(" {
                rest.trim_start()
                    .strip_prefix(',')
                    .and_then(literal)
                    .map(|(p, _)| p)
            } else {
                None
            };
            let line = text[..start].lines().count();
            out.entry((msgid, plural))
                .or_insert_with(|| format!("{file}:{line}"));
        }
    }
}

/// Every catalogue use in the templates and the portal's Rust code.
fn used() -> BTreeMap<Use, String> {
    let mut paths = Vec::new();
    files(&root().join("templates"), "html", &mut paths);
    files(&root().join("src/portal"), "rs", &mut paths);
    let mut out = BTreeMap::new();
    for p in paths {
        let name = relative(&p);
        if name.ends_with("i18n.rs") || name.ends_with("i18n_tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("read a source");
        let text = if name.ends_with(".rs") {
            without_tests(&text)
        } else {
            text
        };
        calls(&text, &name, &mut out);
    }
    out
}

fn catalogue() -> Vec<PoEntry> {
    let text = std::fs::read_to_string(root().join("translations/en.po")).expect("en.po");
    parse_po(&text).expect("en.po parses")
}

fn placeholders(s: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_digit()) => {
                out.insert(after[..close].to_string());
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    out
}

#[test]
fn the_scanner_finds_calls_and_skips_tests() {
    let src = r#"
fn a() { tr().s("Eén"); t.f2("{0} en {1}", a, b); x.n("{0} foto", "{0} foto's", n); }
const D: &str = mark("ma");
fn b() { t.s("Regel \"een\"\n\
          twee"); }
#[cfg(test)]
mod tests { fn c() { t.s("Alleen in een test"); let s = "{"; } }
fn d() { t.s("Na de test"); }
"#;
    let mut out = BTreeMap::new();
    calls(&without_tests(src), "x.rs", &mut out);
    let ids: Vec<_> = out.keys().cloned().collect();
    assert!(ids.contains(&("Eén".into(), None)), "{ids:?}");
    assert!(ids.contains(&("{0} en {1}".into(), None)));
    assert!(ids.contains(&("{0} foto".into(), Some("{0} foto's".into()))));
    assert!(ids.contains(&("ma".into(), None)));
    assert!(
        ids.contains(&("Regel \"een\"\ntwee".into(), None)),
        "{ids:?}"
    );
    assert!(ids.contains(&("Na de test".into(), None)));
    assert!(!ids.iter().any(|(m, _)| m.contains("Alleen")));
    assert_eq!(ids.len(), 6);
}

/// Fails on a string without an English translation, and on catalogue
/// entries nothing uses any more.
#[test]
fn translations_are_complete() {
    let used = used();
    assert!(used.len() > 300, "the scanner found only {}", used.len());
    let entries = catalogue();
    let by_id: BTreeMap<&str, &PoEntry> = entries.iter().map(|e| (e.msgid.as_str(), e)).collect();
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for e in &entries {
        if !seen.insert(e.key()) {
            problems.push(format!(
                "en.po:{}: {:?} is in the catalogue twice",
                e.line, e.msgid
            ));
        }
    }
    for ((msgid, plural), at) in &used {
        let Some(e) = by_id.get(msgid.as_str()) else {
            problems.push(format!("{at}: no translation for {msgid:?}"));
            continue;
        };
        let forms = if plural.is_some() { 2 } else { 1 };
        if e.msgid_plural != *plural {
            problems.push(format!(
                "en.po:{}: {msgid:?} has msgid_plural {:?}, the code {plural:?}",
                e.line, e.msgid_plural
            ));
        }
        if e.msgstr.len() != forms || e.msgstr.iter().any(|s| s.trim().is_empty()) {
            problems.push(format!("en.po:{}: {msgid:?} has no English text", e.line));
        }
        let want = placeholders(msgid);
        for s in &e.msgstr {
            if placeholders(s) != want {
                problems.push(format!(
                    "en.po:{}: {s:?} does not have the placeholders {want:?} of {msgid:?}",
                    e.line
                ));
            }
        }
    }
    let used_ids: BTreeSet<&str> = used.keys().map(|(m, _)| m.as_str()).collect();
    for e in &entries {
        if !used_ids.contains(e.msgid.as_str()) {
            problems.push(format!(
                "en.po:{}: {:?} is no longer used: remove it",
                e.line, e.msgid
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} translation problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// `s` with every `open … close` span replaced by a space.
fn cut(s: &str, open: &str, close: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(a) = rest.find(open) {
        out.push_str(&rest[..a]);
        out.push(' ');
        match rest[a + open.len()..].find(close) {
            Some(b) => rest = &rest[a + open.len() + b + close.len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

fn has_letters(s: &str) -> bool {
    let s = cut(s, "&", ";");
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().any(char::is_alphabetic))
        .any(|w| !UNTRANSLATED_WORDS.contains(&w.to_lowercase().as_str()))
}

/// The visible text of a template outside the catalogue: what is left
/// after askama's blocks, tags (but not the visible attributes), `<style>`
/// and `<code>` (file names, column names) are taken out.
fn bypassing_text(template: &str) -> Vec<String> {
    let mut s = template.to_string();
    for (open, close) in [("{#", "#}"), ("{%", "%}"), ("{{", "}}"), ("<!--", "-->")] {
        s = cut(&s, open, close);
    }
    for (open, close) in [("<style", "</style>"), ("<code>", "</code>")] {
        s = cut(&s, open, close);
    }
    let mut found = Vec::new();
    let mut text = String::new();
    let mut rest = s.as_str();
    while let Some(a) = rest.find('<') {
        text.push_str(&rest[..a]);
        text.push(' ');
        let Some(b) = rest[a..].find('>') else {
            break;
        };
        let tag = &rest[a..a + b + 1];
        let button = tag.starts_with("<button")
            || tag.contains("type=\"submit\"")
            || tag.contains("type=\"button\"");
        for attr in ["placeholder", "title", "alt", "aria-label", "value"] {
            if attr == "value" && !button {
                continue;
            }
            let key = format!(" {attr}=\"");
            if let Some(v) = tag.find(&key) {
                let v = &tag[v + key.len()..];
                let v = &v[..v.find('"').unwrap_or(v.len())];
                if has_letters(v) {
                    found.push(format!("{attr}=\"{v}\""));
                }
            }
        }
        rest = &rest[a + b + 1..];
    }
    text.push_str(rest);
    for line in text.lines() {
        if has_letters(line) {
            found.push(line.trim().to_string());
        }
    }
    found
}

#[test]
fn the_text_check_sees_text_and_visible_attributes() {
    let t = r#"<p>{{ l.t.s("Goed") }} · {{ n }}</p>
<p>Fout</p><img alt="Ook fout" src="/x"><img alt="{{ l.t.s("goed") }}">
<input type="submit" value="Versturen"><input type="checkbox" value="ja">
{% if a == "tekst" %}<code>fotos</code>{% endif %}{# commentaar #}&nbsp;kring"#;
    assert_eq!(
        bypassing_text(t),
        vec!["alt=\"Ook fout\"", "value=\"Versturen\"", "Fout"]
    );
}

/// Fails on words in a template that do not go through the catalogue.
#[test]
fn templates_show_no_text_outside_the_catalogue() {
    let mut paths = Vec::new();
    files(&root().join("templates"), "html", &mut paths);
    assert!(paths.len() > 30);
    let mut problems = Vec::new();
    for p in paths {
        let name = relative(&p);
        if NOT_YET_TRANSLATED.contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("read a template");
        for t in bypassing_text(&text) {
            problems.push(format!("{name}: {t:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "text outside the catalogue (use {{{{ l.t.s(\"…\") }}}}):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_excluded_files_exist() {
    for f in NOT_YET_TRANSLATED {
        assert!(root().join(f).exists(), "{f} is gone: take it off the list");
    }
}
