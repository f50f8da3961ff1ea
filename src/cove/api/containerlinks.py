"""``DELETE /containers/{parent}/{alias}?link=1``: remove a legacy link (docker-py's
``remove_container(link=True)``); without ``link`` such a path names no container."""

from __future__ import annotations

from aiohttp import web

from cove.api import parse
from cove.api.common import engine
from cove.errors import NotFound


async def delete_link(request: web.Request) -> web.Response:
    if request.method != "DELETE":      # any other two-segment path: an unknown route
        raise web.HTTPNotFound()
    name = f"{request.match_info['parent']}/{request.match_info['alias']}"
    if not parse.bool_value(request.query, "link"):
        raise NotFound(f"No such container: {name}")
    await engine(request).remove_link(name)
    return web.Response(status=204)


# "*" (registered last): a DELETE-only route would turn other methods' 404 into a 405
routes = [("*", "/containers/{parent}/{alias}", delete_link)]
