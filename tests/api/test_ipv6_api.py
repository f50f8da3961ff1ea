"""IPv6 and link-local IPs in the HTTP layer: request parsing and Docker's JSON shapes."""

from __future__ import annotations

import pytest

from cove.api import parse, render
from cove.engine.model import Container, ContainerConfig
from cove.errors import InvalidParameter
from cove.network.model import Endpoint, Network


def test_network_create_body_ipv6_pool():
    kw = parse.network_create_body({
        "Name": "n", "EnableIPv6": True,
        "IPAM": {"Config": [{"Subnet": "10.1.0.0/24"},
                            {"Subnet": "2001:389::1/64", "IPRange": "2001:389::0/96",
                             "Gateway": "2001:389::ffff"}]}})
    assert kw["subnet"] == "10.1.0.0/24" and kw["enable_ipv6"] is True
    assert kw["ipv6_pool"] == {"Subnet": "2001:389::/64", "IPRange": "2001:389::/96",
                               "Gateway": "2001:389::ffff"}
    kw = parse.network_create_body({"Name": "n", "IPAM": {"Config": [{"Subnet": "fd00::/64"}]}})
    assert kw["enable_ipv6"] is False and kw["subnet"] == ""     # Docker 20.10: no implication
    for bad in ([{"Subnet": "fd00::/64"}, {"Subnet": "fd01::/64"}],
                [{"Subnet": "fd00::/64", "Gateway": "fd01::1"}]):
        with pytest.raises(InvalidParameter):
            parse.network_create_body({"Name": "n", "IPAM": {"Config": bad}})


def test_endpoint_config_ipv6_and_link_local():
    out = parse.endpoint_config({"n": {"IPAMConfig": {
        "IPv6Address": "2001:389:0::f00d", "LinkLocalIPs": ["169.254.8.8"]}}}, "n")
    assert out == {"IPAMConfig": {"IPv6Address": "2001:389::f00d",
                                  "LinkLocalIPs": ["169.254.8.8"]}}
    for bad in ({"IPv6Address": "10.0.0.1"}, {"LinkLocalIPs": ["10.0.0.1"]}):
        with pytest.raises(InvalidParameter):
            parse.endpoint_config({"n": {"IPAMConfig": bad}}, "n")
    kw = parse.network_connect_body({"Container": "c", "EndpointConfig": {
        "IPAMConfig": {"IPv6Address": "fd00::5", "LinkLocalIPs": ["fe80::5"]}}})
    assert kw["ip6"] == "fd00::5" and kw["link_local_ips"] == ["fe80::5"]


def test_render_ipv6_fields():
    net = Network(id="n" * 64, name="v6", driver="bridge", bridge="br-x",
                  subnet="10.1.0.0/24", gateway="10.1.0.1", enable_ipv6=True,
                  subnet6="fd00::/64", gateway6="fd00::1",
                  ipam={"Driver": "default", "Options": {}, "UserSubnet6": True,
                        "Config": [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"},
                                   {"Subnet": "fd00::/64"}]})
    ep = Endpoint(id="e" * 64, network_id=net.id, container_id="c" * 64, ip="10.1.0.2",
                  prefixlen=24, mac="02:42:0a:01:00:02", gateway="10.1.0.1", ip6="fd00::2",
                  prefixlen6=64, gateway6="fd00::1", requested_ip6="fd00::2",
                  link_local_ips=["169.254.8.8"])
    c = Container(id="c" * 64, name="web", created="", config=ContainerConfig(image="b"),
                  image_id="")
    ni = render.network_inspect(net, [(c, ep)])
    assert ni["EnableIPv6"] is True
    assert ni["IPAM"]["Config"] == [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"},
                                    {"Subnet": "fd00::/64"}]
    assert ni["Containers"][c.id]["IPv6Address"] == "fd00::2/64"
    es = render.network_settings(c, [(net, ep)])["Networks"]["v6"]
    assert (es["GlobalIPv6Address"], es["GlobalIPv6PrefixLen"], es["IPv6Gateway"]) == (
        "fd00::2", 64, "fd00::1")
    assert es["IPAMConfig"] == {"IPv6Address": "fd00::2", "LinkLocalIPs": ["169.254.8.8"]}
