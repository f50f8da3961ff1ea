"""Published ports: allocation, host-port reservation and the nftables datapath.

A container's published ports are allocated when it starts and released when it stops
(Docker 20.10). Each mapping is persisted in the store (kind ``portmap``, one document
per container), held as a bound socket on the host (:mod:`cove.kernel.hostports`) and
programmed as map elements of cove's table, added or removed per container in ONE nft
transaction: no rule and no process per port.

Datapath (chains of their own in ``inet cove``, next to the networks' chains):

- ``ports_ip`` map ``host ip . proto . port → container ip . port`` (ports bound to one
  address) and ``ports_any`` map ``proto . port → container ip . port`` (every local
  address); looked up in ``ports_dnat`` (prerouting) and ``ports_out`` (output, for the
  host itself) for packets to a local address.
- ``ports_snat`` (postrouting): masquerade of 127.0.0.0/8 leaving through a cove bridge
  (host → 127.0.0.1:PORT, with ``route_localnet`` on the bridge) and of DNATed traffic
  from a cove subnet going back out its bridge (hairpin).
- ``link_pairs`` set: the exposed ports of legacy links, which the networks' forward
  chain lets through when ICC is off (see :func:`cove.network.firewall.forward_rules`).
- ``ports_raw`` (prerouting, raw priority): drop 127.0.0.0/8 arriving on anything but
  ``lo``, so ports published on 127.0.0.1 stay local and containers cannot reach host
  services bound to loopback through route_localnet.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
from dataclasses import asdict, dataclass

from cove.errors import Conflict, CoveError, InvalidParameter, Unsupported
from cove.kernel import conntrack, hostports, nft, sysctl
from cove.network import firewall
from cove.network.model import Endpoint, Network
from cove.network.portalloc import PortAllocator, PortInUse, parse_port_range, parse_reserved
from cove.store.sqlite import Store

log = logging.getLogger(__name__)

PORTMAP = "portmap"
MAP_ANY, MAP_IP = "ports_any", "ports_ip"
LINK_SET = "link_pairs"          # parent ip . child ip . proto . port (ICC off + links)


@dataclass(frozen=True)
class Mapping:
    host_ip: str
    host_port: int
    proto: str
    container_ip: str
    container_port: int

    def key(self) -> str:
        if self.host_ip == "0.0.0.0":
            return f"{self.proto} . {self.host_port}"
        return f"{self.host_ip} . {self.proto} . {self.host_port}"

    def element(self) -> str:
        return f"{self.key()} : {self.container_ip} . {self.container_port}"

    def map_name(self) -> str:
        return MAP_ANY if self.host_ip == "0.0.0.0" else MAP_IP


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def host_allocator() -> PortAllocator:
    """An allocator over this namespace's ephemeral range minus reserved ports."""
    lo, hi = parse_port_range(_read("/proc/sys/net/ipv4/ip_local_port_range"))
    reserved = parse_reserved(_read("/proc/sys/net/ipv4/ip_local_reserved_ports"))
    return PortAllocator(lo, hi, reserved)


def _maps(mappings: list[Mapping], link_elements: list[str] = ()) -> list[firewall.NamedMap]:
    return [
        firewall.NamedMap(LINK_SET, "ipv4_addr . ipv4_addr . inet_proto . inet_service",
                          elements=list(link_elements)),
        firewall.NamedMap(MAP_ANY, "inet_proto . inet_service", "ipv4_addr . inet_service",
                          [m.element() for m in mappings if m.map_name() == MAP_ANY]),
        firewall.NamedMap(MAP_IP, "ipv4_addr . inet_proto . inet_service",
                          "ipv4_addr . inet_service",
                          [m.element() for m in mappings if m.map_name() == MAP_IP]),
    ]


def _snat_rules(n: Network) -> list[str]:
    br = f'"{n.bridge}"'
    return [f"oifname {br} ip saddr 127.0.0.0/8 masquerade",
            f"oifname {br} ip saddr {n.subnet} ct status dnat masquerade"]


def _chains(networks: list[Network]) -> list[firewall.Chain]:
    lookups = [
        f"meta nfproto ipv4 fib daddr type local dnat ip to ip daddr . meta l4proto"
        f" . th dport map @{MAP_IP}",
        f"meta nfproto ipv4 fib daddr type local dnat ip to meta l4proto . th dport"
        f" map @{MAP_ANY}",
    ]
    snat = [r for n in firewall.bridge_networks(networks) for r in _snat_rules(n)]
    return [
        firewall.Chain("ports_raw", "type filter hook prerouting priority raw; policy accept;",
                       ['iifname != "lo" ip daddr 127.0.0.0/8 drop']),
        firewall.Chain("ports_dnat",
                       "type nat hook prerouting priority dstnat; policy accept;", lookups),
        firewall.Chain("ports_out", "type nat hook output priority -100; policy accept;",
                       lookups),
        firewall.Chain("ports_snat",
                       "type nat hook postrouting priority srcnat; policy accept;", snat),
    ]


class PortMapper:
    """Owns every published port of the daemon (allocator, held sockets, map elements)."""

    LINK_SET = LINK_SET

    def __init__(self, store: Store, nft_table: str = firewall.TABLE) -> None:
        self.store = store
        self.nft_table = nft_table
        self.alloc = host_allocator()
        self.lock = threading.RLock()
        self._socks: dict[tuple[str, int, str], socket.socket] = {}
        self._owner: dict[tuple[str, int, str], str] = {}    # (ip, port, proto) → name

    # -- what the firewall renders
    def mappings(self) -> list[Mapping]:
        out = []
        for d in self.store.list(PORTMAP):
            out += [Mapping(**m) for m in d.get("mappings", [])]
        return out

    def maps(self) -> list[firewall.NamedMap]:
        docs = self.store.list(PORTMAP)
        return _maps([Mapping(**m) for d in docs for m in d.get("mappings", [])],
                     [e for d in docs for e in d.get("links", [])])

    def chains(self, networks: list[Network]) -> list[firewall.Chain]:
        return _chains(networks)

    def render_network_add(self, net: Network) -> str:
        """The port datapath's rules for a network added incrementally (see fwinc)."""
        if net.driver != "bridge" or not net.bridge or not net.subnet:
            return ""
        return "".join(f"add rule {firewall.FAMILY} {self.nft_table} ports_snat {r}\n"
                       for r in _snat_rules(net))

    # -- start-up
    def restore(self, keep_containers: set[str]) -> None:
        """Rebuild the allocator and held sockets from the store; drop the mappings of
        containers that are not running any more."""
        with self.lock:
            for d in self.store.list(PORTMAP):
                if d["id"] not in keep_containers:
                    self.store.delete(PORTMAP, d["id"])
                    continue
                for m in (Mapping(**x) for x in d.get("mappings", [])):
                    self.alloc.mark(m.host_ip, m.host_port, m.proto)
                    k = (m.host_ip, m.host_port, m.proto)
                    self._owner[k] = d.get("name", "")
                    try:
                        self._socks[k] = hostports.hold(*k)
                    except CoveError as exc:
                        log.warning("re-holding host port %s: %s", k, exc.message)

    # -- publish / unpublish
    def _requests(self, net: Network, bindings: dict[str, list[dict]],
                  exposed: dict[str, dict], publish_all: bool
                  ) -> list[tuple[str, int, int, int, str]]:
        """(host ip, host port, host end, container port, proto) per binding."""
        reqs = []
        keys = dict(bindings)
        if publish_all:
            for k in exposed:
                keys.setdefault(k, [])
        for key, binds in keys.items():
            port, _, proto = key.partition("/")
            proto = proto or "tcp"
            for b in binds or [{"HostIp": "", "HostPort": ""}]:
                ip = b.get("HostIp") or net.host_binding_ipv4 or "0.0.0.0"
                try:
                    addr = ipaddress.ip_address(ip)
                except ValueError:
                    raise InvalidParameter(f"invalid IP address: {ip}") from None
                if addr.version == 6:
                    if addr.is_unspecified:
                        continue            # cove's datapath is IPv4: "::" adds nothing
                    raise Unsupported(f"cannot publish on {ip}: IPv6 host addresses are"
                                      " not supported by cove")
                hp = str(b.get("HostPort") or "")
                lo, _, hi = hp.partition("-")
                reqs.append((str(addr), int(lo or 0), int(hi or 0), int(port), proto))
        return reqs

    def publish(self, container_id: str, name: str, endpoint_name: str, net: Network,
                ep: Endpoint, bindings: dict[str, list[dict]], exposed: dict[str, dict],
                publish_all: bool, links: list[tuple[str, str, int]] = ()
                ) -> dict[str, list[dict] | None]:
        """Allocate, hold and program the container's ports; returns NetworkSettings.Ports.
        ``links``: (child ip, proto, port) its legacy links may reach when ICC is off.

        All or nothing: on failure every port taken so far is released."""
        reqs = self._requests(net, bindings, exposed, publish_all)
        ports: dict[str, list[dict] | None] = {k: None for k in exposed}
        link_els = sorted({f"{ep.ip} . {ip} . {proto} . {port}" for ip, proto, port in links
                           if ip and ep.ip})
        if not reqs and not link_els:
            return ports
        made: list[Mapping] = []
        socks: list[tuple[tuple[str, int, str], socket.socket]] = []
        with self.lock:
            try:
                for ip, lo, hi, cport, proto in reqs:
                    try:
                        hport = self.alloc.request(ip, proto, lo, hi)
                    except PortInUse as exc:
                        holder = self._holder(ip, lo, proto)
                        raise Conflict(f"driver failed programming external connectivity on"
                                       f" endpoint {endpoint_name} ({ep.id}): {exc.message}"
                                       + (f" (held by container {holder})" if holder else "")
                                       ) from exc
                    m = Mapping(ip, hport, proto, ep.ip, cport)
                    made.append(m)
                    k = (ip, hport, proto)
                    try:
                        socks.append((k, hostports.hold(*k)))
                    except CoveError as exc:
                        raise type(exc)(f"driver failed programming external connectivity"
                                        f" on endpoint {endpoint_name} ({ep.id}):"
                                        f" {exc.message}") from exc
                if made:
                    sysctl.ensure(sysctl.iface_key(net.bridge, "route_localnet"), 1)
                self._program(add=made, links_add=link_els)
                self.store.put(PORTMAP, container_id, {
                    "id": container_id, "name": name,
                    "mappings": [asdict(m) for m in made], "links": link_els})
            except BaseException:
                for _k, s in socks:
                    s.close()
                for m in made:
                    self.alloc.release(m.host_ip, m.host_port, m.proto)
                raise
            for k, s in socks:
                self._socks[k] = s
                self._owner[k] = name
        try:        # traffic sent while the port was unmapped must reach the new mapping
            conntrack.flush_udp_unnated(m.host_port for m in made if m.proto == "udp")
        except CoveError as exc:
            log.warning("flushing conntrack entries of %s: %s", name, exc.message)
        for m in made:
            key = f"{m.container_port}/{m.proto}"
            lst = ports.get(key) or []
            lst.append({"HostIp": m.host_ip, "HostPort": str(m.host_port)})
            ports[key] = lst
        return ports

    def _holder(self, ip: str, port: int, proto: str) -> str:
        for (i, p, pr), name in self._owner.items():
            if p == port and pr == proto and (i == ip or "0.0.0.0" in (i, ip)):
                return name
        return ""

    def _program(self, add: list[Mapping] = (), delete: list[Mapping] = (),
                 links_add: list[str] = (), links_delete: list[str] = ()) -> None:
        script = firewall.render_map_update(LINK_SET, add=links_add, delete=links_delete,
                                            table=self.nft_table)
        for name in (MAP_ANY, MAP_IP):
            script += firewall.render_map_update(
                name, add=[m.element() for m in add if m.map_name() == name],
                delete=[m.key() for m in delete if m.map_name() == name],
                table=self.nft_table)
        if script:
            nft.run(script, what="update published ports")

    def unpublish(self, container_id: str) -> None:
        """Remove the container's map elements, release its ports and sockets and flush
        its UDP conntrack entries. Nothing published is fine; continues past errors."""
        with self.lock:
            d = self.store.get(PORTMAP, container_id)
            if d is None:
                return
            mappings = [Mapping(**m) for m in d.get("mappings", [])]
            link_els = list(d.get("links", []))
            errors: list[str] = []
            try:
                self._program(delete=mappings, links_delete=link_els)
            except CoveError:
                for m in [*mappings, *link_els]:   # one at a time: skip what is gone
                    try:
                        if isinstance(m, str):
                            self._program(links_delete=[m])
                        else:
                            self._program(delete=[m])
                    except CoveError as exc:
                        if "No such file" not in exc.message:
                            errors.append(exc.message)
            for m in mappings:
                k = (m.host_ip, m.host_port, m.proto)
                s = self._socks.pop(k, None)
                if s is not None:
                    s.close()
                self._owner.pop(k, None)
                self.alloc.release(*k)
            self.store.delete(PORTMAP, container_id)
        try:
            conntrack.flush_udp_to(m.container_ip for m in mappings if m.proto == "udp")
        except CoveError as exc:
            errors.append(exc.message)
        for e in errors:
            log.warning("unpublishing ports of %s: %s", container_id[:12], e)
