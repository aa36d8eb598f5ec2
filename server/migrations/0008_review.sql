-- kring-server schema, version 8: what a security review asked for. Never
-- edit a shipped migration: add a new one.

-- A complete upload records when a photo took it, so that complete uploads
-- no photo ever used can expire (with their files) without racing a push
-- that takes one.

ALTER TABLE uploads ADD COLUMN used_at TEXT;
UPDATE uploads SET used_at = (SELECT p.received_at FROM photos p WHERE p.upload_id = uploads.id)
 WHERE EXISTS (SELECT 1 FROM photos p WHERE p.upload_id = uploads.id);
-- the per-device quota counts a device's open and unused uploads
CREATE INDEX uploads_device ON uploads(device_id);

-- the parent's timeline reads a group's photos newest first, filtered in SQL
CREATE INDEX photos_group_received ON photos(group_id, received_at);
CREATE INDEX diary_photos_photo ON diary_photos(photo_id);

-- MQTT gets a credential of its own, derived from the device secret
-- (kring_protocol::mqtt::password); its hash here. NULL for a device enrolled
-- before: set at its next authenticated API call.
ALTER TABLE devices ADD COLUMN mqtt_hash TEXT;

-- Retention (AVG): how long a child's diary and photos are kept after its
-- last placement ended, and how long its parents keep the portal (seed:
-- Korein's portal FAQ: 8 weeks, 15 months); when a child's data was deleted.
ALTER TABLE organisations ADD COLUMN child_data_weeks INTEGER NOT NULL DEFAULT 8;
ALTER TABLE organisations ADD COLUMN portal_access_months INTEGER NOT NULL DEFAULT 15;
ALTER TABLE children ADD COLUMN data_expired_at TEXT;

-- Who opened a child's details or photos in the admin, or exported its data:
-- the location manager can show it to a parent, the AP or an inspector. No
-- foreign key: the record outlives an erased child.
CREATE TABLE access_log (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL,
    child_id        TEXT NOT NULL,
    staff_id        TEXT,
    staff_name      TEXT NOT NULL,
    what            TEXT NOT NULL,
    at              TEXT NOT NULL
);
CREATE INDEX access_log_child ON access_log(child_id, at);

-- When the end of a placement was announced to the group's screens (a feed
-- change for the child: it leaves the screen, with its absences).
ALTER TABLE placements ADD COLUMN end_announced_at TEXT;
