"""Issue 6: ttys, stdin, resize and detach keys on a real coved (native driver).

Containers and execs with ``Tty`` get a pty opened inside the container (``tty`` says
``/dev/pts/N``), so output is raw with ``\\r\\n``; ``/containers/{id}/resize`` and
``/exec/{id}/resize`` set its size (``stty size``); the hijacked connection's input
reaches stdin; the detach keys end an attach and leave the process running; the
websocket attach relays both ways.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import socket
import sys
import time

import pytest

from tests.ptyutil import under_pty

pytestmark = pytest.mark.e2e

CTRL_P, CTRL_Q, CTRL_X = b"\x10", b"\x11", b"\x18"


def _name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(3)}"


def _json(daemon, method: str, path: str, body: dict | None = None) -> dict:
    status, data = daemon.api(method, path, json.dumps(body).encode() if body is not None
                              else None, {"Content-Type": "application/json"})
    assert status < 300, (status, data)
    return json.loads(data) if data else {}


def _create(daemon, cmd: list[str], tty: bool = False, stdin: bool = False) -> str:
    name = _name("tty")
    _json(daemon, "POST", f"/containers/create?name={name}",
          {"Image": "busybox", "Cmd": cmd, "Tty": tty, "OpenStdin": stdin})
    return name


class Hijacked:
    """A raw ``Upgrade: tcp`` request to the daemon; the socket after its 101."""

    def __init__(self, daemon, path: str, body: dict | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(daemon.sock))
        data = json.dumps(body).encode() if body is not None else b""
        self.sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: cove\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
            .encode() + data)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, head
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_until(self, needle: bytes, timeout: float = 10) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.buf:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(4096)
            assert chunk, f"EOF before {needle!r}: {self.buf!r}"
            self.buf += chunk
        return self.buf

    def read_to_eof(self, timeout: float = 10) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(4096)
            if not chunk:
                return self.buf
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def _wait_exit(daemon, ref: str) -> int:
    return _json(daemon, "POST", f"/containers/{ref}/wait")["StatusCode"]


def test_tty_output_is_raw_crlf_from_a_pts_inside_the_container(daemon):
    name = _create(daemon, ["sh", "-c", "tty; echo a; echo b >&2"], tty=True)
    try:
        _json(daemon, "POST", f"/containers/{name}/start")
        assert _wait_exit(daemon, name) == 0
        status, out = daemon.api("GET", f"/containers/{name}/logs?stdout=1&stderr=1")
        assert status == 200
        assert out == b"/dev/pts/0\r\na\r\nb\r\n"       # raw: no multiplexing headers
    finally:
        daemon.api("DELETE", f"/containers/{name}?force=1")


def test_container_stdin_resize_and_detach_keys(daemon):
    name = _create(daemon, ["sh"], tty=True, stdin=True)
    try:
        _json(daemon, "POST", f"/containers/{name}/start")
        att = Hijacked(daemon, f"/containers/{name}/attach?stream=1&stdin=1&stdout=1"
                               f"&stderr=1&detachKeys=ctrl-x")
        status, _ = daemon.api("POST", f"/containers/{name}/resize?h=33&w=111")
        assert status == 200
        att.send(b"stty size\n")
        att.read_until(b"33 111\r\n")
        att.send(CTRL_X)                              # detach: EOF, the shell runs on
        att.read_to_eof()
        att.close()
        assert daemon.inspect(name, "{{.State.Running}}") == "true"
        again = Hijacked(daemon, f"/containers/{name}/attach?stream=1&stdin=1&stdout=1")
        again.send(b"exit 4\n")                       # a new attach reaches the same shell
        again.read_to_eof()
        again.close()
        assert _wait_exit(daemon, name) == 4
    finally:
        daemon.api("DELETE", f"/containers/{name}?force=1")


def test_default_detach_keys_on_attach_before_start(daemon):
    name = _create(daemon, ["cat"], tty=True, stdin=True)
    try:
        att = Hijacked(daemon, f"/containers/{name}/attach?stream=1&stdin=1&stdout=1")
        _json(daemon, "POST", f"/containers/{name}/start")
        att.send(b"early\n")                          # held until the container runs
        att.read_until(b"early\r\n")
        att.send(CTRL_P)
        time.sleep(0.2)
        att.send(CTRL_Q)
        assert b"\x10" not in att.read_to_eof()[-4:]  # the sequence never reached cat
        att.close()
        assert daemon.inspect(name, "{{.State.Running}}") == "true"
    finally:
        daemon.api("DELETE", f"/containers/{name}?force=1")


def test_non_tty_open_stdin_and_exec_stdin_eof(daemon):
    name = _create(daemon, ["sh", "-c", "read x; echo got-$x"], stdin=True)
    try:
        att = Hijacked(daemon, f"/containers/{name}/attach?stream=1&stdin=1&stdout=1")
        _json(daemon, "POST", f"/containers/{name}/start")
        att.send(b"hello\n")
        out = att.read_to_eof()
        att.close()
        assert out == b"\x01\x00\x00\x00\x00\x00\x00\x0agot-hello\n"   # multiplexed
        assert _wait_exit(daemon, name) == 0
    finally:
        daemon.api("DELETE", f"/containers/{name}?force=1")

    name = _create(daemon, ["sleep", "60"])
    try:
        _json(daemon, "POST", f"/containers/{name}/start")
        eid = _json(daemon, "POST", f"/containers/{name}/exec",
                    {"Cmd": ["sh", "-c", "cat; echo done"], "AttachStdin": True,
                     "AttachStdout": True})["Id"]
        ex = Hijacked(daemon, f"/exec/{eid}/start", {"Tty": True})
        ex.send(b"abc\n")
        ex.sock.shutdown(socket.SHUT_WR)              # EOF on the exec's stdin
        assert ex.read_to_eof() == b"abc\ndone\n"
        ex.close()
        deadline = time.monotonic() + 5
        while (info := _json(daemon, "GET", f"/exec/{eid}/json"))["Running"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert info["ExitCode"] == 0
    finally:
        daemon.api("DELETE", f"/containers/{name}?force=1")


def test_exec_tty_resize_and_detach(daemon):
    name = _create(daemon, ["sleep", "60"])
    try:
        _json(daemon, "POST", f"/containers/{name}/start")
        eid = _json(daemon, "POST", f"/containers/{name}/exec",
                    {"Cmd": ["sh"], "AttachStdin": True, "AttachStdout": True,
                     "Tty": True})["Id"]
        ex = Hijacked(daemon, f"/exec/{eid}/start", {"Tty": True})
        deadline = time.monotonic() + 5
        while daemon.api("POST", f"/exec/{eid}/resize?h=44&w=99")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ex.send(b"tty; stty size; exit 7\n")
        out = ex.read_to_eof()
        ex.close()
        assert b"/dev/pts/" in out and b"44 99\r\n" in out
        deadline = time.monotonic() + 5
        while (info := _json(daemon, "GET", f"/exec/{eid}/json"))["Running"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert info["ExitCode"] == 7

        eid = _json(daemon, "POST", f"/containers/{name}/exec",
                    {"Cmd": ["cat"], "AttachStdin": True, "AttachStdout": True,
                     "Tty": True, "DetachKeys": "ctrl-x"})["Id"]
        ex = Hijacked(daemon, f"/exec/{eid}/start", {"Tty": True})
        ex.send(b"ping\n")
        ex.read_until(b"ping\r\n")
        ex.send(CTRL_X)
        ex.read_to_eof()
        ex.close()
        assert daemon.inspect(name, "{{.State.Running}}") == "true"
    finally:
        daemon.api("DELETE", f"/containers/{name}?force=1")


def test_bad_detach_keys_and_resize_of_a_stopped_container(daemon):
    status, body = daemon.api("POST", "/containers/create", json.dumps(
        {"Image": "busybox", "Cmd": ["true"]}).encode(), {"Content-Type": "application/json"})
    cid = json.loads(body)["Id"]
    try:
        status, body = daemon.api("POST", f"/containers/{cid}/attach?stream=1&stdin=1"
                                          "&detachKeys=ctrl-%21")
        assert status == 400 and b"Invalid escape keys" in body
        status, body = daemon.api("POST", f"/containers/{cid}/resize?h=10&w=10")
        assert status == 409 and b"is not running" in body
        status, body = daemon.api("POST", f"/containers/{cid}/resize?h=x&w=10")
        assert status == 400
    finally:
        daemon.api("DELETE", f"/containers/{cid}?force=1")


def test_websocket_attach_relays_both_ways(daemon):
    aiohttp = pytest.importorskip("aiohttp")
    name = _create(daemon, ["sh", "-c", "read x; echo got-$x"], stdin=True)

    async def session() -> bytes:
        conn = aiohttp.UnixConnector(path=str(daemon.sock))
        async with aiohttp.ClientSession(connector=conn) as s, s.ws_connect(
                f"http://cove/v1.41/containers/{name}/attach/ws"
                "?stream=1&stdin=1&stdout=1") as ws:
            status, _ = await asyncio.to_thread(
                daemon.api, "POST", f"/containers/{name}/start")
            assert status == 204
            await ws.send_bytes(b"hi\n")
            got = b""
            async for msg in ws:
                assert msg.type == aiohttp.WSMsgType.BINARY
                got += msg.data
            return got

    try:
        assert asyncio.run(asyncio.wait_for(session(), 20)) == b"got-hi\n"
    finally:
        daemon.api("DELETE", f"/containers/{name}?force=1")


@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")
def test_oci_runtime_ignores_tty_and_stdin_cleanly(daemon):
    """runc gets no pty from cove: a Tty container still runs and ends, an attach with
    stdin does not hang, resize is a no-op, a tty exec falls back to pipes."""
    name = _name("ocitty")
    _json(daemon, "POST", f"/containers/create?name={name}",
          {"Image": "busybox", "Cmd": ["sh", "-c", "echo hi; sleep 1"], "Tty": True,
           "OpenStdin": True, "HostConfig": {"Runtime": "runc"}})
    try:
        att = Hijacked(daemon, f"/containers/{name}/attach?stream=1&stdin=1&stdout=1")
        _json(daemon, "POST", f"/containers/{name}/start")
        assert daemon.api("POST", f"/containers/{name}/resize?h=10&w=10")[0] == 200
        eid = _json(daemon, "POST", f"/containers/{name}/exec",
                    {"Cmd": ["echo", "ex"], "Tty": True, "AttachStdin": True})["Id"]
        ex = Hijacked(daemon, f"/exec/{eid}/start", {"Tty": True})
        assert ex.read_to_eof() == b"ex\n"
        ex.close()
        att.send(b"ignored\n")
        assert att.read_to_eof().startswith(b"hi\n")
        att.close()
        assert _wait_exit(daemon, name) == 0
    finally:
        daemon.api("DELETE", f"/containers/{name}?force=1")


def _cove_under_pty(daemon, args: list[str], script: list[tuple[bytes, bytes]],
                    timeout: float = 20) -> tuple[int, bytes]:
    """``cove ARGS`` with a pty (sized 20x70) as its terminal; type each ``send`` once
    its ``wait_for`` shows up. Returns (exit code, what the terminal showed)."""
    return under_pty([sys.executable, "-m", "cove.cli.main", "-H", f"unix://{daemon.sock}",
                      *args], script, size=(20, 70), timeout=timeout)


def test_cove_cli_run_and_exec_interactive(daemon):
    code, out = _cove_under_pty(daemon, ["run", "-it", "--rm", "busybox", "sh"],
                                [(b"# ", b"tty; stty size; exit 6\r")])
    assert code == 6, out
    assert b"/dev/pts/0\r\n" in out and b"20 70\r\n" in out       # the terminal's size
    name = _name("clit")
    daemon.cli("run", "-d", "--name", name, "busybox", "sleep", "60")
    try:
        code, out = _cove_under_pty(daemon, ["exec", "-it", name, "sh"],
                                    [(b"# ", b"stty size; exit 3\r")])
        assert code == 3 and b"20 70\r\n" in out, out
        r = daemon.cli("exec", "-i", name, "sh", "-c", "cat; echo end", input="piped\n")
        assert r.stdout == "piped\nend\n"
    finally:
        daemon.cli("rm", "-f", name, check=False)


def test_stdin_once_ends_the_containers_input(daemon):
    """``docker run -i`` sets StdinOnce: when the attach's input ends, so does the
    container's stdin (the monitor closes its write end) and ``cat`` exits."""
    name = _name("once")
    _json(daemon, "POST", f"/containers/create?name={name}",
          {"Image": "busybox", "Cmd": ["sh", "-c", "cat; echo end"], "OpenStdin": True,
           "StdinOnce": True, "AttachStdin": True})
    try:
        att = Hijacked(daemon, f"/containers/{name}/attach?stream=1&stdin=1&stdout=1")
        _json(daemon, "POST", f"/containers/{name}/start")
        att.send(b"data\n")
        att.sock.shutdown(socket.SHUT_WR)
        out = att.read_to_eof()
        att.close()
        assert out == b"\x01\0\0\0\0\0\0\x05data\n\x01\0\0\0\0\0\0\x04end\n"
        assert _wait_exit(daemon, name) == 0
        assert daemon.inspect(name, "{{.Config.StdinOnce}}") == "true"
    finally:
        daemon.api("DELETE", f"/containers/{name}?force=1")
    r = daemon.cli("run", "-i", "--rm", "busybox", "sh", "-c", "cat; echo done",
                   input="", timeout=20)           # empty input: EOF at once
    assert (r.returncode, r.stdout) == (0, "done\n")
