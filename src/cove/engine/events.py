"""The event bus behind ``GET /events``: Docker API 1.41 event messages.

The engine publishes container events (create, start, die, kill, stop, destroy, rename,
pause, unpause, attach, exec_create, exec_start, exec_die) and network events (create,
connect, disconnect, destroy) with the thin helpers :func:`container`, :func:`exec_event`
and :func:`network`. A message looks like Docker's::

    {"status": "start", "id": <cid>, "from": "busybox",          # legacy, containers only
     "Type": "container", "Action": "start",
     "Actor": {"ID": <cid>, "Attributes": {"image": "busybox", "name": "web", ...labels}},
     "scope": "local", "time": 1700000000, "timeNano": 1700000000123456789}

The bus keeps the last :data:`CAPACITY` messages in memory (for ``since``/``until``) and
fans new ones out to subscribers. :meth:`EventBus.publish` may be called from any thread;
a subscriber's queue is fed on its own event loop. :func:`match` applies Docker's
``filters`` (type, event, container, network, image, label, scope).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

CAPACITY = 1000
NANO = 1_000_000_000


class Subscription:
    """New events for one ``GET /events`` client (an asyncio queue on its loop)."""

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop) -> None:
        self.bus = bus
        self.loop = loop
        self.queue: asyncio.Queue[dict] = asyncio.Queue()

    def push(self, ev: dict) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, ev)
        except RuntimeError:          # the loop is closed: the client is gone
            self.bus.unsubscribe(self)

    def close(self) -> None:
        self.bus.unsubscribe(self)


class EventBus:
    """A ring buffer of recent events plus live subscribers."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._ring: deque[dict] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []

    def publish(self, type_: str, action: str, actor_id: str,
                attributes: dict[str, str] | None = None, legacy_from: str | None = None
                ) -> dict:
        """Record and fan out one event; ``legacy_from`` (containers: the image) adds the
        pre-1.22 ``status``/``id``/``from`` keys. Returns the message."""
        ns = time.time_ns()
        ev: dict[str, Any] = {}
        if legacy_from is not None:
            ev.update({"status": action, "id": actor_id, "from": legacy_from})
        ev.update({"Type": type_, "Action": action,
                   "Actor": {"ID": actor_id, "Attributes": dict(attributes or {})},
                   "scope": "local", "time": ns // NANO, "timeNano": ns})
        with self._lock:
            # time never goes backwards in the ring (since/until rely on the order)
            if self._ring and self._ring[-1]["timeNano"] >= ns:
                ns = self._ring[-1]["timeNano"] + 1
                ev["timeNano"], ev["time"] = ns, ns // NANO
            self._ring.append(ev)
            subs = list(self._subs)
        for s in subs:
            s.push(ev)
        return ev

    def subscribe(self, since_ns: int | None = None, until_ns: int | None = None
                  ) -> tuple[list[dict], Subscription | None]:
        """Past events in ``[since, until]`` and, unless ``until`` has passed, a
        subscription for new ones (taken atomically: nothing is lost or repeated)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            past = [] if since_ns is None else [
                e for e in self._ring if e["timeNano"] >= since_ns
                and (until_ns is None or e["timeNano"] <= until_ns)]
            if until_ns is not None and until_ns <= time.time_ns():
                return past, None
            sub = Subscription(self, loop)
            self._subs.append(sub)
        return past, sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def recent(self) -> list[dict]:
        with self._lock:
            return list(self._ring)


# ---------------------------------------------------------------- publishing helpers
def _bus(eng: Any) -> EventBus | None:
    return getattr(eng, "events", None)


def container(eng: Any, c: Any, action: str, **extra: str) -> None:
    """A container event: Attributes = labels + image + name (+ ``extra``)."""
    bus = _bus(eng)
    if bus is None:
        return
    image = c.config.image
    attrs = {**(c.config.labels or {}), "image": image, "name": c.name,
             **{k: str(v) for k, v in extra.items()}}
    bus.publish("container", action, c.id, attrs, legacy_from=image)


def exec_event(eng: Any, c: Any, action: str, rec: Any, **extra: str) -> None:
    """exec_create/exec_start (Action ``"exec_start: sh -c ..."``) and exec_die."""
    if action != "exec_die":
        action = f"{action}: {' '.join(rec.cmd)}"
    container(eng, c, action, execID=rec.id, **extra)


def network(eng: Any, net: Any, action: str, container_id: str = "") -> None:
    """A network event: Attributes name, type (and container for connect/disconnect)."""
    bus = _bus(eng)
    if bus is None:
        return
    attrs = {"name": net.name, "type": net.driver}
    if container_id:
        attrs["container"] = container_id
    bus.publish("network", action, net.id, attrs)


def endpoints(eng: Any, c: Any, action: str) -> None:
    """connect/disconnect events for every network the container is attached to."""
    if _bus(eng) is None:
        return
    try:
        pairs = eng.container_endpoints(c)
    except Exception:  # noqa: BLE001 - events never break the lifecycle
        return
    for net, _ep in pairs:
        network(eng, net, action, c.id)


# ---------------------------------------------------------------- filters
def _fuzzy(values: list[str], *candidates: str) -> bool:
    return any(c and (c == v or c.startswith(v)) for v in values for c in candidates)


def _strip_tag(ref: str) -> str:
    name, _, tag = ref.rpartition(":")
    return name if name and "/" not in tag else ref


def match(ev: dict, filters: dict[str, list[str]]) -> bool:
    """Docker's event filter (daemon/events/filter.go): every given key must match."""
    actor = ev.get("Actor") or {}
    attrs = actor.get("Attributes") or {}
    aid, typ, action = actor.get("ID", ""), ev.get("Type", ""), ev.get("Action", "")
    f = filters
    if "type" in f and typ not in f["type"]:
        return False
    if "scope" in f and ev.get("scope") not in f["scope"]:
        return False
    if "event" in f:
        fuzzy = any(v in ("exec_create", "exec_start", "health_status") for v in f["event"])
        if not any(action == v or (fuzzy and action.startswith(v)) for v in f["event"]):
            return False
    for key in ("container", "network"):     # by id (prefix) or name, any event type
        if key in f and not _fuzzy(f[key], aid, attrs.get("name", "")):
            return False
    if "image" in f:
        image = attrs.get("name" if typ == "image" else "image", "")
        cands = {aid, image, _strip_tag(aid), _strip_tag(image)}
        if not any(v in cands for v in f["image"]):
            return False
    if "label" in f:
        for want in f["label"]:
            k, sep, v = want.partition("=")
            if k not in attrs or (sep and attrs[k] != v):
                return False
    return True


def select(events: Iterable[dict], filters: dict[str, list[str]]) -> list[dict]:
    return [e for e in events if match(e, filters)]
