-- PostgreSQL translation of ../0007_upload_parts.sql (same table, columns and
-- order). The runner wraps this file in one transaction.

CREATE TABLE upload_parts (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    start     BIGINT NOT NULL,
    bytes     BYTEA NOT NULL,
    PRIMARY KEY (upload_id, start)
);
