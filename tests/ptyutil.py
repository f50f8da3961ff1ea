"""Drive a command with a pseudo-terminal as its terminal, the way a user at a shell would.

:func:`under_pty` runs ``argv`` on a new pty, types each ``send`` of its script once the
terminal has shown the matching ``wait_for``, and returns the exit code and everything
the terminal showed (killing the command if it outlives ``timeout``).
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import termios
import time
from collections.abc import Sequence


def under_pty(argv: list[str], script: Sequence[tuple[bytes, bytes]] = (), *,
              env: dict[str, str] | None = None, size: tuple[int, int] | None = None,
              timeout: float = 20) -> tuple[int, bytes]:
    """Run ``argv`` (``argv[0]`` a path) with a pty as its terminal; for each
    ``(wait_for, send)`` of ``script`` wait until the output shows ``wait_for`` and type
    ``send``. ``env`` is added to the child's environment; ``size`` (rows, cols) sets
    the terminal's size. Returns (exit code, what the terminal showed); asserts that
    every step of the script was reached."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        if env:
            os.environ.update(env)
        os.execv(argv[0], argv)
    if size is not None:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    out, steps = b"", list(script)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if steps and steps[0][0] in out:
                os.write(fd, steps.pop(0)[1])
            if not select.select([fd], [], [], 0.1)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        if time.monotonic() >= deadline:
            os.kill(pid, 9)
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert not steps, f"never saw {steps[0][0]!r} in {out!r}"
    return os.waitstatus_to_exitcode(status), out
