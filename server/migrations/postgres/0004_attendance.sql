-- PostgreSQL 15 translation of ../0004_attendance.sql (same tables, columns, column order,
-- constraints and index names). SQLite INTEGER is BIGINT here (i64 in Rust),
-- 0/1 flags included. The runner wraps this file in one transaction.

-- kring-server schema, version 4: attendance (the presentielijst).
-- Never edit a shipped migration: add a new one.

-- One row per attendance event pushed by a group's device, never updated: a
-- correction is a new row that replaces an earlier one, an undo a new row
-- that cancels one (kring_protocol::attendance). `item` is the event as
-- stored (JSON of AttendanceItem, `by` trimmed); the other columns repeat
-- what the reads filter and join on.
CREATE TABLE attendance (
    id          TEXT PRIMARY KEY,
    group_id    TEXT NOT NULL REFERENCES groups(id),
    device_id   TEXT REFERENCES devices(id),
    -- the staff member who was unlocked when it was recorded
    recorded_by TEXT REFERENCES staff(id),
    -- when it happened, as staff said (RFC 3339, UTC)
    at          TEXT NOT NULL,
    event       TEXT NOT NULL CHECK (event IN ('child_in', 'child_out', 'child_absent',
                    'staff_in', 'staff_out', 'break_start', 'break_end', 'undo')),
    child_id    TEXT REFERENCES children(id),
    staff_id    TEXT REFERENCES staff(id),
    -- the event an undo cancels
    target_id   TEXT REFERENCES attendance(id),
    -- the event a correction replaces
    replaces_id TEXT REFERENCES attendance(id),
    -- the group's change sequence given to it: the order the day is read in
    seq         BIGINT NOT NULL,
    item        TEXT NOT NULL,
    -- server time of arrival
    received_at TEXT NOT NULL
);
CREATE INDEX attendance_group_at ON attendance(group_id, at);
CREATE INDEX attendance_child_at ON attendance(child_id, at);
CREATE INDEX attendance_target ON attendance(target_id);
CREATE INDEX attendance_replaces ON attendance(replaces_id);
