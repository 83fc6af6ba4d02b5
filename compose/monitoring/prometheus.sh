#!/bin/sh
# Prometheus's entry point in the Compose stack: the NATS nodes to probe come from the URLs the
# parts use (SWITCHYARD_NATS_URL: one node, or the cluster's three), written as a file_sd list;
# the gateway (and its list of function replicas) is read as the admin (SWITCHYARD_ADMIN_PASSWORD),
# and Prometheus itself asks for the same password.
set -eu
cp /etc/switchyard/prometheus.yml /prometheus/prometheus.yml
hosts=$(echo "$SWITCHYARD_NATS_URL" | tr ',' '\n' | sed -n 's#^nats://\([^@/]*@\)\{0,1\}\([^:/]*\).*#\2#p')
targets=""
for host in $hosts; do
  targets="${targets:+$targets,}\"$host\""
done
echo "[{\"targets\": [$targets]}]" > /prometheus/nats-nodes.json
# The gateway's /metrics names functions only to operators.
umask 077
printf '%s' "$SWITCHYARD_ADMIN_PASSWORD" > /prometheus/gateway-password
# The provider connects Prometheus to every namespace's network to scrape the watchdogs, where
# functions reach it too: its API and UI ask for the admin's password (bcrypt, from stack.sh).
: "${SWITCHYARD_PROMETHEUS_PASSWORD_HASH:?the admin password's bcrypt hash: start with compose/stack.sh up --monitoring}"
printf 'basic_auth_users:\n  admin: "%s"\n' "$SWITCHYARD_PROMETHEUS_PASSWORD_HASH" > /prometheus/web.yml
exec /usr/bin/prometheus --config.file=/prometheus/prometheus.yml \
  --storage.tsdb.path=/prometheus --web.listen-address=0.0.0.0:9090 \
  --web.config.file=/prometheus/web.yml \
  --rules.alert.resend-delay=5s
