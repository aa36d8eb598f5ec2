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
