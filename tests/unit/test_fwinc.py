"""Incremental rules of a new network equal what the full table would hold (so the two
paths cannot drift apart: a new per-network rule in firewall.py must be added to fwinc)."""

from __future__ import annotations

from collections import Counter

import pytest

from cove.network import firewall, fwinc
from cove.network.model import Network


def _net(i: int, **kw) -> Network:
    return Network(id=f"{i:064x}", name=f"n{i}", driver="bridge", bridge=f"br-{i:012x}",
                   subnet=f"10.{i}.0.0/24", gateway=f"10.{i}.0.1", **kw)


def _rules(nets) -> Counter:
    return Counter([("forward", r) for r in firewall.forward_rules(nets)]
                   + [("postrouting", r) for r in firewall.nat_rules(nets)])


@pytest.mark.parametrize("kw", [{}, {"internal": True}, {"icc": False},
                                {"masquerade": False}, {"internal": True, "icc": False}])
def test_incremental_add_equals_full_render(kw):
    existing = [_net(1, default=True), _net(2)]
    new = _net(3, **kw)
    assert fwinc.can_add_incrementally(existing)
    script = fwinc.render_network_add(new)
    added: Counter = Counter()
    for line in script.splitlines():
        words = line.split(" ", 5)
        if words[0] in ("add", "insert") and words[1] == "rule":
            added[(words[4], words[5])] += 1
    assert _rules(existing) + added == _rules([*existing, new])
    assert f'add element inet cove {firewall.BRIDGES_SET} {{ "{new.bridge}" }}' in script
    # drops go to the top of the chain, accepts to the end
    assert all(line.startswith("insert") == line.endswith("drop")
               for line in script.splitlines() if " forward " in line)


def test_first_user_network_replaces_the_table():
    assert not fwinc.can_add_incrementally([_net(1, default=True)])
