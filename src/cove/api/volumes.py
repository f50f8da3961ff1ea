"""Volume routes: create, list (filters name/label/dangling/driver), inspect, remove, prune."""

from __future__ import annotations

from aiohttp import web

from cove.api import parse
from cove.api.common import engine, json_response, read_json
from cove.errors import InvalidParameter

_FILTERS = ("name", "label", "dangling", "driver")


def _match(eng, doc: dict, f: dict[str, list[str]]) -> bool:
    if "name" in f and not any(x in doc["Name"] for x in f["name"]):
        return False
    if "driver" in f and doc["Driver"] not in f["driver"]:
        return False
    labels = doc.get("Labels") or {}
    for lab in f.get("label", []):
        k, eq, v = lab.partition("=")
        if k not in labels or (eq and labels[k] != v):
            return False
    if "dangling" in f:
        dangling = not eng.volume_users(doc["Name"])
        want = f["dangling"][-1].lower() in ("1", "true")
        if dangling != want:
            return False
    return True


def _str_map(b: dict, key: str) -> dict[str, str]:
    v = b.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise InvalidParameter(f"{key} must be an object of strings")
    return v


async def create(request: web.Request) -> web.Response:
    b = await read_json(request) or {}
    if not isinstance(b, dict):
        raise InvalidParameter("body must be a JSON object")
    name, driver = b.get("Name") or "", b.get("Driver") or "local"
    if not isinstance(name, str) or not isinstance(driver, str):
        raise InvalidParameter("Name and Driver must be strings")
    doc = engine(request).create_volume(name, driver, _str_map(b, "Labels"),
                                        _str_map(b, "DriverOpts"))
    return json_response(doc, status=201)


async def list_(request: web.Request) -> web.Response:
    eng = engine(request)
    f = parse.filters(request.query.get("filters", ""), _FILTERS)
    vols = [d for d in eng.list_volumes() if _match(eng, d, f)]
    return json_response({"Volumes": vols, "Warnings": None})


async def inspect(request: web.Request) -> web.Response:
    return json_response(engine(request).get_volume(request.match_info["name"]))


async def delete(request: web.Request) -> web.Response:
    engine(request).remove_volume(request.match_info["name"],
                                  force=parse.bool_value(request.query, "force"))
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    f = parse.filters(request.query.get("filters", ""), _FILTERS)
    names, freed = engine(request).prune_volumes(f.get("label", []))
    return json_response({"VolumesDeleted": names or None, "SpaceReclaimed": freed})


routes = [
    ("POST", "/volumes/create", create),
    ("GET", "/volumes", list_),
    ("POST", "/volumes/prune", prune),
    ("GET", "/volumes/{name}", inspect),
    ("DELETE", "/volumes/{name}", delete),
]
