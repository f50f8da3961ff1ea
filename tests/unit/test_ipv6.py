"""IPv6 IPAM and link-local IPs (cove.network.ipv6), pure."""

from __future__ import annotations

import pytest

from cove.errors import Conflict, InvalidParameter, SystemFailure
from cove.network import ipv6
from cove.network.model import Network


def test_pool_entry_normalizes_and_validates():
    assert ipv6.pool_entry("2001:389::1/64") == {"Subnet": "2001:389::/64"}
    e = ipv6.pool_entry("2001:389::1/64", "2001:389::ffff", "2001:389::0/96")
    assert e == {"Subnet": "2001:389::/64", "IPRange": "2001:389::/96",
                 "Gateway": "2001:389::ffff"}
    with pytest.raises(InvalidParameter, match="no matching subnet for gateway"):
        ipv6.pool_entry("fd00::/64", "fd01::1")
    with pytest.raises(InvalidParameter, match="no matching subnet for range"):
        ipv6.pool_entry("fd00::/64", "", "fd01::/96")
    for bad in ("fe80::/64", "ff02::/64", "nonsense/64", "fd00::"):
        with pytest.raises(InvalidParameter):
            ipv6.pool_entry(bad)


def test_plan_gateway_overlap_and_disabled():
    assert ipv6.plan(True, {"Subnet": "fd00:1::/64"}, "id", []) == (
        "fd00:1::/64", "fd00:1::1", {"Subnet": "fd00:1::/64"})
    gw = ipv6.plan(True, {"Subnet": "fd00:1::/64", "Gateway": "fd00:1::ff"}, "id", [])[1]
    assert gw == "fd00:1::ff"
    with pytest.raises(InvalidParameter, match="Pool overlaps"):
        ipv6.plan(True, {"Subnet": "fd00:1::/64"}, "id", ["fd00:1::/48", ""])
    # a pool without EnableIPv6 is kept, nothing assigned (Docker 20.10)
    assert ipv6.plan(False, {"Subnet": "fd00:1::/64"}, "id", []) == (
        "", "", {"Subnet": "fd00:1::/64"})


def test_ula_default_is_stable_and_skips_used():
    s1 = ipv6.plan(True, None, "abc", [])[0]
    assert s1.startswith("fd") and s1.endswith("/64") and s1 == ipv6.ula_subnet("abc", [])
    s2 = ipv6.ula_subnet("abc", [s1])
    assert s2 != s1 and s2.endswith("/64")


def test_allocate_lowest_free_range_requested():
    assert ipv6.allocate("fd00::/64", "fd00::1", None, []) == "fd00::2"
    assert ipv6.allocate("fd00::/64", "fd00::1", None, ["fd00::2", "fd00::3"]) == "fd00::4"
    # released address comes back first
    assert ipv6.allocate("fd00::/64", "fd00::1", None, ["fd00::3"]) == "fd00::2"
    entry = {"Subnet": "2001:389::/64", "IPRange": "2001:389::/96",
             "AuxiliaryAddresses": {"r": "2001:389::1"}}
    assert ipv6.allocate("2001:389::/64", "2001:389::ffff", entry, []) == "2001:389::2"
    assert ipv6.allocate("fd00::/64", "fd00::1", None, [], "fd00::f00d") == "fd00::f00d"
    with pytest.raises(Conflict, match="Address already in use"):
        ipv6.allocate("fd00::/64", "fd00::1", None, ["fd00::f00d"], "fd00::f00d")
    with pytest.raises(Conflict):
        ipv6.allocate("fd00::/64", "fd00::1", None, [], "fd00::1")
    with pytest.raises(InvalidParameter, match="does not belong"):
        ipv6.allocate("fd00::/64", "fd00::1", None, [], "fd01::5")
    with pytest.raises(SystemFailure, match="no available IPv6"):
        ipv6.allocate("fd00::/126", "fd00::1", None, ["fd00::2", "fd00::3"])


def _net(**kw) -> Network:
    return Network(id="n" * 64, name="v6", driver="bridge", bridge="br-x",
                   subnet="10.0.0.0/24", gateway="10.0.0.1", **kw)


def test_endpoint_addr_enabled_disabled_and_no_subnet():
    on = _net(enable_ipv6=True, subnet6="fd00::/64", gateway6="fd00::1",
              ipam={"Config": [{"Subnet": "fd00::/64"}], "UserSubnet6": True})
    assert ipv6.endpoint_addr(on, ["fd00::2"]) == ("fd00::3", 64, "fd00::1")
    assert ipv6.endpoint_addr(on, [], "fd00::9") == ("fd00::9", 64, "fd00::1")
    off = _net(ipam={"Config": [{"Subnet": "2001:389::/64"}]})
    assert ipv6.endpoint_addr(off, [], "2001:389::f00d") == ("", 0, "")
    with pytest.raises(InvalidParameter, match="does not belong"):
        ipv6.endpoint_addr(off, [], "fd00::1")
    with pytest.raises(InvalidParameter, match="user configured subnets"):
        ipv6.endpoint_addr(_net(), [], "fd00::1")
    auto = _net(enable_ipv6=True, subnet6="fd00::/64", gateway6="fd00::1",
                ipam={"Config": [{"Subnet": "fd00::/64"}], "UserSubnet6": False})
    with pytest.raises(InvalidParameter, match="user configured subnets"):
        ipv6.endpoint_addr(auto, [], "fd00::9")


def test_link_local_ips():
    assert ipv6.link_local(["169.254.8.8", "fe80::8"]) == ["169.254.8.8", "fe80::8"]
    assert ipv6.link_local_cidrs(["169.254.8.8", "fe80::8"]) == [
        ("169.254.8.8", 16), ("fe80::8", 64)]
    for bad in ("10.0.0.1", "fd00::1", "x"):
        with pytest.raises(InvalidParameter, match="invalid link-local IP address"):
            ipv6.link_local([bad])


def test_masquerade_rule_for_the_ipv6_subnet():
    from cove.network import firewall, fwinc
    n = _net(enable_ipv6=True, subnet6="fd00::/64", gateway6="fd00::1")
    rule = 'ip6 saddr fd00::/64 oifname != "br-x" masquerade'
    assert rule in firewall.nat_rules([n])
    assert rule in fwinc.render_network_add(n)
    assert not any("ip6" in r for r in firewall.nat_rules([_net()]))
