"""Incremental nftables changes for a new user-defined network (pure rendering).

Replacing the whole ``inet cove`` table costs time proportional to the number of
networks. When a network is added to a table that already isolates two or more bridges
(the ``cove_bridges`` set exists), only the new network's rules are added, in one
transaction: its bridge joins the set, its drop rules go to the top of the forward chain
(isolation, internal, ICC), its accept rules to the end, its masquerade rule to
postrouting. The result matches :func:`firewall.render_table` rule for rule (in a
different order that decides the same way: drops come before accepts). Removals and
daemon starts still replace the table.
"""

from __future__ import annotations

from cove.network.firewall import BRIDGES_SET, FAMILY, TABLE, _q, bridge_networks
from cove.network.model import Network


def can_add_incrementally(existing: list[Network]) -> bool:
    """True when the current table already has the bridge set (two or more bridges)."""
    return len(bridge_networks(existing)) >= 2


def render_network_add(net: Network, table: str = TABLE) -> str:
    """The nft script adding ``net``'s rules to an existing table."""
    t = f"{FAMILY} {table}"
    br = _q(net.bridge)
    drops = [f"iifname {br} oifname != {br} oifname @{BRIDGES_SET} drop"]
    if net.internal:
        drops += [f"iifname {br} oifname != {br} drop", f"oifname {br} iifname != {br} drop"]
    if not net.icc:
        drops.append(f"iifname {br} oifname {br} drop")
    lines = [f"add element {t} {BRIDGES_SET} {{ {br} }}"]
    lines += [f"insert rule {t} forward {r}" for r in reversed(drops)]
    lines += [f"add rule {t} forward iifname {br} accept",
              f"add rule {t} forward oifname {br} ct state established,related accept"]
    if net.masquerade and not net.internal:
        lines.append(f"add rule {t} postrouting ip saddr {net.subnet} oifname != {br}"
                     " masquerade")
        if net.subnet6:
            lines.append(f"add rule {t} postrouting ip6 saddr {net.subnet6} oifname != {br}"
                         " masquerade")
    return "".join(line + "\n" for line in lines)
