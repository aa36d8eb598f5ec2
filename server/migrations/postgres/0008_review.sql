-- PostgreSQL translation of ../0008_review.sql (same columns and order).
-- The runner wraps this file in one transaction.

ALTER TABLE uploads ADD COLUMN used_at TEXT;
UPDATE uploads SET used_at = (SELECT p.received_at FROM photos p WHERE p.upload_id = uploads.id)
 WHERE EXISTS (SELECT 1 FROM photos p WHERE p.upload_id = uploads.id);
CREATE INDEX uploads_device ON uploads(device_id);
CREATE INDEX photos_group_received ON photos(group_id, received_at);
CREATE INDEX diary_photos_photo ON diary_photos(photo_id);
ALTER TABLE devices ADD COLUMN mqtt_hash TEXT;
ALTER TABLE organisations ADD COLUMN child_data_weeks BIGINT NOT NULL DEFAULT 8;
ALTER TABLE organisations ADD COLUMN portal_access_months BIGINT NOT NULL DEFAULT 15;
ALTER TABLE children ADD COLUMN data_expired_at TEXT;
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
ALTER TABLE placements ADD COLUMN end_announced_at TEXT;
