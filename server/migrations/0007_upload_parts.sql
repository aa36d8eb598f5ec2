-- kring-server schema, version 7: unfinished uploads in the database, where
-- every server process sees them (with PostgreSQL; a single SQLite process
-- keeps them as files). Never edit a shipped migration: add a new one.

-- The bytes of an unfinished upload, a part per stored piece of a PATCH. A
-- part and the upload's new offset are written in one transaction, and only
-- when the offset is still where the part starts: of two processes resuming
-- the same upload, one moves it on.
CREATE TABLE upload_parts (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    start     INTEGER NOT NULL,
    bytes     BLOB NOT NULL,
    PRIMARY KEY (upload_id, start)
);
