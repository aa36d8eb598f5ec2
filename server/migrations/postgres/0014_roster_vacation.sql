-- kring-server schema: the staff roster (BKR input for requests) and BSO
-- vacation hours (issue 16). Never edit a shipped migration: add a new one.

-- The weekly pattern: which staff member works on which group on which weekday.
CREATE TABLE roster_weeks (
    group_id TEXT NOT NULL REFERENCES groups(id),
    staff_id TEXT NOT NULL REFERENCES staff(id),
    weekday  TEXT NOT NULL CHECK (weekday IN ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')),
    PRIMARY KEY (group_id, staff_id, weekday)
);

-- A date that differs from the pattern: off (not working) or extra (working).
CREATE TABLE roster_exceptions (
    id       TEXT PRIMARY KEY,
    group_id TEXT NOT NULL REFERENCES groups(id),
    staff_id TEXT NOT NULL REFERENCES staff(id),
    day      TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('off', 'extra')),
    UNIQUE (group_id, staff_id, day)
);
CREATE INDEX roster_exceptions_group ON roster_exceptions(group_id, day);

-- What a part of a vacation day costs in hours (defaults in
-- `portal::agenda::AgendaRules::default()`).
ALTER TABLE agenda_rules ADD COLUMN vacation_morning_hours BIGINT NOT NULL DEFAULT 5;
ALTER TABLE agenda_rules ADD COLUMN vacation_afternoon_hours BIGINT NOT NULL DEFAULT 5;
ALTER TABLE agenda_rules ADD COLUMN vacation_day_hours BIGINT NOT NULL DEFAULT 10;

-- A BSO child's vacation hours for one calendar year (they expire at its end).
CREATE TABLE vacation_allowances (
    child_id TEXT NOT NULL REFERENCES children(id),
    year     BIGINT NOT NULL,
    hours    BIGINT NOT NULL CHECK (hours >= 0),
    PRIMARY KEY (child_id, year)
);

-- Vacation care asked for: guaranteed (a month ahead, approved at once) or
-- waiting for the manager. Hours count against the year of `day` while
-- requested (promised) or approved (taken); refused takes nothing.
CREATE TABLE vacation_requests (
    id           TEXT PRIMARY KEY,
    child_id     TEXT NOT NULL REFERENCES children(id),
    group_id     TEXT NOT NULL REFERENCES groups(id),
    day          TEXT NOT NULL,
    part_of_day  TEXT NOT NULL CHECK (part_of_day IN ('whole_day', 'morning', 'afternoon')),
    hours        BIGINT NOT NULL,
    guaranteed   BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('requested', 'approved', 'refused')),
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   TEXT
);
CREATE INDEX vacation_requests_child ON vacation_requests(child_id, day);
CREATE INDEX vacation_requests_group ON vacation_requests(group_id, day);
