-- The organisation's time zone (IANA name): a childcare day is a day there
-- (kring_protocol::Calendar). Devices learn it with their group.
ALTER TABLE organisations ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Europe/Amsterdam';
