-- kring-server schema, version 6: periodic jobs shared by several server
-- processes. Never edit a shipped migration: add a new one.

-- A job (session sweep, upload expiry, rollout nudges) runs when a process
-- claims its row: `UPDATE jobs SET next_run_at = <now + period> WHERE name = ?
-- AND next_run_at <= <now>`; of two processes at the same moment one wins.
CREATE TABLE jobs (
    name        TEXT PRIMARY KEY,
    -- RFC 3339, UTC, microseconds (as every time here)
    next_run_at TEXT NOT NULL
);
