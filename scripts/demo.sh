#!/usr/bin/env bash
# Install cove, start coved, and show two containers on the default bridge talking.
# The daemon is left running; stop it with: kill "$(cat /run/cove/coved.pid)"
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/install.sh

sock=/run/cove/cove.sock
mkdir -p /run/cove /var/lib/cove
if ! cove version >/dev/null 2>&1; then
  echo "starting coved (log: /var/log/coved.log)"
  setsid coved >>/var/log/coved.log 2>&1 < /dev/null &
  echo $! > /run/cove/coved.pid
  for _ in $(seq 100); do [ -S "$sock" ] && cove version >/dev/null 2>&1 && break; sleep 0.1; done
fi
cove version
cove images | grep -q '^busybox ' || cove image import build/busybox.tar busybox:latest

cove rm -f demo-web demo-client >/dev/null 2>&1 || true
set -x
cove run -d --name demo-web busybox httpd -f -p 80 -h /www
ip=$(cove inspect --format '{{.NetworkSettings.IPAddress}}' demo-web)
cove run --rm --name demo-client busybox wget -qO- "http://$ip/"
cove exec demo-web ping -c 1 -W 2 "$(cove inspect --format '{{.NetworkSettings.Gateway}}' demo-web)"
busybox wget -qO- "http://$ip/"
cove ps
cove rm -f demo-web
set +x
echo
echo "coved is running (pid $(cat /run/cove/coved.pid 2>/dev/null || echo '?'))."
echo "Try: cove run -d --name a busybox httpd -f -p 80 -h /www"
echo "Stop it with: kill \"\$(cat /run/cove/coved.pid)\""
