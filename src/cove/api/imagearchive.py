"""Image routes of issue 5: ``POST /images/load``, ``GET /images/get``,
``GET /images/{name}/get`` (``docker save`` archives) and ``DELETE /images/{name}``."""

from __future__ import annotations

import json

from aiohttp import web

from cove.api import parse
from cove.api.common import engine, json_response

CHUNK = 1 << 16


async def load(request: web.Request) -> web.Response:
    quiet = parse.bool_value(request.query, "quiet")

    async def chunks():
        async for chunk in request.content.iter_chunked(CHUNK):
            yield chunk

    imgs = await engine(request).load_images(chunks())
    lines = []
    for img in imgs:
        for msg in ([f"Loaded image: {t}" for t in img.repo_tags] or
                    [f"Loaded image ID: {img.id}"]):
            lines.append(json.dumps({"stream": msg + "\n"}))
    _ = quiet  # Docker's quiet only hides progress bars, which cove has none of
    return web.Response(text="\r\n".join(lines) + "\r\n", content_type="application/json")


async def _send(request: web.Request, refs: list[str]) -> web.StreamResponse:
    stream = await engine(request).save_images(refs)
    resp = web.StreamResponse(headers={"Content-Type": "application/x-tar"})
    await resp.prepare(request)
    async for chunk in stream:
        await resp.write(chunk)
    await resp.write_eof()
    return resp


async def get_many(request: web.Request) -> web.StreamResponse:
    return await _send(request, request.query.getall("names", []))


async def get_one(request: web.Request) -> web.StreamResponse:
    return await _send(request, [request.match_info["name"]])


async def delete(request: web.Request) -> web.Response:
    force = parse.bool_value(request.query, "force")
    out = await engine(request).remove_image(request.match_info["name"], force)
    return json_response(out)


routes = [
    ("POST", "/images/load", load),
    ("GET", "/images/get", get_many),
    ("GET", "/images/{name:.+}/get", get_one),
    ("DELETE", "/images/{name:.+}", delete),
]
