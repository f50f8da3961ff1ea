"""NetworkController on the real kernel, its "host" side in a throwaway netns."""

import json
import os
import statistics
import subprocess
import time

import pytest

from cove.errors import Conflict, Forbidden, InvalidParameter, KernelError, NotFound
from cove.kernel import netns, nft, sysctl
from cove.kernel.netlink import Netlink
from cove.model import new_id
from cove.network.controller import NetworkController
from cove.store.sqlite import Store

pytestmark = [pytest.mark.privileged,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


@pytest.fixture
def net_ctl_factory(tmp_path):
    """Build controllers with unique bridge/table names over a temp store and exec root."""
    made = []
    store = Store(tmp_path / "cove.db")
    exec_root = str(tmp_path / "exec")
    suffix = os.urandom(3).hex()

    def make(**kw):
        c = NetworkController(store, exec_root, default_bridge="covt" + suffix,
                              nft_table="cove_t" + suffix, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
    netns_dir = os.path.join(exec_root, "netns")
    for name in netns.list_netns(netns_dir):
        netns.delete_netns(os.path.join(netns_dir, name))
    store.close()


def _ip_json(*args, netns_path=None):
    cmd = ["ip", "-j", *args]
    if netns_path:
        cmd = ["nsenter", f"--net={netns_path}", *cmd]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def _ping(netns_path, ip, tries=3):
    """True once one echo is answered (a fresh bridge may drop the first under load)."""
    for _ in range(tries):
        r = subprocess.run(["nsenter", f"--net={netns_path}", "busybox", "ping", "-c1", "-W1",
                            ip], capture_output=True, text=True)
        if r.returncode == 0:
            return True
    return False


def _mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _wait_gone(nl, name, timeout=3.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if nl.link(name) is None:
            return True
        time.sleep(0.02)
    return False


def test_start_creates_predefined_networks_bridge_and_nft(net_in_fresh_netns, net_ctl_factory):
    def body():
        c = net_ctl_factory()
        c.start(set())
        names = sorted(n.name for n in c.networks())
        assert names == ["bridge", "host", "none"]
        br = c.network("bridge")
        assert (br.subnet, br.gateway, br.driver) == ("172.17.0.0/16", "172.17.0.1", "bridge")
        assert c.network(br.id[:10]).id == br.id
        assert c.network("none").driver == "null"
        with pytest.raises(NotFound, match="network nosuch not found"):
            c.network("nosuch")
        link = _ip_json("addr", "show", "dev", br.bridge)[0]
        assert "UP" in link["flags"]
        assert ("172.17.0.1", 16) in [(a["local"], a["prefixlen"]) for a in link["addr_info"]]
        assert sysctl.read("net.ipv4.ip_forward") == "1"
        text = nft.list_table("inet", c.nft_table)
        assert f'ip saddr 172.17.0.0/16 oifname != "{br.bridge}" masquerade' in text
        assert f'iifname "{br.bridge}" accept' in text
        # a second start keeps the chosen subnet and the network ids
        c2 = net_ctl_factory()
        c2.start(set())
        assert [n.id for n in c2.networks()] == [n.id for n in c.networks()]

    net_in_fresh_netns(body)


def test_subnet_avoids_host_networks_and_bip_overrides(net_in_fresh_netns, tmp_path):
    def body():
        nl = Netlink()
        try:
            # a "host" network on 172.17/16 (veth pair: no dummy interfaces here)
            subprocess.run(["ip", "link", "add", "covh0", "type", "veth", "peer", "covh1"],
                           check=True)
            subprocess.run(["ip", "addr", "add", "172.17.3.4/24", "dev", "covh0"], check=True)
            subprocess.run(["ip", "link", "set", "covh0", "up"], check=True)
            s1 = Store(tmp_path / "a.db")
            c = NetworkController(s1, str(tmp_path / "ea"), default_bridge="covta",
                                  nft_table="cove_ta")
            c.start(set())
            assert c.network("bridge").subnet == "172.18.0.0/16"
            c.close()
            s2 = Store(tmp_path / "b.db")
            c = NetworkController(s2, str(tmp_path / "eb"), bip="10.77.0.254/24",
                                  default_bridge="covtb", nft_table="cove_tb")
            c.start(set())
            br = c.network("bridge")
            assert (br.subnet, br.gateway) == ("10.77.0.0/24", "10.77.0.254")
            ep = c.create_endpoints("c" * 64, "bridge")[0]
            assert ep.ip == "10.77.0.1"
            c.close()
            s1.close()
            s2.close()
        finally:
            nl.close()

    net_in_fresh_netns(body)
    with pytest.raises(InvalidParameter):
        NetworkController(Store(tmp_path / "c.db"), str(tmp_path / "ec"), bip="bogus")


def test_two_sandboxes_talk_and_teardown_leaves_nothing(net_in_fresh_netns, net_ctl_factory):
    def body():
        c = net_ctl_factory()
        c.start(set())
        br = c.network("bridge")
        c1, c2 = new_id(), new_id()
        e1 = c.create_endpoints(c1, "bridge")[0]
        e2 = c.create_endpoints(c2, "default")[0]
        assert (e1.ip, e2.ip) == ("172.17.0.2", "172.17.0.3")
        assert e1.mac == "02:42:ac:11:00:02" and e1.gateway == "172.17.0.1"
        assert e1.host_ifname.startswith("veth") and len(e1.host_ifname) == 11
        assert [e.id for e in c.network_endpoints(br.id)] == [e1.id, e2.id]
        s1 = c.create_sandbox(c1, "bridge")
        s2 = c.create_sandbox(c2, "bridge")
        assert s1.netns_path == os.path.join(c.netns_dir, s1.id[:12])
        eth0 = _ip_json("addr", "show", "dev", "eth0", netns_path=s1.netns_path)[0]
        assert eth0["address"] == "02:42:ac:11:00:02"
        assert [(a["local"], a["prefixlen"]) for a in eth0["addr_info"]
                if a["family"] == "inet"] == [("172.17.0.2", 16)]
        route = _ip_json("route", "show", "default", netns_path=s1.netns_path)[0]
        assert (route["gateway"], route["dev"]) == ("172.17.0.1", "eth0")
        assert _ping(s1.netns_path, "172.17.0.3")
        assert _ping(s2.netns_path, "172.17.0.2")
        assert _ping(s1.netns_path, "172.17.0.1")
        host_ends = [e.host_ifname for e in c.endpoints(c1) + c.endpoints(c2)]
        nl = c.nl
        assert all(nl.link(v).master == br.bridge for v in host_ends)
        c.delete_sandbox(c1, s1.id)
        c.delete_sandbox(c2, s2.id)
        for s in (s1, s2):
            assert not os.path.exists(s.netns_path)
            assert not _mounted(s.netns_path)
        assert all(_wait_gone(nl, v) for v in host_ends)
        c.delete_sandbox(c1, s1.id)                 # gone is fine
        # endpoints (and their leases) survive stop; rm frees them
        assert c.endpoints(c1)
        c.delete_endpoints(c1)
        c.delete_endpoints(c1)
        assert c.endpoints(c1) == []
        e3 = c.create_endpoints(new_id(), "bridge")[0]
        assert e3.ip == "172.17.0.2"                # lowest free again

    net_in_fresh_netns(body)


def test_host_and_none_modes(net_in_fresh_netns, net_ctl_factory):
    def body():
        c = net_ctl_factory()
        c.start(set())
        cid = new_id()
        assert c.create_endpoints(cid, "host") == []
        assert c.create_endpoints(cid, "none") == []
        assert c.create_sandbox(cid, "host").netns_path is None
        sb = c.create_sandbox(cid, "none")
        links = _ip_json("link", "show", netns_path=sb.netns_path)
        assert [lk["ifname"] for lk in links] == ["lo"] and "UP" in links[0]["flags"]
        c.delete_sandbox(cid, sb.id)
        assert not os.path.exists(sb.netns_path)
        with pytest.raises(InvalidParameter):
            c.create_endpoints(cid, "")
        with pytest.raises(NotFound):
            c.create_endpoints(cid, "nosuchnet")

    net_in_fresh_netns(body)


def test_create_sandbox_rolls_back_when_bridge_is_missing(net_in_fresh_netns, net_ctl_factory):
    def body():
        c = net_ctl_factory()
        c.start(set())
        br = c.network("bridge")
        cid = new_id()
        c.create_endpoints(cid, "bridge")
        c.nl.delete_link(br.bridge)
        with pytest.raises(KernelError, match=br.bridge):
            c.create_sandbox(cid, "bridge")
        assert netns.list_netns(c.netns_dir) == []
        assert c.nl.links(prefix="veth") == []
        assert c.store.list("sandbox") == []
        # the lease is kept (the container still exists) and start() repairs the bridge
        assert len(c.endpoints(cid)) == 1
        c.start(set())
        sb = c.create_sandbox(cid, "bridge")
        assert _ping(sb.netns_path, br.gateway)
        c.delete_sandbox(cid, sb.id)

    net_in_fresh_netns(body)


def test_create_sandbox_rolls_back_when_configuration_fails(net_in_fresh_netns, net_ctl_factory):
    def body():
        c = net_ctl_factory()
        c.start(set())
        cid = new_id()
        ep = c.create_endpoints(cid, "bridge")[0]
        # corrupt the persisted gateway: the default route cannot be added
        doc = c.store.get("endpoint", ep.id)
        doc["gateway"] = "10.1.1.1"
        c.store.put("endpoint", ep.id, doc)
        with pytest.raises(KernelError, match="default route"):
            c.create_sandbox(cid, "bridge")
        assert netns.list_netns(c.netns_dir) == []
        assert c.nl.links(prefix="veth") == []

    net_in_fresh_netns(body)


def test_create_sandbox_fails_clean_when_netns_dir_is_missing(net_in_fresh_netns,
                                                              net_ctl_factory):
    def body():
        c = net_ctl_factory()
        c.start(set())
        cid = new_id()
        c.create_endpoints(cid, "bridge")
        os.rmdir(c.netns_dir)
        with pytest.raises(KernelError):
            c.create_sandbox(cid, "bridge")
        assert not os.path.exists(c.netns_dir)
        assert c.nl.links(prefix="veth") == []

    net_in_fresh_netns(body)


def test_start_removes_orphans_and_recreates_bridge(net_in_fresh_netns, net_ctl_factory):
    def body():
        c = net_ctl_factory()
        c.start(set())
        br = c.network("bridge")
        keep_c, lost_c = new_id(), new_id()
        for cid in (keep_c, lost_c):
            c.create_endpoints(cid, "bridge")
        keep = c.create_sandbox(keep_c, "bridge")
        lost = c.create_sandbox(lost_c, "bridge")
        lost_veth = c.endpoints(lost_c)[0].host_ifname
        keep_veth = c.endpoints(keep_c)[0].host_ifname
        # an orphan veth whose netns is still held elsewhere (a stray bind mount)
        stray = os.path.join(os.path.dirname(c.netns_dir), "stray")
        open(stray, "w").close()
        subprocess.run(["mount", "--bind", lost.netns_path, stray], check=True)
        try:
            _restart_checks(net_ctl_factory, br, keep, keep_c, lost.id, lost_c, lost_veth,
                            keep_veth)
        finally:
            subprocess.run(["umount", stray], check=False)
            os.unlink(stray)

    net_in_fresh_netns(body)


def _restart_checks(net_ctl_factory, br, keep, keep_c, lost_id, lost_c, lost_veth, keep_veth):
    # phase 1: an unrecorded veth on the cove bridge (a crash between plumbing and
    # commit) goes; a foreign veth (not on a cove bridge, not recorded) stays
    unrec = "veth" + os.urandom(4).hex()[:7]
    subprocess.run(["ip", "link", "add", unrec, "master", br.bridge, "type", "veth",
                    "peer", "name", "covpeer" + os.urandom(2).hex()], check=True)
    foreign = "veth" + os.urandom(4).hex()[:7]
    subprocess.run(["ip", "link", "add", foreign, "type", "veth", "peer", "name",
                    "covpeer" + os.urandom(2).hex()], check=True)
    c2 = net_ctl_factory()                     # kill -9 and restart, both sandboxes kept
    c2.start({keep.id, lost_id})
    assert c2.nl.link(unrec) is None
    assert c2.nl.link(foreign) is not None
    assert c2.nl.link(lost_veth) is not None
    c2.nl.delete_link(foreign)
    # phase 2: the bridge was deleted while the daemon was down; "lost" is not kept
    c2.nl.delete_link(br.bridge)
    assert c2.nl.link(keep_veth).master == ""
    c3 = net_ctl_factory()
    c3.start({keep.id})
    assert netns.list_netns(c3.netns_dir) == [keep.id[:12]]
    assert c3.nl.link(lost_veth) is None       # recorded, masterless, netns still alive
    assert c3.nl.link(br.bridge).up
    assert c3.store.list("sandbox") == [
        {"id": keep.id, "container_id": keep_c, "netns_path": keep.netns_path}]
    # the kept sandbox's veth is back on the re-created bridge and works
    assert c3.nl.link(keep_veth).master == br.bridge
    assert _ping(keep.netns_path, br.gateway)
    sb = c3.create_sandbox(lost_c, "bridge")
    assert _ping(sb.netns_path, br.gateway)
    assert _ping(sb.netns_path, c3.endpoints(keep_c)[0].ip)
    c3.delete_sandbox(lost_c, sb.id)
    c3.delete_sandbox(keep_c, keep.id)


def test_start_keeps_veths_of_kept_sandboxes(net_in_fresh_netns, net_ctl_factory):
    def body():
        c = net_ctl_factory()
        c.start(set())
        cid = new_id()
        c.create_endpoints(cid, "bridge")
        sb = c.create_sandbox(cid, "bridge")
        veth = c.endpoints(cid)[0].host_ifname
        c2 = net_ctl_factory()
        c2.start({sb.id})
        assert c2.nl.link(veth) is not None
        assert _ping(sb.netns_path, "172.17.0.1")
        c2.delete_sandbox(cid, sb.id)

    net_in_fresh_netns(body)


def test_sandbox_is_ready_fast(net_in_fresh_netns, net_ctl_factory):
    def body():
        c = net_ctl_factory()
        c.start(set())
        times, made = [], []
        for _ in range(20):
            cid = new_id()
            c.create_endpoints(cid, "bridge")
            t0 = time.perf_counter()
            sb = c.create_sandbox(cid, "bridge")
            times.append(time.perf_counter() - t0)
            made.append((cid, sb))
        t0 = time.perf_counter()
        for cid, sb in made:
            c.delete_sandbox(cid, sb.id)
        teardown = (time.perf_counter() - t0) / len(made)
        med = statistics.median(times) * 1000
        print(f"\ncreate_sandbox median {med:.2f} ms (min {min(times)*1000:.2f},"
              f" max {max(times)*1000:.2f}); delete_sandbox {teardown*1000:.2f} ms each")
        assert med < 10

    net_in_fresh_netns(body)


def test_user_network_create_isolate_and_remove(net_in_fresh_netns, net_ctl_factory):
    def body():
        c = net_ctl_factory()
        c.start(set())
        web = c.create_network("web" + os.urandom(2).hex())
        assert web.bridge == "br-" + web.id[:12]
        assert (web.subnet, web.gateway) == ("172.18.0.0/16", "172.18.0.1")
        with pytest.raises(Conflict, match="already exists"):
            c.create_network(web.name)
        with pytest.raises(InvalidParameter, match="Pool overlaps"):
            c.create_network("x", subnet="172.18.5.0/24")
        with pytest.raises(InvalidParameter, match="no matching subnet for gateway"):
            c.create_network("x", subnet="10.97.0.0/24", gateway="10.96.0.1")
        with pytest.raises(Forbidden):
            c.remove_network("bridge")
        text = nft.list_table("inet", c.nft_table)
        assert f'ip saddr 172.18.0.0/16 oifname != "{web.bridge}" masquerade' in text
        a, b, d = new_id(), new_id(), new_id()
        c.create_endpoints(a, web.name)
        c.create_endpoints(d, web.name)
        c.create_endpoints(b, "bridge")
        sa = c.create_sandbox(a, web.name)
        sd = c.create_sandbox(d, web.name)
        sb = c.create_sandbox(b, "bridge")
        assert _ping(sa.netns_path, "172.18.0.3")        # same network: reachable
        assert _ping(sa.netns_path, "172.18.0.1")
        assert not _ping(sa.netns_path, "172.17.0.2", tries=1)    # other network: isolated
        assert not _ping(sb.netns_path, "172.18.0.2", tries=1)
        with pytest.raises(Forbidden, match="has active endpoints"):
            c.remove_network(web.name)
        for cid, s in ((a, sa), (d, sd), (b, sb)):
            c.delete_sandbox(cid, s.id)
            c.delete_endpoints(cid)
        c.remove_network(web.id[:12])
        assert c.nl.link(web.bridge) is None
        assert web.subnet not in nft.list_table("inet", c.nft_table)
        with pytest.raises(NotFound):
            c.network(web.name)

    net_in_fresh_netns(body)


def test_user_network_rolls_back_when_bridge_cannot_be_made(net_in_fresh_netns,
                                                            net_ctl_factory):
    def body():
        c = net_ctl_factory()
        c.start(set())
        before = [n.id for n in c.networks()]
        with pytest.raises(InvalidParameter, match="invalid bridge name"):
            c.create_network("bad", options={"com.docker.network.bridge.name": "x" * 20})
        # a bridge name taken by a link that is no bridge makes the driver fail
        taken = "covv" + os.urandom(3).hex()
        subprocess.run(["ip", "link", "add", taken, "type", "veth", "peer", "name",
                        taken + "p"], check=True)
        with pytest.raises(KernelError, match="has that name"):
            c.create_network("bad", subnet="10.98.0.0/24",
                             options={"com.docker.network.bridge.name": taken})
        assert c.nl.addresses(taken) == []
        assert c.nl.link(taken).kind == "veth"
        assert [n.id for n in c.networks()] == before
        assert "10.98.0.0/24" not in nft.list_table("inet", c.nft_table)

    net_in_fresh_netns(body)
