-- PostgreSQL 15 translation of ../0005_updates.sql (same tables, columns, column order,
-- constraints and index names). SQLite INTEGER is BIGINT here (i64 in Rust),
-- 0/1 flags included. The runner wraps this file in one transaction.

-- kring-server schema, version 5: appliance updates (signed RAUC bundles
-- rolled out from the server). Never edit a shipped migration: add a new one.

-- What the device reported in its last `Kring-Release` header:
-- `<compatible> <version>`, e.g. `kring-qemu-virt 2.0.0`; NULL when it never
-- sent one (a desktop kiosk). Offers match `compatible` and skip `version`.
ALTER TABLE devices ADD COLUMN release TEXT;

-- An uploaded bundle. `compatible` and `version` are read from the bundle's
-- own manifest; the file is `<data dir>/<file_name>` and never changes (the
-- SHA-256 is its ETag). The server does not check the signature: the
-- device's RAUC does, against the organisation's key.
CREATE TABLE releases (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    version         TEXT NOT NULL,
    compatible      TEXT NOT NULL,
    -- lowercase hex
    sha256          TEXT NOT NULL,
    size            BIGINT NOT NULL,
    file_name       TEXT NOT NULL,
    uploaded_at     TEXT NOT NULL,
    -- the manager who uploaded it; NULL: the admin CLI
    uploaded_by     TEXT REFERENCES staff(id),
    UNIQUE (organisation_id, sha256)
);

-- "Offer this release to these devices". The most recent rollout covering a
-- device (for its compatible) decides what it is offered; rows are never
-- updated but for `nudged_at`.
CREATE TABLE rollouts (
    id           TEXT PRIMARY KEY,
    release_id   TEXT NOT NULL REFERENCES releases(id),
    scope        TEXT NOT NULL CHECK (scope IN ('device', 'group', 'location', 'organisation')),
    -- the device, group, location or organisation id
    scope_id     TEXT NOT NULL,
    -- the install window, local `HH:MM`; both NULL: any time
    window_from  TEXT,
    window_until TEXT,
    created_at   TEXT NOT NULL,
    -- the manager who made it; NULL: the admin CLI
    created_by   TEXT REFERENCES staff(id),
    -- when the covered devices were nudged; NULL: still to do (a rollout made
    -- by the CLI is nudged by the running server's housekeeping)
    nudged_at    TEXT,
    CHECK ((window_from IS NULL) = (window_until IS NULL))
);
CREATE INDEX rollouts_release ON rollouts(release_id);
CREATE INDEX rollouts_scope ON rollouts(scope_id);
CREATE INDEX rollouts_pending ON rollouts(nudged_at) WHERE nudged_at IS NULL;

-- What each device last reported about a release (one row per device and
-- release). `detail`: bytes so far while downloading, else the reason.
CREATE TABLE device_updates (
    device_id  TEXT NOT NULL REFERENCES devices(id),
    release_id TEXT NOT NULL REFERENCES releases(id),
    state      TEXT NOT NULL CHECK (state IN ('downloading', 'downloaded', 'installing',
                   'installed', 'running', 'good', 'rolled_back', 'failed')),
    detail     TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (device_id, release_id)
);
CREATE INDEX device_updates_release ON device_updates(release_id);
