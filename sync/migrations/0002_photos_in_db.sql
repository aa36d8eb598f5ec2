-- kring device store, version 2: a photo's bytes live in the database, written
-- in the same transaction as its item (one commit, one flush; no orphan files).
-- Never edit a shipped migration: add a new one.

-- What the uploader needs about a photo; kept after the bytes are gone.
CREATE TABLE photos (
    item_id     TEXT PRIMARY KEY REFERENCES outbox(id),
    sha256      TEXT NOT NULL,
    bytes       INTEGER NOT NULL,
    upload_url  TEXT
);

-- The camera's JPEG until the server confirmed the same SHA-256 (then the row
-- is deleted in the transaction that marks the item sent). Read for upload in
-- chunks with incremental BLOB I/O.
CREATE TABLE photo_bytes (
    item_id TEXT PRIMARY KEY REFERENCES photos(item_id),
    jpeg    BLOB NOT NULL
);

-- Thumbnails for today's overview; pruned a few days after the photo was sent.
CREATE TABLE photo_thumbs (
    item_id TEXT PRIMARY KEY REFERENCES photos(item_id),
    jpeg    BLOB NOT NULL
);

-- Photos of version 1 were files under photos/ and thumbs/. Store::open moves
-- each into photo_bytes (verified by its SHA-256) and deletes its row here in
-- the same commit; the file is removed only after that commit.
CREATE TABLE legacy_photo_files (
    item_id TEXT PRIMARY KEY REFERENCES photos(item_id),
    file    TEXT,
    thumb   TEXT
);

INSERT INTO photos (item_id, sha256, bytes, upload_url)
    SELECT item_id, sha256, bytes, upload_url FROM photo_files;
INSERT INTO legacy_photo_files (item_id, file, thumb)
    SELECT item_id, file, thumb FROM photo_files WHERE file IS NOT NULL OR thumb IS NOT NULL;
DROP TABLE photo_files;

-- What start-up had to repair, shown on the Synchronisatie screen until staff
-- have seen it (a damaged store moved aside, items that could not be read).
CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL,   -- JSON, see store::Incident
    seen        INTEGER NOT NULL DEFAULT 0
);
