"""Network routes: list and inspect (shapes of reference §0.1)."""

from __future__ import annotations

from aiohttp import web

from cove.api import render
from cove.api.common import engine, json_response


async def list_(request: web.Request) -> web.Response:
    nets = engine(request).list_networks()
    return json_response([render.network_inspect(n, []) for n in nets])


async def inspect(request: web.Request) -> web.Response:
    eng = engine(request)
    net = eng.get_network(request.match_info["id"])
    return json_response(render.network_inspect(net, eng.network_endpoints(net)))


routes = [
    ("GET", "/networks", list_),
    ("GET", "/networks/{id}", inspect),
]
