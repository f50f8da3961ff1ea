#!/usr/bin/env bash
# Build a busybox rootfs tarball from Debian's busybox-static.
#
# Usage: scripts/build-busybox-image.sh OUT.tar
#
# The tarball holds /bin/busybox, every applet as a relative symlink where
# `busybox --list-full` puts it, /www/index.html, /etc/passwd and /etc/group with root
# and nobody, placeholder /etc/hosts /etc/resolv.conf /etc/hostname, and empty /proc
# /sys /dev /tmp (mode 1777). Needs only bash, tar and busybox. The output is
# reproducible (sorted names, fixed mtime, numeric owner 0).
set -euo pipefail

out="${1:?usage: $0 OUT.tar}"
busybox="${BUSYBOX:-}"
if [[ -z "$busybox" ]]; then
    for cand in /bin/busybox /usr/bin/busybox; do
        if [[ -x "$cand" ]]; then busybox="$cand"; break; fi
    done
fi
if [[ -z "$busybox" ]] || ! "$busybox" --list-full >/dev/null 2>&1; then
    echo "error: busybox (Debian's busybox-static) not found" >&2
    exit 1
fi
if ldd "$busybox" >/dev/null 2>&1; then
    echo "error: $busybox is dynamically linked; install busybox-static" >&2
    exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/cove-busybox.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"

mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,www,proc,sys,dev,tmp,root,home,var/log,run}
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
install -m 0755 "$busybox" "$root/bin/busybox"

# Every applet as a relative symlink to /bin/busybox, where busybox itself puts it.
while IFS= read -r applet; do
    [[ -z "$applet" || "$applet" == "bin/busybox" ]] && continue
    dir="${applet%/*}"
    mkdir -p "$root/$dir"
    # one "../" per path component of the directory
    up=""
    IFS=/ read -r -a parts <<<"$dir"
    for _ in "${parts[@]}"; do up="../$up"; done
    ln -sf "${up}bin/busybox" "$root/$applet"
done < <("$busybox" --list-full)

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
: >"$root/etc/hosts"
: >"$root/etc/resolv.conf"
: >"$root/etc/hostname"

cat >"$root/www/index.html" <<'HTML'
<!DOCTYPE html>
<html>
<head><title>cove busybox</title></head>
<body><h1>Hello from cove</h1><p>Served by busybox httpd.</p></body>
</html>
HTML

mkdir -p "$(dirname "$out")"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
    -C "$root" -cf "$out.tmp" .
mv -f "$out.tmp" "$out"
echo "$out"
