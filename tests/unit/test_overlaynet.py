"""Issue 7 wiring, pure parts: overlay network records, subnets, endpoint records, the
peer table's network tracking, the lease keeper's unreachable-vs-lost rule, node rows."""

from __future__ import annotations

import json
import threading
import time

from cove.cli.nodes import node_rows
from cove.cluster.keys import Keys
from cove.cluster.peers import Peer, PeerTable
from cove.errors import NotFound, Unavailable
from cove.kernel.vxlan import PeerEntry
from cove.network.drivers.overlay import VNI_OPTION, vni_of
from cove.network.model import Endpoint
from cove.network.overlaynet import (
    choose_overlay_subnet,
    endpoint_record,
    group_entries,
    network_from_record,
    reserved_addresses,
)
from cove.network.userdefined import is_user_network
from cove.store.etcd import EtcdClient, LeaseKeeper, b64, kv_from_json

REC = {"id": "a" * 64, "name": "web", "vni": 4097, "created": "2026-01-01T00:00:00Z",
       "subnets": [{"subnet": "10.0.3.0/24", "gateway": "10.0.3.1", "ip_range": "",
                    "aux": {"r": "10.0.3.9"}}],
       "internal": True, "labels": {"l": "1"}, "options": {"o": "v"}, "user_subnet": True}


def test_network_from_record_is_a_global_user_network_with_its_vni():
    n = network_from_record(REC)
    assert (n.driver, n.name, n.subnet, n.gateway, n.internal) == (
        "overlay", "web", "10.0.3.0/24", "10.0.3.1", True)
    assert vni_of(n) == 4097 and n.options[VNI_OPTION] == "4097" and n.options["o"] == "v"
    assert n.ipam["Config"][0]["AuxiliaryAddresses"] == {"r": "10.0.3.9"}
    assert is_user_network(n)
    assert reserved_addresses(n) == {"10.0.3.0", "10.0.3.255", "10.0.3.1", "10.0.3.9"}


def test_overlay_subnets_come_from_10_0_0_0_8_without_overlap():
    assert choose_overlay_subnet([]) == "10.0.0.0/24"
    assert choose_overlay_subnet(["10.0.0.0/24", "10.0.1.0/24"]) == "10.0.2.0/24"
    assert choose_overlay_subnet(["10.0.0.0/23", "172.17.0.0/16"]) == "10.0.2.0/24"
    assert choose_overlay_subnet(["10.0.0.0/16"]) == "10.1.0.0/24"


def test_endpoint_record_and_grouping_for_the_data_plane():
    ep = Endpoint(id="e" * 64, network_id="n1", container_id="c" * 64, ip="10.0.3.2",
                  mac="02:42:0a:00:03:02", aliases=["db"])
    rec = endpoint_record(ep, "192.0.2.1", "node1", "b1")
    assert rec == {"ip": "10.0.3.2", "mac": "02:42:0a:00:03:02", "vtep": "192.0.2.1",
                   "node": "node1", "container": "c" * 64, "name": "b1", "aliases": ["db"]}
    peers = [Peer("n1", "e1", "10.0.3.2", "m1", "192.0.2.1", "A"),
             Peer("n2", "e2", "10.0.4.2", "m2", "192.0.2.2", "B"),
             Peer("n2", "e3", "", "", "", "B")]                      # incomplete: skipped
    assert group_entries(peers) == {"n1": {PeerEntry("10.0.3.2", "m1", "192.0.2.1")},
                                    "n2": {PeerEntry("10.0.4.2", "m2", "192.0.2.2")}}


def _kv(key: str, rec: dict):
    return kv_from_json({"key": b64(key), "value": b64(json.dumps(rec)), "mod_revision": "1"})


def test_peer_table_tracks_networks_and_names_of_remote_containers():
    from cove.store.etcdwatch import event_from_json

    nets: list[dict] = []
    relisted: list[int] = []
    t = PeerTable(EtcdClient("127.0.0.1:1"), local_node="me", keys=Keys("/c"),
                  on_networks=nets.append, on_snapshot=lambda: relisted.append(1))
    ep = {"ip": "10.0.0.2", "mac": "m", "vtep": "192.0.2.2", "node": "B",
          "container": "cid", "name": "b2", "aliases": ["x"]}
    t._snapshot([_kv("/c/networks/n1", {"id": "n1", "name": "web"}),
                 _kv("/c/endpoints/n1/e1", ep)], 3)
    assert nets[-1] == {"n1": {"id": "n1", "name": "web"}} and relisted == [1]
    p = t.for_network("n1")[0]
    assert (p.container, p.name, p.aliases) == ("cid", "b2", ("x",))
    t._events([event_from_json({"type": "DELETE", "kv": {"key": b64("/c/networks/n1")}})])
    assert nets[-1] == {} and t.networks == {}
    n = len(nets)
    t._events([event_from_json({"type": "DELETE", "kv": {"key": b64("/c/endpoints/n1/e1")}})])
    assert len(nets) == n                     # an endpoint change is not a network change


class _FakeClient:
    """keepalive answers from a script: a number (TTL), or an exception to raise."""

    timeout = 0.2

    def __init__(self, script):
        self.script = list(script)
        self.calls = 0

    def lease_keepalive(self, lease: int) -> int:
        self.calls += 1
        item = self.script.pop(0) if self.script else self.script_last
        if isinstance(item, Exception):
            raise item
        return item


def test_lease_keeper_without_fence_on_unreachable_waits_for_etcd_to_say_gone():
    lost = threading.Event()
    c = _FakeClient([Unavailable("down")] * 8)
    c.script_last = Unavailable("down")
    k = LeaseKeeper(c, 1, 1, lost.set, fence_unreachable=False)
    k.deadline = time.monotonic() - 1            # the deadline has passed
    k.start()
    time.sleep(0.8)
    assert not lost.is_set() and k.overdue       # unreachable: not a loss by itself
    c.script, c.script_last = [], NotFound("requested lease not found")
    assert lost.wait(2)                          # etcd says the lease is gone: fence
    k.stop()


def test_lease_keeper_overdue_clears_when_etcd_answers_with_a_live_lease():
    lost = threading.Event()
    c = _FakeClient([Unavailable("down")])
    c.script_last = 5
    k = LeaseKeeper(c, 1, 1, lost.set, fence_unreachable=False)
    k.deadline = time.monotonic() - 1
    k.start()
    deadline = time.monotonic() + 2
    while c.calls < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not lost.is_set() and not k.overdue
    k.stop()


def test_node_rows_mark_this_node():
    out = node_rows([{"ID": "n1", "Name": "h1", "Address": "192.0.2.1", "State": "ready",
                      "Self": True},
                     {"ID": "n2", "Name": "h2", "Address": "192.0.2.2", "State": "ready"}])
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "ADDRESS", "STATE"]
    assert lines[1].split() == ["n1", "*", "h1", "192.0.2.1", "ready"]
    assert lines[2].split() == ["n2", "h2", "192.0.2.2", "ready"]


def test_overlay_without_a_cluster_store_is_a_clear_error(tmp_path):
    import pytest

    from cove.errors import InvalidParameter
    from cove.network.controller import NetworkController
    from cove.store.sqlite import Store

    store = Store(tmp_path / "db")
    try:
        ctrl = NetworkController(store, str(tmp_path))
        with pytest.raises(InvalidParameter, match="overlay networks need a cluster store: "
                                                   "start coved with --cluster-store"):
            ctrl.create_network("ov", driver="overlay")
        assert ctrl.networks() == [] and ctrl.remote_dns_entries() == []
        assert ctrl.cluster_info() == {}
    finally:
        store.close()
