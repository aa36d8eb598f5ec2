-- PostgreSQL translation of ../0010_seal.sql (same table, columns and order).
-- The runner wraps this file in one transaction.

CREATE TABLE seal_keys (
    generation  BIGINT PRIMARY KEY,
    identity    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
