//! SQLite, the portal's data: sessions and reset tokens.

use super::super::conn::{Connection, params};
use super::super::conn::{DbError, RowExt, query_one, time_str};
use super::*;
use crate::portal::*;
use chrono::{DateTime, Duration, Utc};
use kring_protocol::OrganisationId;

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
    struct SessionRow {
        org: String,
        kind: String,
        user: String,
        csrf: String,
        last_seen: DateTime<Utc>,
        expires: DateTime<Utc>,
    }
    let row = query_one(
        c,
        "SELECT organisation_id, user_kind, user_id, csrf_token, last_seen_at, expires_at
         FROM sessions WHERE token_hash = ?1",
        params![hash],
        |r| {
            Ok(SessionRow {
                org: r.get("organisation_id")?,
                kind: r.get("user_kind")?,
                user: r.get("user_id")?,
                csrf: r.get("csrf_token")?,
                last_seen: r.time("last_seen_at")?,
                expires: r.time("expires_at")?,
            })
        },
    )?;
    let Some(SessionRow {
        org: session_org,
        kind,
        user,
        csrf,
        last_seen,
        expires,
    }) = row
    else {
        return Ok(None);
    };
    if session_org != org.to_string() {
        // A cookie of another organisation: nothing here.
        return Ok(None);
    }
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
    let row = query_one(
        c,
        "SELECT user_kind, user_id FROM password_resets
         WHERE token_hash = ?1 AND organisation_id = ?2 AND used_at IS NULL AND expires_at > ?3",
        params![hash, org.to_string(), time_str(now)],
        |r| {
            Ok((
                r.get::<_, String>("user_kind")?,
                r.get::<_, String>("user_id")?,
            ))
        },
    )?;
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
