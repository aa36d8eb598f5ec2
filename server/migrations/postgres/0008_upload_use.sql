-- PostgreSQL translation of ../0008_upload_use.sql (same columns and order).
-- The runner wraps this file in one transaction.

ALTER TABLE uploads ADD COLUMN used_at TEXT;
UPDATE uploads SET used_at = (SELECT p.received_at FROM photos p WHERE p.upload_id = uploads.id)
 WHERE EXISTS (SELECT 1 FROM photos p WHERE p.upload_id = uploads.id);
CREATE INDEX uploads_device ON uploads(device_id);
