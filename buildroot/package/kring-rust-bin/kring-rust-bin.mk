################################################################################
#
# kring-rust-bin
#
################################################################################

# Buildroot 2026.02's own Rust (package/rust-bin, host-rustc) is 1.88, and
# the kring workspace needs 1.92 (Slint 1.18 and the workspace's
# rust-version). This host package installs the Rust project's prebuilt
# 1.92 compiler, cargo and the target's standard library in a prefix of
# their own, used only by the kring package, so nothing else in the build
# sees a different Rust. Like package/rust-bin, only for x86_64 and
# aarch64 build machines (see the .hash file).
KRING_RUST_BIN_VERSION = 1.92.0
KRING_RUST_BIN_SITE = https://static.rust-lang.org/dist
KRING_RUST_BIN_LICENSE = Apache-2.0 or MIT
KRING_RUST_BIN_LICENSE_FILES = LICENSE-APACHE LICENSE-MIT

HOST_KRING_RUST_BIN_SOURCE = rust-$(KRING_RUST_BIN_VERSION)-$(RUSTC_HOST_NAME).tar.xz
HOST_KRING_RUST_BIN_EXTRA_DOWNLOADS = \
	rust-std-$(KRING_RUST_BIN_VERSION)-$(RUSTC_TARGET_NAME).tar.xz

# Where the kring package finds this cargo and rustc.
KRING_RUST_BIN_PREFIX = $(HOST_DIR)/lib/kring-rust

define HOST_KRING_RUST_BIN_EXTRACT_STD
	mkdir -p $(@D)/std
	$(foreach f,$(HOST_KRING_RUST_BIN_EXTRA_DOWNLOADS), \
		$(call suitable-extractor,$(f)) $(HOST_KRING_RUST_BIN_DL_DIR)/$(f) | \
			$(TAR) -C $(@D)/std $(TAR_OPTIONS) -
	)
endef
HOST_KRING_RUST_BIN_POST_EXTRACT_HOOKS += HOST_KRING_RUST_BIN_EXTRACT_STD

define HOST_KRING_RUST_BIN_INSTALL_CMDS
	cd $(@D) && \
		./install.sh \
			--prefix=$(KRING_RUST_BIN_PREFIX) \
			--disable-ldconfig \
			--components=rustc,cargo,rust-std-$(RUSTC_HOST_NAME)
	cd $(@D)/std/rust-std-$(KRING_RUST_BIN_VERSION)-$(RUSTC_TARGET_NAME) && \
		./install.sh \
			--prefix=$(KRING_RUST_BIN_PREFIX) \
			--disable-ldconfig
endef

$(eval $(host-generic-package))
