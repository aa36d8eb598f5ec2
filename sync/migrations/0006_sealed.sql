-- kring device store, version 6: what staff save is sealed to the server's
-- public key (docs/appliance.md, "Threat model"). Photos' bytes and the
-- payloads of photo, diary and message items are age files only the server
-- can open; thumbnails live in memory only. Older releases would misread a
-- sealed item: this migration breaks them (they move the file aside).
-- Never edit a shipped migration: add a new one.

-- The server's public key (`age1…`), from the enrollment or the feed.
ALTER TABLE device ADD COLUMN seal_to TEXT;

-- Thumbnails are no longer written to the card.
DROP TABLE photo_thumbs;
