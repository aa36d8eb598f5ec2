#!/bin/sh
# Buildroot post-build script (BR2_ROOTFS_POST_BUILD_SCRIPT), $1 = the
# target directory. Lays out the Raspberry Pi boot files in
# /boot/firmware, the directory that firmware-image/genimage.cfg turns
# into the FAT boot partition (the rest of the tree becomes root A).
#
# Buildroot has already installed the kernel (Image) and the DTBs in
# BINARIES_DIR, and rpi-firmware's files in BINARIES_DIR/rpi-firmware.
# config.txt and cmdline.txt are the appliance's shared ones, from
# firmware-image/boot/rpi4/.
set -eu

target="$1"
shared="${BR2_EXTERNAL_KRING_PATH}/../firmware-image/boot/rpi4"
firmware="${BINARIES_DIR}/rpi-firmware"
boot="${target}/boot/firmware"

rm -rf "${boot}"
mkdir -p "${boot}/overlays"

install -m 0644 "${firmware}/start4.elf" "${firmware}/fixup4.dat" "${boot}/"
cp -R "${firmware}/overlays/." "${boot}/overlays/"
for dtb in "${BINARIES_DIR}"/bcm2711-*.dtb; do
	install -m 0644 "${dtb}" "${boot}/"
done
install -m 0644 "${BINARIES_DIR}/Image" "${boot}/Image"
install -m 0644 "${shared}/cmdline.txt" "${boot}/cmdline.txt"

# The shared config.txt names the Debian recipe's kernel and initramfs.
# Buildroot's kernel is Image, with everything needed to mount root A
# built in, and there is no initramfs: say so, keep everything else.
sed -e 's/^kernel=.*/kernel=Image/' \
	-e '/^initramfs[[:space:]]/d' \
	"${shared}/config.txt" > "${boot}/config.txt"
chmod 0644 "${boot}/config.txt"
