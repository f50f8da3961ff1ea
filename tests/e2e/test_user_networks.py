"""Issue 4 acceptance on a real coved: user-defined networks, isolation, connect and
disconnect, --internal, IPAM options and errors, network rm, MTU."""

from __future__ import annotations

import json
import sys
import time

import pytest

from tests.e2e.dnsclient import one

pytestmark = pytest.mark.e2e

PTR = 12


def _ip(d, name: str, net: str) -> str:
    info = json.loads(d.cli("inspect", name).stdout)[0]
    return info["NetworkSettings"]["Networks"][net]["IPAddress"]


def _sandbox(d, name: str) -> str:
    return d.inspect(name, "{{.NetworkSettings.SandboxKey}}")


def _wait_http(d, ctr: str, url: str, tries: int = 50) -> str:
    last = None
    for _ in range(tries):
        last = d.cli("exec", ctr, "timeout", "5", "wget", "-qO-", url, check=False)
        if last.returncode == 0:
            return last.stdout
        time.sleep(0.1)
    raise AssertionError(f"{url} not reachable from {ctr}: {last.stdout} {last.stderr}")


def _host_get(d, port: int) -> str:
    """GET http://127.0.0.1:PORT/ from the daemon's namespace (a published port)."""
    for _ in range(30):
        r = d.host(sys.executable, "-c", "import urllib.request;print(urllib.request.urlopen("
                   f"'http://127.0.0.1:{port}/',timeout=3).read().decode())", check=False)
        if r.returncode == 0:
            return r.stdout
        time.sleep(0.1)
    raise AssertionError(f"port {port} does not answer: {r.stderr[-300:]}")


def _fails(d, ctr: str, *cmd: str) -> bool:
    return d.cli("exec", ctr, *cmd, check=False, timeout=30).returncode != 0


def _cleanup(d, containers=(), networks=()) -> None:
    for c in containers:
        d.cli("rm", "-f", c, check=False)
    for n in networks:
        d.cli("network", "rm", n, check=False)


HTTPD = ("busybox", "httpd", "-f", "-p", "80", "-h", "/www")


def test_names_aliases_ptr_and_isolation_between_networks(daemon):
    d = daemon
    d.cli("network", "create", "n1")
    d.cli("network", "create", "n2")
    try:
        d.cli("run", "-d", "--name", "a1", "--network", "n1", "--network-alias", "web", *HTTPD)
        d.cli("run", "-d", "--name", "a2", "--network", "n1", *HTTPD)
        d.cli("run", "-d", "--name", "b1", "--network", "n2", *HTTPD)
        ip1 = _ip(d, "a1", "n1")
        resolv = d.cli("exec", "a2", "cat", "/etc/resolv.conf").stdout
        assert "nameserver 127.0.0.11" in resolv and "ndots:0" in resolv
        # by name, alias and <name>.<network>: ping and TCP
        for name in ("a1", "web", "a1.n1"):
            d.cli("exec", "a2", "ping", "-c", "1", "-W", "2", name)
            assert "cove" in _wait_http(d, "a2", f"http://{name}/").lower()
        # the short id and the hostname resolve too
        short = d.inspect("a1", "{{.Id}}")[:12]
        assert one(_sandbox(d, "a2"), short)["answers"] == [[1, ip1]]
        # reverse lookup returns the name
        ptr = one(_sandbox(d, "a2"), ".".join(reversed(ip1.split("."))) + ".in-addr.arpa", PTR)
        assert ptr["answers"] == [[PTR, "a1.n1"]]
        # a container on n2 reaches neither (TCP and ping) and cannot resolve them
        ip2 = _ip(d, "a2", "n1")
        for ip in (ip1, ip2):
            assert _fails(d, "b1", "ping", "-c", "1", "-W", "1", ip)
            assert _fails(d, "b1", "timeout", "3", "wget", "-qO-", f"http://{ip}/")
        for name in ("a1", "web", "a1.n1"):
            assert one(_sandbox(d, "b1"), name)["rcode"] != 0 or \
                one(_sandbox(d, "b1"), name)["answers"] == []
        assert _fails(d, "b1", "ping", "-c", "1", "-W", "1", "a1")
    finally:
        _cleanup(d, ("a1", "a2", "b1"), ("n1", "n2"))


def test_shared_alias_gives_several_records(daemon):
    d = daemon
    d.cli("network", "create", "nshared")
    try:
        for c in ("s1", "s2"):
            d.cli("run", "-d", "--name", c, "--network", "nshared", "--network-alias", "pool",
                  "busybox", "sleep", "300")
        got = sorted(a[1] for a in one(_sandbox(d, "s1"), "pool")["answers"])
        assert got == sorted([_ip(d, "s1", "nshared"), _ip(d, "s2", "nshared")])
    finally:
        _cleanup(d, ("s1", "s2"), ("nshared",))


def test_connect_and_disconnect_a_running_container(daemon):
    d = daemon
    d.cli("network", "create", "cn1")
    d.cli("network", "create", "cn2")
    try:
        d.cli("run", "-d", "--name", "t1", "--network", "cn1", *HTTPD)
        d.cli("run", "-d", "--name", "mover", "--network", "cn2", "-p", "18080:80",
              "--add-host", "keep.me:10.9.9.9", *HTTPD)
        assert "cove" in _host_get(d, 18080).lower()
        ip1 = _ip(d, "t1", "cn1")
        assert _fails(d, "mover", "ping", "-c", "1", "-W", "1", ip1)
        d.cli("network", "connect", "--alias", "moved", "cn1", "mover")
        d.cli("exec", "mover", "ping", "-c", "1", "-W", "2", "t1")
        d.cli("exec", "t1", "ping", "-c", "1", "-W", "2", "moved")
        links = d.cli("exec", "mover", "ip", "-o", "link").stdout
        assert "eth1" in links
        routes = d.cli("exec", "mover", "ip", "route").stdout
        gw2 = json.loads(d.cli("network", "inspect", "cn2").stdout)[0]["IPAM"]["Config"][0]
        assert f"default via {gw2['Gateway']} dev eth0" in routes   # first attached keeps it
        hosts_before = d.cli("exec", "mover", "cat", "/etc/hosts").stdout
        mover_ip1 = _ip(d, "mover", "cn1")
        assert mover_ip1 in hosts_before
        assert "cove" in _host_get(d, 18080).lower()          # published port unchanged
        d.cli("network", "disconnect", "cn1", "mover")
        assert _fails(d, "mover", "ping", "-c", "1", "-W", "1", ip1)
        assert "cove" in _host_get(d, 18080).lower()
        assert d.cli("port", "mover").stdout.strip() == "80/tcp -> 0.0.0.0:18080"
        assert one(_sandbox(d, "mover"), "t1")["answers"] == [] or \
            one(_sandbox(d, "mover"), "t1")["rcode"] != 0
        hosts_after = d.cli("exec", "mover", "cat", "/etc/hosts").stdout
        assert hosts_after.splitlines() == [x for x in hosts_before.splitlines()
                                            if not x.startswith(mover_ip1 + "\t")]
        assert "10.9.9.9\tkeep.me" in hosts_after
        assert "eth1" not in d.cli("exec", "mover", "ip", "-o", "link").stdout
        assert "default via" in d.cli("exec", "mover", "ip", "route").stdout
        # disconnecting the gateway network moves the default route to the next one
        d.cli("network", "connect", "cn1", "mover")
        d.cli("network", "disconnect", "cn2", "mover")
        gw1 = json.loads(d.cli("network", "inspect", "cn1").stdout)[0]["IPAM"]["Config"][0]
        assert f"default via {gw1['Gateway']}" in d.cli("exec", "mover", "ip", "route").stdout
        d.cli("exec", "mover", "ping", "-c", "1", "-W", "2", "t1")
    finally:
        _cleanup(d, ("t1", "mover"), ("cn1", "cn2"))


def test_internal_network(daemon):
    d = daemon
    d.cli("network", "create", "--internal", "--subnet", "10.77.0.0/24", "nint")
    try:
        d.cli("run", "-d", "--name", "i1", "--network", "nint", *HTTPD)
        d.cli("run", "-d", "--name", "i2", "--network", "nint", "busybox", "sleep", "300")
        d.cli("exec", "i2", "ping", "-c", "1", "-W", "2", "i1")
        _wait_http(d, "i2", "http://i1/")
        assert "default" not in d.cli("exec", "i2", "ip", "route").stdout
        table = d.nft()
        assert "10.77.0.0/24" not in table.split("chain forward")[0]   # no masquerade rule
        assert _fails(d, "i2", "ping", "-c", "1", "-W", "1", "10.255.255.254")
        net = json.loads(d.cli("network", "inspect", "nint").stdout)[0]
        assert net["Internal"] is True
    finally:
        _cleanup(d, ("i1", "i2"), ("nint",))


def test_ipam_options_and_docker_errors(daemon):
    d = daemon
    d.cli("network", "create", "--subnet", "10.123.0.0/24", "--ip-range", "10.123.0.128/25",
          "--gateway", "10.123.0.254", "--aux-address", "router=10.123.0.129", "nipam")
    try:
        net = json.loads(d.cli("network", "inspect", "nipam").stdout)[0]
        cfg = net["IPAM"]["Config"][0]
        assert cfg["Subnet"] == "10.123.0.0/24" and cfg["Gateway"] == "10.123.0.254"
        assert cfg["IPRange"] == "10.123.0.128/25"
        assert cfg["AuxiliaryAddresses"] == {"router": "10.123.0.129"}
        d.cli("run", "-d", "--name", "p1", "--network", "nipam", "busybox", "sleep", "300")
        assert _ip(d, "p1", "nipam") == "10.123.0.130"   # first of the range, aux skipped
        d.cli("run", "-d", "--name", "p2", "--network", "nipam", "--ip", "10.123.0.50",
              "--mac-address", "02:42:0a:7b:00:99", "busybox", "sleep", "300")
        assert _ip(d, "p2", "nipam") == "10.123.0.50"
        assert "02:42:0a:7b:00:99" in d.cli("exec", "p2", "ip", "link", "show", "eth0").stdout
        assert "10.123.0.254" in d.cli("exec", "p2", "ip", "route").stdout
        nets = d.cli("network", "ls", "-q").stdout
        ctrs = d.cli("ps", "-aq").stdout
        links = d.links()
        errors = {
            ("network", "create", "--subnet", "10.123.0.0/16", "other"):
                "Pool overlaps with other one on this address space",
            ("network", "create", "nipam"): "network with name nipam already exists",
            ("run", "--network", "nipam", "--ip", "10.124.0.5", "busybox", "true"):
                "does not belong to any of this network's subnets",
            ("run", "--network", "nipam", "--ip", "10.123.0.50", "busybox", "true"):
                "Address already in use",
            ("run", "--ip", "172.17.0.50", "busybox", "true"):
                "user specified IP address is supported on user defined networks only",
        }
        for args, msg in errors.items():
            r = d.cli(*args, check=False)
            assert r.returncode != 0 and msg in r.stderr, (args, r.stderr)
        assert d.cli("network", "ls", "-q").stdout == nets
        assert d.cli("ps", "-aq").stdout == ctrs
        assert d.links() == links
    finally:
        _cleanup(d, ("p1", "p2"), ("nipam",))


def test_rm_refused_with_endpoints_then_leaves_nothing(daemon):
    d = daemon
    nid = d.cli("network", "create", "nrm").stdout.strip()
    bridge = "br-" + nid[:12]
    gateway = json.loads(d.cli("network", "inspect", "nrm").stdout)[0]["IPAM"]["Config"][0][
        "Gateway"]
    try:
        d.cli("run", "-d", "--name", "r1", "--network", "nrm", "busybox", "sleep", "300")
        d.cli("run", "-d", "--name", "r2", "--network", "nrm", "busybox", "sleep", "300")
        assert bridge in d.links() and bridge in d.nft()
        r = d.cli("network", "rm", "nrm", check=False)
        assert r.returncode != 0 and "has active endpoints" in r.stderr and "r1" in r.stderr
        assert one(_sandbox(d, "r1"), "r2")["answers"]
        d.cli("rm", "-f", "r2")
        gone = one(_sandbox(d, "r1"), "r2")              # its record is gone (forwarded:
        assert gone["answers"] == [] and gone["rcode"] != 0   # no upstream in this netns)
        d.cli("rm", "-f", "r1")
        d.cli("network", "rm", "nrm")
        assert bridge not in d.links()
        assert bridge not in d.nft()
        assert f"inet {gateway}/" not in d.host("ip", "-o", "addr").stdout
        assert "nrm" not in d.cli("network", "ls").stdout
    finally:
        _cleanup(d, ("r1", "r2"), ("nrm",))


def test_prune_removes_unused_networks(daemon):
    d = daemon
    d.cli("network", "create", "used1")
    d.cli("network", "create", "unused1")
    try:
        d.cli("create", "--name", "u1", "--network", "used1", "busybox", "true")
        out = d.cli("network", "prune", "-f").stdout
        assert "unused1" in out and "used1\n" not in out.replace("unused1", "")
        ls = d.cli("network", "ls").stdout
        assert "unused1" not in ls and "used1" in ls
    finally:
        _cleanup(d, ("u1",), ("used1", "unused1"))


def test_mtu_on_bridge_veth_and_container(daemon):
    d = daemon
    nid = d.cli("network", "create", "-o", "com.docker.network.driver.mtu=1400",
                "-o", "com.docker.network.bridge.name=covemtu0", "nmtu").stdout.strip()
    assert nid
    try:
        d.cli("run", "-d", "--name", "m1", "--network", "nmtu", "busybox", "sleep", "300")
        assert "mtu 1400" in d.host("ip", "link", "show", "covemtu0").stdout
        ports = d.host("ip", "-o", "link", "show", "master", "covemtu0").stdout
        assert ports.strip() and all("mtu 1400" in line for line in ports.splitlines())
        assert d.cli("exec", "m1", "cat", "/sys/class/net/eth0/mtu").stdout.strip() == "1400"
    finally:
        _cleanup(d, ("m1",), ("nmtu",))


def test_icc_false_drops_traffic_between_members(daemon):
    d = daemon
    d.cli("network", "create", "-o", "com.docker.network.bridge.enable_icc=false", "nnoicc")
    d.cli("network", "create", "nicc")
    try:
        for c, n in (("q1", "nnoicc"), ("q2", "nnoicc"), ("q3", "nicc"), ("q4", "nicc")):
            d.cli("run", "-d", "--name", c, "--network", n, "busybox", "sleep", "300")
        d.cli("exec", "q4", "ping", "-c", "1", "-W", "2", _ip(d, "q3", "nicc"))
        assert _fails(d, "q2", "ping", "-c", "1", "-W", "1", _ip(d, "q1", "nnoicc"))
    finally:
        _cleanup(d, ("q1", "q2", "q3", "q4"), ("nnoicc", "nicc"))


def test_link_on_a_user_network_is_a_dns_alias(daemon):
    d = daemon
    d.cli("network", "create", "nlink")
    try:
        d.cli("run", "-d", "--name", "db", "--network", "nlink", "busybox", "sleep", "300")
        d.cli("run", "-d", "--name", "app", "--network", "nlink", "--link", "db:database",
              "busybox", "sleep", "300")
        d.cli("run", "-d", "--name", "other", "--network", "nlink", "busybox", "sleep", "300")
        db_ip = _ip(d, "db", "nlink")
        assert one(_sandbox(d, "app"), "database")["answers"] == [[1, db_ip]]
        assert one(_sandbox(d, "other"), "database")["answers"] == []   # app's alias only
        env = d.cli("exec", "app", "env").stdout
        assert "DATABASE_PORT" not in env                       # no link env vars
        assert "database" not in d.cli("exec", "app", "cat", "/etc/hosts").stdout
    finally:
        _cleanup(d, ("db", "app", "other"), ("nlink",))
