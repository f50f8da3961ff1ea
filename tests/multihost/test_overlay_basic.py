"""Issue 7 acceptance 1 (engineer 7a's wiring) on three simulated hosts.

Three hosts, one overlay network: containers on host 1 and host 3 reach each other by IP
and by name/alias (ping and TCP), through static peer entries programmed from etcd; a
container on another overlay network cannot reach them. Also: the network is global
(every host lists it, Scope "global"), `cove node ls` and /info show the cluster, `network
rm` is refused from any host while an endpoint exists anywhere, and a coved restart with
running containers keeps its lease (peers see no change).
"""

from __future__ import annotations

import pytest

from tests.multihost.harness import wait_for

pytestmark = pytest.mark.usefixtures("multihost_ok")


def test_three_hosts_reach_each_other_by_ip_and_name_and_other_overlays_are_isolated(
        cluster3):
    h1, h2, h3 = cluster3.hosts
    h2.cove("network", "create", "-d", "overlay", "--subnet", "10.77.0.0/24", "web")
    h1.cove("network", "create", "-d", "overlay", "other")
    nid = h1.network_id("web")
    # global: every host sees it (from the watch), with Scope global
    for h in (h1, h2, h3):
        wait_for(lambda h=h: h.network_id("web", check=False) == nid, 5, what="network seen")
        assert h.inspect("web", "{{.Scope}} {{.Driver}}") == "global overlay"
        assert "global" in next(line for line in h.cove("network", "ls").stdout.splitlines()
                                if " web " in line)
    c3 = h3.run("--network", "web", "--name", "web3", "--network-alias", "www",
                cmd=("httpd", "-f", "-p", "8080", "-h", "/etc"))
    c1 = h1.run("--network", "web", "--name", "web1")
    x2 = h2.run("--network", "other", "--name", "intruder")
    ip1, ip3 = h1.ip_of(c1, "web"), h3.ip_of(c3, "web")
    assert ip1 != ip3 and ip1.startswith("10.77.0.") and ip3.startswith("10.77.0.")
    # each side programmed the other as a static peer behind its VTEP
    wait_for(lambda: {(p.ip, p.vtep) for p in h1.peers(nid)} >= {(ip3, h3.ip)}, 5,
             what="host 1 learns host 3's endpoint")
    wait_for(lambda: {(p.ip, p.vtep) for p in h3.peers(nid)} >= {(ip1, h1.ip)}, 5,
             what="host 3 learns host 1's endpoint")
    # by IP and by name/alias, both ways (ping), and TCP by alias
    assert h1.exec(c1, "ping", "-c", "1", "-W", "2", ip3).returncode == 0
    assert h3.exec(c3, "ping", "-c", "1", "-W", "2", ip1).returncode == 0
    r = h1.exec(c1, "ping", "-c", "1", "-W", "2", "web3")
    assert r.returncode == 0 and ip3 in r.stdout, r.stdout + r.stderr
    r = h3.exec(c3, "ping", "-c", "1", "-W", "2", "web1")
    assert r.returncode == 0 and ip1 in r.stdout, r.stdout + r.stderr
    r = h1.exec(c1, "nslookup", "www")               # the alias, from the peer table
    assert r.returncode == 0 and ip3 in r.stdout, r.stdout + r.stderr
    # TCP
    r = h1.exec(c1, "timeout", "3", "wget", "-qO-", f"http://{ip3}:8080/hostname")
    assert r.returncode == 0 and r.stdout.strip() == c3[:12], r.stdout + r.stderr
    # the container on the other overlay reaches neither, by IP or by name
    assert h2.exec(x2, "ping", "-c", "1", "-W", "1", ip3).returncode != 0
    assert h2.exec(x2, "ping", "-c", "1", "-W", "1", ip1).returncode != 0
    assert h2.exec(x2, "timeout", "2", "wget", "-qO-",
                   f"http://{ip3}:8080/hostname").returncode != 0
    assert h2.exec(x2, "nslookup", "web3").returncode != 0
    # the network is in use on host 3: no host may remove it
    r = h2.cove("network", "rm", "web", check=False)
    assert r.returncode != 0 and "has active endpoints" in r.stderr, r.stderr
    # node ls and /info
    out = h1.cove("node", "ls").stdout
    for h in (h1, h2, h3):
        assert h.ip in out
    assert out.count("ready") == 3, out
    rows = [[t for t in line.split() if t != "*"] for line in out.splitlines()[1:]]
    assert sorted(r[1] for r in rows) == ["h1", "h2", "h3"], out     # distinct NAMEs
    assert {r[1]: r[2] for r in rows} == {f"h{h.n}": h.ip for h in (h1, h2, h3)}, out
    # coved read the neighbour-table limit at start (in its netns too) and logged it
    assert "net.ipv4.neigh.default.gc_thresh3 is " in h1.daemon.log.read_text()
    st, info = h1.api("GET", "/info")
    assert st == 200 and info["ClusterStore"].startswith("etcd://")
    assert info["ClusterAdvertise"] == h1.ip
    assert {n["Address"] for n in info["CoveCluster"]["Nodes"]} == {h.ip for h in (h1, h2, h3)}
    h1.rm(c1)
    h3.rm(c3)
    h2.rm(x2)
    wait_for(lambda: not h1.peers(nid) and h1.cove("network", "rm", "web",
                                                     check=False).returncode == 0, 5,
             what="network rm once no endpoint is left")
    wait_for(lambda: h3.network_id("web", check=False) == "", 5, what="rm seen on host 3")
    h2.cove("network", "rm", "other")


def test_coved_restart_keeps_the_lease_and_the_peers_entries(cluster3):
    h1, _, h3 = cluster3.hosts
    h1.terminate()                    # a TTL a restart fits in (the module's is 2 s)
    h1.start_coved(ttl=10, grace=20, import_busybox=False)
    h1.cove("network", "create", "-d", "overlay", "keep")
    nid = h1.network_id("keep")
    c1 = h1.run("--network", "keep", "--name", "k1")
    c3 = h3.run("--network", "keep", "--name", "k3")
    ip1 = h1.ip_of(c1, "keep")
    wait_for(lambda: any(p.ip == ip1 for p in h3.peers(nid)), 5, what="peer programmed")
    node_id = h1.api("GET", "/info")[1]["CoveCluster"]["NodeID"]
    h1.terminate()                              # SIGTERM: containers keep running
    assert any(p.ip == ip1 for p in h3.peers(nid))
    h1.start_coved(ttl=10, grace=20, import_busybox=False)
    st, info = h1.api("GET", "/info")
    assert info["CoveCluster"]["NodeID"] == node_id
    wait_for(lambda: h1.api("GET", "/info")[1]["CoveCluster"]["State"] == "ready", 5,
             what="ready again")
    agent_log = [x for x in h1.daemon.log.read_text().splitlines() if "cove.cluster" in x]
    assert any("kept lease" in x for x in agent_log), agent_log[-12:]
    assert any(p.ip == ip1 for p in h3.peers(nid))
    assert h3.exec(c3, "ping", "-c", "1", "-W", "2", "k1").returncode == 0
    h1.rm(c1)
    h3.rm(c3)
    h3.cove("network", "rm", "keep")


def test_connect_and_disconnect_a_running_container_to_an_overlay(cluster3):
    h1, _, h3 = cluster3.hosts
    h3.cove("network", "create", "-d", "overlay", "late")
    nid = h3.network_id("late")
    wait_for(lambda: h1.network_id("late", check=False) == nid, 5, what="network seen")
    c3 = h3.run("--network", "late", "--name", "l3")
    c1 = h1.run("--name", "l1")                      # on the default bridge
    h1.cove("network", "connect", "--alias", "latecomer", "late", c1)
    ip1 = h1.ip_of(c1, "late")
    wait_for(lambda: any(p.ip == ip1 for p in h3.peers(nid)), 5, what="connect published")
    r = h3.exec(c3, "ping", "-c", "1", "-W", "2", "latecomer")
    assert r.returncode == 0 and ip1 in r.stdout, r.stdout + r.stderr
    claims = cluster3.etcd.client().range(f"/cove/v1/ipam/{nid}/", prefix=True)[0]
    assert any(kv.key.endswith("/" + ip1) for kv in claims)
    h1.cove("network", "disconnect", "late", c1)
    wait_for(lambda: not any(p.ip == ip1 for p in h3.peers(nid)), 5, what="withdrawn")
    claims = cluster3.etcd.client().range(f"/cove/v1/ipam/{nid}/", prefix=True)[0]
    assert not any(kv.key.endswith("/" + ip1) for kv in claims)     # released
    assert h3.exec(c3, "ping", "-c", "1", "-W", "1", ip1).returncode != 0
    h1.rm(c1)
    h3.rm(c3)
    h1.cove("network", "rm", "late")


def test_coved_starts_without_etcd_and_joins_when_it_is_back(cluster3):
    h1, h2, _ = cluster3.hosts
    h1.terminate()
    with cluster3.etcd.stopped():
        h1.start_coved(import_busybox=False)         # serves without etcd
        st, info = h1.api("GET", "/info")
        assert st == 200 and info["CoveCluster"]["State"] in ("unavailable", "connecting")
        r = h1.cove("network", "create", "-d", "overlay", "nostore", check=False)
        assert r.returncode != 0 and "cluster store unavailable" in r.stderr, r.stderr
        c = h1.run("--name", "plain")                # bridge networks are unaffected
        assert h1.inspect(c, "{{.State.Running}}") == "true"
        h1.rm(c)
    wait_for(lambda: h1.api("GET", "/info")[1]["CoveCluster"]["State"] == "ready", 10,
             what="registered once etcd is back")
    h1.cove("network", "create", "-d", "overlay", "nostore")
    wait_for(lambda: h2.network_id("nostore", check=False) != "", 10, what="seen by host 2")
    h2.cove("network", "rm", "nostore")
