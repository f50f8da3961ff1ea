"""Links, addresses and routes through rtnetlink (pyroute2 0.9).

:class:`Netlink` holds one persistent ``IPRoute`` socket, bound to the network namespace
of the thread that created it (the daemon's, normally the host's). Work inside a
sandbox uses :func:`configure_sandbox`, which opens a netlink socket on a short-lived
thread that has joined the sandbox's namespace (verified: pyroute2 0.9's ``IPRoute``
opens its socket in the calling thread's namespace, without forking).

Every NetlinkError is translated to :class:`cove.errors.KernelError` naming the object.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from cove.errors import KernelError
from cove.kernel.syscalls import run_in_netns

IFF_UP = 1
T = TypeVar("T")


@dataclass
class Link:
    """A network interface as seen by netlink."""

    index: int
    name: str
    kind: str          # "bridge", "veth", "" ...
    master: str        # name of the master (bridge) or ""
    up: bool
    mac: str
    mtu: int


@dataclass
class IfaceConfig:
    """How to configure one interface inside a sandbox."""

    name: str                  # current name inside the netns
    final_name: str            # name to give it ("eth0")
    ip: str
    prefixlen: int
    mac: str = ""
    gateway: str = ""          # default route via this address ("" = none)
    mtu: int = 0
    ip6: str = ""              # IPv6 address (added without DAD), "" = none
    prefixlen6: int = 0
    gateway6: str = ""         # IPv6 default route via this address ("" = none)
    extra: tuple[tuple[str, int], ...] = ()   # more (address, prefixlen): link-local IPs


# -- a minimal raw rtnetlink encoder for the hot path (sandbox plumbing) -----------------
# pyroute2 0.9 costs ~1 ms per request in Python overhead; these few messages cost ~30 us.

_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_EXCL, _NLM_F_CREATE = 1, 4, 0x200, 0x400
_NLMSG_ERROR = 2
_RTM_NEWLINK, _RTM_SETLINK, _RTM_NEWADDR, _RTM_NEWROUTE = 16, 19, 20, 24
_IFLA_ADDRESS, _IFLA_IFNAME, _IFLA_MTU, _IFLA_MASTER = 1, 3, 4, 10
_IFLA_PROTINFO, _IFLA_LINKINFO, _IFLA_NET_NS_FD = 12, 18, 28
_IFLA_INFO_KIND, _IFLA_INFO_DATA, _VETH_INFO_PEER = 1, 2, 1
_IFLA_BRPORT_MODE = 4
_IFA_ADDRESS, _IFA_LOCAL, _IFA_BROADCAST = 1, 2, 4
_RTA_OIF, _RTA_GATEWAY = 4, 5
_NLA_F_NESTED = 0x8000
_AF_INET, _AF_BRIDGE, _AF_INET6 = 2, 7, 10
_IFA_F_NODAD = 0x02


def _attr(kind: int, data: bytes) -> bytes:
    n = 4 + len(data)
    return struct.pack("=HH", n, kind) + data + b"\0" * ((4 - n % 4) % 4)


def _ifinfo(index: int = 0, flags: int = 0, change: int = 0, family: int = 0) -> bytes:
    return struct.pack("=BxHiII", family, 0, index, flags, change)


def _mac(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


class RawRtnl:
    """A bare NETLINK_ROUTE socket in the namespace of the thread that opens it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                  socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, msgtype: int, flags: int, payload: bytes, what: str) -> None:
        """Send one request and wait for its ack; errors become KernelError(``what``)."""
        self.seq += 1
        seq = self.seq
        hdr = struct.pack("=IHHII", 16 + len(payload), msgtype,
                          _NLM_F_REQUEST | _NLM_F_ACK | flags, seq, 0)
        self.sock.send(hdr + payload)
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, mtype, _flags, mseq, _pid = struct.unpack_from("=IHHII", data, off)
                if mtype == _NLMSG_ERROR and mseq == seq:
                    code = -struct.unpack_from("=i", data, off + 16)[0]
                    if code:
                        raise KernelError(f"{what}: {os.strerror(code)}") from OSError(
                            code, os.strerror(code))
                    return
                off += (length + 3) & ~3
                if length == 0:
                    break

    def link_up(self, index: int, what: str) -> None:
        self.request(_RTM_NEWLINK, 0, _ifinfo(index, IFF_UP, IFF_UP), what)

    def add_addr(self, index: int, ip: str, prefixlen: int, what: str) -> None:
        a = socket.inet_aton(ip)
        net = ipaddress.ip_network(f"{ip}/{prefixlen}", strict=False)
        payload = struct.pack("=BBBBI", _AF_INET, prefixlen, 0, 0, index)
        payload += _attr(_IFA_LOCAL, a) + _attr(_IFA_ADDRESS, a)
        if prefixlen < 31:
            payload += _attr(_IFA_BROADCAST, net.broadcast_address.packed)
        self.request(_RTM_NEWADDR, _NLM_F_CREATE | _NLM_F_EXCL, payload, what)

    def add_addr6(self, index: int, ip: str, prefixlen: int, what: str) -> None:
        """An IPv6 address, usable at once (no duplicate address detection)."""
        payload = struct.pack("=BBBBI", _AF_INET6, prefixlen, _IFA_F_NODAD, 0, index)
        payload += _attr(_IFA_ADDRESS, socket.inet_pton(socket.AF_INET6, ip))
        self.request(_RTM_NEWADDR, _NLM_F_CREATE | _NLM_F_EXCL, payload, what)

    def add_any_addr(self, index: int, ip: str, prefixlen: int, what: str) -> None:
        if ":" in ip:
            self.add_addr6(index, ip, prefixlen, what)
        else:
            self.add_addr(index, ip, prefixlen, what)

    def add_default_route(self, index: int, gateway: str, what: str) -> None:
        if ":" in gateway:
            payload = struct.pack("=BBBBBBBBI", _AF_INET6, 0, 0, 0, 254, 3, 0, 1, 0)
            payload += _attr(_RTA_GATEWAY, socket.inet_pton(socket.AF_INET6, gateway))
            payload += _attr(_RTA_OIF, struct.pack("=i", index))
            self.request(_RTM_NEWROUTE, _NLM_F_CREATE | _NLM_F_EXCL, payload, what)
            return
        payload = struct.pack("=BBBBBBBBI", _AF_INET, 0, 0, 0, 254, 3, 0, 1, 0)
        payload += _attr(_RTA_GATEWAY, socket.inet_aton(gateway))
        payload += _attr(_RTA_OIF, struct.pack("=i", index))
        self.request(_RTM_NEWROUTE, _NLM_F_CREATE | _NLM_F_EXCL, payload, what)

    def add_veth(self, host_ifname: str, master: int, netns_fd: int, peer_name: str,
                 mtu: int, peer_mac: str, what: str) -> None:
        """One message: veth, host end enslaved + up, peer born (down: veth_open would
        fail with ENOTCONN before the pair is linked) inside the netns."""
        peer = _ifinfo() + _attr(_IFLA_IFNAME, peer_name.encode() + b"\0")
        peer += _attr(_IFLA_NET_NS_FD, struct.pack("=I", netns_fd))
        if mtu:
            peer += _attr(_IFLA_MTU, struct.pack("=I", mtu))
        if peer_mac:
            peer += _attr(_IFLA_ADDRESS, _mac(peer_mac))
        info = _attr(_IFLA_INFO_KIND, b"veth\0")
        info += _attr(_IFLA_INFO_DATA | _NLA_F_NESTED, _attr(_VETH_INFO_PEER, peer))
        payload = _ifinfo(0, IFF_UP, IFF_UP) + _attr(_IFLA_IFNAME, host_ifname.encode() + b"\0")
        if mtu:
            payload += _attr(_IFLA_MTU, struct.pack("=I", mtu))
        payload += _attr(_IFLA_MASTER, struct.pack("=I", master))
        payload += _attr(_IFLA_LINKINFO | _NLA_F_NESTED, info)
        self.request(_RTM_NEWLINK, _NLM_F_CREATE | _NLM_F_EXCL, payload, what)

    def set_hairpin(self, index: int, on: bool, what: str) -> None:
        prot = _attr(_IFLA_BRPORT_MODE, bytes([1 if on else 0]))
        payload = _ifinfo(index, family=_AF_BRIDGE) + _attr(_IFLA_PROTINFO | _NLA_F_NESTED, prot)
        self.request(_RTM_SETLINK, 0, payload, what)


def _kerr(action: str, exc: BaseException) -> KernelError:
    return KernelError(f"{action}: {exc}")


class Netlink:
    """A persistent rtnetlink socket in the namespace of the creating thread."""

    def __init__(self) -> None:
        # pyroute2 0.9 gives every calling thread an event loop and sockets of its own,
        # kept until close(): calls from short-lived threads would leak them. All
        # IPRoute calls therefore run on one dedicated thread, started here so that it
        # is born in this thread's network namespace.
        self._lock = threading.RLock()
        self._ex = ThreadPoolExecutor(1, thread_name_prefix="cove-netlink")
        self._ipr: IPRoute | None = self._ex.submit(IPRoute).result()
        self._raw = RawRtnl()

    def close(self) -> None:
        with self._lock:
            if self._ipr is not None:
                ipr, self._ipr = self._ipr, None
                self._ex.submit(ipr.close).result()
                self._raw.close()
                self._ex.shutdown()

    def _call(self, fn: Callable[[IPRoute], T]) -> T:
        """Run ``fn(ipr)`` on the netlink thread and return its result."""
        with self._lock:
            ipr = self._ipr
            if ipr is None:
                raise KernelError("netlink socket is closed")
            return self._ex.submit(fn, ipr).result()

    # -- queries
    def index(self, name: str) -> int | None:
        """The ifindex of ``name``, or None when there is no such link."""
        found = self._call(lambda ipr: ipr.link_lookup(ifname=name))
        return found[0] if found else None

    def links(self, prefix: str = "", master: str | None = None) -> list[Link]:
        """Links whose name starts with ``prefix`` (and, if given, enslaved to ``master``)."""
        msgs = self._call(lambda ipr: ipr.get_links())
        by_index = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
        out = []
        for m in msgs:
            name = m.get_attr("IFLA_IFNAME") or ""
            if not name.startswith(prefix):
                continue
            master_idx = m.get_attr("IFLA_MASTER")
            master_name = by_index.get(master_idx, "") if master_idx else ""
            if master is not None and master_name != master:
                continue
            info = m.get_attr("IFLA_LINKINFO")
            kind = (info.get_attr("IFLA_INFO_KIND") or "") if info else ""
            out.append(Link(index=m["index"], name=name, kind=kind, master=master_name,
                            up=bool(m["flags"] & IFF_UP),
                            mac=m.get_attr("IFLA_ADDRESS") or "",
                            mtu=m.get_attr("IFLA_MTU") or 0))
        return out

    def link(self, name: str) -> Link | None:
        for lk in self.links(prefix=name):
            if lk.name == name:
                return lk
        return None

    def addresses(self, name: str | None = None) -> list[str]:
        """IPv4 addresses as ``ip/prefixlen`` (of one link, or of all)."""
        def body(ipr: IPRoute) -> list:
            if name is None:
                return ipr.get_addr(family=2)
            idx = ipr.link_lookup(ifname=name)
            return ipr.get_addr(family=2, index=idx[0]) if idx else []

        msgs = self._call(body)
        return [f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}" for m in msgs]

    def host_networks(self, exclude_links: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """IPv4 networks in use here: addresses' subnets and non-default routes, except
        those on the links named in ``exclude_links`` (e.g. cove's own bridges)."""
        links, addrs, routes = self._call(lambda ipr: (
            ipr.get_links(), ipr.get_addr(family=2), ipr.get_routes(family=2)))
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in links}
        nets: set[str] = set()
        for m in addrs:
            if names.get(m["index"]) in exclude_links:
                continue
            cidr = f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}"
            nets.add(str(ipaddress.ip_interface(cidr).network))
        for r in routes:
            if r["dst_len"] == 0 or names.get(r.get_attr("RTA_OIF")) in exclude_links:
                continue
            dst = r.get_attr("RTA_DST")
            if dst:
                nets.add(str(ipaddress.ip_network(f"{dst}/{r['dst_len']}", strict=False)))
        return sorted(nets)

    def delete_address(self, name: str, address: str, prefixlen: int) -> None:
        """Remove ``address/prefixlen`` from link ``name``; gone is fine."""
        def body(ipr: IPRoute) -> None:
            idx = ipr.link_lookup(ifname=name)
            if not idx:
                return
            try:
                ipr.addr("del", index=idx[0], address=address, prefixlen=prefixlen)
            except NetlinkError as exc:
                if exc.code in (errno.EADDRNOTAVAIL, errno.ENOENT, errno.ENODEV):
                    return
                raise _kerr(f"cannot remove {address}/{prefixlen} from {name}", exc) from exc

        self._call(body)

    # -- bridges and links
    def ensure_bridge(self, name: str, address: str, prefixlen: int, mtu: int = 1500) -> int:
        """Create bridge ``name`` if missing, give it ``address/prefixlen``, set it up.

        Idempotent. Returns the bridge's ifindex.
        """
        def body(ipr: IPRoute) -> int:
            try:
                known = ipr.link_lookup(ifname=name)
                found = ipr.get_links(known[0]) if known else []   # by index: no full dump
                if not found:
                    ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
                    idx = ipr.link_lookup(ifname=name)[0]
                else:
                    info = found[0].get_attr("IFLA_LINKINFO")
                    kind = info.get_attr("IFLA_INFO_KIND") if info else None
                    if kind != "bridge":
                        raise KernelError(f"cannot set up bridge {name}: a link of kind"
                                          f" {kind or 'unknown'} has that name")
                    idx = found[0]["index"]
                have = {(m.get_attr("IFA_ADDRESS"), m["prefixlen"])
                        for m in ipr.get_addr(family=2, index=idx)}
                if (address, prefixlen) not in have:
                    ipr.addr("add", index=idx, address=address, prefixlen=prefixlen)
                ipr.link("set", index=idx, state="up")
            except NetlinkError as exc:
                raise _kerr(f"cannot set up bridge {name}", exc) from exc
            return idx

        return self._call(body)

    def ensure_address6(self, name: str, address: str, prefixlen: int) -> None:
        """Give link ``name`` the IPv6 ``address/prefixlen`` (no DAD) unless it has it."""
        idx = self.index(name)
        if idx is None:
            raise KernelError(f"cannot add {address}/{prefixlen} to {name}: link not found")
        have = self._call(lambda ipr: {(m.get_attr("IFA_ADDRESS"), m["prefixlen"])
                                       for m in ipr.get_addr(family=_AF_INET6, index=idx)})
        if (ipaddress.IPv6Address(address).compressed, prefixlen) in have:
            return
        with self._lock:
            self._raw.add_addr6(idx, address, prefixlen,
                                f"cannot add {address}/{prefixlen} to {name}")

    def delete_link(self, name: str) -> None:
        """Delete link ``name``; a missing link is not an error."""
        def body(ipr: IPRoute) -> None:
            try:
                ipr.link("del", ifname=name)
            except NetlinkError as exc:
                if exc.code in (errno.ENODEV, errno.ENOENT):
                    return
                raise _kerr(f"cannot delete link {name}", exc) from exc

        self._call(body)

    def set_master(self, name: str, bridge: str) -> None:
        """Enslave link ``name`` to ``bridge`` (hairpin on) and set it up."""
        def body(ipr: IPRoute) -> int:
            try:
                idx = ipr.link_lookup(ifname=name)
                br = ipr.link_lookup(ifname=bridge)
                if not idx or not br:
                    raise KernelError(f"cannot attach {name} to bridge {bridge}: not found")
                ipr.link("set", index=idx[0], master=br[0], state="up")
                return idx[0]
            except NetlinkError as exc:
                raise _kerr(f"cannot attach {name} to bridge {bridge}", exc) from exc

        idx = self._call(body)
        with self._lock:
            self._raw.set_hairpin(idx, True, f"cannot set hairpin on {name}")

    def create_veth_into_netns(self, host_ifname: str, bridge: str, netns_path: str,
                               peer_name: str, mtu: int = 1500, peer_mac: str = "") -> int:
        """Create a veth pair whose peer is born inside the netns at ``netns_path``.

        One netlink message: the host end enslaved to ``bridge`` and up, the peer named
        ``peer_name`` with ``peer_mac`` and ``mtu`` in the netns. Then hairpin is set on
        the bridge port. Returns the host end's ifindex. Rolls back on failure.
        """
        try:
            br = socket.if_nametoindex(bridge)
        except OSError as exc:
            raise KernelError(f"cannot attach {host_ifname}: bridge {bridge} not found") from exc
        try:
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise KernelError(f"cannot open network namespace {netns_path}: {exc}") from exc
        with self._lock:
            try:
                self._raw.add_veth(host_ifname, br, fd, peer_name, mtu, peer_mac,
                                   f"cannot create veth {host_ifname} on bridge {bridge}")
            finally:
                os.close(fd)
            try:
                idx = socket.if_nametoindex(host_ifname)
                self._raw.set_hairpin(idx, True, f"cannot set hairpin on {host_ifname}")
            except (OSError, KernelError) as exc:
                self.delete_link(host_ifname)
                if isinstance(exc, KernelError):
                    raise
                raise KernelError(f"cannot find veth {host_ifname}: {exc}") from exc
        return idx


def _configure_here(ifaces: list[IfaceConfig]) -> None:
    """Configure lo and ``ifaces`` in the calling thread's namespace (raw rtnetlink)."""
    rt = RawRtnl()
    try:
        rt.link_up(1, "cannot set lo up")  # lo is ifindex 1 in every namespace
        for c in ifaces:
            what = f"cannot configure {c.final_name} ({c.ip}/{c.prefixlen})"
            try:
                idx = socket.if_nametoindex(c.name)
            except OSError as exc:
                raise KernelError(f"{what}: link {c.name} not found") from exc
            attrs = b""
            if c.final_name != c.name:
                attrs += _attr(_IFLA_IFNAME, c.final_name.encode() + b"\0")
            if c.mac:
                attrs += _attr(_IFLA_ADDRESS, _mac(c.mac))
            if c.mtu:
                attrs += _attr(_IFLA_MTU, struct.pack("=I", c.mtu))
            rt.request(_RTM_NEWLINK, 0, _ifinfo(idx, IFF_UP, IFF_UP) + attrs, what)
            rt.add_addr(idx, c.ip, c.prefixlen, what)
            if c.ip6:
                rt.add_addr6(idx, c.ip6, c.prefixlen6, f"{what}: {c.ip6}/{c.prefixlen6}")
            for ip, plen in c.extra:
                rt.add_any_addr(idx, ip, plen, f"{what}: {ip}/{plen}")
            if c.gateway:
                rt.add_default_route(idx, c.gateway, f"{what}: default route via {c.gateway}")
            if c.gateway6:
                rt.add_default_route(idx, c.gateway6, f"{what}: default route via {c.gateway6}")
    finally:
        rt.close()


def configure_sandbox(netns_path: str, ifaces: list[IfaceConfig]) -> None:
    """Inside the netns at ``netns_path``: lo up, then each interface renamed, given its
    MAC, MTU and address, set up, with a default route via its gateway."""
    run_in_netns(netns_path, lambda: _configure_here(ifaces))


def configure_sandbox_iface(netns_path: str, tmp_name: str, ifname: str, ip: str,
                            prefixlen: int, mac: str, gateway: str, mtu: int) -> None:
    """One-interface form of :func:`configure_sandbox`."""
    configure_sandbox(netns_path, [IfaceConfig(tmp_name, ifname, ip, prefixlen, mac,
                                               gateway, mtu)])


def sandbox_lo_up(netns_path: str) -> None:
    """Set lo up inside the netns at ``netns_path``."""
    configure_sandbox(netns_path, [])
