#!/usr/bin/env bash
# Builds Switchyard's images without a registry (none is reachable, and no base image can be
# pulled): each is a `docker import` of a tarball holding our binaries, the shared libraries
# they load, and busybox (Debian's busybox-static) for a shell and the usual tools.
#
#   switchyard/function:latest    the function base image: switchyard-watchdog is the entry
#                                 point; a function image adds its code and sets fprocess
#   switchyard/switchyard:latest  switchyard (gateway, provider, dispatcher, event sources) and nats-server
#   switchyard/monitoring:latest  Debian's prometheus, prometheus-alertmanager and
#                                 prometheus-blackbox-exporter (probes NATS) (the `monitoring`
#                                 profile), installed on the host first when missing
#
# BIN_DIR (default: $CARGO_TARGET_DIR/release, built first) holds switchyard and
# switchyard-watchdog; NATS_SERVER (default: nats-server on PATH) is copied into the second image.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { printf '==> %s\n' "$*" >&2; }

BUSYBOX=/bin/busybox
if ! "$BUSYBOX" --list >/dev/null 2>&1 || ldd "$BUSYBOX" >/dev/null 2>&1; then
  say "installing busybox-static (Debian) for the images' shell and tools"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null \
    || { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
fi

if [ -z "${BIN_DIR:-}" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchyard/target}"
  (cd "$ROOT" && cargo build --release --quiet -p switchyard -p switchyard-watchdog)
  BIN_DIR="$CARGO_TARGET_DIR/release"
fi

# A root file system: busybox and its applets, the programs, and every library they load.
rootfs() {
  local dir="$1"; shift
  mkdir -p "$dir/bin" "$dir/usr/bin" "$dir/tmp" "$dir/etc" "$dir/home/app"
  chmod 1777 "$dir/tmp"
  cp "$BUSYBOX" "$dir/bin/busybox"
  for applet in $("$BUSYBOX" --list); do
    [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/etc/passwd"
  echo 'app:x:1000:1000::/home/app:/bin/sh' >> "$dir/etc/passwd"
  for program in "$@"; do
    cp "$program" "$dir/usr/bin/"
    for library in $(ldd "$program" 2>/dev/null | grep -o '/[^ ]*'); do
      mkdir -p "$dir$(dirname "$library")"
      cp -L "$library" "$dir$library"
    done
  done
}

import() {
  local dir="$1" tag="$2"; shift 2
  local previous
  previous="$(docker image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)"
  tar -C "$dir" -cf "$dir.tar" .
  docker import "$@" "$dir.tar" "$tag" >/dev/null
  # The image this one replaces, unless something still uses it (then it stays, untagged).
  [ -n "$previous" ] && docker rmi "$previous" >/dev/null 2>&1 || true
  say "built $tag"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

rootfs "$work/function" "$BIN_DIR/switchyard-watchdog"
import "$work/function" switchyard/function:latest \
  --change 'ENTRYPOINT ["/usr/bin/switchyard-watchdog"]' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'WORKDIR /home/app' \
  --change 'EXPOSE 8080'

nats_server="${NATS_SERVER:-$(command -v nats-server || true)}"
if [ -n "$nats_server" ]; then
  rootfs "$work/switchyard" "$BIN_DIR/switchyard" "$(readlink -f "$nats_server")"
  [ -e "$work/switchyard/usr/bin/nats-server" ] || mv "$work/switchyard/usr/bin/$(basename "$(readlink -f "$nats_server")")" "$work/switchyard/usr/bin/nats-server"
  import "$work/switchyard" switchyard/switchyard:latest \
    --change 'ENTRYPOINT ["/usr/bin/switchyard"]' \
    --change 'ENV PATH=/usr/bin:/bin' \
    --change 'EXPOSE 8080'
else
  say "nats-server not found: switchyard/switchyard not built"
fi

for program in prometheus prometheus-alertmanager prometheus-blackbox-exporter; do
  if ! command -v "$program" >/dev/null 2>&1; then
    say "installing prometheus, prometheus-alertmanager and prometheus-blackbox-exporter (Debian) for the monitoring image"
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    packages=(prometheus prometheus-alertmanager prometheus-blackbox-exporter)
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null \
      || { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }
    break
  fi
done
rootfs "$work/monitoring" "$(command -v prometheus)" "$(command -v prometheus-alertmanager)" \
  "$(command -v prometheus-blackbox-exporter)"
mkdir -p "$work/monitoring/prometheus" "$work/monitoring/alertmanager" "$work/monitoring/usr/share/prometheus"
# AlertManager's notification templates.
cp -r /usr/share/prometheus/alertmanager "$work/monitoring/usr/share/prometheus/"
import "$work/monitoring" switchyard/monitoring:latest --change 'ENV PATH=/usr/bin:/bin'
