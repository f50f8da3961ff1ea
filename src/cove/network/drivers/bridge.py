"""The ``bridge`` driver: a Linux bridge per network, a veth pair per endpoint.

The bridge carries the gateway address; each endpoint's host end (``veth<7hex>``) is a
bridge port with hairpin on, its peer is created directly inside the sandbox's namespace
and becomes ``eth0`` there.
"""

from __future__ import annotations

from cove.errors import KernelError
from cove.kernel.netlink import IfaceConfig, Netlink
from cove.network import ipam
from cove.network.drivers.base import NetworkDriver
from cove.network.ipv6 import link_local_cidrs
from cove.network.model import Endpoint, Network, Sandbox


class BridgeDriver(NetworkDriver):
    name = "bridge"

    def __init__(self, netlink: Netlink) -> None:
        self.nl = netlink

    def create_network(self, network: Network) -> None:
        self.nl.ensure_bridge(network.bridge, network.gateway, ipam.prefixlen(network.subnet),
                              network.mtu)
        if network.subnet6 and network.gateway6:      # IPv6 (cove.network.ipv6)
            self.nl.ensure_address6(network.bridge, network.gateway6,
                                    int(network.subnet6.rsplit("/", 1)[1]))

    def delete_network(self, network: Network) -> None:
        self.nl.delete_link(network.bridge)

    def join(self, network: Network, endpoint: Endpoint, sandbox: Sandbox) -> IfaceConfig:
        if not sandbox.netns_path:
            raise KernelError(f"cannot join endpoint {endpoint.id[:12]}: sandbox has no netns")
        self.nl.create_veth_into_netns(endpoint.host_ifname, network.bridge, sandbox.netns_path,
                                       endpoint.ifname, network.mtu, endpoint.mac)
        return IfaceConfig(name=endpoint.ifname, final_name=endpoint.ifname, ip=endpoint.ip,
                           prefixlen=endpoint.prefixlen, mac="", gateway=endpoint.gateway,
                           mtu=0, ip6=endpoint.ip6, prefixlen6=endpoint.prefixlen6,
                           gateway6=endpoint.gateway6,
                           extra=tuple(link_local_cidrs(endpoint.link_local_ips)))

    def leave(self, network: Network, endpoint: Endpoint, sandbox: Sandbox) -> None:
        if endpoint.host_ifname:
            self.nl.delete_link(endpoint.host_ifname)
