//! The server's integration tests, one binary (a server change links it once):
//! one module per area, `common` (the harness and the portal fixtures) and
//! `fixtures` (JPEGs made in code) shared.

mod common;
mod fixtures;

mod agenda;
mod archive;
mod attendance;
mod authz_matrix;
mod backup_restore;
mod blobs;
mod device_api;
mod doorbell;
mod language;
mod mosquitto;
mod mqtt_hooks;
mod news;
mod photo_processing;
mod planning;
mod portal;
mod store_conformance;
mod two_processes;
mod updates;
mod uploads;
