"""Pure parts of the etcd client, the watch state machine and the cluster logic."""

from __future__ import annotations

import base64
import json

import pytest

from cove.cluster.ipam import pool_hosts
from cove.cluster.keys import Keys
from cove.cluster.networks import VNI_MIN, lowest_free_vni, overlapping
from cove.cluster.peers import Peer, PeerTable
from cove.errors import InvalidParameter, NotFound, SystemFailure, Unavailable
from cove.store.etcd import (
    KV,
    EtcdClient,
    b64,
    cmp_mod,
    cmp_version,
    error_from_reply,
    kv_from_json,
    op_delete,
    op_put,
    parse_endpoints,
    prefix_end,
    unb64,
)
from cove.store.etcdwatch import DELIVER, NOTHING, RELIST, RESUME, WatchState


def test_base64_and_prefix_end():
    assert b64("/cove/v1/") == base64.b64encode(b"/cove/v1/").decode()
    assert unb64(b64(b"\x00\xff")) == b"\x00\xff" and unb64(None) == b"" and unb64("") == b""
    assert prefix_end("/a/") == b"/a0"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") == b"\0"


def test_kv_from_gateway_json_with_defaults_left_out():
    kv = kv_from_json({"key": b64("/k"), "create_revision": "5", "mod_revision": "7",
                       "version": "2"})                      # no value, no lease
    assert kv == KV("/k", b"", 5, 7, 2, 0)
    assert kv_from_json({"key": b64("/j"), "value": b64('{"a": 1}')}).json() == {"a": 1}


def test_txn_building_blocks_have_the_gateway_shape():
    assert cmp_version("/k", 0) == {"key": b64("/k"), "target": "VERSION", "result": "EQUAL",
                                    "version": "0"}
    assert cmp_mod("/k", 12)["mod_revision"] == "12"
    put = op_put("/k", {"b": 1, "a": 2}, lease=0x10)
    assert put == {"request_put": {"key": b64("/k"), "value": b64('{"a":2,"b":1}'),
                                   "lease": "16"}}
    assert op_delete("/p/", prefix=True)["request_delete_range"]["range_end"] == b64(b"/p0")


def test_endpoints_parsing():
    assert parse_endpoints("etcd://h1:1,h2:2") == [("h1", 1), ("h2", 2)]
    assert parse_endpoints(["http://10.0.0.1:2379", "h3"]) == [("10.0.0.1", 2379), ("h3", 2379)]
    for bad in ("consul://h:1", "etcd://", "etcd://h:notaport"):
        with pytest.raises(InvalidParameter):
            parse_endpoints(bad)
    assert EtcdClient("a:1,b:2").endpoint_order() == [("a", 1), ("b", 2)]


def test_gateway_errors_map_to_the_cove_tree():
    assert isinstance(error_from_reply(404, {"code": 5, "message": "lease not found"}, "x"),
                      NotFound)
    assert isinstance(error_from_reply(400, {"code": 3, "message": "bad"}, "x"),
                      InvalidParameter)
    assert isinstance(error_from_reply(503, {"code": 14, "message": "no leader"}, "x"),
                      Unavailable)
    err = error_from_reply(500, {"code": 11, "message": "compacted"}, "cannot read /k")
    assert isinstance(err, SystemFailure) and err.message == "cannot read /k: compacted"


def _ev(kind: str | None, key: str, rev: int, prev: str | None = None) -> dict:
    ev = {"kv": {"key": b64(key), "value": b64("v"), "mod_revision": str(rev)}}
    if kind:
        ev["type"] = kind
    if prev is not None:
        ev["prev_kv"] = {"key": b64(key), "value": b64(prev)}
    return ev


def test_watch_state_machine():
    st = WatchState("/p/")
    assert st.broken("x").action == RELIST                   # never listed: list first
    st.listed(10)
    req = st.create_request()["create_request"]
    assert req["start_revision"] == "11" and req["prev_kv"] and req["progress_notify"]
    assert unb64(req["key"]) == b"/p/" and unb64(req["range_end"]) == b"/p0"
    assert st.feed({"result": {"created": True, "watch_id": "3",
                               "header": {"revision": "15"}}}).action == NOTHING
    assert st.next_rev == 11                                 # created is not progress
    step = st.feed({"result": {"events": [_ev(None, "/p/a", 12),
                                          _ev("DELETE", "/p/b", 13, prev="old")]}})
    assert step.action == DELIVER
    assert [(e.type, e.kv.key) for e in step.events] == [("put", "/p/a"), ("delete", "/p/b")]
    assert step.events[1].prev.value == b"old" and st.next_rev == 14
    st.feed({"result": {"header": {"revision": "20"}}})      # progress notify
    assert st.next_rev == 21
    assert st.broken("reset").action == RESUME
    assert st.create_request()["create_request"]["start_revision"] == "21"
    assert st.feed({"error": {"message": "transport closing"}}).action == RESUME
    step = st.feed({"result": {"canceled": True, "compact_revision": "30"}})
    assert step.action == RELIST and "compacted at revision 30" in step.reason
    assert st.next_rev == 0 and st.broken("x").action == RELIST


def test_cluster_pure_helpers():
    assert lowest_free_vni(set()) == VNI_MIN
    assert lowest_free_vni({VNI_MIN, VNI_MIN + 1, VNI_MIN + 3}) == VNI_MIN + 2
    existing = [{"name": "a", "subnets": [{"subnet": "10.0.0.0/16"}]}]
    assert overlapping(["10.0.1.0/24"], existing) == "a"
    assert overlapping(["10.1.0.0/24"], existing) is None
    assert pool_hosts("10.0.0.0/29", {"10.0.0.1"}) == [f"10.0.0.{i}" for i in range(2, 7)]
    k = Keys("/x")
    assert k.claim("n", "10.0.0.2") == "/x/ipam/n/10.0.0.2"
    assert k.split("/x/endpoints/n/e") == ("endpoints", "n", "e") and k.split("/y/z") == ()


def test_peer_table_diffs_snapshots_and_events():
    from cove.store.etcd import kv_from_json as kvj
    from cove.store.etcdwatch import event_from_json

    keys = Keys("/c")
    seen: list[tuple[list[Peer], list[Peer]]] = []
    t = PeerTable(EtcdClient("127.0.0.1:1"), local_node="me", keys=keys,
                  on_change=lambda a, r: seen.append((a, r)))

    def kv(key: str, rec: dict) -> KV:
        return kvj({"key": b64(key), "value": b64(json.dumps(rec)), "mod_revision": "1"})

    ep = {"ip": "10.0.0.2", "mac": "m2", "vtep": "192.0.2.2", "node": "B"}
    t._snapshot([kv("/c/endpoints/n/e1", ep), kv("/c/nodes/B", {"vtep": "192.0.2.2"}),
                 kv("/c/endpoints/n/mine", dict(ep, node="me")), kv("/c/ipam/n/x", {})], 5)
    assert [p.endpoint for p in t.for_network("n")] == ["e1"] and set(t.nodes) == {"B"}
    assert [p.endpoint for p in seen[-1][0]] == ["e1"] and seen[-1][1] == []
    # the same snapshot again reports nothing; a moved IP is removed then added
    n = len(seen)
    t._snapshot([kv("/c/endpoints/n/e1", ep), kv("/c/nodes/B", {})], 6)
    assert len(seen) == n
    moved = dict(ep, vtep="192.0.2.3")
    t._events([event_from_json({"kv": {"key": b64("/c/endpoints/n/e1"),
                                       "value": b64(json.dumps(moved))}})])
    added, removed = seen[-1]
    assert [p.vtep for p in removed] == ["192.0.2.2"] and [p.vtep for p in added] == ["192.0.2.3"]
    t._events([event_from_json({"type": "DELETE", "kv": {"key": b64("/c/endpoints/n/e1")}}),
               event_from_json({"type": "DELETE", "kv": {"key": b64("/c/nodes/B")}})])
    assert seen[-1] == ([], [Peer("n", "e1", "10.0.0.2", "m2", "192.0.2.3", "B")])
    assert t.for_network("n") == [] and t.nodes == {}
