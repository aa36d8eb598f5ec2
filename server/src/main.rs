//! `kring-server`: the central server binary.
#![allow(clippy::print_stdout)] // a CLI talks to its user on stdout

use anyhow::Context;
use clap::{Parser, Subcommand};
use kring_server::device_api::devices;
use kring_server::open_store;
use kring_server::settings::Settings;
use kring_server::store::{NewRelease, NewRollout, RolloutScope, Store};
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "kring-server",
    version,
    about = "kring central server: device API, MQTT doorbell, parent portal"
)]
struct Cli {
    /// Settings file (TOML). `KRING__...` environment variables override it.
    #[arg(long, global = true, env = "KRING_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (database and photos); overrides the settings.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Load the demo organisation first (once) and print its logins.
        #[arg(long)]
        demo: bool,
    },
    /// Run the server with the demo organisation (same as `serve --demo`).
    Demo,
    /// Location manager commands on the data directory.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Make a single-use enrollment code (valid 15 minutes) for a group, with its QR code.
    EnrollCode {
        /// The group: `organisation/group` (the organisation's slug), its id, or its name
        /// alone when no other group carries it.
        #[arg(long)]
        group: String,
    },
    /// List devices.
    Devices,
    /// Revoke a device: it gets 401 and wipes itself; its MQTT session closes within a minute.
    Revoke { device: kring_protocol::DeviceId },
    /// Appliance updates: signed RAUC bundles (format=verity) and their rollouts.
    Release {
        #[command(subcommand)]
        command: ReleaseCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ReleaseCommand {
    /// Add a bundle for an organisation: copies it into the data directory and reads its
    /// version and compatible from its manifest. Prints the new release's id alone (the same
    /// bundle added again prints the id it already has). The signature is not checked here:
    /// the device's RAUC checks it against the organisation's key.
    Add {
        /// The bundle (`.raucb`, format=verity).
        file: PathBuf,
        /// Organisation slug, name or id.
        #[arg(long)]
        org: String,
    },
    /// Offer a release to one device, a group, a location or every device of its
    /// organisation; they install it outside opening hours (19:00-06:30, or --window)
    /// unless --now. A running server
    /// nudges the devices within a minute.
    #[command(group(clap::ArgGroup::new("scope").required(true).args(["device", "group", "location", "all"])))]
    Rollout {
        release: kring_protocol::ReleaseId,
        #[arg(long)]
        device: Option<kring_protocol::DeviceId>,
        /// Group id or name (within the release's organisation).
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        location: Option<kring_protocol::LocationId>,
        /// Every device of the release's organisation.
        #[arg(long)]
        all: bool,
        /// Install at any time instead of at night.
        #[arg(long, conflicts_with = "window")]
        now: bool,
        /// When the devices may install, local time, e.g. 20:00-06:00.
        #[arg(long, value_parser = parse_window)]
        window: Option<kring_protocol::InstallWindow>,
    },
    /// List releases with how many devices are in each state.
    List,
}

fn main() -> anyhow::Result<()> {
    // logs go to stderr: stdout is the commands' output (scripts read `release add`'s id)
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,rmqtt=warn")),
        )
        .init();
    let cli = Cli::parse();
    let mut settings = Settings::load(cli.config.as_deref())?;
    if let Some(dir) = cli.data_dir {
        settings.data_dir = dir;
    }
    match cli.command {
        Command::Serve { demo } => serve(settings, demo),
        Command::Demo => serve(settings, true),
        Command::Admin { command } => admin(settings, command),
    }
}

fn serve(settings: Settings, demo: bool) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        if demo {
            load_demo(&settings).await?;
        }
        let listener = tokio::net::TcpListener::bind(settings.http.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.http.listen))?;
        let server = kring_server::start(settings.clone(), listener).await?;
        println!(
            "kring-server draait op {} (MQTT: {:?})",
            server.base_url(),
            server.mqtt_addr
        );
        println!("Stoppen: Ctrl+C");
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl+C")?;
        server.shutdown().await;
        Ok(())
    })
}

async fn load_demo(settings: &Settings) -> anyhow::Result<()> {
    let store = open_store(settings).await?.store;
    // the demo organisation keeps the default time zone (Europe/Amsterdam)
    let today = kring_protocol::Calendar::default().today(chrono::Utc::now());
    let summary = store.load_demo(today).await?;
    match summary {
        None => println!(
            "Demo-organisatie staat al in {}.",
            settings.data_dir.display()
        ),
        Some(s) => {
            println!(
                "Demo-organisatie geladen: {} ({} kinderen)",
                s.organisation, s.children
            );
            for group in &s.groups {
                println!("  groep {}", group.name);
            }
            let blobs = kring_server::open_blobs(settings)?;
            let photos = store.load_demo_photos(blobs, chrono::Utc::now()).await?;
            println!("{photos} demo-foto's geplaatst");
            println!("Demo-logins:");
            for l in &s.logins {
                let first = if l.must_change_password {
                    "  (kiest bij eerste keer inloggen een nieuw wachtwoord)"
                } else {
                    ""
                };
                println!(
                    "  {:<24} {:<28} {:<34} {:<14} {}{first}",
                    l.role, l.name, l.login, l.secret, l.note
                );
            }
        }
    }
    let port = settings.http.listen.port();
    let domain = &settings.portal.base_domain;
    println!(
        "Ouderportaal en beheer: http://{}.{domain}:{port}/",
        kring_server::demo::DEMO_SLUG
    );
    println!(
        "  ouder:          anne.devries@example.nl / {}",
        kring_server::demo::DEMO_PARENT_PASSWORD
    );
    println!(
        "  locatiemanager: {} / {}",
        kring_server::demo::DEMO_MANAGER_EMAIL,
        kring_server::demo::DEMO_MANAGER_PASSWORD
    );
    println!("  andere organisatie: http://anker.{domain}:{port}/");
    println!(
        "  e-mails (wachtwoord vergeten, notificaties): {}",
        settings.mail_folder().display()
    );
    // A fresh enrollment code for the first group, so a kiosk can enroll right away.
    let group = store
        .find_group(format!("{}/Dolfijnen", kring_server::demo::DEMO_SLUG))
        .await?;
    if let kring_server::store::GroupLookup::Found(group) = group {
        let code = store
            .create_enrollment_code(
                group,
                chrono::Utc::now(),
                chrono::Duration::minutes(devices::CODE_TTL_MINUTES),
            )
            .await?;
        print_code(settings, &code)?;
    }
    Ok(())
}

fn print_code(settings: &Settings, code: &devices::EnrollmentCode) -> anyhow::Result<()> {
    let payload = format!(
        "kring://enroll?server={}&code={}",
        settings.http.public_url, code.code
    );
    let qr = QrCode::new(payload.as_bytes()).context("making the QR code")?;
    let image = qr.render::<Dense1x2>().quiet_zone(true).build();
    println!("{image}");
    println!(
        "Koppelcode: {}  (eenmalig, geldig tot {} UTC)",
        code.code,
        code.expires_at.format("%H:%M")
    );
    println!("QR-inhoud: {payload}");
    Ok(())
}

fn admin(settings: Settings, command: AdminCommand) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(admin_command(settings, command))
}

async fn admin_command(settings: Settings, command: AdminCommand) -> anyhow::Result<()> {
    let store = open_store(&settings).await?.store;
    match command {
        AdminCommand::EnrollCode { group } => {
            let group_id = store
                .find_group(group.clone())
                .await?
                .one(&group)
                .map_err(anyhow::Error::msg)?;
            let code = store
                .create_enrollment_code(
                    group_id,
                    chrono::Utc::now(),
                    chrono::Duration::minutes(devices::CODE_TTL_MINUTES),
                )
                .await?;
            print_code(&settings, &code)?;
        }
        AdminCommand::Devices => {
            let list = store.list_devices(None).await?;
            if list.is_empty() {
                println!("Geen apparaten.");
            }
            for d in list {
                let status = match (&d.revoked_at, d.online) {
                    (Some(at), _) => format!("ingetrokken {at}"),
                    (None, true) => "online".to_string(),
                    (None, false) => "offline".to_string(),
                };
                println!(
                    "{}  {:<20} {:<12} v{:<8} laatst gezien {:<32} {}",
                    d.id,
                    d.name,
                    d.group_name,
                    d.app_version,
                    d.last_seen_at.as_deref().unwrap_or("nooit"),
                    status
                );
            }
        }
        AdminCommand::Release { command } => {
            release_command(&settings, store.as_ref(), command).await?
        }
        AdminCommand::Revoke { device } => {
            let done = store.revoke_device(device, chrono::Utc::now()).await?;
            if done {
                println!(
                    "Apparaat {device} ingetrokken. Het krijgt geen toegang meer en wist zichzelf."
                );
            } else {
                anyhow::bail!("no active device {device}");
            }
        }
    }
    Ok(())
}

async fn release_command(
    settings: &Settings,
    store: &dyn Store,
    command: ReleaseCommand,
) -> anyhow::Result<()> {
    match command {
        ReleaseCommand::Add { file, org } => {
            let org_id = store
                .find_organisation(org.clone())
                .await?
                .with_context(|| format!("no organisation {org:?}"))?;
            let data_dir = settings.data_dir.clone();
            let source = file.clone();
            let stored = tokio::task::spawn_blocking(move || {
                kring_server::releases::import_file(&data_dir, &source)
            })
            .await
            .context("copying the bundle")?
            .with_context(|| format!("{} is not taken as a release", file.display()))?;
            let added = store
                .create_release(NewRelease {
                    id: stored.id,
                    org: org_id,
                    version: stored.manifest.version.clone(),
                    compatible: stored.manifest.compatible.clone(),
                    sha256: stored.sha256.clone(),
                    size: stored.size,
                    file_name: stored.file_name.clone(),
                    uploaded_at: chrono::Utc::now(),
                    uploaded_by: None,
                })
                .await;
            let added = match added {
                Ok(a) => a,
                Err(e) => {
                    kring_server::releases::remove(&settings.data_dir, &stored.file_name);
                    return Err(e.into());
                }
            };
            if !added.new {
                kring_server::releases::remove(&settings.data_dir, &stored.file_name);
            }
            tracing::info!(
                release = %added.id,
                new = added.new,
                version = %stored.manifest.version,
                compatible = %stored.manifest.compatible,
                sha256 = %stored.sha256,
                size = stored.size,
                "release added"
            );
            println!("{}", added.id);
        }
        ReleaseCommand::Rollout {
            release,
            device,
            group,
            location,
            all,
            now,
            window,
        } => {
            let row = store
                .release(release)
                .await?
                .with_context(|| format!("no release {release}"))?;
            let scope = match (device, group, location) {
                (Some(d), _, _) => RolloutScope::Device(d),
                (_, Some(g), _) => {
                    let found: Vec<_> = store
                        .org_groups(row.org)
                        .await?
                        .into_iter()
                        .filter(|x| x.id.to_string() == g || x.name.eq_ignore_ascii_case(&g))
                        .collect();
                    match found.as_slice() {
                        [one] => RolloutScope::Group(one.id),
                        [] => anyhow::bail!("no group {g:?} in the release's organisation"),
                        _ => anyhow::bail!("{} groups are called {g:?}; give its id", found.len()),
                    }
                }
                (_, _, Some(l)) => RolloutScope::Location(l),
                _ if all => RolloutScope::Organisation,
                _ => anyhow::bail!("say which devices: --device, --group, --location or --all"),
            };
            let window =
                (!now).then(|| window.unwrap_or_else(kring_protocol::InstallWindow::nightly));
            let created = store
                .create_rollout(
                    row.org,
                    NewRollout {
                        release,
                        scope,
                        window: window.clone(),
                        created_at: chrono::Utc::now(),
                        created_by: None,
                        nudged: false,
                    },
                )
                .await?;
            let when = match &window {
                Some(w) => format!("buiten openingstijden ({}-{})", w.from, w.until),
                None => "direct".to_string(),
            };
            println!(
                "Uitrol {}: versie {} ({}) naar {} apparaten, installeren {when}.",
                created.id,
                row.version,
                row.compatible,
                created.devices.len()
            );
        }
        ReleaseCommand::List => {
            let list = store.releases(None).await?;
            if list.is_empty() {
                println!("Geen releases.");
            }
            for s in list {
                let mut counts = vec![format!("offered={}", s.offered)];
                for st in kring_server::store::UPDATE_STATES {
                    let n = s
                        .states
                        .iter()
                        .find(|(x, _)| *x == st)
                        .map_or(0, |(_, n)| *n);
                    counts.push(format!("{}={n}", st.as_str()));
                }
                println!(
                    "{}  {} {}  {} bytes  org {}  rollouts={}  {}",
                    s.release.id,
                    s.release.compatible,
                    s.release.version,
                    s.release.size,
                    s.release.org,
                    s.rollouts,
                    counts.join(" ")
                );
            }
        }
    }
    Ok(())
}

/// `--window 20:00-06:00`.
fn parse_window(s: &str) -> Result<kring_protocol::InstallWindow, String> {
    kring_protocol::InstallWindow::parse(s)
        .ok_or_else(|| format!("{s:?} is not a window like 19:00-06:30 (two different times)"))
}
