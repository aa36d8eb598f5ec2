//! SQLite: the portal's data (accounts, sessions, reset tokens) and the
//! per-object reads for a parent, decided at read time (see [`crate::portal`]).

use super::conn::{DbError, parse_date, parse_id, parse_time, time_str};
use super::feed::parse_consent;
use crate::org::ParentRole;
use crate::portal::*;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use kring_protocol::{ChildId, ConsentedChild, GroupId, OrganisationId, ParentId, PhotoId};
use rusqlite::{Connection, OptionalExtension, params};

// ---------------------------------------------------------------------------
// Accounts

pub fn tenant_by_slug(c: &Connection, slug: &str) -> Result<Option<Tenant>, DbError> {
    let row: Option<(String, String, String)> = c
        .query_row(
            "SELECT id, name, time_zone FROM organisations WHERE slug = ?1",
            params![slug],
            |r| r.try_into(),
        )
        .optional()?;
    row.map(|(id, name, time_zone)| {
        Ok(Tenant {
            id: parse_id("organisations.id", &id)?,
            slug: slug.to_string(),
            name,
            calendar: super::calendar_of(&time_zone),
        })
    })
    .transpose()
}

type AccountRow = (String, String, String, Option<String>, bool, bool);

fn account_from(
    kind: UserKind,
    org: &OrganisationId,
    row: AccountRow,
) -> Result<(Account, Option<String>), DbError> {
    let (id, name, email, hash, must, manager) = row;
    Ok((
        Account {
            kind,
            id: parse_id("account id", &id)?,
            org: *org,
            name,
            email,
            must_change_password: must,
            is_manager: manager,
        },
        hash,
    ))
}

/// The account with this e-mail address in `org`, with its password hash.
/// Parents first; staff only when they are a manager with a password.
pub fn find_login(
    c: &Connection,
    org: &OrganisationId,
    email: &str,
) -> Result<Option<(Account, String)>, DbError> {
    let email = email.trim().to_lowercase();
    let parent: Option<AccountRow> = c
        .query_row(
            "SELECT id, name, email, password_hash, must_change_password, 0 FROM parents
             WHERE organisation_id = ?1 AND email = ?2",
            params![org.to_string(), email],
            |r| r.try_into(),
        )
        .optional()?;
    if let Some(row) = parent {
        let (a, h) = account_from(UserKind::Parent, org, row)?;
        return Ok(h.map(|h| (a, h)));
    }
    let staff: Option<AccountRow> = c
        .query_row(
            "SELECT id, name, email, password_hash, must_change_password, role = 'manager' FROM staff
             WHERE organisation_id = ?1 AND lower(email) = ?2 AND role = 'manager'
               AND password_hash IS NOT NULL",
            params![org.to_string(), email],
            |r| r.try_into(),
        )
        .optional()?;
    match staff {
        Some(row) => {
            let (a, h) = account_from(UserKind::Staff, org, row)?;
            Ok(h.map(|h| (a, h)))
        }
        None => Ok(None),
    }
}

/// The account by kind and id, in `org` only.
pub fn load_account(
    c: &Connection,
    org: &OrganisationId,
    kind: UserKind,
    id: &str,
) -> Result<Option<Account>, DbError> {
    let sql = match kind {
        UserKind::Parent => {
            "SELECT id, name, email, password_hash, must_change_password, 0 FROM parents
             WHERE organisation_id = ?1 AND id = ?2"
        }
        UserKind::Staff => {
            "SELECT id, name, COALESCE(email, ''), password_hash, must_change_password, role = 'manager'
             FROM staff WHERE organisation_id = ?1 AND id = ?2 AND role = 'manager'"
        }
    };
    let row: Option<AccountRow> = c
        .query_row(sql, params![org.to_string(), id], |r| r.try_into())
        .optional()?;
    row.map(|r| account_from(kind, org, r).map(|(a, _)| a))
        .transpose()
}

/// The stored password hash of an account.
pub fn password_hash(c: &Connection, account: &Account) -> Result<Option<String>, DbError> {
    let sql = match account.kind {
        UserKind::Parent => "SELECT password_hash FROM parents WHERE id = ?1",
        UserKind::Staff => "SELECT password_hash FROM staff WHERE id = ?1",
    };
    Ok(
        c.query_row(sql, params![account.id.to_string()], |r| r.get(0))
            .optional()?
            .flatten(),
    )
}

/// Stores a new password hash, clears the forced change, and ends every
/// other session of the account (a stolen session dies with the old password).
pub fn set_password(
    c: &Connection,
    account: &Account,
    hash: &str,
    keep_session: Option<&str>,
) -> Result<(), DbError> {
    let sql = match account.kind {
        UserKind::Parent => {
            "UPDATE parents SET password_hash = ?2, must_change_password = 0 WHERE id = ?1"
        }
        UserKind::Staff => {
            "UPDATE staff SET password_hash = ?2, must_change_password = 0 WHERE id = ?1"
        }
    };
    c.execute(sql, params![account.id.to_string(), hash])?;
    c.execute(
        "DELETE FROM sessions WHERE user_kind = ?1 AND user_id = ?2 AND token_hash != ?3",
        params![
            account.kind.as_str(),
            account.id.to_string(),
            keep_session.map(sha256_hex).unwrap_or_default()
        ],
    )?;
    // a new password ends every reset link still in a mailbox
    c.execute(
        "DELETE FROM password_resets WHERE user_kind = ?1 AND user_id = ?2 AND used_at IS NULL",
        params![account.kind.as_str(), account.id.to_string()],
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Sessions and reset tokens

/// Starts a session; returns the cookie token.
pub fn create_session(
    c: &Connection,
    account: &Account,
    now: DateTime<Utc>,
    times: SessionTimes,
) -> Result<String, DbError> {
    let token = random_token();
    c.execute(
        "INSERT INTO sessions (token_hash, organisation_id, user_kind, user_id, csrf_token,
                               created_at, last_seen_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
        params![
            sha256_hex(&token),
            account.org.to_string(),
            account.kind.as_str(),
            account.id.to_string(),
            random_token(),
            time_str(now),
            time_str(now + times.absolute)
        ],
    )?;
    // Housekeeping on the way (the server's housekeeping does it too).
    sweep_sessions(c, now, times)?;
    Ok(token)
}

/// The session of `token` on `org`, if it exists, belongs to `org` and has
/// not expired (idle or absolute). Marks it used.
pub fn load_session(
    c: &Connection,
    org: &OrganisationId,
    token: &str,
    now: DateTime<Utc>,
    times: SessionTimes,
) -> Result<Option<Session>, DbError> {
    let hash = sha256_hex(token);
    let row: Option<(String, String, String, String, String, String)> = c
        .query_row(
            "SELECT organisation_id, user_kind, user_id, csrf_token, last_seen_at, expires_at
             FROM sessions WHERE token_hash = ?1",
            params![hash],
            |r| r.try_into(),
        )
        .optional()?;
    let Some((session_org, kind, user, csrf, last_seen, expires)) = row else {
        return Ok(None);
    };
    if session_org != org.to_string() {
        // A cookie of another organisation: nothing here.
        return Ok(None);
    }
    let last_seen = parse_time("sessions.last_seen_at", &last_seen)?;
    let expires = parse_time("sessions.expires_at", &expires)?;
    if now >= expires || now - last_seen >= times.idle {
        c.execute("DELETE FROM sessions WHERE token_hash = ?1", params![hash])?;
        return Ok(None);
    }
    let Some(kind) = UserKind::parse(&kind) else {
        return Ok(None);
    };
    let Some(account) = load_account(c, org, kind, &user)? else {
        return Ok(None);
    };
    // Write at most once a minute.
    if now - last_seen >= Duration::minutes(1) {
        c.execute(
            "UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
            params![hash, time_str(now)],
        )?;
    }
    Ok(Some(Session { account, csrf }))
}

/// Removes expired sessions and old reset tokens; returns how many sessions went.
pub fn sweep_sessions(
    c: &Connection,
    now: DateTime<Utc>,
    times: SessionTimes,
) -> Result<usize, DbError> {
    let n = c.execute(
        "DELETE FROM sessions WHERE expires_at < ?1 OR last_seen_at < ?2",
        params![time_str(now), time_str(now - times.idle)],
    )?;
    c.execute(
        "DELETE FROM password_resets WHERE expires_at < ?1",
        params![time_str(now - Duration::days(1))],
    )?;
    Ok(n)
}

pub fn delete_session(c: &Connection, token: &str) -> Result<(), DbError> {
    c.execute(
        "DELETE FROM sessions WHERE token_hash = ?1",
        params![sha256_hex(token)],
    )?;
    Ok(())
}

/// Makes a single-use reset token for `account`; returns the token for the link.
pub fn create_reset(
    c: &Connection,
    account: &Account,
    now: DateTime<Utc>,
    valid: Duration,
) -> Result<String, DbError> {
    let token = random_token();
    c.execute(
        "INSERT INTO password_resets (token_hash, organisation_id, user_kind, user_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            sha256_hex(&token),
            account.org.to_string(),
            account.kind.as_str(),
            account.id.to_string(),
            time_str(now),
            time_str(now + valid)
        ],
    )?;
    Ok(token)
}

/// The account a reset token is for, if unused, unexpired and of `org`.
/// With `consume`, marks it used (in the caller's transaction).
pub fn check_reset(
    c: &Connection,
    org: &OrganisationId,
    token: &str,
    now: DateTime<Utc>,
    consume: bool,
) -> Result<Option<Account>, DbError> {
    let hash = sha256_hex(token);
    let row: Option<(String, String)> = c
        .query_row(
            "SELECT user_kind, user_id FROM password_resets
             WHERE token_hash = ?1 AND organisation_id = ?2 AND used_at IS NULL AND expires_at > ?3",
            params![hash, org.to_string(), time_str(now)],
            |r| r.try_into(),
        )
        .optional()?;
    let Some((kind, user)) = row else {
        return Ok(None);
    };
    let Some(kind) = UserKind::parse(&kind) else {
        return Ok(None);
    };
    let account = load_account(c, org, kind, &user)?;
    if consume && account.is_some() {
        c.execute(
            "UPDATE password_resets SET used_at = ?2 WHERE token_hash = ?1",
            params![hash, time_str(now)],
        )?;
    }
    Ok(account)
}

// ---------------------------------------------------------------------------
// A parent's children

/// Placements of `child` that are current on `today`.
pub fn current_placements(
    c: &Connection,
    child: &ChildId,
    today: NaiveDate,
) -> Result<Vec<Placement>, DbError> {
    let rows: Vec<(String, String, String, Option<String>, String)> = c
        .prepare(
            "SELECT p.group_id, g.name, p.start_date, p.end_date, p.days FROM placements p
             JOIN groups g ON g.id = p.group_id
             WHERE p.child_id = ?1 AND p.start_date <= ?2 AND (p.end_date IS NULL OR p.end_date >= ?2)
             ORDER BY p.start_date",
        )?
        .query_map(params![child.to_string(), today.to_string()], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(g, name, start, end, days)| {
            Ok(Placement {
                group: parse_id("placements.group_id", &g)?,
                group_name: name,
                start: parse_date("placements.start_date", &start)?,
                end: end
                    .map(|e| parse_date("placements.end_date", &e))
                    .transpose()?,
                days,
            })
        })
        .collect()
}

/// All children linked to `parent` (also those whose placement ended).
pub fn parent_children(
    c: &Connection,
    parent: &ParentId,
    today: NaiveDate,
) -> Result<Vec<MyChild>, DbError> {
    let rows: Vec<(String, String, String, String, String, String)> = c
        .prepare(
            "SELECT c.id, c.first_name, c.last_name, c.birth_date, c.photo_consent, cp.role
             FROM children c JOIN child_parents cp ON cp.child_id = c.id
             WHERE cp.parent_id = ?1 ORDER BY c.birth_date, c.first_name",
        )?
        .query_map(params![parent.to_string()], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(id, first, last, birth, consent, role)| {
            let id: ChildId = parse_id("children.id", &id)?;
            Ok(MyChild {
                placements: current_placements(c, &id, today)?,
                id,
                first_name: first,
                last_name: last,
                birth_date: parse_date("children.birth_date", &birth)?,
                consent: parse_consent(&consent)?,
                role: if role == "first" {
                    ParentRole::First
                } else {
                    ParentRole::Second
                },
            })
        })
        .collect()
}

/// The parent's child `child`, or None when it is not theirs.
pub fn my_child(
    c: &Connection,
    parent: &ParentId,
    child: &ChildId,
    today: NaiveDate,
) -> Result<Option<MyChild>, DbError> {
    Ok(parent_children(c, parent, today)?
        .into_iter()
        .find(|k| k.id == *child))
}

// ---------------------------------------------------------------------------
// Photos

fn load_photo(c: &Connection, id: &str) -> Result<Option<PhotoRow>, DbError> {
    type Row = (String, String, String, String, u32, u32, bool, String);
    let row: Option<Row> = c
        .query_row(
            "SELECT id, group_id, blob_key, thumb_key, width, height, no_children_recognizable, received_at
             FROM photos WHERE id = ?1",
            params![id],
            |r| r.try_into(),
        )
        .optional()?;
    let Some((id, group, blob, thumb, w, h, ncr, received)) = row else {
        return Ok(None);
    };
    let tags: Vec<(String, String)> = c
        .prepare(
            "SELECT c.id, c.photo_consent FROM photo_tags t JOIN children c ON c.id = t.child_id
             WHERE t.photo_id = ?1 ORDER BY c.id",
        )?
        .query_map(params![id], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    let tags = tags
        .into_iter()
        .map(|(cid, consent)| {
            Ok(ConsentedChild {
                id: parse_id("photo_tags.child_id", &cid)?,
                consent: parse_consent(&consent)?,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(Some(PhotoRow {
        id: parse_id("photos.id", &id)?,
        group: parse_id("photos.group_id", &group)?,
        blob_key: blob,
        thumb_key: thumb,
        width: w,
        height: h,
        no_children_recognizable: ncr,
        received_at: parse_time("photos.received_at", &received)?,
        tags,
    }))
}

/// The photo, if `parent` may see it now.
pub fn photo_for_parent(
    c: &Connection,
    parent: &ParentId,
    photo: &str,
    today: NaiveDate,
) -> Result<Option<PhotoRow>, DbError> {
    if uuid::Uuid::parse_str(photo).is_err() {
        return Ok(None);
    }
    let Some(row) = load_photo(c, photo)? else {
        return Ok(None);
    };
    let children = parent_children(c, parent, today)?;
    Ok((!photo_visible_for(&row, &children).is_empty()).then_some(row))
}

// ---------------------------------------------------------------------------
// Diary

fn load_diary(
    c: &Connection,
    id: &str,
    children: &[MyChild],
) -> Result<Option<DiaryView>, DbError> {
    type Row = (String, String, String, String, Option<String>, String);
    let row: Option<Row> = c
        .query_row(
            "SELECT group_id, author_kind, author_name, text, baby_json, written_at
             FROM diary_entries WHERE id = ?1",
            params![id],
            |r| r.try_into(),
        )
        .optional()?;
    let Some((group, kind, author, text, baby, written)) = row else {
        return Ok(None);
    };
    let group: GroupId = parse_id("diary_entries.group_id", &group)?;
    let about: Vec<String> = c
        .prepare("SELECT child_id FROM diary_children WHERE entry_id = ?1")?
        .query_map(params![id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mine: Vec<ChildId> = children
        .iter()
        .filter(|k| about.contains(&k.id.to_string()))
        .filter(|k| k.placements.iter().any(|p| p.group == group))
        .map(|k| k.id)
        .collect();
    if mine.is_empty() {
        return Ok(None);
    }
    let photo_ids: Vec<String> = c
        .prepare("SELECT photo_id FROM diary_photos WHERE entry_id = ?1 ORDER BY photo_id")?
        .query_map(params![id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut photos = Vec::new();
    for p in photo_ids {
        if let Some(row) = load_photo(c, &p)?
            && !photo_visible_for(&row, children).is_empty()
        {
            photos.push(row.id);
        }
    }
    Ok(Some(DiaryView {
        id: parse_id("diary_entries.id", id)?,
        group,
        author_name: author,
        by_parent: kind == "parent",
        text,
        baby_json: baby,
        written_at: parse_time("diary_entries.written_at", &written)?,
        children: mine,
        photos,
    }))
}

/// The diary entry, if it is about one of the parent's children with a
/// current placement on the entry's group.
pub fn diary_for_parent(
    c: &Connection,
    parent: &ParentId,
    entry: &str,
    today: NaiveDate,
) -> Result<Option<DiaryView>, DbError> {
    if uuid::Uuid::parse_str(entry).is_err() {
        return Ok(None);
    }
    let children = parent_children(c, parent, today)?;
    load_diary(c, entry, &children)
}

// ---------------------------------------------------------------------------
// Timeline

/// Photos and diary entries of the parent's children (all, or `only` one),
/// newest first, at most `limit`, all older than `before` when given (the
/// next page: `before` is the time of the last item shown).
pub fn timeline(
    c: &Connection,
    parent: &ParentId,
    only: Option<&ChildId>,
    today: NaiveDate,
    limit: usize,
    before: Option<DateTime<Utc>>,
) -> Result<Vec<TimelineItem>, DbError> {
    // far in the future: no page boundary
    let before = before.map_or_else(|| "9999".to_string(), crate::db::time_str);
    let mut children = parent_children(c, parent, today)?;
    if let Some(only) = only {
        children.retain(|k| k.id == *only);
    }
    let mut items = Vec::new();
    let groups: std::collections::BTreeSet<GroupId> = children
        .iter()
        .flat_map(|k| k.placements.iter().map(|p| p.group))
        .collect();
    for g in &groups {
        let photo_ids: Vec<String> = c
            .prepare(
                "SELECT id FROM photos WHERE group_id = ?1 AND received_at < ?2
                 ORDER BY received_at DESC LIMIT 500",
            )?
            .query_map(params![g.to_string(), before], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in photo_ids {
            if let Some(photo) = load_photo(c, &id)? {
                let who = photo_visible_for(&photo, &children);
                if !who.is_empty() {
                    items.push(TimelineItem::Photo {
                        photo,
                        children: who,
                    });
                }
            }
        }
    }
    let ids: Vec<String> = {
        let mut out = Vec::new();
        for k in &children {
            let rows: Vec<String> = c
                .prepare(
                    "SELECT d.id FROM diary_entries d JOIN diary_children dc ON dc.entry_id = d.id
                     WHERE dc.child_id = ?1 AND d.written_at < ?2
                     ORDER BY d.written_at DESC LIMIT 500",
                )?
                .query_map(params![k.id.to_string(), before], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            out.extend(rows);
        }
        out.sort();
        out.dedup();
        out
    };
    for id in ids {
        if let Some(d) = load_diary(c, &id, &children)? {
            items.push(TimelineItem::Diary(d));
        }
    }
    // A photo that belongs to a diary entry on the timeline is shown there, once.
    let in_diary: std::collections::HashSet<PhotoId> = items
        .iter()
        .filter_map(|i| match i {
            TimelineItem::Diary(d) => Some(d.photos.iter().copied()),
            TimelineItem::Photo { .. } => None,
        })
        .flatten()
        .collect();
    items.retain(|i| match i {
        TimelineItem::Photo { photo, .. } => !in_diary.contains(&photo.id),
        TimelineItem::Diary(_) => true,
    });
    items.sort_by_key(|i| std::cmp::Reverse(i.at()));
    items.truncate(limit);
    Ok(items)
}

// ---------------------------------------------------------------------------
// Messages

type MessageRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
);

const MESSAGE_COLUMNS: &str = "m.id, m.group_id, g.name, m.child_id, m.author_kind, m.author_name,
     m.body, m.sent_at, m.read_by_group_at";

fn message_from(row: MessageRow) -> Result<MessageView, DbError> {
    let (id, group, group_name, child, kind, author, body, sent, read) = row;
    Ok(MessageView {
        id: parse_id("messages.id", &id)?,
        group: parse_id("messages.group_id", &group)?,
        group_name,
        child: child
            .map(|c| parse_id("messages.child_id", &c))
            .transpose()?,
        from_parent: kind == "parent",
        author_name: author,
        body,
        sent_at: parse_time("messages.sent_at", &sent)?,
        read_by_group_at: read
            .map(|r| parse_time("messages.read_by_group_at", &r))
            .transpose()?,
    })
}

fn message_rows(
    c: &Connection,
    where_sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<MessageView>, DbError> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN groups g ON g.id = m.group_id WHERE {where_sql}
         ORDER BY m.sent_at, m.id"
    );
    let rows: Vec<MessageRow> = c
        .prepare(&sql)?
        .query_map(args, |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter().map(message_from).collect()
}

/// The thread about `child` (its messages and the group messages of its
/// current groups), oldest first; None when it is not the parent's child.
pub fn thread_for_parent(
    c: &Connection,
    parent: &ParentId,
    child: &ChildId,
    today: NaiveDate,
) -> Result<Option<(MyChild, Vec<MessageView>)>, DbError> {
    let Some(kid) = my_child(c, parent, child, today)? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for p in &kid.placements {
        let g = p.group.to_string();
        let k = kid.id.to_string();
        out.extend(message_rows(
            c,
            "m.group_id = ?1 AND (m.child_id = ?2 OR m.child_id IS NULL)",
            &[&g, &k],
        )?);
    }
    let kids = std::slice::from_ref(&kid);
    out.retain(|m| message_visible(m, kids));
    out.sort_by_key(|m| m.sent_at);
    Ok(Some((kid, out)))
}

/// One message, if the parent may see it.
pub fn message_for_parent(
    c: &Connection,
    parent: &ParentId,
    id: &str,
    today: NaiveDate,
) -> Result<Option<MessageView>, DbError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Ok(None);
    }
    let found = message_rows(c, "m.id = ?1", &[&id])?;
    let children = parent_children(c, parent, today)?;
    Ok(found.into_iter().find(|m| message_visible(m, &children)))
}

// ---------------------------------------------------------------------------
// Absences, consents, notifications, documents

pub fn absences_of(c: &Connection, child: &ChildId) -> Result<Vec<AbsenceView>, DbError> {
    type Row = (String, String, String, String, String, Option<String>, bool);
    let rows: Vec<Row> = c
        .prepare(
            "SELECT id, from_date, to_date, part_of_day, reason, note, cancelled FROM absences
             WHERE child_id = ?1 ORDER BY from_date DESC, created_at DESC LIMIT 100",
        )?
        .query_map(params![child.to_string()], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(id, from, to, part, reason, note, cancelled)| {
            Ok(AbsenceView {
                id,
                child: *child,
                from: parse_date("absences.from_date", &from)?,
                to: parse_date("absences.to_date", &to)?,
                part_of_day: part,
                reason,
                note,
                cancelled,
            })
        })
        .collect()
}

/// The child an absence belongs to, if the absence exists.
pub fn absence_child(
    c: &Connection,
    absence: &str,
) -> Result<Option<(ChildId, NaiveDate, bool)>, DbError> {
    let row: Option<(String, String, bool)> = c
        .query_row(
            "SELECT child_id, to_date, cancelled FROM absences WHERE id = ?1",
            params![absence],
            |r| r.try_into(),
        )
        .optional()?;
    row.map(|(child, to, cancelled)| {
        Ok((
            parse_id("absences.child_id", &child)?,
            parse_date("absences.to_date", &to)?,
            cancelled,
        ))
    })
    .transpose()
}

pub fn consent_history(c: &Connection, child: &ChildId) -> Result<Vec<ConsentChange>, DbError> {
    let rows: Vec<(String, String, String)> = c
        .prepare(
            "SELECT consent, changed_by, changed_at FROM consent_history WHERE child_id = ?1
             ORDER BY changed_at DESC, id DESC",
        )?
        .query_map(params![child.to_string()], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(consent, by, at)| {
            Ok(ConsentChange {
                consent: parse_consent(&consent)?,
                changed_by: by,
                changed_at: parse_time("consent_history.changed_at", &at)?,
            })
        })
        .collect()
}

/// Per kind: e-mail on? (No row: on.)
pub fn notification_prefs(
    c: &Connection,
    parent: &ParentId,
) -> Result<Vec<(&'static str, bool)>, DbError> {
    NOTIFY_KINDS
        .iter()
        .map(|kind| {
            let on: Option<bool> = c
                .query_row(
                    "SELECT email FROM notification_prefs WHERE parent_id = ?1 AND kind = ?2",
                    params![parent.to_string(), kind],
                    |r| r.get(0),
                )
                .optional()?;
            Ok((*kind, on.unwrap_or(true)))
        })
        .collect()
}

pub fn set_notification_pref(
    c: &Connection,
    parent: &ParentId,
    kind: &str,
    email: bool,
) -> Result<(), DbError> {
    c.execute(
        "INSERT INTO notification_prefs (parent_id, kind, email) VALUES (?1, ?2, ?3)
         ON CONFLICT (parent_id, kind) DO UPDATE SET email = excluded.email",
        params![parent.to_string(), kind, email],
    )?;
    Ok(())
}

pub fn create_document(
    c: &Connection,
    child: &ChildId,
    title: &str,
    body: &str,
    audience: DocumentAudience,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let id = uuid::Uuid::now_v7().to_string();
    c.execute(
        "INSERT INTO documents (id, child_id, title, body, audience, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, child.to_string(), title, body, audience.as_str(), time_str(now)],
    )?;
    Ok(id)
}

fn documents_where(
    c: &Connection,
    where_sql: &str,
    arg: &str,
) -> Result<Vec<(DocumentView, DocumentAudience)>, DbError> {
    let sql = format!(
        "SELECT id, child_id, title, body, audience, created_at FROM documents WHERE {where_sql}
         ORDER BY created_at DESC"
    );
    let rows: Vec<(String, String, String, String, String, String)> = c
        .prepare(&sql)?
        .query_map(params![arg], |r| r.try_into())?
        .collect::<Result<_, _>>()?;
    rows.into_iter()
        .map(|(id, child, title, body, audience, at)| {
            Ok((
                DocumentView {
                    id,
                    child: parse_id("documents.child_id", &child)?,
                    title,
                    body,
                    created_at: parse_time("documents.created_at", &at)?,
                },
                if audience == "all_parents" {
                    DocumentAudience::AllParents
                } else {
                    DocumentAudience::FirstParent
                },
            ))
        })
        .collect()
}

/// Documents of the parent's child that the parent's role allows.
pub fn documents_for_parent(c: &Connection, child: &MyChild) -> Result<Vec<DocumentView>, DbError> {
    Ok(documents_where(c, "child_id = ?1", &child.id.to_string())?
        .into_iter()
        .filter(|(_, a)| a.allows(child.role))
        .map(|(d, _)| d)
        .collect())
}

/// One document, if the parent may read it.
pub fn document_for_parent(
    c: &Connection,
    parent: &ParentId,
    id: &str,
    today: NaiveDate,
) -> Result<Option<DocumentView>, DbError> {
    let Some((doc, audience)) = documents_where(c, "id = ?1", id)?.into_iter().next() else {
        return Ok(None);
    };
    let Some(kid) = my_child(c, parent, &doc.child, today)? else {
        return Ok(None);
    };
    Ok(audience.allows(kid.role).then_some(doc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::org;
    use kring_protocol::PhotoConsent;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join("t.sqlite3")).expect("open");
        (dir, db)
    }

    #[test]
    fn documents_for_the_first_parent_only() {
        assert!(DocumentAudience::FirstParent.allows(ParentRole::First));
        assert!(!DocumentAudience::FirstParent.allows(ParentRole::Second));
        assert!(DocumentAudience::AllParents.allows(ParentRole::Second));
    }

    #[test]
    fn sessions_expire_idle_and_stay_in_their_organisation() {
        let (_dir, db) = db();
        let today = Utc::now().date_naive();
        db.call_sync(|c| -> Result<(), org::OrgError> {
            let s = org::create_sample(c, today)?;
            let other = org::create_organisation(c, "ander", "Ander")?;
            let parent = org::create_parent(c, &s.org, "Anne@Example.nl", "Anne", "geheim-1")?;
            let (account, hash) = find_login(c, &s.org, " anne@example.nl ")?.expect("found");
            assert!(verify_password(&hash, "geheim-1"));
            assert!(!verify_password(&hash, "geheim-2"));
            assert_eq!(account.parent_id(), Some(parent));
            assert!(account.must_change_password);
            assert!(find_login(c, &other, "anne@example.nl")?.is_none());
            let times = SessionTimes {
                idle: Duration::minutes(30),
                absolute: Duration::hours(8),
            };
            let now = Utc::now();
            let token = create_session(c, &account, now, times)?;
            assert!(load_session(c, &s.org, &token, now, times)?.is_some());
            assert!(load_session(c, &other, &token, now, times)?.is_none());
            assert!(load_session(c, &s.org, "nonsense", now, times)?.is_none());
            assert!(
                load_session(c, &s.org, &token, now + Duration::minutes(31), times)?.is_none(),
                "idle expiry"
            );
            let token = create_session(c, &account, now, times)?;
            let mut t = now;
            for _ in 0..20 {
                t += Duration::minutes(25);
                let alive = load_session(c, &s.org, &token, t, times)?.is_some();
                assert_eq!(alive, t < now + times.absolute, "absolute expiry at {t}");
            }
            Ok(())
        })
        .expect("scenario");
    }

    #[test]
    fn reset_tokens_work_once_and_expire() {
        let (_dir, db) = db();
        let today = Utc::now().date_naive();
        db.call_sync(|c| -> Result<(), org::OrgError> {
            let s = org::create_sample(c, today)?;
            org::create_parent(c, &s.org, "bo@example.nl", "Bo", "pw")?;
            let (account, _) = find_login(c, &s.org, "bo@example.nl")?.expect("found");
            let now = Utc::now();
            let token = create_reset(c, &account, now, Duration::minutes(60))?;
            assert!(check_reset(c, &s.org, &token, now + Duration::minutes(61), false)?.is_none());
            assert!(check_reset(c, &s.org, &token, now, true)?.is_some());
            assert!(
                check_reset(c, &s.org, &token, now, true)?.is_none(),
                "single use"
            );
            Ok(())
        })
        .expect("scenario");
    }

    #[test]
    fn photo_visibility_follows_consent_and_placement() {
        let group = GroupId::new();
        let other_group = GroupId::new();
        let today = Utc::now().date_naive();
        let kid = |consent, placed: Option<GroupId>| MyChild {
            id: ChildId::new(),
            first_name: "K".into(),
            last_name: "T".into(),
            birth_date: today,
            consent,
            role: ParentRole::First,
            placements: placed
                .into_iter()
                .map(|g| Placement {
                    group: g,
                    group_name: "G".into(),
                    start: today - Duration::days(30),
                    end: None,
                    days: String::new(),
                })
                .collect(),
        };
        let sem = kid(PhotoConsent::Group, Some(group));
        let noor = kid(PhotoConsent::OwnParents, Some(group));
        let elsewhere = kid(PhotoConsent::Group, Some(other_group));
        let ended = kid(PhotoConsent::Group, None);
        let photo = |tags: &[&MyChild], ncr: bool| PhotoRow {
            id: PhotoId::new(),
            group,
            blob_key: String::new(),
            thumb_key: String::new(),
            width: 1,
            height: 1,
            no_children_recognizable: ncr,
            received_at: Utc::now(),
            tags: tags
                .iter()
                .map(|k| ConsentedChild {
                    id: k.id,
                    consent: k.consent,
                })
                .collect(),
        };
        // Sem and Noor together: Sem's parents do not see it (Noor own_parents only).
        let both = photo(&[&sem, &noor], false);
        assert!(photo_visible_for(&both, std::slice::from_ref(&sem)).is_empty());
        assert_eq!(
            photo_visible_for(&both, std::slice::from_ref(&noor)),
            vec![noor.id]
        );
        // Group photo without children: every current child of the group, not elsewhere.
        let nobody = photo(&[], true);
        assert_eq!(
            photo_visible_for(&nobody, std::slice::from_ref(&sem)),
            vec![sem.id]
        );
        assert!(photo_visible_for(&nobody, std::slice::from_ref(&elsewhere)).is_empty());
        // Untagged, unconfirmed: staff only.
        assert!(photo_visible_for(&photo(&[], false), std::slice::from_ref(&sem)).is_empty());
        // Placement ended: nothing, even of itself.
        let own = photo(&[&ended], false);
        assert!(photo_visible_for(&own, std::slice::from_ref(&ended)).is_empty());
        // Consent withdrawn to none after the photo: hidden from everyone.
        let mut withdrawn = photo(&[&sem], false);
        withdrawn.tags[0].consent = PhotoConsent::None;
        assert!(photo_visible_for(&withdrawn, std::slice::from_ref(&sem)).is_empty());
    }
}
