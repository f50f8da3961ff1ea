"""Input on a hijacked connection: what the client types after ``101 UPGRADED``.

:class:`HijackInput` takes over the connection's incoming bytes (the server's protocol
hands them over instead of parsing them as HTTP, see ``api/server.py``).
:func:`pump` copies them into a process's stdin through the engine's sink, watching for
the detach keys; it returns True when the client detached.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cove.api.detachkeys import EscapeProxy


class HijackInput:
    """The bytes a client sends on its hijacked connection; ``b""`` at EOF."""

    def __init__(self, request: web.Request) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._eof = False
        proto = request.protocol
        self._proto = proto
        tail = getattr(proto, "_message_tail", b"")
        if tail:                                # bytes aiohttp kept after an upgrade
            self._queue.put_nowait(bytes(tail))
            proto._message_tail = b""
        proto.cove_input = self                 # see server._HijackHandler

    def feed(self, data: bytes) -> None:
        if data and not self._eof:
            self._queue.put_nowait(data)

    def eof(self) -> None:
        if not self._eof:
            self._eof = True
            self._queue.put_nowait(b"")

    async def read(self) -> bytes:
        return await self._queue.get()

    def release(self) -> None:
        if getattr(self._proto, "cove_input", None) is self:
            self._proto.cove_input = None


async def pump(inp: HijackInput, open_sink: Callable[[], Awaitable[Any]],
               keys: bytes | None) -> bool:
    """Copy input into the sink ``open_sink()`` gives (opened at the first byte or the
    EOF; None: input is read and dropped). ``keys``: the detach sequence, or None (no
    tty). Returns True on detach, False at EOF. The sink is closed at the end (a pipe's
    reader sees EOF; with StdinOnce the container's stdin is closed too)."""
    proxy = EscapeProxy(keys) if keys else None
    sink = None
    opened = False
    try:
        while True:
            data = await inp.read()
            if not data:
                if not opened:          # EOF first: still end the process's input
                    sink = await open_sink()
                return False
            detached = False
            if proxy is not None:
                data, detached = proxy.feed(data)
            if data:
                if not opened:
                    sink = await open_sink()
                    opened = True
                if sink is not None:
                    await sink.write(data)
            if detached:
                return True
    finally:
        if sink is not None:
            with contextlib.suppress(Exception):
                closer = getattr(sink, "aclose", None)
                if closer is not None:
                    await closer()      # e.g. StdinOnce: the container's stdin ends
                else:
                    sink.close()
