"""Container routes for rename, top, changes and archive (``docker rename/top/diff/cp``)."""

from __future__ import annotations

import asyncio
import base64
import json

from aiohttp import web

from cove.api.common import engine, json_response

STAT_HEADER = "X-Docker-Container-Path-Stat"


async def rename(request: web.Request) -> web.Response:
    await engine(request).rename_container(request.match_info["id"],
                                           request.query.get("name", ""))
    return web.Response(status=204)


async def top(request: web.Request) -> web.Response:
    eng = engine(request)
    res = await asyncio.to_thread(eng.top_container, request.match_info["id"],
                                  request.query.get("ps_args", ""))
    return json_response(res)


async def changes(request: web.Request) -> web.Response:
    eng = engine(request)
    res = await asyncio.to_thread(eng.container_changes, request.match_info["id"])
    return json_response(res or None)


routes = [
    ("POST", "/containers/{id}/rename", rename),
    ("GET", "/containers/{id}/top", top),
    ("GET", "/containers/{id}/changes", changes),
]


def _stat_header(st: dict) -> str:
    return base64.b64encode(json.dumps(st).encode()).decode()


async def archive_head(request: web.Request) -> web.Response:
    eng = engine(request)
    st = await asyncio.to_thread(eng.archive_stat, request.match_info["id"],
                                 request.query.get("path", ""))
    return web.Response(status=200, headers={STAT_HEADER: _stat_header(st)})


async def archive_get(request: web.Request) -> web.Response:
    eng = engine(request)
    ref, path = request.match_info["id"], request.query.get("path", "")
    st = await asyncio.to_thread(eng.archive_stat, ref, path)
    data = await asyncio.to_thread(eng.archive_get, ref, path)
    return web.Response(body=data, headers={STAT_HEADER: _stat_header(st),
                                            "Content-Type": "application/x-tar"})


async def archive_put(request: web.Request) -> web.Response:
    eng = engine(request)
    data = await request.read()
    await asyncio.to_thread(eng.archive_put, request.match_info["id"],
                            request.query.get("path", ""), data)
    return web.Response(status=200)


routes += [
    ("HEAD", "/containers/{id}/archive", archive_head),
    ("GET", "/containers/{id}/archive", archive_get),
    ("PUT", "/containers/{id}/archive", archive_put),
]
