"""Issue 2 acceptance on a real coved: the default bridge, files, NAT, clean-up, errors."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.e2e


def _ip(d, name: str) -> str:
    return d.inspect(name, "{{.NetworkSettings.IPAddress}}")


def _wait_http(d, runner, url: str, tries: int = 50) -> str:
    last = None
    for _ in range(tries):
        last = runner(url)
        if last.returncode == 0:
            return last.stdout
        time.sleep(0.1)
    raise AssertionError(f"{url} not reachable: {last.stdout} {last.stderr}")


def test_two_containers_talk_to_each_other_the_host_and_the_gateway(daemon):
    daemon.cli("run", "-d", "--name", "web1", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    daemon.cli("run", "-d", "--name", "web2", "busybox", "httpd", "-f", "-p", "80", "-h", "/www")
    try:
        ip1, ip2 = _ip(daemon, "web1"), _ip(daemon, "web2")
        net = json.loads(daemon.cli("network", "inspect", "bridge").stdout)[0]
        subnet = ipaddress.ip_network(net["IPAM"]["Config"][0]["Subnet"])
        gateway = daemon.inspect("web1", "{{.NetworkSettings.Gateway}}")
        assert ip1 != ip2
        assert ipaddress.ip_address(ip1) in subnet and ipaddress.ip_address(ip2) in subnet
        assert ipaddress.ip_address(gateway) == next(subnet.hosts())
        # container to container: ping and a TCP request to httpd
        daemon.cli("exec", "web1", "ping", "-c", "1", "-W", "2", ip2)
        daemon.cli("exec", "web2", "ping", "-c", "1", "-W", "2", ip1)
        body = _wait_http(daemon, lambda u: daemon.cli(
            "exec", "web1", "wget", "-qO-", u, check=False), f"http://{ip2}/")
        assert "cove" in body.lower()
        out = daemon.cli("run", "--rm", "busybox", "wget", "-qO-", f"http://{ip1}/").stdout
        assert out == body.replace(ip2, ip1) or "cove" in out.lower()
        # the host reaches both
        for ip in (ip1, ip2):
            daemon.host("busybox", "ping", "-c", "1", "-W", "2", ip)
            got = _wait_http(daemon, lambda u: daemon.host(
                sys.executable, "-c",
                f"import urllib.request;print(urllib.request.urlopen('{u}',timeout=3)"
                ".read().decode())", check=False), f"http://{ip}/")
            assert "cove" in got.lower()
        # both reach the gateway
        for name in ("web1", "web2"):
            daemon.cli("exec", name, "ping", "-c", "1", "-W", "2", gateway)
    finally:
        daemon.cli("rm", "-f", "web1", "web2")


def test_eth0_and_files_are_as_docker_writes_them(daemon):
    daemon.cli("run", "-d", "--name", "files1", "--hostname", "fhost", "busybox",
               "sleep", "300")
    try:
        ip = _ip(daemon, "files1")
        prefix = daemon.inspect("files1", "{{.NetworkSettings.IPPrefixLen}}")
        gw = daemon.inspect("files1", "{{.NetworkSettings.Gateway}}")
        mac = daemon.inspect("files1", "{{.NetworkSettings.MacAddress}}")
        assert mac == "02:42:" + ":".join(f"{int(b):02x}" for b in ip.split("."))
        addr = daemon.cli("exec", "files1", "ip", "-o", "-4", "addr", "show", "eth0").stdout
        assert f"inet {ip}/{prefix}" in addr
        link = daemon.cli("exec", "files1", "ip", "link", "show", "eth0").stdout
        assert mac in link
        route = daemon.cli("exec", "files1", "ip", "route").stdout
        assert f"default via {gw} dev eth0" in route
        hosts = daemon.cli("exec", "files1", "cat", "/etc/hosts").stdout
        assert hosts.startswith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
        assert hosts.rstrip("\n").endswith(f"{ip}\tfhost")
        assert daemon.cli("exec", "files1", "cat", "/etc/hostname").stdout == "fhost\n"
        assert daemon.cli("exec", "files1", "hostname").stdout.strip() == "fhost"
        resolv = daemon.cli("exec", "files1", "cat", "/etc/resolv.conf").stdout
        assert "nameserver" in resolv and "127.0.0." not in resolv
        ps = daemon.cli("exec", "files1", "ps", "-o", "pid,args").stdout
        first = [ln.split(None, 1) for ln in ps.splitlines()[1:]]
        assert ["1", "sleep 300"] in [[p, a.strip()] for p, a in first]
    finally:
        daemon.cli("rm", "-f", "files1")


def test_masquerade_rule_for_the_subnet(daemon):
    net = json.loads(daemon.cli("network", "inspect", "bridge").stdout)[0]
    subnet = net["IPAM"]["Config"][0]["Subnet"]
    table = daemon.nft()
    lines = [ln.strip() for ln in table.splitlines()]
    assert any(f"ip saddr {subnet}" in ln and "masquerade" in ln and "cove0" in ln
               for ln in lines), table
    assert daemon.host("sysctl", "-n", "net.ipv4.ip_forward").stdout.strip() == "1"


def test_rm_f_and_autoremove_leave_nothing(daemon):
    before_links = set(daemon.links())
    before_ns = daemon.netns_files()
    cid = daemon.cli("run", "-d", "--name", "gone1", "busybox", "sleep", "300").stdout.strip()
    ip = _ip(daemon, "gone1")
    assert len(daemon.netns_files()) == len(before_ns) + 1
    assert set(daemon.links()) - before_links  # a veth appeared
    pid = int(daemon.inspect("gone1", "{{.State.Pid}}"))
    daemon.cli("rm", "-f", "gone1")
    assert daemon.netns_files() == before_ns
    assert set(daemon.links()) == before_links
    assert not [m for m in daemon.mounts() if cid in m]
    assert subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0
    assert daemon.cli("ps", "-aq").stdout.split().count(cid[:12]) == 0
    # the lease is free again: the next container gets the same lowest address
    daemon.cli("run", "-d", "--name", "gone2", "busybox", "sleep", "300")
    assert _ip(daemon, "gone2") == ip
    daemon.cli("rm", "-f", "gone2")
    # --rm on exit
    daemon.cli("run", "--rm", "--name", "gone3", "busybox", "true")
    assert "gone3" not in daemon.cli("ps", "-a").stdout
    assert daemon.netns_files() == before_ns
    assert set(daemon.links()) == before_links


def test_failed_create_and_run_leave_nothing(daemon):
    before = (daemon.netns_files(), set(daemon.links()), daemon.cli("ps", "-aq").stdout)
    r = daemon.cli("run", "-d", "busybox", "nosuchcommand", check=False)
    assert r.returncode != 0
    assert "nosuchcommand" in r.stderr and "not found" in r.stderr
    r = daemon.cli("run", "-d", "nosuchimage", "true", check=False)
    assert r.returncode != 0 and "No such image: nosuchimage" in r.stderr
    after = (daemon.netns_files(), set(daemon.links()), daemon.cli("ps", "-aq").stdout)
    assert after == before


def test_bad_input_gets_clear_errors(daemon):
    daemon.cli("create", "--name", "dup1", "busybox", "true")
    try:
        r = daemon.cli("create", "--name", "dup1", "busybox", "true", check=False)
        assert r.returncode != 0
        assert 'Conflict. The container name "/dup1" is already in use' in r.stderr
    finally:
        daemon.cli("rm", "dup1")
    r = daemon.cli("inspect", "nosuchcontainer", check=False)
    assert r.returncode != 0 and "No such object: nosuchcontainer" in r.stderr  # docker's words
    r = daemon.cli("rm", "nosuchcontainer", check=False)
    assert r.returncode != 0 and "No such container: nosuchcontainer" in r.stderr
    r = daemon.cli("run", "--network", "nosuchnet", "busybox", "true", check=False)
    assert r.returncode != 0 and "nosuchnet" in r.stderr and "not found" in r.stderr
    assert daemon.cli("ps", "-aq").stdout.strip() == ""
    # malformed JSON straight to the API: 400 with a message, and nothing created
    status, body = daemon.api("POST", "/v1.41/containers/create", b"{not json",
                              {"Content-Type": "application/json"})
    assert status == 400 and json.loads(body)["message"]
    status, body = daemon.api("POST", "/v1.41/containers/create?name=x1",
                              b'{"Image": "busybox", "Cmd": ["true"], "Env": "notalist"}',
                              {"Content-Type": "application/json"})
    assert 400 <= status < 500 and json.loads(body)["message"]
    assert daemon.cli("ps", "-aq").stdout.strip() == ""


def test_network_none_and_host(daemon):
    out = daemon.cli("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").stdout
    names = [ln.split(": ")[1].split("@")[0] for ln in out.splitlines()]
    assert names == ["lo"]
    host_links = set(daemon.links())
    out = daemon.cli("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link").stdout
    names = {ln.split(": ")[1].split("@")[0] for ln in out.splitlines()}
    assert names == host_links


def test_logs_and_exit_codes(daemon):
    r = daemon.cli("run", "--name", "logs1", "busybox", "sh", "-c",
                   "echo out; echo err >&2; exit 3", check=False)
    try:
        assert r.returncode == 3
        assert r.stdout == "out\n" and r.stderr == "err\n"
        lg = daemon.cli("logs", "logs1")
        assert lg.stdout == "out\n" and lg.stderr == "err\n"
        assert daemon.inspect("logs1", "{{.State.ExitCode}}") == "3"
    finally:
        daemon.cli("rm", "-f", "logs1")


def test_stop_sends_term_then_kill(daemon):
    daemon.cli("run", "-d", "--name", "stop1", "busybox", "sleep", "300")
    try:
        t0 = time.monotonic()
        daemon.cli("stop", "-t", "1", "stop1")
        assert time.monotonic() - t0 < 8
        assert daemon.inspect("stop1", "{{.State.Status}}") == "exited"
        assert daemon.inspect("stop1", "{{.State.ExitCode}}") == "137"
        assert daemon.inspect("stop1", "{{.NetworkSettings.SandboxKey}}") == ""
    finally:
        daemon.cli("rm", "-f", "stop1")


def test_rm_removes_the_veth_even_when_a_process_holds_the_netns(daemon):
    """The kernel keeps a netns (and its veth pair) alive while any process is inside it;
    the address is free for the next container at once, so the old veth must be gone
    from the bridge when rm returns, or two ports would carry one IP and MAC."""
    daemon.cli("run", "-d", "--name", "held1", "busybox", "sleep", "300")
    sandbox = daemon.inspect("held1", "{{.NetworkSettings.SandboxKey}}")
    before = {ln for ln in daemon.links() if ln.startswith("veth")}
    holder = subprocess.Popen(["nsenter", f"--net={sandbox}", "sleep", "60"])
    try:
        time.sleep(0.2)
        daemon.cli("rm", "-f", "held1")
        assert not {ln for ln in daemon.links() if ln.startswith("veth")} & before
    finally:
        holder.kill()
        holder.wait()
