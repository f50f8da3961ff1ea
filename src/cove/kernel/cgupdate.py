"""Change the limits of an existing container cgroup (``docker update``), v1 and v2.

:func:`apply` writes only the values given (None: leave as is), in an order the kernel
accepts (on v1 ``memory.memsw.limit_in_bytes`` may never be below
``memory.limit_in_bytes``), and returns Docker's warnings for what this kernel cannot
do. Values: memory/memory_swap/memory_reservation in bytes (memory_swap 0: no swap,
i.e. equal to memory; -1: unlimited swap), cpu_period/cpu_quota in µs (quota -1:
none), cpu_shares, pids_limit (<= 0: unlimited), blkio_weight (10-1000). Raises OSError.
"""

from __future__ import annotations

import os

from cove.kernel.cgroups import Cgroup

BLKIO_WARNING = ("Your kernel does not support Block I/O weight or the cgroup is not "
                 "mounted. Weight discarded.")


def _write(path: str, value: int | str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)   # (O_TRUNC: as echo >)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _read_int(path: str) -> int:
    with open(path) as f:
        raw = f.read().strip()
    return -1 if raw == "max" else int(raw)


def apply(cg: Cgroup, memory: int | None = None, memory_swap: int | None = None,
          memory_reservation: int | None = None, cpu_shares: int | None = None,
          cpu_period: int | None = None, cpu_quota: int | None = None,
          pids_limit: int | None = None, blkio_weight: int | None = None) -> list[str]:
    """Write the given limits into ``cg``; returns warnings."""
    if cg.version == 2:
        return _apply_v2(cg.dirs[""], memory, memory_swap, memory_reservation, cpu_shares,
                         cpu_period, cpu_quota, pids_limit, blkio_weight)
    warnings: list[str] = []
    d = cg.dirs
    mem = d.get("memory")
    if mem and (memory is not None or memory_swap is not None):
        limit_f = os.path.join(mem, "memory.limit_in_bytes")
        memsw_f = os.path.join(mem, "memory.memsw.limit_in_bytes")
        limit = memory if memory is not None else _read_int(limit_f)
        has_memsw = os.path.exists(memsw_f)
        swap = memory_swap if memory_swap is not None else 0
        memsw = -1 if swap < 0 or limit <= 0 else (swap if swap > 0 else limit)
        if memory is not None and has_memsw and (
                memsw < 0 or memory > _read_int(memsw_f)):
            _write(memsw_f, memsw)           # raise the ceiling first
            _write(limit_f, limit if limit > 0 else -1)
        else:
            if memory is not None:
                _write(limit_f, limit if limit > 0 else -1)
            if has_memsw:
                _write(memsw_f, memsw)
    if mem and memory_reservation is not None:
        _write(os.path.join(mem, "memory.soft_limit_in_bytes"),
               memory_reservation if memory_reservation > 0 else -1)
    cpu = d.get("cpu")
    if cpu:
        if cpu_shares is not None:
            _write(os.path.join(cpu, "cpu.shares"), cpu_shares or 1024)
        if cpu_period is not None:
            _write(os.path.join(cpu, "cpu.cfs_period_us"), cpu_period or 100_000)
        if cpu_quota is not None:
            _write(os.path.join(cpu, "cpu.cfs_quota_us"), cpu_quota if cpu_quota > 0 else -1)
    if pids_limit is not None and "pids" in d:
        _write(os.path.join(d["pids"], "pids.max"), pids_limit if pids_limit > 0 else "max")
    if blkio_weight:
        path = os.path.join(d.get("blkio", ""), "blkio.weight")
        if "blkio" in d and os.path.exists(path):
            _write(path, blkio_weight)
        else:
            warnings.append(BLKIO_WARNING)
    return warnings


def _apply_v2(g: str, memory, memory_swap, memory_reservation, cpu_shares, cpu_period,
              cpu_quota, pids_limit, blkio_weight) -> list[str]:
    warnings: list[str] = []
    if memory is not None:
        _write(os.path.join(g, "memory.max"), memory if memory > 0 else "max")
    if memory_swap is not None or memory is not None:
        path = os.path.join(g, "memory.swap.max")
        swap = memory_swap or 0
        if os.path.exists(path):
            limit = memory if memory is not None else _read_int(os.path.join(g, "memory.max"))
            _write(path, "max" if swap < 0 or limit <= 0 else max(0, swap - limit))
    if memory_reservation is not None:
        _write(os.path.join(g, "memory.low"),
               memory_reservation if memory_reservation > 0 else 0)
    if cpu_shares is not None:
        weight = 1 + ((max(2, cpu_shares or 1024) - 2) * 9999) // 262142
        _write(os.path.join(g, "cpu.weight"), max(1, min(10000, weight)))
    if cpu_period is not None or cpu_quota is not None:
        with open(os.path.join(g, "cpu.max")) as f:
            cur_quota, _, cur_period = f.read().split()
        quota = cur_quota if cpu_quota is None else (cpu_quota if cpu_quota > 0 else "max")
        period = cur_period if cpu_period is None else (cpu_period or 100_000)
        _write(os.path.join(g, "cpu.max"), f"{quota} {period}")
    if pids_limit is not None:
        _write(os.path.join(g, "pids.max"), pids_limit if pids_limit > 0 else "max")
    if blkio_weight:
        path = os.path.join(g, "io.weight")
        if os.path.exists(path):
            _write(path, f"default {blkio_weight}")
        else:
            warnings.append(BLKIO_WARNING)
    return warnings
