"""The embedded DNS server: one asyncio server in the daemon for every container.

Each container on a user-defined network gets a UDP and a TCP socket bound to
127.0.0.11:53 *inside its own network namespace* (opened by :mod:`cove.kernel.nssock` on
a short-lived thread, then served by the daemon's event loop), so no DNAT and no process
per container are needed. A query is answered from :class:`Records` — the names visible
to the asking container: the names of the containers on the networks it is attached to
(container name, network aliases, short id, hostname, ``<name>.<network>``) and its own
``--link`` aliases. Other names are forwarded to the upstream servers, one after the
other, each with a timeout; local names never wait on upstreams.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from cove.network import dnswire as w

log = logging.getLogger(__name__)

EMBEDDED_IP = "127.0.0.11"
DNS_PORT = 53
UPSTREAM_TIMEOUT = 2.0


@dataclass
class DnsEntry:
    """One container's endpoint on one network, as DNS sees it."""

    container_id: str
    network_id: str
    network_name: str
    ip: str
    names: list[str]                 # name, aliases, short id, hostname


@dataclass
class Records:
    """The DNS view of all running containers (pure; rebuilt on every change)."""

    # network id → name → addresses (insertion order: attach order)
    names: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # network id → address → PTR name
    ptr: dict[str, dict[str, str]] = field(default_factory=dict)
    # container id → networks it is attached to
    member: dict[str, list[str]] = field(default_factory=dict)
    # container id → link alias → target name
    links: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def build(cls, entries: Iterable[DnsEntry],
              links: dict[str, dict[str, str]] | None = None) -> Records:
        r = cls(links={k: {a.lower(): t.lower() for a, t in v.items()}
                       for k, v in (links or {}).items()})
        for e in entries:
            r.member.setdefault(e.container_id, []).append(e.network_id)
            table = r.names.setdefault(e.network_id, {})
            primary = e.names[0] if e.names else ""
            for n in [*e.names, f"{primary}.{e.network_name}" if primary else ""]:
                n = n.lower().rstrip(".")
                if n and e.ip not in table.setdefault(n, []):
                    table[n].append(e.ip)
            if primary:
                r.ptr.setdefault(e.network_id, {})[e.ip] = f"{primary}.{e.network_name}"
        return r

    def lookup(self, container_id: str, qname: str, qtype: int) -> list[tuple[int, str]] | None:
        """Records for ``qname`` as seen by ``container_id``; None when the name is not a
        local one (forward it). An empty list: the name exists, not with that type."""
        nets = self.member.get(container_id, [])
        qname = qname.lower().rstrip(".")
        if qtype == w.PTR:
            addr = w.ptr_address(qname)
            if addr is None:
                return None
            for nid in nets:
                name = self.ptr.get(nid, {}).get(addr)
                if name:
                    return [(w.PTR, name)]
            return None
        qname = self.links.get(container_id, {}).get(qname, qname)
        ips: list[str] = []
        for nid in nets:
            for ip in self.names.get(nid, {}).get(qname, []):
                if ip not in ips:
                    ips.append(ip)
        if not ips:
            return None
        want = w.AAAA if qtype == w.AAAA else w.A
        out = []
        for ip in ips:
            v6 = isinstance(ipaddress.ip_address(ip), ipaddress.IPv6Address)
            if (want == w.AAAA) == v6 and qtype in (w.A, w.AAAA, w.ANY):
                out.append((want, ip))
        return out


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: EmbeddedDNS, container_id: str) -> None:
        self.server, self.cid = server, container_id
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[override]
        local = self.server.answer_local(self.cid, data)
        if local is not None:
            if self.transport is not None:
                self.transport.sendto(local, addr)
            return
        self.server.spawn(self._forward(data, addr))

    async def _forward(self, data: bytes, addr) -> None:
        reply = await self.server.forward(data, tcp=False)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


@dataclass
class _Listener:
    udp: asyncio.DatagramTransport
    tcp: asyncio.AbstractServer


class EmbeddedDNS:
    """The one embedded DNS server of the daemon."""

    def __init__(self, upstreams: Iterable[tuple[str, int]] = (),
                 timeout: float = UPSTREAM_TIMEOUT) -> None:
        self.upstreams = list(upstreams)
        self.timeout = timeout
        self.records = Records()
        self._listeners: dict[str, _Listener] = {}
        self._tasks: set[asyncio.Task] = set()

    # -- the view
    def update(self, records: Records) -> None:
        self.records = records

    def attached(self) -> list[str]:
        return sorted(self._listeners)

    # -- sockets
    async def attach(self, container_id: str, netns_path: str) -> None:
        """Serve ``container_id``'s sandbox on 127.0.0.11:53 inside it (idempotent)."""
        if container_id in self._listeners:
            return
        from cove.kernel.nssock import listen_in_netns
        udp_sock, tcp_sock = await asyncio.to_thread(
            listen_in_netns, netns_path, EMBEDDED_IP, DNS_PORT)
        loop = asyncio.get_running_loop()
        try:
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self, container_id), sock=udp_sock)
        except BaseException:
            udp_sock.close()
            tcp_sock.close()
            raise
        try:
            tcp = await asyncio.start_server(
                lambda r, wr: self._tcp_client(container_id, r, wr), sock=tcp_sock)
        except BaseException:
            udp.close()
            tcp_sock.close()
            raise
        self._listeners[container_id] = _Listener(udp, tcp)

    async def detach(self, container_id: str) -> None:
        """Close the container's sockets (gone is fine)."""
        lst = self._listeners.pop(container_id, None)
        if lst is None:
            return
        lst.udp.close()
        lst.tcp.close()
        with contextlib.suppress(Exception):
            await lst.tcp.wait_closed()

    async def close(self) -> None:
        for cid in list(self._listeners):
            await self.detach(cid)
        for t in list(self._tasks):
            t.cancel()

    def spawn(self, coro) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    # -- answering
    def answer_local(self, container_id: str, data: bytes) -> bytes | None:
        """The answer when the query is about a local name (or malformed); None to forward."""
        try:
            msg = w.parse_message(data)
        except w.DNSFormatError:
            return w.error_response(data, w.FORMERR) if len(data) >= 2 else b""
        if msg.is_response or msg.opcode != 0:
            return w.error_response(data, w.NOTIMP)
        if len(msg.questions) != 1:
            return w.error_response(data, w.FORMERR)
        q = msg.questions[0]
        try:
            found = self.records.lookup(container_id, q.name, q.qtype)
        except ValueError:
            found = None
        if found is None:
            return None
        return w.build_response(msg, found, authoritative=False)

    async def forward(self, data: bytes, tcp: bool) -> bytes:
        """Ask each upstream in turn; SERVFAIL when none answers in time."""
        for host, port in self.upstreams:
            try:
                if tcp:
                    reply = await asyncio.wait_for(_ask_tcp(host, port, data), self.timeout)
                else:
                    reply = await asyncio.wait_for(_ask_udp(host, port, data), self.timeout)
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                log.debug("upstream %s:%s: %s", host, port, exc)
                continue
            if len(reply) >= 2 and reply[:2] == data[:2]:
                return reply
        return w.error_response(data, w.SERVFAIL)

    async def _tcp_client(self, cid: str, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                hdr = await asyncio.wait_for(reader.readexactly(2), 30)
                data = await reader.readexactly(struct.unpack("!H", hdr)[0])
                reply = self.answer_local(cid, data)
                if reply is None:
                    reply = await self.forward(data, tcp=True)
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, OSError):
            pass
        finally:
            writer.close()


class _Once(asyncio.DatagramProtocol):
    def __init__(self, fut: asyncio.Future) -> None:
        self.fut = fut

    def datagram_received(self, data: bytes, addr) -> None:  # type: ignore[override]
        if not self.fut.done():
            self.fut.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.fut.done():
            self.fut.set_exception(exc)


async def _ask_udp(host: str, port: int, data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future = loop.create_future()
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Once(fut), remote_addr=(host, port), family=fam)
    try:
        transport.sendto(data)
        return await fut
    finally:
        transport.close()


async def _ask_tcp(host: str, port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        await writer.drain()
        n = struct.unpack("!H", await reader.readexactly(2))[0]
        return await reader.readexactly(n)
    finally:
        writer.close()


def parse_upstream(spec: str) -> tuple[str, int]:
    """``"10.0.0.1"``, ``"10.0.0.1:5353"`` or ``"[fd00::1]:53"`` → (host, port)."""
    spec = spec.strip()
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest.lstrip(":") or "53"
    elif spec.count(":") == 1:
        host, port = spec.split(":")
    else:
        host, port = spec, "53"
    ipaddress.ip_address(host)
    return host, int(port)


def upstreams_from_resolv(text: str) -> list[tuple[str, int]]:
    """Nameservers of a resolv.conf (the daemon's own view of the host's resolver)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            with contextlib.suppress(ValueError):
                out.append(parse_upstream(parts[1]) if ":" not in parts[1]
                           else (parts[1].split("%")[0], DNS_PORT))
    return out
