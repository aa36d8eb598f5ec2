-- PostgreSQL translation of ../0006_jobs.sql (same table, columns and order).
-- The runner wraps this file in one transaction.

CREATE TABLE jobs (
    name        TEXT PRIMARY KEY,
    next_run_at TEXT NOT NULL
);
