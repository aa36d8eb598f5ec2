//! `kring`: the kiosk binary. On a desktop it opens a window; on the device
//! (feature `device`) it runs full screen on DRM/KMS with touch input.

use anyhow::Context;
use kring::settings::KioskSettings;
use kring_hardware::CameraChoice;
use std::path::PathBuf;
use std::sync::Arc;

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rumqttc=warn")),
        )
        .init();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        tracing::info!(
            "usage: kring [--config FILE] [--data-dir DIR] [--server URL] [--enroll-code CODE] [--camera auto|synthetic|folder:DIR|device:N] [--language nl|en]\n       kring provision FILE [--config FILE]   (appliance: apply the boot partition's kring.txt)\n       kring update-install [--config FILE]   (appliance, root: install the bundle the kiosk asked for)"
        );
        return Ok(());
    }
    let config = flag(&args, "--config").or_else(|| std::env::var("KRING_CONFIG").ok());
    let sub = kring::appliance::subcommand(&args);
    if let Some((word, _)) = &sub
        && !["provision", "bench-queue", "update-install"].contains(word)
    {
        anyhow::bail!("unknown command {word:?} (see kring --help)");
    }
    if let Some(("provision", rest)) = &sub {
        let file = *rest.first().context("usage: kring provision FILE")?;
        let settings = KioskSettings::load(config.as_deref().map(std::path::Path::new))?;
        let done = kring::appliance::provision(std::path::Path::new(file), &settings.data_dir)
            .with_context(|| format!("provisioning from {file}"))?;
        tracing::info!(
            server = ?done.server,
            koppelcode = done.has_code,
            rotation = ?done.rotation,
            applied = %done.applied.display(),
            "provisioning applied"
        );
        return Ok(());
    }
    if let Some(("update-install", _)) = &sub {
        // Root, from kring-update.service: the kiosk asked for an install.
        let settings = KioskSettings::load(config.as_deref().map(std::path::Path::new))?;
        let dir = settings.data_dir.join(kring::appliance::UPDATE_DIR);
        let result = kring_sync::update::install(&dir, std::path::Path::new("rauc"))
            .with_context(|| format!("installing from {}", dir.display()))?;
        match result {
            None => tracing::info!("no install request"),
            Some(r) if r.ok => {
                tracing::info!(release = %r.release_id, message = %r.message, "installed; restarting into the new slot");
                let status = std::process::Command::new("systemctl")
                    .arg("reboot")
                    .status()
                    .context("systemctl reboot")?;
                anyhow::ensure!(status.success(), "systemctl reboot: {status}");
            }
            Some(r) => {
                tracing::error!(release = %r.release_id, message = %r.message, "install failed")
            }
        }
        return Ok(());
    }
    let mut settings = KioskSettings::load(config.as_deref().map(std::path::Path::new))?;
    if let Some(d) = flag(&args, "--data-dir") {
        settings.data_dir = PathBuf::from(d);
    }
    if let Some(s) = flag(&args, "--server") {
        settings.server_url = s;
    }
    if let Some(c) = flag(&args, "--camera") {
        settings.camera = c;
    }
    if let Some(l) = flag(&args, "--language") {
        settings.language = l;
    }
    let enroll_code = flag(&args, "--enroll-code");

    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    let (store, report) = kring_sync::Store::open(&settings.data_dir)?;
    if let Some(("bench-queue", rest)) = &sub {
        let count: usize = rest
            .first()
            .and_then(|n| n.parse().ok())
            .context("usage: kring bench-queue N")?;
        let choice: CameraChoice = settings.camera.parse().unwrap_or(CameraChoice::Auto);
        let mut camera = kring_hardware::open_camera(&choice);
        let n = kring::appliance::bench_queue(&store, camera.as_mut(), count)?;
        tracing::info!(queued = n, "bench-queue: photos saved");
        return Ok(());
    }
    if !report.missing_photos.is_empty() {
        tracing::warn!(
            missing = report.missing_photos.len(),
            "photos missing on start-up"
        );
    }
    let store = Arc::new(store);
    kring::appliance::start_health(&settings.data_dir);
    kring::autopilot::start_if_asked(store.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the sync runtime")?;
    let choice: CameraChoice = settings.camera.parse().unwrap_or(CameraChoice::Auto);
    let camera = kring_hardware::open_camera(&choice);
    let (ui, ctx) = kring::app::build(
        store.clone(),
        settings.clone(),
        Some(runtime.handle().clone()),
        camera,
    )?;
    *ctx.backlight.borrow_mut() = kring_hardware::detect_backlight();
    ctx.wake_screen();
    let enrolled = store.device()?.is_some();
    let provisioned_code = kring::appliance::pending_enroll_code(&settings.data_dir);
    if enrolled && provisioned_code.is_some() {
        kring::appliance::forget_enroll_code(&settings.data_dir);
    }
    if !enrolled {
        if let Some(code) = enroll_code {
            kring::controllers::admin::enroll(&ctx, settings.server_url.clone(), code);
        } else if let Some(code) = provisioned_code {
            tracing::info!("enrolling with the provisioned koppelcode");
            kring::controllers::admin::enroll_provisioned(&ctx, settings.server_url.clone(), code);
        }
    }
    let watchdog = kring::appliance::Watchdog::start();
    slint::ComponentHandle::run(&ui)?;
    drop(watchdog);
    if let Some(e) = ctx.engine.borrow().as_ref() {
        e.stop();
    }
    drop(ctx);
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(())
}
