"""Benchmark: the overlay data plane and the etcd control plane (issue 7 groundwork).

Two simulated hosts (namespaces on a fabric bridge, tests/cluster/topology.py), one
VXLAN overlay between them (cove.kernel.vxlan), and a throwaway etcd on loopback.
Measures, in one run:
* ping RTT and iperf3 TCP throughput, underlay host A → B vs overlay container A → B;
* programming N static peers (neighbour + FDB) and removing them;
* etcd: sequential address claims/s, and lease-expiry convergence seen by a peer table.

    .venv/bin/python bench/overlay.py [--peers 2000] [--seconds 3]
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--peers", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cove-bench-ov-") as d:
        res = dataplane(args, d)
        if shutil.which("etcd"):
            res.update(control_plane(d))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
