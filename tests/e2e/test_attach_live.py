"""Issue 6: live attach/``logs -f`` output woken by inotify, and detached tty execs.

The coved here polls its log files only every 30 s (``COVE_LOG_POLL``), so output that
reaches an attach or a ``logs?follow=1`` within seconds proves the follower was woken by
the file growing. A tty exec the client detaches from (detach keys) runs on, as in
Docker: ``exec inspect`` says Running, its process lives, its pty can still be resized.
"""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from tests.e2e.conftest import _running_daemon
from tests.e2e.test_tty import CTRL_X, Hijacked, _create, _json

pytestmark = pytest.mark.e2e

SLOW_POLL = "30"


@pytest.fixture(scope="module")
def slow_daemon(tmp_path_factory, busybox_tar):
    """A coved whose log followers would poll only every 30 s."""
    old = os.environ.get("COVE_LOG_POLL")
    os.environ["COVE_LOG_POLL"] = SLOW_POLL
    gen = _running_daemon(tmp_path_factory.mktemp("coved"), busybox_tar)
    try:
        d = next(gen)
    finally:
        if old is None:
            del os.environ["COVE_LOG_POLL"]
        else:
            os.environ["COVE_LOG_POLL"] = old
    yield d
    next(gen, None)


class Following(Hijacked):
    """``GET /containers/{id}/logs?follow=1`` on a raw socket; the bytes so far
    (``read_until``/``close`` are Hijacked's: the same raw-socket reading)."""

    def __init__(self, daemon, ref: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(daemon.sock))
        self.sock.sendall(f"GET /containers/{ref}/logs?follow=1&stdout=1&stderr=1 "
                          "HTTP/1.1\r\nHost: cove\r\n\r\n".encode())
        self.buf = b""


def test_attach_and_logs_follow_are_woken_by_the_log_growing(slow_daemon):
    d = slow_daemon
    name = _create(d, ["cat"], tty=True, stdin=True)
    try:
        _json(d, "POST", f"/containers/{name}/start")
        follow = Following(d, name)
        att = Hijacked(d, f"/containers/{name}/attach?stream=1&stdin=1&stdout=1&stderr=1")
        time.sleep(0.2)                     # both followers are waiting on the log now
        t0 = time.monotonic()
        att.send(b"wake-up\n")
        att.read_until(b"wake-up\r\n", timeout=5)       # cat's echo, through the log
        follow.read_until(b"wake-up", timeout=5)
        assert time.monotonic() - t0 < 5 < float(SLOW_POLL)
        att.send(b"again\n")
        att.read_until(b"again\r\n", timeout=5)
        follow.read_until(b"again", timeout=5)
        att.close()
        follow.close()
    finally:
        d.api("DELETE", f"/containers/{name}?force=1")


def _descendants_named(pid: int, comm: str) -> list[int]:
    """Live processes called ``comm`` under ``pid`` (the exec's process tree)."""
    parents: dict[int, int] = {}
    names: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        parents[int(entry)], names[int(entry)] = int(fields[1]), name
    found = []
    for p, name in names.items():
        if name != comm or fields_state(p) == "Z":
            continue
        q = p
        while q > 1 and q != pid:
            q = parents.get(q, 0)
        if q == pid:
            found.append(p)
    return found


def fields_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return "X"
    return stat[stat.rindex(")") + 2:].split()[0]


def _exec_info(d, eid: str) -> dict:
    return _json(d, "GET", f"/exec/{eid}/json")


def test_detached_tty_exec_runs_on(slow_daemon):
    d = slow_daemon
    name = _create(d, ["sleep", "60"])
    try:
        _json(d, "POST", f"/containers/{name}/start")
        eid = _json(d, "POST", f"/containers/{name}/exec",
                    {"Cmd": ["cat"], "AttachStdin": True, "AttachStdout": True,
                     "Tty": True, "DetachKeys": "ctrl-x"})["Id"]
        ex = Hijacked(d, f"/exec/{eid}/start", {"Tty": True})
        ex.send(b"ping\n")
        ex.read_until(b"ping\r\n")
        ex.send(CTRL_X)
        ex.read_to_eof()
        ex.close()
        time.sleep(0.5)                     # a hung-up cat would be gone by now
        info = _exec_info(d, eid)
        assert info["Running"] is True and info["ExitCode"] is None, info
        pid = info["Pid"]
        assert _descendants_named(pid, "cat"), "the exec's cat is gone"
        status, body = d.api("POST", f"/exec/{eid}/resize?h=20&w=70")
        assert status == 200, body          # its pty is still held
        status, body = d.api("POST", f"/exec/{eid}/start", json.dumps({}).encode(),
                             {"Content-Type": "application/json"})
        assert status == 409                # it has run
        d.api("POST", f"/containers/{name}/kill")
        deadline = time.monotonic() + 10
        while (info := _exec_info(d, eid))["Running"]:
            assert time.monotonic() < deadline, info
            time.sleep(0.05)
        assert info["ExitCode"] is not None
    finally:
        d.api("DELETE", f"/containers/{name}?force=1")
