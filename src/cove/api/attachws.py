"""``GET /containers/{id}/attach/ws``: attach over a websocket.

The container's output (``logs``, ``stream``, ``stdout``, ``stderr`` as for the
hijacked attach) goes out as binary messages, raw (never multiplexed); with ``stdin=1``
the messages the client sends go to the container's stdin, with the detach keys when
it has a tty. The socket closes when the output ends, the client closes, or detaches.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

from cove.api import detachkeys, hijack, parse
from cove.api.common import engine


class _WsInput:
    """The client's messages as :func:`hijack.pump` reads them (``b""`` at close)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def read(self) -> bytes:
        while True:
            msg = await self.ws.receive()
            if msg.type == WSMsgType.BINARY:
                data = msg.data
            elif msg.type == WSMsgType.TEXT:
                data = msg.data.encode()
            elif msg.type in (WSMsgType.PING, WSMsgType.PONG):
                continue
            else:                       # CLOSE, CLOSING, CLOSED, ERROR
                return b""
            if data:
                return data


async def attach_ws(request: web.Request) -> web.WebSocketResponse:
    q = request.query
    eng = engine(request)
    c = eng.get_container(request.match_info["id"])        # 404 before the upgrade
    keys = detachkeys.parse(q.get("detachKeys", ""))
    stdout, stderr = parse.bool_value(q, "stdout"), parse.bool_value(q, "stderr")
    if not (stdout or stderr):
        stdout = stderr = True
    want_stdin = parse.bool_value(q, "stdin")
    output = eng.attach(c.id, stdout=stdout, stderr=stderr,
                        logs=parse.bool_value(q, "logs"), stream=parse.bool_value(q, "stream"))
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    inp = _WsInput(ws)

    async def reader() -> bool:
        if want_stdin:
            return await hijack.pump(inp, lambda: eng.attach_stdin(c.id),
                                     keys if c.config.tty else None)
        while await inp.read():          # drain: answers pings, sees the close
            pass
        return False

    async def writer() -> None:
        async for _stream, chunk in output:
            if chunk:
                await ws.send_bytes(chunk)

    rtask = asyncio.ensure_future(reader())
    wtask = asyncio.ensure_future(writer())
    try:
        await asyncio.wait({rtask, wtask}, return_when=asyncio.FIRST_COMPLETED)
        if rtask.done() and not wtask.done() and not rtask.cancelled() \
                and rtask.exception() is None and not rtask.result():
            await wtask                  # input ended (no detach): output to the end
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        for task in (rtask, wtask):
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        with contextlib.suppress(BaseException):
            await output.aclose()
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


routes = [("GET", "/containers/{id}/attach/ws", attach_ws)]
