"""IPv6 address management and link-local addresses (pure).

A bridge network with ``EnableIPv6`` gets one IPv6 pool next to its IPv4 one: the subnet
the user gave in ``IPAM.Config`` (or, without one, a ULA ``/64`` derived from the network
id, as Docker v29 derives its default ULA pool), a gateway (given, or the first address)
that goes on the bridge, and an optional ``IPRange`` that container addresses come from.
Addresses are handed out lowest-free first, never the subnet-router anycast address
(the subnet's first) nor the gateway. As in Docker 20.10 (libnetwork#967) an IPv6 pool
given without ``EnableIPv6`` is kept in the network's IPAM config but no IPv6 address is
assigned from it; a requested ``IPv6Address`` is still checked against it and shown.

``IPAMConfig.LinkLocalIPs`` are extra addresses on the container's interface (IPv4
``169.254.0.0/16`` as ``/16``, IPv6 ``fe80::/10`` as ``/64``), as libnetwork adds them.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable

from cove.errors import Conflict, InvalidParameter, SystemFailure

IP_NO_SUBNET = ("user specified IP address is supported only when connecting to networks"
                " with user configured subnets")
_LL4 = ipaddress.IPv4Network("169.254.0.0/16")
_LL6 = ipaddress.IPv6Network("fe80::/10")


def _net6(cidr: str, what: str = "subnet") -> ipaddress.IPv6Network:
    try:
        net = ipaddress.IPv6Network(cidr, strict=False)
    except ValueError as exc:
        raise InvalidParameter(f"invalid {what} {cidr}: {exc}") from exc
    if "/" not in cidr:
        raise InvalidParameter(f"invalid {what} {cidr}: a prefix length is required")
    return net


def is_v6(cidr_or_ip: str) -> bool:
    return ":" in (cidr_or_ip or "")


def pool_entry(subnet: str, gateway: str = "", ip_range: str = "",
               aux: dict[str, str] | None = None) -> dict:
    """The validated IPAM ``Config`` entry of an IPv6 pool (subnet normalized; the
    gateway and range only when given, as Docker shows them)."""
    net = _net6(subnet)
    if net.overlaps(_LL6) or net.is_multicast:
        raise InvalidParameter(f"invalid subnet {subnet}: IPv6 subnets may not overlap"
                               " the link-local or multicast ranges")
    if net.prefixlen > 126:
        raise InvalidParameter(f"invalid subnet {subnet}: the subnet is too small")
    entry: dict = {"Subnet": str(net)}
    if ip_range:
        rng = _net6(ip_range, "ip-range")
        if not rng.subnet_of(net):
            raise InvalidParameter(f"no matching subnet for range {ip_range}")
        entry["IPRange"] = str(rng)
    if gateway:
        gw = _addr6(gateway, "gateway")
        if gw not in net:
            raise InvalidParameter(f"no matching subnet for gateway {gateway}")
        entry["Gateway"] = str(gw)
    if aux:
        out = {}
        for name, ip in aux.items():
            a = _addr6(ip, "aux-address")
            if a not in net:
                raise InvalidParameter(f"no matching subnet for aux-address {ip}")
            out[name] = str(a)
        entry["AuxiliaryAddresses"] = out
    return entry


def _addr6(ip: str, what: str = "address") -> ipaddress.IPv6Address:
    try:
        return ipaddress.IPv6Address(ip)
    except ValueError as exc:
        raise InvalidParameter(f"invalid IPv6 {what}: {ip}") from exc


def ula_subnet(seed: str, used: Iterable[str]) -> str:
    """A ``/64`` of ``fd00::/8`` derived from ``seed`` (a network id), the first of its
    ``/48`` that overlaps nothing in ``used``."""
    h = hashlib.sha256(seed.encode()).digest()
    base = int.from_bytes(b"\xfd" + h[:5] + b"\0" * 10, "big")
    taken = [ipaddress.ip_network(u, strict=False) for u in used if is_v6(u)]
    for sub in range(1 << 16):
        net = ipaddress.IPv6Network((base | (sub << 64), 64))
        if not any(net.overlaps(t) for t in taken):
            return str(net)
    raise SystemFailure("could not find an available, non-overlapping IPv6 address pool")


def plan(enable: bool, entry: dict | None, seed: str,
         used_subnets: Iterable[str]) -> tuple[str, str, dict | None]:
    """(subnet6, gateway6, Config entry to keep) of a network being created.

    ``entry`` is the validated user pool (:func:`pool_entry`) or None. Without
    ``enable`` nothing is assigned (the entry is kept for display). Overlap with the
    IPv6 subnet of another network is refused with Docker's message."""
    if not enable:
        return "", "", entry
    used = [u for u in used_subnets if u]
    if entry is None:
        subnet = ula_subnet(seed, used)
        kept = {"Subnet": subnet}
    else:
        subnet, kept = entry["Subnet"], entry
        net = ipaddress.IPv6Network(subnet)
        for u in used:
            if is_v6(u) and net.overlaps(ipaddress.IPv6Network(u)):
                raise InvalidParameter("Pool overlaps with other one on this address space")
    net = ipaddress.IPv6Network(subnet)
    gateway = kept.get("Gateway") or str(net.network_address + 1)
    return subnet, gateway, kept


def v6_entry(ipam_cfg: dict) -> dict | None:
    """The IPv6 entry of a network's stored IPAM config, if any."""
    for c in (ipam_cfg.get("Config") or []) if isinstance(ipam_cfg, dict) else []:
        if isinstance(c, dict) and is_v6(str(c.get("Subnet", ""))):
            return c
    return None


def allocate(subnet6: str, gateway6: str, entry: dict | None, used: Iterable[str],
             requested: str = "", label: str = "") -> str:
    """An IPv6 address of the network: ``requested`` (checked: in the subnet, free) or
    the lowest free one of the ``IPRange`` (or subnet)."""
    net = ipaddress.IPv6Network(subnet6)
    entry = entry or {}
    taken = {ipaddress.IPv6Address(u) for u in used if u}
    taken |= {ipaddress.IPv6Address(a) for a in
              (entry.get("AuxiliaryAddresses") or {}).values()}
    reserved = {net.network_address}
    if gateway6:
        reserved.add(ipaddress.IPv6Address(gateway6))
    if requested:
        a = _addr6(requested)
        if a not in net:
            raise InvalidParameter(f"Invalid address {requested}: It does not belong to any"
                                   " of this network's subnets")
        if a in taken or a in reserved:
            raise Conflict("Address already in use")
        return str(a)
    rng = ipaddress.IPv6Network(entry.get("IPRange") or subnet6)
    start = int(rng.network_address)
    for i in range(min(rng.num_addresses, len(taken) + len(reserved) + 2)):
        a = ipaddress.IPv6Address(start + i)
        if a not in taken and a not in reserved:
            return str(a)
    raise SystemFailure(f"no available IPv6 addresses on this network's address pools:"
                        f" {label or subnet6}")


def check_requested(entry: dict | None, requested: str) -> str:
    """Validate a requested IPv6 address against a pool that assigns nothing (IPv6 not
    enabled): Docker checks and shows it."""
    a = _addr6(requested)
    if entry is None:
        raise InvalidParameter(IP_NO_SUBNET)
    if a not in ipaddress.IPv6Network(entry["Subnet"]):
        raise InvalidParameter(f"Invalid address {requested}: It does not belong to any"
                               " of this network's subnets")
    return str(a)


def link_local(ips: Iterable[str]) -> list[str]:
    """``IPAMConfig.LinkLocalIPs`` validated (each a link-local unicast address)."""
    out = []
    for ip in ips:
        try:
            a = ipaddress.ip_address(ip)
        except ValueError as exc:
            raise InvalidParameter(f"invalid link-local IP address: {ip}") from exc
        if a not in (_LL4 if a.version == 4 else _LL6):
            raise InvalidParameter(f"invalid link-local IP address: {ip}")
        out.append(str(a))
    return out


def link_local_cidrs(ips: Iterable[str]) -> list[tuple[str, int]]:
    """(address, prefixlen) to put on the interface: /16 for IPv4, /64 for IPv6."""
    return [(ip, 64 if is_v6(ip) else 16) for ip in ips]


def endpoint_addr(net, used: Iterable[str], requested: str = "") -> tuple[str, int, str]:
    """(ip6, prefixlen6, gateway6) of a new endpoint on ``net`` (a Network): assigned
    when the network has IPv6 enabled; else ``("", 0, "")`` after checking
    ``requested`` against the network's IPv6 pool."""
    entry = v6_entry(net.ipam)
    if not net.subnet6:
        if requested:
            check_requested(entry, requested)
        return "", 0, ""
    if requested and not (isinstance(net.ipam, dict) and net.ipam.get("UserSubnet6")):
        raise InvalidParameter(IP_NO_SUBNET)
    addr = allocate(net.subnet6, net.gateway6, entry, used, requested,
                    f"{net.name} ({net.id})")
    gw = "" if net.internal else net.gateway6
    return addr, ipaddress.IPv6Network(net.subnet6).prefixlen, gw
