"""Render a :class:`ContainerSpec` as an LXC container config (pure, golden-tested).

The rootfs is a directory the monitor has already mounted (the overlay of the image
layers); namespaces uts/ipc/pid/mount/cgroup are LXC's own, the network namespace is the
sandbox's, shared by absolute path (``lxc.namespace.share.net``) instead of LXC's
networking. Capabilities are Docker's default set unless privileged. cgroups go under
``cove-lxc/<id>`` (container), ``cove-lxc/<id>-monitor`` and ``cove-lxc/<id>-pivot``
so the driver can find and remove what LXC leaves behind.
"""

from __future__ import annotations

from cove.kernel.cgroups import CPU_PERIOD
from cove.runtime.base import ContainerSpec
from cove.runtime.security import DEFAULT_CAPS, DEFAULT_DEVICE_RULES, INIT_PATH

CGROUP_PARENT = "cove-lxc"


def cgroup_dirs(container_id: str) -> dict[str, str]:
    """The cgroup paths (relative to each hierarchy's root) LXC uses for a container."""
    base = f"{CGROUP_PARENT}/{container_id}"
    return {"container": base, "monitor": f"{base}-monitor", "pivot": f"{base}-pivot"}


def _check(value: str, what: str) -> str:
    if any(c in value for c in "\n\r\0"):
        raise ValueError(f"{what} contains a line break or NUL: {value!r}")
    return value


def _entry_path(path: str, what: str) -> str:
    _check(path, what)
    if any(c.isspace() for c in path):
        raise ValueError(f"{what} contains whitespace: {path!r}")
    return path


def _cgroup_lines(spec: ContainerSpec, version: int) -> list[str]:
    out: list[str] = []
    key = "lxc.cgroup2" if version == 2 else "lxc.cgroup"
    for name, value in (("cpus", spec.cpuset_cpus), ("mems", spec.cpuset_mems)):
        if value:
            out.append(f"{key}.cpuset.{name} = {_check(value, 'cpuset')}")
    if spec.device_rules and version == 1 and not spec.privileged:
        out.append("lxc.cgroup.devices.deny = a")
        out += [f"lxc.cgroup.devices.allow = {_check(r, 'device rule')}"
                for r in (*DEFAULT_DEVICE_RULES, *spec.device_rules)]
    quota = max(1000, spec.nano_cpus * CPU_PERIOD // 1_000_000_000) if spec.nano_cpus else 0
    if version == 2:
        if spec.memory:
            out += [f"lxc.cgroup2.memory.max = {spec.memory}",
                    "lxc.cgroup2.memory.swap.max = 0"]
        if quota:
            out.append(f"lxc.cgroup2.cpu.max = {quota} {CPU_PERIOD}")
        if spec.cpu_shares:
            weight = 1 + ((spec.cpu_shares - 2) * 9999) // 262142
            out.append(f"lxc.cgroup2.cpu.weight = {max(1, min(10000, weight))}")
        if spec.pids_limit:
            out.append(f"lxc.cgroup2.pids.max = {spec.pids_limit}")
        return out
    if spec.memory:  # limit before memsw (the other order gives EINVAL)
        out += [f"lxc.cgroup.memory.limit_in_bytes = {spec.memory}",
                f"lxc.cgroup.memory.memsw.limit_in_bytes = {spec.memory}"]
    if quota:
        out += [f"lxc.cgroup.cpu.cfs_period_us = {CPU_PERIOD}",
                f"lxc.cgroup.cpu.cfs_quota_us = {quota}"]
    if spec.cpu_shares:
        out.append(f"lxc.cgroup.cpu.shares = {spec.cpu_shares}")
    if spec.pids_limit:
        out.append(f"lxc.cgroup.pids.max = {spec.pids_limit}")
    return out


def render_config(spec: ContainerSpec, rootfs: str, cgroup_version: int,
                  memsw: bool = True, dir_sources: frozenset[str] = frozenset()) -> str:
    """The LXC config text for ``spec`` with its root filesystem at ``rootfs``.
    ``memsw``: whether the v1 memory controller has swap accounting; ``dir_sources``:
    the mount sources that are directories (the rest are files). Raises ValueError
    on values LXC's config syntax cannot carry."""
    if spec.group_add:
        raise ValueError("--group-add is not supported by the lxc driver")
    lines = [f"# cove container {spec.id} (generated; do not edit)",
             f"lxc.rootfs.path = dir:{_entry_path(rootfs, 'rootfs')}"]
    if spec.readonly_rootfs:
        lines.append("lxc.rootfs.options = ro")
    if not spec.uts_host:
        lines.append(f"lxc.uts.name = {_check(spec.hostname or spec.id[:12], 'hostname')}")
    if spec.netns_path is None:
        lines.append("lxc.net.0.type = none")           # the host's network namespace
    else:
        lines.append(f"lxc.namespace.share.net = {_entry_path(spec.netns_path, 'netns')}")
    clone = ["mnt", "pid", "uts", "ipc", "cgroup"]   # LXC keeps its own cgroup ns
    if spec.pid_mode:
        clone.remove("pid")
        if spec.pid_mode != "host":
            lines.append(f"lxc.namespace.share.pid = {_entry_path(spec.pid_mode, 'pid ns')}")
    if spec.uts_host:
        clone.remove("uts")
    lines += ["lxc.namespace.clone = " + " ".join(clone),
              "lxc.mount.auto = " + ("proc:rw sys:rw" if spec.privileged
                                     else "proc:mixed sys:ro"),
              "lxc.autodev = 1", "lxc.pty.max = 64", "lxc.tty.max = 0",
              "lxc.console.path = none", "lxc.apparmor.profile = unconfined"]
    if not spec.privileged:
        caps = sorted(DEFAULT_CAPS, key=DEFAULT_CAPS.__getitem__)
        lines.append("lxc.cap.keep = " + " ".join(c[4:].lower() for c in caps))
    for m in spec.mounts:
        src = _entry_path(m.source, "mount source")
        dst = _entry_path(m.destination, "mount destination").lstrip("/")
        kind = "dir" if m.source in dir_sources else "file"
        opts = "bind" + (",ro" if m.readonly else "")
        lines.append(f"lxc.mount.entry = {src} {dst} none {opts},create={kind} 0 0")
    for path, opts in sorted(spec.tmpfs.items()):
        dst = _entry_path(path, "tmpfs path").lstrip("/")
        o = ",".join(x for x in ("nosuid,nodev,noexec", _check(opts, "tmpfs options"))
                     if x)
        lines.append(f"lxc.mount.entry = tmpfs {dst} tmpfs {o},create=dir 0 0")
    if spec.init_path:
        lines.append(f"lxc.mount.entry = {_entry_path(spec.init_path, 'init')} "
                     f"{INIT_PATH.lstrip('/')} none bind,ro,create=file 0 0")
    for kv in spec.env:
        lines.append(f"lxc.environment = {_check(kv, 'environment variable')}")
    lines.append(f"lxc.init.cwd = {_check(spec.cwd or '/', 'working directory')}")
    if spec.user:
        uid, _, gid = spec.user.partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            raise ValueError(f"user must be numeric UID[:GID] under lxc: {spec.user!r}")
        lines.append(f"lxc.init.uid = {uid}")
        lines.append(f"lxc.init.gid = {gid or '0'}")
    dirs = cgroup_dirs(spec.id)
    lines += [f"lxc.cgroup.dir.container = {dirs['container']}",
              f"lxc.cgroup.dir.monitor = {dirs['monitor']}",
              f"lxc.cgroup.dir.monitor.pivot = {dirs['pivot']}"]
    cg = _cgroup_lines(spec, cgroup_version)
    if not memsw:
        cg = [x for x in cg if ".memsw." not in x]
    lines += cg
    return "\n".join(lines) + "\n"

