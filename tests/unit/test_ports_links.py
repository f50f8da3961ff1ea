"""Issue 3, pure parts: the port allocator, -p/--expose parsing, PORTS/`port` display,
link environment and /etc/hosts lines (golden text from the reference §0.3–0.6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cove.cli.portspec import (
    PortSpecError,
    displayable_ports,
    parse_expose,
    parse_port_spec,
    parse_publish,
    port_lines,
)
from cove.network import links
from cove.network.model import Network
from cove.network.portalloc import (
    PortAllocator,
    PortInUse,
    RangeExhausted,
    parse_port_range,
    parse_reserved,
)
from cove.network.portmap import Mapping, _chains, _maps

GOLDEN = Path(__file__).parent / "golden"


# -- allocator -----------------------------------------------------------------------------

def test_random_ports_start_at_range_start_and_go_round_robin():
    a = PortAllocator(32768, 32771)
    assert [a.request("0.0.0.0", "tcp") for _ in range(3)] == [32768, 32769, 32770]
    a.release("0.0.0.0", 32768, "tcp")
    assert a.request("0.0.0.0", "tcp") == 32771       # not lowest-free: round-robin
    assert a.request("0.0.0.0", "tcp") == 32768       # reused after wrap-around
    with pytest.raises(RangeExhausted, match="all ports are allocated"):
        a.request("0.0.0.0", "tcp")


def test_allocation_is_per_ip_and_proto_and_any_conflicts_with_specific():
    a = PortAllocator(32768, 60999)
    assert a.request("0.0.0.0", "tcp") == 32768
    assert a.request("0.0.0.0", "udp") == 32768       # another proto: independent
    assert a.request("127.0.0.1", "udp") == 32769     # 0.0.0.0/udp holds 32768
    a.request("10.0.0.1", "tcp", 18080)
    with pytest.raises(PortInUse, match=r"Bind for 0\.0\.0\.0:18080 failed: port is already"
                                        " allocated"):
        a.request("0.0.0.0", "tcp", 18080)
    assert a.request("10.0.0.2", "tcp", 18080) == 18080   # two specific IPs coexist
    with pytest.raises(PortInUse):
        a.request("10.0.0.1", "tcp", 32768)             # 0.0.0.0 holds it


def test_reserved_ports_are_skipped_and_host_ranges_pick_first_free():
    a = PortAllocator(32768, 32775, parse_reserved("32768,32770-32771\n"))
    assert a.request("0.0.0.0", "tcp") == 32769
    assert a.request("0.0.0.0", "tcp") == 32772
    assert a.request("0.0.0.0", "tcp", 18200, 18205) == 18200
    assert a.request("0.0.0.0", "tcp", 18200, 18205) == 18201
    a.mark("0.0.0.0", 40000, "tcp")                    # replay from the store
    assert a.in_use("127.0.0.1", 40000, "tcp")


def test_port_range_sysctl_parsing():
    assert parse_port_range("32768\t60999\n") == (32768, 60999)
    assert parse_port_range("") == (49153, 65535)
    assert parse_reserved("") == frozenset()


# -- -p / --expose --------------------------------------------------------------------------

def test_publish_specs_as_docker_parses_them():
    assert parse_port_spec("18080:80") == [("80/tcp", "", "18080")]
    assert parse_port_spec("80") == [("80/tcp", "", "")]
    assert parse_port_spec("127.0.0.1::81/udp") == [("81/udp", "127.0.0.1", "")]
    assert parse_port_spec("[::1]:8080:80") == [("80/tcp", "::1", "8080")]
    assert parse_port_spec("18200-18205:80") == [("80/tcp", "", "18200-18205")]
    assert parse_port_spec("18100-18102:80-82") == [
        ("80/tcp", "", "18100"), ("81/tcp", "", "18101"), ("82/tcp", "", "18102")]
    assert parse_port_spec("7000-7001/sctp") == [("7000/sctp", "", ""), ("7001/sctp", "", "")]
    exposed, binds = parse_publish(["18080:80", "127.0.0.1:18081:80"])
    assert exposed == {"80/tcp": {}}
    assert binds == {"80/tcp": [{"HostIp": "", "HostPort": "18080"},
                                {"HostIp": "127.0.0.1", "HostPort": "18081"}]}


@pytest.mark.parametrize("spec,msg", [
    ("18300-18302:80-81", "invalid ranges specified for container and host Ports:"
                          " 80-81 and 18300-18302"),
    ("70000:80", "invalid hostPort: 70000"),
    ("80/sctpx", "invalid proto: sctpx"),
    ("x:80", "invalid hostPort: x"),
    ("18080:abc", "invalid containerPort: abc"),
    ("300.1.1.1:80:80", "invalid IP address: 300.1.1.1"),
])
def test_bad_publish_specs_give_dockers_errors(spec, msg):
    with pytest.raises(PortSpecError) as ei:
        parse_port_spec(spec)
    assert str(ei.value) == msg


def test_expose_ranges_and_protocols():
    assert parse_expose(["7000-7002", "53/udp"]) == {
        "7000/tcp": {}, "7001/tcp": {}, "7002/tcp": {}, "53/udp": {}}
    with pytest.raises(PortSpecError, match="invalid range format for --expose"):
        parse_expose(["abc"])


# -- display ---------------------------------------------------------------------------------

PORTS = {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32770"}],
         "81/udp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}],
         "9000/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32769"}],
         "9001/tcp": None}


def test_port_lines_match_docker_port():
    assert port_lines(PORTS) == ["80/tcp -> 0.0.0.0:32770", "81/udp -> 127.0.0.1:32768",
                                 "9000/tcp -> 0.0.0.0:32769"]
    assert port_lines(PORTS, "80") == ["0.0.0.0:32770"]
    assert port_lines(PORTS, "81/udp") == ["127.0.0.1:32768"]
    assert port_lines(PORTS, "9001") == []
    assert port_lines({"80/tcp": [{"HostIp": "::", "HostPort": "1"}]}) == ["80/tcp -> [::]:1"]


def _list(ports):
    out = []
    for key, binds in ports.items():
        port, proto = key.split("/")
        for b in binds or [{}]:
            e = {"PrivatePort": int(port), "Type": proto}
            if b:
                e.update(IP=b["HostIp"], PublicPort=int(b["HostPort"]))
            out.append(e)
    return out


def test_ps_ports_column_like_docker():
    assert displayable_ports(_list(PORTS)) == (
        "9001/tcp, 0.0.0.0:32770->80/tcp, 127.0.0.1:32768->81/udp, 0.0.0.0:32769->9000/tcp")
    same = {f"{p}/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(p)}] for p in (8000, 8001, 8002)}
    assert displayable_ports(_list(same)) == "0.0.0.0:8000-8002->8000-8002/tcp"
    assert displayable_ports(_list({"7000/tcp": None, "7001/tcp": None, "53/udp": None})) == (
        "53/udp, 7000-7001/tcp")


# -- links ------------------------------------------------------------------------------------

def test_link_env_golden_with_protocols_range_and_env_filtering():
    env = links.link_env("cr-app", "db", "172.17.0.8",
                         ["5432/tcp", "53/udp", "7000/tcp", "7001/tcp"],
                         ["PATH=/usr/bin", "MYSQL_PASS=secret", "HOME=/root", "FOO=bar"])
    assert "\n".join(env) + "\n" == (GOLDEN / "link_env_db.txt").read_text()


def test_link_env_range_at_the_end_and_name_mangling():
    env = links.link_env("app", "cr-rand", "172.17.0.9", ["7000/tcp", "7001/tcp", "7002/tcp"],
                         [])
    assert env[0] == "CR_RAND_PORT=tcp://172.17.0.9:7000"
    assert "CR_RAND_PORT_7000_TCP_END=tcp://172.17.0.9:7002" in env    # v29's fix
    assert "CR_RAND_PORT_7000_TCP_PORT_START=7000" in env
    assert env[-1] == "CR_RAND_NAME=/app/cr-rand"
    assert links.link_env("app", "x", "1.2.3.4", [], ["A=1"]) == ["X_NAME=/app/x", "X_ENV_A=1"]


def test_link_hosts_lines_and_parsing():
    assert links.link_hosts_line("172.17.0.8", "db", "dbhost", "cr-db") == (
        "172.17.0.8\tdb dbhost cr-db")
    assert links.link_hosts_line("172.17.0.3", "cr-rand", "bdc41a12b302", "cr-rand") == (
        "172.17.0.3\tcr-rand bdc41a12b302")
    assert links.parse_link("cr-db:db") == ("cr-db", "db")
    assert links.parse_link("/cr-rand") == ("cr-rand", "cr-rand")


# -- datapath rendering ------------------------------------------------------------------------

def test_maps_and_chains_render_one_lookup_per_packet():
    ms = [Mapping("0.0.0.0", 18080, "tcp", "172.17.0.2", 80),
          Mapping("127.0.0.1", 32768, "udp", "172.17.0.4", 81)]
    link_set, any_map, ip_map = _maps(ms, ["172.17.0.3 . 172.17.0.2 . tcp . 80"])
    assert link_set.elements == ["172.17.0.3 . 172.17.0.2 . tcp . 80"]
    assert any_map.elements == ["tcp . 18080 : 172.17.0.2 . 80"]
    assert ip_map.elements == ["127.0.0.1 . udp . 32768 : 172.17.0.4 . 81"]
    net = Network(id="n", name="bridge", driver="bridge", bridge="cove0",
                  subnet="172.17.0.0/16", gateway="172.17.0.1")
    chains = {c.name: c for c in _chains([net])}
    assert any("map @ports_any" in r for r in chains["ports_dnat"].rules)
    assert "priority -100" in chains["ports_out"].hook
    assert chains["ports_raw"].rules == ['iifname != "lo" ip daddr 127.0.0.0/8 drop']
    assert 'oifname "cove0" ip saddr 127.0.0.0/8 masquerade' in chains["ports_snat"].rules


# -- host FORWARD policy DROP ------------------------------------------------------------------

def _ruleset(policy="drop", extra=(), docker_user=False):
    items = [{"table": {"family": "ip", "name": "filter"}},
             {"chain": {"name": "FORWARD", "hook": "forward", "policy": policy}}]
    if docker_user:
        items.append({"chain": {"name": "DOCKER-USER"}})
    return {"nftables": items + [{"rule": r} for r in extra]}


def test_host_forward_drop_gets_tagged_accepts_and_loses_them_with_the_network():
    from cove.network import hostfw
    script = hostfw.plan(_ruleset(), ["cove0"])
    assert script == ('insert rule ip filter FORWARD oifname "cove0" counter accept comment'
                      ' "cove:cove0"\n'
                      'insert rule ip filter FORWARD iifname "cove0" counter accept comment'
                      ' "cove:cove0"\n')
    have = [{"chain": "FORWARD", "handle": 7, "comment": "cove:br-1"},
            {"chain": "FORWARD", "handle": 8, "comment": "cove:br-1"},
            {"chain": "FORWARD", "handle": 9, "comment": "someone else"}]
    assert hostfw.plan(_ruleset(extra=have), ["br-1"]) == ""
    assert hostfw.plan(_ruleset(extra=have), []) == (
        "delete rule ip filter FORWARD handle 7\ndelete rule ip filter FORWARD handle 8\n")
    assert hostfw.plan(_ruleset(policy="accept"), ["cove0"]) == ""
    assert "DOCKER-USER" in hostfw.plan(_ruleset(docker_user=True), ["cove0"])
