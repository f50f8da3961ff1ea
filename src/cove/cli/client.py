"""A tiny Docker Engine API client over a unix socket (cove.cli.http + socket only).

One connection per request keeps it simple; unix-socket connects cost microseconds.
"""

from __future__ import annotations

import struct
import sys

from cove.cli import jsonfast as json
from cove.cli.http import Response, connect, send_request

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, BinaryIO

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(s: str, safe: str = "") -> str:
    """Percent-encode for a URL path segment or query value (urllib.parse's rules)."""
    ok = _SAFE | frozenset(safe.encode())
    return "".join(chr(b) if b in ok else f"%{b:02X}" for b in str(s).encode())


def urlencode(params: dict[str, Any]) -> str:
    return "&".join(f"{quote(str(k))}={quote(str(v))}" for k, v in params.items())

API_PREFIX = "/v1.41"
DEFAULT_HOST = "unix:///run/cove/cove.sock"


class CLIError(Exception):
    """An error to print (as is) on stderr before exiting with ``code``."""

    def __init__(self, message: str, code: int = 1, status: int = 0) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


class DaemonError(CLIError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"Error response from daemon: {message}", 1, status)
        self.daemon_message = message


def q(ref: str) -> str:
    """Quote a path segment (names, ids, image refs with '/' and ':')."""
    return quote(ref, safe="")


class Client:
    def __init__(self, host: str = DEFAULT_HOST) -> None:
        self.host = host

    def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                body: Any = None, raw: BinaryIO | bytes | None = None,
                headers: dict[str, str] | None = None,
                ok: Iterable[int] = ()) -> Response:
        """Send a request; return the response (status < 400 or in ``ok``)."""
        url = API_PREFIX + path
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        hdrs = dict(headers or {})
        data: Any = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        elif raw is not None:
            data = raw
        if not self.host.startswith(("unix://", "tcp://", "http://")):
            raise CLIError(f"unsupported host {self.host!r}: use unix:///path or tcp://host:port")
        try:
            sock = connect(self.host)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise CLIError(f"Cannot connect to the cove daemon at {self.host}. "
                           "Is the daemon running?") from exc
        except OSError as exc:
            raise CLIError(f"error during connect: {exc}") from exc
        try:
            resp = send_request(sock, method, url, hdrs, data)
        except OSError as exc:
            sock.close()
            raise CLIError(f"error during connect: {exc}") from exc
        if resp.status >= 400 and resp.status not in ok:
            payload = resp.read()
            resp.close()
            try:
                message = json.loads(payload)["message"]
            except (ValueError, KeyError, TypeError):
                message = payload.decode(errors="replace").strip() or resp.reason
            raise DaemonError(resp.status, message)
        return resp

    def json(self, method: str, path: str, params: dict[str, Any] | None = None,
             body: Any = None) -> Any:
        resp = self.request(method, path, params, body)
        data = resp.read()
        resp.close()
        return json.loads(data) if data.strip() else None

    def call(self, method: str, path: str, params: dict[str, Any] | None = None,
             body: Any = None) -> int:
        """A request whose body does not matter; returns the status."""
        resp = self.request(method, path, params, body)
        resp.read()
        resp.close()
        return resp.status


def demux(resp: Any, out: BinaryIO | None = None, err: BinaryIO | None = None) -> None:
    """Copy a multiplexed stream to ``out``/``err`` (stream 1/2; 3 = daemon error)."""
    out = out or sys.stdout.buffer
    err = err or sys.stderr.buffer
    while True:
        header = _read_exact(resp, 8)
        if len(header) < 8:
            return
        stream, size = struct.unpack(">BxxxI", header)
        payload = _read_exact(resp, size)
        target = err if stream in (2, 3) else out
        target.write(payload)
        target.flush()
        if len(payload) < size:
            return


def copy_raw(resp: Any, out: BinaryIO | None = None) -> None:
    """Copy a raw (tty) stream as it arrives."""
    out = out or sys.stdout.buffer
    while True:
        chunk = resp.read1(1 << 16) if hasattr(resp, "read1") else resp.read(1 << 16)
        if not chunk:
            return
        out.write(chunk)
        out.flush()


def _read_exact(resp: Any, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = resp.read(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf
