"""The CNM nouns as plain data: Network, Endpoint, Sandbox.

Drivers receive these objects (and ids), never user-facing names; the controller
resolves names once.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Network:
    id: str
    name: str
    driver: str                      # "bridge", "host", "null"
    bridge: str = ""                 # kernel bridge name ("cove0", "br-<12hex>")
    subnet: str = ""                 # "172.17.0.0/16"
    gateway: str = ""                # "172.17.0.1"
    created: str = ""
    internal: bool = False
    default: bool = False            # the default bridge network "bridge"
    mtu: int = 1500
    icc: bool = True
    masquerade: bool = True
    host_binding_ipv4: str = "0.0.0.0"
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ipam: dict = field(default_factory=dict)   # IPAM config as given by the user
    enable_ipv6: bool = False        # EnableIPv6 (cove.network.ipv6)
    subnet6: str = ""                # "fd00:1::/64" when IPv6 is enabled
    gateway6: str = ""               # on the bridge

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass
class Endpoint:
    id: str
    network_id: str
    container_id: str
    ifname: str = "eth0"             # name inside the sandbox
    host_ifname: str = ""            # "veth<7hex>" on the bridge
    ip: str = ""                     # "172.17.0.2"
    prefixlen: int = 0
    mac: str = ""
    gateway: str = ""
    aliases: list[str] = field(default_factory=list)   # --network-alias (DNS names)
    requested_ip: str = ""           # --ip / IPAMConfig.IPv4Address as the user gave it
    links: list[str] = field(default_factory=list)     # "name:alias" on a user network
    driver_opts: dict[str, str] = field(default_factory=dict)
    ip6: str = ""                    # IPv6 address (network with EnableIPv6)
    prefixlen6: int = 0
    gateway6: str = ""
    requested_ip6: str = ""          # IPAMConfig.IPv6Address as the user gave it
    link_local_ips: list[str] = field(default_factory=list)   # IPAMConfig.LinkLocalIPs


@dataclass
class Sandbox:
    id: str                          # 64 hex; the netns file is named by id[:12]
    container_id: str
    netns_path: str | None           # None: the host's network namespace
    endpoints: list[Endpoint] = field(default_factory=list)
