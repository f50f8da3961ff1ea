"""HTTP layer of issue 5: HostConfig resources in create/inspect, the stats shape."""

from __future__ import annotations

from tests.api.helpers import run

BODY = {"Image": "busybox", "Cmd": ["sleep", "100"], "HostConfig": {
    "Binds": ["/a:/b:ro"], "Tmpfs": {"/t": "size=1m"}, "ReadonlyRootfs": True, "Init": True,
    "Privileged": True, "Memory": 33554432, "NanoCpus": 500000000, "CpuShares": 512,
    "PidsLimit": 10}}


def test_create_and_inspect_host_resources():
    async def body(client, engine):
        r = await client.post("/containers/create", json=BODY)
        assert r.status == 201
        cfg = engine.calls[0][1]
        assert (cfg.binds, cfg.tmpfs, cfg.read_only, cfg.init, cfg.privileged, cfg.memory,
                cfg.nano_cpus, cfg.cpu_shares, cfg.pids_limit) == (
            ["/a:/b:ro"], {"/t": "size=1m"}, True, True, True, 32 << 20, 500_000_000, 512, 10)
        hc = (await (await client.get(f"/containers/{(await r.json())['Id']}/json")).json())[
            "HostConfig"]
        for k, v in BODY["HostConfig"].items():
            assert hc[k] == v, k
    run(body)


def test_bad_host_resource_types_are_400():
    async def body(client, engine):
        for hc in ({"Binds": "/a:/b"}, {"Memory": "32m"}, {"Tmpfs": ["/t"]},
                   {"Privileged": "yes"}, {"PidsLimit": 1.5}):
            r = await client.post("/containers/create", json={"Image": "busybox",
                                                             "HostConfig": hc})
            assert r.status == 400, hc
    run(body)


def test_stats_one_shot_and_stream_false_shape():
    async def body(client, engine):
        r = await client.post("/containers/create", json={"Image": "busybox",
                                                         "Cmd": ["sleep", "9"]})
        cid = (await r.json())["Id"]
        await client.post(f"/containers/{cid}/start")
        r = await client.get(f"/v1.41/containers/{cid}/stats?stream=false&one-shot=true")
        s = await r.json()
        assert r.status == 200
        assert s["cpu_stats"]["cpu_usage"]["total_usage"] == 5 * 10**8
        assert s["precpu_stats"]["cpu_usage"]["total_usage"] == 0
        assert s["memory_stats"]["usage"] == 4 << 20 and s["memory_stats"]["limit"] == 32 << 20
        assert s["pids_stats"] == {"current": 1, "limit": 10}
        assert s["name"].startswith("/") and s["id"] == cid
        r = await client.get(f"/containers/{cid}/stats?stream=true&one-shot=true")
        assert r.status == 400
        r = await client.get("/containers/nope/stats?stream=false")
        assert r.status == 404
    run(body)


def test_paused_state_rendered():
    async def body(client, engine):
        r = await client.post("/containers/create", json={"Image": "busybox",
                                                         "Cmd": ["sleep", "9"]})
        cid = (await r.json())["Id"]
        await client.post(f"/containers/{cid}/start")
        await engine.pause_container(cid)
        st = (await (await client.get(f"/containers/{cid}/json")).json())["State"]
        assert st["Status"] == "paused" and st["Paused"] and st["Running"]
    run(body)


def test_image_load_save_delete_routes():
    async def body(client, engine):
        r = await client.post("/v1.41/images/load", data=b'["multi:v1"]',
                              headers={"Content-Type": "application/x-tar"})
        assert r.status == 200
        assert (await r.text()).strip() == '{"stream": "Loaded image: multi:v1\\n"}'
        r = await client.post("/images/load", data=b"not json")
        assert r.status == 400 and "invalid docker archive" in (await r.json())["message"]
        r = await client.get("/images/get?names=multi:v1&names=busybox")
        assert r.status == 200 and r.headers["Content-Type"] == "application/x-tar"
        assert (await r.read()).count(b"sha256:") == 2
        r = await client.get("/images/multi:v1/get")
        assert r.status == 200
        r = await client.get("/images/get?names=nope")
        assert r.status == 404
        r = await client.delete("/images/multi:v1")
        assert r.status == 200 and (await r.json())[0] == {"Untagged": "multi:v1"}
        r = await client.delete("/images/multi:v1")
        assert r.status == 404
    run(body)
