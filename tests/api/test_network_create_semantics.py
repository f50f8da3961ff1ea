"""HTTP layer: ``POST /networks/create`` semantics of API 1.41 that docker-py checks:
``CheckDuplicate`` (only an explicit false allows a second network of a name) and the
``IPAM.Options`` echo (null stays null, a map stays a map, no IPAM shows ``{}``)."""

from __future__ import annotations

from tests.api.helpers import run


def test_check_duplicate_semantics():
    async def body(client, engine):
        r = await client.post("/v1.41/networks/create", json={"Name": "dup"})
        assert r.status == 201
        r = await client.post("/v1.41/networks/create",
                              json={"Name": "dup", "CheckDuplicate": True})
        assert r.status == 409
        assert (await r.json())["message"] == "network with name dup already exists"
        r = await client.post("/v1.41/networks/create", json={"Name": "dup"})
        assert r.status == 409
        r = await client.post("/v1.41/networks/create",
                              json={"Name": "dup", "CheckDuplicate": False})
        assert r.status == 201
        assert sum(n.name == "dup" for n in engine.networks) == 2
        r = await client.post("/v1.41/networks/create",
                              json={"Name": "x", "CheckDuplicate": "no"})
        assert r.status == 400
    run(body)


def test_ipam_options_echo():
    async def body(client, engine):
        cases = {"n-null": {"Driver": "default", "Config": [], "Options": None},
                 "n-map": {"Driver": "default", "Config": [], "Options": {"a": "b"}},
                 "n-absent": None}
        for name, ipam in cases.items():
            req = {"Name": name} if ipam is None else {"Name": name, "IPAM": ipam}
            assert (await client.post("/networks/create", json=req)).status == 201
        got = {n: (await (await client.get(f"/networks/{n}")).json())["IPAM"]["Options"]
               for n in cases}
        assert got == {"n-null": None, "n-map": {"a": "b"}, "n-absent": {}}
        r = await client.post("/networks/create",
                              json={"Name": "bad", "IPAM": {"Options": {"a": 1}}})
        assert r.status == 400
    run(body)
