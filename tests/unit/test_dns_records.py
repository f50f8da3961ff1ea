"""The embedded DNS view (pure) and the server's local answers, without sockets."""

from __future__ import annotations

import asyncio

from cove.network import dnswire as w
from cove.network.dns import DnsEntry, EmbeddedDNS, Records, parse_upstream, upstreams_from_resolv

C1, C2, C3 = "c1" * 32, "c2" * 32, "c3" * 32


def _records() -> Records:
    return Records.build([
        DnsEntry(C1, "n1id", "n1", "10.1.0.2", ["web1", "www", C1[:12], "h1"]),
        DnsEntry(C2, "n1id", "n1", "10.1.0.3", ["web2", "www", C2[:12], C2[:12]]),
        DnsEntry(C3, "n2id", "n2", "10.2.0.2", ["other", C3[:12], C3[:12]]),
        DnsEntry(C2, "n2id", "n2", "10.2.0.3", ["web2", C2[:12], C2[:12]]),
    ], links={C1: {"db": "web2"}})


def test_names_aliases_fqdn_short_id_hostname():
    r = _records()
    for name in ("web1", "WEB1", "web1.n1", C1[:12], "h1", "web1.n1."):
        assert r.lookup(C2, name, w.A) == [(w.A, "10.1.0.2")], name


def test_shared_alias_has_every_address():
    assert _records().lookup(C1, "www", w.A) == [(w.A, "10.1.0.2"), (w.A, "10.1.0.3")]


def test_scoped_to_the_askers_networks():
    r = _records()
    assert r.lookup(C3, "web1", w.A) is None            # n2 cannot resolve n1's names
    assert r.lookup(C3, "web2", w.A) == [(w.A, "10.2.0.3")]
    assert r.lookup(C2, "other", w.A) == [(w.A, "10.2.0.2")]   # C2 is on both
    assert r.lookup("unknown", "web1", w.A) is None


def test_ptr_and_aaaa_and_links():
    r = _records()
    assert r.lookup(C2, "2.0.1.10.in-addr.arpa", w.PTR) == [(w.PTR, "web1.n1")]
    assert r.lookup(C3, "2.0.1.10.in-addr.arpa", w.PTR) is None
    assert r.lookup(C2, "web1", w.AAAA) == []            # exists, no IPv6 address
    assert r.lookup(C1, "db", w.A) == [(w.A, "10.1.0.3")]    # C1's link alias
    assert r.lookup(C2, "db", w.A) is None                  # only C1 has it


def test_server_answers_local_names_and_forwards_the_rest():
    srv = EmbeddedDNS(upstreams=[], timeout=0.1)
    srv.update(_records())
    q = w.build_query("web1", w.A, mid=3)
    ans = srv.answer_local(C2, q)
    assert ans is not None and w.parse_answers(ans) == [(w.A, "10.1.0.2")]
    assert srv.answer_local(C2, w.build_query("example.com", w.A)) is None
    assert w.response_rcode(srv.answer_local(C2, b"\x00\x01\x02")) == w.FORMERR
    reply = asyncio.run(srv.forward(w.build_query("example.com", w.A, mid=5), tcp=False))
    assert reply[:2] == b"\x00\x05" and w.response_rcode(reply) == w.SERVFAIL


def test_upstream_specs():
    assert parse_upstream("10.0.0.1") == ("10.0.0.1", 53)
    assert parse_upstream("127.0.0.53:5300") == ("127.0.0.53", 5300)
    assert parse_upstream("[fd00::1]:54") == ("fd00::1", 54)
    text = "search x\nnameserver 10.0.0.1\nnameserver fd00::2\nnameserver bogus\n"
    assert upstreams_from_resolv(text) == [("10.0.0.1", 53), ("fd00::2", 53)]
