"""Benchmark (issue 4): 50 user-defined networks with one container each, and the
embedded DNS server's queries per second.

Starts a coved in a throwaway network namespace (tests/harness.py). For i = 1..N it
creates network ``bnI`` (subnet 10.200.I.0/24) and runs one ``busybox sleep`` container
on it, timing the two
API calls (create network + create/start container) together. Prints the cost of the
1st and the Nth network, and the medians of the first and last ten (the 1st
network also pays for warming caches). Then sends
sequential UDP queries for a local name from inside one container's sandbox to
127.0.0.11 and prints queries per second.

    .venv/bin/python bench/networks.py [-n 50] [--queries 3000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.dnsclient import query  # noqa: E402
from tests.harness import Daemon  # noqa: E402

HDR = {"Content-Type": "application/json"}


def post(d: Daemon, path: str, body: dict | None = None) -> dict:
    status, data = d.api("POST", "/v1.41" + path, json.dumps(body or {}).encode(), HDR)
    if status >= 300:
        raise RuntimeError(f"{path}: {status} {data!r}")
    return json.loads(data) if data.strip() else {}


def one_network(d: Daemon, i: int) -> tuple[float, float]:
    """(network create ms, container create + start ms)."""
    t0 = time.perf_counter()
    # explicit subnets: Docker's default pools hold only 31 networks (cove's too)
    post(d, "/networks/create", {"Name": f"bn{i}", "IPAM": {
        "Config": [{"Subnet": f"10.{200 + i // 250}.{i % 250}.0/24"}]}})
    t1 = time.perf_counter()
    cid = post(d, f"/containers/create?name=bc{i}", {
        "Image": "busybox", "Cmd": ["sleep", "600"],
        "HostConfig": {"NetworkMode": f"bn{i}"}})["Id"]
    post(d, f"/containers/{cid}/start")
    return (t1 - t0) * 1000, (time.perf_counter() - t1) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("--queries", type=int, default=3000)
    args = ap.parse_args()
    root = Path(__file__).resolve().parent.parent
    tar = root / "build" / "busybox.tar"
    if not tar.exists():
        tar.parent.mkdir(exist_ok=True)
        subprocess.run(["bash", str(root / "scripts/build-busybox-image.sh"), str(tar)],
                       check=True)
    with tempfile.TemporaryDirectory(prefix="covebench") as tmp:
        d = Daemon(Path(tmp))
        try:
            d.start()
            d.cli("image", "import", str(tar), "busybox:latest")
            parts = [one_network(d, i) for i in range(1, args.n + 1)]
            costs = [a + b for a, b in parts]
            sb = d.inspect("bc1", "{{.NetworkSettings.SandboxKey}}")
            query(sb, "bc1", count=50)                    # warm up
            res = query(sb, "bc1", count=args.queries, timeout=300)
            lat = sorted(r["seconds"] for r in res["results"])
        finally:
            d.destroy()
    k = max(1, min(10, args.n // 5))
    first5, last5 = statistics.median(costs[:k]), statistics.median(costs[-k:])
    print(f"network create + container create/start, {args.n} networks:")
    print(f"  1st: {costs[0]:.1f} ms   {args.n}th: {costs[-1]:.1f} ms   "
          f"ratio {costs[-1] / costs[0]:.2f}")
    print(f"  median of first {k}: {first5:.1f} ms   median of last {k}: {last5:.1f} ms   "
          f"ratio {last5 / first5:.2f}")
    for label, idx in (("network create", 0), ("container create+start", 1)):
        xs = [p[idx] for p in parts]
        print(f"  {label}: median of first {k} {statistics.median(xs[:k]):.1f} ms,"
              f" of last {k} {statistics.median(xs[-k:]):.1f} ms")
    qps = args.queries / res["total"]
    print(f"embedded DNS, local name, sequential UDP from inside a container: "
          f"{qps:.0f} queries/s (median {lat[len(lat) // 2] * 1e6:.0f} us, "
          f"p99 {lat[int(len(lat) * 0.99)] * 1e6:.0f} us)")


if __name__ == "__main__":
    main()
