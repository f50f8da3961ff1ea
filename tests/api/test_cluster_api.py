"""Issue 7 HTTP surface: /info's ClusterStore/ClusterAdvertise (+ CoveCluster), the
``/cove/nodes`` route (503 without a cluster), Scope "global" of overlay networks."""

from __future__ import annotations

from cove.api import render
from cove.network.overlaynet import network_from_record
from tests.api.helpers import run

NODES = {"NodeID": "n1", "State": "ready", "Error": "", "Conflicts": {},
         "Nodes": [{"ID": "n1", "Name": "h1", "Address": "192.0.2.1", "State": "ready",
                    "Self": True}]}


def test_without_a_cluster_info_fields_are_empty_and_nodes_is_503():
    async def body(client, engine):
        i = await (await client.get("/info")).json()
        assert i["ClusterStore"] == "" and i["ClusterAdvertise"] == ""
        assert i["CoveCluster"] is None
        r = await client.get("/cove/nodes")
        assert r.status == 503
        assert "start coved with --cluster-store" in (await r.json())["message"]
    run(body)


def test_with_a_cluster_info_and_nodes_show_it():
    async def body(client, engine):
        engine.cluster = {"store": "etcd://192.0.2.254:2379", "advertise": "192.0.2.1",
                          "cove": NODES}
        i = await (await client.get("/v1.41/info")).json()
        assert i["ClusterStore"] == "etcd://192.0.2.254:2379"
        assert i["ClusterAdvertise"] == "192.0.2.1"
        assert i["CoveCluster"]["Nodes"][0]["Address"] == "192.0.2.1"
        r = await client.get("/cove/nodes")
        assert r.status == 200 and (await r.json()) == NODES
    run(body)


def test_overlay_networks_are_global_scope():
    net = network_from_record({"id": "b" * 64, "name": "ov", "vni": 4096,
                               "subnets": [{"subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}]})
    doc = render.network_inspect(net, [])
    assert doc["Scope"] == "global" and doc["Driver"] == "overlay" and doc["Attachable"]
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.0.0.0/24", "Gateway": "10.0.0.1"}]
