"""Reading pipe fds from the event loop: one non-blocking read, as a reader callback does it.

Shared by the engine's exec output relay and the healthcheck probe collector.
"""

from __future__ import annotations

import os

CHUNK = 65536


def read_ready(fd: int) -> bytes | None:
    """One read of the non-blocking ``fd``: the bytes read, ``b""`` at EOF or on a read
    error (the stream is over either way), None when nothing is there yet."""
    try:
        return os.read(fd, CHUNK)
    except BlockingIOError:
        return None
    except OSError:
        return b""
