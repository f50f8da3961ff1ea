"""A minimal HTTP/1.1 client over a stream socket, for the CLI.

``http.client`` pulls in the email package and costs ~30 ms of start-up, and even the
``socket`` module costs ~13 ms (its enums); the CLI only needs to send one request per
connection and read a response framed by Content-Length, chunked encoding or the end of
the connection (a hijacked stream), so it uses ``_socket`` with a small read buffer.
"""

from __future__ import annotations

import _socket
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO


class HTTPError(OSError):
    """The peer broke the protocol."""


class _Reader:
    """Buffered reads from a socket: ``readline``, ``read1``, ``read``."""

    def __init__(self, sock: _socket.socket) -> None:
        self._sock = sock
        self._buf = b""

    def _fill(self) -> bool:
        data = self._sock.recv(65536)
        self._buf += data
        return bool(data)

    def readline(self, limit: int = 65537) -> bytes:
        while b"\n" not in self._buf and len(self._buf) < limit:
            if not self._fill():
                break
        i = self._buf.find(b"\n")
        n = min(limit, i + 1 if i >= 0 else len(self._buf))
        line, self._buf = self._buf[:n], self._buf[n:]
        return line

    def read1(self, n: int) -> bytes:
        if not self._buf:
            self._fill()
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def read(self, n: int) -> bytes:
        while len(self._buf) < n and self._fill():
            pass
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def close(self) -> None:
        self._buf = b""


class Response:
    """A response whose body is read lazily from the socket."""

    def __init__(self, sock: _socket.socket) -> None:
        self._sock = sock
        self._file = _Reader(sock)
        line = self._file.readline(65537)
        parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/"):
            raise HTTPError(f"bad status line: {line!r}")
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""
        self.headers: dict[str, str] = {}
        while True:
            h = self._file.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            self.headers[k.strip().lower()] = v.strip()
        te = self.headers.get("transfer-encoding", "").lower()
        self._chunked = "chunked" in te
        cl = self.headers.get("content-length")
        self._left: int | None = int(cl) if cl is not None and not self._chunked else None
        if self.status in (204, 304) or self.status < 200:
            self._left = 0 if self.status != 101 else None
        self._chunk_left = 0
        self._eof = False

    def getheader(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def read1(self, n: int = 65536) -> bytes:
        """Up to ``n`` bytes as soon as some are there; b"" at the end."""
        if self._eof:
            return b""
        if self._chunked:
            if self._chunk_left == 0:
                size_line = self._file.readline(65537)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self._file.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    self._eof = True
                    return b""
                self._chunk_left = size
            data = self._file.read1(min(n, self._chunk_left))
            if not data:
                self._eof = True
                return b""
            self._chunk_left -= len(data)
            if self._chunk_left == 0:
                self._file.readline(3)
            return data
        if self._left is not None:
            if self._left == 0:
                self._eof = True
                return b""
            n = min(n, self._left)
        data = self._file.read1(n)
        if not data:
            self._eof = True
        elif self._left is not None:
            self._left -= len(data)
        return data

    def read(self, n: int = -1) -> bytes:
        """Exactly ``n`` bytes (fewer only at the end), or everything when ``n < 0``."""
        out = bytearray()
        while n < 0 or len(out) < n:
            chunk = self.read1(65536 if n < 0 else n - len(out))
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def close(self) -> None:
        self._file.close()
        self._sock.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(host: str, timeout: float | None = None) -> _socket.socket:
    """A connected socket for ``unix:///path`` or ``tcp://host:port``."""
    if host.startswith("unix://"):
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        addr: Any = host[len("unix://"):]
    else:
        hostport = host.split("://", 1)[1].rstrip("/")
        h, _, p = hostport.rpartition(":")
        fam = _socket.AF_INET6 if ":" in h else _socket.AF_INET
        s = _socket.socket(fam, _socket.SOCK_STREAM)
        addr = (h.strip("[]"), int(p))
    try:
        s.settimeout(timeout)
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def send_request(sock: _socket.socket, method: str, url: str, headers: dict[str, str],
                 body: bytes | BinaryIO | None = None) -> Response:
    """Write one request (a file body goes chunked) and read the response head."""
    hdrs = {"Host": "cove", "User-Agent": "cove-cli", **headers}
    chunked = False
    if isinstance(body, bytes | bytearray):
        hdrs["Content-Length"] = str(len(body))
    elif body is not None:
        try:
            hdrs["Content-Length"] = str(os.fstat(body.fileno()).st_size - body.tell())
        except (OSError, AttributeError, ValueError):
            hdrs["Transfer-Encoding"] = "chunked"
            chunked = True
    head = f"{method} {url} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    sock.sendall(head.encode("latin-1"))
    if isinstance(body, bytes | bytearray):
        sock.sendall(body)
    elif body is not None:
        while True:
            chunk = body.read(1 << 16)
            if not chunk:
                break
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
        if chunked:
            sock.sendall(b"0\r\n\r\n")
    return Response(sock)
