"""Benchmark: `cove run --rm busybox true` end to end, and the network part of it.

Starts a coved in a throwaway network namespace (tests/harness.py), imports the busybox
image, then times N runs each of `--network bridge` and `--network none` through the real
CLI, and the bridge case under each installed OCI runtime (runc, crun). Prints
medians; the network part is the difference of the medians.

    .venv/bin/python bench/run_latency.py [-n 30]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import Daemon  # noqa: E402


def timed_runs(d: Daemon, n: int, network: str, runtime: str = "native") -> list[float]:
    cmd = [sys.executable, "-m", "cove.cli.main", "-H", f"unix://{d.sock}",
           "run", "--rm", "--runtime", runtime, "--network", network, "busybox", "true"]
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    args = ap.parse_args()
    root = Path(__file__).resolve().parent.parent
    tar = root / "build" / "busybox.tar"
    if not tar.exists():
        subprocess.run(["bash", str(root / "scripts/build-busybox-image.sh"), str(tar)],
                       check=True)
    with tempfile.TemporaryDirectory(prefix="covebench") as tmp:
        d = Daemon(Path(tmp))
        try:
            d.start()
            d.cli("image", "import", str(tar), "busybox:latest")
            timed_runs(d, 3, "bridge")  # warm up
            cli = []
            for _ in range(args.n):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "cove.cli.main", "-H",
                                f"unix://{d.sock}", "version"], check=True, capture_output=True)
                cli.append((time.perf_counter() - t0) * 1000)
            mark = d.log.stat().st_size
            bridge = timed_runs(d, args.n, "bridge")
            with open(d.log) as f:
                f.seek(mark)
                sandbox = [float(m) for m in re.findall(r" sandbox=([0-9.]+)ms", f.read())]
            none = timed_runs(d, args.n, "none")
            per_driver = {}
            for rt in ("runc", "crun", "lxc"):        # issue 5: per execution driver
                if shutil.which("lxc-execute" if rt == "lxc" else rt):
                    timed_runs(d, 2, "bridge", rt)
                    per_driver[rt] = timed_runs(d, args.n, "bridge", rt)
        finally:
            d.destroy()
    mb, mn = statistics.median(bridge), statistics.median(none)
    print(f"cove version (CLI start-up + one request): median {statistics.median(cli):.1f} ms")
    print(f"run --rm busybox true, bridge: median {mb:.1f} ms "
          f"(min {min(bridge):.1f}, max {max(bridge):.1f}) over {args.n}")
    print(f"run --rm busybox true, none:   median {mn:.1f} ms "
          f"(min {min(none):.1f}, max {max(none):.1f}) over {args.n}")
    print(f"network part (bridge - none):  {mb - mn:.1f} ms")
    for rt, times in per_driver.items():
        print(f"run --rm --runtime {rt} busybox true, bridge: median "
              f"{statistics.median(times):.1f} ms (min {min(times):.1f}, "
              f"max {max(times):.1f}) over {args.n}")
    if sandbox:
        print(f"daemon-side sandbox set-up (netns + veth + eth0), bridge: median "
              f"{statistics.median(sandbox):.1f} ms over {len(sandbox)}")


if __name__ == "__main__":
    main()
