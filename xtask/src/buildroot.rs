//! `cargo xtask buildroot-check`: the Buildroot recipe's checks that run here
//! (no network): the defconfig resolves with our BR2_EXTERNAL tree and selects
//! the kring package, and Buildroot's `utils/check-package` finds nothing.
//!
//! Steps, each printed as it runs:
//! 1. the Debian packages Buildroot's host tools and check-package need;
//! 2. the vendored tarball (`../shared/vendor/`) against its `.sha256`;
//! 3. unpacked once to `target/buildroot/buildroot-2026.02.3`;
//! 4. `make <name>_defconfig` with `BR2_EXTERNAL=buildroot` into
//!    `target/buildroot/output`, and its `.config` checked: every line of
//!    the defconfig kept (Kconfig drops unknown or unmet symbols silently),
//!    `BR2_PACKAGE_KRING=y`, the overlay and post scripts in our tree;
//! 5. `make printvars`, which parses every package's `.mk` (ours included)
//!    and shows what the kring package resolves to;
//! 6. `utils/check-package -b` on every file of `buildroot/`: exit status 0
//!    and no warning printed.

use anyhow::{Context, bail, ensure};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

/// Buildroot LTS, as vendored in `shared/vendor/` beside the repository.
const BUILDROOT: &str = "buildroot-2026.02.3";
/// Our defconfig, in `buildroot/configs/`.
const DEFCONFIG: &str = "kring_rpi4_64_defconfig";
/// Written in the unpacked tree once unpacking finished: the tarball's sha256.
const UNPACKED_STAMP: &str = ".kring-unpacked";

/// Debian packages: Buildroot's host tools (`make *_defconfig` builds
/// Kconfig with the host compiler; the rest is what
/// support/dependencies/dependencies.sh asks of a build machine), and
/// utils/check-package's python3-magic, python3-flake8 and shellcheck,
/// run with Debian's own python3.
const APT_PACKAGES: &[&str] = &[
    "make",
    "gcc",
    "g++",
    "libc6-dev",
    "debianutils", // which
    "sed",
    "file",
    "bc",
    "rsync",
    "cpio",
    "unzip",
    "perl",
    "patch",
    "diffutils",
    "findutils",
    "gzip",
    "bzip2",
    "xz-utils",
    "tar",
    "wget",
    "python3",
    "python3-magic",
    "python3-flake8",
    "shellcheck",
];

/// The kring package's makefile variables that `make printvars` must show,
/// and a part each value must contain.
const EXPECTED_VARS: &[(&str, &str)] = &[
    ("KRING_SITE_METHOD", "local"),
    ("KRING_FINAL_DEPENDENCIES", "host-kring-rust-bin"),
    ("KRING_FINAL_DEPENDENCIES", "host-clang"),
    ("KRING_FINAL_DEPENDENCIES", "libinput"),
    ("KRING_FINAL_DEPENDENCIES", "udev"),
    ("KRING_FINAL_DEPENDENCIES", "libxkbcommon"),
    ("KRING_FINAL_DEPENDENCIES", "fontconfig"),
    ("HOST_KRING_RUST_BIN_SOURCE", "rust-"),
];

pub fn check(root: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let external = root.join("buildroot");
    ensure!(
        external.join("external.desc").is_file(),
        "{} is not a BR2_EXTERNAL tree (no external.desc)",
        external.display()
    );
    let external = external
        .canonicalize()
        .with_context(|| format!("resolving {}", external.display()))?;
    let work = root.join("target").join("buildroot");
    let output = work.join("output");

    install_missing_packages()?;
    let tarball = root
        .join("..")
        .join("shared")
        .join("vendor")
        .join(format!("{BUILDROOT}.tar.xz"));
    let tarball = tarball.canonicalize().unwrap_or(tarball);
    let sha256 = verify_tarball(&tarball)?;
    let br = unpack(&tarball, &sha256, &work)?;

    // step 4: the defconfig, with our tree
    std::fs::create_dir_all(&output).with_context(|| format!("creating {}", output.display()))?;
    crate::run(
        Command::new("make")
            .arg("-C")
            .arg(&br)
            .arg(format!("O={}", output.display()))
            .arg(format!("BR2_EXTERNAL={}", external.display()))
            .arg(DEFCONFIG),
    )
    .with_context(|| format!("Buildroot could not load {DEFCONFIG}"))?;
    check_config(&external, &output)?;
    println!("{DEFCONFIG}: .config has every line of the defconfig, BR2_PACKAGE_KRING=y");

    // step 5: every package makefile parses; what the kring package resolves to
    check_package_vars(root, &br, &output)?;
    check_version(root, &external)?;

    // step 6: Buildroot's coding style, on every file of the tree
    check_package(&br, &external)?;

    println!(
        "buildroot-check: ok in {:.1} s ({} with BR2_EXTERNAL={})",
        started.elapsed().as_secs_f64(),
        DEFCONFIG,
        external.display()
    );
    Ok(())
}

/// Runs `cmd` (printed first) and returns its output; fails on a non-zero exit.
fn capture(cmd: &mut Command) -> anyhow::Result<Output> {
    println!("+ {cmd:?}");
    let out = cmd
        .output()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed with {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// Step 1: apt-get installs what is missing (as root, or through sudo).
fn install_missing_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !is_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("buildroot-check: installing {}", missing.join(" "));
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let apt = |args: &[&str]| -> anyhow::Result<()> {
        let mut cmd = if as_root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        crate::run(&mut cmd)
    };
    apt(&["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)
}

/// Step 2: the tarball's sha256 must be the one in the `.sha256` file beside it.
fn verify_tarball(tarball: &Path) -> anyhow::Result<String> {
    let sum_file = PathBuf::from(format!("{}.sha256", tarball.display()));
    ensure!(
        tarball.is_file(),
        "{} not found: Buildroot is vendored in shared/vendor/ beside the repository",
        tarball.display()
    );
    let expected = std::fs::read_to_string(&sum_file)
        .with_context(|| format!("reading {}", sum_file.display()))?;
    let expected = expected
        .split_whitespace()
        .next()
        .with_context(|| format!("{} is empty", sum_file.display()))?
        .to_ascii_lowercase();
    let out = capture(Command::new("sha256sum").arg(tarball))?;
    let actual = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    ensure!(
        actual == expected,
        "{}: sha256 is {actual}, but {} says {expected}",
        tarball.display(),
        sum_file.display()
    );
    println!("{}: sha256 ok ({actual})", tarball.display());
    Ok(actual)
}

/// Step 3: unpacks the tarball to `work/buildroot-…` unless that tree is already
/// there from the same tarball. Unpacks beside it first, so an interrupted
/// unpack is never taken for a finished one.
fn unpack(tarball: &Path, sha256: &str, work: &Path) -> anyhow::Result<PathBuf> {
    let br = work.join(BUILDROOT);
    let stamp = br.join(UNPACKED_STAMP);
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == sha256) {
        println!("{}: already unpacked", br.display());
        return Ok(br);
    }
    let staging = work.join(".unpacking");
    for dir in [&staging, &br] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;
    crate::run(
        Command::new("tar")
            .arg("-C")
            .arg(&staging)
            .arg("-xf")
            .arg(tarball),
    )?;
    let unpacked = staging.join(BUILDROOT);
    ensure!(
        unpacked.join("Makefile").is_file(),
        "{} does not hold {BUILDROOT}/Makefile",
        tarball.display()
    );
    std::fs::rename(&unpacked, &br)
        .with_context(|| format!("moving {} to {}", unpacked.display(), br.display()))?;
    std::fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    std::fs::write(&stamp, format!("{sha256}\n"))
        .with_context(|| format!("writing {}", stamp.display()))?;
    Ok(br)
}

/// The value of `NAME=value` in a `.config` (quotes kept).
fn config_value<'a>(config: &'a str, name: &str) -> Option<&'a str> {
    config
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

/// Step 4: the resolved `.config` against the defconfig and our expectations.
fn check_config(external: &Path, output: &Path) -> anyhow::Result<()> {
    let defconfig_path = external.join("configs").join(DEFCONFIG);
    let defconfig = std::fs::read_to_string(&defconfig_path)
        .with_context(|| format!("reading {}", defconfig_path.display()))?;
    let config_path = output.join(".config");
    let config = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;

    ensure!(
        config.lines().any(|l| l == "BR2_PACKAGE_KRING=y"),
        "{}: BR2_PACKAGE_KRING is not =y ({}): the kring package is not selected; \
         check buildroot/Config.in, package/kring/Config.in and its `depends on`",
        config_path.display(),
        config_value(&config, "BR2_PACKAGE_KRING").unwrap_or("unset")
    );

    let mut dropped = Vec::new();
    for line in defconfig.lines().map(str::trim_end) {
        if line.starts_with("BR2_") {
            if !config.lines().any(|l| l == line) {
                let name = line.split('=').next().unwrap_or(line);
                let now = config_value(&config, name)
                    .map_or_else(|| "unset".to_string(), |v| format!("{name}={v}"));
                dropped.push(format!("  {line}   (resolved: {now})"));
            }
        } else if let Some(name) = line
            .strip_prefix("# ")
            .and_then(|r| r.strip_suffix(" is not set"))
            .filter(|n| n.starts_with("BR2_"))
            && let Some(v) = config_value(&config, name)
        {
            dropped.push(format!("  {line}   (resolved: {name}={v})"));
        }
    }
    ensure!(
        dropped.is_empty(),
        "{} did not keep these lines of {} (a symbol that does not exist, or whose \
         dependencies are not met):\n{}",
        config_path.display(),
        defconfig_path.display(),
        dropped.join("\n")
    );

    let expect = |name: &str, want: &str| -> anyhow::Result<()> {
        let got = config_value(&config, name).unwrap_or("unset");
        ensure!(
            got == want,
            "{}: {name} is {got}, expected {want}",
            config_path.display()
        );
        Ok(())
    };
    expect(
        "BR2_EXTERNAL_KRING_PATH",
        &format!("\"{}\"", external.display()),
    )?;
    let overlay = config_value(&config, "BR2_ROOTFS_OVERLAY").unwrap_or_default();
    ensure!(
        overlay
            .trim_matches('"')
            .split_whitespace()
            .any(|o| o == "$(BR2_EXTERNAL_KRING_PATH)/../firmware-image/overlay"),
        "{}: BR2_ROOTFS_OVERLAY ({overlay}) does not include the shared overlay \
         $(BR2_EXTERNAL_KRING_PATH)/../firmware-image/overlay",
        config_path.display()
    );
    for name in [
        "BR2_ROOTFS_POST_BUILD_SCRIPT",
        "BR2_ROOTFS_POST_IMAGE_SCRIPT",
    ] {
        let value = config_value(&config, name)
            .unwrap_or_default()
            .trim_matches('"');
        let relative = value
            .strip_prefix("$(BR2_EXTERNAL_KRING_PATH)/")
            .with_context(|| {
                format!(
                    "{}: {name} ({value:?}) is not a script in our tree \
                     ($(BR2_EXTERNAL_KRING_PATH)/...)",
                    config_path.display()
                )
            })?;
        let script = external.join(relative);
        let executable = std::fs::metadata(&script).is_ok_and(|m| {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        });
        ensure!(
            executable,
            "{name}: {} is missing or not executable (Buildroot runs it directly)",
            script.display()
        );
    }
    Ok(())
}

/// Step 5: `make printvars` parses every package makefile, ours included, and
/// shows what the kring package resolved to.
fn check_package_vars(root: &Path, br: &Path, output: &Path) -> anyhow::Result<()> {
    let mut names: Vec<&str> = EXPECTED_VARS.iter().map(|(n, _)| *n).collect();
    names.push("KRING_OVERRIDE_SRCDIR");
    names.sort_unstable();
    names.dedup();
    let out = capture(
        Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg(br)
            .arg(format!("O={}", output.display()))
            .arg("printvars")
            .arg(format!("VARS={}", names.join(" "))),
    )
    .context("Buildroot could not parse the package makefiles")?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
    };
    for (name, part) in EXPECTED_VARS {
        let v = value(name).with_context(|| format!("make printvars did not show {name}"))?;
        ensure!(
            v.split_whitespace().any(|w| w.contains(part)),
            "{name} is {v:?}, expected it to contain {part:?}"
        );
    }
    let srcdir = value("KRING_OVERRIDE_SRCDIR").context("no KRING_OVERRIDE_SRCDIR")?;
    let srcdir = Path::new(srcdir.trim())
        .canonicalize()
        .with_context(|| format!("KRING_OVERRIDE_SRCDIR {srcdir} does not exist"))?;
    let root = root
        .canonicalize()
        .with_context(|| format!("resolving {}", root.display()))?;
    ensure!(
        srcdir == root,
        "the kring package builds {} instead of this repository ({})",
        srcdir.display(),
        root.display()
    );
    Ok(())
}

/// `KRING_VERSION` in kring.mk follows `[workspace.package] version`.
fn check_version(root: &Path, external: &Path) -> anyhow::Result<()> {
    let manifest =
        std::fs::read_to_string(root.join("Cargo.toml")).context("reading Cargo.toml")?;
    let mut in_section = false;
    let mut workspace_version = None;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
        } else if in_section
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "version"
        {
            workspace_version = Some(value.trim().trim_matches('"').to_string());
        }
    }
    let workspace_version =
        workspace_version.context("Cargo.toml has no [workspace.package] version")?;
    let mk_path = external.join("package").join("kring").join("kring.mk");
    let mk = std::fs::read_to_string(&mk_path)
        .with_context(|| format!("reading {}", mk_path.display()))?;
    let mk_version = mk
        .lines()
        .find_map(|l| l.strip_prefix("KRING_VERSION = "))
        .with_context(|| format!("{} has no `KRING_VERSION = `", mk_path.display()))?
        .trim();
    ensure!(
        mk_version == workspace_version,
        "{}: KRING_VERSION = {mk_version}, but the workspace is at {workspace_version}",
        mk_path.display()
    );
    Ok(())
}

/// Every regular file under `dir`, sorted.
fn files_under(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let entry = entry.with_context(|| format!("reading {}", d.display()))?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Step 6: Buildroot's utils/check-package on every file of our tree, as its
/// manual says for a br2-external (`-b`), run from the Buildroot tree with
/// Debian's python3 (which has python3-magic and python3-flake8). Warnings
/// go to stdout, the counts to stderr: both must say nothing is wrong.
fn check_package(br: &Path, external: &Path) -> anyhow::Result<()> {
    let files = files_under(external)?;
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let mut cmd = Command::new(python);
    cmd.current_dir(br)
        .arg("utils/check-package")
        .arg("-b")
        .args(&files);
    println!("+ {cmd:?}");
    let out = cmd
        .output()
        .with_context(|| format!("could not start {cmd:?}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    print!("{stderr}");
    let only_counts = stderr.lines().all(|l| {
        l.ends_with(" lines processed") || l == "0 warnings generated" || l.trim().is_empty()
    });
    if !out.status.success() || !stdout.trim().is_empty() || !only_counts {
        bail!(
            "utils/check-package reported problems in {} ({}); fix them as printed above",
            external.display(),
            out.status
        );
    }
    ensure!(
        stderr.contains("0 warnings generated"),
        "utils/check-package did not report its count of warnings"
    );
    println!("utils/check-package: {} files, no warnings", files.len());
    Ok(())
}
