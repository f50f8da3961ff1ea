"""``GET /events``: the engine's event bus as a stream of JSON lines (Docker API 1.41).

``since``/``until`` are Unix timestamps (``seconds[.nanoseconds]``, as the docker CLI and
docker-py send them). Past events come from the bus's ring buffer; without ``until`` the
stream stays open for new events, with ``until`` in the future it ends at that time.
``filters``: type, event, container, network, image, label, scope (see
:func:`cove.engine.events.match`).
"""

from __future__ import annotations

import asyncio
import json
import re
import time

from aiohttp import web

from cove.api import parse
from cove.api.common import engine
from cove.engine import events
from cove.errors import InvalidParameter

FILTER_KEYS = ("type", "event", "container", "network", "image", "label", "scope",
               "daemon", "volume", "plugin", "node", "service", "secret", "config")
_TS = re.compile(r"^-?\d+(\.\d{1,9})?$")
POLL = 1.0          # seconds between checks that the client is still there


def timestamp_ns(raw: str, what: str) -> int | None:
    """``"1700000000"`` / ``"1700000000.5"`` → nanoseconds; "" → None."""
    if not raw:
        return None
    if not _TS.match(raw):
        raise InvalidParameter(f"invalid value for {what}: {raw}")
    sec, _, frac = raw.partition(".")
    return int(sec) * events.NANO + int((frac + "000000000")[:9])


def _line(ev: dict) -> bytes:
    return json.dumps(ev, separators=(",", ":")).encode() + b"\n"


async def stream(request: web.Request) -> web.StreamResponse:
    q = request.query
    since = timestamp_ns(q.get("since", ""), "since")
    until = timestamp_ns(q.get("until", ""), "until")
    if since is not None and until is not None and until < since:
        raise InvalidParameter(f"`since` time ({q['since']}) cannot be after `until` time"
                               f" ({q['until']})")
    filters = parse.filters(q.get("filters", ""), FILTER_KEYS)
    past, sub = engine(request).events.subscribe(since, until)
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    try:
        await resp.prepare(request)
        for ev in events.select(past, filters):
            await resp.write(_line(ev))
        while sub is not None:
            left = None if until is None else (until - time.time_ns()) / events.NANO
            if left is not None and left <= 0:
                break
            try:
                ev = await asyncio.wait_for(sub.queue.get(), min(POLL, left or POLL))
            except TimeoutError:
                tr = request.transport
                if tr is None or tr.is_closing():
                    break
                continue
            if until is not None and ev["timeNano"] > until:
                break
            if events.match(ev, filters):
                await resp.write(_line(ev))
    finally:
        if sub is not None:
            sub.close()
    await resp.write_eof()
    return resp


routes = [
    ("GET", "/events", stream),
]
