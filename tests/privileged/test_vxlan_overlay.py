"""VXLAN data plane between two "hosts" (namespaces on a fabric bridge), real kernel.

Everything lives in namespaces this test creates: a fabric netns with a bridge, two
host netns wired to it (underlay MTU 1400, so the overlay MTU must be 1350), one overlay
sandbox and one container netns per host. Nothing touches the root namespace.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from pyroute2 import IPRoute

from cove.kernel import netns, vxlan
from cove.kernel.netlink import IfaceConfig, configure_sandbox
from cove.kernel.syscalls import run_in_netns
from cove.network.ipam import mac_for_ip
from tests.cluster.topology import build_hosts, teardown
from tests.privileged.conftest import net_rand

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

UNDERLAY_MTU = 1400
VNI = 4096 + 77


def _ping(ns: str, ip: str, *extra: str, count: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run(["nsenter", f"--net={ns}", "ping", "-n", "-c", str(count), "-i",
                           "0.2", "-W", "1", *extra, ip], capture_output=True, text=True,
                          timeout=20)


@pytest.fixture
def two_hosts(net_netns_dir):
    if not shutil.which("ping"):
        pytest.skip("ping (iputils-ping) is not installed")
    ns = build_hosts(net_netns_dir, ["A", "B"], UNDERLAY_MTU)
    yield ns
    teardown(ns)


def _vxlan_or_skip(sandbox: str, host: str, local: str) -> int:
    try:
        return vxlan.create_vxlan_sandbox(sandbox, VNI, local, "eth0", host_netns=host)
    except Exception as exc:  # noqa: BLE001
        if "not supported" in str(exc).lower() or "unknown device" in str(exc).lower():
            pytest.skip(f"the kernel refuses VXLAN: {exc}")
        raise


def test_two_hosts_ping_over_vxlan_and_mtu_is_enforced(two_hosts):
    ns = two_hosts
    mtu_a = _vxlan_or_skip(ns["ovA"], ns["hA"], "192.0.2.1")
    mtu_b = _vxlan_or_skip(ns["ovB"], ns["hB"], "192.0.2.2")
    assert mtu_a == mtu_b == UNDERLAY_MTU - 50 == vxlan.underlay_mtu("eth0", ns["hA"]) - 50

    ips = {"A": "10.99.0.2", "B": "10.99.0.3"}
    vteps = {"A": "192.0.2.1", "B": "192.0.2.2"}
    for h in ("A", "B"):
        vxlan.attach_endpoint(ns[f"ov{h}"], f"veth{net_rand(7)}", ns[f"c{h}"], "eth0",
                              mtu_a, mac_for_ip(ips[h]))
        configure_sandbox(ns[f"c{h}"], [IfaceConfig("eth0", "eth0", ips[h], 24)])

    # the VXLAN device was created in the host netns and moved: it sits in the sandbox
    def sandbox_view() -> dict:
        with IPRoute() as ipr:
            vx = ipr.get_links(ipr.link_lookup(ifname="vxlan0")[0])[0]
            data = vx.get_attr("IFLA_LINKINFO").get_attr("IFLA_INFO_DATA")
            return {"vni": data.get_attr("IFLA_VXLAN_ID"),
                    "port": data.get_attr("IFLA_VXLAN_PORT"),
                    "learning": data.get_attr("IFLA_VXLAN_LEARNING"),
                    "proxy": data.get_attr("IFLA_VXLAN_PROXY"),
                    "mtu": vx.get_attr("IFLA_MTU"),
                    # its underlay link lives in another netns: created there, then moved
                    "moved": vx.get_attr("IFLA_LINK_NETNSID") is not None}

    assert run_in_netns(ns["ovA"], sandbox_view) == {
        "vni": VNI, "port": 4789, "learning": 0, "proxy": 1, "mtu": UNDERLAY_MTU - 50,
        "moved": True}

    # no peers programmed: nolearning + proxy means nothing crosses
    assert _ping(ns["cA"], ips["B"], count=1).returncode != 0

    peer_b = vxlan.PeerEntry(ips["B"], mac_for_ip(ips["B"]), vteps["B"])
    peer_a = vxlan.PeerEntry(ips["A"], mac_for_ip(ips["A"]), vteps["A"])
    vxlan.program_peers(ns["ovA"], add=[peer_b])
    vxlan.program_peers(ns["ovB"], add=[peer_a])
    vxlan.program_peers(ns["ovB"], add=[peer_a])           # replace: idempotent
    assert vxlan.peer_entries(ns["ovA"]) == {peer_b}

    r = _ping(ns["cA"], ips["B"])
    assert r.returncode == 0, r.stdout + r.stderr
    r = _ping(ns["cB"], ips["A"])
    assert r.returncode == 0, r.stdout + r.stderr

    # DF ping filling the overlay MTU passes; one byte more fails locally
    payload = mtu_a - 28
    r = _ping(ns["cA"], ips["B"], "-M", "do", "-s", str(payload))
    assert r.returncode == 0, r.stdout + r.stderr
    r = _ping(ns["cA"], ips["B"], "-M", "do", "-s", str(payload + 1), count=1)
    assert r.returncode != 0
    assert "message too long" in (r.stdout + r.stderr).lower()

    # fencing takes the overlay down; lifting it restores traffic
    vxlan.set_overlay_links(ns["ovA"], up=False)
    assert _ping(ns["cA"], ips["B"], count=1).returncode != 0
    vxlan.set_overlay_links(ns["ovA"], up=True)
    assert _ping(ns["cA"], ips["B"]).returncode == 0

    # removing the peer entries cuts the path again; removing twice is fine
    vxlan.program_peers(ns["ovA"], remove=[peer_b])
    vxlan.program_peers(ns["ovA"], remove=[peer_b])
    assert vxlan.peer_entries(ns["ovA"]) == set()
    assert _ping(ns["cA"], ips["B"], count=1).returncode != 0


def test_batch_of_peers_and_teardown(two_hosts):
    ns = two_hosts
    _vxlan_or_skip(ns["ovA"], ns["hA"], "192.0.2.1")
    peers = [vxlan.PeerEntry(f"10.98.{i // 250}.{i % 250 + 2}",
                             mac_for_ip(f"10.98.{i // 250}.{i % 250 + 2}"), "192.0.2.2")
             for i in range(300)]
    vxlan.program_peers(ns["ovA"], add=peers)
    assert vxlan.peer_entries(ns["ovA"]) == set(peers)
    vxlan.program_peers(ns["ovA"], remove=peers[:100])
    assert vxlan.peer_entries(ns["ovA"]) == set(peers[100:])
    # the same VNI can be created again right after a teardown (nothing leaked)
    vxlan.destroy_vxlan_sandbox(ns["ovA"])
    vxlan.destroy_vxlan_sandbox(ns["ovA"])
    assert _vxlan_or_skip(ns["ovA"], ns["hA"], "192.0.2.1") == UNDERLAY_MTU - 50


def test_overlay_driver_joins_two_hosts_and_cleans_up(two_hosts, tmp_path):
    from cove.network.drivers.overlay import VNI_OPTION, OverlayDriver
    from cove.network.model import Endpoint, Network, Sandbox

    ns = two_hosts
    net = Network(id=os.urandom(32).hex(), name="ov", driver="overlay", subnet="10.97.0.0/24",
                  gateway="10.97.0.1", options={VNI_OPTION: str(VNI + 1)})
    drivers, eps, sbs = {}, {}, {}
    for h, vtep, ip in (("A", "192.0.2.1", "10.97.0.2"), ("B", "192.0.2.2", "10.97.0.3")):
        d = tmp_path / f"netns{h}"
        d.mkdir()
        drivers[h] = OverlayDriver(str(d), vtep, "eth0", host_netns=ns[f"h{h}"])
        eps[h] = Endpoint(id=os.urandom(32).hex(), network_id=net.id, container_id="c" + h,
                          ifname="eth1", host_ifname=f"veth{net_rand(7)}", ip=ip,
                          prefixlen=24, mac=mac_for_ip(ip))
        sbs[h] = Sandbox(id=os.urandom(32).hex(), container_id="c" + h, netns_path=ns[f"c{h}"])
    try:
        for h in ("A", "B"):
            drivers[h].create_network(net)
            cfg = drivers[h].join(net, eps[h], sbs[h])
            configure_sandbox(ns[f"c{h}"], [cfg])
            assert netns.is_netns_mounted(drivers[h].sandbox_path(net.id))
        entry = {h: vxlan.PeerEntry(eps[h].ip, eps[h].mac, v)
                 for h, v in (("A", "192.0.2.1"), ("B", "192.0.2.2"))}
        drivers["A"].apply_peers(net.id, add=[entry["B"]], remove=[])
        # drift repair: B lost its entry for A; reconcile puts it back
        assert drivers["B"].reconcile(net.id, {entry["A"]}) == 1
        assert drivers["B"].reconcile(net.id, {entry["A"]}) == 0
        r = _ping(ns["cA"], eps["B"].ip)
        assert r.returncode == 0, r.stdout + r.stderr
        # the container side got the overlay MTU
        r = _ping(ns["cA"], eps["B"].ip, "-M", "do", "-s", str(UNDERLAY_MTU - 50 - 27))
        assert "message too long" in (r.stdout + r.stderr).lower()
        # fencing host A cuts the overlay
        drivers["A"].fence(True)
        assert _ping(ns["cA"], eps["B"].ip, count=1).returncode != 0
        drivers["A"].fence(False)
        assert _ping(ns["cA"], eps["B"].ip).returncode == 0
    finally:
        for h in ("A", "B"):
            drivers[h].leave(net, eps[h], sbs[h])
    for h in ("A", "B"):
        assert not os.path.exists(drivers[h].sandbox_path(net.id))
        drivers[h].leave(net, eps[h], sbs[h])          # again: gone is fine
        drivers[h].delete_network(net)

        def host_links() -> list[str]:
            with IPRoute() as ipr:
                return [m.get_attr("IFLA_IFNAME") for m in ipr.get_links()]
        assert sorted(run_in_netns(ns[f"h{h}"], host_links)) == ["eth0", "lo"]
