"""Benchmark: the overlay data plane and the etcd control plane (issue 7 groundwork).

Two simulated hosts (namespaces on a fabric bridge, tests/cluster/topology.py), one
VXLAN overlay between them (cove.kernel.vxlan), and a throwaway etcd on loopback.
Measures, in one run:
* ping RTT and iperf3 TCP throughput, underlay host A → B vs overlay container A → B;
* programming N static peers (neighbour + FDB) and removing them;
* etcd: sequential address claims/s, and lease-expiry convergence seen by a peer table;
* end to end, through real coveds on two hosts of tests/multihost/harness.py (etcd in
  its own netns): iperf3 TCP container A -> container B over an overlay network vs host
  A -> host B on the underlay (ratio, target >= 0.8); time from `cove run` on A to the
  container answering ping from a container on B; convergence (B's peers gone from A's
  overlay sandbox) after kill -9 of B's coved.

    .venv/bin/python bench/overlay.py [--peers 2000] [--seconds 3] [--only e2e|raw]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cove.cluster.ipam import GlobalIpam  # noqa: E402
from cove.cluster.keys import Keys  # noqa: E402
from cove.cluster.membership import Membership  # noqa: E402
from cove.cluster.peers import PeerTable  # noqa: E402
from cove.kernel import vxlan  # noqa: E402
from cove.kernel.netlink import IfaceConfig, configure_sandbox  # noqa: E402
from cove.network.ipam import mac_for_ip  # noqa: E402
from cove.store.etcd import EtcdClient  # noqa: E402
from tests.cluster.etcdserver import EtcdServer  # noqa: E402
from tests.cluster.topology import build_hosts, teardown  # noqa: E402


def ping_avg(ns: str, ip: str) -> float:
    out = subprocess.run(["nsenter", f"--net={ns}", "ping", "-q", "-n", "-c", "100", "-i",
                          "0.005", ip], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"= [\d.]+/([\d.]+)/", out).group(1))


def iperf(client_ns: str, server_ns: str, ip: str, seconds: int) -> float:
    srv = subprocess.Popen(["nsenter", f"--net={server_ns}", "iperf3", "-s", "-1", "-B", ip,
                            "-p", "15202"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        out = subprocess.run(["nsenter", f"--net={client_ns}", "iperf3", "-c", ip, "-p",
                              "15202", "-t", str(seconds), "-J"], capture_output=True,
                             text=True, check=True).stdout
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9
    finally:
        srv.wait(10)


def dataplane(args: argparse.Namespace, d: str) -> dict:
    ns = build_hosts(d, ["A", "B"])
    res: dict = {}
    try:
        ips = {"A": "10.99.0.2", "B": "10.99.0.3"}
        vteps = {"A": "192.0.2.1", "B": "192.0.2.2"}
        for h in ("A", "B"):
            mtu = vxlan.create_vxlan_sandbox(ns[f"ov{h}"], 4100, vteps[h], "eth0", ns[f"h{h}"])
            vxlan.attach_endpoint(ns[f"ov{h}"], f"vethb{h}", ns[f"c{h}"], "eth0", mtu,
                                  mac_for_ip(ips[h]))
            configure_sandbox(ns[f"c{h}"], [IfaceConfig("eth0", "eth0", ips[h], 24)])
        res["overlay_mtu"] = mtu
        vxlan.program_peers(ns["ovA"], add=[vxlan.PeerEntry(ips["B"], mac_for_ip(ips["B"]),
                                                            vteps["B"])])
        vxlan.program_peers(ns["ovB"], add=[vxlan.PeerEntry(ips["A"], mac_for_ip(ips["A"]),
                                                            vteps["A"])])
        res["ping_underlay_ms"] = ping_avg(ns["hA"], vteps["B"])
        res["ping_overlay_ms"] = ping_avg(ns["cA"], ips["B"])
        if shutil.which("iperf3"):
            under = iperf(ns["hA"], ns["hB"], vteps["B"], args.seconds)
            over = iperf(ns["cA"], ns["cB"], ips["B"], args.seconds)
            res.update(tcp_underlay_gbit=round(under, 2), tcp_overlay_gbit=round(over, 2),
                       tcp_ratio=round(over / under, 2))
        peers = [vxlan.PeerEntry(f"10.98.{i // 250}.{i % 250 + 2}",
                                 mac_for_ip(f"10.98.{i // 250}.{i % 250 + 2}"), "192.0.2.2")
                 for i in range(args.peers)]
        t0 = time.perf_counter()
        vxlan.program_peers(ns["ovA"], add=peers)
        res[f"program_{args.peers}_peers_s"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        vxlan.program_peers(ns["ovA"], remove=peers)
        res[f"remove_{args.peers}_peers_s"] = round(time.perf_counter() - t0, 3)
    finally:
        teardown(ns)
    return res


def control_plane(d: str) -> dict:
    srv = EtcdServer(f"{d}/etcd-data", "cove-bench")
    srv.start()
    res: dict = {}
    try:
        keys = Keys("/cove-bench")
        client = EtcdClient(srv.endpoint)
        ipam = GlobalIpam(client, "A", keys)
        t0 = time.perf_counter()
        for i in range(200):
            ipam.claim("net", "10.80.0.0/16", f"ep{i}")
        res["claims_per_s"] = round(200 / (time.perf_counter() - t0))
        ttl = 2
        gone = []
        table = PeerTable(EtcdClient(srv.endpoint), "watcher", keys,
                          on_change=lambda a, r: gone.extend(r)).start()
        table.watcher.synced.wait(5)
        m = Membership(EtcdClient(srv.endpoint), "B", {"vtep": "192.0.2.2"}, ttl, keys)
        m.join()
        m.put_leased(keys.endpoint("net", "epB"), {"ip": "10.80.9.9", "node": "B"})
        time.sleep(1)
        m._keeper.stop()                      # "kill -9": no keepalive, no revoke
        t0 = time.perf_counter()
        while not gone and time.perf_counter() - t0 < ttl + 5:
            time.sleep(0.01)
        res["lease_ttl_s"] = ttl
        res["convergence_after_node_death_s"] = round(time.perf_counter() - t0, 2)
        table.stop()
        client.delete("/cove-bench/", prefix=True)
    finally:
        srv.stop()
    return res


def _until(pred, timeout: float, interval: float = 0.01) -> float:
    """Seconds until ``pred()`` holds (raises on timeout)."""
    t0 = time.perf_counter()
    while not pred():
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"not within {timeout}s")
        time.sleep(interval)
    return time.perf_counter() - t0


def end_to_end(args: argparse.Namespace, d: str) -> dict:
    """Real coveds on two simulated hosts (tests/multihost/harness.py)."""
    from tests.multihost.harness import Cluster

    tar = Path(d) / "busybox.tar"
    subprocess.run(["bash", str(Path(__file__).resolve().parent.parent / "scripts"
                                / "build-busybox-image.sh"), str(tar)], check=True,
                   capture_output=True)
    res: dict = {}
    with Cluster(Path(d) / "e2e", hosts=2, busybox_tar=tar) as cl:
        a, b = cl.hosts
        cl.start_all(ttl=args.ttl, grace=2 * args.ttl)
        a.cove("network", "create", "-d", "overlay", "--subnet", "10.240.0.0/24", "bench")
        nid = a.network_id("bench")
        cb = b.run("--network", "bench", "--name", "bench-b")
        ip_b = b.ip_of(cb, "bench")
        ca = a.run("--network", "bench", "--name", "bench-a")
        ns_a, ns_b = a.container_netns(ca), b.container_netns(cb)
        _until(lambda: subprocess.run(["nsenter", f"--net={ns_a}", "ping", "-c1", "-W1",
                                       ip_b], capture_output=True).returncode == 0, 10)
        res["e2e_overlay_mtu"] = int(json.loads(subprocess.run(
            ["nsenter", f"--net={ns_a}", "ip", "-j", "link", "show", "eth0"],
            capture_output=True, text=True).stdout)[0]["mtu"])
        res["e2e_ping_underlay_ms"] = ping_avg(a.netns, b.ip)
        res["e2e_ping_overlay_ms"] = ping_avg(ns_a, ip_b)
        if shutil.which("iperf3"):
            under, over = [], []
            for _ in range(args.rounds):          # interleaved: same machine conditions
                under.append(iperf(a.netns, b.netns, b.ip, args.seconds))
                over.append(iperf(ns_a, ns_b, ip_b, args.seconds))
            u, o = sorted(under)[len(under) // 2], sorted(over)[len(over) // 2]
            res.update(e2e_tcp_underlay_gbit=round(u, 2), e2e_tcp_overlay_gbit=round(o, 2),
                       e2e_tcp_ratio=round(o / u, 2))
        # run on A -> reachable (ping) from the container on B
        times = []
        for i in range(args.rounds):
            ip = f"10.240.0.{200 + i}"

            def answers(ip=ip) -> bool:
                return subprocess.run(["nsenter", f"--net={ns_b}", "ping", "-c1", "-W0.2",
                                       ip], capture_output=True).returncode == 0
            t0 = time.perf_counter()
            a.run("--network", "bench", "--ip", ip)
            _until(answers, 15, interval=0.005)
            times.append(time.perf_counter() - t0)
        res["e2e_run_to_reachable_s"] = round(sorted(times)[len(times) // 2], 3)
        res["e2e_run_to_reachable_max_s"] = round(max(times), 3)
        # kill -9 of B's coved: A's overlay sandbox drops B's entries
        b.kill9()
        conv = _until(lambda: not any(p.vtep == b.ip for p in a.peers(nid)), 4 * args.ttl)
        res["e2e_cluster_ttl_s"] = args.ttl
        res["e2e_convergence_after_kill9_s"] = round(conv, 2)
    return res


def table(res: dict) -> str:
    rows = [("overlay MTU (underlay 1500)", "e2e_overlay_mtu", ""),
            ("ping underlay A->B", "e2e_ping_underlay_ms", "ms"),
            ("ping overlay cA->cB", "e2e_ping_overlay_ms", "ms"),
            ("TCP underlay A->B", "e2e_tcp_underlay_gbit", "Gbit/s"),
            ("TCP overlay cA->cB (real coveds)", "e2e_tcp_overlay_gbit", "Gbit/s"),
            ("TCP ratio overlay/underlay", "e2e_tcp_ratio", "(target >= 0.8)"),
            ("run on A -> ping from B (median)", "e2e_run_to_reachable_s", "s"),
            ("run on A -> ping from B (max)", "e2e_run_to_reachable_max_s", "s"),
            ("cluster TTL", "e2e_cluster_ttl_s", "s"),
            ("convergence after kill -9", "e2e_convergence_after_kill9_s", "s"),
            ("TCP ratio (raw namespaces)", "tcp_ratio", ""),
            ("program peers (raw)", next((k for k in res if k.startswith("program_")), ""),
             "s"),
            ("etcd claims", "claims_per_s", "/s")]
    return "\n".join(f"{label:<36} {res[k]!s:>10} {unit}" for label, k, unit in rows
                     if k in res)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ttl", type=float, default=2.0)
    ap.add_argument("--only", choices=("e2e", "raw"), default=None)
    args = ap.parse_args()
    res: dict = {}
    with tempfile.TemporaryDirectory(prefix="cove-bench-ov-") as d:
        if args.only != "e2e":
            res.update(dataplane(args, d))
            if shutil.which("etcd"):
                res.update(control_plane(d))
        if args.only != "raw" and shutil.which("etcd"):
            res.update(end_to_end(args, d))
    print(json.dumps(res, indent=2))
    print(table(res))


if __name__ == "__main__":
    main()
