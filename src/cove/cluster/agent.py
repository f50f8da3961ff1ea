"""The cluster agent: coved's link to etcd (``--cluster-store``).

:class:`ClusterAgent` builds the cluster pieces (EtcdClient, Membership, PeerTable,
GlobalNetworks, GlobalIpam, Reaper) and runs them on a background thread, so the daemon
starts and serves without etcd:

* **connect** with back-off: adopt the lease persisted in ``<root>/cluster.json`` when it
  is still alive (a coved restart within the TTL is invisible to peers), else register
  under a new lease; then re-claim the addresses of local endpoints (a claim held by
  another node is a *conflict*: that endpoint stays down) and re-publish the running ones;
* **peers**: one list-then-watch of the cluster prefix feeds the listener (the overlay
  data plane and DNS, :mod:`cove.network.overlaynet`) with remote endpoint changes and the
  global network records;
* **lease lost** (etcd says the lease is gone, e.g. after a SIGSTOP past the TTL): fence
  (overlay links down), register again, re-claim, re-publish, unfence;
* **etcd unreachable**: nothing is deleted and the data plane is kept (nobody can reap
  this node's addresses while etcd is down); overlay operations fail with
  "cluster store unavailable: ..."; the agent keeps retrying;
* periodic **reaper** pass (every node may reap dead nodes' claims after the grace) and a
  **reconcile** every ``RECONCILE_EVERY`` seconds and after every re-list;
* **neighbour budget**: ``gc_thresh3`` read at start and compared with the number of
  remote endpoints after every re-list and peer addition (:mod:`cove.cluster.neighbudget`).

Shutdown (live restore): with running overlay endpoints the lease is *not* revoked (its
id stays in ``cluster.json`` for the next start); without, the node leaves cleanly.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from cove import __version__
from cove.cluster.ipam import GlobalIpam, Reaper
from cove.cluster.keys import Keys
from cove.cluster.membership import Membership
from cove.cluster.neighbudget import NeighBudget
from cove.cluster.networks import GlobalNetworks
from cove.cluster.peers import Peer, PeerTable
from cove.errors import CoveError, Unavailable
from cove.model import new_id
from cove.store.etcd import EtcdClient

log = logging.getLogger(__name__)

RECONCILE_EVERY = 30.0
BACKOFF_MIN, BACKOFF_MAX = 0.5, 5.0

# states shown by `cove node ls` for this node
CONNECTING, READY, FENCED, UNAVAILABLE, STOPPED = (
    "connecting", "ready", "fenced", "unavailable", "stopped")


class Listener(Protocol):
    """What the agent drives (implemented by :class:`cove.network.overlaynet.OverlayNetworks`)."""

    def local_claims(self) -> list[tuple[str, str, str]]: ...          # (net, ip, ep)
    def publish_all(self) -> None: ...
    def claim_conflict(self, net_id: str, ip: str, ep_id: str, owner: str) -> None: ...
    def fence(self, down: bool) -> None: ...
    def peers_changed(self, added: list[Peer], removed: list[Peer]) -> None: ...
    def networks_changed(self, records: dict[str, dict[str, Any]]) -> None: ...
    def reconcile(self) -> None: ...
    def has_running_endpoints(self) -> bool: ...


def load_state(root: str) -> dict[str, Any]:
    try:
        with open(os.path.join(root, "cluster.json")) as f:
            d = json.load(f)
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def save_state(root: str, state: dict[str, Any]) -> None:
    path = os.path.join(root, "cluster.json")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, path)


class ClusterAgent:
    """This node's cluster membership, peer watch, reaper and reconcile loop."""

    def __init__(self, store: str, vtep: str, underlay_if: str, root: str,
                 advertise: str = "", ttl: float = 10.0, reap_grace: float | None = None,
                 node_name: str = "", keys: Keys | None = None,
                 neigh_limit: Callable[[], int] | None = None) -> None:
        self.store_spec = store
        self.advertise = advertise or vtep
        self.vtep = vtep
        self.underlay_if = underlay_if
        self.root = root
        self.ttl = float(ttl)
        self.lease_ttl = max(1, math.ceil(self.ttl))
        self.grace = float(reap_grace) if reap_grace else 2 * self.ttl
        self.keys = keys or Keys()
        self.client = EtcdClient(store, timeout=min(2.0, max(1.0, self.ttl / 2)))
        saved = load_state(root)
        self.node_id = saved.get("node_id") or new_id()[:16]
        self._saved_lease = int(saved.get("lease", 0) or 0)
        self.name = node_name or platform.node() or self.advertise
        self.record = {"name": self.name, "vtep": vtep, "advertise": self.advertise,
                       "version": __version__, "started": round(time.time(), 3)}
        self.networks = GlobalNetworks(self.client, self.keys)
        self.ipam = GlobalIpam(self.client, self.node_id, self.keys)
        self.reaper = Reaper(self.client, self.grace, self.keys)
        self.membership = Membership(self.client, self.node_id, self.record, self.lease_ttl,
                                     self.keys, on_fence=self._on_fence,
                                     fence_unreachable=False)
        self.peers = PeerTable(self.client, self.node_id, self.keys,
                               on_change=self._peers_changed,
                               on_networks=self._networks_changed,
                               on_snapshot=self._relisted, backoff=0.3)
        self.listener: Listener | None = None
        self.state = CONNECTING
        self.error = ""
        self.conflicts: dict[str, str] = {}        # endpoint id -> message
        self._registered = False
        self._fence_pending = False
        self._reconcile_due = True
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="cove-cluster", daemon=True)
        self._neigh_limit = neigh_limit
        self.neigh: NeighBudget | None = None    # gc_thresh3 vs remote endpoints (start)
        save_state(root, {"node_id": self.node_id, "lease": self._saved_lease})

    # -- lifecycle
    def start(self) -> ClusterAgent:
        self.neigh = NeighBudget(self._neigh_limit)     # reads gc_thresh3, logs it
        self.peers.start()
        self._thread.start()
        log.info("cluster: node %s (%s) vtep %s on %s, store %s, ttl %ss, reap grace %ss",
                 self.node_id, self.name, self.vtep, self.underlay_if, self.store_spec,
                 self.ttl, self.grace)
        return self

    def close(self) -> None:
        """Stop the loops. With running overlay endpoints keep the lease (restart with
        live containers), else leave the cluster (revoke: the node record goes at once)."""
        if self.state == STOPPED:
            return
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.client.timeout * 2 + 1)
        self.peers.stop()
        keep = self.listener is not None and self.listener.has_running_endpoints()
        if keep:
            lease = self.membership.suspend()
            save_state(self.root, {"node_id": self.node_id, "lease": lease})
            log.info("cluster: leaving lease %x alive for the running containers", lease)
        else:
            try:
                self.membership.leave()
                log.info("cluster: node %s left the cluster", self.node_id)
            except CoveError as exc:
                log.warning("cluster: cannot leave cleanly: %s", exc.message)
            save_state(self.root, {"node_id": self.node_id, "lease": 0})
        self._set_state(STOPPED)

    # -- state
    def _set_state(self, state: str, error: str = "") -> None:
        with self._lock:
            changed = (state, error) != (self.state, self.error)
            self.state, self.error = state, error
        if changed:
            (log.warning if error else log.info)(
                "cluster: node %s %s%s", self.node_id, state, f": {error}" if error else "")

    def require(self) -> None:
        """Raise Unavailable unless registered and not fenced (overlay create/connect)."""
        with self._lock:
            state, error = self.state, self.error
        if state == READY and not self.membership.overdue:
            return
        if (state == UNAVAILABLE and self._registered and not self._fence_pending
                and not self.membership.overdue):
            try:                 # etcd may be back before the loop's next try: ask now
                self.client.status()
            except CoveError as exc:
                raise Unavailable(f"cluster store unavailable: {exc.message}") from exc
            self._set_state(READY)
            self._wake.set()
            return
        self._wake.set()                           # a user waits: retry now
        if state == FENCED:
            raise Unavailable("cluster store unavailable: node is fenced (cluster lease lost),"
                              " re-registering")
        raise Unavailable(f"cluster store unavailable: {error or 'not connected yet'}")

    def wrap(self, exc: CoveError) -> CoveError:
        """An etcd Unavailable re-worded for the user (other errors unchanged)."""
        if isinstance(exc, Unavailable) and not exc.message.startswith("cluster store"):
            return Unavailable(f"cluster store unavailable: {exc.message}")
        return exc

    def nodes(self) -> list[dict[str, Any]]:
        """Known nodes (from the watch) with this node's own state."""
        out = []
        with self.peers._lock:
            nodes = dict(self.peers.nodes)
        nodes.setdefault(self.node_id, self.record)
        for nid, rec in sorted(nodes.items(), key=lambda kv: kv[1].get("name", "")):
            state = "ready"
            if nid == self.node_id:
                state = self.state
            elif self.state == UNAVAILABLE:
                state = "unknown"
            out.append({"ID": nid, "Name": rec.get("name", ""),
                        "Address": rec.get("vtep", ""), "State": state,
                        "Self": nid == self.node_id, "Version": rec.get("version", "")})
        return out

    def node_name(self, node_id: str) -> str:
        """The name of a known node (from the watch), else its id."""
        with self.peers._lock:
            rec = self.peers.nodes.get(node_id) or {}
        return rec.get("name") or node_id

    def publish(self, key: str, value: dict[str, Any]) -> None:
        try:
            self.membership.put_leased(key, value)
        except CoveError as exc:
            raise self.wrap(exc) from exc

    # -- callbacks (watch / lease threads)
    def _on_fence(self) -> None:
        self._set_state(FENCED, "cluster lease lost")
        self._fence_pending = True
        if self.listener is not None:
            try:
                self.listener.fence(True)
            except CoveError as exc:
                log.error("cluster: fencing failed: %s", exc.message)
        self._wake.set()

    def _peers_changed(self, added: list[Peer], removed: list[Peer]) -> None:
        if len(added) + len(removed) > 8:
            log.info("cluster: %d peers added, %d removed", len(added), len(removed))
        else:
            for p in removed:
                log.info("cluster: peer %s gone (%s on node %s)", p.endpoint[:12], p.ip,
                         p.node)
            for p in added:
                log.info("cluster: peer %s (%s %s via %s, node %s)", p.endpoint[:12], p.ip,
                         p.name, p.vtep, p.node)
        if self.listener is not None:
            self.listener.peers_changed(added, removed)
        if added:
            self._check_neigh()

    def _networks_changed(self, records: dict[str, dict[str, Any]]) -> None:
        if self.listener is not None:
            self.listener.networks_changed(records)

    def _relisted(self) -> None:
        self._reconcile_due = True
        self._wake.set()
        self._check_neigh()

    def _check_neigh(self) -> None:
        if self.neigh is not None:
            with self.peers._lock:
                remote = len(self.peers.peers)
            self.neigh.check(remote)

    # -- the loop
    def _run(self) -> None:
        backoff = BACKOFF_MIN
        last_reap = last_reconcile = 0.0
        while not self._stop.is_set():
            try:
                if not self._registered or self._fence_pending:
                    self._register()
                    backoff = BACKOFF_MIN
                now = time.monotonic()
                if now - last_reap >= max(min(self.grace / 4, 5.0), 0.25):
                    last_reap = now
                    self.reaper.scan()
                if self._reconcile_due or now - last_reconcile >= RECONCILE_EVERY:
                    self._reconcile_due = False
                    last_reconcile = now
                    if self.listener is not None:
                        self.listener.reconcile()
                if self.state == UNAVAILABLE or self.membership.overdue:
                    self._check_reachable()
                wait = max(min(self.grace / 4, 1.0), 0.2)
            except CoveError as exc:
                if self.state != FENCED:
                    self._set_state(UNAVAILABLE, exc.message)
                wait, backoff = backoff, min(backoff * 2, BACKOFF_MAX)
            except Exception:  # noqa: BLE001 - the loop must survive a bug in a pass
                log.exception("cluster: agent loop")
                wait = BACKOFF_MAX
            self._wake.wait(wait)
            self._wake.clear()

    def _check_reachable(self) -> None:
        self.client.status()
        if self._registered and not self._fence_pending and not self.membership.overdue:
            self._set_state(READY)

    def _register(self) -> None:
        fenced = self._fence_pending
        if fenced:
            self.membership.rejoin()
            how = "re-registered under a new lease"
        elif self.membership.adopt(self._saved_lease):
            how = f"kept lease {self._saved_lease:x} of the previous run"
        else:
            self.membership.join()
            how = "registered"
        lease = self.membership.lease
        self._saved_lease = lease
        save_state(self.root, {"node_id": self.node_id, "lease": lease})
        self._reclaim()
        if self.listener is not None:
            self.listener.publish_all()
            if fenced:
                self.listener.fence(False)
        self._fence_pending = False
        self._registered = True
        self._reconcile_due = True
        log.info("cluster: node %s %s (lease %x)", self.node_id, how, lease)
        self._set_state(READY)

    def _reclaim(self) -> None:
        """Claim local endpoints' addresses again; a claim owned by another node is a
        conflict (that endpoint stays down)."""
        if self.listener is None:
            return
        for net_id, ip, ep_id in self.listener.local_claims():
            key = self.keys.claim(net_id, ip)
            existing = self.client.create(key, self.ipam._value(ep_id))
            owner = "" if existing is None else existing.json().get("node", "")
            if existing is not None and owner != self.node_id:
                msg = (f"address {ip} is claimed by node {self.node_name(owner)} ({owner}):"
                       f" endpoint {ep_id[:12]} down")
                self.conflicts[ep_id] = msg
                log.error("cluster: conflict: %s", msg)
                self.listener.claim_conflict(net_id, ip, ep_id, owner)
            else:
                self.conflicts.pop(ep_id, None)


def resolve_advertise(advertise: str,
                      resolver: Callable[[str], tuple[str, str]] | None = None
                      ) -> tuple[str, str]:
    """``--cluster-advertise`` → (VTEP address, underlay interface)."""
    if resolver is None:
        from cove.kernel.vxlan import resolve_underlay as resolver
    return resolver(advertise)
