"""The real server on a temp unix socket (serve()), driven by raw sockets and by the real
``cove`` CLI (as a subprocess) — backed by the fake engine."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from cove.api.server import make_app, serve
from cove.errors import Unavailable
from tests.api.fake_engine import FakeEngine

ROOT = Path(__file__).resolve().parents[2]


class Daemon:
    """serve() on its own loop in a thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.engine: FakeEngine | None = None
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.engine = FakeEngine()
        self.runner = self.loop.run_until_complete(serve(make_app(self.engine), self.path))
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def __enter__(self) -> Daemon:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def sock_path():
    d = tempfile.mkdtemp(prefix="cove-api-test-")
    path = os.path.join(d, "cove.sock")
    yield path
    if os.path.exists(path):
        os.unlink(path)
    os.rmdir(d)


def _cli(path: str, *args: str, env_host: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    host_args: list[str] = []
    if env_host:
        env["COVE_HOST"] = "unix://" + path
    else:
        host_args = ["-H", "unix://" + path]
    return subprocess.run([sys.executable, "-m", "cove.cli.main", *host_args, *args],
                          capture_output=True, timeout=30, env=env, cwd=ROOT)


def _raw(path: str, data: bytes) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(data)
    return s


def test_socket_mode_and_stale_socket_removed(sock_path):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(sock_path)                # a socket file nobody listens on
    stale.close()
    with Daemon(sock_path):
        st = os.stat(sock_path)
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
        if os.geteuid() == 0:
            assert (st.st_uid, st.st_gid) == (0, 0)
        # a second daemon on a live socket is refused, the socket survives
        with pytest.raises(Unavailable):
            asyncio.run(serve(make_app(FakeEngine()), sock_path))
        assert os.path.exists(sock_path)


def test_hijacked_attach_survives_client_half_close(sock_path):
    """The docker CLI shuts down its write side right after POST .../attach."""
    with Daemon(sock_path):
        body = json.dumps({"Image": "busybox", "Cmd": ["echo", "hi"]}).encode()
        s = _raw(sock_path, b"POST /containers/create HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                 + body)
        cid = json.loads(s.recv(4096).split(b"\r\n\r\n", 1)[1])["Id"].encode()
        s.close()
        a = _raw(sock_path, b"POST /v1.41/containers/%s/attach?stream=1&stdout=1&stderr=1 "
                 b"HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: Upgrade\r\n"
                 b"Upgrade: tcp\r\n\r\n" % cid)
        a.shutdown(socket.SHUT_WR)
        time.sleep(0.2)
        s = _raw(sock_path, b"POST /containers/%s/start HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: 0\r\n\r\n" % cid)
        assert s.recv(4096).startswith(b"HTTP/1.1 204")
        s.close()
        a.settimeout(5)
        data = b""
        while chunk := a.recv(4096):
            data += chunk
        a.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        assert rest == b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n"


def test_cli_against_real_server(sock_path):
    with Daemon(sock_path) as d:
        r = _cli(sock_path, "version")
        assert r.returncode == 0 and b"API version:      1.41" in r.stdout
        r = _cli(sock_path, "run", "--name", "one", "busybox", "echo", "hello", "world")
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"hello world\n"
        r = _cli(sock_path, "run", "--rm", "busybox", "fail", "3")
        assert r.returncode == 3 and r.stderr == b"boom\n"
        r = _cli(sock_path, "run", "-d", "--name", "web", "-e", "A=1", "-p", "8080:80",
                 "busybox", "sleep", "9", env_host=True)
        assert r.returncode == 0 and len(r.stdout.strip()) == 64
        cfg = d.engine.get_container("web").config
        assert cfg.env == ["A=1"] and cfg.port_bindings == {
            "80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
        r = _cli(sock_path, "ps")
        lines = r.stdout.decode().splitlines()
        assert lines[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED",
                                    "STATUS", "PORTS", "NAMES"]
        assert len(lines) == 2 and lines[1].endswith("   web")
        assert '"sleep 9"' in lines[1] and "0.0.0.0:8080->80/tcp" in lines[1]
        r = _cli(sock_path, "inspect", "--format",
                 "{{.Name}} {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "web")
        assert r.stdout.decode().startswith("/web 172.17.0.")
        r = _cli(sock_path, "exec", "web", "fail", "7")
        assert r.returncode == 7 and r.stderr == b"boom\n"
        r = _cli(sock_path, "exec", "web", "echo", "in", "exec")
        assert r.returncode == 0 and r.stdout == b"in exec\n"
        r = _cli(sock_path, "logs", "one")
        assert r.stdout == b"hello world\n"
        r = _cli(sock_path, "rm", "nosuch")
        assert r.returncode == 1
        assert r.stderr == b"Error response from daemon: No such container: nosuch\n"
        r = _cli(sock_path, "run", "nosuchimage")
        assert r.returncode == 125 and b"No such image: nosuchimage" in r.stderr
        r = _cli(sock_path, "rm", "-f", "web")
        assert r.returncode == 0 and r.stdout == b"web\n"
        tar = Path(os.path.dirname(sock_path)) / "rootfs.tar"
        tar.write_bytes(b"t" * 100_000)
        r = _cli(sock_path, "image", "import", str(tar), "mine:v1")
        tar.unlink()
        assert r.returncode == 0 and r.stdout.startswith(b"sha256:")
        assert d.engine.get_image("mine:v1").size == 100_000
        r = _cli(sock_path, "images")
        assert b"mine" in r.stdout and b"100kB" in r.stdout
        r = _cli(sock_path, "network", "ls")
        assert r.stdout.decode().splitlines()[0].split() == ["NETWORK", "ID", "NAME",
                                                             "DRIVER", "SCOPE"]


def test_cli_cannot_connect(sock_path):
    r = _cli(sock_path, "ps")
    assert r.returncode == 1
    assert r.stderr.decode() == (f"Cannot connect to the cove daemon at unix://{sock_path}. "
                                 "Is the daemon running?\n")
    r = _cli(sock_path, "run", "busybox")
    assert r.returncode == 125
