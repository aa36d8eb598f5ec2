-- Attendance (the presentielijst): the outbox accepts a fifth kind of item,
-- and the group's attendance events as the server numbered them (from the
-- feed, this device's own ones included) are kept for today and yesterday.
--
-- SQLite cannot change a CHECK constraint in place: the outbox is copied into
-- a new table (the documented twelve-step way; `migrate` runs it with
-- foreign keys off and checks them before it commits).
CREATE TABLE outbox_new (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('photo', 'diary', 'message', 'read_receipt', 'attendance')),
    payload         TEXT NOT NULL,
    depends_on      TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'sent', 'wedged')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    wedged_reason   TEXT,
    sent_at         TEXT,
    receipt         TEXT
);
INSERT INTO outbox_new SELECT * FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_state ON outbox(state, seq);
CREATE INDEX outbox_kind ON outbox(kind, seq);

CREATE TABLE attendance (
    id   TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL,
    at   TEXT NOT NULL,
    json TEXT NOT NULL
);
CREATE INDEX attendance_at ON attendance(at);
