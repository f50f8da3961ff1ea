"""Stdin and ttys of containers and execs: what ``attach``/``exec start`` relay.

:class:`StdinSink` writes a client's input to a process's stdin (a pty master or a
pipe) without blocking the event loop, and resizes the pty. :class:`ExecIO` sets up the
fds of one ``exec start`` (pipes, or a pty the driver opens inside the container) and
keeps the pty master for ``/exec/{id}/resize`` and the stdin relay. The container side
asks the execution driver for the fd its monitor holds (:meth:`ExecutionDriver.console`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from cove.errors import Conflict, InvalidParameter
from cove.runtime import tty as ttys

if TYPE_CHECKING:
    from cove.engine.engine import Engine
    from cove.engine.model import ExecRecord
    from cove.runtime.base import ExecutionDriver

STDIN_WAIT = 0.02      # seconds between looks at a created container an attach waits for


class StdinSink:
    """Non-blocking writes to one fd the sink owns (closed by :meth:`close`).
    ``on_close`` runs (in a thread) when :meth:`aclose` ends the input: StdinOnce."""

    def __init__(self, fd: int, is_tty: bool,
                 on_close: Callable[[], object] | None = None) -> None:
        self.fd = fd
        self.is_tty = is_tty
        self.on_close = on_close
        os.set_blocking(fd, False)

    async def aclose(self) -> None:
        self.close()
        hook, self.on_close = self.on_close, None
        if hook is not None:
            await asyncio.to_thread(hook)

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view and self.fd >= 0:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(self.fd, ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(self.fd)
                continue
            except OSError:           # the process is gone (EPIPE, EIO)
                return
            view = view[n:]

    def close(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def check_size(height: int, width: int) -> None:
    if not (0 <= height <= ttys.MAX_DIM and 0 <= width <= ttys.MAX_DIM):
        raise InvalidParameter(f"invalid tty size: height {height}, width {width}")


# -- containers ------------------------------------------------------------------------

async def container_stdin(eng: Engine, ref: str) -> StdinSink | None:
    """A sink into the container's stdin, waiting for a created container to start;
    None when it has no stdin to write (not ``OpenStdin``, exited, or the driver has
    no console)."""
    c = eng.get_container(ref)
    if not c.config.open_stdin:
        return None
    while c.status == "created" and c.id in eng._containers:
        await asyncio.sleep(STDIN_WAIT)
    if c.status != "running":
        return None
    driver = eng.drivers[c.driver]
    got = await asyncio.to_thread(driver.console, c.id)
    if got is None:
        return None
    fd, is_tty = got
    once = c.config.stdin_once and not is_tty
    return StdinSink(fd, is_tty, (lambda: driver.close_stdin(c.id)) if once else None)


async def resize_container(eng: Engine, ref: str, height: int, width: int) -> None:
    check_size(height, width)
    c = eng.get_container(ref)
    if c.status != "running":
        raise Conflict(f"Container {c.id} is not running")
    if not c.config.tty:
        return
    got = await asyncio.to_thread(eng.drivers[c.driver].console, c.id)
    if got is None:
        return
    fd, is_tty = got
    try:
        if is_tty:
            ttys.set_winsize(fd, height, width)
    finally:
        os.close(fd)


# -- execs -----------------------------------------------------------------------------

class ExecIO:
    """The fds of one exec start. With a pty (``rec.tty`` and a driver that can) the
    output is the pty master plus a pipe for start errors, all stream 1; without, one
    pipe per attached stream (a tty's stream is stdout+stderr merged)."""

    def __init__(self, rec: ExecRecord, detach: bool, driver: ExecutionDriver) -> None:
        self.pty = rec.tty and driver.supports_tty and not detach   # detached: /dev/null
        self.want_stdin = rec.attach_stdin and not detach
        self.streams: dict[int, int] = {}       # read fd -> stream number
        self.child: dict[str, int] = {}         # driver.exec's stdout/stderr/stdin fds
        self.stdin_w = -1
        self.master = -1
        self.held = -1
        self.started = asyncio.Event()
        self.sink: StdinSink | None = None
        if detach:
            return
        if self.pty:
            r, w = os.pipe()
            self.streams[r] = 1
            self.child["stdout"] = self.child["stderr"] = w
        else:
            for num, name, want in ((1, "stdout", rec.attach_stdout),
                                    (2, "stderr", rec.attach_stderr)):
                if want:
                    r, w = os.pipe()
                    self.streams[r] = num
                    self.child[name] = w
            if rec.tty and len(self.child) == 2:  # no pty: one stream, stdout+stderr
                r2 = next(r for r, num in self.streams.items() if num == 2)
                os.close(r2)
                os.close(self.child["stderr"])
                del self.streams[r2]
                self.child["stderr"] = self.child["stdout"]
        if self.want_stdin and not self.pty and driver.supports_tty:
            r, self.stdin_w = os.pipe()
            self.child["stdin"] = r

    def exec_kwargs(self, driver: ExecutionDriver) -> dict:
        kw: dict = {"stdout": self.child.get("stdout"), "stderr": self.child.get("stderr")}
        if driver.supports_tty:
            kw["stdin"] = self.child.get("stdin")
            kw["tty"] = self.pty
        return kw

    def close_child_ends(self) -> None:
        for fd in set(self.child.values()):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.child = {}

    def abort(self) -> None:
        self.close_child_ends()
        for fd in [*self.streams, self.stdin_w]:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.streams = {}
        self.stdin_w = -1
        self.started.set()

    def on_started(self, driver: ExecutionDriver, pid: int) -> None:
        """After driver.exec: take the pty master, make the stdin sink."""
        if self.pty:
            master = driver.exec_console(pid)
            if master is not None:
                self.master = master
                self.held = os.dup(master)      # outlives the reader: keep_running()
                self.streams[master] = 1
                if self.want_stdin:
                    self.sink = StdinSink(os.dup(master), True)
        elif self.stdin_w >= 0:
            self.sink = StdinSink(self.stdin_w, False)
            self.stdin_w = -1
        self.started.set()

    def keep_running(self) -> int | None:
        """When the client leaves a pty exec before its end: the held dup of the pty
        master, so closing the reader's copy does not hang it up (see :func:`run_on`)."""
        fd, self.held = self.held, -1
        return fd if fd >= 0 else None

    def finish(self) -> None:
        self.master = -1       # closed by the reader with the other streams
        if self.held >= 0:
            with contextlib.suppress(OSError):
                os.close(self.held)
            self.held = -1
        if self.sink is not None:
            self.sink.close()
        self.started.set()

    def resize(self, height: int, width: int) -> None:
        if self.master >= 0:
            with contextlib.suppress(OSError):
                ttys.set_winsize(self.master, height, width)


async def run_on(io: ExecIO, master: int, reap: Awaitable[None],
                 done: Callable[[], object]) -> None:
    """A detached tty exec: keep its pty master (``io.resize`` still works) and drop
    what it prints, until ``reap`` sees the process end; then close and run ``done``."""
    loop = asyncio.get_running_loop()
    io.master = master
    os.set_blocking(master, False)
    reading = True

    def readable() -> None:
        nonlocal reading
        try:
            if os.read(master, 65536):
                return
        except BlockingIOError:
            return
        except OSError:         # EIO: every slave fd is closed
            pass
        loop.remove_reader(master)
        reading = False

    loop.add_reader(master, readable)
    try:
        await reap
    finally:
        if reading:
            loop.remove_reader(master)
        io.master = -1
        with contextlib.suppress(OSError):
            os.close(master)
        done()


async def exec_stdin(eng: Engine, exec_id: str) -> StdinSink | None:
    """The sink into a started exec's stdin (waits for the start); None without stdin.
    The exec's reader owns it: closing it here only ends the input (EOF on a pipe)."""
    rec = eng.exec_inspect(exec_id)
    io = eng._exec_io.get(rec.id)
    if io is None:
        return None
    await io.started.wait()
    return io.sink


async def resize_exec(eng: Engine, exec_id: str, height: int, width: int) -> None:
    check_size(height, width)
    rec = eng.exec_inspect(exec_id)
    io = eng._exec_io.get(rec.id)
    if io is None or not rec.running:
        raise Conflict(f"Exec {exec_id} is not running")
    io.resize(height, width)
