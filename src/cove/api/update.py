"""``POST /containers/{id}/update``, and the create/inspect side of what it changes.

:func:`create_fields` reads HostConfig.RestartPolicy, the resource keys ``update`` also
takes (MemorySwap, MemoryReservation, CpuPeriod, CpuQuota, BlkioWeight) and
Config.Healthcheck into ContainerConfig keyword arguments; :func:`render_host` and
:func:`render_config` give them back in inspect. Validation with Docker's messages lives
in cove.engine.restart, cove.engine.health and cove.engine.update.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cove.api.common import engine, json_response, read_json
from cove.engine import health, restart
from cove.engine import update as engupdate
from cove.engine.model import Container
from cove.errors import InvalidParameter

# HostConfig key -> update request key: Docker's name of each field (memory_swap: MemorySwap)
RESOURCES = {"".join(part.capitalize() for part in field.split("_")): field
             for field in engupdate.FIELDS}
_CREATE_ONLY = ("MemorySwap", "MemoryReservation", "CpuPeriod", "CpuQuota", "BlkioWeight")


def _ints(body: dict[str, Any], keys: tuple[str, ...] | list[str]) -> dict[str, int]:
    out = {}
    for key in keys:
        v = body.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidParameter(f"invalid {key}: must be an integer")
        out[RESOURCES[key]] = v
    return out


def create_fields(b: dict[str, Any], hc: dict[str, Any]) -> dict[str, Any]:
    """Config/HostConfig of ``POST /containers/create`` → ContainerConfig kwargs."""
    res = _ints(hc, _CREATE_ONLY)
    engupdate.check_values({**res, **_ints(hc, ("Memory", "NanoCpus"))})
    auto_remove = hc.get("AutoRemove") is True
    return {**res, "restart_policy": restart.validate(hc.get("RestartPolicy"), auto_remove),
            "healthcheck": health.validate(b.get("Healthcheck"))}


def update_body(body: Any) -> tuple[dict[str, int], dict[str, Any] | None]:
    """The update body (API 1.41: Resources + RestartPolicy) → (resources, policy)."""
    if not isinstance(body, dict):
        raise InvalidParameter("invalid body: must be a JSON object")
    res = _ints(body, list(RESOURCES))
    policy = body.get("RestartPolicy")
    if policy is not None and not isinstance(policy, dict):
        raise InvalidParameter("invalid RestartPolicy: must be an object")
    for key in ("CpusetCpus", "CpusetMems"):
        if body.get(key):
            raise InvalidParameter(f"updating {key} is not supported by cove")
    return res, policy


def render_host(c: Container) -> dict[str, Any]:
    """The HostConfig keys of inspect this module owns."""
    cfg = c.config
    return {
        "RestartPolicy": restart.render(cfg.restart_policy),
        "MemorySwap": cfg.memory_swap or cfg.memory or 0,
        "MemoryReservation": cfg.memory_reservation, "CpuPeriod": cfg.cpu_period,
        "CpuQuota": cfg.cpu_quota, "BlkioWeight": cfg.blkio_weight,
    }


def render_config(c: Container) -> dict[str, Any]:
    """Config.Healthcheck, when one was given."""
    return {"Healthcheck": dict(c.config.healthcheck)} if c.config.healthcheck else {}


def render_state(c: Container) -> dict[str, Any]:
    """State.Health, once a healthcheck has run (Docker: absent without one)."""
    return {"Health": c.health} if c.health else {}


async def update(request: web.Request) -> web.Response:
    res, policy = update_body(await read_json(request, required=True))
    warnings = await engine(request).update_container(request.match_info["id"], res, policy)
    return json_response({"Warnings": warnings or []})


routes = [("POST", "/containers/{id}/update", update)]
