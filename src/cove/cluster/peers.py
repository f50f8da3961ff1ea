"""The peer table: every node's endpoints (and the node list), fed by list-then-watch.

:class:`PeerTable` keeps ``endpoints/<net>/<ep>`` records and ``nodes/<id>`` records in
memory, from one :class:`cove.store.etcdwatch.Watcher` on the cluster prefix. Each
change is reported as ``on_change(added, removed)`` lists of :class:`Peer` (a re-list
reports the difference to what was known, so a compaction or a broken stream never
leaves a stale entry). Removals carry the old value (ip, mac, vtep), so the data plane
removes exactly what it programmed. Endpoints of ``local_node`` are left out: they are
plumbed locally, not through the overlay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cove.cluster.keys import Keys
from cove.store.etcd import KV, EtcdClient
from cove.store.etcdwatch import Event, Watcher


@dataclass(frozen=True)
class Peer:
    """A remote endpoint as the data plane and DNS need it."""

    network: str
    endpoint: str
    ip: str
    mac: str
    vtep: str
    node: str
    name: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    container: str = ""


def peer_from(net_id: str, ep_id: str, rec: dict[str, Any]) -> Peer:
    return Peer(net_id, ep_id, rec.get("ip", ""), rec.get("mac", ""), rec.get("vtep", ""),
                rec.get("node", ""), rec.get("name", ""), tuple(rec.get("aliases", [])),
                rec.get("container", ""))


Change = Callable[[list[Peer], list[Peer]], None]
NetworksChange = Callable[[dict[str, dict[str, Any]]], None]


class PeerTable:
    """Remote endpoints and live nodes, kept in step with etcd."""

    def __init__(self, client: EtcdClient, local_node: str = "", keys: Keys | None = None,
                 on_change: Change | None = None, on_networks: NetworksChange | None = None,
                 on_snapshot: Callable[[], None] | None = None, **watch_opts: Any) -> None:
        self.keys = keys or Keys()
        self.local_node = local_node
        self.on_change = on_change
        self.on_networks = on_networks      # every network record, after each change
        self.on_relisted = on_snapshot      # after every (re-)list, once applied
        self.peers: dict[tuple[str, str], Peer] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.networks: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.watcher = Watcher(client, self.keys.root(), self._snapshot, self._events,
                               **watch_opts)

    def start(self) -> PeerTable:
        self.watcher.start()
        return self

    def stop(self) -> None:
        self.watcher.stop()

    def for_network(self, net_id: str) -> list[Peer]:
        with self._lock:
            return [p for (n, _), p in self.peers.items() if n == net_id]

    def _parse(self, kv: KV) -> tuple[str, tuple[str, str] | str, Any] | None:
        parts = self.keys.split(kv.key)
        if len(parts) == 3 and parts[0] == "endpoints":
            rec = kv.json() if kv.value else {}
            return "ep", (parts[1], parts[2]), rec
        if len(parts) == 2 and parts[0] == "nodes":
            return "node", parts[1], kv.json() if kv.value else {}
        if len(parts) == 2 and parts[0] == "networks":
            return "net", parts[1], kv.json() if kv.value else {}
        return None

    def _remote(self, peer: Peer) -> bool:
        return not self.local_node or peer.node != self.local_node

    def _snapshot(self, kvs: list[KV], revision: int) -> None:
        peers: dict[tuple[str, str], Peer] = {}
        nodes: dict[str, dict[str, Any]] = {}
        nets: dict[str, dict[str, Any]] = {}
        for kv in kvs:
            parsed = self._parse(kv)
            if parsed is None:
                continue
            kind, ident, rec = parsed
            if kind == "ep":
                p = peer_from(ident[0], ident[1], rec)
                if self._remote(p):
                    peers[ident] = p
            elif kind == "net":
                nets[ident] = rec
            else:
                nodes[ident] = rec
        with self._lock:
            old = self.peers
            self.peers, self.nodes, self.networks = peers, nodes, nets
        if self.on_networks is not None:
            self.on_networks(dict(nets))
        removed = [p for k, p in old.items() if peers.get(k) != p]
        added = [p for k, p in peers.items() if old.get(k) != p]
        self._notify(added, removed)
        if self.on_relisted is not None:
            self.on_relisted()

    def _events(self, events: list[Event]) -> None:
        added: list[Peer] = []
        removed: list[Peer] = []
        nets_changed = False
        with self._lock:
            for ev in events:
                parsed = self._parse(ev.kv)
                if parsed is None:
                    continue
                kind, ident, rec = parsed
                if kind == "net":
                    nets_changed = True
                    if ev.type == "delete":
                        self.networks.pop(ident, None)
                    else:
                        self.networks[ident] = rec
                    continue
                if kind == "node":
                    if ev.type == "delete":
                        self.nodes.pop(ident, None)
                    else:
                        self.nodes[ident] = rec
                    continue
                old = self.peers.pop(ident, None)
                if old is not None:
                    removed.append(old)
                if ev.type == "put":
                    p = peer_from(ident[0], ident[1], rec)
                    if self._remote(p):
                        self.peers[ident] = p
                        added.append(p)
            nets = dict(self.networks)
        if nets_changed and self.on_networks is not None:
            self.on_networks(nets)
        # an update that changed nothing is neither removed nor added
        same = set(removed) & set(added)
        self._notify([p for p in added if p not in same], [p for p in removed if p not in same])

    def _notify(self, added: list[Peer], removed: list[Peer]) -> None:
        if self.on_change is not None and (added or removed):
            self.on_change(added, removed)
