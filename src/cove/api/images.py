"""Image routes: list, inspect, import (``POST /images/create?fromSrc=-``)."""

from __future__ import annotations

from aiohttp import web

from cove.api import parse, render
from cove.api.common import dumps, engine, json_response
from cove.errors import InvalidParameter, NotFound

CHUNK = 1 << 16


async def list_(request: web.Request) -> web.Response:
    imgs = engine(request).list_images()
    imgs.sort(key=lambda i: render.parse_iso(i.created), reverse=True)
    return json_response([render.image_summary(i) for i in imgs])


async def inspect(request: web.Request) -> web.Response:
    return json_response(render.image_inspect(engine(request).get_image(
        request.match_info["name"])))


async def create(request: web.Request) -> web.Response:
    q = request.query
    if q.get("fromImage"):
        # no registry: Docker's answer for a repository it cannot pull (404), which
        # docker-py maps to ImageNotFound; `cove image import` loads images instead
        name = q["fromImage"].split("@")[0]
        for prefix in ("docker.io/library/", "docker.io/"):
            name = name.removeprefix(prefix)
        head, _, last = name.rpartition("/")
        name = f"{head}/{last.split(':')[0]}" if head else last.split(":")[0]
        raise NotFound(f"pull access denied for {name}, repository does not exist or may "
                       "require 'docker login': denied: requested access to the resource "
                       "is denied")
    if q.get("fromSrc") != "-":
        raise InvalidParameter("fromSrc must be \"-\" (the tarball is the request body)")
    repo, tag = parse.repo_tag(q.get("repo", ""), q.get("tag", ""))

    async def chunks():
        async for chunk in request.content.iter_chunked(CHUNK):
            yield chunk

    img = await engine(request).import_image(chunks(), repo, tag)
    return web.Response(text=dumps({"status": img.id}) + "\r\n",
                        content_type="application/json")


routes = [
    ("GET", "/images/json", list_),
    ("POST", "/images/create", create),
    ("GET", "/images/{name:.+}/json", inspect),
]
