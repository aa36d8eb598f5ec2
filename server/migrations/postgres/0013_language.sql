-- kring-server schema, version 13: the portal language an account chose
-- ("nl" or "en"; NULL: never chose, the browser decides). Never edit a
-- shipped migration: add a new one.
ALTER TABLE parents ADD COLUMN language TEXT CHECK (language IN ('nl', 'en'));
ALTER TABLE staff ADD COLUMN language TEXT CHECK (language IN ('nl', 'en'));
