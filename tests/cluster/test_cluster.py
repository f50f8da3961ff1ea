"""cove.cluster against a real etcd: global IPAM, networks/VNIs, membership, peers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from cove.cluster.ipam import GlobalIpam, Reaper
from cove.cluster.keys import Keys
from cove.cluster.membership import Membership
from cove.cluster.networks import VNI_MIN, GlobalNetworks
from cove.cluster.peers import PeerTable
from cove.errors import Conflict, CoveError, SystemFailure, Unavailable
from cove.store.etcd import EtcdClient


def _wait(cond, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def _client(etcd_server) -> EtcdClient:
    return EtcdClient(etcd_server.endpoint, timeout=3.0)


def test_concurrent_claims_never_give_an_address_twice(etcd_server, prefix):
    keys = Keys(prefix)
    net = "n" * 64
    nodes, per_node = 4, 12
    barrier = threading.Barrier(nodes)

    def node(i: int) -> list[str]:
        ipam = GlobalIpam(_client(etcd_server), f"node{i}", keys)
        barrier.wait()
        return [ipam.claim(net, "10.50.0.0/26", f"ep{i}-{j}", reserved={"10.50.0.1"})
                for j in range(per_node)]

    with ThreadPoolExecutor(nodes) as pool:
        got = [ip for ips in pool.map(node, range(nodes)) for ip in ips]
    assert len(got) == nodes * per_node == len(set(got))
    assert "10.50.0.1" not in got
    claims = GlobalIpam(_client(etcd_server), "x", keys).claims(net)
    assert set(claims) == set(got)
    assert sorted({c["node"] for c in claims.values()}) == [f"node{i}" for i in range(nodes)]


def test_concurrent_claims_of_a_small_pool_exhaust_cleanly(etcd_server, prefix):
    keys = Keys(prefix)
    barrier = threading.Barrier(3)

    def node(i: int) -> list:
        ipam = GlobalIpam(_client(etcd_server), f"node{i}", keys)
        barrier.wait()
        out = []
        for j in range(3):
            try:
                out.append(ipam.claim("net", "10.51.0.0/29", f"ep{i}{j}"))
            except SystemFailure as exc:
                out.append(exc)
        return out

    with ThreadPoolExecutor(3) as pool:
        got = [x for xs in pool.map(node, range(3)) for x in xs]
    ips = [x for x in got if isinstance(x, str)]
    assert len(ips) == len(set(ips)) == 6                       # a /29 has 6 hosts
    assert sum(isinstance(x, SystemFailure) for x in got) == 3


def test_static_claim_release_and_reclaim(etcd, prefix):
    keys = Keys(prefix)
    a, b = GlobalIpam(etcd, "a", keys), GlobalIpam(etcd, "b", keys)
    assert a.claim("net", "10.52.0.0/24", "ep1", ip="10.52.0.9") == "10.52.0.9"
    with pytest.raises(Conflict, match="already in use"):
        b.claim("net", "10.52.0.0/24", "ep2", ip="10.52.0.9")
    b.release("net", "10.52.0.9")                     # not b's: left alone
    assert "10.52.0.9" in a.claims("net")
    assert a.reclaim("net", "10.52.0.9", "ep1") and not b.reclaim("net", "10.52.0.9", "ep2")
    a.release("net", "10.52.0.9")
    a.release("net", "10.52.0.9")                     # gone is fine
    assert b.reclaim("net", "10.52.0.9", "ep2")
    assert b.release_all() == 1 and b.claims("net") == {}


def test_concurrent_create_of_one_name_has_one_winner(etcd_server, prefix):
    keys = Keys(prefix)
    n = 5
    barrier = threading.Barrier(n)

    def create(i: int):
        nets = GlobalNetworks(_client(etcd_server), keys)
        barrier.wait()
        try:
            return nets.create(f"{i:064x}", "web", {"driver": "overlay",
                               "subnets": [{"subnet": f"10.60.{i}.0/24"}]})
        except Conflict as exc:
            return exc

    with ThreadPoolExecutor(n) as pool:
        got = list(pool.map(create, range(n)))
    wins = [g for g in got if isinstance(g, dict)]
    assert len(wins) == 1 and wins[0]["vni"] == VNI_MIN
    assert all("already exists" in str(g) for g in got if not isinstance(g, dict))
    nets = GlobalNetworks(_client(etcd_server), keys)
    assert [r["id"] for r in nets.list()] == [wins[0]["id"]]
    assert nets.by_name("web")["vni"] == VNI_MIN


def test_concurrent_creates_get_unique_vnis_and_no_overlap(etcd_server, prefix):
    keys = Keys(prefix)
    n = 5
    barrier = threading.Barrier(n)

    def create(i: int):
        nets = GlobalNetworks(_client(etcd_server), keys)
        barrier.wait()
        return nets.create(f"{i:064x}", f"net{i}", {"subnets": [{"subnet": f"10.61.{i}.0/24"}]})

    with ThreadPoolExecutor(n) as pool:
        vnis = [r["vni"] for r in pool.map(create, range(n))]
    assert sorted(vnis) == list(range(VNI_MIN, VNI_MIN + n))
    nets = GlobalNetworks(_client(etcd_server), keys)
    with pytest.raises(Conflict, match="overlaps"):
        nets.create("f" * 64, "clash", {"subnets": [{"subnet": "10.61.0.0/16"}]})
    # delete: refused with endpoints, then frees name, VNI and claims
    net0 = nets.by_name("net0")
    client = _client(etcd_server)
    client.put(keys.endpoint(net0["id"], "ep"), {"ip": "10.61.0.2"})
    GlobalIpam(client, "a", keys).claim(net0["id"], "10.61.0.0/24", "ep", ip="10.61.0.2")
    with pytest.raises(Conflict, match="active endpoints"):
        nets.delete(net0["id"])
    client.delete(keys.endpoint(net0["id"], "ep"))
    nets.delete(net0["id"])
    nets.delete(net0["id"])                            # gone is fine
    assert client.get(keys.claim(net0["id"], "10.61.0.2")) is None
    again = nets.create("e" * 64, "net0", {"subnets": [{"subnet": "10.61.0.0/24"}]})
    assert again["vni"] == net0["vni"]                 # the lowest free VNI is reused


def test_membership_lease_loss_reaping_and_peers(etcd_server, prefix):
    keys = Keys(prefix)
    ttl = 2
    changes: list[tuple[list, list]] = []
    table = PeerTable(_client(etcd_server), local_node="watcher", keys=keys,
                      on_change=lambda a, r: changes.append((a, r)), backoff=0.1).start()
    a = Membership(_client(etcd_server), "A", {"vtep": "192.0.2.1"}, ttl, keys)
    b = Membership(_client(etcd_server), "B", {"vtep": "192.0.2.2"}, ttl, keys)
    try:
        assert table.watcher.synced.wait(5)
        a.join()
        b.join()
        with pytest.raises(Conflict, match="already registered"):
            Membership(_client(etcd_server), "A", {}, ttl, keys).join()
        ipam_a = GlobalIpam(_client(etcd_server), "A", keys)
        ipam_b = GlobalIpam(_client(etcd_server), "B", keys)
        ip_a = ipam_a.claim("net1", "10.70.0.0/24", "epA")
        ip_b = ipam_b.claim("net1", "10.70.0.0/24", "epB")
        for m, ip, ep in ((a, ip_a, "epA"), (b, ip_b, "epB")):
            m.put_leased(keys.endpoint("net1", ep), {"ip": ip, "mac": "02:42:00:00:00:01",
                                                     "vtep": m.record["vtep"], "node": m.node_id,
                                                     "name": ep})
        assert _wait(lambda: len(table.for_network("net1")) == 2)
        assert set(table.nodes) == {"A", "B"}
        time.sleep(ttl + 0.5)                          # keepalives hold past the TTL
        assert set(table.nodes) == {"A", "B"}

        # B "dies" (no keepalive, no revoke): its records go with its lease
        b._keeper.stop()
        t0 = time.monotonic()
        assert _wait(lambda: [p.node for p in table.for_network("net1")] == ["A"], ttl + 3)
        converge = time.monotonic() - t0
        assert converge < ttl + 2
        assert "B" not in table.nodes
        removed = [p for _, rs in changes for p in rs]
        assert [(p.endpoint, p.ip, p.vtep) for p in removed] == [("epB", ip_b, "192.0.2.2")]

        # its claims stay until the grace period has passed, then any node reaps them
        reaper = Reaper(_client(etcd_server), grace=1.0, keys=keys)
        assert reaper.scan() == []
        assert set(ipam_a.claims("net1")) == {ip_a, ip_b}
        time.sleep(1.1)
        assert reaper.scan() == [keys.claim("net1", ip_b)]
        assert set(ipam_a.claims("net1")) == {ip_a}    # the live node's claim is kept
    finally:
        table.stop()
        for m in (a, b):
            m.leave()


def test_fencing_and_rejoin(etcd_server, prefix):
    keys = Keys(prefix)
    fenced = threading.Event()
    client = _client(etcd_server)
    m = Membership(client, "F", {"vtep": "192.0.2.9"}, 2, keys, on_fence=fenced.set)
    m.join()
    try:
        client.lease_revoke(m.lease)                   # the cluster dropped us
        assert fenced.wait(3)
        assert m.fenced
        with pytest.raises(Unavailable, match="lease lost"):
            m.put_leased(keys.endpoint("n", "e"), {"ip": "10.0.0.2"})
        m.rejoin()
        assert not m.fenced
        m.put_leased(keys.endpoint("n", "e"), {"ip": "10.0.0.2"})
        assert client.get(keys.node("F")) is not None
    finally:
        m.leave()
    # clean leave: node and endpoint records are gone at once
    assert client.get(keys.node("F")) is None
    assert client.get(keys.endpoint("n", "e")) is None
    m.leave()                                          # twice is fine


def test_join_with_etcd_unreachable_fails_clean(prefix):
    from tests.cluster.etcdserver import free_port

    m = Membership(EtcdClient(f"127.0.0.1:{free_port()}", timeout=0.5), "Z", {}, 2,
                   Keys(prefix))
    with pytest.raises(CoveError) as info:
        m.join()
    assert isinstance(info.value, Unavailable)
    assert m.lease == 0
