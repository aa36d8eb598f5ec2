//! English is complete: every `@tr()` string in `ui/` has a non-empty English
//! translation in `ui/translations/en/LC_MESSAGES/kring.po`, and the catalogue
//! has no entries that the UI no longer uses. (Slint's context for a string is
//! the component or global it appears in, as `slint-tr-extractor` writes it.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Key = (String, String); // (context, msgid)

/// Reads a Slint string literal that starts at `s[0] == '"'`; returns it and its length.
fn literal(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    None
}

fn slint_strings(dir: &Path, found: &mut BTreeSet<Key>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            slint_strings(&path, found);
            continue;
        }
        if path.extension().is_none_or(|e| e != "slint") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut context = String::new();
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if !line.starts_with(' ') {
                let decl = match words.as_slice() {
                    ["export", "component" | "global", name, ..]
                    | ["component" | "global", name, ..] => Some(*name),
                    _ => None,
                };
                if let Some(name) = decl {
                    context = name.trim_end_matches('{').to_string();
                }
            }
            if line.trim_start().starts_with("//") {
                continue;
            }
            let mut rest = line;
            while let Some(at) = rest.find("@tr(") {
                rest = rest[at + 4..].trim_start();
                let (msgid, len) = literal(rest)
                    .unwrap_or_else(|| panic!("{}: unreadable @tr in {line:?}", path.display()));
                found.insert((context.clone(), msgid));
                rest = &rest[len..];
            }
        }
    }
}

/// The entries of a .po file: (context, msgid) -> every msgstr.
fn po_entries(text: &str) -> BTreeMap<Key, Vec<String>> {
    fn unquote(s: &str) -> String {
        literal(s.trim()).map(|(v, _)| v).unwrap_or_default()
    }
    let mut out = BTreeMap::new();
    for block in text.split("\n\n") {
        let mut ctx = String::new();
        let mut id = String::new();
        let mut strs: Vec<String> = Vec::new();
        let mut current: Option<&mut String> = None;
        for line in block.lines() {
            if line.starts_with('#') {
                continue;
            }
            if let Some(v) = line.strip_prefix("msgctxt ") {
                ctx = unquote(v);
                current = Some(&mut ctx);
            } else if let Some(v) = line.strip_prefix("msgid_plural ") {
                let _ = unquote(v);
                current = None;
            } else if let Some(v) = line.strip_prefix("msgid ") {
                id = unquote(v);
                current = Some(&mut id);
            } else if line.starts_with("msgstr") {
                let v = line.split_once(' ').map(|(_, v)| v).unwrap_or("");
                strs.push(unquote(v));
                current = None;
            } else if line.starts_with('"') {
                match current.as_deref_mut() {
                    Some(s) => s.push_str(&unquote(line)),
                    None => {
                        if let Some(last) = strs.last_mut() {
                            last.push_str(&unquote(line));
                        }
                    }
                }
            }
        }
        if !id.is_empty() {
            out.insert((ctx, id), strs);
        }
    }
    out
}

#[test]
fn english_is_complete_and_has_nothing_stale() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut used = BTreeSet::new();
    slint_strings(&root.join("ui"), &mut used);
    assert!(used.len() > 150, "found only {} strings", used.len());
    let po = std::fs::read_to_string(root.join("ui/translations/en/LC_MESSAGES/kring.po")).unwrap();
    let entries = po_entries(&po);
    let missing: Vec<&Key> = used
        .iter()
        .filter(|k| {
            entries
                .get(*k)
                .is_none_or(|s| s.is_empty() || s.iter().any(|v| v.is_empty()))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "not translated to English: {missing:#?}"
    );
    let stale: Vec<&Key> = entries.keys().filter(|k| !used.contains(*k)).collect();
    assert!(stale.is_empty(), "translations no longer used: {stale:#?}");
}

#[test]
fn the_po_reader_joins_continued_lines() {
    let e = po_entries(
        "msgctxt \"A\"\nmsgid \"\"\n\"lang \"\n\"verhaal\"\nmsgstr \"\"\n\"long \"\n\"story\"\n",
    );
    assert_eq!(
        e.get(&("A".into(), "lang verhaal".into())),
        Some(&vec!["long story".to_string()])
    );
}
