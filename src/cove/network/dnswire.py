"""A small DNS wire-format codec (RFC 1035), pure: parse queries, build answers.

Enough for the embedded DNS server: the header, one question (name compression
understood when reading), and answers of type A, AAAA and PTR written without
compression. :func:`reverse_name` and :func:`ptr_address` convert between addresses and
``in-addr.arpa``/``ip6.arpa`` names.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

A, PTR, AAAA, ANY = 1, 12, 28, 255
CLASS_IN = 1
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_TC = 0x0200
FLAG_RD = 0x0100
FLAG_RA = 0x0080


class DNSFormatError(ValueError):
    """The bytes are not a DNS message this codec understands."""


@dataclass
class Question:
    name: str          # lower-case, without the trailing dot
    qtype: int
    qclass: int = CLASS_IN


@dataclass
class Message:
    id: int
    flags: int
    questions: list[Question]

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def is_response(self) -> bool:
        return bool(self.flags & FLAG_QR)


def _read_name(data: bytes, off: int) -> tuple[str, int]:
    labels: list[str] = []
    end = -1
    jumps = 0
    while True:
        if off >= len(data):
            raise DNSFormatError("name runs past the end of the message")
        n = data[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(data):
                raise DNSFormatError("truncated compression pointer")
            if end < 0:
                end = off + 2
            off = ((n & 0x3F) << 8) | data[off + 1]
            jumps += 1
            if jumps > 32:
                raise DNSFormatError("compression loop")
            continue
        if n & 0xC0:
            raise DNSFormatError("bad label type")
        off += 1
        if n == 0:
            break
        if off + n > len(data):
            raise DNSFormatError("label runs past the end of the message")
        labels.append(data[off:off + n].decode("ascii", "replace"))
        off += n
    name = ".".join(labels)
    if len(name) > 253:
        raise DNSFormatError("name too long")
    return name, (end if end >= 0 else off)


def encode_name(name: str) -> bytes:
    """``"a.b"`` → ``\\x01a\\x01b\\x00`` (the root for ``""`` or ``"."``)."""
    out = bytearray()
    for label in name.strip(".").split("."):
        if not label:
            continue
        raw = label.encode("ascii")
        if len(raw) > 63:
            raise DNSFormatError(f"label too long: {label!r}")
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def parse_message(data: bytes) -> Message:
    """Header and questions of a DNS message (answers etc. are not read)."""
    if len(data) < 12:
        raise DNSFormatError("message shorter than a header")
    mid, flags, qd, _an, _ns, _ar = struct.unpack("!6H", data[:12])
    off = 12
    qs = []
    for _ in range(qd):
        name, off = _read_name(data, off)
        if off + 4 > len(data):
            raise DNSFormatError("truncated question")
        qtype, qclass = struct.unpack("!2H", data[off:off + 4])
        off += 4
        qs.append(Question(name.lower(), qtype, qclass))
    return Message(mid, flags, qs)


def build_query(name: str, qtype: int = A, mid: int = 0, rd: bool = True) -> bytes:
    """A one-question query."""
    hdr = struct.pack("!6H", mid, FLAG_RD if rd else 0, 1, 0, 0, 0)
    return hdr + encode_name(name) + struct.pack("!2H", qtype, CLASS_IN)


def _rdata(qtype: int, value: str) -> bytes:
    if qtype == A:
        return ipaddress.IPv4Address(value).packed
    if qtype == AAAA:
        return ipaddress.IPv6Address(value).packed
    if qtype == PTR:
        return encode_name(value)
    raise DNSFormatError(f"cannot encode record type {qtype}")


def build_response(query: Message, answers: list[tuple[int, str]], rcode: int = NOERROR,
                   ttl: int = 600, authoritative: bool = False) -> bytes:
    """The answer to ``query`` (its first question echoed) with ``answers`` as
    ``(type, value)`` records for that question's name."""
    flags = FLAG_QR | FLAG_RA | (query.flags & FLAG_RD) | (query.opcode << 11) | (rcode & 0xF)
    if authoritative:
        flags |= FLAG_AA
    q = query.questions[:1]
    hdr = struct.pack("!6H", query.id, flags, len(q), len(answers) if q else 0, 0, 0)
    body = bytearray()
    if q:
        qname = encode_name(q[0].name)
        body += qname + struct.pack("!2H", q[0].qtype, q[0].qclass)
        for rtype, value in answers:
            rd = _rdata(rtype, value)
            body += qname + struct.pack("!2HIH", rtype, CLASS_IN, ttl, len(rd)) + rd
    return hdr + bytes(body)


def error_response(data: bytes, rcode: int) -> bytes:
    """A minimal error answer echoing the header id of ``data`` (whatever it holds)."""
    mid = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 0
    return struct.pack("!6H", mid, FLAG_QR | FLAG_RA | (rcode & 0xF), 0, 0, 0, 0)


def response_rcode(data: bytes) -> int:
    if len(data) < 4:
        raise DNSFormatError("message shorter than a header")
    return struct.unpack("!H", data[2:4])[0] & 0xF


def parse_answers(data: bytes) -> list[tuple[int, str]]:
    """The answer records of a response as ``(type, value)`` (A, AAAA, PTR decoded;
    other types as hex)."""
    if len(data) < 12:
        raise DNSFormatError("message shorter than a header")
    _mid, _flags, qd, an, _ns, _ar = struct.unpack("!6H", data[:12])
    off = 12
    for _ in range(qd):
        _, off = _read_name(data, off)
        off += 4
    out = []
    for _ in range(an):
        _, off = _read_name(data, off)
        if off + 10 > len(data):
            raise DNSFormatError("truncated record")
        rtype, _cls, _ttl, rdlen = struct.unpack("!2HIH", data[off:off + 10])
        off += 10
        rd = data[off:off + rdlen]
        if len(rd) != rdlen:
            raise DNSFormatError("truncated record data")
        if rtype == A and rdlen == 4:
            out.append((A, str(ipaddress.IPv4Address(rd))))
        elif rtype == AAAA and rdlen == 16:
            out.append((AAAA, str(ipaddress.IPv6Address(rd))))
        elif rtype == PTR:
            out.append((PTR, _read_name(data, off)[0]))
        else:
            out.append((rtype, rd.hex()))
        off += rdlen
    return out


def reverse_name(ip: str) -> str:
    """``"10.0.0.2"`` → ``"2.0.0.10.in-addr.arpa"`` (and ip6.arpa for IPv6)."""
    return ipaddress.ip_address(ip).reverse_pointer


def ptr_address(name: str) -> str | None:
    """The address a reverse name stands for, or None if it is not one."""
    name = name.lower().rstrip(".")
    if name.endswith(".in-addr.arpa"):
        parts = name[: -len(".in-addr.arpa")].split(".")
        if len(parts) != 4:
            return None
        try:
            return str(ipaddress.IPv4Address(".".join(reversed(parts))))
        except ValueError:
            return None
    if name.endswith(".ip6.arpa"):
        nibbles = name[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32 or any(len(n) != 1 for n in nibbles):
            return None
        h = "".join(reversed(nibbles))
        try:
            return str(ipaddress.IPv6Address(int(h, 16)))
        except ValueError:
            return None
    return None
