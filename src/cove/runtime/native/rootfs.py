"""Inside the new mount namespace: build the container's root filesystem and pivot into it.

Runs in the container's PID 1 before exec: overlayfs rootfs, bind mounts (hosts,
resolv.conf, hostname...), /proc, /sys (ro), a minimal /dev, then pivot_root and a lazy
unmount of the old root (which drops every host mount from the container's view, e.g.
other containers' netns bind mounts). Uses ``cove.kernel.syscalls`` and the stdlib only.
"""

from __future__ import annotations

import os
from typing import Any

from cove.kernel import syscalls as sc
from cove.runtime import security

DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def secure_join(root: str, path: str) -> str:
    """``root``/``path`` with every symlink resolved as if ``root`` were ``/``.

    A rootfs symlink (``/etc/hosts -> /host/file``) cannot make a bind mount land outside
    the rootfs.
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        cand = os.path.join(root, *resolved, part)
        if os.path.islink(cand):
            hops += 1
            if hops > 40:
                raise OSError(40, f"too many levels of symbolic links in {path}")
            target = os.readlink(cand)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _make_target(target: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(target, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not os.path.exists(target):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


def bind(source: str, target: str, readonly: bool = False) -> None:
    sc.mount(source, target, None, sc.MS_BIND | sc.MS_REC)
    if readonly:
        sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)


def _setup_dev(dev: str) -> None:
    os.makedirs(dev, exist_ok=True)
    sc.mount("tmpfs", dev, "tmpfs", sc.MS_NOSUID | sc.MS_STRICTATIME, "mode=755,size=65536k")
    for name in DEVICES:
        target = os.path.join(dev, name)
        _make_target(target, False)
        bind(f"/dev/{name}", target)
    pts = os.path.join(dev, "pts")
    os.mkdir(pts, 0o755)
    sc.mount("devpts", pts, "devpts", sc.MS_NOSUID | sc.MS_NOEXEC,
             "newinstance,ptmxmode=0666,mode=0620")
    os.symlink("pts/ptmx", os.path.join(dev, "ptmx"))
    shm = os.path.join(dev, "shm")
    os.mkdir(shm, 0o1777)
    sc.mount("shm", shm, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC,
             "mode=1777,size=65536k")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, os.path.join(dev, name))


def setup_rootfs(spec: dict[str, Any]) -> None:
    """Mount everything for ``spec`` and pivot into it. The caller is PID 1 of a new
    pid namespace, in a new mount namespace."""
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    state_dir = spec["state_dir"]
    root = os.path.join(state_dir, "merged")
    opts = "lowerdir={},upperdir={},workdir={}".format(
        ":".join(spec["lower_dirs"]), os.path.join(state_dir, "upper"),
        os.path.join(state_dir, "work"))
    sc.mount("overlay", root, "overlay", 0, opts)

    for m in spec.get("mounts", []):
        target = secure_join(root, m["destination"])
        _make_target(target, os.path.isdir(m["source"]))
        bind(m["source"], target, bool(m.get("readonly")))

    proc = secure_join(root, "/proc")
    os.makedirs(proc, exist_ok=True)
    sc.mount("proc", proc, "proc", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    sys_dir = secure_join(root, "/sys")
    os.makedirs(sys_dir, exist_ok=True)
    privileged = bool(spec.get("privileged"))
    sys_ro = 0 if privileged else sc.MS_RDONLY
    try:
        sc.mount("sysfs", sys_dir, "sysfs", sys_ro | sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC)
    except OSError:
        bind("/sys", sys_dir, readonly=True)  # e.g. sharing the host's netns
    _setup_dev(secure_join(root, "/dev"))
    _setup_extras(root, spec)
    if not privileged:
        _mask_paths(root)

    os.chdir(root)
    sc.pivot_root(".", ".")
    sc.umount(".", sc.MNT_DETACH)
    os.chdir("/")
    if spec.get("readonly_rootfs"):
        sc.mount(None, "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)


def _setup_extras(root: str, spec: dict[str, Any]) -> None:
    """``--tmpfs`` mounts and ``--init``'s tini at /sbin/docker-init (read-only)."""
    for path, opts in sorted((spec.get("tmpfs") or {}).items()):
        flags, data = security.tmpfs_options(opts)
        target = secure_join(root, path)
        os.makedirs(target, exist_ok=True)
        sc.mount("tmpfs", target, "tmpfs", flags, data or None)
    if spec.get("init_path"):
        target = secure_join(root, security.INIT_PATH)
        _make_target(target, False)
        bind(spec["init_path"], target, readonly=True)


def _mask_paths(root: str) -> None:
    """Docker's masked paths (/dev/null over files, an empty read-only tmpfs over
    directories) and read-only /proc paths (/proc/sys, ...)."""
    for path in security.READONLY_PATHS:
        target = os.path.join(root, path.lstrip("/"))
        if os.path.exists(target):
            bind(target, target, readonly=True)
    for path in security.MASKED_PATHS:
        target = os.path.join(root, path.lstrip("/"))
        if os.path.isdir(target):
            sc.mount("tmpfs", target, "tmpfs", sc.MS_RDONLY)
        elif os.path.exists(target):
            sc.mount("/dev/null", target, None, sc.MS_BIND)
