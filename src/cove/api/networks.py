"""Network routes: list, inspect, create, remove, prune, connect, disconnect (shapes of
reference §0.1, errors of §0.5)."""

from __future__ import annotations

from aiohttp import web

from cove.api import parse, render
from cove.api.common import engine, json_response, read_json
from cove.errors import InvalidParameter


async def list_(request: web.Request) -> web.Response:
    from cove.api import netfilters
    f = netfilters.parse(request.query.get("filters", ""))
    eng = engine(request)
    nets = [n for n in eng.list_networks()
            if netfilters.matches(n, f, "dangling" in f and bool(eng.network_endpoints(n)))]
    return json_response([render.network_inspect(n, []) for n in nets])


async def inspect(request: web.Request) -> web.Response:
    eng = engine(request)
    net = eng.get_network(request.match_info["id"])
    return json_response(render.network_inspect(net, eng.network_endpoints(net)))


async def create(request: web.Request) -> web.Response:
    kw = parse.network_create_body(await read_json(request, required=True))
    net = await engine(request).create_network(kw.pop("name"), **kw)
    return json_response({"Id": net.id, "Warning": ""}, status=201)


async def remove(request: web.Request) -> web.Response:
    await engine(request).remove_network(request.match_info["id"])
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    gone = await engine(request).prune_networks()
    return json_response({"NetworksDeleted": gone})


async def connect(request: web.Request) -> web.Response:
    kw = parse.network_connect_body(await read_json(request, required=True))
    await engine(request).connect_network(request.match_info["id"], kw["container"],
                                          kw["ip"], kw["aliases"], kw["links"],
                                          mac=kw["mac"], driver_opts=kw["driver_opts"],
                                          ip6=kw["ip6"], link_local_ips=kw["link_local_ips"])
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.Response:
    body = await read_json(request, required=True)
    if not isinstance(body, dict) or not isinstance(body.get("Container"), str) \
            or not body["Container"]:
        raise InvalidParameter("Container is required")
    await engine(request).disconnect_network(request.match_info["id"], body["Container"],
                                             bool(body.get("Force")))
    return web.Response(status=200)


routes = [
    ("GET", "/networks", list_),
    ("POST", "/networks/create", create),
    ("POST", "/networks/prune", prune),
    ("GET", "/networks/{id}", inspect),
    ("DELETE", "/networks/{id}", remove),
    ("POST", "/networks/{id}/connect", connect),
    ("POST", "/networks/{id}/disconnect", disconnect),
]
