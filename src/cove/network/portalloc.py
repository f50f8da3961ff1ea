"""Host-port allocation as Docker does it (libnetwork's portallocator), pure.

Ports are allocated per ``(host IP, protocol)``. A random port comes from the ephemeral
range (``/proc/sys/net/ipv4/ip_local_port_range``, minus ``ip_local_reserved_ports``),
round-robin: each key keeps a ``last`` pointer and the next pick is the first free port
after it, wrapping around, so the first pick is the range's start and a freed port is
reused only after wrap-around. A host range (``18200-18205``) is its own round-robin
range. ``0.0.0.0`` conflicts with every specific IPv4 address of the same protocol (and
``::`` with IPv6). The state is rebuilt from the store at daemon start with :meth:`mark`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from cove.errors import Conflict, InvalidParameter

DEFAULT_RANGE = (49153, 65535)       # Docker's fallback when the sysctl is unreadable
ANY4, ANY6 = "0.0.0.0", "::"


class PortInUse(Conflict):
    """The (ip, port, proto) is already allocated."""

    def __init__(self, ip: str, port: int, proto: str) -> None:
        self.ip, self.port, self.proto = ip, port, proto
        super().__init__(f"Bind for {_fmt(ip)}:{port} failed: port is already allocated")


class RangeExhausted(Conflict):
    def __init__(self) -> None:
        super().__init__("all ports are allocated")


def _fmt(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def parse_port_range(text: str) -> tuple[int, int]:
    """``ip_local_port_range`` contents ("32768\\t60999") → (32768, 60999)."""
    try:
        lo, hi = (int(x) for x in text.split())
    except ValueError:
        return DEFAULT_RANGE
    if not 0 < lo <= hi <= 65535:
        return DEFAULT_RANGE
    return lo, hi


def parse_reserved(text: str) -> frozenset[int]:
    """``ip_local_reserved_ports`` ("8080,9000-9002") → the set of ports."""
    out: set[int] = set()
    for part in text.strip().split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            continue
        out.update(range(a, b + 1))
    return frozenset(out)


def _family(ip: str) -> int:
    return ipaddress.ip_address(ip).version


@dataclass(frozen=True)
class Allocation:
    ip: str
    port: int
    proto: str


class PortAllocator:
    """In-memory allocator; callers persist what they allocate and replay it via mark()."""

    def __init__(self, begin: int = DEFAULT_RANGE[0], end: int = DEFAULT_RANGE[1],
                 reserved: Iterable[int] = ()) -> None:
        self.begin, self.end = begin, end
        self.reserved = frozenset(reserved)
        self._used: dict[tuple[str, str], set[int]] = {}
        self._last: dict[tuple[str, str, int, int], int] = {}

    # -- queries
    def in_use(self, ip: str, port: int, proto: str) -> bool:
        """True when (ip, port, proto) conflicts with an allocation (wildcards included)."""
        if port in self._used.get((ip, proto), ()):
            return True
        fam = _family(ip)
        anyip = ANY4 if fam == 4 else ANY6
        if ip == anyip:
            return any(port in ports for (i, p), ports in self._used.items()
                       if p == proto and _family(i) == fam)
        return port in self._used.get((anyip, proto), ())

    # -- changes
    def mark(self, ip: str, port: int, proto: str) -> None:
        """Record an allocation without checks (state rebuilt from the store)."""
        self._used.setdefault((ip, proto), set()).add(port)

    def request(self, ip: str, proto: str, port: int = 0, end: int = 0) -> int:
        """Allocate: a given port (``end`` 0), the first free port of ``port..end``
        (round-robin per range), or a random ephemeral port (``port`` 0)."""
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidParameter(f"invalid proto: {proto}")
        if port and not end:
            if self.in_use(ip, port, proto):
                raise PortInUse(ip, port, proto)
            self.mark(ip, port, proto)
            return port
        lo, hi = (port, end) if port else (self.begin, self.end)
        if not 0 < lo <= hi <= 65535:
            raise InvalidParameter(f"invalid port range {lo}-{hi}")
        key = (ip, proto, lo, hi)
        last = self._last.get(key, hi)
        size = hi - lo + 1
        for i in range(1, size + 1):
            cand = lo + (last - lo + i) % size
            if not port and cand in self.reserved:
                continue
            if not self.in_use(ip, cand, proto):
                self._last[key] = cand
                self.mark(ip, cand, proto)
                return cand
        raise RangeExhausted()

    def release(self, ip: str, port: int, proto: str) -> None:
        """Free an allocation (freeing what is not allocated is fine)."""
        ports = self._used.get((ip, proto))
        if ports is not None:
            ports.discard(port)
            if not ports:
                del self._used[(ip, proto)]
