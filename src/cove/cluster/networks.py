"""Global (overlay) networks in etcd: unique names, unique VNIs, no overlapping subnets.

``create`` is one transaction guarded by ``version(network-names/<name>) == 0``,
``version(vni/<v>) == 0`` and ``mod_revision(cluster/networks-rev) == seen``, so two
hosts creating the same name at once get exactly one winner, and the overlap check
(made on the list read at ``seen``) cannot race. The VNI is the lowest free one from
4096 up; losing a VNI race retries with the next free one.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cove.cluster.keys import Keys
from cove.errors import Conflict, NotFound, SystemFailure
from cove.store.etcd import EtcdClient, cmp_mod, cmp_version, op_delete, op_put

VNI_MIN = 4096
VNI_MAX = (1 << 24) - 1
_ATTEMPTS = 32


def lowest_free_vni(used: set[int], start: int = VNI_MIN) -> int:
    """The lowest VNI >= ``start`` not in ``used``."""
    v = start
    while v in used:
        v += 1
    if v > VNI_MAX:
        raise SystemFailure("no free VXLAN network identifier left")
    return v


def overlapping(subnets: list[str], existing: list[dict[str, Any]]) -> str | None:
    """Name of an existing network whose subnets overlap ``subnets``, else None."""
    mine = [ipaddress.ip_network(s, strict=False) for s in subnets]
    for rec in existing:
        for sub in rec.get("subnets", []):
            other = ipaddress.ip_network(sub["subnet"], strict=False)
            if any(m.overlaps(other) for m in mine):
                return rec.get("name", "?")
    return None


class GlobalNetworks:
    """Create, read and delete cluster-wide network records."""

    def __init__(self, client: EtcdClient, keys: Keys | None = None) -> None:
        self.client = client
        self.keys = keys or Keys()

    def create(self, net_id: str, name: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store a network named ``name``; returns the record with its ``vni``.

        ``record["subnets"]`` is a list of {"subnet", "gateway", ...}. Conflict when the
        name is taken or a subnet overlaps another global network.
        """
        k = self.keys
        for _ in range(_ATTEMPTS):
            rev_kv = self.client.get(k.networks_rev())
            seen = rev_kv.mod_revision if rev_kv else 0
            if self.client.get(k.network_name(name)) is not None:
                raise Conflict(f"network with name {name} already exists")
            nets, _ = self.client.range(k.networks(), prefix=True)
            recs = [kv.json() for kv in nets]
            clash = overlapping([s["subnet"] for s in record.get("subnets", [])], recs)
            if clash:
                raise Conflict(f"cannot create network {name}: its subnet overlaps with "
                               f"network {clash}")
            vnis, _ = self.client.range(k.vnis(), prefix=True, keys_only=True)
            used = {int(kv.key.rsplit("/", 1)[1]) for kv in vnis}
            vni = record.get("vni") or lowest_free_vni(used)
            rec = dict(record, id=net_id, name=name, vni=vni)
            res = self.client.txn(
                [cmp_version(k.network_name(name), 0), cmp_version(k.vni(vni), 0),
                 cmp_version(k.network(net_id), 0), cmp_mod(k.networks_rev(), seen)],
                [op_put(k.network(net_id), rec), op_put(k.network_name(name), net_id),
                 op_put(k.vni(vni), net_id), op_put(k.networks_rev(), net_id)])
            if res.succeeded:
                return rec
            if record.get("vni") and self.client.get(k.vni(vni)) is not None:
                raise Conflict(f"cannot create network {name}: VNI {vni} is in use")
        raise Conflict(f"cannot create network {name}: too much contention, try again")

    def get(self, net_id: str) -> dict[str, Any]:
        kv = self.client.get(self.keys.network(net_id))
        if kv is None:
            raise NotFound(f"network {net_id} not found")
        return kv.json()

    def by_name(self, name: str) -> dict[str, Any]:
        kv = self.client.get(self.keys.network_name(name))
        if kv is None:
            raise NotFound(f"network {name} not found")
        return self.get(kv.value.decode())

    def list(self) -> list[dict[str, Any]]:
        kvs, _ = self.client.range(self.keys.networks(), prefix=True)
        return [kv.json() for kv in kvs]

    def delete(self, net_id: str) -> None:
        """Delete the network, its name, VNI and address claims. Refused (Conflict) while
        endpoints are registered on it; a network already gone is fine."""
        k = self.keys
        kv = self.client.get(k.network(net_id))
        if kv is None:
            return
        rec = kv.json()
        eps, _ = self.client.range(k.endpoints(net_id), prefix=True, keys_only=True)
        if eps:
            raise Conflict(f"error while removing network: network {rec.get('name', net_id)} "
                           f"id {net_id} has active endpoints")
        self.client.txn(
            [cmp_mod(k.network(net_id), kv.mod_revision)],
            [op_delete(k.network(net_id)), op_delete(k.network_name(rec["name"])),
             op_delete(k.vni(int(rec["vni"]))), op_delete(k.ipam(net_id), prefix=True),
             op_put(k.networks_rev(), net_id)])
