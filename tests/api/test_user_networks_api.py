"""HTTP layer of issue 4: network create/remove/prune/connect/disconnect, endpoint
options of container create (against the fake engine)."""

from __future__ import annotations

from cove.api import parse
from tests.api.helpers import JSON, run


def test_network_create_inspect_remove():
    async def body(client, engine):
        r = await client.post("/networks/create", json={
            "Name": "n1", "Driver": "bridge", "Internal": True, "Labels": {"a": "b"},
            "IPAM": {"Config": [{"Subnet": "10.5.0.0/24", "Gateway": "10.5.0.1"}]}})
        assert r.status == 201
        out = await r.json()
        assert set(out) == {"Id", "Warning"} and len(out["Id"]) == 64
        d = await (await client.get("/networks/n1")).json()
        assert d["Internal"] is True and d["Labels"] == {"a": "b"}
        r = await client.post("/networks/create", json={"Name": "n1"})
        assert r.status == 409
        assert (await r.json())["message"] == "network with name n1 already exists"
        r = await client.post("/networks/create", data=b"{}", headers=JSON)
        assert r.status == 400
        assert (await client.delete("/networks/n1")).status == 204
        assert (await client.delete("/networks/n1")).status == 404
    run(body)


def test_network_prune_connect_disconnect():
    async def body(client, engine):
        await client.post("/networks/create", json={"Name": "keep"})
        await client.post("/networks/create", json={"Name": "gone"})
        r = await client.post("/containers/create?name=c1", json={"Image": "busybox"})
        assert r.status == 201
        r = await client.post("/networks/keep/connect", json={
            "Container": "c1", "EndpointConfig": {"Aliases": ["x"],
                                                  "IPAMConfig": {"IPv4Address": "10.0.0.9"}}})
        assert r.status == 200
        r = await client.post("/networks/keep/connect", json={"Container": "c1"})
        assert r.status == 409
        r = await client.post("/networks/keep/connect", json={})
        assert r.status == 400
        out = await (await client.post("/networks/prune")).json()
        assert "gone" in out["NetworksDeleted"] and "keep" not in out["NetworksDeleted"]
        r = await client.post("/networks/keep/disconnect", json={"Container": "c1"})
        assert r.status == 200
        r = await client.post("/networks/keep/disconnect", json={"Container": "c1"})
        assert r.status == 403
    run(body)


def test_create_body_endpoint_config():
    cfg = parse.create_body({
        "Image": "busybox", "HostConfig": {"NetworkMode": "n1"},
        "NetworkingConfig": {"EndpointsConfig": {"n1": {
            "IPAMConfig": {"IPv4Address": "10.0.0.5"}, "Aliases": ["a", "b"],
            "MacAddress": "02:42:0A:00:00:05"}}}})
    assert cfg.network_mode == "n1"
    assert cfg.endpoint_config == {"IPAMConfig": {"IPv4Address": "10.0.0.5"},
                                   "Aliases": ["a", "b"], "MacAddress": "02:42:0a:00:00:05"}
    import pytest

    from cove.errors import InvalidParameter
    for bad in ({"IPAMConfig": {"IPv4Address": "10.0.0.500"}}, {"MacAddress": "zz"}):
        with pytest.raises(InvalidParameter):
            parse.create_body({"Image": "busybox", "HostConfig": {"NetworkMode": "n1"},
                               "NetworkingConfig": {"EndpointsConfig": {"n1": bad}}})


def test_network_create_body_options():
    kw = parse.network_create_body({
        "Name": "n", "Internal": True, "Options": {"com.docker.network.driver.mtu": "1400"},
        "IPAM": {"Config": [{"Subnet": "10.1.0.0/24", "IPRange": "10.1.0.0/25",
                             "Gateway": "10.1.0.1", "AuxiliaryAddresses": {"r": "10.1.0.2"}}]}})
    assert kw == {"name": "n", "driver": "bridge", "subnet": "10.1.0.0/24",
                  "gateway": "10.1.0.1", "ip_range": "10.1.0.0/25",
                  "aux_addresses": {"r": "10.1.0.2"}, "internal": True,
                  "options": {"com.docker.network.driver.mtu": "1400"}, "labels": {},
                  "enable_ipv6": False, "ipv6_pool": None, "check_duplicate": True,
                  "ipam_options": None}
