"""IPAM: default pool choice, --bip, lowest-free allocation, release, MACs."""

import pytest

from cove.errors import InvalidParameter, SystemFailure
from cove.network import ipam


def test_default_pools_order_and_count():
    pools = [str(p) for p in ipam.default_pools()]
    assert pools[0] == "172.17.0.0/16"
    assert pools[14] == "172.31.0.0/16"
    assert pools[15] == "192.168.0.0/20"
    assert pools[-1] == "192.168.240.0/20"
    assert len(pools) == 31


def test_choose_first_free_pool():
    assert ipam.choose_subnet([], []) == "172.17.0.0/16"


def test_choose_skips_host_routes_and_used_networks():
    host = ["0.0.0.0/0", "172.17.5.0/24", "10.0.0.0/8"]
    assert ipam.choose_subnet(host, ["172.18.0.0/16"]) == "172.19.0.0/16"


def test_choose_skips_a_covering_host_route():
    # a VPN route covering all of 172.16/12 pushes cove into 192.168
    assert ipam.choose_subnet(["172.16.0.0/12"], []) == "192.168.0.0/20"
    assert ipam.choose_subnet(["172.16.0.0/12", "192.168.1.0/24"], []) == "192.168.16.0/20"


def test_choose_exhausted_has_dockers_message():
    with pytest.raises(SystemFailure) as ei:
        ipam.choose_subnet(["172.16.0.0/12", "192.168.0.0/16"], [])
    assert "could not find an available, non-overlapping IPv4 address pool" in str(ei.value)


def test_parse_bip():
    assert ipam.parse_bip("172.30.0.1/16") == ("172.30.0.0/16", "172.30.0.1")
    assert ipam.parse_bip("10.1.2.254/24") == ("10.1.2.0/24", "10.1.2.254")


@pytest.mark.parametrize("bad", ["nonsense", "172.30.0.1", "172.30.0.0/16",
                                 "10.0.0.255/24", "10.0.0.1/31", "::1/64"])
def test_parse_bip_rejects(bad):
    with pytest.raises(InvalidParameter):
        ipam.parse_bip(bad)


def test_gateway_is_first_host():
    assert ipam.gateway_for("172.17.0.0/16") == "172.17.0.1"


def test_allocate_lowest_free_and_release():
    pool = ipam.AddressPool("172.17.0.0/16", "172.17.0.1")
    assert pool.allocate() == "172.17.0.2"
    assert pool.allocate() == "172.17.0.3"
    assert pool.allocate() == "172.17.0.4"
    pool.release("172.17.0.3")
    assert pool.allocate() == "172.17.0.3"       # lowest free is reused at once
    assert pool.allocate() == "172.17.0.5"
    pool.release("172.17.0.99")                    # releasing a free address is fine


def test_allocate_respects_used_and_custom_gateway():
    pool = ipam.AddressPool("10.9.0.0/24", "10.9.0.2", used=["10.9.0.1", "10.9.0.3"])
    assert pool.allocate() == "10.9.0.4"


def test_allocate_never_gives_network_broadcast_or_gateway():
    pool = ipam.AddressPool("10.9.0.0/30", "10.9.0.1")
    assert pool.allocate() == "10.9.0.2"
    with pytest.raises(SystemFailure) as ei:
        pool.allocate()
    assert "no available IPv4 addresses" in str(ei.value)


def test_reserve_outside_subnet_is_invalid():
    pool = ipam.AddressPool("10.9.0.0/24", "10.9.0.1")
    with pytest.raises(InvalidParameter) as ei:
        pool.reserve("10.50.0.5")
    assert "does not belong to any of this network's subnets" in str(ei.value)


def test_check_overlap():
    ipam.check_overlap("10.1.0.0/16", ["10.2.0.0/16"])
    with pytest.raises(InvalidParameter, match="Pool overlaps"):
        ipam.check_overlap("10.1.0.0/16", ["10.1.5.0/24"])


def test_mac_for_ip_docker_2010():
    assert ipam.mac_for_ip("172.17.0.2") == "02:42:ac:11:00:02"
    assert ipam.mac_for_ip("10.99.0.200") == "02:42:0a:63:00:c8"
