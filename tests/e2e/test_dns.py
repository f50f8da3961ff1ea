"""Issue 4 acceptance: the embedded DNS server (one server in the daemon, sockets inside
each sandbox), forwarding to an upstream the test runs itself, and local answers that
never wait on unreachable upstreams."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.e2e.dnsclient import one, query, start_upstream
from tests.harness import Daemon

pytestmark = pytest.mark.e2e

A, AAAA = 1, 28
REAL = ("127.0.0.53", 5300)      # the toy upstreams live on the daemon netns's loopback
SILENT = ("127.0.0.54", 5300)


@pytest.fixture(scope="module")
def dnsd(tmp_path_factory, busybox_tar):
    d = Daemon(tmp_path_factory.mktemp("coved-dns"))
    d.extra_args = ["--dns-upstream", f"{REAL[0]}:{REAL[1]}",
                    "--dns-upstream", f"{SILENT[0]}:{SILENT[1]}"]
    ups: list[subprocess.Popen] = []
    try:
        d.start()
        d.cli("image", "import", str(busybox_tar), "busybox:latest")
        ups.append(start_upstream(d.netns, *REAL, "192.0.2.7"))
        ups.append(start_upstream(d.netns, *SILENT, "silent"))
        d.cli("network", "create", "dn")
        d.cli("run", "-d", "--name", "d1", "--hostname", "dee-one", "--network", "dn",
              "busybox", "sleep", "600")
        d.cli("run", "-d", "--name", "d2", "--network", "dn", "busybox", "sleep", "600")
        d.upstreams = ups
        yield d
    finally:
        for p in ups:
            if p.poll() is None:
                p.kill()
                p.wait()
        d.destroy()
        shutil.rmtree(d.root, ignore_errors=True)


def _sandbox(d, name: str) -> str:
    return d.inspect(name, "{{.NetworkSettings.SandboxKey}}")


def _ip(d, name: str) -> str:
    return json.loads(d.cli("inspect", name).stdout)[0]["NetworkSettings"]["Networks"][
        "dn"]["IPAddress"]


def test_local_names_over_udp_and_tcp(dnsd):
    sb, ip1 = _sandbox(dnsd, "d2"), _ip(dnsd, "d1")
    for name in ("d1", "D1", "d1.dn", "dee-one", dnsd.inspect("d1", "{{.Id}}")[:12]):
        for proto in ("udp", "tcp"):
            r = one(sb, name, A, proto)
            assert r["rcode"] == 0 and r["answers"] == [[A, ip1]], (name, proto, r)
    aaaa = one(sb, "d1", AAAA)          # the name exists, without an IPv6 address
    assert aaaa["rcode"] == 0 and aaaa["answers"] == []


def test_one_server_in_the_daemon_serves_every_sandbox(dnsd):
    pid = str(dnsd.proc.pid)
    for name in ("d1", "d2"):
        out = subprocess.run(["nsenter", f"--net={_sandbox(dnsd, name)}", "ss", "-lnup"],
                             capture_output=True, text=True, check=True).stdout
        line = next(x for x in out.splitlines() if "127.0.0.11:53" in x)
        assert f"pid={pid}," in line       # the daemon's own socket, no helper process


def test_forwarding_to_the_upstream_then_unreachable_upstreams(dnsd):
    sb = _sandbox(dnsd, "d2")
    r = one(sb, "example.test")
    assert r["rcode"] == 0 and r["answers"] == [[A, "192.0.2.7"]]
    assert one(sb, "nothing.test")["rcode"] == 3            # the upstream's NXDOMAIN
    # take the answering upstream away: the other one never answers
    real = dnsd.upstreams[0]
    real.kill()
    real.wait()
    res = query(sb, "d1", count=20)
    assert all(x["answers"] == [[A, _ip(dnsd, "d1")]] for x in res["results"])
    assert max(x["seconds"] for x in res["results"]) < 0.25   # local names never wait
    r = one(sb, "example.test")
    assert r["rcode"] == 2 and r["seconds"] >= 1.5           # SERVFAIL after the timeout


def test_daemon_restart_serves_readopted_containers(dnsd):
    dnsd.stop()
    dnsd.start()
    r = one(_sandbox(dnsd, "d2"), "d1")
    assert r["answers"] == [[A, _ip(dnsd, "d1")]]


def test_add_host_host_gateway_and_dns_flags(dnsd):
    d = dnsd
    d.cli("run", "-d", "--name", "d3", "--network", "dn", "--add-host", "hgw:host-gateway",
          "--dns-search", "corp.test", "--dns-option", "timeout:2", "busybox", "sleep", "60")
    try:
        gw = json.loads(d.cli("network", "inspect", "bridge").stdout)[0]["IPAM"]["Config"][0]
        hosts = d.cli("exec", "d3", "cat", "/etc/hosts").stdout
        assert f"{gw.get('Gateway') or gw['Subnet'].rsplit('.', 2)[0] + '.0.1'}\thgw" in hosts
        resolv = d.cli("exec", "d3", "cat", "/etc/resolv.conf").stdout
        assert resolv == "search corp.test\nnameserver 127.0.0.11\noptions timeout:2 ndots:0\n"
    finally:
        d.cli("rm", "-f", "d3", check=False)
