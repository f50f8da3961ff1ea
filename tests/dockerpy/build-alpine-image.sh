#!/usr/bin/env bash
# Build the rootfs tarball docker-py's integration suite runs as `alpine:3.10`.
#
# Usage: tests/dockerpy/build-alpine-image.sh OUT.tar
#
# It is the busybox image of scripts/build-busybox-image.sh (Debian's busybox-static,
# every applet linked) plus what the suite expects of alpine: a `postgres` user and
# group, /var/opt, and /etc/os-release. PATH comes from the image config cove writes on
# import. Reproducible like the busybox image.
set -euo pipefail

out="${1:?usage: $0 OUT.tar}"
here=$(cd "$(dirname "$0")/../.." && pwd)
work="$(mktemp -d "${TMPDIR:-/tmp}/cove-alpine.XXXXXX")"
trap 'rm -rf "$work"' EXIT

bash "$here/scripts/build-busybox-image.sh" "$work/busybox.tar" >/dev/null
mkdir "$work/rootfs"
tar -C "$work/rootfs" -xf "$work/busybox.tar"
root="$work/rootfs"
echo 'postgres:x:70:70:postgres:/var/lib/postgresql:/bin/sh' >>"$root/etc/passwd"
echo 'postgres:x:70:' >>"$root/etc/group"
mkdir -p "$root/var/opt" "$root/var/lib/postgresql"
cat >"$root/etc/os-release" <<'OSR'
NAME="cove test image (busybox)"
ID=alpine
VERSION_ID=3.10.0
PRETTY_NAME="busybox as alpine:3.10 for docker-py's tests"
OSR

mkdir -p "$(dirname "$out")"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$root" -cf "$out.tmp" .
mv -f "$out.tmp" "$out"
echo "$out"
