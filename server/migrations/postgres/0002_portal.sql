-- PostgreSQL 15 translation of ../0002_portal.sql (same tables, columns, column order,
-- constraints and index names). SQLite INTEGER is BIGINT here (i64 in Rust),
-- 0/1 flags included. The runner wraps this file in one transaction.

-- kring-server schema, version 2: the parent portal and the location admin.
-- Never edit a shipped migration: add a new one.

-- Staff who log in to the portal (location managers) get a forced change too.
ALTER TABLE staff ADD COLUMN must_change_password BIGINT NOT NULL DEFAULT 0;

-- What the device reported on its last authenticated request.
ALTER TABLE devices ADD COLUMN outbox_pending BIGINT;

-- A portal login. The cookie holds a random 256-bit token; only its SHA-256
-- is stored. `csrf_token` is the synchronizer token of every form.
CREATE TABLE sessions (
    token_hash      TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    user_kind       TEXT NOT NULL CHECK (user_kind IN ('parent', 'staff')),
    user_id         TEXT NOT NULL,
    csrf_token      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    expires_at      TEXT NOT NULL -- absolute expiry
);
CREATE INDEX sessions_user ON sessions(user_kind, user_id);

-- "Wachtwoord vergeten": single use, expiring; only the SHA-256 is stored.
CREATE TABLE password_resets (
    token_hash      TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    user_kind       TEXT NOT NULL CHECK (user_kind IN ('parent', 'staff')),
    user_id         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    used_at         TEXT
);

-- Per parent and kind of item: e-mail on or off (no row: on).
CREATE TABLE notification_prefs (
    parent_id TEXT NOT NULL REFERENCES parents(id),
    kind      TEXT NOT NULL CHECK (kind IN ('photo', 'diary', 'message')),
    email     BIGINT NOT NULL,
    PRIMARY KEY (parent_id, kind)
);

-- Documents about a child (contracts, invoices later). `audience` keeps the
-- rule that only the first parent sees what is meant for the first parent.
CREATE TABLE documents (
    id         TEXT PRIMARY KEY,
    child_id   TEXT NOT NULL REFERENCES children(id),
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    audience   TEXT NOT NULL CHECK (audience IN ('first_parent', 'all_parents')),
    created_at TEXT NOT NULL
);
CREATE INDEX documents_child ON documents(child_id);

-- Who changed a consent, as an id (the name stays in changed_by).
ALTER TABLE consent_history ADD COLUMN changed_by_parent_id TEXT REFERENCES parents(id);
