"""Streaming engine output (logs, exec) to an HTTP client.

Output is framed in Docker's multiplexed format unless the process has a tty (raw).
A client that asked to ``Upgrade: tcp`` (the docker CLI's hijacked exec) gets
``101 UPGRADED`` and the same bytes on the bare connection. Errors raised before the
first chunk (within a short grace period) become proper HTTP statuses. With ``stdin``, a
hijacked connection's input is pumped into the process meanwhile (``api/hijack.py``);
when the client types the detach keys the stream ends and the connection is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from cove.api.common import MULTIPLEXED, RAW_STREAM, frame
from cove.api.hijack import HijackInput

log = logging.getLogger("cove.api")

FIRST_CHUNK_GRACE = 0.3   # seconds to wait for an early error before sending headers
UPGRADE_SETTLE = 0.05     # seconds between a 101's headers and the first output bytes


async def _close(it: AsyncIterator) -> None:
    aclose = getattr(it, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


class _Detached(Exception):
    """The client typed the detach keys."""


async def _next(task: asyncio.Future, pump: asyncio.Future | None) -> tuple[int, bytes]:
    """The result of ``task`` (the next output item), unless the client detaches first."""
    if pump is not None:
        if not pump.done():
            await asyncio.wait({task, pump}, return_when=asyncio.FIRST_COMPLETED)
        if pump.done() and not task.done():
            if not pump.cancelled() and pump.exception() is None and pump.result():
                raise _Detached
            log.debug("stdin relay ended: %s", None if pump.cancelled() else pump.exception())
    return await task


async def stream_out(request: web.Request, it: AsyncIterator[tuple[int, bytes]], tty: bool,
                     content_type: str | None = None,
                     grace: float = FIRST_CHUNK_GRACE,
                     stdin: Callable[[HijackInput], Awaitable[bool]] | None = None
                     ) -> web.StreamResponse:
    """Send ``(stream, chunk)`` items of ``it`` to the client; return the response.

    Headers go out after the first chunk or after ``grace`` seconds, whichever is first.
    ``stdin`` (hijacked connections only) gets the client's input; it returns True when
    the client detached."""
    first = asyncio.ensure_future(it.__anext__())
    try:
        done, _ = await asyncio.wait({first}, timeout=grace)
        item: tuple[int, bytes] | None = None
        finished = False
        if done:
            try:
                item = first.result()          # a CoveError here becomes its HTTP status
            except StopAsyncIteration:
                finished = True
    except BaseException:
        first.cancel()
        await _close(it)
        raise

    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    if upgrade:
        resp = web.StreamResponse(status=101, reason="UPGRADED")
        resp.headers["Connection"] = "Upgrade"
        resp.headers["Upgrade"] = "tcp"
        resp.force_close()
    else:
        resp = web.StreamResponse(status=200)
    resp.content_type = content_type or (RAW_STREAM if tty else MULTIPLEXED)
    inp = HijackInput(request) if upgrade and stdin is not None else None
    pump: asyncio.Future | None = None
    current: asyncio.Future = first
    try:
        await resp.prepare(request)
        if inp is not None:
            pump = asyncio.ensure_future(stdin(inp))
        if upgrade:
            # docker-py reads the 101 through a buffered reader and then switches to the
            # raw socket: bytes that arrive with the headers would be lost in that buffer.
            await asyncio.sleep(UPGRADE_SETTLE)
        if not done:
            try:
                item = await _next(first, pump)
            except StopAsyncIteration:
                finished = True
        while not finished:
            assert item is not None
            stream, chunk = item
            if chunk:
                await resp.write(chunk if tty else frame(stream, chunk))
            current = asyncio.ensure_future(it.__anext__())
            try:
                item = await _next(current, pump)
            except StopAsyncIteration:
                finished = True
    except _Detached:
        log.debug("client detached")
        if request.transport is not None:
            request.transport.close()     # the client sees EOF; the process runs on
    except (ConnectionResetError, asyncio.CancelledError):
        log.debug("stream client went away")
    except Exception as exc:  # noqa: BLE001 - headers are sent: report in-band, then end
        log.warning("stream ended with error: %s", exc)
        if not tty and not upgrade:
            with contextlib.suppress(Exception):
                await resp.write(frame(3, str(exc).encode() + b"\n"))
    finally:
        if pump is not None and not pump.done():
            pump.cancel()
        if inp is not None:
            inp.release()
        for task in (first, current):
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        await _close(it)
    with contextlib.suppress(Exception):
        await resp.write_eof()
    return resp
