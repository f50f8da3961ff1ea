"""Issue 6 at the HTTP layer (real server on a unix socket, fake engine): stdin of a
hijacked attach reaches the engine's sink, the detach keys end the connection, the
resize routes reach the engine, and bad detach keys are refused before anything."""

from __future__ import annotations

import json
import socket
import time

from tests.api.test_socket_cli import Daemon, _raw, sock_path  # noqa: F401 - fixture


def _create(path: str, body: dict) -> str:
    data = json.dumps(body).encode()
    s = _raw(path, b"POST /containers/create HTTP/1.1\r\nHost: x\r\n"
             b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(data) + data)
    cid = json.loads(s.recv(4096).split(b"\r\n\r\n", 1)[1])["Id"]
    s.close()
    return cid


def _request(path: str, line: str) -> bytes:
    s = _raw(path, f"{line} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".encode())
    s.settimeout(5)
    out = s.recv(4096)
    s.close()
    return out


def _attach(path: str, cid: str, query: str) -> socket.socket:
    a = _raw(path, f"POST /containers/{cid}/attach?{query} HTTP/1.1\r\nHost: x\r\n"
             "Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".encode())
    a.settimeout(5)
    head = b""
    while b"\r\n\r\n" not in head:
        head += a.recv(4096)
    assert head.startswith(b"HTTP/1.1 101")
    return a


def _eof(a: socket.socket) -> bool:
    try:
        while a.recv(4096):
            pass
    except TimeoutError:
        return False
    return True


def test_stdin_relayed_until_the_detach_keys(sock_path):  # noqa: F811
    with Daemon(sock_path) as d:
        cid = _create(sock_path, {"Image": "busybox", "Cmd": ["sleep", "60"], "Tty": True,
                                  "OpenStdin": True})
        assert _request(sock_path, f"POST /containers/{cid}/start").startswith(
            b"HTTP/1.1 204")
        a = _attach(sock_path, cid, "stream=1&stdin=1&stdout=1&detachKeys=ctrl-p,ctrl-q")
        a.sendall(b"ab\x10c")
        time.sleep(0.2)
        a.sendall(b"\x10\x11ignored")
        assert _eof(a)                                   # detached: the server closed
        a.close()
        assert bytes(d.engine.stdin[cid]) == b"ab\x10c"
        assert d.engine.get_container(cid).status == "running"


def test_without_tty_the_keys_are_plain_input(sock_path):  # noqa: F811
    with Daemon(sock_path) as d:
        cid = _create(sock_path, {"Image": "busybox", "Cmd": ["sleep", "60"],
                                  "OpenStdin": True})
        _request(sock_path, f"POST /containers/{cid}/start")
        a = _attach(sock_path, cid, "stream=1&stdin=1&stdout=1")
        a.sendall(b"x\x10\x11y")
        time.sleep(0.3)
        assert bytes(d.engine.stdin[cid]) == b"x\x10\x11y"
        _request(sock_path, f"POST /containers/{cid}/kill")   # ends the output stream
        assert _eof(a)
        a.close()


def test_resize_routes_and_bad_keys(sock_path):  # noqa: F811
    with Daemon(sock_path) as d:
        cid = _create(sock_path, {"Image": "busybox", "Cmd": ["sleep", "60"], "Tty": True})
        assert _request(sock_path, f"POST /containers/{cid}/resize?h=1&w=2").startswith(
            b"HTTP/1.1 409")                             # not running
        _request(sock_path, f"POST /containers/{cid}/start")
        assert _request(sock_path, f"POST /v1.41/containers/{cid}/resize?h=24&w=80"
                        ).startswith(b"HTTP/1.1 200")
        assert ("resize", cid, 24, 80) in d.engine.calls
        assert _request(sock_path, f"POST /containers/{cid}/resize?h=-1&w=80"
                        ).startswith(b"HTTP/1.1 400")
        bad = _request(sock_path, f"POST /containers/{cid}/attach?stdin=1&detachKeys=ctrl-1")
        assert bad.startswith(b"HTTP/1.1 400") and b"Invalid escape keys" in bad


def test_serve_tcp_also_answers_on_loopback(sock_path):  # noqa: F811
    import asyncio

    import pytest

    from cove.api.server import make_app, serve, serve_tcp
    from cove.errors import Unavailable
    from tests.api.fake_engine import FakeEngine

    async def main() -> bytes:
        runner = await serve(make_app(FakeEngine()), sock_path)
        try:
            with pytest.raises(Unavailable):
                await serve_tcp(runner, "no-port")
            await serve_tcp(runner, "127.0.0.1:0")
            port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = await reader.read()
            writer.close()
            return data
        finally:
            await runner.cleanup()

    data = asyncio.run(main())
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"OK")
