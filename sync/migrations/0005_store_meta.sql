-- kring device store, version 5: what a release must know to use this file.
-- `oldest_reader` is the lowest store version whose code may still open the
-- file after newer migrations ran: a migration that only adds (a table, a
-- column with a default) leaves it alone, one that older code would
-- misread (a new kind of waiting item, a changed meaning) raises it to its
-- own version. A release that finds a newer file it may not read moves it
-- aside and carries over its credentials and waiting items (see
-- `Store::open`), as after damage. Never edit a shipped migration.
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO store_meta (key, value) VALUES ('oldest_reader', '4');
