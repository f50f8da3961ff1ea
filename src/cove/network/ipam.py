"""IPv4 address management (pure): pick a subnet, allocate and release addresses.

Subnet choice follows Docker's default local pools: 172.17.0.0/16 ... 172.31.0.0/16, then
192.168.0.0/20 ... 192.168.240.0/20; the first that overlaps no host route/address and no
existing network wins. ``--bip`` style overrides (``172.30.0.1/16``) give both the subnet
and the gateway. Addresses are handed out lowest-free first; the network address, the
broadcast address and the gateway are never handed out. MACs follow Docker 20.10:
``02:42`` + the four bytes of the IPv4 address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from cove.errors import InvalidParameter, SystemFailure

POOLS_EXHAUSTED = ("could not find an available, non-overlapping IPv4 address pool among"
                   " the defaults to assign to the network")


def default_pools() -> list[ipaddress.IPv4Network]:
    """Docker's local default pools, in the order they are tried."""
    pools = [ipaddress.IPv4Network(f"172.{i}.0.0/16") for i in range(17, 32)]
    pools += list(ipaddress.IPv4Network("192.168.0.0/16").subnets(new_prefix=20))
    return pools


def _nets(cidrs: Iterable[str]) -> list[ipaddress.IPv4Network]:
    out = []
    for c in cidrs:
        try:
            n = ipaddress.ip_network(c, strict=False)
        except ValueError:
            continue
        if isinstance(n, ipaddress.IPv4Network):
            out.append(n)
    return out


def choose_subnet(host_networks: Iterable[str], used_subnets: Iterable[str]) -> str:
    """The first default pool overlapping neither the host's networks nor ``used_subnets``.

    Default routes (0.0.0.0/0) in ``host_networks`` are ignored. Raises SystemFailure with
    Docker's message when every pool is taken.
    """
    taken = [n for n in _nets(host_networks) if n.prefixlen > 0] + _nets(used_subnets)
    for pool in default_pools():
        if not any(pool.overlaps(t) for t in taken):
            return str(pool)
    raise SystemFailure(POOLS_EXHAUSTED)


def parse_bip(bip: str) -> tuple[str, str]:
    """``"172.30.0.1/16"`` → (``"172.30.0.0/16"``, ``"172.30.0.1"``)."""
    try:
        iface = ipaddress.IPv4Interface(bip)
    except ValueError as exc:
        raise InvalidParameter(f"invalid bip {bip!r}: {exc}") from exc
    if "/" not in bip:
        raise InvalidParameter(f"invalid bip {bip!r}: a prefix length is required")
    net = iface.network
    if net.prefixlen > 30:
        raise InvalidParameter(f"invalid bip {bip!r}: the subnet is too small")
    if iface.ip in (net.network_address, net.broadcast_address):
        raise InvalidParameter(f"invalid bip {bip!r}: not a host address of {net}")
    return str(net), str(iface.ip)


def parse_subnet(subnet: str) -> str:
    """A requested subnet in canonical form (InvalidParameter when it is not one)."""
    try:
        return str(ipaddress.IPv4Network(subnet))
    except ValueError as exc:
        raise InvalidParameter(f"invalid subnet {subnet}: {exc}") from exc


def check_gateway(gateway: str, subnet: str) -> None:
    """InvalidParameter unless ``gateway`` is an address of ``subnet`` (Docker's message
    when there is no subnet or it lies outside)."""
    try:
        gw = ipaddress.IPv4Address(gateway)
    except ValueError as exc:
        raise InvalidParameter(f"invalid gateway {gateway}: {exc}") from exc
    if not subnet or gw not in ipaddress.IPv4Network(subnet):
        raise InvalidParameter(f"no matching subnet for gateway {gateway}")


def gateway_for(subnet: str) -> str:
    """The first host address of ``subnet``."""
    net = ipaddress.IPv4Network(subnet)
    return str(net.network_address + 1)


def prefixlen(subnet: str) -> int:
    return ipaddress.IPv4Network(subnet).prefixlen


def check_overlap(subnet: str, used_subnets: Iterable[str]) -> None:
    """InvalidParameter with Docker's message when ``subnet`` overlaps a used one."""
    net = ipaddress.IPv4Network(subnet, strict=False)
    for other in _nets(used_subnets):
        if net.overlaps(other):
            raise InvalidParameter("Pool overlaps with other one on this address space")


class AddressPool:
    """The addresses of one subnet: which are in use, and the lowest free one."""

    def __init__(self, subnet: str, gateway: str = "", used: Iterable[str] = (),
                 label: str = "") -> None:
        self.net = ipaddress.IPv4Network(subnet)
        self.label = label or subnet
        self._reserved = {self.net.network_address, self.net.broadcast_address}
        if gateway:
            self._reserved.add(ipaddress.IPv4Address(gateway))
        self._used: set[ipaddress.IPv4Address] = set()
        for ip in used:
            self.reserve(ip)

    def _addr(self, ip: str) -> ipaddress.IPv4Address:
        try:
            a = ipaddress.IPv4Address(ip)
        except ValueError as exc:
            raise InvalidParameter(f"Invalid address {ip}: {exc}") from exc
        if a not in self.net:
            raise InvalidParameter(
                f"Invalid address {ip}: It does not belong to any of this network's subnets")
        return a

    def reserve(self, ip: str) -> None:
        """Mark ``ip`` used (it may already be)."""
        self._used.add(self._addr(ip))

    def allocate(self) -> str:
        """The lowest free address, now marked used."""
        if self.net.prefixlen >= 31:
            candidates = iter(self.net)
        else:
            candidates = self.net.hosts()
        for a in candidates:
            if a not in self._used and a not in self._reserved:
                self._used.add(a)
                return str(a)
        raise SystemFailure(
            f"no available IPv4 addresses on this network's address pools: {self.label}")

    def release(self, ip: str) -> None:
        """Free ``ip``; releasing a free address is not an error."""
        try:
            self._used.discard(ipaddress.IPv4Address(ip))
        except ValueError:
            pass

    def in_use(self, ip: str) -> bool:
        return ipaddress.IPv4Address(ip) in self._used


def mac_for_ip(ip: str) -> str:
    """Docker 20.10's MAC for an IPv4 address: 02:42 followed by the address's bytes."""
    b = ipaddress.IPv4Address(ip).packed
    return "02:42:" + ":".join(f"{x:02x}" for x in b)
