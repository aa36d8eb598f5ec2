-- kring-server schema, version 8: a complete upload records when a photo
-- took it, so that complete uploads no photo ever used can expire (with their
-- files) without racing a push that takes one. Never edit a shipped
-- migration: add a new one.

ALTER TABLE uploads ADD COLUMN used_at TEXT;
UPDATE uploads SET used_at = (SELECT p.received_at FROM photos p WHERE p.upload_id = uploads.id)
 WHERE EXISTS (SELECT 1 FROM photos p WHERE p.upload_id = uploads.id);
-- the per-device quota counts a device's open and unused uploads
CREATE INDEX uploads_device ON uploads(device_id);
