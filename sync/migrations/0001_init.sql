-- kring device store, version 1. Never edit a shipped migration: add a new one.

-- The device's own credentials (one row).
CREATE TABLE device (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_id   TEXT NOT NULL,
    secret      TEXT NOT NULL,
    server_url  TEXT NOT NULL,
    group_json  TEXT NOT NULL,
    mqtt_json   TEXT NOT NULL,
    enrolled_at TEXT NOT NULL
);

-- Pull state (one row): the feed cursor, applied with each page.
CREATE TABLE sync_state (
    singleton      INTEGER PRIMARY KEY CHECK (singleton = 1),
    cursor         INTEGER NOT NULL DEFAULT 0,
    last_pull_at   TEXT,
    last_push_at   TEXT
);
INSERT INTO sync_state (singleton, cursor) VALUES (1, 0);

-- Everything staff saved, in the order they saved it. The id is the item's
-- UUIDv7 and its idempotency key forever.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('photo', 'diary', 'message', 'read_receipt')),
    payload         TEXT NOT NULL,
    depends_on      TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'sent', 'wedged')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    wedged_reason   TEXT,
    sent_at         TEXT,
    receipt         TEXT
);
CREATE INDEX outbox_state ON outbox(state, seq);

-- A photo's bytes on disk until the server has confirmed them.
CREATE TABLE photo_files (
    item_id     TEXT PRIMARY KEY REFERENCES outbox(id),
    file        TEXT,          -- NULL once confirmed and deleted
    thumb       TEXT,
    sha256      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    upload_url  TEXT
);

-- Cached group data from the feed, as the protocol's JSON.
CREATE TABLE group_info (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    json      TEXT NOT NULL
);
CREATE TABLE children (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE staff (id TEXT PRIMARY KEY, json TEXT NOT NULL);
CREATE TABLE absences (id TEXT PRIMARY KEY, child_id TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE messages (id TEXT PRIMARY KEY, sent_at TEXT NOT NULL, json TEXT NOT NULL);
CREATE TABLE parent_diary (id TEXT PRIMARY KEY, child_id TEXT NOT NULL, json TEXT NOT NULL);
