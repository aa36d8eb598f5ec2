//! SQLite, the portal's data: accounts.

use super::super::conn::{Connection, OptionalExtension, Row, params};
use super::super::conn::{DbError, RowExt, query_one};
use crate::portal::*;
use kring_protocol::OrganisationId;

pub fn tenant_by_slug(c: &Connection, slug: &str) -> Result<Option<Tenant>, DbError> {
    query_one(
        c,
        "SELECT id, name, time_zone FROM organisations WHERE slug = ?1",
        params![slug],
        |r| {
            Ok(Tenant {
                id: r.id("id")?,
                slug: slug.to_string(),
                name: r.get("name")?,
                calendar: super::super::calendar_of(&r.get::<_, String>("time_zone")?),
            })
        },
    )
}

/// An account row (columns `id, name, email, password_hash,
/// must_change_password, is_manager`, for parents and staff alike) and its password hash (none: no password set yet).
fn account_from(
    kind: UserKind,
    org: &OrganisationId,
    r: &Row,
) -> Result<(Account, Option<String>), DbError> {
    Ok((
        Account {
            kind,
            id: r.id("id")?,
            org: *org,
            name: r.get("name")?,
            email: r.get("email")?,
            must_change_password: r.get("must_change_password")?,
            is_manager: r.get("is_manager")?,
        },
        r.get("password_hash")?,
    ))
}

fn account_table(kind: UserKind) -> &'static str {
    match kind {
        UserKind::Parent => "parents",
        UserKind::Staff => "staff",
    }
}

/// The portal language the account chose (None: never chose, or unknown).
pub fn account_language(
    c: &Connection,
    kind: UserKind,
    id: &uuid::Uuid,
) -> Result<Option<i18n::Lang>, DbError> {
    let sql = format!("SELECT language FROM {} WHERE id = ?1", account_table(kind));
    let code: Option<Option<String>> =
        query_one(c, &sql, params![id.to_string()], |r| r.get("language"))?;
    Ok(code.flatten().as_deref().and_then(i18n::Lang::parse))
}

/// Saves the portal language of an account.
pub fn set_account_language(
    c: &Connection,
    kind: UserKind,
    id: &uuid::Uuid,
    lang: i18n::Lang,
) -> Result<(), DbError> {
    let sql = format!(
        "UPDATE {} SET language = ?2 WHERE id = ?1",
        account_table(kind)
    );
    c.execute(&sql, params![id.to_string(), lang.code()])?;
    Ok(())
}

/// The account with this e-mail address in `org`, with its password hash.
/// Parents first; staff only when they are a manager with a password.
pub fn find_login(
    c: &Connection,
    org: &OrganisationId,
    email: &str,
) -> Result<Option<(Account, String)>, DbError> {
    let email = email.trim().to_lowercase();
    let parent = query_one(
        c,
        "SELECT id, name, email, password_hash, must_change_password, 0 AS is_manager
         FROM parents WHERE organisation_id = ?1 AND email = ?2",
        params![org.to_string(), email],
        |r| account_from(UserKind::Parent, org, r),
    )?;
    if let Some((a, h)) = parent {
        return Ok(h.map(|h| (a, h)));
    }
    let staff = query_one(
        c,
        "SELECT id, name, email, password_hash, must_change_password, 1 AS is_manager
         FROM staff WHERE organisation_id = ?1 AND lower(email) = ?2 AND role = 'manager'
           AND password_hash IS NOT NULL",
        params![org.to_string(), email],
        |r| account_from(UserKind::Staff, org, r),
    )?;
    Ok(staff.and_then(|(a, h)| h.map(|h| (a, h))))
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
            "SELECT id, name, email, password_hash, must_change_password, 0 AS is_manager
             FROM parents WHERE organisation_id = ?1 AND id = ?2"
        }
        UserKind::Staff => {
            "SELECT id, name, COALESCE(email, '') AS email, password_hash, must_change_password,
                    1 AS is_manager
             FROM staff WHERE organisation_id = ?1 AND id = ?2 AND role = 'manager'"
        }
    };
    query_one(c, sql, params![org.to_string(), id], |r| {
        account_from(kind, org, r).map(|(a, _)| a)
    })
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
