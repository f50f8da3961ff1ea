"""Exec routes: create, start (streamed, multiplexed unless tty), inspect."""

from __future__ import annotations

from aiohttp import web

from cove.api import attachio, parse, render
from cove.api.common import engine, json_response, read_json
from cove.api.streams import stream_out


async def create(request: web.Request) -> web.Response:
    kwargs = parse.exec_body(await read_json(request, required=True))
    exec_id = await engine(request).exec_create(request.match_info["id"], **kwargs)
    return json_response({"Id": exec_id}, status=201)


async def start(request: web.Request) -> web.StreamResponse:
    detach, tty = parse.exec_start_body(await read_json(request))
    eng = engine(request)
    exec_id = request.match_info["id"]
    record = eng.exec_inspect(exec_id)          # 404 before anything starts
    it = eng.exec_start(exec_id, detach=detach)
    if detach:
        async for _ in it:                       # a detached start yields nothing
            pass
        return web.Response(status=200)
    relay = attachio.exec_input(request, record)
    return await stream_out(request, it, tty=tty, stdin=relay)


async def inspect(request: web.Request) -> web.Response:
    return json_response(render.exec_inspect(engine(request).exec_inspect(
        request.match_info["id"])))


routes = [
    ("POST", "/containers/{id}/exec", create),
    ("POST", "/exec/{id}/start", start),
    ("GET", "/exec/{id}/json", inspect),
]
