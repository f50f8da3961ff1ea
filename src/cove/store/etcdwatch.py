"""List-then-watch on an etcd key prefix that survives compaction and broken streams.

:class:`WatchState` is the pure state machine: it builds the gateway's
``create_request``, reads each streamed message and says what to do next: deliver
events (and advance the next revision), re-list (the watch was canceled, e.g. with a
``compact_revision``: events were lost), or resume (the stream broke: watch again from
the next revision; if that revision was compacted meanwhile, etcd cancels and we re-list).

:class:`Watcher` runs it on a thread: ``range`` of the prefix → ``on_snapshot(kvs, rev)``
→ stream ``/v3/watch`` from rev+1 → ``on_events(events)``, failing over between the
client's endpoints with a backoff while etcd is unreachable. The stream is read from a
raw socket (chunked transfer decoded here) so that a read timeout never loses data and
``stop()`` takes effect within a fraction of a second.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cove.errors import CoveError
from cove.store.etcd import KV, EtcdClient, b64, kv_from_json, prefix_end

log = logging.getLogger(__name__)

DELIVER, RELIST, RESUME, NOTHING = "deliver", "relist", "resume", "nothing"


@dataclass(frozen=True)
class Event:
    """One change: ``type`` is "put" or "delete"; ``prev`` is the value before (if known)."""

    type: str
    kv: KV
    prev: KV | None = None


@dataclass
class Step:
    """What the state machine wants done after a message."""

    action: str
    events: list[Event] = field(default_factory=list)
    reason: str = ""


def event_from_json(d: dict[str, Any]) -> Event:
    """An :class:`Event` from the gateway JSON (a PUT has no ``type`` field)."""
    kind = "delete" if d.get("type") == "DELETE" else "put"
    prev = kv_from_json(d["prev_kv"]) if d.get("prev_kv") else None
    return Event(kind, kv_from_json(d.get("kv", {})), prev)


class WatchState:
    """Tracks the next revision to watch from and interprets stream messages."""

    def __init__(self, prefix: str, progress_notify: bool = True) -> None:
        self.prefix = prefix
        self.progress_notify = progress_notify
        self.next_rev = 0          # 0 = not listed yet
        self.watch_id: int | None = None

    def listed(self, revision: int) -> None:
        """A snapshot at ``revision`` was taken: watch from the revision after it."""
        self.next_rev = revision + 1
        self.watch_id = None

    def create_request(self) -> dict[str, Any]:
        req: dict[str, Any] = {"key": b64(self.prefix), "range_end": b64(prefix_end(self.prefix)),
                               "start_revision": str(self.next_rev), "prev_kv": True}
        if self.progress_notify:
            req["progress_notify"] = True
        return {"create_request": req}

    def feed(self, msg: dict[str, Any]) -> Step:
        """Interpret one streamed message."""
        if "error" in msg:
            err = msg["error"]
            text = err.get("message", err) if isinstance(err, dict) else err
            return Step(RESUME, reason=f"stream error: {text}")
        res = msg.get("result", msg)
        if res.get("canceled"):
            compact = int(res.get("compact_revision", 0) or 0)
            reason = res.get("cancel_reason") or "watch canceled"
            if compact:
                reason = f"compacted at revision {compact}"
            self.next_rev = 0
            return Step(RELIST, reason=reason)
        if res.get("created"):
            self.watch_id = int(res.get("watch_id", 0) or 0)
            return Step(NOTHING)
        events = [event_from_json(e) for e in res.get("events", [])]
        if events:
            self.next_rev = max(e.kv.mod_revision for e in events) + 1
            return Step(DELIVER, events)
        header_rev = int(res.get("header", {}).get("revision", 0) or 0)
        if header_rev >= self.next_rev:    # progress notify: nothing missed up to here
            self.next_rev = header_rev + 1
        return Step(NOTHING)

    def broken(self, reason: str) -> Step:
        """The stream ended or failed: resume from ``next_rev`` (re-list if never listed)."""
        return Step(RELIST if self.next_rev == 0 else RESUME, reason=reason)


class StreamClosed(Exception):
    """The watch stream ended (server closed, protocol error)."""


class _Stream:
    """One streaming POST on a raw socket; yields newline-delimited JSON messages."""

    def __init__(self, host: str, port: int, path: str, body: dict[str, Any],
                 connect_timeout: float, poll: float = 0.25) -> None:
        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        payload = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n").encode()
        self.sock.sendall(head + payload)
        self.sock.settimeout(poll)
        self.raw = b""
        self.chunked = False
        self.data = b""
        self.last_data = time.monotonic()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def _recv(self, stop: threading.Event) -> bool:
        """Read more bytes into ``raw``; False on a poll timeout."""
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return False
        except OSError as exc:
            raise StreamClosed(str(exc)) from exc
        if not chunk:
            raise StreamClosed("server closed the watch stream")
        self.raw += chunk
        self.last_data = time.monotonic()
        return True

    def read_headers(self, stop: threading.Event, timeout: float) -> None:
        end = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            if stop.is_set():
                raise StreamClosed("stopped")
            if time.monotonic() > end:
                raise StreamClosed("no answer to the watch request")
            self._recv(stop)
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or parts[1] != "200":
            raise StreamClosed(f"watch refused: {lines[0]}")
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "transfer-encoding" and "chunked" in v.lower():
                self.chunked = True

    def _dechunk(self) -> None:
        if not self.chunked:
            self.data += self.raw
            self.raw = b""
            return
        while True:
            nl = self.raw.find(b"\r\n")
            if nl < 0:
                return
            size = int(self.raw[:nl].split(b";")[0] or b"0", 16)
            if size == 0:
                raise StreamClosed("server ended the watch stream")
            if len(self.raw) < nl + 2 + size + 2:
                return
            self.data += self.raw[nl + 2:nl + 2 + size]
            self.raw = self.raw[nl + 2 + size + 2:]

    def messages(self, stop: threading.Event, idle_timeout: float) -> Iterator[dict[str, Any]]:
        """Yield messages until ``stop`` is set (then return) or the stream breaks."""
        while not stop.is_set():
            self._dechunk()
            while b"\n" in self.data:
                line, self.data = self.data.split(b"\n", 1)
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError as exc:
                        raise StreamClosed(f"bad watch message: {line[:100]!r}") from exc
            if stop.is_set():
                return
            if not self._recv(stop) and time.monotonic() - self.last_data > idle_timeout:
                raise StreamClosed(f"watch stream idle for {idle_timeout:.0f}s")


class Watcher:
    """List-then-watch ``prefix`` on a thread, delivering to the callbacks.

    ``on_snapshot(kvs, revision)`` replaces all state (first time, and after every
    re-list); ``on_events(events)`` applies changes in order. Callbacks run on the
    watcher's thread; an exception in one is logged and forces a re-list.
    """

    def __init__(self, client: EtcdClient, prefix: str,
                 on_snapshot: Callable[[list[KV], int], None],
                 on_events: Callable[[list[Event]], None],
                 backoff: float = 0.5, idle_timeout: float = 60.0) -> None:
        self.client = client
        self.state = WatchState(prefix)
        self.on_snapshot = on_snapshot
        self.on_events = on_events
        self.backoff = backoff
        self.idle_timeout = idle_timeout
        self.synced = threading.Event()    # set after the first snapshot was delivered
        self.relists = 0
        self.resumes = 0
        self._stop = threading.Event()
        self._stream: _Stream | None = None
        self._thread = threading.Thread(target=self._run, name=f"cove-watch{prefix}",
                                        daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _relist(self) -> None:
        kvs, rev = self.client.range(self.state.prefix, prefix=True)
        self.on_snapshot(kvs, rev)
        self.state.listed(rev)
        self.relists += 1
        self.synced.set()

    def _run(self) -> None:
        step = Step(RELIST, reason="start")
        while not self._stop.is_set():
            try:
                if step.action == RELIST:
                    log.info("watch %s: re-list (%s)", self.state.prefix, step.reason)
                    self._relist()
                elif step.action == RESUME:
                    self.resumes += 1
                step = self._stream_once()
            except CoveError as exc:            # etcd unreachable while listing
                log.warning("watch %s: %s", self.state.prefix, exc)
                self._stop.wait(self.backoff)
            except Exception as exc:  # noqa: BLE001 - a failing callback: start over
                log.exception("watch %s: callback failed", self.state.prefix)
                step = Step(RELIST, reason=f"callback failed: {exc}")
                self._stop.wait(self.backoff)

    def _stream_once(self) -> Step:
        """Open the stream on the first endpoint that accepts it and follow it."""
        reasons = []
        for host, port in self.client.endpoint_order():
            if self._stop.is_set():
                return Step(NOTHING)
            self.state.watch_id = None
            try:
                stream = _Stream(host, port, self.client.api_prefix + "/watch",
                                 self.state.create_request(), self.client.timeout)
            except OSError as exc:
                reasons.append(f"{host}:{port}: {exc}")
                continue
            self._stream = stream
            try:
                stream.read_headers(self._stop, self.client.timeout)
                for msg in stream.messages(self._stop, self.idle_timeout):
                    step = self.state.feed(msg)
                    if step.action == DELIVER:
                        self.on_events(step.events)
                    elif step.action in (RELIST, RESUME):
                        return step
                return Step(NOTHING)    # stopped
            except StreamClosed as exc:
                reasons.append(f"{host}:{port}: {exc}")
                if self.state.watch_id is not None:
                    break               # it was working: resume from next_rev
            finally:
                stream.close()
                self._stream = None
        self._stop.wait(self.backoff)
        return self.state.broken("; ".join(reasons) or "no endpoint")
