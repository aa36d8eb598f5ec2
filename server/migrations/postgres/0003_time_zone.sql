-- PostgreSQL 15 translation of ../0003_time_zone.sql (same tables, columns, column order,
-- constraints and index names). SQLite INTEGER is BIGINT here (i64 in Rust),
-- 0/1 flags included. The runner wraps this file in one transaction.

-- The organisation's time zone (IANA name): a childcare day is a day there
-- (kring_protocol::Calendar). Devices learn it with their group.
ALTER TABLE organisations ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Europe/Amsterdam';
