"""HostConfig resources and security settings in the API, and the stats route.

:func:`host_fields` turns HostConfig's Binds, Tmpfs, ReadonlyRootfs, Init, Privileged,
Memory, NanoCpus, CpuShares and PidsLimit into ContainerConfig keyword arguments (400 on
bad types); :func:`render_host` gives them back for inspect; ``GET
/containers/{id}/stats`` answers Docker's stats JSON (``stream=false``: one object, with
``precpu_stats`` sampled half a second earlier unless ``one-shot``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from aiohttp import web

from cove.api import parse
from cove.api.common import engine, json_response
from cove.engine.model import Container
from cove.errors import InvalidParameter
from cove.kernel import procfs

ZERO_TIME = "0001-01-01T00:00:00Z"
SAMPLE_GAP = 0.5


def _int(hc: dict, key: str) -> int:
    v = hc.get(key)
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidParameter(f"invalid HostConfig.{key}: must be an integer")
    return v


def _flag(hc: dict, key: str) -> bool:
    v = hc.get(key)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise InvalidParameter(f"invalid HostConfig.{key}: must be a boolean")
    return v


def host_fields(hc: dict[str, Any]) -> dict[str, Any]:
    """HostConfig → ContainerConfig keyword arguments (types checked; values are
    validated by the engine, see cove.engine.hostconfig)."""
    binds = hc.get("Binds")
    if binds is not None and (not isinstance(binds, list)
                              or not all(isinstance(b, str) for b in binds)):
        raise InvalidParameter("invalid HostConfig.Binds: must be a list of strings")
    tmpfs = hc.get("Tmpfs")
    if tmpfs is not None and (not isinstance(tmpfs, dict)
                              or not all(isinstance(v, str) for v in tmpfs.values())):
        raise InvalidParameter("invalid HostConfig.Tmpfs: must be an object of strings")
    binds = list(binds or [])
    tmpfs = dict(tmpfs or {})
    for m in _mounts(hc):
        ro = ":ro" if m.get("ReadOnly") else ""
        if m["Type"] == "tmpfs":
            tmpfs[m["Target"]] = ""
        else:
            src = m.get("Source") or ""
            if not src and m["Type"] == "volume":   # an anonymous volume, named as Docker
                src = secrets.token_hex(32)
            binds.append(f"{src}:{m['Target']}{ro}")
    pids = hc.get("PidsLimit")
    if pids is not None and (isinstance(pids, bool) or not isinstance(pids, int)):
        raise InvalidParameter("invalid HostConfig.PidsLimit: must be an integer")
    return {
        "binds": binds, "tmpfs": tmpfs,
        "read_only": _flag(hc, "ReadonlyRootfs"), "init": _flag(hc, "Init"),
        "privileged": _flag(hc, "Privileged"), "memory": _int(hc, "Memory"),
        "nano_cpus": _int(hc, "NanoCpus"), "cpu_shares": _int(hc, "CpuShares"),
        "pids_limit": max(0, pids or 0),
    }


def _mounts(hc: dict[str, Any]) -> list[dict[str, Any]]:
    """HostConfig.Mounts of type bind, volume and tmpfs (as -v / --tmpfs)."""
    mounts = hc.get("Mounts")
    if mounts is None:
        return []
    if not isinstance(mounts, list) or not all(isinstance(m, dict) for m in mounts):
        raise InvalidParameter("invalid HostConfig.Mounts: must be a list of objects")
    for m in mounts:
        if m.get("Type") not in ("bind", "volume", "tmpfs"):
            raise InvalidParameter(f"mount type {m.get('Type')!r} is not supported")
        if not isinstance(m.get("Target"), str) or not m["Target"]:
            raise InvalidParameter("invalid mount config: Target is required")
        if m["Type"] == "bind" and not isinstance(m.get("Source"), str):
            raise InvalidParameter("invalid mount config for type \"bind\": Source is "
                                   "required")
    return mounts


def render_mounts(c: Container) -> list[dict[str, Any]]:
    """inspect's ``Mounts`` for the host-path binds (named volumes: their own module)."""
    out = []
    for b in c.config.binds:
        parts = b.split(":")
        if len(parts) < 2 or not parts[0].startswith("/"):
            continue
        modes = parts[2] if len(parts) > 2 else ""
        out.append({"Type": "bind", "Source": parts[0], "Destination": parts[1],
                    "Mode": modes, "RW": "ro" not in modes.split(","),
                    "Propagation": "rprivate"})
    return out


def render_host(c: Container) -> dict[str, Any]:
    """The HostConfig keys of inspect this module owns."""
    cfg = c.config
    return {
        "Binds": list(cfg.binds) or None, "Tmpfs": dict(cfg.tmpfs) or None,
        "ReadonlyRootfs": cfg.read_only, "Init": cfg.init or None,
        "Privileged": cfg.privileged, "Memory": cfg.memory, "NanoCpus": cfg.nano_cpus,
        "CpuShares": cfg.cpu_shares, "PidsLimit": cfg.pids_limit or None,
        "MemorySwap": cfg.memory or 0, "MemorySwappiness": None,
    }


def _cpu(s: dict[str, Any]) -> dict[str, Any]:
    if "cpu_usage" not in s:
        return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                              "usage_in_usermode": 0}, "throttling_data": {
            "periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    return {
        "cpu_usage": {"total_usage": s["cpu_usage"], "usage_in_kernelmode": s["cpu_system"],
                      "usage_in_usermode": s["cpu_user"]},
        "system_cpu_usage": s["system_cpu_usage"], "online_cpus": s["online_cpus"],
        "throttling_data": {"periods": 0, "throttled_periods": s["throttled_periods"],
                            "throttled_time": s["throttled_time"]},
    }


def stats_json(cur: dict[str, Any], pre: dict[str, Any] | None) -> dict[str, Any]:
    """Docker's stats object from engine samples (``pre`` None: zero precpu)."""
    running = "cpu_usage" in cur
    limit = cur.get("memory_limit", 0)
    total = procfs.mem_total()
    if not limit or (total and limit > total):
        limit = total
    memory: dict[str, Any] = {}
    if running:
        memory = {"usage": cur["memory_usage"], "max_usage": cur["memory_max_usage"],
                  "limit": limit, "stats": {"cache": cur["memory_cache"],
                                            "total_inactive_file": 0}}
    return {
        "read": cur["read"] if running else ZERO_TIME,
        "preread": pre["read"] if pre and running else ZERO_TIME,
        "pids_stats": {"current": cur["pids_current"], "limit": cur["pids_limit"] or None}
        if running else {},
        "blkio_stats": {k: None for k in (
            "io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
            "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
            "io_time_recursive", "sectors_recursive")},
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": _cpu(cur), "precpu_stats": _cpu(pre or {}),
        "memory_stats": memory, "name": "/" + cur["name"], "id": cur["id"],
        "networks": {},  # per-interface counters are not collected yet
    }


async def stats(request: web.Request) -> web.StreamResponse:
    eng = engine(request)
    ref = request.match_info["id"]
    stream = parse.bool_value(request.query, "stream", True)
    one_shot = parse.bool_value(request.query, "one-shot")
    if one_shot and stream:
        raise InvalidParameter("cannot have stream=true and one-shot=true")
    pre = None if one_shot else await eng.container_stats(ref)
    if not stream:
        if pre is not None and "cpu_usage" in pre:
            await asyncio.sleep(SAMPLE_GAP)
        cur = await eng.container_stats(ref)
        return json_response(stats_json(cur, pre))
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    while True:
        await asyncio.sleep(1.0)
        cur = await eng.container_stats(ref)
        await resp.write((json.dumps(stats_json(cur, pre)) + "\n").encode())
        if "cpu_usage" not in cur:
            break
        pre = cur
    await resp.write_eof()
    return resp


async def pause(request: web.Request) -> web.Response:
    await engine(request).pause_container(request.match_info["id"])
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.Response:
    await engine(request).unpause_container(request.match_info["id"])
    return web.Response(status=204)


routes = [
    ("GET", "/containers/{id}/stats", stats),
    ("POST", "/containers/{id}/pause", pause),
    ("POST", "/containers/{id}/unpause", unpause),
]
