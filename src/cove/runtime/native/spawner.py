"""The spawner: a small single-threaded process that forks containers for the driver.

Started by :class:`NativeDriver` as ``python -m cove.runtime.native.spawner FD`` where FD
is its end of a SOCK_SEQPACKET socketpair. Imports only the stdlib, cove.kernel.syscalls
and the native runtime's own stdlib-only modules, so forking it is cheap (a daemon's
fork cost grows with its memory and it is multi-threaded). Requests:

- ``{"op": "start", "spec": {...}, "state_dir": DIR}`` → forks a monitor (see
  :mod:`cove.runtime.native.monitor`), waits for its report:
  ``{"ok": true, "pid": INIT_PID, "monitor_pid": PID}`` or
  ``{"ok": false, "error": MSG, "code": 127}``.
- ``{"op": "exec", "pid": INIT_PID, "args": [...], "env": [...], "cwd": "", "user": "",
  "exit_dir": DIR, "exit_name": NAME, "fds": ["stdout", "stderr", "stdin", "console"]}``
  with the named fds (any subset) passed by SCM_RIGHTS → ``{"ok": true, "pid":
  HELPER_PID}``. ``console`` is a socket: the exec gets a pty, its master is sent there.
- ``{"op": "ping"}`` → ``{"ok": true, "pid": SPAWNER_PID}``.

It reaps its children (2 s after they die, see :class:`Reaper`) and exits when the
driver's end of the socket closes.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time
from typing import Any

from cove.runtime.native import monitor
from cove.runtime.native.proto import recv_msg, send_msg

REAP_DELAY = 2.0  # seconds a dead child stays a zombie, so a caller can still pidfd_open it


class Reaper:
    """Reaps children late: a zombie's pid cannot be reused, so the daemon can still
    open a pidfd on a monitor or exec helper that exited right after it was started."""

    def __init__(self) -> None:
        self.children: dict[int, float | None] = {}

    def add(self, pid: int) -> None:
        self.children[pid] = None

    def poll(self) -> float | None:
        """Reap what is due; return how long select may sleep (None: no pending zombie)."""
        now = time.monotonic()
        pending = False
        for pid, dead_since in list(self.children.items()):
            if dead_since is None:
                try:
                    res = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                except ChildProcessError:
                    del self.children[pid]
                    continue
                if res is None:
                    continue
                self.children[pid] = dead_since = now
            if now - dead_since >= REAP_DELAY:
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
                del self.children[pid]
            else:
                pending = True
        return 0.5 if pending else None


def _start(sock: socket.socket, wake: tuple[int, int], req: dict[str, Any],
           reaper: Reaper) -> dict[str, Any]:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        sock.close()
        os.close(r)
        for fd in wake:
            os.close(fd)
        monitor.run_monitor(req["spec"], req["state_dir"], w)
    reaper.add(pid)
    os.close(w)
    try:
        raw = monitor.read_all(r)
    finally:
        os.close(r)
    try:
        rep = json.loads(raw) if raw else {}
    except ValueError:
        rep = {}
    if "pid" in rep:
        return {"ok": True, "pid": rep["pid"], "monitor_pid": pid}
    return {"ok": False, "error": rep.get("error", "container monitor died"),
            "code": rep.get("code", 126)}


def _exec(sock: socket.socket, wake: tuple[int, int], req: dict[str, Any],
          fds: list[int], reaper: Reaper) -> dict[str, Any]:
    names = req.get("fds", [])
    given = dict(zip(names, fds, strict=False))
    devnull = os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC)
    out = given.get("stdout", devnull)
    err = given.get("stderr", devnull)
    try:
        pid = os.fork()
        if pid == 0:
            sock.close()
            for fd in wake:
                os.close(fd)
            monitor.run_exec(req, out, err, req["exit_dir"], given.get("stdin", -1),
                             given.get("console", -1))
        reaper.add(pid)
    finally:
        os.close(devnull)
    return {"ok": True, "pid": pid}


def serve(sock: socket.socket) -> None:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    wake = (wake_r, wake_w)
    reaper = Reaper()
    timeout: float | None = None
    while True:
        ready, _, _ = select.select([sock, wake_r], [], [], timeout)
        if wake_r in ready:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        timeout = reaper.poll()
        if sock not in ready:
            continue
        try:
            req, fds = recv_msg(sock)
        except (OSError, ValueError):
            return
        if req is None:
            return
        try:
            op = req.get("op")
            if op == "start":
                rep = _start(sock, wake, req, reaper)
            elif op == "exec":
                rep = _exec(sock, wake, req, fds, reaper)
            elif op == "ping":
                rep = {"ok": True, "pid": os.getpid()}
            else:
                rep = {"ok": False, "error": f"unknown op {op!r}", "code": 0}
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            rep = {"ok": False, "error": f"spawner: {exc}", "code": 126}
        finally:
            for fd in fds:
                os.close(fd)
        try:
            send_msg(sock, rep)
        except OSError:
            return
        timeout = reaper.poll()


def main(argv: list[str]) -> int:
    sock = socket.socket(fileno=int(argv[1]))
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    serve(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
