"""The gateway bridge ``cove_gwbridge`` (src/cove/network/gwbridge.py) on one host.

A container whose networks are all overlay networks gets ``eth1`` on a local bridge
network ``cove_gwbridge`` (ICC off, masquerade on) holding its default route: egress is
NATed to the host's address (seen by a server on another fabric host), ``-p 8080:80``
reaches it from its host's own namespace and from the fabric, two such containers do
not talk through the gateway bridge, and DNS answers with overlay addresses only.
Only host 1 runs a coved; host 2 is a bare namespace on the fabric (the "outside").
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.multihost.harness import wait_for

pytestmark = pytest.mark.usefixtures("multihost_ok")

SERVER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(4)
print("ready", flush=True)
c, addr = s.accept()
print(addr[0], flush=True)
c.sendall(b"hello\n"); c.close()
"""

FETCH = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
data = b""
while chunk := s.recv(4096):
    data += chunk
print(data.decode(errors="replace"))
"""


@pytest.fixture
def one_host(multihost_ok, tmp_path, busybox_tar):
    from tests.multihost.harness import Cluster

    cl = Cluster(tmp_path, hosts=2, busybox_tar=busybox_tar)
    try:
        cl.start_etcd()
        cl.hosts[0].start_coved(ttl=2, grace=4)
        yield cl
    finally:
        cl.destroy()


def _links(h, cid: str) -> dict[str, dict]:
    out = json.loads(h.in_container(cid, "ip", "-j", "addr", check=True).stdout)
    return {i["ifname"]: i for i in out}


def _v4(link: dict) -> str:
    return next(a["local"] for a in link.get("addr_info", []) if a.get("family") == "inet")


def test_overlay_container_gets_egress_and_published_ports_via_gwbridge(one_host):
    cl = one_host
    h1, outside = cl.hosts
    h1.cove("network", "create", "-d", "overlay", "--subnet", "10.236.0.0/24", "gwov")
    web = h1.run("--network", "gwov", "--name", "gw-web", "-p", "8080:80",
                 cmd=("httpd", "-f", "-p", "80", "-h", "/etc"))
    other = h1.run("--network", "gwov", "--name", "gw-other")
    try:
        # the network: local bridge, ICC off, masquerade on
        rows = [r.split()[1:] for r in h1.cove("network", "ls").stdout.splitlines()[1:]]
        assert ["cove_gwbridge", "bridge", "local"] in rows, rows
        gw = json.loads(h1.cove("network", "inspect", "cove_gwbridge").stdout)[0]
        opts = gw["Options"]
        assert opts["com.docker.network.bridge.enable_icc"] == "false"
        assert opts["com.docker.network.bridge.enable_ip_masquerade"] == "true"
        assert web in gw["Containers"] and other in gw["Containers"]
        # hidden from the container's own networks, as Docker hides docker_gwbridge
        assert list(json.loads(h1.inspect(web, "{{json .NetworkSettings.Networks}}"))) == [
            "gwov"]
        subnet = gw["IPAM"]["Config"][0]["Subnet"]
        gateway = gw["IPAM"]["Config"][0]["Gateway"]

        # the container: eth0 on the overlay (no default route), eth1 on cove_gwbridge
        links = _links(h1, web)
        assert _v4(links["eth0"]) == h1.ip_of(web, "gwov")
        assert links["eth0"]["mtu"] == 1450
        gw_ip = _v4(links["eth1"])
        assert gw_ip != _v4(links["eth0"])
        routes = json.loads(h1.in_container(web, "ip", "-j", "route").stdout)
        default = [r for r in routes if r["dst"] == "default"]
        assert default == [default[0]] and default[0]["dev"] == "eth1"
        assert default[0]["gateway"] == gateway
        # the NAT rule for the gateway bridge's subnet
        table = h1.sh("nft", "list", "table", "inet", "cove").stdout
        assert any(subnet in line and "masquerade" in line and "cove_gwbridge" in line
                   for line in table.splitlines()), table

        # egress: a server on another fabric host sees the host's address (NAT)
        srv = subprocess.Popen(["nsenter", f"--net={outside.netns}", sys.executable, "-c",
                                SERVER, outside.ip, "7001"], stdout=subprocess.PIPE, text=True)
        try:
            assert srv.stdout.readline().strip() == "ready"
            r = h1.exec(web, "sh", "-c", f"echo x | nc -w 3 {outside.ip} 7001")
            assert "hello" in r.stdout, r
            assert srv.stdout.readline().strip() == h1.ip       # masqueraded
        finally:
            srv.kill()
            srv.wait()

        # published port: from the host's own namespace and from the fabric
        def fetch(where, addr, port="8080") -> str:
            r = subprocess.run(["nsenter", f"--net={where}", sys.executable, "-c", FETCH,
                                addr, port], capture_output=True, text=True, timeout=10)
            return r.stdout
        hostname = h1.exec(web, "cat", "/etc/hostname").stdout.strip()
        assert wait_for(lambda: hostname in fetch(h1.netns, h1.ip), 5, what="port from host")
        assert hostname in fetch(outside.netns, h1.ip)
        assert hostname in fetch(h1.netns, gw_ip, "80")     # the gateway bridge address
        # ICC off on the gateway bridge; the overlay still connects them
        other_gw = _v4(_links(h1, other)["eth1"])
        assert h1.exec(web, "ping", "-c1", "-W1", other_gw).returncode != 0
        assert h1.exec(web, "ping", "-c1", "-W2", h1.ip_of(other, "gwov")).returncode == 0
        # names resolve to overlay addresses, never the gateway bridge's
        from tests.e2e.dnsclient import one
        ans = one(h1.container_netns(web), "gw-other")
        assert [v for t, v in ans["answers"] if t == 1] == [h1.ip_of(other, "gwov")]
    finally:
        h1.cove("rm", "-f", web, other, check=False)
    # the gateway endpoints are released with the containers
    time.sleep(0.1)
    gw = json.loads(h1.cove("network", "inspect", "cove_gwbridge").stdout)[0]
    assert not gw["Containers"]
    h1.cove("network", "rm", "gwov")
