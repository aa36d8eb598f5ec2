#!/bin/sh
# Buildroot post-image script (BR2_ROOTFS_POST_IMAGE_SCRIPT). Makes
# BINARIES_DIR/sdcard.img with the appliance's shared disk layout,
# firmware-image/genimage.cfg, which builds every partition from one root
# directory: its /boot/firmware (filled by post-build.sh) becomes the FAT
# boot partition, the rest root A (ext4); root B and data are empty.
#
# Buildroot's support/scripts/genimage.sh cannot be used: it hands
# genimage an empty root path and expects ready-made partition images.
# Nor can TARGET_DIR be handed over as it is: the owners,
# permissions, users and systemd presets of the final root file system
# are applied by Buildroot's file system step, under fakeroot, to a copy.
# That copy is images/rootfs.tar (BR2_TARGET_ROOTFS_TAR): unpack it under
# fakeroot and run genimage in the same fakeroot session, so root A gets
# the right owners.
set -eu

config="${BR2_EXTERNAL_KRING_PATH}/../firmware-image/genimage.cfg"
rootpath="${BUILD_DIR}/kring-genimage.root"
tmppath="${BUILD_DIR}/genimage.tmp"

rm -rf "${rootpath}" "${tmppath}"
mkdir -p "${rootpath}"

# The inner script gets its paths as arguments: no expansion here.
# shellcheck disable=SC2016
"${HOST_DIR}/bin/fakeroot" -- sh -eu -c '
	tar -C "$1" --numeric-owner -xpf "$2/rootfs.tar"
	genimage \
		--rootpath "$1" \
		--tmppath "$3" \
		--inputpath "$2" \
		--outputpath "$2" \
		--config "$4"
' kring-genimage "${rootpath}" "${BINARIES_DIR}" "${tmppath}" "${config}"

rm -rf "${rootpath}" "${tmppath}"
echo "kring: ${BINARIES_DIR}/sdcard.img"
