-- PostgreSQL 15 translation of ../0011_agenda.sql (same tables, columns, column order,
-- constraints and index names). SQLite INTEGER is BIGINT here (i64 in Rust),
-- 0/1 flags included. The runner wraps this file in one transaction.

-- kring-server schema, version 11: the parents' agenda (issue 16). Never edit
-- a shipped migration: add a new one.

-- An organisation's rules for cancelling days and tegoed; no row means the
-- defaults of `portal::agenda::AgendaRules::default()` (docs/operations.md).
CREATE TABLE agenda_rules (
    organisation_id     TEXT PRIMARY KEY REFERENCES organisations(id),
    -- a contract day cancelled at least this many working days ahead earns tegoed
    notice_working_days BIGINT NOT NULL,
    -- tegoed can be spent until this many months after the cancelled day
    credit_valid_months BIGINT NOT NULL,
    -- the weekdays that count as working days (mon,tue,...), closed days never
    working_days        TEXT NOT NULL
);

-- Days a location is closed (holidays, study days): no care, no tegoed.
CREATE TABLE closed_days (
    location_id TEXT NOT NULL REFERENCES locations(id),
    day         TEXT NOT NULL,
    name        TEXT NOT NULL,
    PRIMARY KEY (location_id, day)
);

-- A contract day the parent cancelled (in_time: earned tegoed; late: none;
-- swap: given up for another day).
CREATE TABLE day_cancellations (
    id           TEXT PRIMARY KEY,
    child_id     TEXT NOT NULL REFERENCES children(id),
    group_id     TEXT NOT NULL REFERENCES groups(id),
    day          TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('in_time', 'late', 'swap')),
    cancelled_by TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (child_id, group_id, day)
);
CREATE INDEX day_cancellations_group ON day_cancellations(group_id, day);

-- An extra day (paid, from tegoed, or in exchange for a contract day).
CREATE TABLE day_requests (
    id           TEXT PRIMARY KEY,
    child_id     TEXT NOT NULL REFERENCES children(id),
    group_id     TEXT NOT NULL REFERENCES groups(id),
    day          TEXT NOT NULL,
    part_of_day  TEXT NOT NULL CHECK (part_of_day IN ('whole_day', 'morning', 'afternoon')),
    payment      TEXT NOT NULL CHECK (payment IN ('paid', 'credit', 'swap')),
    gives_up     TEXT,
    status       TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'refused')),
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   TEXT
);
CREATE INDEX day_requests_group ON day_requests(group_id, day);
CREATE INDEX day_requests_child ON day_requests(child_id);

-- Tegoed as a ledger: one 'earned' row per day of tegoed; a 'spent' or
-- 'expired' row uses up one earned row (earned_id, unique: never twice).
CREATE TABLE credit_ledger (
    id              TEXT PRIMARY KEY,
    child_id        TEXT NOT NULL REFERENCES children(id),
    kind            TEXT NOT NULL CHECK (kind IN ('earned', 'spent', 'expired')),
    earned_id       TEXT UNIQUE,
    valid_until     TEXT,
    cancellation_id TEXT,
    request_id      TEXT,
    at              TEXT NOT NULL
);
CREATE INDEX credit_ledger_child ON credit_ledger(child_id);

-- The most children the group may hold on one day (NULL: 16 for KDV, 22 for BSO).
ALTER TABLE groups ADD COLUMN max_children BIGINT;
