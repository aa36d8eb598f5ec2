################################################################################
#
# kring
#
################################################################################

# The kiosk app, the root package of this repository's cargo workspace.
# KRING_VERSION follows [workspace.package] version in Cargo.toml
# (cargo xtask buildroot-check fails when they differ).
KRING_VERSION = 0.1.0
KRING_SITE = $(BR2_EXTERNAL_KRING_PATH)/..
KRING_SITE_METHOD = local
KRING_LICENSE = EUPL-1.2
KRING_DEPENDENCIES = \
	host-clang \
	host-kring-rust-bin \
	host-pkgconf \
	fontconfig \
	libinput \
	libxkbcommon \
	udev

# The copy in $(@D) must not take the repository's cargo output (nor a
# Buildroot output directory kept under target/) or the demo's data.
KRING_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude /target \
	--exclude '/kring-data*'

# - cargo and rustc 1.92 from host-kring-rust-bin, ahead of host-rustc's;
# - build scripts compile C for the build machine with its own compiler
#   (the cc crate would otherwise take CC, the cross compiler);
# - nokhwa's V4L2 bindings are made by bindgen with host-clang's
#   libclang against the target's headers;
# - pkg-config (Buildroot's wrapper) answers for the target.
KRING_CARGO_ENV = \
	PATH="$(KRING_RUST_BIN_PREFIX)/bin:$(HOST_DIR)/bin:$(HOST_DIR)/sbin:$(PATH)" \
	RUSTC="$(KRING_RUST_BIN_PREFIX)/bin/rustc" \
	HOST_CC="$(HOSTCC)" \
	HOST_CXX="$(HOSTCXX)" \
	HOST_CFLAGS="$(HOST_CFLAGS)" \
	HOST_CXXFLAGS="$(HOST_CXXFLAGS)" \
	LIBCLANG_PATH="$(HOST_DIR)/lib" \
	BINDGEN_EXTRA_CLANG_ARGS="--sysroot=$(STAGING_DIR)" \
	PKG_CONFIG_ALLOW_CROSS=1

# The source is this repository (a local site), so there is no download
# step, which is where the cargo infrastructure vendors a package's
# crates: fetch the crates of Cargo.lock into Buildroot's cargo home
# here, once host-kring-rust-bin is installed. The build is then offline.
define KRING_CARGO_FETCH
	cd $(@D) && \
	$(TARGET_MAKE_ENV) \
		$(PKG_COMMON_CARGO_ENV) \
		$(KRING_CARGO_ENV) \
		cargo fetch \
			--locked \
			--manifest-path Cargo.toml
endef
KRING_PRE_CONFIGURE_HOOKS += KRING_CARGO_FETCH

# The cargo infrastructure builds with --release, and cargo refuses
# --release together with --profile: so the build is spelled out here,
# with the workspace's [profile.device] (release, opt-level "s", fat
# LTO, one codegen unit, stripped). The environment is the
# infrastructure's own (target, linker, CARGO_HOME, profile settings).
define KRING_BUILD_CMDS
	cd $(@D) && \
	$(TARGET_MAKE_ENV) \
		$(TARGET_CONFIGURE_OPTS) \
		$(PKG_CARGO_ENV) \
		$(KRING_CARGO_ENV) \
		cargo build \
			--offline \
			--locked \
			--manifest-path Cargo.toml \
			--package kring \
			--bin kring \
			--no-default-features \
			--features device \
			--profile device
endef

define KRING_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(@D)/target/$(RUSTC_TARGET_NAME)/device/kring \
		$(TARGET_DIR)/usr/bin/kring
endef

# The units themselves are in the shared overlay (firmware-image/overlay);
# the preset enables them when Buildroot runs "systemctl preset-all".
define KRING_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(KRING_PKGDIR)/50-kring.preset \
		$(TARGET_DIR)/usr/lib/systemd/system-preset/50-kring.preset
endef

# A fixed uid/gid: /data/kring outlives root file system updates (A/B).
define KRING_USERS
	kring 900 kring 900 * /data/kring - video,input,render kring kiosk
endef

$(eval $(cargo-package))
