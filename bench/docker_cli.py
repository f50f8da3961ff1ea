"""Benchmark: `docker run --rm busybox true` against coved next to `cove run --rm busybox
true`, and next to dockerd when one is running on the machine (its default socket).

Starts a coved in a throwaway network namespace (tests/harness.py), imports the busybox
image, warms up, then alternates the clients for N rounds. Prints median, p90 and mean
in milliseconds per client.

    .venv/bin/python bench/docker_cli.py [-n 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import Daemon  # noqa: E402

DOCKERD_SOCK = "/var/run/docker.sock"


def _time(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return (time.perf_counter() - t0) * 1000


def _stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return (f"median {statistics.median(xs):7.1f} ms   p90 {p90:7.1f} ms   "
            f"mean {statistics.fmean(xs):7.1f} ms   (n={len(xs)})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    args = ap.parse_args()
    docker = shutil.which("docker")
    if docker is None:
        sys.exit("the docker CLI is not installed")
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="covebench") as tmp:
        tar = Path(tmp) / "busybox.tar"
        subprocess.run(["bash", str(root / "scripts/build-busybox-image.sh"), str(tar)],
                       check=True, capture_output=True)
        (Path(tmp) / "d").mkdir()
        d = Daemon(Path(tmp) / "d")
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "DOCKER_CONFIG": tmp, "HOME": tmp}
        clients: dict[str, tuple[list[str], dict[str, str]]] = {
            "docker CLI -> coved": ([docker, "run", "--rm", "busybox", "true"],
                                    {**base, "DOCKER_HOST": f"unix://{d.sock}"}),
            "cove CLI   -> coved": ([sys.executable, "-m", "cove.cli.main", "-H",
                                     f"unix://{d.sock}", "run", "--rm", "busybox", "true"],
                                    dict(os.environ)),
        }
        if os.path.exists(DOCKERD_SOCK):
            env = {**base, "DOCKER_HOST": f"unix://{DOCKERD_SOCK}"}
            if subprocess.run([docker, "image", "inspect", "busybox"], env=env,
                              capture_output=True).returncode == 0:
                clients["docker CLI -> dockerd"] = (
                    [docker, "run", "--rm", "busybox", "true"], env)
            else:
                print("dockerd found but it has no busybox image: not measured")
        else:
            print("no dockerd on this machine: dockerd not measured")
        try:
            d.start()
            d.cli("image", "import", str(tar), "busybox:latest")
            times: dict[str, list[float]] = {k: [] for k in clients}
            for cmd, env in clients.values():          # warm up
                for _ in range(3):
                    _time(cmd, env)
            for _ in range(args.n):
                for k, (cmd, env) in clients.items():
                    times[k].append(_time(cmd, env))
        finally:
            d.destroy()
    print("run --rm busybox true, end to end through each client:")
    for k, xs in times.items():
        print(f"  {k}: {_stats(xs)}")


if __name__ == "__main__":
    main()
