"""Global IPAM: one etcd key per claimed address, created only if absent.

``ipam/<net-id>/<ip>`` → {"node", "ep", "ts"}. A create-if-absent transaction makes
each address belong to at most one claimant without locks. Allocation starts at a random
host of the pool (so concurrent claimants rarely collide), and after a few lost races
reads the claimed keys once to jump to holes. Claims are not lease-bound: a dead node's
claims are reaped by :class:`Reaper` after a grace period longer than the TTL, with a
transaction guarded by ``version(nodes/<n>) == 0`` and the claim's ``mod_revision``, so
reaping by several nodes at once is harmless.
"""

from __future__ import annotations

import ipaddress
import logging
import random
import time
from typing import Any

from cove.cluster.keys import Keys
from cove.errors import Conflict, InvalidParameter, SystemFailure
from cove.store.etcd import EtcdClient, cmp_mod, cmp_version, op_delete

log = logging.getLogger(__name__)

_PROBES_BEFORE_SCAN = 3


def pool_range(subnet: str) -> tuple[int, int]:
    """(first, count) of the host addresses of ``subnet`` as integers (no list built)."""
    net = ipaddress.ip_network(subnet, strict=False)
    if net.prefixlen >= net.max_prefixlen - 1:
        return int(net.network_address), net.num_addresses
    return int(net.network_address) + 1, net.num_addresses - 2


def pool_hosts(subnet: str, reserved: set[str]) -> list[str]:
    """Claimable addresses of ``subnet`` (host addresses minus ``reserved``)."""
    first, count = pool_range(subnet)
    out = (str(ipaddress.ip_address(first + i)) for i in range(count))
    return [a for a in out if a not in reserved]


def candidates(subnet: str, skip: set[str], limit: int) -> list[str]:
    """Up to ``limit`` addresses of ``subnet`` not in ``skip``, walking from a random
    host onwards (wrapping), so concurrent claimants start far apart."""
    first, count = pool_range(subnet)
    start = random.randrange(count) if count else 0
    out: list[str] = []
    for i in range(count):
        a = str(ipaddress.ip_address(first + (start + i) % count))
        if a not in skip:
            out.append(a)
            if len(out) >= limit:
                break
    return out


class GlobalIpam:
    """Claims and releases addresses of global networks on behalf of ``node_id``."""

    def __init__(self, client: EtcdClient, node_id: str, keys: Keys | None = None) -> None:
        self.client = client
        self.node_id = node_id
        self.keys = keys or Keys()

    def _value(self, ep: str) -> dict[str, Any]:
        return {"node": self.node_id, "ep": ep, "ts": round(time.time(), 3)}

    def claim(self, net_id: str, subnet: str, ep: str, ip: str = "",
              reserved: set[str] | None = None) -> str:
        """Claim ``ip`` (Conflict if taken) or any free address of ``subnet``."""
        if ip:
            if ipaddress.ip_address(ip) not in ipaddress.ip_network(subnet, strict=False):
                raise InvalidParameter(f"Invalid address {ip}: It does not belong to any of "
                                       "this network's subnets")
            if self.client.create(self.keys.claim(net_id, ip), self._value(ep)) is not None:
                raise Conflict(f"Address already in use: {ip}")
            return ip
        reserved = reserved or set()
        probes = 0
        for cand in candidates(subnet, reserved, _PROBES_BEFORE_SCAN):
            probes += 1
            if self.client.create(self.keys.claim(net_id, cand), self._value(ep)) is None:
                return cand
        while True:
            taken = {kv.key.rsplit("/", 1)[1] for kv in
                     self.client.range(self.keys.ipam(net_id), prefix=True, keys_only=True)[0]}
            free = candidates(subnet, taken | reserved, 8)
            if not free:
                raise SystemFailure(f"no available IPv4 addresses on network {net_id}")
            for cand in free:
                probes += 1
                if self.client.create(self.keys.claim(net_id, cand), self._value(ep)) is None:
                    if probes > 10:
                        log.info("claim on %s took %d probes", net_id, probes)
                    return cand

    def reclaim(self, net_id: str, ip: str, ep: str) -> bool:
        """After re-registering: claim ``ip`` again. True when it is (still or again)
        ours; False when another node holds it (the caller must detach that endpoint)."""
        existing = self.client.create(self.keys.claim(net_id, ip), self._value(ep))
        return existing is None or existing.json().get("node") == self.node_id

    def release(self, net_id: str, ip: str) -> None:
        """Free ``ip`` if this node holds it; a claim gone or held by another is left."""
        key = self.keys.claim(net_id, ip)
        kv = self.client.get(key)
        if kv is None or kv.json().get("node") != self.node_id:
            return
        self.client.txn([cmp_mod(key, kv.mod_revision)], [op_delete(key)])

    def release_all(self) -> int:
        """Free every claim of this node (clean leave); returns how many."""
        kvs, _ = self.client.range(self.keys.ipams(), prefix=True)
        n = 0
        for kv in kvs:
            if kv.json().get("node") == self.node_id:
                res = self.client.txn([cmp_mod(kv.key, kv.mod_revision)], [op_delete(kv.key)])
                n += res.succeeded
        return n

    def claims(self, net_id: str) -> dict[str, dict[str, Any]]:
        """Claimed addresses of a network → their records."""
        kvs, _ = self.client.range(self.keys.ipam(net_id), prefix=True)
        return {kv.key.rsplit("/", 1)[1]: kv.json() for kv in kvs}


class Reaper:
    """Frees claims of nodes that are not registered, once they stayed so for ``grace``.

    Call :meth:`scan` periodically (every node may; reaps are idempotent). A claim is
    remembered with the time it was first seen orphaned and its ``mod_revision``; it is
    deleted only if, after the grace, the node is still absent and the claim unchanged.
    """

    def __init__(self, client: EtcdClient, grace: float, keys: Keys | None = None) -> None:
        self.client = client
        self.grace = grace
        self.keys = keys or Keys()
        self._orphans: dict[str, tuple[int, float]] = {}

    def scan(self, now: float | None = None) -> list[str]:
        """One pass; returns the keys reaped."""
        now = time.monotonic() if now is None else now
        nodes, _ = self.client.range(self.keys.nodes(), prefix=True, keys_only=True)
        alive = {kv.key.rsplit("/", 1)[1] for kv in nodes}
        claims, _ = self.client.range(self.keys.ipams(), prefix=True)
        seen: dict[str, tuple[int, float]] = {}
        reaped = []
        for kv in claims:
            node = kv.json().get("node", "")
            if node in alive:
                continue
            first = self._orphans.get(kv.key)
            since = first[1] if first and first[0] == kv.mod_revision else now
            if now - since < self.grace:
                seen[kv.key] = (kv.mod_revision, since)
                continue
            res = self.client.txn([cmp_version(self.keys.node(node), 0),
                                   cmp_mod(kv.key, kv.mod_revision)], [op_delete(kv.key)])
            if res.succeeded:
                reaped.append(kv.key)
        self._orphans = seen
        if reaped:
            log.info("reaped %d address claims of dead nodes", len(reaped))
        return reaped
