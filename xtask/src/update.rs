//! Signed A/B updates of the appliance (issue 13): what an image needs for
//! RAUC (its system.conf, the organisation's CA, its release), the U-Boot
//! boot script and environment, and `cargo xtask bundle`, which makes a
//! signed `verity` bundle of the root file system.
//!
//! Keys: a development PKI is made once in `target/appliance/pki/` (never
//! committed, never for production). Production images and bundles take the
//! organisation's files from `KRING_UPDATE_CA` (the CA certificate the
//! devices trust), `KRING_SIGN_CERT` and `KRING_SIGN_KEY` (the signing
//! certificate and key, e.g. on a build machine's HSM export); see
//! docs/appliance.md, "Releasing an update".

use crate::appliance::{Target, work_dir};
use crate::{root, run};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The release an image says it is when nobody says otherwise.
pub const DEFAULT_VERSION: &str = "1.0.0";

/// A CA and a signing certificate it issued.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_cert: PathBuf,
    pub sign_cert: PathBuf,
    pub sign_key: PathBuf,
}

/// RAUC's `compatible` for a target: a bundle for one is refused by the other.
pub fn compatible(target: Target) -> String {
    format!("kring-{}", target.name())
}

/// The release the image being built is: `KRING_RELEASE_VERSION` or 1.0.0.
pub fn release_version() -> String {
    std::env::var("KRING_RELEASE_VERSION").unwrap_or_else(|_| DEFAULT_VERSION.to_string())
}

/// The organisation's keys from the environment, or the development PKI.
pub fn pki() -> anyhow::Result<Pki> {
    match (
        std::env::var_os("KRING_UPDATE_CA"),
        std::env::var_os("KRING_SIGN_CERT"),
        std::env::var_os("KRING_SIGN_KEY"),
    ) {
        (Some(ca), Some(cert), Some(key)) => Ok(Pki {
            ca_cert: ca.into(),
            sign_cert: cert.into(),
            sign_key: key.into(),
        }),
        (None, None, None) => dev_pki("pki", "kring development"),
        _ => bail!("set all three of KRING_UPDATE_CA, KRING_SIGN_CERT, KRING_SIGN_KEY, or none"),
    }
}

/// Another organisation's keys: the proof's "signed by another key" bundle.
pub fn foreign_pki() -> anyhow::Result<Pki> {
    dev_pki("pki-foreign", "another organisation")
}

/// A CA and a code-signing certificate under `target/appliance/<dir>`,
/// made once and kept (bundles of later runs must verify on earlier images).
fn dev_pki(dir: &str, org: &str) -> anyhow::Result<Pki> {
    let d = work_dir().join(dir);
    let pki = Pki {
        ca_cert: d.join("ca.cert.pem"),
        sign_cert: d.join("sign.cert.pem"),
        sign_key: d.join("sign.key.pem"),
    };
    if pki.ca_cert.exists() && pki.sign_cert.exists() && pki.sign_key.exists() {
        return Ok(pki);
    }
    std::fs::create_dir_all(&d)?;
    let openssl = |args: &[&str]| run(Command::new("openssl").args(args).current_dir(&d));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:3072",
        "-nodes",
        "-keyout",
        "ca.key.pem",
        "-out",
        "ca.cert.pem",
        "-days",
        "3650",
        "-subj",
        &format!("/O={org}/CN={org} update CA"),
        "-addext",
        "basicConstraints=critical,CA:true",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ])?;
    openssl(&[
        "req",
        "-newkey",
        "rsa:3072",
        "-nodes",
        "-keyout",
        "sign.key.pem",
        "-out",
        "sign.csr",
        "-subj",
        &format!("/O={org}/CN={org} bundle signing"),
    ])?;
    std::fs::write(
        d.join("sign.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    )?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "sign.csr",
        "-CA",
        "ca.cert.pem",
        "-CAkey",
        "ca.key.pem",
        "-CAcreateserial",
        "-days",
        "3650",
        "-extfile",
        "sign.ext",
        "-out",
        "sign.cert.pem",
    ])?;
    Ok(pki)
}

/// `/etc/rauc/system.conf` for a target. GLib key files allow comments only
/// on lines of their own.
pub fn system_conf(target: Target) -> String {
    let (a, b) = match target {
        Target::QemuVirt => ("/dev/vda2", "/dev/vda3"),
        Target::Rpi4 => ("/dev/mmcblk0p2", "/dev/mmcblk0p3"),
    };
    format!(
        "# RAUC on the kring appliance (written by cargo xtask image; docs/appliance.md)
[system]
compatible={compatible}
bootloader=uboot
# only verity bundles: a plain one is refused
bundle-formats=-plain
# RAUC's own status on the persistent, never-updated data partition
data-directory=/data/rauc
boot-attempts=3
boot-attempts-primary=3
# the root is read-only: RAUC mounts below /run
mountprefix=/run/rauc

[keyring]
# the organisation's CA: only bundles it signed are installed
path=/etc/rauc/kring-ca.cert.pem
check-purpose=codesign

[slot.rootfs.0]
device={a}
type=ext4
bootname=A

[slot.rootfs.1]
device={b}
type=ext4
bootname=B
",
        compatible = compatible(target)
    )
}

/// Puts RAUC's configuration, the CA and the release into the root.
pub fn stage_root(rootfs: &Path, target: Target, version: &str) -> anyhow::Result<()> {
    let pki = pki()?;
    let rauc = rootfs.join("etc/rauc");
    std::fs::create_dir_all(&rauc)?;
    std::fs::write(rauc.join("system.conf"), system_conf(target))?;
    std::fs::copy(&pki.ca_cert, rauc.join("kring-ca.cert.pem"))
        .with_context(|| format!("{}", pki.ca_cert.display()))?;
    std::fs::write(
        rootfs.join("etc/kring/release"),
        format!("{} {version}\n", compatible(target)),
    )?;
    Ok(())
}

/// The boot state's file on the boot partition (RAUC's `BOOT_ORDER` and
/// `BOOT_<slot>_LEFT`; `/etc/fw_env.config` names it too).
pub const BOOT_STATE: &str = "bootstate.env";

/// The boot script for a target: `firmware-image/boot-script/boot.cmd.in`
/// with the target's root device, kernel options, load addresses and
/// device tree filled in.
pub fn boot_script(target: Target) -> anyhow::Result<String> {
    let template = std::fs::read_to_string(root().join("firmware-image/boot-script/boot.cmd.in"))?;
    let (root_dev, args, addrs, fdt) = match target {
        Target::QemuVirt => (
            "/dev/vda".to_string(),
            "console=ttyAMA0 fsck.repair=yes net.ifnames=0".to_string(),
            String::new(),
            "${fdtcontroladdr}",
        ),
        Target::Rpi4 => {
            // The Pi's own cmdline.txt, less what the script decides itself.
            let cmdline =
                std::fs::read_to_string(root().join("firmware-image/boot/rpi4/cmdline.txt"))?;
            let args: Vec<&str> = cmdline
                .split_whitespace()
                .filter(|w| {
                    !(w.starts_with("root=")
                        || w.starts_with("rootfstype=")
                        || *w == "ro"
                        || *w == "rootwait")
                })
                .collect();
            (
                "/dev/mmcblk0p".to_string(),
                args.join(" "),
                // Debian's 32 MiB uncompressed kernel does not fit below
                // rpi_arm64's default scriptaddr (0x02400000): load it higher.
                "setenv kernel_addr_r 0x04000000\nsetenv ramdisk_addr_r 0x08000000".to_string(),
                // the firmware's device tree, with config.txt's overlays applied
                "${fdt_addr}",
            )
        }
    };
    Ok(template
        .replace("@ROOT@", &root_dev)
        .replace("@ARGS@", &args)
        .replace("@ADDRS@", &addrs)
        .replace("@FDT@", fdt))
}

/// The boot script and the first boot state, on the boot partition; for
/// the Pi also U-Boot itself (Debian's `u-boot-rpi`, started by the
/// firmware through config.txt's `kernel=u-boot.bin`).
pub fn stage_boot(boot: &Path, target: Target) -> anyhow::Result<()> {
    let script = work_dir().join(format!("boot-{}.cmd", target.name()));
    std::fs::write(&script, boot_script(target)?)?;
    run(Command::new("mkimage")
        .args([
            "-A",
            "arm64",
            "-T",
            "script",
            "-C",
            "none",
            "-n",
            "kring A/B",
        ])
        .arg("-d")
        .arg(&script)
        .arg(boot.join("boot.scr")))?;
    let env = work_dir().join("bootstate.txt");
    std::fs::write(&env, "BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n")?;
    run(Command::new("mkenvimage")
        .args(["-s", "0x4000", "-o"])
        .arg(boot.join(BOOT_STATE))
        .arg(&env))?;
    if target == Target::Rpi4 {
        std::fs::copy(rpi_uboot()?, boot.join("u-boot.bin"))?;
    }
    Ok(())
}

/// U-Boot for the Pi 4 in 64-bit mode, from Debian's `u-boot-rpi` (arm64),
/// downloaded with the host's apt (multiarch) and unpacked, not installed.
fn rpi_uboot() -> anyhow::Result<PathBuf> {
    let dir = work_dir().join("u-boot-rpi");
    let bin = dir.join("x/usr/lib/u-boot/rpi_arm64/u-boot.bin");
    if bin.exists() {
        return Ok(bin);
    }
    std::fs::create_dir_all(&dir)?;
    run(Command::new("apt-get")
        .args(["download", "u-boot-rpi:arm64"])
        .current_dir(&dir))?;
    let deb = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .context("u-boot-rpi was not downloaded")?;
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(dir.join("x")))?;
    Ok(bin)
}

/// Options of `cargo xtask bundle`.
#[derive(Debug, Clone)]
pub struct BundleSpec {
    pub target: Target,
    pub version: String,
    /// The release's kiosk exits at once (the proof's broken v3).
    pub kiosk_exits: bool,
    /// Signed by another organisation's key (the proof's refusal).
    pub foreign: bool,
    pub out: PathBuf,
}

impl BundleSpec {
    /// `cargo xtask bundle [--target T] [--version V] [--kiosk-exits] [--foreign-key] [--out F]`
    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut spec = Self {
            target: Target::QemuVirt,
            version: "2.0.0".into(),
            kiosk_exits: false,
            foreign: false,
            out: PathBuf::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--target" => spec.target = Target::parse(it.next().context("--target T")?)?,
                "--version" => spec.version = it.next().context("--version V")?.clone(),
                "--kiosk-exits" => spec.kiosk_exits = true,
                "--foreign-key" => spec.foreign = true,
                "--out" => spec.out = PathBuf::from(it.next().context("--out FILE")?),
                other => bail!("unknown bundle option {other:?}"),
            }
        }
        if spec.out.as_os_str().is_empty() {
            spec.out = work_dir().join("bundles").join(format!(
                "kring-{}-{}{}{}.raucb",
                spec.target.name(),
                spec.version,
                if spec.kiosk_exits { "-kiosk-exits" } else { "" },
                if spec.foreign { "-foreign" } else { "" }
            ));
        }
        Ok(spec)
    }
}

/// Makes a signed verity bundle from the last built root file system
/// (`cargo xtask image` first), as release `spec.version`.
pub fn bundle(spec: &BundleSpec) -> anyhow::Result<PathBuf> {
    let rootfs = work_dir().join("rootfs");
    if !rootfs.join("usr/bin/kring").exists() {
        bail!("no root file system yet: run cargo xtask image qemu-virt first");
    }
    crate::appliance::image_deps()?;
    let started = std::time::Instant::now();
    let work = work_dir().join("bundle-work");
    crate::appliance::unmount_below(&work);
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    let tree = work.join("root");
    std::fs::create_dir_all(&work)?;
    run(Command::new("cp")
        .args(["-a", "--reflink=auto"])
        .arg(&rootfs)
        .arg(&tree))?;
    // The boot partition's files are not part of a slot.
    let boot = tree.join("boot/firmware");
    std::fs::remove_dir_all(&boot)?;
    std::fs::create_dir_all(&boot)?;
    stage_root(&tree, spec.target, &spec.version)?;
    if spec.kiosk_exits {
        // A release whose kiosk cannot start: the slot must never be marked good.
        std::fs::write(
            tree.join("usr/bin/kring"),
            "#!/bin/sh\necho 'kring: this test release exits at start' >&2\nexit 1\n",
        )?;
    }
    let content = work.join("content");
    std::fs::create_dir_all(&content)?;
    let ext4 = content.join("rootfs.ext4");
    run(Command::new("mke2fs")
        .args([
            "-q",
            "-t",
            "ext4",
            "-L",
            "kring-root",
            "-O",
            "^metadata_csum_seed",
        ])
        .arg("-d")
        .arg(&tree)
        .arg(&ext4)
        .arg("1536M"))?;
    std::fs::write(
        content.join("manifest.raucm"),
        format!(
            "[update]\ncompatible={}\nversion={}\nbuild={}\n\n[bundle]\nformat=verity\n\n[image.rootfs]\nfilename=rootfs.ext4\n",
            compatible(spec.target),
            spec.version,
            git_head()
        ),
    )?;
    let pki = if spec.foreign { foreign_pki()? } else { pki()? };
    if let Some(dir) = spec.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&spec.out);
    run(Command::new("rauc")
        .arg("bundle")
        .arg(format!("--cert={}", pki.sign_cert.display()))
        .arg(format!("--key={}", pki.sign_key.display()))
        .arg(&content)
        .arg(&spec.out))?;
    std::fs::remove_dir_all(&work)?;
    let size = std::fs::metadata(&spec.out)?.len();
    println!(
        "bundle {}: {} ({:.1} MiB) in {} s",
        spec.version,
        spec.out.display(),
        size as f64 / 1048576.0,
        started.elapsed().as_secs()
    );
    Ok(spec.out.clone())
}

fn git_head() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_conf_per_target() {
        let q = system_conf(Target::QemuVirt);
        assert!(q.contains("compatible=kring-qemu-virt\n"));
        assert!(q.contains("device=/dev/vda3\n"));
        let p = system_conf(Target::Rpi4);
        assert!(p.contains("compatible=kring-rpi4\n"));
        assert!(p.contains("device=/dev/mmcblk0p2\n"));
        // GLib key files: a comment after a value would become part of it.
        for line in q.lines().filter(|l| l.contains('=')) {
            assert!(!line.contains('#'), "{line}");
        }
    }

    #[test]
    fn boot_scripts_per_target() {
        let q = boot_script(Target::QemuVirt).expect("qemu-virt");
        let p = boot_script(Target::Rpi4).expect("rpi4");
        for s in [&q, &p] {
            assert!(!s.contains('@'), "a placeholder is left");
            assert!(s.contains("rauc.slot=${kring_slot}"));
            assert!(s.contains("net.ifnames=0"));
            assert!(s.contains(BOOT_STATE));
        }
        assert!(q.contains("root=/dev/vda${kring_part}") && q.contains("${fdtcontroladdr}"));
        assert!(p.contains("root=/dev/mmcblk0p${kring_part}") && p.contains("${fdt_addr}"));
        assert!(p.contains("console=tty3") && !p.contains("root=/dev/mmcblk0p2"));
        assert!(p.contains("setenv kernel_addr_r 0x04000000"));
    }

    #[test]
    fn bundle_options() {
        let s = BundleSpec::parse(&["--version".into(), "3.0.0".into(), "--kiosk-exits".into()])
            .expect("parse");
        assert_eq!(s.version, "3.0.0");
        assert!(s.kiosk_exits && !s.foreign);
        assert!(
            s.out
                .to_string_lossy()
                .ends_with("kring-qemu-virt-3.0.0-kiosk-exits.raucb")
        );
        assert!(BundleSpec::parse(&["--nonsense".into()]).is_err());
    }
}
