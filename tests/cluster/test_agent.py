"""The cluster agent against a real etcd (loopback): background connect, registration,
fencing on lease loss with re-registration and re-claims (a claim taken by another node
is a conflict), live-restore of the lease across a restart, reaping, and the
"cluster store unavailable" state when etcd cannot be reached."""

from __future__ import annotations

import time

import pytest

from cove.cluster.agent import READY, UNAVAILABLE, ClusterAgent, load_state
from cove.cluster.keys import Keys
from cove.errors import Unavailable


def _wait(cond, timeout: float = 8.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return bool(cond())


class Listener:
    """Records what the agent asks of the data plane."""

    def __init__(self, claims=(), running: bool = False) -> None:
        self.claims = list(claims)
        self.running = running
        self.calls: list[tuple] = []
        self.nets: dict = {}

    def local_claims(self):
        return list(self.claims)

    def publish_all(self):
        self.calls.append(("publish",))

    def claim_conflict(self, net_id, ip, ep_id, owner):
        self.calls.append(("conflict", ip, owner))

    def fence(self, down):
        self.calls.append(("fence", down))

    def peers_changed(self, added, removed):
        self.calls.append(("peers", len(added), len(removed)))

    def networks_changed(self, records):
        self.nets = records

    def reconcile(self):
        self.calls.append(("reconcile",))

    def has_running_endpoints(self):
        return self.running


def _agent(store: str, root, prefix: str, listener: Listener, ttl: float = 2,
           grace: float = 3) -> ClusterAgent:
    a = ClusterAgent(store, "192.0.2.9", "eth0", str(root), ttl=ttl, reap_grace=grace,
                     node_name="t", keys=Keys(prefix))
    a.listener = listener
    return a.start()


def test_unreachable_store_is_reported_and_retried(tmp_path):
    from tests.cluster.etcdserver import free_port

    a = _agent(f"etcd://127.0.0.1:{free_port()}", tmp_path, "/cove-test-x", Listener())
    try:
        assert _wait(lambda: a.state == UNAVAILABLE, 5)
        with pytest.raises(Unavailable, match="cluster store unavailable"):
            a.require()
        assert [n["State"] for n in a.nodes()] == [UNAVAILABLE]
    finally:
        a.close()


def test_register_fence_reclaim_conflict_and_restart_keeps_the_lease(etcd_server, etcd,
                                                                     prefix, tmp_path):
    keys = Keys(prefix)
    other = {"node": "someone-else", "ep": "x", "ts": 0}
    etcd.put(keys.claim("n1", "10.0.0.3"), other)            # taken while we were away
    lst = Listener(claims=[("n1", "10.0.0.2", "ep2"), ("n1", "10.0.0.3", "ep3")],
                   running=True)
    a = _agent(f"etcd://{etcd_server.endpoint}", tmp_path, prefix, lst)
    try:
        assert _wait(lambda: a.state == READY)
        a.require()
        node = etcd.get(keys.node(a.node_id))
        assert node is not None and node.json()["vtep"] == "192.0.2.9"
        assert etcd.get(keys.claim("n1", "10.0.0.2")).json()["node"] == a.node_id
        assert ("conflict", "10.0.0.3", "someone-else") in lst.calls
        assert "ep3" in a.conflicts and ("publish",) in lst.calls
        # the lease is lost (as after a SIGSTOP past the TTL): fence, re-register, unfence
        old = a.membership.lease
        etcd.lease_revoke(old)
        assert _wait(lambda: ("fence", False) in lst.calls)
        i = lst.calls.index(("fence", True))
        assert ("fence", False) in lst.calls[i:] and ("publish",) in lst.calls[i:]
        assert a.state == READY and a.membership.lease != old
        assert etcd.get(keys.node(a.node_id)).lease == a.membership.lease
        # clean stop with running containers keeps the lease for the next start
        lease = a.membership.lease
        a.close()
        assert load_state(str(tmp_path))["lease"] == lease
        assert etcd.get(keys.node(a.node_id)) is not None
        b = _agent(f"etcd://{etcd_server.endpoint}", tmp_path, prefix, Listener(running=False))
        assert b.node_id == a.node_id
        assert _wait(lambda: b.state == READY) and b.membership.lease == lease
        b.close()                                  # nothing running: leave (revoke)
        assert etcd.get(keys.node(a.node_id)) is None
        assert load_state(str(tmp_path))["lease"] == 0
    finally:
        a.close()


def test_dead_nodes_claims_are_reaped_after_the_grace(etcd_server, etcd, prefix, tmp_path):
    keys = Keys(prefix)
    etcd.put(keys.claim("n1", "10.0.0.7"), {"node": "dead-node", "ep": "e", "ts": 0})
    a = _agent(f"etcd://{etcd_server.endpoint}", tmp_path, prefix, Listener(), grace=2.5)
    try:
        assert _wait(lambda: a.state == READY)
        t0 = time.monotonic()
        time.sleep(1.0)
        assert etcd.get(keys.claim("n1", "10.0.0.7")) is not None      # not before the grace
        assert _wait(lambda: etcd.get(keys.claim("n1", "10.0.0.7")) is None, 6)
        assert time.monotonic() - t0 >= 1.4
    finally:
        a.close()


class _Ctrl:
    """The slice of NetworkController that OverlayNetworks' reconcile uses."""

    def __init__(self, tmp_path) -> None:
        from cove.store.sqlite import Store

        self.store = Store(tmp_path / "db")
        self.exec_root = str(tmp_path)
        self.netns_dir = str(tmp_path / "netns")
        self.eps: list = []
        self.overlay = None

    def all_endpoints(self):
        return list(self.eps)


def test_reconcile_frees_claims_and_records_no_local_endpoint_backs(etcd_server, etcd,
                                                                     prefix, tmp_path):
    from cove.network.model import Endpoint
    from cove.network.overlaynet import OverlayNetworks

    keys = Keys(prefix)
    ctrl = _Ctrl(tmp_path)
    a = ClusterAgent(f"etcd://{etcd_server.endpoint}", "192.0.2.9", "eth0", str(tmp_path),
                     ttl=2, keys=keys)
    ov = OverlayNetworks(ctrl, a)
    try:
        a.start()
        assert _wait(lambda: a.state == READY and a.peers.watcher.synced.is_set())
        me = a.node_id
        ctrl.eps = [Endpoint(id="live", network_id="n1", container_id="c", ip="10.0.0.2")]
        ov._running["live"] = "n1"
        for ip, ep in (("10.0.0.2", "live"), ("10.0.0.3", "gone")):
            etcd.put(keys.claim("n1", ip), {"node": me, "ep": ep, "ts": 0})
        etcd.put(keys.claim("n1", "10.0.0.4"), {"node": "other", "ep": "x", "ts": 0})
        for ep in ("live", "gone"):
            a.publish(keys.endpoint("n1", ep), {"ip": "10.0.0.9", "node": me})
        etcd.put(keys.endpoint("n1", "theirs"), {"ip": "10.0.0.4", "node": "other"})
        ov.reconcile()
        left = {kv.key.rsplit("/", 1)[1] for kv in etcd.range(keys.ipam("n1"), prefix=True)[0]}
        assert left == {"10.0.0.2", "10.0.0.4"}          # ours without endpoint: freed
        recs = {kv.key.rsplit("/", 1)[1]
                for kv in etcd.range(keys.endpoints("n1"), prefix=True)[0]}
        assert recs == {"live", "theirs"}                 # our stale record: withdrawn
    finally:
        a.close()
        ctrl.store.close()


def test_neighbour_budget_warns_when_remote_endpoints_outgrow_gc_thresh3(
        etcd_server, etcd, prefix, tmp_path, caplog):
    import logging

    caplog.set_level(logging.INFO, "cove.cluster.neighbudget")
    keys = Keys(prefix)
    for i in range(3):                               # 3 remote endpoints already listed
        etcd.put(keys.endpoint("n1", f"e{i}"), {"ip": f"10.0.0.{10 + i}", "node": "other"})
    a = ClusterAgent(f"etcd://{etcd_server.endpoint}", "192.0.2.9", "eth0", str(tmp_path),
                     ttl=2, node_name="t", keys=keys, neigh_limit=lambda: 4)
    a.listener = Listener()
    a.start()
    try:
        assert "gc_thresh3 is 4" in caplog.text                  # read at start
        assert _wait(lambda: a.state == READY and a.peers.watcher.synced.is_set())
        assert a.neigh.warned == 0                               # 3 <= 0.75 * 4
        etcd.put(keys.endpoint("n1", "e3"), {"ip": "10.0.0.13", "node": "other"})
        assert _wait(lambda: a.neigh.warned == 1, 5)
        assert "4 remote overlay endpoints" in caplog.text
        etcd.put(keys.endpoint("n1", "e4"), {"ip": "10.0.0.14", "node": "other"})
        assert _wait(lambda: a.neigh.warned == 2, 5)
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"
                    and "gc_thresh3" in r.getMessage()]
        assert len(warnings) == 2 and "5 remote overlay endpoints" in warnings[1]
    finally:
        a.close()
