"""The engine's side of the namespace modes and remaining create options (issue 6).

:func:`check_create` validates what needs the engine (the container of
``--pid container:<id>`` and of ``--volumes-from`` exist, the requested CPUs and memory
nodes exist, the volume driver is ``local``) and copies the mounts of the
``--volumes-from`` containers into ``inherited_binds`` (Docker copies them at create).
:func:`spec_fields` gives the ContainerSpec values at start: the pid namespace to join,
UTS host, a private cgroup namespace, ``--group-add``, cpuset, device rules and the log
driver. :func:`check_logs` refuses ``logs`` of a container that logs to ``none``.
"""

from __future__ import annotations

import os
import re
from typing import Any

from cove.engine.model import Container, ContainerConfig
from cove.engine.volumes import volume_names_in_binds
from cove.errors import Conflict, InvalidParameter, NotFound, Unsupported
from cove.kernel.cgroups import available_cpuset

CPUSET_RE = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


def parse_cpuset(value: str) -> set[int]:
    """``"0-2,4"`` → {0, 1, 2, 4}; ValueError on bad syntax."""
    if not CPUSET_RE.match(value):
        raise ValueError(value)
    out: set[int] = set()
    for part in value.split(","):
        lo, _, hi = part.partition("-")
        a, b = int(lo), int(hi or lo)
        if b < a:
            raise ValueError(value)
        out.update(range(a, b + 1))
    return out


def parse_volumes_from(spec: str) -> tuple[str, str]:
    """``"name[:ro|:rw]"`` → (name, mode) with Docker's errors."""
    name, sep, mode = spec.partition(":")
    if not name or (sep and mode not in ("ro", "rw", "z", "Z", "ro,z", "rw,z", "ro,Z",
                                         "rw,Z")):
        raise InvalidParameter(f"invalid mode: {mode}" if name else
                               f"invalid volumes-from specification: '{spec}'")
    return name, mode



def _cpuset_ok(value: str, available: str, what: str) -> None:
    if not value:
        return
    try:
        ok = parse_cpuset(value) <= parse_cpuset(available)
    except ValueError:
        ok = False
    if not ok:
        raise InvalidParameter(f"Requested {what} are not available - requested {value}, "
                               f"available: {available}")


def _target(spec: str) -> str:
    parts = spec.split(":")
    return os.path.normpath(parts[1]) if len(parts) > 1 else ""


def inherited(eng: Any, cfg: ContainerConfig) -> list[str]:
    """The binds and volumes of the ``--volumes-from`` containers, mode applied
    (``ro``/``rw`` overrides, none keeps each mount's own), own mounts winning."""
    taken = {_target(b) for b in cfg.binds} | {os.path.normpath(p) for p in cfg.tmpfs}
    out: list[str] = []
    for spec in cfg.volumes_from:
        ref, mode = parse_volumes_from(spec)
        src = eng.get_container(ref)            # NotFound: No such container: ref
        for b in [*src.config.binds, *src.config.anon_volumes,
                  *src.config.inherited_binds]:
            parts = b.split(":")
            if len(parts) < 2 or _target(b) in taken:
                continue
            ro = "ro" in mode.split(",") if mode else (
                len(parts) > 2 and "ro" in parts[2].split(","))
            taken.add(_target(b))
            out.append(f"{parts[0]}:{parts[1]}" + (":ro" if ro else ""))
    return out


def check_create(eng: Any, cfg: ContainerConfig) -> None:
    """Validate against the engine's state; fills ``cfg.inherited_binds``."""
    if cfg.pid_mode.startswith("container:"):
        eng.get_container(cfg.pid_mode[len("container:"):])
    if cfg.cpuset_cpus or cfg.cpuset_mems:
        cpus, mems = available_cpuset()
        _cpuset_ok(cfg.cpuset_cpus, cpus, "CPUs")
        _cpuset_ok(cfg.cpuset_mems, mems, "memory nodes")
    if cfg.volume_driver not in ("", "local") and (
            cfg.volumes or volume_names_in_binds(cfg.binds)):
        d = cfg.volume_driver
        raise NotFound(f"error looking up volume plugin {d}: plugin \"{d}\" not found")
    cfg.inherited_binds = inherited(eng, cfg)


def _pid_ns(eng: Any, pid_mode: str) -> str:
    if pid_mode in ("", "host"):
        return pid_mode
    other: Container = eng.get_container(pid_mode[len("container:"):])
    if other.status != "running" or not other.pid:
        raise Conflict(f"cannot join PID of a non running container: {other.id}")
    return f"/proc/{other.pid}/ns/pid"


def spec_fields(eng: Any, c: Container) -> dict[str, Any]:
    """ContainerSpec keyword arguments for these options (at start)."""
    cfg = c.config
    return {
        "pid_mode": _pid_ns(eng, cfg.pid_mode), "uts_host": cfg.uts_mode == "host",
        "cgroupns_private": cfg.cgroupns_mode == "private",
        "group_add": list(cfg.group_add), "cpuset_cpus": cfg.cpuset_cpus,
        "cpuset_mems": cfg.cpuset_mems, "device_rules": list(cfg.device_cgroup_rules),
        "log_driver": (cfg.log_config or {}).get("Type") or "json-file",
    }


def check_logs(c: Container) -> None:
    """Docker's answer to ``logs`` when the log driver keeps nothing (501)."""
    if ((c.config.log_config or {}).get("Type") or "json-file") == "none":
        raise Unsupported("configured logging driver does not support reading")
