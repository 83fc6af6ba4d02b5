#!/usr/bin/env bash
# Starts and stops the Compose stack.
#
#   compose/stack.sh up [--cluster] [--monitoring] [--scale SERVICE=N]...
#                      build the images when missing, start, wait until healthy (`--scale
#                      provider=2` adds a standby provider, `--scale dispatcher=2` a dispatcher); with
#                      --monitoring also Prometheus and AlertManager, and the `alerts` webhook
#                      source that AlertManager posts to (token SWITCHYARD_ALERTS_TOKEN, made
#                      when unset)
#   compose/stack.sh down [--cluster] [--monitoring]
#                      stop the provider, remove its function containers, then the stack and
#                      its volumes
#
# SWITCHYARD_ADMIN_PASSWORD is required; NATS's password is SWITCHYARD_NATS_PASSWORD, or one
# made once per project into compose/.state/. COMPOSE_PROJECT_NAME (default switchyard),
# SWITCHYARD_PORT (8080), SWITCHYARD_WEBHOOK_PORT (8081) and SWITCHYARD_FUNCTIONS_NETWORK
# (switchyard-functions) let several stacks share one engine.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
say() { printf '==> %s\n' "$*" >&2; }

action="${1:-}"
files=(-f "$HERE/docker-compose.yml")
monitoring=""
scale=()
shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    --cluster) files+=(-f "$HERE/docker-compose.cluster.yml") ;;
    --monitoring) monitoring=1; export COMPOSE_PROFILES=monitoring ;;
    --scale) [ $# -ge 2 ] || { echo "--scale needs SERVICE=N" >&2; exit 2; }
             scale+=(--scale "$2"); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$monitoring" ] && [ -z "${SWITCHYARD_ALERTS_TOKEN:-}" ]; then
  SWITCHYARD_ALERTS_TOKEN="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export SWITCHYARD_ALERTS_TOKEN
fi
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-switchyard}"
: "${SWITCHYARD_ADMIN_PASSWORD:?set SWITCHYARD_ADMIN_PASSWORD}"
# Prometheus asks for the admin's password (as a bcrypt hash: PyPI's bcrypt in the repository's
# virtual environment, installed when missing).
if [ -n "$monitoring" ] && [ "$action" = up ]; then
  venv="$HERE/../.venv"
  if ! "$venv/bin/python3" -c 'import bcrypt' 2>/dev/null; then
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check bcrypt
  fi
  SWITCHYARD_PROMETHEUS_PASSWORD_HASH="$(printf '%s' "$SWITCHYARD_ADMIN_PASSWORD" \
    | "$venv/bin/python3" -c 'import bcrypt, sys; print(bcrypt.hashpw(sys.stdin.buffer.read(), bcrypt.gensalt()).decode())')"
  export SWITCHYARD_PROMETHEUS_PASSWORD_HASH
fi
# NATS takes only Switchyard's parts: a password made once per project and kept (0600) beside
# this script, unless SWITCHYARD_NATS_PASSWORD is set.
if [ -z "${SWITCHYARD_NATS_PASSWORD:-}" ]; then
  state="$HERE/.state"
  mkdir -p "$state" && chmod 700 "$state"
  password_file="$state/$COMPOSE_PROJECT_NAME.nats-password"
  if [ ! -s "$password_file" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$password_file")
  fi
  SWITCHYARD_NATS_PASSWORD="$(cat "$password_file")"
fi
export SWITCHYARD_NATS_PASSWORD
network="${SWITCHYARD_FUNCTIONS_NETWORK:-switchyard-functions}"
compose() { docker-compose "${files[@]}" "$@"; }

case "$action" in
  up)
    if ! docker image inspect switchyard/switchyard:latest switchyard/function:latest switchyard/monitoring:latest >/dev/null 2>&1; then
      "$HERE/build-images.sh"
    fi
    compose up -d "${scale[@]}"
    port="${SWITCHYARD_PORT:-8080}"
    for _ in $(seq 1 120); do
      if curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
        say "Switchyard is up: http://127.0.0.1:$port"
        if [ -n "$monitoring" ]; then
          # Where AlertManager posts: a webhook source whose token only it and we know.
          curl -fsS -u "admin:$SWITCHYARD_ADMIN_PASSWORD" -X POST "http://127.0.0.1:$port/system/event-sources" \
            -d "{\"name\":\"alerts\",\"kind\":\"webhook\",\"config\":{\"auth\":{\"token\":\"$SWITCHYARD_ALERTS_TOKEN\"},\"type\":\"com.switchyard.alert\"}}" >/dev/null 2>&1 \
            || say "the alerts webhook source exists already (or could not be made)"
          say "Prometheus: http://127.0.0.1:${SWITCHYARD_PROMETHEUS_PORT:-9090} (admin and its password); alerts arrive as com.switchyard.alert events"
        fi
        exit 0
      fi
      sleep 0.5
    done
    compose logs --tail 30 >&2
    say "the gateway did not become healthy"
    exit 1
    ;;
  down)
    # The provider replaces function containers that vanish: stop it first.
    compose stop provider >/dev/null 2>&1 || true
    ids="$(docker ps -aq --filter "label=dev.switchyard.network=$network")"
    [ -n "$ids" ] && docker rm -f $ids >/dev/null
    compose down -v
    # The namespaces' networks the provider made.
    nets="$(docker network ls -q --filter "label=dev.switchyard.network=$network")"
    [ -n "$nets" ] && docker network rm $nets >/dev/null
    true
    ;;
  *)
    echo "usage: $0 up|down [--cluster]" >&2
    exit 2
    ;;
esac
