-- PostgreSQL 15 translation of ../0001_init.sql (same tables, columns, column order,
-- constraints and index names). SQLite INTEGER is BIGINT here (i64 in Rust),
-- 0/1 flags included. The runner wraps this file in one transaction.

-- kring-server schema, version 1. Never edit a shipped migration: add a new one.

CREATE TABLE organisations (
    id   TEXT PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);

CREATE TABLE locations (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    name            TEXT NOT NULL
);

CREATE TABLE groups (
    id          TEXT PRIMARY KEY,
    location_id TEXT NOT NULL REFERENCES locations(id),
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('kdv', 'bso')),
    age_from    BIGINT NOT NULL,
    age_to      BIGINT NOT NULL,
    -- the group's change sequence: the device feed's cursor
    change_seq  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE children (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    first_name      TEXT NOT NULL,
    last_name       TEXT NOT NULL,
    birth_date      TEXT NOT NULL,
    photo_consent   TEXT NOT NULL CHECK (photo_consent IN ('none', 'own_parents', 'group')),
    allergies       TEXT,
    notes           TEXT
);

CREATE TABLE consent_history (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    child_id   TEXT NOT NULL REFERENCES children(id),
    consent    TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    changed_at TEXT NOT NULL
);

CREATE TABLE placements (
    id         TEXT PRIMARY KEY,
    child_id   TEXT NOT NULL REFERENCES children(id),
    group_id   TEXT NOT NULL REFERENCES groups(id),
    days       TEXT NOT NULL, -- comma separated: mon,tue,...
    start_date TEXT NOT NULL,
    end_date   TEXT
);
CREATE INDEX placements_group ON placements(group_id);
CREATE INDEX placements_child ON placements(child_id);

CREATE TABLE parents (
    id                   TEXT PRIMARY KEY,
    organisation_id      TEXT NOT NULL REFERENCES organisations(id),
    email                TEXT NOT NULL,
    name                 TEXT NOT NULL,
    password_hash        TEXT NOT NULL,
    must_change_password BIGINT NOT NULL DEFAULT 1,
    UNIQUE (organisation_id, email)
);

CREATE TABLE child_parents (
    child_id  TEXT NOT NULL REFERENCES children(id),
    parent_id TEXT NOT NULL REFERENCES parents(id),
    role      TEXT NOT NULL CHECK (role IN ('first', 'second')),
    PRIMARY KEY (child_id, parent_id)
);

CREATE TABLE staff (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('pedagogical', 'manager')),
    pin_hash        TEXT NOT NULL,
    email           TEXT,
    password_hash   TEXT
);

CREATE TABLE staff_groups (
    staff_id TEXT NOT NULL REFERENCES staff(id),
    group_id TEXT NOT NULL REFERENCES groups(id),
    PRIMARY KEY (staff_id, group_id)
);

CREATE TABLE absences (
    id          TEXT PRIMARY KEY,
    child_id    TEXT NOT NULL REFERENCES children(id),
    from_date   TEXT NOT NULL,
    to_date     TEXT NOT NULL,
    part_of_day TEXT NOT NULL,
    reason      TEXT NOT NULL,
    note        TEXT,
    cancelled   BIGINT NOT NULL DEFAULT 0,
    reported_by TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX absences_child ON absences(child_id);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    group_id     TEXT NOT NULL REFERENCES groups(id),
    name         TEXT NOT NULL,
    app_version  TEXT NOT NULL,
    -- SHA-256 of the 256-bit random secret (high entropy: a fast hash is right here)
    secret_hash  TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_seen_at TEXT,
    online       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX devices_group ON devices(group_id);

CREATE TABLE enrollment_codes (
    code_hash  TEXT PRIMARY KEY,
    group_id   TEXT NOT NULL REFERENCES groups(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    device_id  TEXT
);

CREATE TABLE messages (
    id               TEXT PRIMARY KEY,
    group_id         TEXT NOT NULL REFERENCES groups(id),
    child_id         TEXT REFERENCES children(id), -- NULL: to all parents of the group
    author_kind      TEXT NOT NULL CHECK (author_kind IN ('parent', 'staff')),
    author_parent_id TEXT REFERENCES parents(id),
    author_staff_id  TEXT REFERENCES staff(id),
    author_name      TEXT NOT NULL,
    body             TEXT NOT NULL,
    sent_at          TEXT NOT NULL,
    device_id        TEXT REFERENCES devices(id),
    read_by_group_at TEXT
);
CREATE INDEX messages_group ON messages(group_id);

CREATE TABLE read_receipts (
    id         TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages(id),
    device_id  TEXT REFERENCES devices(id),
    staff_id   TEXT REFERENCES staff(id),
    read_at    TEXT NOT NULL
);

CREATE TABLE photos (
    id                       TEXT PRIMARY KEY,
    group_id                 TEXT NOT NULL REFERENCES groups(id),
    device_id                TEXT REFERENCES devices(id),
    staff_id                 TEXT REFERENCES staff(id),
    upload_id                TEXT NOT NULL UNIQUE,
    sha256                   TEXT NOT NULL, -- of the bytes the device uploaded
    blob_key                 TEXT NOT NULL, -- metadata-free JPEG
    thumb_key                TEXT NOT NULL,
    width                    BIGINT NOT NULL,
    height                   BIGINT NOT NULL,
    no_children_recognizable BIGINT NOT NULL,
    taken_at_device          TEXT,
    received_at              TEXT NOT NULL
);
CREATE INDEX photos_group ON photos(group_id);

CREATE TABLE photo_tags (
    photo_id TEXT NOT NULL REFERENCES photos(id),
    child_id TEXT NOT NULL REFERENCES children(id),
    PRIMARY KEY (photo_id, child_id)
);
CREATE INDEX photo_tags_child ON photo_tags(child_id);

CREATE TABLE diary_entries (
    id               TEXT PRIMARY KEY,
    group_id         TEXT NOT NULL REFERENCES groups(id),
    author_kind      TEXT NOT NULL CHECK (author_kind IN ('parent', 'staff')),
    author_parent_id TEXT REFERENCES parents(id),
    author_staff_id  TEXT REFERENCES staff(id),
    author_name      TEXT NOT NULL,
    text             TEXT NOT NULL,
    baby_json        TEXT,
    device_id        TEXT REFERENCES devices(id),
    written_at       TEXT NOT NULL
);

CREATE TABLE diary_children (
    entry_id TEXT NOT NULL REFERENCES diary_entries(id),
    child_id TEXT NOT NULL REFERENCES children(id),
    PRIMARY KEY (entry_id, child_id)
);
CREATE INDEX diary_children_child ON diary_children(child_id);

CREATE TABLE diary_photos (
    entry_id TEXT NOT NULL REFERENCES diary_entries(id),
    photo_id TEXT NOT NULL REFERENCES photos(id),
    PRIMARY KEY (entry_id, photo_id)
);

-- Push dedupe: committed in the same transaction as the item it created.
CREATE TABLE idempotency (
    device_id    TEXT NOT NULL REFERENCES devices(id),
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT NOT NULL,
    response     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (device_id, key)
);

-- tus uploads
CREATE TABLE uploads (
    id              TEXT PRIMARY KEY,
    device_id       TEXT NOT NULL REFERENCES devices(id),
    length          BIGINT NOT NULL,
    "offset"        BIGINT NOT NULL DEFAULT 0, -- reserved word in PostgreSQL: always quote
    metadata        TEXT NOT NULL,
    expected_sha256 TEXT,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    completed_at    TEXT,
    sha256          TEXT,
    blob_key        TEXT,
    thumb_key       TEXT,
    width           BIGINT,
    height          BIGINT,
    failed_reason   TEXT
);

-- The per-group change log behind the device feed: one row per entity, at
-- its newest sequence number (older rows of the same entity are removed).
CREATE TABLE changes (
    group_id  TEXT NOT NULL REFERENCES groups(id),
    seq       BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    PRIMARY KEY (group_id, seq)
);
CREATE UNIQUE INDEX changes_entity ON changes(group_id, kind, entity_id);
