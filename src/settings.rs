//! The kiosk's settings: defaults, then `/etc/kring/kring.toml` (or the file
//! named by `KRING_CONFIG`), then the device's own `<data_dir>/settings.toml`
//! (provisioning writes it), then `KRING__...` environment variables, then
//! command-line flags.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KioskSettings {
    /// The central server, e.g. `https://zonnebloem.example.nl`.
    pub server_url: String,
    /// Where the device store lives.
    pub data_dir: PathBuf,
    /// `auto`, `synthetic`, `folder:/path` or `device:0`.
    pub camera: String,
    /// Lock after this many seconds without a touch.
    pub idle_seconds: u64,
    /// Dim the screen this many seconds after it locked without a touch.
    pub dim_seconds: u64,
    /// Backlight level when dimmed (0.0-1.0); a touch brings it back to full.
    pub dim_level: f32,
    /// `nl` or `en`.
    pub language: String,
    /// Name in the device list.
    pub device_name: String,
}

impl Default for KioskSettings {
    fn default() -> Self {
        Self {
            server_url: "http://127.0.0.1:8080".into(),
            data_dir: PathBuf::from("/var/lib/kring"),
            camera: "auto".into(),
            idle_seconds: 120,
            dim_seconds: 60,
            dim_level: 0.15,
            language: "nl".into(),
            device_name: "Groepsscherm".into(),
        }
    }
}

/// Settings could not be read.
#[derive(Debug)]
pub struct SettingsError(pub Box<figment::Error>);

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid kiosk settings: {}", self.0)
    }
}

impl std::error::Error for SettingsError {}

impl KioskSettings {
    pub const SYSTEM_FILE: &'static str = "/etc/kring/kring.toml";

    /// Defaults, then `file` (or the system file), then the device's own
    /// settings in `<data_dir>/settings.toml` (written by provisioning on the
    /// appliance), then `KRING__` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let file = file.map_or_else(|| PathBuf::from(Self::SYSTEM_FILE), Path::to_path_buf);
        let base = Figment::from(Serialized::defaults(Self::default())).merge(Toml::file(file));
        let env = || Env::prefixed("KRING__").split("__");
        let first: Self = base
            .clone()
            .merge(env())
            .extract()
            .map_err(|e| SettingsError(Box::new(e)))?;
        let local = first.data_dir.join(crate::appliance::LOCAL_SETTINGS_FILE);
        base.merge(Toml::file(local))
            .merge(env())
            .extract()
            .map_err(|e| SettingsError(Box::new(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)]
    fn defaults_file_env() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("k.toml", "idle_seconds = 60\ncamera = \"synthetic\"\n")?;
            jail.set_env("KRING__LANGUAGE", "en");
            let s = KioskSettings::load(Some(Path::new("k.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.idle_seconds, 60);
            assert_eq!(s.camera, "synthetic");
            assert_eq!(s.language, "en");
            assert_eq!(s.device_name, "Groepsscherm");
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn the_devices_own_settings_come_after_the_system_file() {
        figment::Jail::expect_with(|jail| {
            std::fs::create_dir_all(jail.directory().join("data")).map_err(|e| e.to_string())?;
            jail.create_file(
                "k.toml",
                "data_dir = \"data\"\nserver_url = \"http://system\"\ncamera = \"synthetic\"\n",
            )?;
            jail.create_file(
                "data/settings.toml",
                "server_url = \"https://provisioned.nl\"\n",
            )?;
            let s = KioskSettings::load(Some(Path::new("k.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.server_url, "https://provisioned.nl");
            assert_eq!(s.camera, "synthetic");
            jail.set_env("KRING__SERVER_URL", "http://env");
            let s = KioskSettings::load(Some(Path::new("k.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(s.server_url, "http://env");
            Ok(())
        });
    }
}
