"""Stdin and tty size for attach and exec: the routes and the glue to ``api/hijack.py``.

``POST /containers/{id}/resize`` and ``POST /exec/{id}/resize`` (``h``, ``w``) set the
pty's window size. :func:`container_input` and :func:`exec_input` give
:func:`cove.api.streams.stream_out` the function that relays a hijacked connection's
input to the container's or exec's stdin, with the detach keys when it has a tty
(``detachKeys`` query parameter, or the exec's ``DetachKeys``; default ctrl-p,ctrl-q).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from cove.api import detachkeys, hijack, parse
from cove.api.common import engine
from cove.errors import InvalidParameter

Relay = Callable[[hijack.HijackInput], Awaitable[bool]]


def container_input(request: web.Request, c) -> Relay | None:
    """The stdin relay of ``attach?stdin=1`` (None without stdin). Validates first."""
    q = request.query
    keys = detachkeys.parse(q.get("detachKeys", ""))
    if not parse.bool_value(q, "stdin"):
        return None
    eng = engine(request)
    cid = c.id

    async def relay(inp: hijack.HijackInput) -> bool:
        return await hijack.pump(inp, lambda: eng.attach_stdin(cid),
                                 keys if c.config.tty else None)
    return relay


def exec_input(request: web.Request, rec) -> Relay | None:
    """The stdin relay of an exec created with AttachStdin (None without)."""
    if not rec.attach_stdin:
        return None
    keys = detachkeys.parse(rec.detach_keys)
    eng = engine(request)

    async def relay(inp: hijack.HijackInput) -> bool:
        return await hijack.pump(inp, lambda: eng.exec_stdin(rec.id),
                                 keys if rec.tty else None)
    return relay


def _size(request: web.Request) -> tuple[int, int]:
    h = parse.int_value(request.query, "h", 0)
    w = parse.int_value(request.query, "w", 0)
    assert h is not None and w is not None
    if h < 0 or w < 0:
        raise InvalidParameter(f"invalid tty size: height {h}, width {w}")
    return h, w


async def resize_container(request: web.Request) -> web.Response:
    h, w = _size(request)
    await engine(request).resize_container(request.match_info["id"], h, w)
    return web.Response(status=200)


async def resize_exec(request: web.Request) -> web.Response:
    h, w = _size(request)
    await engine(request).resize_exec(request.match_info["id"], h, w)
    return web.Response(status=200)


routes = [
    ("POST", "/containers/{id}/resize", resize_container),
    ("POST", "/exec/{id}/resize", resize_exec),
]
