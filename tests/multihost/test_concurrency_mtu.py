"""Issue 7 acceptance 2 and 6 on three simulated hosts (underlay MTU 1400).

2. 3 hosts x 10 concurrent `run` on one overlay network -> 30 unique addresses, each the
   one its container holds, one etcd claim each; concurrent `network create` of one name
   on two hosts -> exactly one wins, the other gets Docker's 409.
6. The overlay MTU is the underlay's minus 50 (1350 here, so never a fixed 1450); a DF
   ping of exactly that size passes across hosts, one byte more fails locally with
   "message too long" instead of vanishing.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.multihost.harness import wait_for

pytestmark = pytest.mark.usefixtures("multihost_ok")

UNDERLAY_MTU = 1400


@pytest.fixture(scope="module")
def cl(multihost_ok, tmp_path_factory, busybox_tar):
    from tests.multihost.conftest import _cluster

    yield from _cluster(tmp_path_factory.mktemp("mhcm"), 3, busybox_tar, mtu=UNDERLAY_MTU)


def _netns_addrs(h, cid: str) -> dict[str, tuple[str, int]]:
    """{ifname: (first IPv4, mtu)} inside the container's netns."""
    out = json.loads(h.in_container(cid, "ip", "-j", "addr", check=True).stdout)
    return {i["ifname"]: (next((a["local"] for a in i.get("addr_info", [])
                                if a.get("family") == "inet"), ""), i["mtu"]) for i in out}


def test_concurrent_runs_get_unique_addresses(cl):
    h1 = cl.hosts[0]
    h1.cove("network", "create", "-d", "overlay", "--subnet", "10.231.0.0/24", "conc")
    net_id = h1.network_id("conc")
    cids: list = []
    try:
        barrier = threading.Barrier(30)

        def one(h):
            barrier.wait(timeout=60)
            return h, h.run("--network", "conc", check=False)

        with ThreadPoolExecutor(30) as ex:
            started = list(ex.map(one, [h for h in cl.hosts for _ in range(10)]))
        cids = [(h, cid) for h, cid in started if cid]
        assert len(cids) == 30, [h.daemon.log.read_text()[-2000:] for h in cl.hosts]
        ips = []
        for h, cid in cids:
            ip = h.ip_of(cid, "conc")
            assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.231.0.0/24")
            assert _netns_addrs(h, cid)["eth0"][0] == ip      # what the kernel holds
            ips.append(ip)
        assert len(set(ips)) == 30, sorted(ips)
        # one claim per address in etcd
        kvs, _ = cl.etcd.client().range(f"/cove/v1/ipam/{net_id}/", prefix=True)
        claimed = {kv.key.rsplit("/", 1)[1] for kv in kvs}
        assert set(ips) <= claimed
    finally:
        for h in cl.hosts:
            ids = [c for hh, c in cids if hh is h]
            if ids:
                h.cove("rm", "-f", *ids, check=False)
                h.containers.difference_update(ids)
        h1.cove("network", "rm", "conc", check=False)


def test_concurrent_create_of_one_name_exactly_one_wins(cl):
    h1, h2 = cl.hosts[0], cl.hosts[1]
    names = [f"race{i}" for i in range(3)]
    try:
        for name in names:
            barrier = threading.Barrier(2)

            def create(h, name=name, barrier=barrier):
                barrier.wait(timeout=30)
                return h.api("POST", "/networks/create", {"Name": name, "Driver": "overlay"})

            with ThreadPoolExecutor(2) as ex:
                res = list(ex.map(create, [h1, h2]))
            codes = sorted(st for st, _ in res)
            assert codes == [201, 409], res
            loser = next(body for st, body in res if st == 409)
            assert f"network with name {name} already exists" in loser["message"]
            winner = next(body for st, body in res if st == 201)
            # both hosts see the one global network
            for h in (h1, h2, cl.hosts[2]):
                assert wait_for(lambda h=h, name=name, wid=winner["Id"]:
                                h.network_id(name, check=False) == wid, 5,
                                what=f"{name} on host {h.n}")
                assert h.cove("network", "inspect", "--format", "{{.Scope}}",
                              name).stdout.strip() == "global"
    finally:
        for name in names:
            h1.cove("network", "rm", name, check=False)
    assert not any(n in h2.cove("network", "ls").stdout for n in names)


def test_df_ping_at_overlay_mtu_passes_one_more_byte_fails_locally(cl):
    h1, h3 = cl.hosts[0], cl.hosts[2]
    h1.cove("network", "create", "-d", "overlay", "--subnet", "10.232.0.0/24", "mtu")
    a = b = ""
    try:
        a = h1.run("--network", "mtu", "--name", "mtu-a")
        b = h3.run("--network", "mtu", "--name", "mtu-b")
        mtu = UNDERLAY_MTU - 50
        ip_b = h3.ip_of(b, "mtu")
        assert _netns_addrs(h1, a)["eth0"][1] == mtu
        assert _netns_addrs(h3, b)["eth0"][1] == mtu
        # wait for the peers to be programmed, then DF pings of MTU-28 and MTU-27 bytes
        wait_for(lambda: h1.in_container(a, "ping", "-c1", "-W1", ip_b).returncode == 0,
                 10, what="cross-host ping")
        ok = h1.in_container(a, "ping", "-M", "do", "-s", str(mtu - 28), "-c", "2", "-W", "2",
                             ip_b)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        big = h1.in_container(a, "ping", "-M", "do", "-s", str(mtu - 27), "-c", "1", "-W", "2",
                              ip_b)
        assert big.returncode != 0
        assert "message too long" in (big.stdout + big.stderr).lower(), big
    finally:
        for h, c in ((h1, a), (h3, b)):
            if c:
                h.cove("rm", "-f", c, check=False)
                h.containers.discard(c)
        h1.cove("network", "rm", "mtu", check=False)
