"""``docker update``: change a container's resources and restart policy.

:func:`merge` is pure: it checks the request against the container's settings with
Docker's messages and returns the new ContainerConfig values. :func:`update` applies them
to a running container's cgroup through the driver (restoring the old limits if that
fails), then stores them; a stopped container gets them at its next start
(:func:`apply_extra` writes the limits the driver's own cgroup setup does not know).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from cove.engine import restart
from cove.engine.hostconfig import MIN_MEMORY
from cove.errors import Conflict, CoveError, InvalidParameter, Unsupported

# the ContainerConfig fields an update may change (the request's keys)
FIELDS = ("memory", "memory_swap", "memory_reservation", "cpu_shares", "cpu_period",
          "cpu_quota", "nano_cpus", "pids_limit", "blkio_weight")
# fields the driver's cgroup creation does not apply (written after start)
EXTRA = ("memory_swap", "memory_reservation", "cpu_period", "cpu_quota", "blkio_weight")


def check_values(r: dict[str, int]) -> None:
    """Docker's per-value checks (create and update)."""
    mem = r.get("memory", 0)
    swap = r.get("memory_swap", 0)
    resv = r.get("memory_reservation", 0)
    if mem < 0 or resv < 0 or r.get("cpu_shares", 0) < 0 or r.get("nano_cpus", 0) < 0:
        raise InvalidParameter("resource limits cannot be negative")
    if 0 < mem < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if mem > 0 and swap > 0 and swap < mem:
        raise InvalidParameter("Minimum memoryswap limit should be larger than memory "
                               "limit, see usage")
    if mem > 0 and resv > 0 and mem < resv:
        raise InvalidParameter("Minimum memory limit can not be less than memory "
                               "reservation limit, see usage")
    if 0 < resv < MIN_MEMORY:
        raise InvalidParameter("Minimum memory reservation allowed is 6MB")
    period = r.get("cpu_period", 0)
    if period and not 1000 <= period <= 1_000_000:
        raise InvalidParameter("CPU cfs period can not be less than 1ms (i.e. 1000) or "
                               "larger than 1s (i.e. 1000000)")
    quota = r.get("cpu_quota", 0)
    if 0 < quota < 1000:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if r.get("nano_cpus") and period:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both "
                               "be set")
    if r.get("nano_cpus") and quota:
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Quota cannot both "
                               "be set")
    weight = r.get("blkio_weight", 0)
    if weight and not 10 <= weight <= 1000:
        raise InvalidParameter("Range of blkio weight is from 10 to 1000")


def merge(cfg: Any, req: dict[str, int], policy: dict[str, Any] | None
          ) -> dict[str, Any]:
    """The ContainerConfig fields after the update (Docker's UpdateContainer rules:
    zero means unchanged; pids_limit present means set, <= 0 unlimited)."""
    check_values(req)
    cur = cfg
    if req.get("nano_cpus") and cur.cpu_period > 0:
        raise Conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has "
                       "already been set")
    if req.get("nano_cpus") and cur.cpu_quota > 0:
        raise Conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has "
                       "already been set")
    if (req.get("cpu_period") or 0) > 0 and cur.nano_cpus > 0:
        raise Conflict("Conflicting options: CPU Period cannot be updated as NanoCPUs has "
                       "already been set")
    if (req.get("cpu_quota") or 0) > 0 and cur.nano_cpus > 0:
        raise Conflict("Conflicting options: CPU Quota cannot be updated as NanoCPUs has "
                       "already been set")
    out: dict[str, Any] = {}
    for key in FIELDS:
        if key == "pids_limit":
            if key in req:
                out[key] = max(0, req[key])
            continue
        if req.get(key):
            out[key] = req[key]
    mem = out.get("memory", 0)
    if mem and cur.memory_swap > 0 and mem > cur.memory_swap and not req.get("memory_swap"):
        raise Conflict("Memory limit should be smaller than already set memoryswap limit, "
                       "update the memoryswap at the same time")
    new_mem = out.get("memory", cur.memory)
    new_resv = out.get("memory_reservation", cur.memory_reservation)
    if new_mem and new_resv and new_mem < new_resv:
        raise InvalidParameter("Minimum memory limit can not be less than memory "
                               "reservation limit, see usage")
    if policy is not None and policy.get("Name"):
        if cur.auto_remove and policy.get("Name") != "no":
            raise Conflict("Restart policy cannot be updated because AutoRemove is enabled "
                           "for the container")
        out["restart_policy"] = restart.validate(policy)
    return out


def cgroup_values(cfg: Any, changed: dict[str, Any]) -> dict[str, int]:
    """Keyword arguments of ``cove.kernel.cgupdate.apply`` for the changed fields."""
    new = dataclasses.replace(cfg, **changed)
    out: dict[str, int] = {}
    if "memory" in changed or "memory_swap" in changed:
        out["memory"] = new.memory
        out["memory_swap"] = new.memory_swap
    for name in ("memory_reservation", "cpu_shares", "pids_limit", "blkio_weight",
                 "cpu_period", "cpu_quota"):
        if name in changed:
            out[name] = getattr(new, name)
    if "nano_cpus" in changed:
        out["cpu_period"] = 100_000
        out["cpu_quota"] = max(1000, new.nano_cpus * 100_000 // 1_000_000_000)
    return out


async def update(eng: Any, ref: str, req: dict[str, int],
                 policy: dict[str, Any] | None) -> list[str]:
    """Validate, apply to the running cgroup (undone on failure), store."""
    c = eng.get_container(ref)
    if c.status in ("removing", "dead"):
        raise Conflict(f"Cannot update container {c.id}: container is marked for removal "
                       "and cannot be \"update\"")
    changed = merge(c.config, req, policy)
    warnings: list[str] = []
    limits = cgroup_values(c.config, {k: v for k, v in changed.items()
                                      if k != "restart_policy"})
    async with eng._lock(c.id):
        if limits and c.status == "running":
            fn = getattr(eng.drivers.get(c.driver), "update", None)
            if fn is None:
                raise Unsupported(f"runtime {c.driver} cannot update the resources of a "
                                  "running container")
            try:
                warnings = await asyncio.to_thread(fn, c.id, limits)
            except CoveError:
                old = cgroup_values(c.config, {k: getattr(c.config, k) for k in changed
                                               if k != "restart_policy"})
                try:
                    await asyncio.to_thread(fn, c.id, old)
                except CoveError:
                    pass
                raise
        for k, v in changed.items():
            setattr(c.config, k, v)
        eng._save(c)
    from cove.engine import events
    events.container(eng, c, "update")
    return warnings


def extra_limits(cfg: Any) -> dict[str, int]:
    """The stored limits beyond the spec's basic four, as cgupdate.apply keywords."""
    wanted = {k: getattr(cfg, k) for k in EXTRA if getattr(cfg, k)}
    return cgroup_values(cfg, wanted) if wanted else {}


async def apply_extra(eng: Any, c: Any) -> None:
    """After a start: the stored limits the driver's cgroup setup does not write
    (drivers with ``applies_extra_limits`` wrote them before the process ran)."""
    drv = eng.drivers.get(c.driver)
    fn = getattr(drv, "update", None)
    limits = extra_limits(c.config)
    if not limits or fn is None or getattr(drv, "applies_extra_limits", False):
        return
    try:
        await asyncio.to_thread(fn, c.id, limits)
    except Conflict:          # the process has already exited: nothing to limit
        pass
