"""Issue 3 acceptance on a real coved: published ports (datapath, allocation, conflicts,
display, clean-up). Traffic goes only to loopback and to addresses of the throwaway
namespace that plays the host."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time

import pytest

from tests.harness import sh

pytestmark = pytest.mark.e2e

UDP_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(data, addr)
"""

UDP_ASK = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
for _ in range(20):
    s.sendto(b"ping-cove", (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recvfrom(2048)[0].decode()); break
    except socket.timeout:
        pass
"""

HOST_GET = ("import sys,urllib.request;"
            "print(urllib.request.urlopen(sys.argv[1],timeout=2).read().decode())")


def _get(d, where, url: str, tries: int = 40) -> str:
    """GET ``url`` from the host (where=None) or from a container (its name)."""
    last = None
    for _ in range(tries):
        if where is None:
            last = d.host(sys.executable, "-c", HOST_GET, url, check=False)
        else:
            last = d.cli("exec", where, "timeout", "3", "wget", "-qO-", url, check=False)
        if last.returncode == 0:
            return last.stdout.strip()
        time.sleep(0.1)
    raise AssertionError(f"{url} from {where or 'host'}: {last.stdout} {last.stderr}")


def _elements(d) -> int:
    """Elements of cove's port maps in the kernel."""
    out = d.host("nft", "-j", "list", "table", "inet", "cove").stdout
    n = 0
    for item in json.loads(out)["nftables"]:
        m = item.get("map")
        if m and m["name"].startswith("ports_"):
            n += len(m.get("elem", []))
    return n


def _ports(d, name: str) -> dict:
    return json.loads(d.inspect(name, "{{json .NetworkSettings.Ports}}"))


def _range_start(d) -> int:
    return int(d.host("cat", "/proc/sys/net/ipv4/ip_local_port_range").stdout.split()[0])


def _rm(d, *names: str) -> None:
    for n in names:
        d.cli("rm", "-f", n, check=False)


def test_published_port_from_loopback_host_address_hairpin_and_itself(daemon):
    base = _elements(daemon)
    hv, pv = "cvh" + secrets.token_hex(3), "cvp" + secrets.token_hex(3)
    daemon.cli("run", "-d", "--name", "pweb", "-p", "18080:80", "busybox",
               "httpd", "-f", "-p", "80", "-h", "/etc")
    daemon.cli("run", "-d", "--name", "pcli", "busybox", "sleep", "600")
    try:
        short = daemon.inspect("pweb", "{{.Id}}")[:12]
        gw = daemon.inspect("pweb", "{{.NetworkSettings.Gateway}}")
        assert _elements(daemon) == base + 1
        # the host via 127.0.0.1
        assert _get(daemon, None, "http://127.0.0.1:18080/hostname") == short
        # the host via a non-loopback address of its own (a veth pair plays the NIC)
        daemon.host("ip", "link", "add", hv, "type", "veth", "peer", "name", pv)
        daemon.host("ip", "addr", "add", "10.203.77.1/24", "dev", hv)
        daemon.host("ip", "link", "set", hv, "up")
        daemon.host("ip", "link", "set", pv, "up")
        assert _get(daemon, None, "http://10.203.77.1:18080/hostname") == short
        # another container through the gateway (hairpin), and the publisher itself
        assert _get(daemon, "pcli", f"http://{gw}:18080/hostname") == short
        assert _get(daemon, "pweb", f"http://{gw}:18080/hostname") == short
        assert _get(daemon, "pcli", "http://10.203.77.1:18080/hostname") == short
        # inspect: the request and the result
        assert json.loads(daemon.inspect("pweb", "{{json .HostConfig.PortBindings}}")) == {
            "80/tcp": [{"HostIp": "", "HostPort": "18080"}]}
        assert _ports(daemon, "pweb") == {"80/tcp": [{"HostIp": "0.0.0.0",
                                                      "HostPort": "18080"}]}
        # stop releases the port and its map element; start takes them again
        daemon.cli("stop", "-t", "0", "pweb")
        assert _elements(daemon) == base
        assert _ports(daemon, "pweb") == {}
        r = daemon.host(sys.executable, "-c", HOST_GET, "http://127.0.0.1:18080/",
                        check=False)
        assert r.returncode != 0
        daemon.cli("start", "pweb")
        assert _get(daemon, None, "http://127.0.0.1:18080/hostname") == short
    finally:
        daemon.host("ip", "link", "del", hv, check=False)
        _rm(daemon, "pweb", "pcli")
    assert _elements(daemon) == base
    # the port is free again for anyone
    daemon.host(sys.executable, "-c", "import socket;socket.socket().bind(('0.0.0.0',18080))")


def test_random_ports_publish_all_and_udp_on_loopback(fresh_daemon):
    d = fresh_daemon
    start = _range_start(d)
    d.cli("run", "-d", "--name", "r1", "-p", "80", "busybox", "sleep", "600")
    d.cli("run", "-d", "--name", "r2", "-p", "80", "busybox", "sleep", "600")
    assert _ports(d, "r1") == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(start)}]}
    assert _ports(d, "r2") == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(start + 1)}]}
    d.cli("run", "-d", "--name", "r3", "--expose", "9000", "--expose", "9001/udp",
          "--expose", "7000-7001", "-P", "busybox", "sleep", "600")
    p3 = _ports(d, "r3")
    assert p3["9001/udp"] == [{"HostIp": "0.0.0.0", "HostPort": str(start)}]  # per proto
    tcp = sorted(int(p3[k][0]["HostPort"]) for k in ("7000/tcp", "7001/tcp", "9000/tcp"))
    assert tcp == [start + 2, start + 3, start + 4]
    d.cli("run", "-d", "--name", "r4", "--expose", "9000", "-p", "127.0.0.1::81/udp",
          "busybox", "sleep", "600")
    p4 = _ports(d, "r4")
    assert p4 == {"81/udp": [{"HostIp": "127.0.0.1", "HostPort": str(start + 1)}],
                  "9000/tcp": None}
    hp = p4["81/udp"][0]["HostPort"]
    # cove port / cove ps in Docker's format
    assert d.cli("port", "r4").stdout == f"81/udp -> 127.0.0.1:{hp}\n"
    assert d.cli("port", "r4", "81/udp").stdout == f"127.0.0.1:{hp}\n"
    r = d.cli("port", "r4", "9000", check=False)
    assert r.returncode == 1 and "No public port '9000/tcp' published for r4" in r.stderr
    assert d.cli("port", "r1").stdout == f"80/tcp -> 0.0.0.0:{start}\n"
    table = d.cli("ps").stdout
    assert f"9000/tcp, 127.0.0.1:{hp}->81/udp" in table
    assert f"0.0.0.0:{start}->80/tcp" in table
    # UDP echo through 127.0.0.1:HOSTPORT into the container's namespace
    sandbox = d.inspect("r4", "{{.NetworkSettings.SandboxKey}}")
    cip = d.inspect("r4", "{{.NetworkSettings.IPAddress}}")
    echo = subprocess.Popen(["nsenter", f"--net={sandbox}", sys.executable, "-c", UDP_ECHO,
                             "81"], stdout=subprocess.PIPE, text=True)
    try:
        assert echo.stdout.readline().strip() == "ready"
        out = d.host(sys.executable, "-c", UDP_ASK, "127.0.0.1", hp).stdout
        assert out.strip() == "ping-cove"
        flows = d.host("conntrack", "-L", "-p", "udp", "--reply-src", cip,
                       check=False).stdout
        assert f"dport={hp}" in flows
    finally:
        echo.kill()
        echo.wait()
    # removing the container removes its elements and its UDP conntrack entries
    before = _elements(d)
    d.cli("rm", "-f", "r4")
    assert _elements(d) == before - 1
    flows = d.host("conntrack", "-L", "-p", "udp", "--reply-src", cip, check=False).stdout
    assert f"dport={hp}" not in flows
    _rm(d, "r1", "r2", "r3")
    assert _elements(d) == 0


def test_host_ranges_and_one_to_one_ranges(daemon):
    daemon.cli("run", "-d", "--name", "hr1", "-p", "18200-18205:80", "busybox", "sleep", "600")
    daemon.cli("run", "-d", "--name", "hr2", "-p", "18200-18205:80", "busybox", "sleep", "600")
    daemon.cli("run", "-d", "--name", "hr3", "-p", "18100-18102:80-82", "-p",
               "18300-18301:18300-18301", "busybox", "sleep", "600")
    try:
        assert _ports(daemon, "hr1")["80/tcp"][0]["HostPort"] == "18200"
        assert _ports(daemon, "hr2")["80/tcp"][0]["HostPort"] == "18201"
        p = _ports(daemon, "hr3")
        assert [p[f"{c}/tcp"][0]["HostPort"] for c in (80, 81, 82)] == [
            "18100", "18101", "18102"]
        row = [line for line in daemon.cli("ps").stdout.splitlines() if "hr3" in line][0]
        assert ("0.0.0.0:18300-18301->18300-18301/tcp, 0.0.0.0:18100->80/tcp, "
                "0.0.0.0:18101->81/tcp, 0.0.0.0:18102->82/tcp") in row
        bad = daemon.cli("run", "-d", "-p", "18300-18302:80-81", "busybox", "true",
                         check=False)
        assert bad.returncode == 125
        assert ("invalid ranges specified for container and host Ports: 80-81 and"
                " 18300-18302") in bad.stderr
    finally:
        _rm(daemon, "hr1", "hr2", "hr3")


def test_conflicts_name_the_holder_and_leave_nothing_behind(daemon):
    daemon.cli("run", "-d", "--name", "holder", "-p", "18400:80", "busybox", "sleep", "600")
    holder_els = _elements(daemon)
    links, netns = daemon.links(), daemon.netns_files()
    names = daemon.cli("ps", "-aq").stdout.split()
    busy = None
    try:
        r = daemon.cli("run", "-d", "--name", "dup", "-p", "19000:90", "-p", "18400:80",
                       "busybox", "sleep", "600", check=False)
        assert r.returncode == 125
        assert re.search(r"driver failed programming external connectivity on endpoint dup"
                         r" \([0-9a-f]{64}\): Bind for 0\.0\.0\.0:18400 failed: port is already"
                         r" allocated \(held by container holder\)", r.stderr), r.stderr
        # nothing half-made: no container, veth, netns, element, or held port 19000
        assert daemon.cli("ps", "-aq").stdout.split() == names
        assert daemon.links() == links and daemon.netns_files() == netns
        assert _elements(daemon) == holder_els
        daemon.host(sys.executable, "-c",
                    "import socket;socket.socket().bind(('0.0.0.0',19000))")
        # a host process holding the port
        busy = subprocess.Popen(
            ["nsenter", f"--net={daemon.netns}", sys.executable, "-c",
             "import socket,time;s=socket.socket();s.bind(('0.0.0.0',18401));s.listen();"
             "print('up',flush=True);time.sleep(60)"], stdout=subprocess.PIPE, text=True)
        assert busy.stdout.readline().strip() == "up"
        r = daemon.cli("run", "-d", "--name", "busy", "-p", "18401:80", "busybox", "sleep",
                       "600", check=False)
        assert r.returncode == 125
        assert ("failed to bind host port 0.0.0.0:18401/tcp: address already in use"
                f" (held by process {busy.pid} ") in r.stderr, r.stderr
        assert daemon.cli("ps", "-aq").stdout.split() == names
        assert _elements(daemon) == holder_els
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()
        _rm(daemon, "holder", "dup", "busy")


def test_published_port_through_a_host_forward_policy_drop(fresh_daemon):
    """A host running Docker has ``filter FORWARD`` policy DROP: cove inserts tagged
    accepts for its bridges and removes them with the network."""
    d = fresh_daemon
    nb = "covenb" + secrets.token_hex(3)
    hv, pv = "cvh" + secrets.token_hex(3), "cvp" + secrets.token_hex(3)
    d.host("nft", "add table ip filter; add chain ip filter FORWARD { type filter hook"
           " forward priority 0; policy drop; }")
    sh("ip", "netns", "add", nb)
    try:
        # a neighbour host on a link of its own
        d.host("ip", "link", "add", hv, "type", "veth", "peer", "name", pv)
        d.host("ip", "link", "set", pv, "netns", nb)
        d.host("ip", "addr", "add", "10.203.88.1/24", "dev", hv)
        d.host("ip", "link", "set", hv, "up")
        sh("ip", "-n", nb, "addr", "add", "10.203.88.2/24", "dev", pv)
        sh("ip", "-n", nb, "link", "set", pv, "up")
        d.stop()
        d.start()                                  # reconcile sees the DROP policy
        rules = d.host("nft", "list", "chain", "ip", "filter", "FORWARD").stdout
        assert rules.count('comment "cove:cove0"') == 2
        d.cli("run", "-d", "--name", "fw", "-p", "18090:80", "busybox", "httpd", "-f",
              "-p", "80", "-h", "/etc")
        short = d.inspect("fw", "{{.Id}}")[:12]
        got = None
        for _ in range(40):
            got = sh("ip", "netns", "exec", nb, sys.executable, "-c", HOST_GET,
                     "http://10.203.88.1:18090/hostname", check=False)
            if got.returncode == 0:
                break
            time.sleep(0.1)
        assert got.stdout.strip() == short, got.stderr
        # a port published on 127.0.0.1 is not reachable from the neighbour, even when it
        # routes 127.0.0.1 to us (the raw-priority drop); without the drop it would be
        d.cli("run", "-d", "--name", "lo1", "-p", "127.0.0.1:18091:80", "busybox", "httpd",
              "-f", "-p", "80", "-h", "/etc")
        assert _get(d, None, "http://127.0.0.1:18091/hostname")
        sh("ip", "netns", "exec", nb, "sysctl", "-qw", f"net.ipv4.conf.{pv}.route_localnet=1")
        sh("ip", "-n", nb, "route", "add", "127.0.0.1/32", "via", "10.203.88.1")
        ask = [sys.executable, "-c", HOST_GET, "http://127.0.0.1:18091/hostname"]
        assert sh("ip", "netns", "exec", nb, *ask, check=False).returncode != 0
        d.host("nft", "flush", "chain", "inet", "cove", "ports_raw")
        assert sh("ip", "netns", "exec", nb, *ask, check=False).returncode == 0
        d.cli("rm", "-f", "lo1")
        # a network's rules leave with it
        d.cli("network", "create", "fwnet")
        rules = d.host("nft", "list", "chain", "ip", "filter", "FORWARD").stdout
        assert rules.count('comment "cove:br-') == 2
        d.cli("network", "rm", "fwnet")
        rules = d.host("nft", "list", "chain", "ip", "filter", "FORWARD").stdout
        assert 'comment "cove:br-' not in rules and rules.count('"cove:cove0"') == 2
        d.cli("rm", "-f", "fw")
    finally:
        sh("ip", "netns", "del", nb, check=False)
        d.host("nft", "delete table ip filter", check=False)


def test_ports_survive_a_daemon_restart(fresh_daemon):
    """Kill -9 of coved: the next start rebuilds the allocator, the held sockets and the
    map elements from the store."""
    d = fresh_daemon
    start = _range_start(d)
    d.cli("run", "-d", "--name", "keep", "-p", "18600:80", "-p", "80", "busybox", "httpd",
          "-f", "-p", "80", "-h", "/etc")
    short = d.inspect("keep", "{{.Id}}")[:12]
    d.kill9()
    d.start()
    assert _get(d, None, "http://127.0.0.1:18600/hostname") == short
    assert _elements(d) == 2
    r = d.cli("run", "-d", "--name", "late", "-p", "18600:80", "busybox", "true", check=False)
    assert "port is already allocated (held by container keep)" in r.stderr
    # the round-robin pointer is not restored (as in Docker), the allocation is
    d.cli("run", "-d", "--name", "next", "-p", "80", "busybox", "sleep", "600")
    assert _ports(d, "next")["80/tcp"][0]["HostPort"] == str(start + 1)
    busy = d.host(sys.executable, "-c",
                  "import socket;socket.socket().bind(('0.0.0.0',18600))", check=False)
    assert busy.returncode != 0                    # the restarted daemon holds it again
    _rm(d, "keep", "next", "late")
    assert _elements(d) == 0


TAG_ECHO = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 81))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(2048)
    s.sendto(sys.argv[1].encode(), addr)
"""

ASK_FROM = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 40555))
s.settimeout(0.2)
for _ in range(int(sys.argv[2])):
    s.sendto(b"?", ("127.0.0.1", int(sys.argv[1])))
    try:
        print(s.recvfrom(2048)[0].decode()); break
    except socket.timeout:
        pass
"""


def _tag_echo(d, name: str, tag: str) -> subprocess.Popen:
    sandbox = d.inspect(name, "{{.NetworkSettings.SandboxKey}}")
    p = subprocess.Popen(["nsenter", f"--net={sandbox}", sys.executable, "-c", TAG_ECHO, tag],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def test_udp_host_port_moves_to_a_new_container(daemon):
    """Same client (same source port) before, between and after: conntrack entries of the
    old mapping and of the unmapped gap are flushed, so the new container gets it."""
    procs = []
    try:
        daemon.cli("run", "-d", "--name", "ua", "-p", "18700:81/udp", "busybox", "sleep", "600")
        procs.append(_tag_echo(daemon, "ua", "from-a"))
        assert daemon.host(sys.executable, "-c", ASK_FROM, "18700", "20").stdout.strip() == (
            "from-a")
        daemon.cli("rm", "-f", "ua")
        assert daemon.host(sys.executable, "-c", ASK_FROM, "18700", "3").stdout.strip() == ""
        daemon.cli("run", "-d", "--name", "ub", "-p", "18700:81/udp", "busybox", "sleep", "600")
        procs.append(_tag_echo(daemon, "ub", "from-b"))
        assert daemon.host(sys.executable, "-c", ASK_FROM, "18700", "20").stdout.strip() == (
            "from-b")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        _rm(daemon, "ua", "ub")
