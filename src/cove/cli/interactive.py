"""``cove run -i`` / ``cove exec -i``: a hijacked connection relayed both ways.

The request goes out with ``Upgrade: tcp``; after ``101 UPGRADED`` the terminal's input
is sent on the same connection and the output copied back (raw with ``-t``, else
demultiplexed). With ``-t`` on a real terminal, the terminal is put in raw mode (the
container's pty does the line editing) and its size is sent at the start and on every
SIGWINCH. Stdlib only, imported only by ``-i``.
"""

from __future__ import annotations

import os
import select
import signal
import struct
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

UPGRADE = {"Connection": "Upgrade", "Upgrade": "tcp"}


def terminal_size(fd: int = 1) -> tuple[int, int] | None:
    """(rows, cols) of the terminal on ``fd``, or None."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


class _Demux:
    """Incremental demultiplexing of Docker's stream format."""

    def __init__(self) -> None:
        self.buf = b""

    def feed(self, data: bytes) -> None:
        self.buf += data
        while len(self.buf) >= 8:
            stream, size = struct.unpack(">BxxxI", self.buf[:8])
            if len(self.buf) < 8 + size:
                return
            payload, self.buf = self.buf[8:8 + size], self.buf[8 + size:]
            target = sys.stderr.buffer if stream in (2, 3) else sys.stdout.buffer
            target.write(payload)
            target.flush()


def session(resp: Any, tty: bool, stdin: bool,
            resize: Callable[[int, int], None] | None = None) -> None:
    """Relay until the daemon closes the stream (the process ended, or detached)."""
    sock = resp._sock
    raw_term = tty and stdin and os.isatty(0)
    saved = None
    if raw_term:
        import termios
        import tty as ttymod
        saved = termios.tcgetattr(0)
        ttymod.setraw(0)
    old_winch = None
    if tty and resize is not None and os.isatty(1):
        def on_winch(*_: Any) -> None:
            size = terminal_size()
            if size:
                resize(*size)
        old_winch = signal.signal(signal.SIGWINCH, on_winch)
        on_winch()
    demux = None if tty else _Demux()
    out = sys.stdout.buffer
    reading_stdin = stdin
    try:
        while True:
            data = resp._file.read1(65536) if resp._file._buf else None
            if data is None:
                fds = [sock.fileno()] + ([0] if reading_stdin else [])
                try:
                    ready, _, _ = select.select(fds, [], [])
                except InterruptedError:
                    continue
                if 0 in ready:
                    chunk = os.read(0, 4096)
                    if chunk:
                        sock.sendall(chunk)
                    else:
                        reading_stdin = False
                        import _socket
                        try:
                            sock.shutdown(_socket.SHUT_WR)
                        except OSError:
                            pass
                if sock.fileno() not in ready:
                    continue
                data = resp.read1(65536)
            if not data:
                return
            if demux is None:
                out.write(data)
                out.flush()
            else:
                demux.feed(data)
    finally:
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)
        if saved is not None:
            import termios
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        resp.close()
