"""Container routes: create, start, stop, kill, wait, inspect, list, logs, delete."""

from __future__ import annotations

import asyncio

from aiohttp import web

from cove.api import attachio, parse, render
from cove.api.common import ROOT, dumps, engine, json_response, read_json
from cove.api.streams import stream_out
from cove.engine import health
from cove.engine.hostmodes import check_logs
from cove.errors import CoveError, InvalidParameter


async def create(request: web.Request) -> web.Response:
    name = parse.container_name(request.query)
    config = parse.create_body(await read_json(request, required=True))
    c = await engine(request).create_container(config, name)
    return json_response({"Id": c.id, "Warnings": []}, status=201)


async def start(request: web.Request) -> web.Response:
    await engine(request).start_container(request.match_info["id"])
    return web.Response(status=204)


async def stop(request: web.Request) -> web.Response:
    t = parse.int_value(request.query, "t")
    await engine(request).stop_container(request.match_info["id"], timeout=t)
    return web.Response(status=204)


async def restart(request: web.Request) -> web.Response:
    eng = engine(request)
    ref = request.match_info["id"]
    t = parse.int_value(request.query, "t")
    if eng.get_container(ref).status in ("running", "restarting"):
        await eng.stop_container(ref, timeout=t)
    await eng.start_container(ref)
    from cove.engine import events
    events.container(eng, eng.get_container(ref), "restart")
    return web.Response(status=204)


async def kill(request: web.Request) -> web.Response:
    sig = parse.signal_value(request.query.get("signal", "KILL"))
    await engine(request).kill_container(request.match_info["id"], signal=sig)
    return web.Response(status=204)


async def wait(request: web.Request) -> web.StreamResponse:
    """Headers go out at once (the docker CLI waits for them before it starts the
    container); the body follows when the condition is met, as Docker does."""
    cond = parse.wait_condition(request.query.get("condition", ""))
    eng = engine(request)
    c = eng.get_container(request.match_info["id"])          # 404 before any header
    task = asyncio.ensure_future(eng.wait_container(c.id, condition=cond))
    await asyncio.sleep(0)                                    # let the wait register
    if task.done() and task.exception() is not None:
        raise task.exception()
    resp = web.StreamResponse(status=200)
    resp.content_type = "application/json"
    try:
        await resp.prepare(request)
        try:
            out = {"StatusCode": await task, "Error": None}
        except CoveError as exc:
            out = {"StatusCode": -1, "Error": {"Message": exc.message}}
        await resp.write((dumps(out) + "\n").encode())
        await resp.write_eof()
    except (ConnectionResetError, asyncio.CancelledError):
        task.cancel()
    return resp


async def attach(request: web.Request) -> web.StreamResponse:
    """Attach — output served from the log stream: history when ``logs=1`` or the
    container has not started yet, then follow while ``stream=1``; with ``stdin=1`` the
    hijacked connection's input goes to its stdin (``api/attachio.py``)."""
    q = request.query
    eng = engine(request)
    c = eng.get_container(request.match_info["id"])
    relay = attachio.container_input(request, c)
    stdout, stderr = parse.bool_value(q, "stdout"), parse.bool_value(q, "stderr")
    if not (stdout or stderr):
        stdout = stderr = True
    stream = parse.bool_value(q, "stream")
    output = eng.attach(c.id, stdout=stdout, stderr=stderr,
                        logs=parse.bool_value(q, "logs"), stream=stream)
    return await stream_out(request, output, tty=c.config.tty, grace=0, stdin=relay)


async def inspect(request: web.Request) -> web.Response:
    eng = engine(request)
    c = eng.get_container(request.match_info["id"])
    return json_response(render.container_inspect(c, eng.container_endpoints(c),
                                                  request.app[ROOT]))


def _matches(c, f: dict[str, list[str]]) -> bool:
    if "id" in f and not any(c.id.startswith(x) for x in f["id"]):
        return False
    if "name" in f and not any(x.lstrip("/") in c.name for x in f["name"]):
        return False
    if "status" in f and c.status not in f["status"]:
        return False
    if "health" in f and health.filter_value(c.health) not in f["health"]:
        return False
    for lab in f.get("label", []):
        k, eq, v = lab.partition("=")
        if k not in c.config.labels or (eq and c.config.labels[k] != v):
            return False
    return True


async def list_(request: web.Request) -> web.Response:
    eng = engine(request)
    limit = parse.int_value(request.query, "limit", -1) or -1
    show_all = parse.bool_value(request.query, "all") or limit > 0
    f = parse.filters(request.query.get("filters", ""),
                      ("id", "name", "status", "label", "health"))
    for v in f.get("health", []):
        if v not in ("starting", "healthy", "unhealthy", "none"):
            raise InvalidParameter(f"Unrecognised filter value for health: {v}")
    if "status" in f:
        show_all = True
    cs = [c for c in eng.list_containers(all=show_all) if _matches(c, f)]
    cs.sort(key=lambda c: render.parse_iso(c.created), reverse=True)
    if limit > 0:
        cs = cs[:limit]
    return json_response([render.container_summary(c, eng.container_endpoints(c)) for c in cs])


async def logs(request: web.Request) -> web.StreamResponse:
    q = request.query
    eng = engine(request)
    stdout = parse.bool_value(q, "stdout")
    stderr = parse.bool_value(q, "stderr")
    if not (stdout or stderr):
        raise InvalidParameter("Bad parameters: you must choose at least one stream")
    follow = parse.bool_value(q, "follow")
    tail = parse.tail_value(q.get("tail", "all"))
    since = parse.float_value(q, "since")
    until = parse.float_value(q, "until")
    timestamps = parse.bool_value(q, "timestamps")
    c = eng.get_container(request.match_info["id"])
    check_logs(c)                   # log driver "none": Docker's 501
    it = eng.logs(c.id, stdout=stdout, stderr=stderr, follow=follow, tail=tail, since=since,
                  until=until, timestamps=timestamps)
    return await stream_out(request, it, tty=c.config.tty, grace=0)


async def delete(request: web.Request) -> web.Response:
    force = parse.bool_value(request.query, "force")
    eng = engine(request)
    if parse.bool_value(request.query, "link"):     # a link name has a "/": see containerlinks
        await eng.remove_link(request.match_info["id"])
        return web.Response(status=204)
    anon: list[str] = []
    if parse.bool_value(request.query, "v") and hasattr(eng, "remove_volume"):
        c = eng.get_container(request.match_info["id"])
        anon = [spec.split(":")[0] for spec in getattr(c.config, "anon_volumes", [])]
    await eng.remove_container(request.match_info["id"], force=force)
    for name in anon:                    # ?v=1: the container's anonymous volumes go too
        eng.remove_volume(name, force=True)
    return web.Response(status=204)


routes = [
    ("POST", "/containers/create", create),
    ("GET", "/containers/json", list_),
    ("POST", "/containers/{id}/start", start),
    ("POST", "/containers/{id}/stop", stop),
    ("POST", "/containers/{id}/restart", restart),
    ("POST", "/containers/{id}/kill", kill),
    ("POST", "/containers/{id}/wait", wait),
    ("POST", "/containers/{id}/attach", attach),
    ("GET", "/containers/{id}/json", inspect),
    ("GET", "/containers/{id}/logs", logs),
    ("DELETE", "/containers/{id}", delete),
]
