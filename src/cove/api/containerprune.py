"""``POST /containers/prune``: filters (``label``, ``label!``, ``until``) → a predicate for
:meth:`Engine.prune_containers`; answers ``{"ContainersDeleted", "SpaceReclaimed"}``."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from cove.api import parse
from cove.api.common import engine, json_response
from cove.api.render import parse_iso
from cove.errors import InvalidParameter

_FILTERS = ("label", "label!", "until")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_until(value: str, now: float | None = None) -> float:
    """Docker's ``until``: a Unix timestamp, an RFC 3339 time, or a Go duration before now."""
    now = time.time() if now is None else now
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value)
    if parts and "".join(n + u for n, u in parts) == value:
        return now - sum(float(n) * _UNITS[u] for n, u in parts)
    try:
        return parse_iso(value)
    except (ValueError, TypeError) as exc:
        raise InvalidParameter(f"invalid value for until: {value}") from exc


def predicate(f: dict[str, list[str]]) -> Callable[[Any], bool]:
    """Which containers the filters keep (labels all present, none of ``label!``)."""
    cutoffs = [parse_until(v) for v in f.get("until", [])]

    def has(labels: dict[str, str], spec: str) -> bool:
        k, eq, v = spec.partition("=")
        return k in labels and (not eq or labels[k] == v)

    def match(c: Any) -> bool:
        labels = c.config.labels or {}
        if not all(has(labels, s) for s in f.get("label", [])):
            return False
        if any(has(labels, s) for s in f.get("label!", [])):
            return False
        return not cutoffs or (bool(c.created) and parse_iso(c.created) < min(cutoffs))
    return match


async def prune(request: web.Request) -> web.Response:
    match = predicate(parse.filters(request.query.get("filters", ""), _FILTERS))
    gone, freed = await engine(request).prune_containers(match)
    return json_response({"ContainersDeleted": gone or None, "SpaceReclaimed": freed})


routes = [("POST", "/containers/prune", prune)]
