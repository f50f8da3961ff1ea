"""Render a :class:`ContainerSpec` into an OCI runtime ``config.json`` (a dict). Pure.

The container joins the sandbox's network namespace by path; the other namespaces are
new. Capabilities, masked and read-only paths are Docker's defaults
(:mod:`cove.runtime.security`), lifted by ``privileged`` (then every capability the
daemon's bounding set holds, since asking for one outside it makes runc and crun fail).
Resources map to ``linux.resources`` with the cgroupfs path ``cgroups_path``.
"""

from __future__ import annotations

from typing import Any

from cove.runtime import security
from cove.runtime.base import ContainerSpec

OCI_VERSION = "1.0.2"
CAP_NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)


def cap_names(mask: int) -> list[str]:
    """Capability names of the bits set in ``mask`` (numeric order)."""
    return [name for i, name in enumerate(CAP_NAMES) if mask >> i & 1]


def _mounts(spec: ContainerSpec) -> list[dict[str, Any]]:
    sys_opts = ["nosuid", "noexec", "nodev", "rw" if spec.privileged else "ro"]
    out: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                     "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    ]
    for m in spec.mounts:
        out.append({"destination": m.destination, "type": "bind", "source": m.source,
                    "options": ["rbind", "rprivate", "ro" if m.readonly else "rw"]})
    for path, opts in sorted(spec.tmpfs.items()):
        flags, data = security.tmpfs_options(opts)
        options = [name for name, bit in (("ro", 1), ("nosuid", 2), ("nodev", 4),
                                          ("noexec", 8)) if flags & bit]
        options += [o for o in data.split(",") if o]
        out.append({"destination": path, "type": "tmpfs", "source": "tmpfs",
                    "options": options})
    if spec.init_path:
        out.append({"destination": security.INIT_PATH, "type": "bind",
                    "source": spec.init_path, "options": ["bind", "ro", "rprivate"]})
    return out


def device_rule(rule: str) -> dict[str, Any]:
    """``"c 7:128 rwm"`` (``--device-cgroup-rule``) → an OCI ``linux.resources.devices``
    entry (``*`` → absent major/minor: any)."""
    kind, nums, access = rule.split()
    major, _, minor = nums.partition(":")
    out: dict[str, Any] = {"allow": True, "type": kind, "access": access}
    if major != "*":
        out["major"] = int(major)
    if minor != "*":
        out["minor"] = int(minor)
    return out


def _namespaces(spec: ContainerSpec) -> list[dict[str, str]]:
    """pid (none with PidMode host, by path for container:<id>), ipc, uts (none with
    UTSMode host), mount, cgroup (CgroupnsMode private), network by path."""
    out: list[dict[str, str]] = []
    if spec.pid_mode == "":
        out.append({"type": "pid"})
    elif spec.pid_mode != "host":
        out.append({"type": "pid", "path": spec.pid_mode})
    out.append({"type": "ipc"})
    if not spec.uts_host:
        out.append({"type": "uts"})
    out.append({"type": "mount"})
    if spec.cgroupns_private:
        out.append({"type": "cgroup"})
    if spec.netns_path:
        out.append({"type": "network", "path": spec.netns_path})
    return out


def _resources(spec: ContainerSpec) -> dict[str, Any]:
    res: dict[str, Any] = {"devices": [{"allow": False, "access": "rwm"}] +
                           [{"allow": True, "type": "c", "major": major, "minor": minor,
                             "access": "rwm"} for major, minor in (
                                 (1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1),
                                 (5, 2), (136, -1))]}
    res["devices"] += [device_rule(r) for r in spec.device_rules]
    if spec.privileged:
        res["devices"] = [{"allow": True, "access": "rwm"}]
    for d in res["devices"]:
        if d.get("minor") == -1:
            del d["minor"]
    if spec.memory:
        res["memory"] = {"limit": spec.memory, "swap": spec.memory}
    cpu: dict[str, Any] = {}
    if spec.cpu_shares:
        cpu["shares"] = spec.cpu_shares
    if spec.nano_cpus:
        cpu["period"] = 100_000
        cpu["quota"] = max(1000, spec.nano_cpus * 100_000 // 1_000_000_000)
    if spec.cpuset_cpus:
        cpu["cpus"] = spec.cpuset_cpus
    if spec.cpuset_mems:
        cpu["mems"] = spec.cpuset_mems
    if cpu:
        res["cpu"] = cpu
    if spec.pids_limit:
        res["pids"] = {"limit": spec.pids_limit}
    return res


def render_config(spec: ContainerSpec, rootfs: str, uid: int = 0, gid: int = 0,
                  cgroups_path: str = "", privileged_mask: int = 0) -> dict[str, Any]:
    """The OCI config for ``spec`` with its root at ``rootfs`` (the merged overlay).

    ``uid``/``gid``: the resolved ``spec.user``; ``privileged_mask``: the capability
    bounding set granted with ``--privileged`` (the daemon's own)."""
    mask = privileged_mask if spec.privileged else security.DEFAULT_CAP_MASK
    caps = cap_names(mask)
    args = list(spec.args)
    if spec.init_path:
        args = [security.INIT_PATH, "--", *args]
    linux: dict[str, Any] = {"namespaces": _namespaces(spec),
                             "resources": _resources(spec)}
    if cgroups_path:
        linux["cgroupsPath"] = cgroups_path
    if not spec.privileged:
        linux["maskedPaths"] = list(security.MASKED_PATHS)
        linux["readonlyPaths"] = list(security.READONLY_PATHS)
    user: dict[str, Any] = {"uid": uid, "gid": gid}
    if spec.group_add:   # numeric only (the OCI driver refuses names)
        user["additionalGids"] = [int(g) for g in spec.group_add if g.isdigit()]
    cfg = {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": user,
            "args": args,
            "env": list(spec.env),
            "cwd": spec.cwd or "/",
            "capabilities": {"bounding": caps, "effective": caps if uid == 0 else [],
                             "permitted": caps if uid == 0 else [], "inheritable": []},
            "noNewPrivileges": not spec.privileged,
        },
        "root": {"path": rootfs, "readonly": spec.readonly_rootfs},
        "hostname": spec.hostname or spec.id[:12],
        "mounts": _mounts(spec),
        "linux": linux,
    }
    if spec.uts_host:
        del cfg["hostname"]   # a runtime may not set a hostname in the host's UTS ns
    return cfg
