-- kring device store, version 3: one row the checkpointer writes right after
-- it has copied the whole WAL into the file. That small commit restarts the
-- WAL from its beginning, and SQLite flushes the new WAL header once more
-- when it restarts it; done here, that extra flush is off the capture path:
-- the next save appends to a WAL that has already been restarted.
-- Never edit a shipped migration: add a new one.
CREATE TABLE wal_restart (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO wal_restart (id, n) VALUES (1, 0);
