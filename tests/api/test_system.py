"""HTTP layer: ping, version, info, version prefixes, error shapes."""

from __future__ import annotations

from tests.api.helpers import JSON, run


def test_ping_get_and_head():
    async def body(client, engine):
        r = await client.get("/_ping")
        assert r.status == 200
        assert await r.text() == "OK"
        assert r.headers["Api-Version"] == "1.41"
        assert r.headers["Ostype"] == "linux"
        assert r.headers["Server"].startswith("cove/")
        r = await client.head("/_ping")
        assert r.status == 200 and r.headers["Api-Version"] == "1.41"
        r = await client.get("/v1.41/_ping")
        assert r.status == 200
    run(body)


def test_version_shape():
    async def body(client, engine):
        r = await client.get("/v1.24/version")
        v = await r.json()
        assert v["ApiVersion"] == "1.41" and v["MinAPIVersion"] == "1.24"
        assert v["Os"] == "linux" and v["Arch"] and v["KernelVersion"]
        assert v["Components"][0]["Name"] == "Engine"
    run(body)


def test_version_too_new_and_too_old():
    async def body(client, engine):
        r = await client.get("/v1.50/version")
        assert r.status == 400
        assert (await r.json())["message"] == (
            "client version 1.50 is too new. Maximum supported API version is 1.41")
        r = await client.get("/v1.12/containers/json")
        assert r.status == 400
        assert "too old" in (await r.json())["message"]
    run(body)


def test_info_shape():
    async def body(client, engine):
        i = await (await client.get("/info")).json()
        for key in ("ID", "Containers", "ContainersRunning", "ContainersPaused",
                    "ContainersStopped", "Images", "Driver", "DockerRootDir", "Name",
                    "KernelVersion", "OperatingSystem", "NCPU", "MemTotal", "Runtimes",
                    "DefaultRuntime", "ServerVersion"):
            assert key in i, key
        assert i["Driver"] == "overlay2" and i["Images"] == 1
        assert i["Runtimes"] == {"native": {"path": "native"}, "runc": {"path": "runc"}}
        assert i["DefaultRuntime"] == "native" and i["MemTotal"] > 0 and i["NCPU"] >= 1
    run(body)


def test_unknown_route_is_404_page_not_found():
    async def body(client, engine):
        for path in ("/nope", "/v1.41/containers/x/frobnicate"):
            r = await client.get(path)
            assert r.status == 404
            assert await r.json() == {"message": "page not found"}
    run(body)


def test_bad_json_and_content_type_are_400():
    async def body(client, engine):
        r = await client.post("/containers/create", data="{not json", headers=JSON)
        assert r.status == 400 and "invalid JSON" in (await r.json())["message"]
        r = await client.post("/containers/create", data='{"Image":"busybox"}',
                              headers={"Content-Type": "text/plain"})
        assert r.status == 400
        assert (await r.json())["message"] == (
            "unsupported Content-Type header (text/plain): must be 'application/json'")
        r = await client.post("/containers/create", data="[1,2]", headers=JSON)
        assert r.status == 400
        r = await client.post("/containers/create", json={"Image": "busybox", "Env": "A=1"})
        assert r.status == 400 and "Env" in (await r.json())["message"]
        r = await client.post("/containers/create", json={"Cmd": ["true"]})
        assert r.status == 400
        assert engine.calls == []          # validation happened before the engine
    run(body)


def test_unexpected_exception_is_500_with_message():
    async def body(client, engine):
        def boom():
            raise RuntimeError("kaboom")
        engine.info = boom
        r = await client.get("/info")
        assert r.status == 500
        assert "kaboom" in (await r.json())["message"]
    run(body)
