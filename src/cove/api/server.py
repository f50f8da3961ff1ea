"""The Docker Engine API server: an aiohttp application on a unix socket.

Routes are served unversioned and under ``/v1.NN/`` (1.24..1.41). One middleware turns
:class:`cove.errors.CoveError` into Docker's ``{"message": ...}`` with the error's
status; unknown routes are 404 ``page not found``; unexpected exceptions are logged
and answered 500. Only this package turns errors into HTTP.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
from typing import Any

from aiohttp import web, web_protocol, web_server

from cove import API_VERSION, MIN_API_VERSION, __version__
from cove.api import (
    attachio,
    attachws,
    cluster,
    commit,
    containerlinks,
    containerops,
    containerprune,
    containers,
    events,
    execs,
    imagearchive,
    images,
    networks,
    resources,
    system,
    unsupported,
    update,
    volumes,
)
from cove.api.common import ENGINE, ROOT, json_response
from cove.errors import CoveError, NotModified, Unavailable

log = logging.getLogger("cove.api")

SERVER = f"cove/{__version__} (linux)"
VERSION_PREFIX = r"/{version:v[0-9]+\.[0-9]+}"


def _vtuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def _error(status: int, message: str) -> web.Response:
    if status == 304:
        return web.Response(status=304)
    return json_response({"message": message}, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    version = request.match_info.get("version")
    if version:
        v = _vtuple(version[1:])
        if v > _vtuple(API_VERSION):
            return _error(400, f"client version {version[1:]} is too new. Maximum supported "
                               f"API version is {API_VERSION}")
        if v < _vtuple(MIN_API_VERSION):
            return _error(400, f"client version {version[1:]} is too old. Minimum supported "
                               f"API version is {MIN_API_VERSION}, please upgrade your client "
                               "to a newer version")
    try:
        return await handler(request)
    except NotModified:
        return web.Response(status=304)
    except CoveError as exc:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.path, exc.message)
        return _error(exc.status, exc.message)
    except web.HTTPNotFound:
        return _error(404, "page not found")
    except web.HTTPMethodNotAllowed:
        return _error(405, "method not allowed")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _error(exc.status, exc.text or exc.reason)
    except ConnectionResetError:
        raise
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors become 500
        log.exception("%s %s failed", request.method, request.path)
        return _error(500, f"internal error: {exc}")


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER
    response.headers["Api-Version"] = API_VERSION
    response.headers["Ostype"] = "linux"


def make_app(engine: Any, root: str = "/var/lib/cove") -> web.Application:
    """The aiohttp application serving ``engine`` (an :class:`cove.engine.api.EngineAPI`).

    ``root`` is the daemon's data root, used for the container file paths Docker shows."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=1 << 20)
    app[ENGINE] = engine
    app[ROOT] = root
    app.on_response_prepare.append(_headers)
    for module in (system, containerprune, containers, containerops, execs, images,
                   imagearchive, networks, resources, update, unsupported, volumes,
                   attachio, attachws, containerlinks, cluster, events, commit):
        for method, path, handler in module.routes:
            app.router.add_route(method, path, handler)
            app.router.add_route(method, VERSION_PREFIX + path, handler)
    return app


class _HijackHandler(web_protocol.RequestHandler):
    """Keeps a half-closed connection open: the docker CLI shuts down its write side
    right after asking to attach (``Upgrade: tcp``), and asyncio would otherwise close
    the transport on that EOF and lose the container's output. (aiohttp's C parser does
    not flag a ``Content-Length: 0`` upgrade request as upgraded, so this cannot be
    decided per request.) A half-closed connection is closed as soon as no request is in
    flight on it: nothing more can arrive, and keeping it would leak a socket per client.

    Once a handler takes the connection's input (``cove_input``, an
    :class:`cove.api.hijack.HijackInput`: stdin of an attach or exec), incoming bytes
    and the EOF go there instead of the HTTP parser."""

    cove_input = None

    def data_received(self, data: bytes) -> None:
        if self.cove_input is not None:
            self.cove_input.feed(data)
            return
        super().data_received(data)

    def eof_received(self) -> bool:
        if self.cove_input is not None:
            self.cove_input.eof()
        # checked a little later: the request that came with the EOF may still be queued
        self._loop.call_later(0.5, self._close_when_idle)
        return True

    def _close_when_idle(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if getattr(self, "_request_in_progress", False) or getattr(self, "_messages", None):
            self._loop.call_later(0.5, self._close_when_idle)
            return
        transport.close()


class _HijackServer(web_server.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return _HijackHandler(self, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        server.__class__ = _HijackServer
        return server


def _remove_stale(socket_path: str) -> None:
    try:
        st = os.lstat(socket_path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise Unavailable(f"{socket_path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(socket_path)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)              # nobody listens: stale
        return
    finally:
        probe.close()
    raise Unavailable(f"another daemon is listening on {socket_path}")


async def serve_tcp(runner: web.AppRunner, addr: str) -> None:
    """Also serve ``runner``'s app on ``ADDR:PORT`` (plain HTTP, e.g. for clients that
    cannot reach a unix socket, like docker-py's websocket attach)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise Unavailable(f"invalid TCP address {addr!r}: want ADDR:PORT")
    site = web.TCPSite(runner, host.strip("[]"), int(port))
    try:
        await site.start()
    except OSError as exc:
        raise Unavailable(f"cannot listen on tcp://{addr}: {exc.strerror}") from exc


async def serve(app: web.Application, socket_path: str) -> web.AppRunner:
    """Listen on ``socket_path`` (mode 0660, owned by root when run as root).

    Returns the runner; ``await runner.cleanup()`` stops serving."""
    os.makedirs(os.path.dirname(socket_path) or ".", exist_ok=True)
    _remove_stale(socket_path)
    runner = _Runner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.UnixSite(runner, socket_path)
        await site.start()
        os.chmod(socket_path, 0o660)
        if os.geteuid() == 0:
            os.chown(socket_path, 0, 0)
    except BaseException:
        await runner.cleanup()
        raise
    return runner
