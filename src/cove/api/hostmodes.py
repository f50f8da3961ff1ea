"""HostConfig's namespace modes and remaining create options, in the API.

:func:`host_fields` turns PidMode, UTSMode, CgroupnsMode, Isolation, GroupAdd,
DeviceCgroupRules, CpusetCpus, CpusetMems, VolumesFrom and VolumeDriver into
ContainerConfig keyword arguments, with Docker's messages for bad values (400);
:func:`render_host` gives them back for inspect and :func:`render_volume_mounts` lists
the named and anonymous volumes (and what ``VolumesFrom`` brought) in inspect's
``Mounts``. Values that need the engine (does the container of ``container:<id>`` exist,
are the CPUs there) are checked by :mod:`cove.engine.hostmodes`.
"""

from __future__ import annotations

import re
from typing import Any

from cove.api import parse
from cove.engine.hostmodes import parse_cpuset, parse_volumes_from
from cove.engine.model import Container
from cove.errors import InvalidParameter
from cove.kernel import cgroups

DEVICE_RULE_RE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def _str(hc: dict, key: str) -> str:
    return parse._str(hc, key, "HostConfig.")


def _strlist(hc: dict, key: str) -> list[str]:
    return parse._strlist(hc, key, "HostConfig.")


def host_fields(hc: dict[str, Any], hostname: str = "") -> dict[str, Any]:
    """HostConfig → ContainerConfig keyword arguments (syntax checked here)."""
    pid = _str(hc, "PidMode")
    if pid not in ("", "host") and not (pid.startswith("container:") and len(pid) > 10):
        raise InvalidParameter(f"invalid PID mode: {pid}")
    uts = _str(hc, "UTSMode")
    if uts not in ("", "host"):
        raise InvalidParameter(f"invalid UTS mode: {uts}")
    if uts == "host" and hostname:
        raise InvalidParameter("conflicting options: hostname and the UTS mode")
    cgns = _str(hc, "CgroupnsMode")
    if cgns not in ("", "private", "host"):
        raise InvalidParameter(f"invalid cgroup namespace mode: {cgns}")
    isolation = _str(hc, "Isolation")
    if isolation not in ("", "default"):
        raise InvalidParameter(f"Invalid isolation: \"{isolation}\" - linux only supports "
                               "'default'")
    groups = _strlist(hc, "GroupAdd")
    for g in groups:
        if not g or ":" in g or "\n" in g:
            raise InvalidParameter(f"invalid group: {g!r}")
    rules = _strlist(hc, "DeviceCgroupRules")
    for rule in rules:
        if not DEVICE_RULE_RE.match(rule):
            raise InvalidParameter(f"invalid device cgroup format '{rule}'")
    cpus, mems = _str(hc, "CpusetCpus"), _str(hc, "CpusetMems")
    for key, value in (("cpus", cpus), ("mems", mems)):
        if value:
            try:
                parse_cpuset(value)
            except ValueError:
                raise InvalidParameter(f"Invalid value {value} for cpuset {key}") from None
    volumes_from = _strlist(hc, "VolumesFrom")
    for spec in volumes_from:
        parse_volumes_from(spec)
    return {
        "pid_mode": pid, "uts_mode": uts, "cgroupns_mode": cgns or _default_cgroupns(),
        "isolation": isolation, "group_add": groups, "device_cgroup_rules": rules,
        "cpuset_cpus": cpus, "cpuset_mems": mems, "volumes_from": volumes_from,
        "volume_driver": _str(hc, "VolumeDriver"),
    }


def _default_cgroupns() -> str:
    """Docker's default: private on cgroup v2, host on v1."""
    return "private" if cgroups.version() == 2 else "host"


def render_host(c: Container) -> dict[str, Any]:
    """The HostConfig keys of inspect this module owns."""
    cfg = c.config
    return {
        "PidMode": cfg.pid_mode, "UTSMode": cfg.uts_mode,
        "CgroupnsMode": cfg.cgroupns_mode or "host", "Isolation": cfg.isolation,
        "GroupAdd": list(cfg.group_add) or None,
        "DeviceCgroupRules": list(cfg.device_cgroup_rules) or None,
        "CpusetCpus": cfg.cpuset_cpus, "CpusetMems": cfg.cpuset_mems,
        "VolumesFrom": list(cfg.volumes_from) or None, "VolumeDriver": cfg.volume_driver,
    }


def render_volume_mounts(c: Container, root: str) -> list[dict[str, Any]]:
    """inspect ``Mounts`` entries for named and anonymous volumes ("name:/path[:mode]"),
    and for the binds and volumes inherited with VolumesFrom."""
    cfg = c.config
    out = []
    for spec in [*cfg.binds, *cfg.anon_volumes, *cfg.inherited_binds]:
        parts = spec.split(":")
        if len(parts) < 2:
            continue
        src, dst = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else ""
        rw = "ro" not in mode.split(",")
        if src.startswith("/"):
            if spec in cfg.inherited_binds:
                out.append({"Type": "bind", "Source": src, "Destination": dst,
                            "Mode": mode, "RW": rw, "Propagation": "rprivate"})
            continue
        out.append({"Type": "volume", "Name": src,
                    "Source": f"{root}/volumes/{src}/_data", "Destination": dst,
                    "Driver": "local", "Mode": mode or "z", "RW": rw, "Propagation": ""})
    return out
