"""The DNS wire codec (pure): queries, answers, names, reverse names."""

from __future__ import annotations

import struct

import pytest

from cove.network import dnswire as w


def test_query_round_trip():
    q = w.build_query("Web.N1", w.A, mid=0x1234)
    m = w.parse_message(q)
    assert m.id == 0x1234 and not m.is_response and m.opcode == 0
    assert m.flags & w.FLAG_RD
    assert m.questions == [w.Question("web.n1", w.A, w.CLASS_IN)]


def test_response_with_several_a_records():
    m = w.parse_message(w.build_query("pool", w.A, mid=7))
    data = w.build_response(m, [(w.A, "10.0.0.2"), (w.A, "10.0.0.3")])
    mid, flags, qd, an, ns, ar = struct.unpack("!6H", data[:12])
    assert (mid, qd, an, ns, ar) == (7, 1, 2, 0, 0)
    assert flags & w.FLAG_QR and flags & w.FLAG_RD and w.response_rcode(data) == w.NOERROR
    assert w.parse_answers(data) == [(w.A, "10.0.0.2"), (w.A, "10.0.0.3")]


def test_aaaa_and_ptr_records():
    m = w.parse_message(w.build_query("x", w.AAAA))
    assert w.parse_answers(w.build_response(m, [(w.AAAA, "fd00::2")])) == [(w.AAAA, "fd00::2")]
    m = w.parse_message(w.build_query("2.0.18.172.in-addr.arpa", w.PTR))
    assert w.parse_answers(w.build_response(m, [(w.PTR, "c1.n1")])) == [(w.PTR, "c1.n1")]


def test_nxdomain_and_error_response():
    m = w.parse_message(w.build_query("nope", w.A, mid=9))
    data = w.build_response(m, [], rcode=w.NXDOMAIN)
    assert w.response_rcode(data) == w.NXDOMAIN and w.parse_answers(data) == []
    err = w.error_response(b"\x00\x09garbage", w.SERVFAIL)
    assert err[:2] == b"\x00\x09" and w.response_rcode(err) == w.SERVFAIL


def test_compressed_names_are_read():
    # header, question "a.b", then an answer whose name is a pointer to offset 12
    hdr = struct.pack("!6H", 1, 0x8180, 1, 1, 0, 0)
    q = w.encode_name("a.b") + struct.pack("!2H", w.A, 1)
    ans = b"\xc0\x0c" + struct.pack("!2HIH", w.A, 1, 60, 4) + bytes([1, 2, 3, 4])
    assert w.parse_answers(hdr + q + ans) == [(w.A, "1.2.3.4")]


@pytest.mark.parametrize("data", [
    b"\x00",                                              # shorter than a header
    struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\x05ab",     # label past the end
    struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\xc0\x0c",   # pointer loop
    struct.pack("!6H", 1, 0, 1, 0, 0, 0) + b"\x00\x00",   # truncated question
])
def test_malformed_messages_raise(data):
    with pytest.raises(w.DNSFormatError):
        w.parse_message(data)


def test_encode_name_limits():
    assert w.encode_name("") == b"\x00" and w.encode_name("a.") == b"\x01a\x00"
    with pytest.raises(w.DNSFormatError):
        w.encode_name("x" * 64)


def test_reverse_names():
    assert w.reverse_name("172.18.0.2") == "2.0.18.172.in-addr.arpa"
    assert w.ptr_address("2.0.18.172.in-addr.arpa.") == "172.18.0.2"
    assert w.ptr_address(w.reverse_name("fd00::1")) == "fd00::1"
    assert w.ptr_address("1.2.in-addr.arpa") is None
    assert w.ptr_address("example.com") is None
