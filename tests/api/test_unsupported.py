"""Issue 6: routes cove does not implement answer clear JSON errors, never a 5xx."""

from __future__ import annotations

from tests.api.helpers import run


def test_swarm_plugins_and_unknown_routes():
    async def body(client, engine):
        r = await client.post("/v1.41/swarm/leave?force=1")
        assert r.status == 503
        assert r.headers["Content-Type"] == "application/json"
        assert await r.json() == {"message": "This node is not part of a swarm"}
        for path in ("/services", "/v1.41/nodes", "/secrets/x", "/tasks"):
            r = await client.get(path)
            assert r.status == 503, path
            assert "not part of a swarm" in (await r.json())["message"]
        r = await client.get("/plugins")
        assert (r.status, await r.json()) == (200, [])
        r = await client.get("/plugins/foo/json")
        assert (r.status, await r.json()) == (404, {"message": 'plugin "foo" not found'})
        r = await client.post("/build")
        assert r.status == 501 and "does not implement" in (await r.json())["message"]
        r = await client.get("/no/such/route")
        assert (r.status, await r.json()) == (404, {"message": "page not found"})
        r = await client.get("/v9.99/version")
        assert r.status == 400 and "too new" in (await r.json())["message"]
    run(body)
