"""The bridge driver and the netlink seam on real kernel objects (in a throwaway netns)."""

import json
import os
import subprocess

import pytest

from cove.errors import KernelError
from cove.kernel import netns
from cove.kernel.netlink import Netlink, configure_sandbox
from cove.network.drivers.bridge import BridgeDriver
from cove.network.model import Endpoint, Network, Sandbox

pytestmark = [pytest.mark.privileged,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def _ip_json(*args: str, netns_path: str | None = None):
    cmd = ["ip", "-j", *args]
    if netns_path:
        cmd = ["nsenter", f"--net={netns_path}", *cmd]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def _net(br: str) -> Network:
    return Network(id="f" * 64, name="t", driver="bridge", bridge=br, subnet="10.123.0.0/24",
                   gateway="10.123.0.1", mtu=1400)


def test_create_network_is_idempotent_and_delete_is_too(net_in_fresh_netns):
    br = "covt" + os.urandom(3).hex()

    def body():
        nl = Netlink()
        try:
            d = BridgeDriver(nl)
            d.create_network(_net(br))
            d.create_network(_net(br))           # twice: no error, one address
            link = _ip_json("addr", "show", "dev", br)[0]
            assert "UP" in link["flags"]
            assert link["mtu"] == 1400
            addrs = [(a["local"], a["prefixlen"]) for a in link["addr_info"]
                     if a["family"] == "inet"]
            assert addrs == [("10.123.0.1", 24)]
            assert nl.link(br).kind == "bridge"
            assert "10.123.0.0/24" in nl.host_networks()
            assert "10.123.0.0/24" not in nl.host_networks(exclude_links={br})
            d.delete_network(_net(br))
            assert nl.link(br) is None
            d.delete_network(_net(br))           # gone is fine
        finally:
            nl.close()

    net_in_fresh_netns(body)


def test_join_and_leave(net_in_fresh_netns, net_netns_dir):
    br = "covt" + os.urandom(3).hex()
    veth = "veth" + os.urandom(4).hex()[:7]
    path = os.path.join(net_netns_dir, "covsb" + os.urandom(3).hex())

    def body():
        nl = Netlink()
        try:
            d = BridgeDriver(nl)
            net = _net(br)
            d.create_network(net)
            netns.create_netns(path)
            ep = Endpoint(id="e" * 64, network_id=net.id, container_id="c" * 64,
                          host_ifname=veth, ip="10.123.0.2", prefixlen=24,
                          mac="02:42:0a:7b:00:02", gateway="10.123.0.1")
            sb = Sandbox(id="s" * 64, container_id="c" * 64, netns_path=path)
            cfg = d.join(net, ep, sb)
            host_end = nl.link(veth)
            assert host_end.master == br and host_end.up and host_end.mtu == 1400
            # hairpin is on for the bridge port
            info = _ip_json("-d", "link", "show", "dev", veth)[0]
            assert info["linkinfo"]["info_slave_data"]["hairpin"] is True
            configure_sandbox(path, [cfg])
            eth0 = _ip_json("addr", "show", "dev", "eth0", netns_path=path)[0]
            assert eth0["address"] == "02:42:0a:7b:00:02" and eth0["mtu"] == 1400
            assert "UP" in eth0["flags"]
            assert [(a["local"], a["prefixlen"]) for a in eth0["addr_info"]
                    if a["family"] == "inet"] == [("10.123.0.2", 24)]
            routes = _ip_json("route", "show", "default", netns_path=path)
            assert routes[0]["gateway"] == "10.123.0.1" and routes[0]["dev"] == "eth0"
            lo = _ip_json("link", "show", "dev", "lo", netns_path=path)[0]
            assert "UP" in lo["flags"]
            ping = subprocess.run(["nsenter", f"--net={path}", "busybox", "ping", "-c1",
                                   "-W1", "10.123.0.1"], capture_output=True, text=True)
            assert ping.returncode == 0, ping.stdout + ping.stderr
            d.leave(net, ep, sb)
            assert nl.link(veth) is None
            assert _ip_json("link", "show", netns_path=path)[0]["ifname"] == "lo"
            assert len(_ip_json("link", "show", netns_path=path)) == 1
            d.leave(net, ep, sb)                 # gone is fine
        finally:
            netns.delete_netns(path)
            nl.close()

    net_in_fresh_netns(body)


def test_join_missing_bridge_fails_and_leaks_nothing(net_in_fresh_netns, net_netns_dir):
    path = os.path.join(net_netns_dir, "covsb" + os.urandom(3).hex())
    veth = "veth" + os.urandom(4).hex()[:7]

    def body():
        nl = Netlink()
        try:
            netns.create_netns(path)
            with pytest.raises(KernelError, match="not found"):
                nl.create_veth_into_netns(veth, "covnobridge", path, "eth0")
            assert nl.link(veth) is None
            assert len(_ip_json("link", "show", netns_path=path)) == 1
        finally:
            netns.delete_netns(path)
            nl.close()

    net_in_fresh_netns(body)


def test_veth_name_clash_is_a_kernel_error_naming_it(net_in_fresh_netns, net_netns_dir):
    br = "covt" + os.urandom(3).hex()
    veth = "veth" + os.urandom(4).hex()[:7]
    p1 = os.path.join(net_netns_dir, "cova")
    p2 = os.path.join(net_netns_dir, "covb")

    def body():
        nl = Netlink()
        try:
            nl.ensure_bridge(br, "10.124.0.1", 24)
            netns.create_netns(p1)
            netns.create_netns(p2)
            nl.create_veth_into_netns(veth, br, p1, "eth0")
            with pytest.raises(KernelError, match=veth):
                nl.create_veth_into_netns(veth, br, p2, "eth0")
            assert len(_ip_json("link", "show", netns_path=p2)) == 1
            assert [lk.name for lk in nl.links(prefix="veth", master=br)] == [veth]
        finally:
            netns.delete_netns(p1)
            netns.delete_netns(p2)
            nl.close()

    net_in_fresh_netns(body)
