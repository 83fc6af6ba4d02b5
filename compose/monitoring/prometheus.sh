#!/bin/sh
# Prometheus's entry point in the Compose stack: the NATS nodes to probe come from the URLs the
# parts use (SWITCHYARD_NATS_URL: one node, or the cluster's three), written as a file_sd list;
# the function containers scraped are this stack's (SWITCHYARD_FUNCTIONS_NETWORK); the gateway
# is scraped as the admin (SWITCHYARD_ADMIN_PASSWORD).
set -eu
sed "s/FUNCTIONS_NETWORK/$SWITCHYARD_FUNCTIONS_NETWORK/" /etc/switchyard/prometheus.yml \
  > /prometheus/prometheus.yml
hosts=$(echo "$SWITCHYARD_NATS_URL" | tr ',' '\n' | sed -n 's#^nats://\([^@/]*@\)\{0,1\}\([^:/]*\).*#\2#p')
targets=""
for host in $hosts; do
  targets="${targets:+$targets,}\"$host\""
done
echo "[{\"targets\": [$targets]}]" > /prometheus/nats-nodes.json
# The gateway's /metrics names functions only to operators.
umask 077
printf '%s' "$SWITCHYARD_ADMIN_PASSWORD" > /prometheus/gateway-password
exec /usr/bin/prometheus --config.file=/prometheus/prometheus.yml \
  --storage.tsdb.path=/prometheus --web.listen-address=0.0.0.0:9090 \
  --rules.alert.resend-delay=5s
