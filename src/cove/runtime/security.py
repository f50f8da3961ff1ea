"""Docker's default container hardening, as data shared by every execution driver.

The default capability set (CapEff ``a80425fb``), the default devices cgroup allow list,
the ``/proc`` and ``/sys`` paths Docker masks or makes read-only, where ``--init`` puts
tini, and the parser of ``--tmpfs`` options into mount flags. Pure and stdlib-only (the
native spawner imports it).
"""

from __future__ import annotations

# Docker's default capabilities (moby/oci/caps/defaults.go), by number.
DEFAULT_CAPS = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_FSETID": 4,
    "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18,
    "CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29, "CAP_SETFCAP": 31,
}
DEFAULT_CAP_MASK = sum(1 << n for n in DEFAULT_CAPS.values())   # 0xa80425fb

# moby/oci/defaults.go
MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
    "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# The devices cgroup allow list of an unprivileged container (moby/oci/devices_linux.go
# and runc's defaults): mknod anything; use only null, zero, full, random, urandom, tty,
# console, ptmx, the pts and tun. ``--device-cgroup-rule`` adds to it.
DEFAULT_DEVICE_RULES = (
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
)

# As Docker: tini (Debian's tini-static) bind-mounted read-only at /sbin/docker-init.
INIT_PATH = "/sbin/docker-init"
INIT_CANDIDATES = ("/usr/bin/tini-static", "/usr/bin/docker-init")

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
_TMPFS_FLAGS = {
    "ro": (MS_RDONLY, True), "rw": (MS_RDONLY, False),
    "nosuid": (MS_NOSUID, True), "suid": (MS_NOSUID, False),
    "nodev": (MS_NODEV, True), "dev": (MS_NODEV, False),
    "noexec": (MS_NOEXEC, True), "exec": (MS_NOEXEC, False),
}
_TMPFS_DATA = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "huge", "mpol")


def tmpfs_options(opts: str) -> tuple[int, str]:
    """``"rw,noexec,size=64m"`` → (mount flags, data). Docker's defaults: nosuid, nodev,
    noexec. Raises ValueError on an option tmpfs does not know."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    data: list[str] = []
    for opt in (o.strip() for o in (opts or "").split(",")):
        if not opt:
            continue
        if opt in _TMPFS_FLAGS:
            bit, on = _TMPFS_FLAGS[opt]
            flags = flags | bit if on else flags & ~bit
        elif opt.partition("=")[0] in _TMPFS_DATA and "=" in opt:
            data.append(opt)
        elif opt in ("relatime", "norelatime", "strictatime", "noatime", "atime"):
            continue
        else:
            raise ValueError(f"invalid tmpfs option {opt!r}")
    return flags, ",".join(data)


def find_init() -> str:
    """Host path of the tini binary used for ``--init`` ("" when none is installed)."""
    import os
    for cand in INIT_CANDIDATES:
        if os.access(cand, os.X_OK):
            return cand
    return ""
