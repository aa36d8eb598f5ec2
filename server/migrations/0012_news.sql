-- kring-server schema, version 12: news and newsletters, Mijn locatie (the
-- location's details, its information pages, staff photos shared with
-- consent), and "Nieuws" as a notification kind. Never edit a shipped
-- migration: add a new one. (0011 is the agenda's.)

-- A news post or newsletter of one location (location_id) or of the whole
-- organisation (location_id NULL). Text is plain text; the photo went through
-- the photo pipeline (no metadata) and the PDF was checked for `%PDF-`; their
-- bytes live in the blob store under the keys.
CREATE TABLE news_posts (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    location_id     TEXT REFERENCES locations(id),
    kind            TEXT NOT NULL CHECK (kind IN ('nieuws', 'nieuwsbrief')),
    title           TEXT NOT NULL,
    body            TEXT NOT NULL,
    photo_key       TEXT,
    thumb_key       TEXT,
    pdf_key         TEXT,
    pdf_name        TEXT,
    pdf_bytes       INTEGER,
    author_name     TEXT NOT NULL,
    published_at    TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX news_posts_org ON news_posts(organisation_id, published_at);

-- What parents see under Mijn locatie.
ALTER TABLE locations ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE locations ADD COLUMN opening_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE locations ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE locations ADD COLUMN email TEXT NOT NULL DEFAULT '';

-- Practical information pages of a location.
CREATE TABLE location_pages (
    id          TEXT PRIMARY KEY,
    location_id TEXT NOT NULL REFERENCES locations(id),
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX location_pages_location ON location_pages(location_id);

-- A staff member's photo for "Ons team": only stored, and only shown, with
-- the staff member's consent (photo_consent_at: when the manager recorded it).
ALTER TABLE staff ADD COLUMN photo_key TEXT;
ALTER TABLE staff ADD COLUMN photo_consent_at TEXT;

-- "Nieuws" as a notification kind: SQLite cannot change a CHECK, so the
-- table is rebuilt (same columns, same order).
CREATE TABLE notification_prefs_new (
    parent_id TEXT NOT NULL REFERENCES parents(id),
    kind      TEXT NOT NULL CHECK (kind IN ('photo', 'diary', 'message', 'news')),
    email     INTEGER NOT NULL,
    PRIMARY KEY (parent_id, kind)
);
INSERT INTO notification_prefs_new (parent_id, kind, email)
    SELECT parent_id, kind, email FROM notification_prefs;
DROP TABLE notification_prefs;
ALTER TABLE notification_prefs_new RENAME TO notification_prefs;
