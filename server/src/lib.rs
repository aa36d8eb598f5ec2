//! kring-server: the central server. Device API (JSON over HTTP), resumable
//! photo uploads (tus 1.0), the embedded MQTT doorbell, admin commands.

pub mod broker;
pub mod photo;
