//! kring kiosk application (placeholder until the kiosk issue fills it in).

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().init();
    tracing::info!(
        api_version = kring_protocol::API_VERSION,
        "kring kiosk: the touchscreen app is not built yet; run `kring-server demo` for the server"
    );
    Ok(())
}
