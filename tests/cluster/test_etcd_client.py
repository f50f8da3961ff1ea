"""cove.store.etcd / etcdwatch against a real etcd process on loopback."""

from __future__ import annotations

import signal
import socket
import threading
import time

import pytest

from cove.errors import Unavailable
from cove.store.etcd import EtcdClient, LeaseKeeper, cmp_mod, cmp_version, op_get, op_put
from cove.store.etcdwatch import Watcher
from tests.cluster.etcdserver import free_port


def _wait(cond, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_kv_and_transactions(etcd, prefix):
    k = prefix + "/a"
    rev = etcd.put(k, {"x": 1})
    kv = etcd.get(k)
    assert kv.json() == {"x": 1} and kv.mod_revision == rev and kv.version == 1
    assert etcd.create(k, "other").json() == {"x": 1}          # create-if-absent lost
    assert etcd.create(prefix + "/b", b"\x00\xffbin") is None
    assert etcd.get(prefix + "/b").value == b"\x00\xffbin"
    # compare-and-swap on mod_revision: the stale writer loses
    ok = etcd.txn([cmp_mod(k, rev)], [op_put(k, "v2")], [op_get(k)])
    stale = etcd.txn([cmp_mod(k, rev)], [op_put(k, "v3")], [op_get(k)])
    assert ok.succeeded and not stale.succeeded
    assert stale.ranges[0][0].value == b"v2"
    kvs, _ = etcd.range(prefix + "/", prefix=True)
    assert [x.key for x in kvs] == [prefix + "/a", prefix + "/b"]
    assert etcd.delete(prefix + "/", prefix=True) == 2
    assert etcd.delete(k) == 0                                  # gone is fine
    assert etcd.get(k) is None
    assert etcd.txn([cmp_version(k, 0)], []).succeeded


def test_failover_and_unreachable(etcd_server, prefix):
    dead = f"127.0.0.1:{free_port()}"
    c = EtcdClient(f"etcd://{dead},{etcd_server.endpoint}", timeout=1.0)
    c.put(prefix + "/f", "1")
    assert c.endpoint_order()[0] == ("127.0.0.1", etcd_server.port)   # sticks to the good one
    t0 = time.monotonic()
    with pytest.raises(Unavailable, match="unreachable"):
        EtcdClient(f"etcd://{dead}", timeout=1.0).get(prefix + "/f")
    assert time.monotonic() - t0 < 1.5


def test_hung_server_is_unavailable_within_the_timeout(etcd_server, prefix):
    c = EtcdClient(etcd_server.endpoint, timeout=0.5)
    etcd_server.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(Unavailable):
            c.put(prefix + "/x", "1")
        assert time.monotonic() - t0 < 1.5
    finally:
        etcd_server.proc.send_signal(signal.SIGCONT)
    c.put(prefix + "/x", "1")


def test_leases_keepalive_expiry_and_fencing(etcd, prefix):
    lease = etcd.lease_grant(2)
    etcd.put(prefix + "/l", "x", lease=lease)
    ttl, keys = etcd.lease_ttl(lease, keys=True)
    assert 0 < ttl <= 2 and keys == [prefix + "/l"]
    lost = threading.Event()
    keeper = LeaseKeeper(etcd, lease, 2, lost.set).start()
    time.sleep(3.0)                                  # longer than the TTL: still alive
    assert etcd.get(prefix + "/l") is not None and not lost.is_set()
    etcd.lease_revoke(lease)                         # taken away behind its back
    assert lost.wait(3.0) and keeper.lost.is_set()
    assert etcd.get(prefix + "/l") is None
    keeper.stop()
    etcd.lease_revoke(lease)                         # revoking twice is fine
    assert etcd.lease_ttl(lease)[0] == -1
    assert etcd.lease_keepalive(lease) <= 0
    # without a keeper the lease expires by itself
    l2 = etcd.lease_grant(1)
    etcd.put(prefix + "/e", "x", lease=l2)
    assert _wait(lambda: etcd.get(prefix + "/e") is None, 4.0)


class _Recorder:
    def __init__(self) -> None:
        self.state: dict[str, bytes] = {}
        self.snapshots = 0
        self.deleted: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()

    def snapshot(self, kvs, rev) -> None:
        with self.lock:
            self.state = {kv.key: kv.value for kv in kvs}
            self.snapshots += 1

    def events(self, events) -> None:
        with self.lock:
            for ev in events:
                if ev.type == "delete":
                    self.state.pop(ev.kv.key, None)
                    self.deleted.append((ev.kv.key, ev.prev.value if ev.prev else b""))
                else:
                    self.state[ev.kv.key] = ev.kv.value


def _break(w: Watcher) -> None:
    s = w._stream
    assert s is not None
    s.sock.shutdown(socket.SHUT_RDWR)


def test_watch_delivers_resumes_and_relists_after_compaction(etcd, etcd_server, prefix):
    etcd.put(prefix + "/w/a", "1")
    client = EtcdClient(etcd_server.endpoint, timeout=1.0)
    rec = _Recorder()
    w = Watcher(client, prefix + "/w/", rec.snapshot, rec.events, backoff=0.1).start()
    try:
        assert w.synced.wait(5)
        assert rec.state == {prefix + "/w/a": b"1"}
        etcd.put(prefix + "/w/b", "2")
        etcd.delete(prefix + "/w/a")
        etcd.put(prefix + "/other", "x")                     # outside the prefix
        assert _wait(lambda: rec.state == {prefix + "/w/b": b"2"})
        assert rec.deleted == [(prefix + "/w/a", b"1")]     # prev_kv delivered

        # broken stream: resume from the next revision, no event lost, no re-list
        assert _wait(lambda: w._stream is not None and w.state.watch_id is not None)
        good = client.endpoints
        client.endpoints = [("127.0.0.1", free_port())]      # etcd "unreachable"
        _break(w)
        etcd.put(prefix + "/w/c", "3")
        time.sleep(0.3)
        client.endpoints = good
        assert _wait(lambda: rec.state.get(prefix + "/w/c") == b"3")
        assert w.relists == 1 and w.resumes >= 1

        # broken stream while history is compacted: etcd cancels, the watcher re-lists
        assert _wait(lambda: w._stream is not None and w.state.watch_id is not None)
        client.endpoints = [("127.0.0.1", free_port())]
        _break(w)
        etcd.delete(prefix + "/w/b")
        rev = etcd.put(prefix + "/w/d", "4")
        etcd.compact(rev)
        time.sleep(0.3)
        client.endpoints = good
        assert _wait(lambda: w.relists == 2)
        assert _wait(lambda: rec.state == {prefix + "/w/c": b"3", prefix + "/w/d": b"4"})
        etcd.put(prefix + "/w/e", "5")                       # and it keeps watching
        assert _wait(lambda: prefix + "/w/e" in rec.state)
    finally:
        w.stop()
    assert not w._thread.is_alive()
