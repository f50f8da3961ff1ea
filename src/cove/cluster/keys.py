"""The etcd key layout of a cove cluster (prefix configurable, default ``/cove/v1``).

```
<p>/nodes/<node-id>            [lease]  {"vtep", "name", ...}
<p>/networks/<net-id>                   {"name", "driver", "vni", "subnets", ...}
<p>/network-names/<name>                "<net-id>"
<p>/vni/<vni>                           "<net-id>"
<p>/cluster/networks-rev                bumped by every network create/delete
<p>/ipam/<net-id>/<ip>                  {"node", "ep", "ts"}  (not lease-bound; reaped)
<p>/endpoints/<net-id>/<ep-id> [lease]  {"ip", "mac", "vtep", "node", "name", ...}
```
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "/cove/v1"


@dataclass(frozen=True)
class Keys:
    """Builds the keys of one cluster under ``prefix``."""

    prefix: str = DEFAULT_PREFIX

    def root(self) -> str:
        return self.prefix + "/"

    def nodes(self) -> str:
        return f"{self.prefix}/nodes/"

    def node(self, node_id: str) -> str:
        return f"{self.prefix}/nodes/{node_id}"

    def networks(self) -> str:
        return f"{self.prefix}/networks/"

    def network(self, net_id: str) -> str:
        return f"{self.prefix}/networks/{net_id}"

    def network_name(self, name: str) -> str:
        return f"{self.prefix}/network-names/{name}"

    def vnis(self) -> str:
        return f"{self.prefix}/vni/"

    def vni(self, vni: int) -> str:
        return f"{self.prefix}/vni/{vni}"

    def networks_rev(self) -> str:
        return f"{self.prefix}/cluster/networks-rev"

    def ipams(self) -> str:
        return f"{self.prefix}/ipam/"

    def ipam(self, net_id: str) -> str:
        return f"{self.prefix}/ipam/{net_id}/"

    def claim(self, net_id: str, ip: str) -> str:
        return f"{self.prefix}/ipam/{net_id}/{ip}"

    def endpoints(self, net_id: str = "") -> str:
        return f"{self.prefix}/endpoints/{net_id}/" if net_id else f"{self.prefix}/endpoints/"

    def endpoint(self, net_id: str, ep_id: str) -> str:
        return f"{self.prefix}/endpoints/{net_id}/{ep_id}"

    def split(self, key: str) -> tuple[str, ...]:
        """The parts of ``key`` after the prefix: ("endpoints", net, ep), ("nodes", id)..."""
        if not key.startswith(self.prefix + "/"):
            return ()
        return tuple(key[len(self.prefix) + 1:].split("/"))
