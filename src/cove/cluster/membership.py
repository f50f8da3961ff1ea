"""Node membership: this node's record under its own etcd lease.

``join()`` grants a lease (TTL = ``--cluster-ttl``), creates ``nodes/<id>`` under it if
absent (a record held by another live lease is a duplicate node id: Conflict) and keeps
the lease alive on a thread. Endpoint records are put under the same lease
(:meth:`Membership.put_leased`), so a dead node's records vanish with its lease.

When the lease is lost (the local deadline passed, or etcd says it is gone) the node is
*fenced*: ``on_fence()`` is called once (the overlay data plane takes its interfaces
down), and publishing is refused until ``rejoin()`` has granted a new lease.
``leave()`` revokes the lease: etcd deletes the node and its endpoint records at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from cove.cluster.keys import Keys
from cove.errors import Conflict, CoveError, Unavailable
from cove.store.etcd import EtcdClient, LeaseKeeper

log = logging.getLogger(__name__)


class Membership:
    """This node's membership in the cluster."""

    def __init__(self, client: EtcdClient, node_id: str, record: dict[str, Any],
                 ttl: int = 10, keys: Keys | None = None,
                 on_fence: Callable[[], None] | None = None,
                 fence_unreachable: bool = True) -> None:
        self.client = client
        self.node_id = node_id
        self.record = dict(record)
        self.ttl = ttl
        self.keys = keys or Keys()
        self.on_fence = on_fence
        self.fence_unreachable = fence_unreachable
        self.lease = 0
        self.fenced = False
        self._keeper: LeaseKeeper | None = None
        self._lock = threading.Lock()

    def join(self) -> int:
        """Register under a new lease; returns the lease id. Rolls back on failure."""
        lease = self.client.lease_grant(self.ttl)
        try:
            existing = self.client.create(self.keys.node(self.node_id), self.record, lease)
            if existing is not None:
                raise Conflict(f"cannot join the cluster: node id {self.node_id} is already "
                               f"registered by a live node")
        except CoveError:
            try:
                self.client.lease_revoke(lease)
            except CoveError as exc:
                log.warning("cannot revoke lease %x after a failed join: %s", lease, exc)
            raise
        self._keep(lease)
        return lease

    def _keep(self, lease: int) -> None:
        keeper = LeaseKeeper(self.client, lease, self.ttl, self._lost, self.fence_unreachable)
        with self._lock:
            self.lease, self._keeper, self.fenced = lease, keeper, False
        keeper.start()

    def adopt(self, lease: int) -> bool:
        """After a daemon restart: keep the previous lease if it is still alive and still
        holds this node's record (live restore: peers see no change). False otherwise."""
        if not lease:
            return False
        ttl, _ = self.client.lease_ttl(lease)
        kv = self.client.get(self.keys.node(self.node_id))
        if ttl <= 0 or kv is None or kv.lease != lease:
            return False
        self.client.put(self.keys.node(self.node_id), self.record, lease=lease)
        self._keep(lease)
        return True

    @property
    def overdue(self) -> bool:
        """True while the lease's local deadline passed with etcd unreachable."""
        keeper = self._keeper
        return bool(keeper and keeper.overdue)

    def rejoin(self) -> int:
        """After a fence: stop the old keeper and register again under a new lease."""
        with self._lock:
            old = self._keeper
            self._keeper = None
        if old is not None:
            old.stop()
        return self.join()

    def leave(self) -> None:
        """Stop the keepalive and revoke the lease (node and endpoint records go at once)."""
        with self._lock:
            keeper, lease = self._keeper, self.lease
            self._keeper, self.lease = None, 0
        if keeper is not None:
            keeper.stop()
        if lease:
            self.client.lease_revoke(lease)

    def suspend(self) -> int:
        """Stop the keepalive without revoking (daemon restart with live containers);
        returns the lease id, which a restarted daemon may :meth:`adopt`."""
        with self._lock:
            keeper, lease = self._keeper, self.lease
            self._keeper = None
        if keeper is not None:
            keeper.stop()
        return lease

    def put_leased(self, key: str, value: dict[str, Any]) -> None:
        """Publish a record bound to this node's lease (refused while fenced)."""
        with self._lock:
            lease, fenced = self.lease, self.fenced
        if fenced or not lease or self.overdue:
            raise Unavailable(f"cannot publish {key}: node {self.node_id} is not registered "
                              "in the cluster (lease lost)")
        self.client.put(key, value, lease=lease)

    def _lost(self) -> None:
        with self._lock:
            if self.fenced:
                return
            self.fenced = True
        log.error("node %s: cluster lease %x lost: fencing", self.node_id, self.lease)
        if self.on_fence is not None:
            self.on_fence()

    def alive_nodes(self) -> dict[str, dict[str, Any]]:
        """Registered nodes by id (their records)."""
        kvs, _ = self.client.range(self.keys.nodes(), prefix=True)
        return {kv.key.rsplit("/", 1)[1]: kv.json() for kv in kvs}
