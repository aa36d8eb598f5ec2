-- PostgreSQL translation of ../0009_archive.sql (same columns and order).
-- The runner wraps this file in one transaction.

-- A parent asks for everything of their own child in one ZIP file. A server
-- process claims the request (claimed_at; a claim older than a few minutes
-- is taken over), builds the file under the data directory and sets a
-- single-use link: only the SHA-256 of its token is kept. No foreign keys:
-- erasing a parent or child deletes these rows itself.
CREATE TABLE archive_requests (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL,
    parent_id       TEXT NOT NULL,
    child_id        TEXT NOT NULL,
    requested_at    TEXT NOT NULL,
    claimed_at      TEXT,
    built_at        TEXT,
    failed_at       TEXT,
    file_name       TEXT,
    size_bytes      BIGINT,
    photos          BIGINT,
    token_hash      TEXT UNIQUE,
    expires_at      TEXT,
    downloaded_at   TEXT,
    file_removed_at TEXT,
    -- the photos in the file (JSON list of ids): checked against what the
    -- parent may see at download time
    photo_ids       TEXT
);
CREATE INDEX archive_requests_parent ON archive_requests(parent_id, child_id);
CREATE INDEX archive_requests_open ON archive_requests(built_at, failed_at);

-- The mail that tells a parent their child's photos and diary are kept only
-- until `keep_until`: one per child and parent, ever.
CREATE TABLE leaving_notices (
    child_id   TEXT NOT NULL,
    parent_id  TEXT NOT NULL,
    keep_until TEXT NOT NULL,
    sent_at    TEXT NOT NULL,
    PRIMARY KEY (child_id, parent_id)
);

-- Who erased what and when (a manager on request, or the retention run):
-- counts only, never the name of the person erased.
CREATE TABLE erasures (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL,
    kind            TEXT NOT NULL,
    by_staff_id     TEXT,
    by_name         TEXT NOT NULL,
    at              TEXT NOT NULL,
    counts          TEXT NOT NULL
);
CREATE INDEX erasures_org ON erasures(organisation_id, at);
