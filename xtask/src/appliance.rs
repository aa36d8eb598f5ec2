//! The appliance: the kiosk cross-built for the Pi (arm64), the root file
//! system from Debian bookworm arm64 packages (mmdebstrap, maintainer scripts
//! through qemu-user), and the SD-card images assembled by genimage from
//! `firmware-image/` — for `rpi4` (real hardware) and `qemu-virt` (the test).
//!
//! - `cargo xtask device`            the kiosk for aarch64 (`--profile device`)
//! - `cargo xtask image [TARGET..]`  device build, root file system, images
//! - `cargo xtask appliance-test`    image for qemu-virt, then boots and drives it

use crate::{apt_install, root, run};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const TRIPLE: &str = "aarch64-unknown-linux-gnu";

/// Host packages for cross-building the kiosk (the arm64 ones are multiarch).
const CROSS_PACKAGES: &[&str] = &[
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",
    "binutils-aarch64-linux-gnu",
    "libclang-dev",
    "pkg-config",
    "libinput-dev:arm64",
    "libudev-dev:arm64",
    "libxkbcommon-dev:arm64",
    "libfontconfig-dev:arm64",
];

/// Host packages for building and booting the images.
const IMAGE_PACKAGES: &[&str] = &[
    "qemu-user-static",
    "binfmt-support",
    "mmdebstrap",
    "arch-test",
    "genimage",
    "dosfstools",
    "mtools",
    "e2fsprogs",
    "fdisk",
    "zstd",
    "qemu-system-arm",
    "socat",
    // A/B updates: U-Boot as QEMU's firmware, its tools, RAUC and keys
    "u-boot-qemu",
    "u-boot-tools",
    "rauc",
    "squashfs-tools",
    "openssl",
];

/// The root file system: systemd, the kiosk's runtime libraries, fonts,
/// certificates, the kernel, and what first boot and maintenance need.
/// Nothing else: no login, no desktop, no package manager use at run time.
const ROOTFS_PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "udev",
    "systemd-resolved",
    "systemd-timesyncd",
    "dbus",
    // the kiosk's NEEDED libraries (see docs/appliance.md)
    "libinput10",
    "libudev1",
    "libxkbcommon0",
    "libfontconfig1",
    "fontconfig",
    "fonts-dejavu-core",
    "ca-certificates",
    "tzdata",
    // the kernel (qemu-virt boots Debian's; the Pi uses the same with its DTB)
    "linux-image-arm64",
    "initramfs-tools",
    // first boot: grow and format the data partition
    "cloud-guest-utils",
    "fdisk",
    "e2fsprogs",
    "kmod",
    "procps",
    // maintenance mode only (off unless kring-onderhoud.pub is on the card)
    "openssh-server",
    // sleeps unless a QEMU guest-agent port exists (never on a Pi)
    "qemu-guest-agent",
    // A/B updates: RAUC, and fw_printenv/fw_setenv for U-Boot's boot state
    "rauc",
    "libubootenv-tool",
];

/// Installs cross toolchain packages (and the arm64 architecture) and the
/// rust-std for aarch64.
pub fn cross_deps() -> anyhow::Result<()> {
    let foreign = Command::new("dpkg")
        .arg("--print-foreign-architectures")
        .output()
        .context("dpkg")?;
    if !String::from_utf8_lossy(&foreign.stdout).contains("arm64") {
        run(Command::new("dpkg").args(["--add-architecture", "arm64"]))?;
    }
    apt_install(CROSS_PACKAGES)?;
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("rustup")?;
    if !String::from_utf8_lossy(&installed.stdout).contains(TRIPLE) {
        run(Command::new("rustup").args(["target", "add", TRIPLE]))?;
    }
    Ok(())
}

/// The image tools, and binfmt_misc so arm64 maintainer scripts run through qemu-user.
pub fn image_deps() -> anyhow::Result<()> {
    apt_install(IMAGE_PACKAGES)?;
    let binfmt = Path::new("/proc/sys/fs/binfmt_misc");
    if !binfmt.join("register").exists() {
        run(Command::new("mount").args([
            "-t",
            "binfmt_misc",
            "binfmt_misc",
            "/proc/sys/fs/binfmt_misc",
        ]))?;
    }
    if !binfmt.join("qemu-aarch64").exists() {
        run(Command::new("update-binfmts").args(["--enable", "qemu-aarch64"]))?;
    }
    Ok(())
}

/// `cargo xtask device`: the kiosk for the Pi. Returns the binary's path.
pub fn device_build() -> anyhow::Result<PathBuf> {
    cross_deps()?;
    let mut cmd = crate::cargo();
    cmd.args([
        "build",
        "--profile",
        "device",
        "--target",
        TRIPLE,
        "-p",
        "kring",
        "--no-default-features",
        "--features",
        "device",
    ]);
    let sysroot = "/usr/aarch64-linux-gnu";
    cmd.env(
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
        "aarch64-linux-gnu-gcc",
    )
    .env("CC_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-gcc")
    .env("CXX_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-g++")
    .env("AR_aarch64_unknown_linux_gnu", "aarch64-linux-gnu-ar")
    .env("PKG_CONFIG_ALLOW_CROSS", "1")
    .env(
        "PKG_CONFIG_LIBDIR",
        "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig",
    )
    .env("PKG_CONFIG_SYSROOT_DIR", "/")
    .env(
        "BINDGEN_EXTRA_CLANG_ARGS_aarch64_unknown_linux_gnu",
        format!("--target=aarch64-linux-gnu --sysroot={sysroot} -I{sysroot}/include"),
    );
    run(&mut cmd)?;
    let bin = root()
        .join("target")
        .join(TRIPLE)
        .join("device")
        .join("kring");
    let size = std::fs::metadata(&bin)
        .with_context(|| format!("no binary at {}", bin.display()))?
        .len();
    let needed = needed_libraries(&bin)?;
    println!(
        "kiosk for {TRIPLE}: {} ({:.1} MiB)",
        bin.display(),
        size as f64 / 1048576.0
    );
    println!("NEEDED: {}", needed.join(" "));
    Ok(bin)
}

/// The shared libraries the binary asks the dynamic linker for.
pub fn needed_libraries(bin: &Path) -> anyhow::Result<Vec<String>> {
    let out = Command::new("aarch64-linux-gnu-readelf")
        .arg("-d")
        .arg(bin)
        .output()
        .context("aarch64-linux-gnu-readelf")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next().map(str::to_string))
        .collect())
}

/// The image targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Raspberry Pi 4 (and 5): the Pi's firmware, config.txt, the Debian kernel with its DTB.
    Rpi4,
    /// QEMU `-M virt`: virtio disk, gpu, keyboard and tablet.
    QemuVirt,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Rpi4 => "rpi4",
            Target::QemuVirt => "qemu-virt",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Self> {
        match s {
            "rpi4" => Ok(Target::Rpi4),
            "qemu-virt" => Ok(Target::QemuVirt),
            other => bail!("unknown image target {other:?} (rpi4, qemu-virt)"),
        }
    }
}

/// Where the image work happens (never committed).
pub fn work_dir() -> PathBuf {
    root().join("target").join("appliance")
}

/// The host's own apt sources, as a file mmdebstrap copies into the new root,
/// with the `non-free-firmware` component added (the Pi's boot firmware).
fn apt_sources(dir: &Path) -> anyhow::Result<PathBuf> {
    let deb822 = Path::new("/etc/apt/sources.list.d/debian.sources");
    let out = dir.join("debian.sources");
    if deb822.exists() {
        let text = std::fs::read_to_string(deb822)?;
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("Components:") && !l.contains("non-free-firmware") {
                    format!("{l} non-free-firmware\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(&out, text)?;
        return Ok(out);
    }
    let list = Path::new("/etc/apt/sources.list");
    let text = std::fs::read_to_string(list).context("no apt sources on this machine")?;
    let text: String = text
        .lines()
        .filter(|l| l.trim_start().starts_with("deb ") && l.contains("bookworm"))
        .map(|l| {
            if l.contains("non-free-firmware") {
                format!("{l}\n")
            } else {
                format!("{l} non-free-firmware\n")
            }
        })
        .collect();
    let out = dir.join("sources.list");
    std::fs::write(&out, text)?;
    Ok(out)
}

/// Builds the root file system directory (Debian bookworm arm64) with the
/// overlay and the kiosk in it. Returns the directory.
fn rootfs(kiosk: &Path) -> anyhow::Result<PathBuf> {
    let work = work_dir();
    std::fs::create_dir_all(&work)?;
    let dir = work.join("rootfs");
    unmount_below(&dir);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).context("removing the old root file system")?;
    }
    let sources = apt_sources(&work)?;
    let overlay = root().join("firmware-image").join("overlay");
    let firmware_debs = work.join("raspi-firmware");
    if firmware_debs.exists() {
        std::fs::remove_dir_all(&firmware_debs)?;
    }
    std::fs::create_dir_all(&firmware_debs)?;
    let doc = root().join("docs").join("appliance.md");
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--mode=root", "--architectures=arm64", "--variant=minbase"])
        .arg(format!("--include={}", ROOTFS_PACKAGES.join(",")))
        // no manuals, docs or translations on a kiosk (copyright files stay)
        .arg("--dpkgopt=path-exclude=/usr/share/man/*")
        .arg("--dpkgopt=path-exclude=/usr/share/doc/*")
        .arg("--dpkgopt=path-include=/usr/share/doc/*/copyright")
        .arg("--dpkgopt=path-exclude=/usr/share/locale/*")
        .arg("--dpkgopt=path-exclude=/usr/share/info/*")
        // a small initrd (firmware-image/initramfs/), in place before the kernel comes
        .arg("--essential-hook=mkdir -p \"$1/etc/initramfs-tools\"")
        .arg(format!(
            "--essential-hook=sync-in {} /etc/initramfs-tools",
            root().join("firmware-image").join("initramfs").display()
        ))
        // the Pi's boot firmware, fetched through the same apt, kept outside the root
        .arg("--customize-hook=rm -f \"$1/etc/resolv.conf\" && cp /etc/resolv.conf \"$1/etc/resolv.conf\"")
        .arg("--customize-hook=chroot \"$1\" sh -c 'mkdir -p /tmp/rpi && cd /tmp/rpi && chown _apt /tmp/rpi && apt-get download raspi-firmware'")
        .arg(format!("--customize-hook=sync-out /tmp/rpi {}", firmware_debs.display()))
        .arg("--customize-hook=rm -rf \"$1/tmp/rpi\"")
        .arg(format!("--customize-hook=sync-in {} /", overlay.display()))
        .arg(format!("--customize-hook=upload {} /usr/bin/kring", kiosk.display()))
        .arg("--customize-hook=mkdir -p \"$1/usr/share/doc/kring\"")
        .arg(format!("--customize-hook=upload {} /usr/share/doc/kring/appliance.md", doc.display()))
        .arg(format!("--customize-hook={}", CUSTOMIZE))
        .arg("bookworm")
        .arg(&dir)
        .arg(&sources);
    run(&mut cmd)?;
    Ok(dir)
}

/// Runs on the host after the packages are in, with the new root as `$1`.
const CUSTOMIZE: &str = r#"set -e
chmod 0755 "$1/usr/bin/kring" "$1/usr/libexec/kring/data-setup" "$1/usr/libexec/kring/maintenance" "$1/usr/libexec/kring/confirm" "$1/usr/libexec/kring/rauc-bin/fw_setenv"
chmod 0644 "$1/usr/share/doc/kring/appliance.md"
chroot "$1" sh -e -c '
getent group render >/dev/null || groupadd --system render
getent group input >/dev/null || groupadd --system input
useradd --system --user-group --home-dir /data/kring --no-create-home --shell /usr/sbin/nologin --groups video,input,render kring
systemctl enable kring-kiosk.service kring-provision.service kring-maintenance.service kring-update.path kring-confirm.service rauc.service systemd-networkd.service systemd-resolved.service systemd-timesyncd.service
systemctl disable ssh.service ssh.socket 2>/dev/null || true
systemctl mask ssh.service getty@.service serial-getty@.service autovt@.service console-getty.service systemd-firstboot.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer
ln -sf /usr/share/zoneinfo/Europe/Amsterdam /etc/localtime
echo Europe/Amsterdam > /etc/timezone
echo kring > /etc/hostname
printf "127.0.0.1 localhost\n127.0.1.1 kring\n::1 localhost\n" > /etc/hosts
passwd --lock root
'
ln -sf /run/systemd/resolve/stub-resolv.conf "$1/etc/resolv.conf"
# the machine id is made at boot (read-only root: kept in RAM)
: > "$1/etc/machine-id"
rm -f "$1/var/lib/dbus/machine-id"
rm -f "$1"/etc/ssh/ssh_host_*
mkdir -p "$1/data" "$1/boot/firmware"
rm -f "$1"/boot/*.dpkg-bak "$1"/boot/*.new
"#;

/// mmdebstrap mounts /proc, /sys and /dev inside the root while it works; an
/// interrupted run can leave them: never delete through a mount.
pub fn unmount_below(dir: &Path) {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let prefix = dir.to_string_lossy().to_string();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = Command::new("umount").args(["-l", p]).status();
    }
}

/// Fills `<root>/boot/firmware` for one target, and puts the target's
/// release and RAUC configuration into the root.
fn stage_boot(rootfs: &Path, target: Target) -> anyhow::Result<()> {
    let boot = rootfs.join("boot").join("firmware");
    if boot.exists() {
        std::fs::remove_dir_all(&boot)?;
    }
    std::fs::create_dir_all(&boot)?;
    let (vmlinuz, initrd) = kernel_files(rootfs)?;
    // U-Boot (on both targets) loads the kernel and initrd from the booted
    // slot itself, so a bundle brings its kernel with its modules.
    std::fs::copy(&vmlinuz, rootfs.join("boot/vmlinuz"))?;
    std::fs::copy(&initrd, rootfs.join("boot/initrd.img"))?;
    crate::update::stage_root(rootfs, target, &crate::update::release_version())?;
    crate::update::stage_boot(&boot, target)?;

    let fw = root()
        .join("firmware-image")
        .join("boot")
        .join(target.name());
    if fw.exists() {
        for entry in std::fs::read_dir(&fw).with_context(|| format!("{}", fw.display()))? {
            let entry = entry?;
            std::fs::copy(entry.path(), boot.join(entry.file_name()))?;
        }
    }
    std::fs::write(boot.join("kring-voorbeeld.txt"), PROVISION_EXAMPLE)?;
    if target == Target::Rpi4 {
        // the Pi's firmware (start4.elf, fixup4.dat, ...) from Debian's raspi-firmware
        let debs = work_dir().join("raspi-firmware");
        let deb = std::fs::read_dir(&debs)
            .with_context(|| format!("{}", debs.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .context("raspi-firmware was not downloaded")?;
        let x = work_dir().join("raspi-firmware-x");
        if x.exists() {
            std::fs::remove_dir_all(&x)?;
        }
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x))?;
        let files = x.join("usr/lib/raspi-firmware");
        for entry in std::fs::read_dir(&files)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::copy(entry.path(), boot.join(entry.file_name()))?;
            }
        }
        // the device trees and overlays that come with Debian's kernel
        let dtbs = kernel_dir(rootfs)?;
        for dtb in [
            "bcm2711-rpi-4-b.dtb",
            "bcm2711-rpi-400.dtb",
            "bcm2711-rpi-cm4.dtb",
        ] {
            let src = dtbs.join("broadcom").join(dtb);
            if src.exists() {
                std::fs::copy(&src, boot.join(dtb))?;
            }
        }
    }
    Ok(())
}

/// What a location writes: shown on the boot partition as an example.
const PROVISION_EXAMPLE: &str = "# kring - instellingen voor dit groepsscherm\r\n\
# Kopieer dit bestand naar kring.txt (naast dit bestand) en vul het in.\r\n\
# Bij de eerste start neemt het scherm de instellingen over; de koppelcode\r\n\
# wordt daarna van de kaart verwijderd.\r\n\
\r\n\
server = \"https://zonnebloem.kring.nl\"\r\n\
# koppelcode = \"ABCD-EFGH\"\r\n\
# rotatie = 0\r\n\
# taal = \"nl\"\r\n\
# naam = \"Groepsscherm Dolfijnen\"\r\n";

fn kernel_dir(rootfs: &Path) -> anyhow::Result<PathBuf> {
    let lib = rootfs.join("usr/lib");
    std::fs::read_dir(&lib)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("linux-image-"))
        })
        .context("no kernel device trees in the root file system")
}

/// The kernel in `/boot` and the initrd made for exactly that version.
fn kernel_files(rootfs: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let boot = rootfs.join("boot");
    let version = std::fs::read_dir(&boot)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix("vmlinuz-")
                .map(str::to_string)
        })
        .max()
        .context("no kernel in /boot")?;
    let initrd = boot.join(format!("initrd.img-{version}"));
    if !initrd.exists() {
        bail!("no initrd for kernel {version} in /boot");
    }
    Ok((boot.join(format!("vmlinuz-{version}")), initrd))
}

/// Assembles one target's SD-card image with genimage (no loop devices).
fn assemble(rootfs: &Path, target: Target) -> anyhow::Result<PathBuf> {
    stage_boot(rootfs, target)?;
    let out = work_dir().join(target.name());
    let tmp = work_dir().join(format!("genimage-tmp-{}", target.name()));
    for d in [&out, &tmp] {
        if d.exists() {
            std::fs::remove_dir_all(d)?;
        }
    }
    std::fs::create_dir_all(&out)?;
    let input = work_dir().join("genimage-input");
    std::fs::create_dir_all(&input)?;
    run(Command::new("genimage")
        .arg("--rootpath")
        .arg(rootfs)
        .arg("--tmppath")
        .arg(&tmp)
        .arg("--inputpath")
        .arg(&input)
        .arg("--outputpath")
        .arg(&out)
        .arg("--config")
        .arg(root().join("firmware-image").join("genimage.cfg")))?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(out.join("sdcard.img"))
}

/// `cargo xtask image [rpi4] [qemu-virt]`: every target when none is named.
/// With `KRING_REUSE_ROOTFS=1` the root file system of the last run is used
/// with only the kiosk binary and the overlay's files replaced (a
/// developer's shortcut: minutes instead of a new mmdebstrap; a new package
/// or a newly enabled unit needs the full build).
pub fn image(targets: &[Target]) -> anyhow::Result<Vec<PathBuf>> {
    let reuse = std::env::var("KRING_REUSE_ROOTFS").is_ok_and(|v| v == "1")
        && work_dir().join("rootfs").join("usr/bin/kring").exists();
    let kiosk = device_build()?;
    image_deps()?;
    let started = std::time::Instant::now();
    let rootfs = if reuse {
        let dir = work_dir().join("rootfs");
        println!("reusing {} with the kiosk just built", dir.display());
        let bin = dir.join("usr/bin/kring");
        // copy keeps the build's mode (0755)
        std::fs::copy(&kiosk, &bin)?;
        // and the overlay's files as they are now (units enabled then stay enabled)
        let overlay = root().join("firmware-image").join("overlay");
        run(Command::new("cp")
            .args(["-a", "--no-preserve=ownership"])
            .arg(overlay.join("."))
            .arg(&dir))?;
        dir
    } else {
        rootfs(&kiosk)?
    };
    let rootfs_secs = started.elapsed().as_secs();
    let mut images = Vec::new();
    for &t in targets {
        let img = assemble(&rootfs, t)?;
        let raw = std::fs::metadata(&img)?.len();
        let used = disk_usage(&img);
        let packed = compress(&img)?;
        println!(
            "image {}: {} ({} MiB raw, {} MiB holding data, {} MiB as .img.zst)",
            t.name(),
            img.display(),
            raw / 1048576,
            used / 1048576,
            packed / 1048576
        );
        images.push(img);
    }
    println!(
        "root file system built in {rootfs_secs} s, images in {} s",
        started.elapsed().as_secs()
    );
    Ok(images)
}

/// Compresses an image as a location downloads it (`.img.zst`); returns its size.
pub fn compress(img: &Path) -> anyhow::Result<u64> {
    let out = img.with_extension("img.zst");
    run(Command::new("zstd")
        .args(["-q", "-f", "-T0", "-10", "--sparse"])
        .arg(img)
        .arg("-o")
        .arg(&out))?;
    Ok(std::fs::metadata(&out)?.len())
}

/// Bytes a (sparse) file really holds on disk.
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .map(|m| m.blocks() * 512)
        .unwrap_or(0)
}

/// `cargo xtask appliance-test`: the qemu-virt image, booted and driven.
pub fn appliance_test() -> anyhow::Result<()> {
    let images = image(&[Target::QemuVirt])?;
    let img = images.first().context("no image")?;
    run(crate::cargo().args(["build", "-p", "kring-server", "-p", "kring-appliance"]))?;
    let bin = root().join("target").join("debug");
    let shots = if std::env::var("KRING_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        root().join("docs").join("screenshots")
    } else {
        root().join("target").join("screenshots")
    };
    run(Command::new(bin.join("appliance-test"))
        .arg("--image")
        .arg(img)
        .arg("--server-bin")
        .arg(bin.join("kring-server"))
        .arg("--work")
        .arg(work_dir().join("test"))
        .arg("--screenshots")
        .arg(shots))
}

/// `cargo xtask power-cut [CUTS] [SEED]`: the qemu-virt image, its card cut
/// off from power CUTS times (default 10) at random moments (docs/appliance.md).
pub fn power_cut(rest: &[String]) -> anyhow::Result<()> {
    let cuts = rest.first().map_or("10", String::as_str);
    let images = image(&[Target::QemuVirt])?;
    let img = images.first().context("no image")?;
    run(crate::cargo().args(["build", "-p", "kring-server", "-p", "kring-appliance"]))?;
    let bin = root().join("target").join("debug");
    let mut cmd = Command::new(bin.join("appliance-test"));
    cmd.arg("power-cut")
        .arg("--image")
        .arg(img)
        .arg("--server-bin")
        .arg(bin.join("kring-server"))
        .arg("--work")
        .arg(work_dir().join("power-cut"))
        .args(["--cuts", cuts]);
    if let Some(seed) = rest.get(1) {
        cmd.args(["--seed", seed]);
    }
    run(&mut cmd)
}

/// `cargo xtask update-test`: the qemu-virt image (v1) and three bundles
/// (v2; v3 whose kiosk exits at start; v2 signed by another organisation),
/// then the update proof of docs/appliance.md, "Updates".
pub fn update_test(rest: &[String]) -> anyhow::Result<()> {
    let images = image(&[Target::QemuVirt])?;
    let img = images.first().context("no image")?;
    let bundle = |args: &[&str]| -> anyhow::Result<PathBuf> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        crate::update::bundle(&crate::update::BundleSpec::parse(&args)?)
    };
    let v2 = bundle(&["--version", "2.0.0"])?;
    let v3 = bundle(&["--version", "3.0.0", "--kiosk-exits"])?;
    let foreign = bundle(&["--version", "2.0.1", "--foreign-key"])?;
    run(crate::cargo().args(["build", "-p", "kring-server", "-p", "kring-appliance"]))?;
    let bin = root().join("target").join("debug");
    run(Command::new(bin.join("appliance-test"))
        .arg("update")
        .arg("--image")
        .arg(img)
        .arg("--server-bin")
        .arg(bin.join("kring-server"))
        .arg("--work")
        .arg(work_dir().join("update-test"))
        .arg("--bundle-v2")
        .arg(v2)
        .arg("--bundle-v3")
        .arg(v3)
        .arg("--bundle-foreign")
        .arg(foreign)
        .args(rest))
}
