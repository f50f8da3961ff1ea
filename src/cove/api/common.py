"""Helpers shared by the route modules: the engine key, JSON bodies and responses,
Docker's multiplexed-stream framing."""

from __future__ import annotations

import json
import struct
from typing import Any

from aiohttp import web

from cove.errors import InvalidParameter

ENGINE: web.AppKey[Any] = web.AppKey("cove_engine", object)
ROOT: web.AppKey[str] = web.AppKey("cove_root", str)

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW_STREAM = "application/vnd.docker.raw-stream"


def engine(request: web.Request) -> Any:
    return request.app[ENGINE]


def frame(stream: int, data: bytes) -> bytes:
    """One frame of Docker's multiplexed stream: stream byte, 3 zero bytes, BE uint32 len."""
    return struct.pack(">BxxxI", stream, len(data)) + data


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def json_response(obj: Any, status: int = 200) -> web.Response:
    """A JSON body with ``Content-Type: application/json`` exactly, no charset: the docker
    CLI decodes error bodies only when the header equals that string."""
    return web.Response(body=(dumps(obj) + "\n").encode(), status=status,
                        headers={"Content-Type": "application/json"})


async def read_json(request: web.Request, required: bool = False) -> Any:
    """The request body as JSON, checking the Content-Type as Docker does.

    An empty body is ``None`` (or a 400 when ``required``)."""
    raw = await request.read()
    if not raw.strip():
        if required:
            raise InvalidParameter("request body is required")
        return None
    ctype = request.headers.get("Content-Type", "")
    if ctype.split(";")[0].strip().lower() != "application/json":
        raise InvalidParameter(
            f"unsupported Content-Type header ({ctype}): must be 'application/json'")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidParameter(f"invalid JSON: {exc}") from exc
