-- kring-server schema, version 10: the keys devices seal to. Never edit a
-- shipped migration: add a new one.

-- The server's private keys (age X25519, `AGE-SECRET-KEY-1…`). The highest
-- generation is the current one: its public half is what devices seal
-- photos and items to; older ones stay to open what was sealed before a
-- change of key. In the database so every server process has the same one;
-- the first process to start creates generation 1 (ON CONFLICT DO NOTHING).
CREATE TABLE seal_keys (
    generation  INTEGER PRIMARY KEY,
    identity    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
