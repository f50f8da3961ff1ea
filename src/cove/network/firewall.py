"""cove's nftables table, rendered from the model (pure).

:func:`render_table` returns an nft script that replaces table ``inet cove`` in one
transaction (``add table; delete table; table {...}``): a postrouting NAT chain that
masquerades each bridge network's subnet leaving by any other interface, and a forward
filter chain that lets traffic in from the bridge and established/related traffic back
to it (dropping bridge-to-bridge traffic between networks, and, for ``icc=False`` or
internal networks, what Docker drops).

Published ports (later) are named maps: pass them as :class:`NamedMap` with their
elements so that replacing the table re-adds them in the same transaction, and change
them incrementally with :func:`render_map_update`. Extra chains (a DNAT prerouting chain
using the maps, say) are :class:`Chain` values appended to the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cove.network.model import Network

TABLE = "cove"
FAMILY = "inet"
BRIDGES_SET = "cove_bridges"     # every cove bridge (isolation between networks)


@dataclass
class NamedMap:
    """A named map (or set, if ``value_type`` is empty) with its current elements."""

    name: str
    key_type: str                       # e.g. "inet_proto . inet_service"
    value_type: str = ""                # e.g. "ipv4_addr . inet_service"
    elements: list[str] = field(default_factory=list)   # "tcp . 8080 : 172.17.0.2 . 80"
    flags: str = ""                     # e.g. "interval"


@dataclass
class Chain:
    """A chain: ``hook`` is e.g. ``type nat hook prerouting priority dstnat; policy accept;``
    (empty for a regular chain); ``rules`` one per line."""

    name: str
    hook: str = ""
    rules: list[str] = field(default_factory=list)


def _q(ifname: str) -> str:
    return f'"{ifname}"'


def bridge_networks(networks: Iterable[Network]) -> list[Network]:
    """Networks that own a kernel bridge, in a stable order (by bridge name)."""
    return sorted((n for n in networks if n.driver == "bridge" and n.bridge and n.subnet),
                  key=lambda n: n.bridge)


def nat_rules(networks: Sequence[Network]) -> list[str]:
    rules = []
    for n in bridge_networks(networks):
        if n.masquerade and not n.internal:
            rules.append(f"ip saddr {n.subnet} oifname != {_q(n.bridge)} masquerade")
            if getattr(n, "subnet6", ""):           # IPv6 (cove.network.ipv6)
                rules.append(f"ip6 saddr {n.subnet6} oifname != {_q(n.bridge)} masquerade")
    return rules


def forward_rules(networks: Sequence[Network], link_set: str = "") -> list[str]:
    """``link_set``: a set of ``parent ip . child ip . proto . port`` (legacy links) let
    through an ICC drop, both ways (Docker's per-link accept rules)."""
    nets = bridge_networks(networks)
    rules = []
    if len(nets) > 1:
        # isolation between cove networks (Docker's ISOLATION stages); the bridges are
        # the named set BRIDGES_SET, so the table grows linearly with the networks
        for n in nets:
            rules.append(f"iifname {_q(n.bridge)} oifname != {_q(n.bridge)}"
                         f" oifname @{BRIDGES_SET} drop")
    for n in nets:
        br = _q(n.bridge)
        if n.internal:
            rules.append(f"iifname {br} oifname != {br} drop")
            rules.append(f"oifname {br} iifname != {br} drop")
        if not n.icc:
            if link_set:
                rules.append(f"iifname {br} oifname {br} ip saddr . ip daddr . meta l4proto"
                             f" . th dport @{link_set} accept")
                rules.append(f"iifname {br} oifname {br} ip daddr . ip saddr . meta l4proto"
                             f" . th sport @{link_set} accept")
            rules.append(f"iifname {br} oifname {br} drop")
        rules.append(f"iifname {br} accept")
        rules.append(f"oifname {br} ct state established,related accept")
    return rules


def _render_map(m: NamedMap) -> list[str]:
    kind = "map" if m.value_type else "set"
    typ = f"{m.key_type} : {m.value_type}" if m.value_type else m.key_type
    out = [f"\t{kind} {m.name} {{", f"\t\ttype {typ}"]
    if m.flags:
        out.append(f"\t\tflags {m.flags}")
    if m.elements:
        out.append("\t\telements = { " + ", ".join(m.elements) + " }")
    out.append("\t}")
    return out


def _render_chain(c: Chain) -> list[str]:
    out = [f"\tchain {c.name} {{"]
    if c.hook:
        out.append(f"\t\t{c.hook}")
    out += [f"\t\t{r}" for r in c.rules]
    out.append("\t}")
    return out


def render_table(networks: Sequence[Network], table: str = TABLE,
                 maps: Sequence[NamedMap] = (), chains: Sequence[Chain] = (),
                 link_set: str = "") -> str:
    """The nft script replacing ``inet <table>`` atomically with the model's rules."""
    base = [
        Chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;",
              nat_rules(networks)),
        Chain("forward", "type filter hook forward priority filter; policy accept;",
              forward_rules(networks, link_set)),
    ]
    body: list[str] = []
    bridges = bridge_networks(networks)
    if len(bridges) > 1:
        body += _render_map(NamedMap(BRIDGES_SET, "ifname",
                                     elements=[_q(n.bridge) for n in bridges]))
    for m in maps:
        body += _render_map(m)
    for c in [*base, *chains]:
        body += _render_chain(c)
    return (f"add table {FAMILY} {table}\n"
            f"delete table {FAMILY} {table}\n"
            f"table {FAMILY} {table} {{\n" + "\n".join(body) + "\n}\n")


def render_map_update(map_name: str, add: Iterable[str] = (), delete: Iterable[str] = (),
                      table: str = TABLE) -> str:
    """Incremental element changes of one map, as one script (deletes first, so that a
    key can be re-added with a new value in the same transaction)."""
    lines = []
    dl, al = list(delete), list(add)
    if dl:
        lines.append(f"delete element {FAMILY} {table} {map_name} {{ {', '.join(dl)} }}")
    if al:
        lines.append(f"add element {FAMILY} {table} {map_name} {{ {', '.join(al)} }}")
    return "".join(line + "\n" for line in lines)


def render_delete(table: str = TABLE) -> str:
    """Remove the table (a missing table is fine)."""
    return f"add table {FAMILY} {table}\ndelete table {FAMILY} {table}\n"
