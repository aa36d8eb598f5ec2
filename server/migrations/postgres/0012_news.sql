-- PostgreSQL translation of ../0012_news.sql (same columns and order).
-- The runner wraps this file in one transaction.

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
    pdf_bytes       BIGINT,
    author_name     TEXT NOT NULL,
    published_at    TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX news_posts_org ON news_posts(organisation_id, published_at);

ALTER TABLE locations ADD COLUMN address TEXT NOT NULL DEFAULT '';
ALTER TABLE locations ADD COLUMN opening_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE locations ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE locations ADD COLUMN email TEXT NOT NULL DEFAULT '';

CREATE TABLE location_pages (
    id          TEXT PRIMARY KEY,
    location_id TEXT NOT NULL REFERENCES locations(id),
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX location_pages_location ON location_pages(location_id);

ALTER TABLE staff ADD COLUMN photo_key TEXT;
ALTER TABLE staff ADD COLUMN photo_consent_at TEXT;

ALTER TABLE notification_prefs DROP CONSTRAINT notification_prefs_kind_check;
ALTER TABLE notification_prefs ADD CONSTRAINT notification_prefs_kind_check
    CHECK (kind IN ('photo', 'diary', 'message', 'news'));
