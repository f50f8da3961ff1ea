"""HostConfig's security and resource settings → validated values and ContainerSpec fields.

``-v HOSTDIR:CDIR[:ro]`` binds, ``--tmpfs``, ``--read-only``, ``--init``,
``--privileged``, ``--memory``, ``--cpus``, ``--cpu-shares``, ``--pids-limit``.
:func:`validate` is pure apart from checking that bind sources exist; every error is an
:class:`InvalidParameter` naming the bad value, raised before anything is made.
"""

from __future__ import annotations

import os
from typing import Any

from cove.engine.model import ContainerConfig
from cove.errors import InvalidParameter
from cove.runtime import security
from cove.runtime.base import Mount

MIN_MEMORY = 6 * 1024 * 1024
_BIND_MODES = {"ro", "rw", "z", "Z", "nocopy", "private", "rprivate", "shared", "rshared",
               "slave", "rslave"}


def parse_bind(spec: str) -> Mount:
    """``"/host:/ctr[:ro]"`` → Mount. Named volumes (a source that is not an absolute
    path) are not supported."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise InvalidParameter(f"invalid volume specification: '{spec}'")
    src, dst = parts[0], parts[1]
    modes = set(parts[2].split(",")) if len(parts) == 3 else set()
    if not modes <= _BIND_MODES or {"ro", "rw"} <= modes:
        raise InvalidParameter(f"invalid mode: {parts[2]} in volume specification '{spec}'")
    if not os.path.isabs(src):
        raise InvalidParameter(f"invalid volume specification: '{spec}': only absolute "
                               "host paths are supported (named volumes are not)")
    if not os.path.isabs(dst):
        raise InvalidParameter(f"invalid volume specification: '{spec}': mount path must "
                               "be absolute")
    if os.path.normpath(dst) == "/":
        raise InvalidParameter(f"invalid volume specification: '{spec}': destination "
                               "can't be '/'")
    return Mount(os.path.normpath(src), os.path.normpath(dst), readonly="ro" in modes)


def validate(cfg: ContainerConfig, ncpu: int | None = None) -> list[Mount]:
    """Check the HostConfig settings of ``cfg``; return the bind mounts."""
    binds = [parse_bind(b) for b in cfg.binds]
    seen: set[str] = set()
    for m in binds:
        if m.destination in seen:
            raise InvalidParameter(f"Duplicate mount point: {m.destination}")
        seen.add(m.destination)
        if not os.path.exists(m.source):
            raise InvalidParameter(f"invalid mount config for type \"bind\": bind source "
                                   f"path does not exist: {m.source}")
    for path, opts in cfg.tmpfs.items():
        if not os.path.isabs(path) or os.path.normpath(path) == "/":
            raise InvalidParameter(f"invalid mount config for type \"tmpfs\": invalid "
                                   f"mount path {path!r}: must be absolute and not '/'")
        if os.path.normpath(path) in seen:
            raise InvalidParameter(f"Duplicate mount point: {path}")
        try:
            security.tmpfs_options(opts)
        except ValueError as exc:
            raise InvalidParameter(f"invalid tmpfs options for {path}: {exc}") from exc
    if cfg.memory < 0 or cfg.nano_cpus < 0 or cfg.cpu_shares < 0:
        raise InvalidParameter("resource limits cannot be negative")
    if 0 < cfg.memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    ncpu = ncpu or os.cpu_count() or 1
    if cfg.nano_cpus and not 10_000_000 <= cfg.nano_cpus <= ncpu * 1_000_000_000:
        raise InvalidParameter(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                               f"{ncpu} CPUs available")
    if cfg.init and not security.find_init():
        raise InvalidParameter("--init: no init binary (tini-static) installed")
    return binds


def spec_fields(cfg: ContainerConfig) -> dict[str, Any]:
    """ContainerSpec keyword arguments for the HostConfig settings (binds excluded)."""
    return {
        "privileged": cfg.privileged, "readonly_rootfs": cfg.read_only,
        "tmpfs": {os.path.normpath(k): v for k, v in cfg.tmpfs.items()},
        "init_path": security.find_init() if cfg.init else "",
        "memory": cfg.memory, "nano_cpus": cfg.nano_cpus, "cpu_shares": cfg.cpu_shares,
        "pids_limit": max(0, cfg.pids_limit),
    }
