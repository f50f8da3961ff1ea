"""A small synchronous etcd v3 client over etcd's HTTP/JSON gateway (``/v3/...``).

No grpc/protobuf: each call is one POST of JSON on ``http.client``. Several endpoints
with failover (a connection error or a gRPC "unavailable" moves on to the next one),
a per-request timeout, kv range/put/deleterange/txn, and leases (grant, keepalive,
revoke, timetolive). :class:`LeaseKeeper` keeps a lease alive on a thread and calls a
fencing callback once the lease is lost. The watch lives in :mod:`cove.store.etcdwatch`.

The gateway's JSON leaves defaults out, sends int64 as strings and keys/values as
base64; :func:`b64`, :func:`unb64` and :func:`kv_from_json` handle that. Errors become
:mod:`cove.errors` (an unreachable cluster is :class:`Unavailable`).
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cove.errors import CoveError, InvalidParameter, NotFound, SystemFailure, Unavailable

log = logging.getLogger(__name__)

# gRPC status codes as the gateway reports them
_GRPC_INVALID, _GRPC_NOT_FOUND, _GRPC_DEADLINE, _GRPC_UNAVAILABLE = 3, 5, 4, 14


def b64(data: str | bytes) -> str:
    """Base64 text of ``data`` (str is UTF-8 encoded), as the gateway wants keys/values."""
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode("ascii")


def unb64(text: str | None) -> bytes:
    """Inverse of :func:`b64`; a missing field (the gateway omits empty ones) is b''."""
    return base64.b64decode(text) if text else b""


def prefix_end(prefix: str | bytes) -> bytes:
    """The ``range_end`` that makes a range cover every key starting with ``prefix``."""
    p = bytearray(prefix.encode() if isinstance(prefix, str) else prefix)
    while p:
        if p[-1] < 0xFF:
            p[-1] += 1
            return bytes(p)
        p.pop()
    return b"\0"  # every key


@dataclass(frozen=True)
class KV:
    """One key-value pair with its revisions (``lease`` 0 = none)."""

    key: str
    value: bytes
    create_revision: int = 0
    mod_revision: int = 0
    version: int = 0
    lease: int = 0

    def json(self) -> Any:
        """The value decoded as JSON."""
        return json.loads(self.value)


def kv_from_json(d: dict[str, Any]) -> KV:
    """A :class:`KV` from the gateway's JSON (base64 fields, int64 as strings, defaults
    left out)."""
    return KV(key=unb64(d.get("key")).decode(), value=unb64(d.get("value")),
              create_revision=int(d.get("create_revision", 0)),
              mod_revision=int(d.get("mod_revision", 0)),
              version=int(d.get("version", 0)), lease=int(d.get("lease", 0)))


def _encode_value(value: str | bytes | dict | list) -> str:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return b64(value)


# -- txn building blocks (plain dicts in the gateway's shape) ------------------------------

def cmp_version(key: str, version: int, result: str = "EQUAL") -> dict[str, Any]:
    """Compare the key's version (0 = absent)."""
    return {"key": b64(key), "target": "VERSION", "result": result, "version": str(version)}


def cmp_mod(key: str, revision: int, result: str = "EQUAL") -> dict[str, Any]:
    """Compare the key's mod_revision (0 = absent)."""
    return {"key": b64(key), "target": "MOD", "result": result, "mod_revision": str(revision)}


def cmp_value(key: str, value: str | bytes | dict, result: str = "EQUAL") -> dict[str, Any]:
    """Compare the key's value."""
    return {"key": b64(key), "target": "VALUE", "result": result, "value": _encode_value(value)}


def op_put(key: str, value: str | bytes | dict | list, lease: int = 0) -> dict[str, Any]:
    """A put inside a txn."""
    req: dict[str, Any] = {"key": b64(key), "value": _encode_value(value)}
    if lease:
        req["lease"] = str(lease)
    return {"request_put": req}


def op_get(key: str, prefix: bool = False) -> dict[str, Any]:
    """A range inside a txn (one key, or a prefix)."""
    req: dict[str, Any] = {"key": b64(key)}
    if prefix:
        req["range_end"] = b64(prefix_end(key))
    return {"request_range": req}


def op_delete(key: str, prefix: bool = False) -> dict[str, Any]:
    """A deleterange inside a txn (one key, or a prefix)."""
    req: dict[str, Any] = {"key": b64(key)}
    if prefix:
        req["range_end"] = b64(prefix_end(key))
    return {"request_delete_range": req}


@dataclass
class TxnResult:
    """Outcome of a txn: ``succeeded`` and, per op, the kvs of its range results."""

    succeeded: bool
    revision: int
    ranges: list[list[KV]]


def error_from_reply(status: int, body: dict[str, Any], what: str) -> CoveError:
    """Translate a gateway error body (``{"error", "code", "message"}``) to cove.errors."""
    code = int(body.get("code", 0) or 0)
    msg = body.get("message") or body.get("error") or f"HTTP {status}"
    text = f"{what}: {msg}"
    if code == _GRPC_NOT_FOUND:
        return NotFound(text)
    if code == _GRPC_INVALID:
        return InvalidParameter(text)
    if code in (_GRPC_UNAVAILABLE, _GRPC_DEADLINE) or status == 503:
        return Unavailable(text)
    return SystemFailure(text)


def parse_endpoints(spec: str | list[str]) -> list[tuple[str, int]]:
    """``etcd://h:p,h:p`` / ``http://h:p`` / ``h:p`` (or a list) → [(host, port)]."""
    items = spec if isinstance(spec, list) else [spec]
    out: list[tuple[str, int]] = []
    for item in items:
        scheme = ""
        if "://" in item:
            scheme, _, item = item.partition("://")
        if scheme not in ("", "etcd", "http"):
            raise InvalidParameter(f"invalid cluster store {scheme}://{item}: only etcd:// "
                                   "and http:// are supported")
        for hp in filter(None, (x.strip() for x in item.split(","))):
            u = urlsplit("//" + hp)
            if not u.hostname:
                raise InvalidParameter(f"invalid cluster store endpoint {hp!r}")
            try:
                port = u.port or 2379
            except ValueError as exc:
                raise InvalidParameter(f"invalid cluster store endpoint {hp!r}") from exc
            out.append((u.hostname, port))
    if not out:
        raise InvalidParameter("no cluster store endpoint given")
    return out


class EtcdClient:
    """Sync etcd v3 client. Thread-safe: each call opens its own short connection.

    ``timeout`` bounds each request on each endpoint; a call fails with Unavailable
    after every endpoint failed.
    """

    def __init__(self, endpoints: str | list[str], timeout: float = 2.0,
                 api_prefix: str = "/v3") -> None:
        self.endpoints = parse_endpoints(endpoints)
        self.timeout = timeout
        self.api_prefix = api_prefix
        self._lock = threading.Lock()
        self._current = 0   # index of the endpoint that answered last

    # -- transport
    def endpoint_order(self) -> list[tuple[str, int]]:
        """Endpoints to try, starting with the one that answered last."""
        with self._lock:
            i = self._current
        return self.endpoints[i:] + self.endpoints[:i]

    def _mark_good(self, ep: tuple[str, int]) -> None:
        with self._lock:
            self._current = self.endpoints.index(ep)

    def call(self, path: str, body: dict[str, Any], what: str,
             timeout: float | None = None) -> dict[str, Any]:
        """POST ``body`` to ``/v3<path>`` on the first endpoint that answers."""
        payload = json.dumps(body).encode()
        errors: list[str] = []
        for ep in self.endpoint_order():
            conn = http.client.HTTPConnection(ep[0], ep[1], timeout=timeout or self.timeout)
            try:
                conn.request("POST", self.api_prefix + path, payload,
                             {"Content-Type": "application/json"})
                resp = conn.getresponse()
                raw = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as exc:
                errors.append(f"{ep[0]}:{ep[1]}: {exc or type(exc).__name__}")
                continue
            finally:
                conn.close()
            try:
                data = json.loads(raw) if raw else {}
            except ValueError:
                data = {"message": raw[:200].decode(errors="replace")}
            if status >= 400 or "error" in data and "code" in data:
                err = error_from_reply(status, data, what)
                if isinstance(err, Unavailable):
                    errors.append(f"{ep[0]}:{ep[1]}: {err.message}")
                    continue
                raise err
            self._mark_good(ep)
            return data
        raise Unavailable(f"{what}: etcd cluster unreachable ({'; '.join(errors)})")

    # -- kv
    def get(self, key: str) -> KV | None:
        """The key's KV, or None."""
        kvs, _ = self.range(key)
        return kvs[0] if kvs else None

    def range(self, key: str, prefix: bool = False, keys_only: bool = False,
              revision: int = 0) -> tuple[list[KV], int]:
        """Keys equal to ``key`` (or under it, ``prefix``); returns (kvs, header revision)."""
        body: dict[str, Any] = {"key": b64(key)}
        if prefix:
            body["range_end"] = b64(prefix_end(key))
        if keys_only:
            body["keys_only"] = True
        if revision:
            body["revision"] = str(revision)
        data = self.call("/kv/range", body, f"cannot read {key} from etcd")
        rev = int(data.get("header", {}).get("revision", 0))
        return [kv_from_json(k) for k in data.get("kvs", [])], rev

    def put(self, key: str, value: str | bytes | dict | list, lease: int = 0) -> int:
        """Write ``key``; returns the new revision."""
        body: dict[str, Any] = {"key": b64(key), "value": _encode_value(value)}
        if lease:
            body["lease"] = str(lease)
        data = self.call("/kv/put", body, f"cannot write {key} to etcd")
        return int(data.get("header", {}).get("revision", 0))

    def delete(self, key: str, prefix: bool = False) -> int:
        """Delete ``key`` (or every key under it); returns how many were deleted."""
        body: dict[str, Any] = {"key": b64(key)}
        if prefix:
            body["range_end"] = b64(prefix_end(key))
        data = self.call("/kv/deleterange", body, f"cannot delete {key} from etcd")
        return int(data.get("deleted", 0))

    def txn(self, compare: list[dict], success: list[dict],
            failure: list[dict] | None = None) -> TxnResult:
        """One atomic transaction (compares are ANDed)."""
        body = {"compare": compare, "success": success, "failure": failure or []}
        data = self.call("/kv/txn", body, "etcd transaction failed")
        ranges = []
        for r in data.get("responses", []):
            rr = r.get("response_range")
            ranges.append([kv_from_json(k) for k in rr.get("kvs", [])] if rr else [])
        return TxnResult(bool(data.get("succeeded", False)),
                         int(data.get("header", {}).get("revision", 0)), ranges)

    def create(self, key: str, value: str | bytes | dict | list, lease: int = 0) -> KV | None:
        """Create ``key`` if absent. Returns None on success, else the existing KV."""
        res = self.txn([cmp_version(key, 0)], [op_put(key, value, lease)], [op_get(key)])
        if res.succeeded:
            return None
        return res.ranges[0][0] if res.ranges and res.ranges[0] else None

    def compact(self, revision: int, physical: bool = True) -> None:
        """Compact history up to ``revision``."""
        self.call("/kv/compaction", {"revision": str(revision), "physical": physical},
                  f"cannot compact etcd at revision {revision}", timeout=max(self.timeout, 5))

    # -- leases
    def lease_grant(self, ttl: int) -> int:
        """A new lease of ``ttl`` seconds; returns its id."""
        data = self.call("/lease/grant", {"TTL": str(ttl)}, "cannot grant an etcd lease")
        return int(data["ID"])

    def lease_keepalive(self, lease: int) -> int:
        """Refresh the lease once; returns the remaining TTL (<= 0: the lease is gone)."""
        data = self.call("/lease/keepalive", {"ID": str(lease)},
                         f"cannot keep etcd lease {lease:x} alive")
        result = data.get("result", data)
        return int(result.get("TTL", 0))

    def lease_revoke(self, lease: int) -> None:
        """Revoke the lease (its keys are deleted). A lease already gone is fine."""
        try:
            self.call("/lease/revoke", {"ID": str(lease)}, f"cannot revoke etcd lease {lease:x}")
        except NotFound:
            pass

    def lease_ttl(self, lease: int, keys: bool = False) -> tuple[int, list[str]]:
        """(remaining TTL, attached keys); TTL -1 when the lease does not exist."""
        data = self.call("/lease/timetolive", {"ID": str(lease), "keys": keys},
                         f"cannot read etcd lease {lease:x}")
        return int(data.get("TTL", -1)), [unb64(k).decode() for k in data.get("keys", [])]

    def status(self) -> dict[str, Any]:
        """The answering member's status (version, leader, revision)."""
        return self.call("/maintenance/status", {}, "cannot read etcd status")


class LeaseKeeper:
    """Keeps a lease alive every ``ttl/3`` on a thread; fences when it is lost.

    The local deadline is the send time of the last successful keepalive plus the TTL,
    which falls before the server-side expiry. Once passed (or once etcd says the lease
    is gone), ``on_lost`` is called once and the keeper stops.
    """

    def __init__(self, client: EtcdClient, lease: int, ttl: int,
                 on_lost: Callable[[], None] | None = None,
                 fence_unreachable: bool = True) -> None:
        self.client = client
        self.lease = lease
        self.ttl = ttl
        self.on_lost = on_lost
        # False: a deadline passed while etcd was unreachable is not a loss by itself
        # (nobody can expire or reap us then); only etcd saying "gone" is
        self.fence_unreachable = fence_unreachable
        self.overdue = False
        self.deadline = time.monotonic() + ttl
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"cove-lease-{lease:x}",
                                        daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop refreshing (does not revoke)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.client.timeout + 1)

    def _run(self) -> None:
        interval = max(self.ttl / 3.0, 0.2)
        while not self._stop.is_set():
            sent = time.monotonic()
            if sent >= self.deadline:
                if self.fence_unreachable:
                    self._fire()
                    return
                if not self.overdue:
                    log.warning("lease %x: local deadline passed while etcd is unreachable",
                                self.lease)
                self.overdue = True
            try:
                left = self.client.lease_keepalive(self.lease)
            except NotFound:
                left = 0
            except CoveError as exc:
                log.warning("lease %x keepalive failed: %s", self.lease, exc)
                left = None
            if self._stop.is_set():
                return
            if left is not None:
                if left <= 0 or (self.fence_unreachable and time.monotonic() >= self.deadline):
                    self._fire()
                    return
                self.deadline = sent + left
                self.overdue = False
            wait = interval if self.overdue else max(self.deadline - time.monotonic(), 0.05)
            self._stop.wait(min(interval, wait))

    def _fire(self) -> None:
        self.lost.set()
        if self.on_lost is not None:
            try:
                self.on_lost()
            except Exception:  # noqa: BLE001 - a fencing callback must not kill the thread
                log.exception("lease %x: fencing callback failed", self.lease)

