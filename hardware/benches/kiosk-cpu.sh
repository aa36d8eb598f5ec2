#!/usr/bin/env bash
# CPU of the release kiosk under Xvfb, per screen: the lock screen, Vandaag
# (idle) and Foto maken with the live preview of a folder camera at 15 fps
# (camera-like MJPEG frames from camera-frames.sh: nothing is encoded).
#
#   cargo build --release -p kring && cargo build -p kring-server
#   bash hardware/benches/kiosk-cpu.sh [--kiosk BIN] [--server BIN] [--frames DIR]
#                                      [--seconds N] [--shots DIR] [--camera CHOICE]
#
# Defaults: target/release/kring, target/debug/kring-server (it only
# enrolls the kiosk and answers its sync), target/camera-frames/720p, 20 s;
# --camera synthetic measures the synthetic camera (it encodes every frame).
# A kring-server with the demo organisation runs on 127.0.0.1:18480 (its
# MQTT broker on 18483) in a temporary folder; the kiosk is enrolled to
# Dolfijnen and driven with xdotool clicks on its 800x480 window (unlock:
# Anouk de Wit, PIN 1234). CPU is utime+stime from /proc/<pid>/stat over the
# measuring time, as a share of one core. Needs Debian's xvfb, xdotool and
# imagemagick (for --shots); installs them when missing and we are root.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
kiosk="$root/target/release/kring"
server="$root/target/debug/kring-server"
frames="$root/target/camera-frames/720p"
seconds=20
shots=""
camera=""
while [ $# -gt 0 ]; do
    case "$1" in
        --kiosk) kiosk="$2"; shift 2 ;;
        --server) server="$2"; shift 2 ;;
        --frames) frames="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --shots) shots="$2"; shift 2 ;;
        --camera) camera="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -x "$kiosk" ] || { echo "no kiosk binary $kiosk (cargo build --release -p kring)" >&2; exit 1; }
camera="${camera:-folder:$frames}"
[ -x "$server" ] || { echo "no server binary $server (cargo build -p kring-server)" >&2; exit 1; }
if [ ! -d "$frames" ]; then
    bash "$root/hardware/benches/camera-frames.sh" "$(dirname "$frames")"
fi
missing=()
command -v Xvfb >/dev/null || missing+=(xvfb)
command -v xdotool >/dev/null || missing+=(xdotool)
command -v import >/dev/null || missing+=(imagemagick)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq "${missing[@]}" >/dev/null; else sudo apt-get install -y -qq "${missing[@]}" >/dev/null; fi
fi

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port=18480
KRING__HTTP__LISTEN="127.0.0.1:$port" KRING__HTTP__PUBLIC_URL="http://127.0.0.1:$port" \
    KRING__MQTT__LISTEN="127.0.0.1:18483" \
    "$server" --data-dir "$work/server" demo >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.2
done
code="$(KRING__HTTP__LISTEN="127.0.0.1:$port" KRING__HTTP__PUBLIC_URL="http://127.0.0.1:$port" \
    KRING__MQTT__LISTEN="127.0.0.1:18483" \
    "$server" --data-dir "$work/server" admin enroll-code --group Dolfijnen |
    sed -n 's/^Koppelcode: \([^ ]*\).*/\1/p')"
[ -n "$code" ] || { echo "no koppelcode from kring-server" >&2; cat "$work/server.log" >&2; exit 1; }

display=":$((50 + RANDOM % 40))"
Xvfb "$display" -screen 0 800x480x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
xvfb=$!
pids+=("$xvfb")
sleep 1
export DISPLAY="$display"
KRING__IDLE_SECONDS=3600 RUST_LOG=warn "$kiosk" --data-dir "$work/kiosk" \
    --server "http://127.0.0.1:$port" --camera "$camera" --enroll-code "$code" \
    >"$work/kiosk.log" 2>&1 &
kpid=$!
pids+=("$kpid")
for _ in $(seq 1 100); do
    xdotool search --pid "$kpid" >/dev/null 2>&1 && break
    sleep 0.2
done
sleep 4 # enrolled, first sync done

tick="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU share of one core of pid $1 over $seconds.
measure() {
    local pid=$1 c0 c1 t0 t1
    c0=$(cpu_ticks "$pid"); t0=$(date +%s.%N)
    sleep "$seconds"
    c1=$(cpu_ticks "$pid"); t1=$(date +%s.%N)
    awk -v c="$((c1 - c0))" -v hz="$tick" -v t0="$t0" -v t1="$t1" \
        'BEGIN { printf "%.1f", c / hz / (t1 - t0) * 100 }'
}
shot() { [ -z "$shots" ] || { mkdir -p "$shots"; import -window root "$shots/$1.png"; }; }
click() { xdotool mousemove "$1" "$2" click 1; sleep 0.4; }
# Both at once: the kiosk's and the X server's CPU over the same seconds.
row() {
    local name=$1 kf="$work/k" xf="$work/x"
    measure "$kpid" >"$kf" &
    local m=$!
    measure "$xvfb" >"$xf"
    wait "$m"
    printf '| %-34s | %9s%% | %9s%% |\n' "$name" "$(cat "$kf")" "$(cat "$xf")"
}

echo "kring kiosk CPU under Xvfb (800x480), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "kiosk: $kiosk; camera $camera; $seconds s per screen"
echo
echo "| screen                             | kring     | Xvfb      |"
echo "|------------------------------------|-----------|-----------|"
shot 1-locked
row "lock screen (clock)"
click 400 240  # tap: choose staff
shot 2-choose
# Anouk de Wit is the first staff member of the demo.
click "${ANOUK_X:-130}" "${ANOUK_Y:-150}"
for digit in 1 2 3 4; do
    case $digit in 1) click 491 73 ;; 2) click 607 73 ;; 3) click 723 73 ;; 4) click 491 184 ;; esac
done
click 723 406  # OK
sleep 1
shot 3-vandaag
row "Vandaag (idle)"
click 75 185   # the Foto maken tab
sleep 2
shot 4-foto-maken
row "Foto maken (live preview, 15 fps)"
click 75 100   # back to Vandaag
sleep 2
row "Vandaag again (preview stopped)"
if grep -qiE "panicked|error" "$work/kiosk.log"; then
    echo
    echo "kiosk log:"
    grep -iE "panicked|error" "$work/kiosk.log" | tail -5
fi
