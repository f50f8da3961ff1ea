"""Routes cove answers without implementing: swarm-mode objects and registries.

Docker answers swarm-mode routes on a node outside a swarm with 503 "This node is not
part of a swarm"; docker-py's ``leave_swarm(force=True)`` treats that as success. Plugin,
build and registry routes are 501 with a message that names what is missing.
"""

from __future__ import annotations

from aiohttp import web

from cove.api.common import json_response
from cove.errors import NotFound, Unavailable, Unsupported

NOT_IN_SWARM = ("This node is not part of a swarm. Use \"docker swarm init\" or "
                "\"docker swarm join\" to connect this node to swarm and try again.")


async def not_in_swarm(request: web.Request) -> web.Response:
    if request.path.rstrip("/").endswith("/swarm/leave"):
        raise Unavailable("This node is not part of a swarm")
    raise Unavailable(NOT_IN_SWARM)


async def plugins_list(request: web.Request) -> web.Response:
    return json_response([])


async def plugin_inspect(request: web.Request) -> web.Response:
    raise NotFound(f"plugin \"{request.match_info['name']}\" not found")


async def unsupported(request: web.Request) -> web.Response:
    raise Unsupported(f"cove does not implement {request.method} {request.path}")


_SWARM = ["/swarm", "/swarm/{tail:.*}", "/services", "/services/{tail:.*}", "/nodes",
          "/nodes/{tail:.*}", "/tasks", "/tasks/{tail:.*}", "/secrets", "/secrets/{tail:.*}",
          "/configs", "/configs/{tail:.*}"]
_NOT_DONE = ["/plugins/{tail:.*}", "/build", "/build/{tail:.*}",
             "/auth", "/distribution/{tail:.*}", "/session", "/grpc"]

routes = [("GET", "/plugins", plugins_list), ("GET", "/plugins/{name}/json", plugin_inspect)]
routes += [("*", p, not_in_swarm) for p in _SWARM] + [("*", p, unsupported) for p in _NOT_DONE]
