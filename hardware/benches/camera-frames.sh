#!/usr/bin/env bash
# Makes the camera-like JPEG frames the preview benchmark decodes: what a USB
# (UVC) webcam hands over in MJPEG mode. Baseline JPEG, 4:2:2 chroma
# subsampling (2x1), quality 82, the standard Huffman tables (no optimised
# coding, like a camera's encoder), no metadata, at 1280x720 and 1920x1080.
#
# The content is real photographs: the nature photos of Debian's
# mate-backgrounds package (2560x1600 and smaller originals), scaled and
# centre-cropped to 16:9. The package is downloaded and unpacked, not
# installed. Needs apt-get and ImageMagick (Debian's imagemagick); installs
# imagemagick when `convert` is missing and we are root.
#
#   bash hardware/benches/camera-frames.sh [OUT_DIR]   (default target/camera-frames)
#
# Writes OUT_DIR/720p/*.jpg and OUT_DIR/1080p/*.jpg. Run once; the benchmark
# runs it itself when the frames are missing. Nothing here is committed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/target/camera-frames}"
photos=(Aqua Blinds Dune FreshFlower Garden GreenMeadow LadyBird RainDrops Storm TwoWings Wood YellowFlower)

have_magick() { convert -version 2>/dev/null | grep -q ImageMagick; }
if ! have_magick; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -qq imagemagick >/dev/null
    else
        sudo apt-get install -y -qq imagemagick >/dev/null
    fi
fi
have_magick || { echo "camera-frames: ImageMagick's convert is needed" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download mate-backgrounds >/dev/null 2>&1) || {
    echo "camera-frames: apt-get download mate-backgrounds failed (run apt-get update?)" >&2
    exit 1
}
dpkg-deb -x "$work"/mate-backgrounds_*.deb "$work/x"
src="$work/x/usr/share/backgrounds/mate/nature"

for size in 1280x720 1920x1080; do
    case $size in 1280x720) dir=720p ;; *) dir=1080p ;; esac
    mkdir -p "$out/$dir"
    for name in "${photos[@]}"; do
        convert "$src/$name.jpg" -auto-orient -colorspace sRGB \
            -resize "$size^" -gravity center -extent "$size" \
            -strip -interlace none -sampling-factor 2x1 -quality 82 \
            -define jpeg:optimize-coding=false \
            "$out/$dir/$name.jpg"
    done
done
echo "camera-frames: $(ls "$out/720p" | wc -l) frames each in $out/720p and $out/1080p"
