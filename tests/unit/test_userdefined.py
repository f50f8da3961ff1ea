"""User-defined network helpers (pure): IPAM extras, address choice, the gateway rule,
per-network /etc/hosts edits."""

from __future__ import annotations

import pytest

from cove.errors import Conflict, InvalidParameter
from cove.network import hostsedit
from cove.network.model import Endpoint, Network
from cove.network.userdefined import (
    IP_NO_SUBNET,
    IP_ON_DEFAULT,
    allocate_ip,
    gateway_endpoint,
    ipam_extras,
    next_ifname,
)


def _net(**kw) -> Network:
    cfg = ipam_extras(kw.pop("subnet", "10.9.0.0/24"), kw.pop("gateway", "10.9.0.1"),
                      kw.pop("ip_range", ""), kw.pop("aux", None))
    n = Network(id="n" * 64, name="n", driver="bridge", bridge="br-x", subnet=cfg["Subnet"],
                gateway=cfg["Gateway"], ipam={"Config": [cfg], "UserSubnet": True})
    for k, v in kw.items():
        setattr(n, k, v)
    return n


def test_ipam_extras_validate_against_the_subnet():
    assert ipam_extras("10.9.0.0/24", "10.9.0.1", "10.9.0.128/25", {"r": "10.9.0.5"}) == {
        "Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1", "IPRange": "10.9.0.128/25",
        "AuxiliaryAddresses": {"r": "10.9.0.5"}}
    with pytest.raises(InvalidParameter, match="no matching subnet for range"):
        ipam_extras("10.9.0.0/24", "10.9.0.1", "10.8.0.0/25")
    with pytest.raises(InvalidParameter, match="aux-address"):
        ipam_extras("10.9.0.0/24", "10.9.0.1", aux={"r": "10.8.0.5"})


def test_allocate_from_range_skipping_aux_gateway_and_used():
    n = _net(ip_range="10.9.0.128/25", aux={"r": "10.9.0.129"}, gateway="10.9.0.130")
    assert allocate_ip(n, []) == "10.9.0.131"
    assert allocate_ip(n, ["10.9.0.131"]) == "10.9.0.132"


def test_requested_ip_checks():
    n = _net()
    assert allocate_ip(n, [], "10.9.0.77") == "10.9.0.77"
    with pytest.raises(Conflict, match="Address already in use"):
        allocate_ip(n, ["10.9.0.77"], "10.9.0.77")
    with pytest.raises(Conflict):
        allocate_ip(n, [], "10.9.0.1")                        # the gateway
    with pytest.raises(InvalidParameter, match="does not belong"):
        allocate_ip(n, [], "10.10.0.5")
    default = _net(default=True)
    with pytest.raises(InvalidParameter, match=IP_ON_DEFAULT):
        allocate_ip(default, [], "10.9.0.5")
    auto = _net()
    auto.ipam["UserSubnet"] = False
    with pytest.raises(InvalidParameter, match=IP_NO_SUBNET):
        allocate_ip(auto, [], "10.9.0.5")


def test_exhausted_range():
    n = _net(subnet="10.9.0.0/30", gateway="10.9.0.1")
    assert allocate_ip(n, []) == "10.9.0.2"
    with pytest.raises(Exception, match="no available IPv4 addresses"):
        allocate_ip(n, ["10.9.0.2"])


def _ep(ifname: str, net: str, gw: str = "10.0.0.1") -> Endpoint:
    return Endpoint(id=ifname, network_id=net, container_id="c", ifname=ifname, gateway=gw)


def test_gateway_rule_first_attached_non_internal_never_alphabetical():
    nets = {"a": _net(), "b": _net(), "i": _net(internal=True)}
    eps = [_ep("eth10", "a"), _ep("eth2", "b"), _ep("eth0", "i", "")]
    assert gateway_endpoint(eps, nets).ifname == "eth2"    # eth2 before eth10, internal skipped
    assert gateway_endpoint([_ep("eth0", "i", "")], nets) is None
    assert next_ifname(eps) == "eth11" and next_ifname([]) == "eth0"


def test_hosts_edits_touch_only_their_line():
    text = ("127.0.0.1\tlocalhost\n10.9.9.9\tkeep.me\n172.18.0.2\tabc\n"
            "# a user's edit\n")
    added = hostsedit.add_entry(text, "172.19.0.3", "abc")
    assert added == text + "172.19.0.3\tabc\n"
    assert hostsedit.add_entry(added, "172.19.0.3", "abc") == added      # idempotent
    assert hostsedit.remove_entry(added, "172.19.0.3", "abc") == text
    assert hostsedit.remove_entry(text, "1.2.3.4", "abc") == text
