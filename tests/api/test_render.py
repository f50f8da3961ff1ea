"""Pure shaping functions: human durations, status text, key sets, null vs {}."""

from __future__ import annotations

from cove.api import render
from cove.engine.model import Container, ContainerConfig, ExecRecord
from cove.network.model import Endpoint, Network


def _c(**kw) -> Container:
    base = dict(id="a" * 64, name="web", created="2026-01-01T00:00:00.000000000Z",
                config=ContainerConfig(image="busybox"), image_id="sha256:" + "b" * 64)
    base.update(kw)
    return Container(**base)


def test_parse_iso_handles_nanoseconds_and_zero():
    assert render.parse_iso("1970-01-01T00:00:10.500000000Z") == 10.5
    assert render.parse_iso("0001-01-01T00:00:00Z") == 0.0
    assert render.parse_iso("1970-01-01T01:00:10+01:00") == 10.0


def test_human_duration_matches_go_units():
    cases = {0.5: "Less than a second", 1: "1 second", 3: "3 seconds", 61: "About a minute",
             300: "5 minutes", 3600: "About an hour", 7200: "2 hours", 3 * 86400: "3 days",
             20 * 86400: "2 weeks", 90 * 86400: "3 months", 800 * 86400: "2 years"}
    for secs, text in cases.items():
        assert render.human_duration(secs) == text, secs


def test_status_text():
    t0 = render.parse_iso("2026-01-01T00:00:00Z")
    assert render.container_status_text(_c(), t0) == "Created"
    up = _c(status="running", started_at="2026-01-01T00:00:00Z")
    assert render.container_status_text(up, t0 + 3) == "Up 3 seconds"
    ex = _c(status="exited", exit_code=2, finished_at="2026-01-01T00:00:00Z")
    assert render.container_status_text(ex, t0 + 5) == "Exited (2) 5 seconds ago"


def test_network_settings_top_level_only_for_default_bridge():
    br = Network(id="n" * 64, name="bridge", driver="bridge", default=True)
    user = Network(id="u" * 64, name="web", driver="bridge")
    ep = Endpoint(id="e" * 64, network_id=br.id, container_id="a" * 64, ip="172.17.0.2",
                  prefixlen=16, mac="02:42:ac:11:00:02", gateway="172.17.0.1")
    ns = render.network_settings(_c(status="running"), [(br, ep)])
    assert ns["IPAddress"] == "172.17.0.2" and ns["EndpointID"] == ep.id
    assert ns["Ports"] == {} and ns["SecondaryIPAddresses"] is None
    ns = render.network_settings(_c(status="running"), [(user, ep)])
    assert ns["IPAddress"] == "" and ns["MacAddress"] == ""
    assert ns["Networks"]["web"]["Aliases"] == ["a" * 12]
    assert set(ns) == {"Bridge", "SandboxID", "HairpinMode", "LinkLocalIPv6Address",
                       "LinkLocalIPv6PrefixLen", "Ports", "SandboxKey",
                       "SecondaryIPAddresses", "SecondaryIPv6Addresses", "EndpointID",
                       "Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPAddress",
                       "IPPrefixLen", "IPv6Gateway", "MacAddress", "Networks"}


def test_exposed_unpublished_port_is_null_when_running():
    cfg = ContainerConfig(image="busybox", exposed_ports={"9000/tcp": {}})
    assert render.network_settings(_c(status="running", config=cfg), [])["Ports"] == {
        "9000/tcp": None}
    assert render.ports_list(_c(status="running", config=cfg)) == [
        {"PrivatePort": 9000, "Type": "tcp"}]


def test_user_network_ipam_keeps_range_and_aux():
    net = Network(id="u" * 64, name="n1", driver="bridge", subnet="10.99.0.0/24",
                  gateway="10.99.0.254",
                  ipam={"Config": [{"Subnet": "10.99.0.0/24", "IPRange": "10.99.0.128/25",
                                    "AuxiliaryAddresses": {"router": "10.99.0.129"}}]})
    d = render.network_inspect(net, [])
    assert d["IPAM"]["Config"] == [{"Subnet": "10.99.0.0/24", "IPRange": "10.99.0.128/25",
                                    "Gateway": "10.99.0.254",
                                    "AuxiliaryAddresses": {"router": "10.99.0.129"}}]
    assert d["IPAM"]["Options"] == {}


def test_exec_inspect_keys():
    d = render.exec_inspect(ExecRecord(id="x", container_id="c", cmd=["ls", "-l"],
                                       exit_code=None, running=True))
    assert d["ExitCode"] is None and d["ProcessConfig"]["arguments"] == ["-l"]
    assert set(d) == {"ID", "Running", "ExitCode", "ProcessConfig", "OpenStdin",
                      "OpenStderr", "OpenStdout", "CanRemove", "ContainerID", "DetachKeys",
                      "Pid"}
