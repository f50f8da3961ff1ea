"""GET /events against the fake engine: shapes, since/until, filters, live streaming."""

from __future__ import annotations

import asyncio
import json
import time

from cove.engine import events
from cove.engine.model import Container, ContainerConfig
from cove.network.model import Network
from tests.api.helpers import run


def _ctr(name: str = "web", labels: dict | None = None) -> Container:
    return Container(id=name[0] * 64, name=name, created="",
                     config=ContainerConfig(image="busybox", labels=labels or {}),
                     image_id="sha256:" + "b" * 64)


def _lines(text: str) -> list[dict]:
    return [json.loads(x) for x in text.splitlines() if x]


def test_past_events_shapes_since_until():
    async def body(client, engine):
        t0 = time.time()
        c = _ctr(labels={"team": "a"})
        events.container(engine, c, "create")
        events.container(engine, c, "die", exitCode="3")
        net = Network(id="n" * 64, name="front", driver="bridge")
        events.network(engine, net, "connect", c.id)
        until = f"{time.time() + 0.001:.9f}"
        r = await client.get(f"/v1.41/events?since={t0:.9f}&until={until}")
        assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
        evs = _lines(await r.text())
        assert [e["Action"] for e in evs] == ["create", "die", "connect"]
        create, die, conn = evs
        assert create == {
            "status": "create", "id": c.id, "from": "busybox", "Type": "container",
            "Action": "create",
            "Actor": {"ID": c.id, "Attributes": {"team": "a", "image": "busybox",
                                                 "name": "web"}},
            "scope": "local", "time": create["time"], "timeNano": create["timeNano"]}
        assert create["time"] == create["timeNano"] // 10**9 >= int(t0)
        assert die["Actor"]["Attributes"]["exitCode"] == "3"
        assert conn == {"Type": "network", "Action": "connect",
                        "Actor": {"ID": net.id, "Attributes": {
                            "name": "front", "type": "bridge", "container": c.id}},
                        "scope": "local", "time": conn["time"], "timeNano": conn["timeNano"]}
        # since after the first event leaves it out; until before the last cuts it
        mid = create["timeNano"] + 1
        r = await client.get(f"/events?since={mid // 10**9}.{mid % 10**9:09d}"
                             f"&until={until}")
        assert [e["Action"] for e in _lines(await r.text())] == ["die", "connect"]
    run(body)


def test_filters():
    async def body(client, engine):
        t0 = f"{time.time():.9f}"
        web, db = _ctr("web", {"tier": "front"}), _ctr("db")
        for c in (web, db):
            events.container(engine, c, "start")
        rec = type("R", (), {"id": "e" * 64, "cmd": ["sh", "-c", "true"]})()
        events.exec_event(engine, web, "exec_create", rec)
        events.network(engine, Network(id="n" * 64, name="front", driver="bridge"),
                       "create")
        until = f"{time.time() + 0.001:.9f}"

        async def actions(flt: dict) -> list[str]:
            r = await client.get("/events", params={"since": t0, "until": until,
                                                    "filters": json.dumps(flt)})
            assert r.status == 200, await r.text()
            return [e["Action"] for e in _lines(await r.text())]

        assert await actions({"type": ["network"]}) == ["create"]
        assert await actions({"container": ["db"]}) == ["start"]
        assert await actions({"container": ["w"]}) == ["start", "exec_create: sh -c true"]
        assert await actions({"event": ["exec_create"]}) == ["exec_create: sh -c true"]
        assert await actions({"label": ["tier=front"], "event": {"start": True}}) == ["start"]
        assert await actions({"image": ["busybox:latest"]}) == []
        assert len(await actions({"image": ["busybox"]})) == 3
        assert await actions({"network": ["front"]}) == ["create"]
        r = await client.get("/events", params={"filters": '{"bogus": ["x"]}'})
        assert r.status == 400
        r = await client.get("/events", params={"since": "yesterday"})
        assert r.status == 400
        r = await client.get("/events", params={"since": "20", "until": "10"})
        assert r.status == 400 and "cannot be after" in (await r.json())["message"]
    run(body)


def test_live_stream_until_in_the_future():
    async def body(client, engine):
        until = time.time() + 1.0
        r = await client.get(f"/events?until={until:.9f}",
                             params={"filters": json.dumps({"type": ["container"]})})
        assert r.status == 200                      # headers come before any event
        await asyncio.sleep(0.05)
        c = _ctr()
        events.network(engine, Network(id="n" * 64, name="x", driver="bridge"), "create")
        events.container(engine, c, "kill", signal="15")
        first = json.loads(await asyncio.wait_for(r.content.readline(), 2))
        assert first["Action"] == "kill" and first["Actor"]["Attributes"]["signal"] == "15"
        rest = await asyncio.wait_for(r.content.read(), 3)   # ends at `until`
        assert rest == b""
        assert time.time() >= until - 0.05
        assert engine.events._subs == []             # the subscription is gone
    run(body)


def test_ring_buffer_keeps_the_last_events():
    bus = events.EventBus(capacity=3)
    for i in range(5):
        bus.publish("network", "create", str(i))
    got = [e["Actor"]["ID"] for e in bus.recent()]
    assert got == ["2", "3", "4"]
    ns = [e["timeNano"] for e in bus.recent()]
    assert ns == sorted(set(ns))                    # strictly increasing
