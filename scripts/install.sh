#!/usr/bin/env bash
# Install what cove needs on a Debian 12 machine (as root): Debian packages, a venv with
# cove in it, `cove`/`coved` on PATH, and the busybox image tarball.
# Usage: scripts/install.sh [--test]   (--test adds the test tools)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

pkgs=(nftables conntrack busybox-static tini iproute2 util-linux procps python3-venv tar)
# tests and benchmarks also need: etcd (cluster tests), iperf3 (throughput), ping with DF
[ "${1:-}" = "--test" ] && pkgs+=(etcd-server iperf3 iputils-ping runc crun conmon lxc)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
extra=""
[ "${1:-}" = "--test" ] && extra="[test]"
.venv/bin/pip install -q --disable-pip-version-check -e ".${extra}"
.venv/bin/python -m compileall -q src >/dev/null  # the CLI starts faster with bytecode
ln -sf "$here/.venv/bin/cove" /usr/local/bin/cove
ln -sf "$here/.venv/bin/coved" /usr/local/bin/coved

mkdir -p build
if [ ! -s build/busybox.tar ] || [ scripts/build-busybox-image.sh -nt build/busybox.tar ]; then
  bash scripts/build-busybox-image.sh build/busybox.tar
fi
echo "cove installed: $(command -v cove), image tarball build/busybox.tar"
