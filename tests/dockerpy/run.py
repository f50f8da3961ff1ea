"""Run docker-py's own integration suite (docker==6.1.3 from PyPI) against a real coved.

Usage: ``python tests/dockerpy/run.py [--junit FILE] [--files a.py,b.py] [pytest args...]``

1. downloads the docker 6.1.3 source distribution (it ships ``tests/``) with
   ``pip download --no-binary :all: --no-deps`` into a cache dir and unpacks it;
2. makes the suite's own venv there (``requests==2.31.0``, ``urllib3<2``,
   ``websocket-client``, ``packaging``, ``pytest==7.1.2``, ``pytest-timeout``); docker
   itself is imported from the unpacked tree, unchanged;
3. builds the ``alpine:3.10`` test image (tests/dockerpy/build-alpine-image.sh) and
   imports it as ``alpine:3.10`` and ``alpine:latest`` (one image id): nothing is pulled;
4. starts a coved in a throwaway network namespace (tests/harness.py ``Daemon``) and
   runs the listed integration files inside that namespace (so published ports and
   container addresses are reachable) with ``DOCKER_HOST`` set to its unix socket
   (``--tcp``: its TCP listener on that namespace's loopback, ``coved --tcp``; docker-py
   cannot open its websocket attach over a unix socket, so one test,
   ``test_run_container_reading_socket_ws``, passes only over tcp) and
   ``DOCKER_TEST_API_VERSION=1.41``; tests in :data:`SKIP` are deselected;
5. prints the pass/fail counts (network files and the rest) and a JSON summary line.

The cache dir is ``$COVE_DOCKERPY_CACHE`` or ``/var/cache/cove/dockerpy``. Exit status is
0 when pytest ran, whatever the results (the bar is checked by tests/e2e).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.harness import Daemon  # noqa: E402

VERSION = "6.1.3"
CACHE = Path(os.environ.get("COVE_DOCKERPY_CACHE", "/var/cache/cove/dockerpy"))
REQUIREMENTS = ["requests==2.31.0", "urllib3<2", "websocket-client==1.6.4", "packaging",
                "pytest==7.1.2", "pytest-timeout==2.1.0",
                "pluggy==1.0.0", "paramiko==3.3.1"]

NETWORK_FILES = ["api_network_test.py", "models_networks_test.py"]
OTHER_FILES = [
    "api_container_test.py", "models_containers_test.py", "api_exec_test.py",
    "regression_test.py", "api_client_test.py", "client_test.py", "errors_test.py",
    "api_healthcheck_test.py", "models_resources_test.py", "api_volume_test.py",
    "models_volumes_test.py",
]
FILES = NETWORK_FILES + OTHER_FILES
TCP_ADDR = "127.0.0.1:2375"     # on the loopback of the daemon's throwaway netns (--tcp)

# Left out, and why (README "docker-py's integration suite" lists the same):
# only tests that need swarm, a registry pull, or an address off the machine.
SKIP = {
    "api_network_test.py::TestNetworks::test_create_network_attachable": "swarm",
    "api_network_test.py::TestNetworks::test_create_network_ingress": "swarm",
    "api_network_test.py::TestNetworks::test_create_inspect_network_with_scope": "swarm",
}


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, **kw)


def ensure_source() -> Path:
    """The unpacked sdist (downloaded once into the cache)."""
    src = CACHE / f"docker-{VERSION}"
    if (src / "tests" / "integration").is_dir():
        return src
    CACHE.mkdir(parents=True, exist_ok=True)
    dl = CACHE / "dl"
    _run([sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:",
          "--no-deps", f"docker=={VERSION}", "-d", str(dl)])
    with tarfile.open(dl / f"docker-{VERSION}.tar.gz") as tf:
        tf.extractall(CACHE, filter="data")
    return src


def ensure_venv() -> Path:
    """The suite's own venv; rebuilt when the requirement list changes."""
    venv = CACHE / "venv"
    stamp = venv / "cove-requirements.txt"
    want = "\n".join(REQUIREMENTS)
    if stamp.is_file() and stamp.read_text() == want:
        return venv / "bin" / "python"
    shutil.rmtree(venv, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *REQUIREMENTS])
    stamp.write_text(want)
    return venv / "bin" / "python"


def build_image(out: Path) -> None:
    _run(["bash", str(REPO / "tests" / "dockerpy" / "build-alpine-image.sh"), str(out)],
         stdout=subprocess.DEVNULL)


def _counts(junit: Path) -> dict:
    """Per group ('network', 'other'): passed/failed/skipped from pytest's junit xml.

    A test with a failing call and a failing teardown has two entries: counted once."""
    status: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        parts = case.get("classname", "").split(".")
        key = f"{parts[-2]}.py::{parts[-1]}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            status[key] = "failed"
        elif "skipped" in kinds:
            status.setdefault(key, "skipped")
        else:
            status.setdefault(key, "passed")
    out: dict = {g: {"passed": 0, "failed": 0, "skipped": 0} for g in ("network", "other")}
    for key, st in status.items():
        group = "network" if key.split("::")[0] in NETWORK_FILES else "other"
        out[group][st] += 1
    out["failed_tests"] = sorted(k for k, st in status.items() if st == "failed")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--junit", type=Path, help="where to write pytest's junit xml")
    ap.add_argument("--files", help="comma-separated subset of the integration files")
    ap.add_argument("--timeout", type=int, default=25, help="per-test timeout (s)")
    ap.add_argument("--tcp", action="store_true",
                    help="DOCKER_HOST=tcp://127.0.0.1:2375 in the daemon's own netns "
                         "(coved --tcp) instead of its unix socket; docker-py's websocket "
                         "attach cannot use a unix socket")
    args, extra = ap.parse_known_args(argv)
    files = args.files.split(",") if args.files else FILES

    src = ensure_source()
    py = ensure_venv()
    work = Path(tempfile.mkdtemp(prefix="cove-dockerpy-"))
    junit = args.junit or work / "junit.xml"
    (work / "coved").mkdir()
    daemon = Daemon(work / "coved")
    if args.tcp:
        daemon.extra_args += ["--tcp", TCP_ADDR]
    try:
        image = work / "alpine.tar"
        build_image(image)
        daemon.start()
        for ref in ("alpine:3.10", "alpine:latest"):
            daemon.cli("image", "import", str(image), ref)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "PYTEST"))}
        host = f"tcp://{TCP_ADDR}" if args.tcp else f"unix://{daemon.sock}"
        env.update(DOCKER_HOST=host, DOCKER_TEST_API_VERSION="1.41",
                   PYTHONPATH=str(src), PYTHONDONTWRITEBYTECODE="1")
        cmd = ["nsenter", f"--net={daemon.netns}", str(py), "-m", "pytest", "-q",
               "-p", "no:cacheprovider", f"--timeout={args.timeout}", f"--junitxml={junit}",
               "-o", "addopts=", "--tb=short", "-rN"]
        cmd += [f"--deselect=tests/integration/{t}" for t in SKIP]
        cmd += [f"tests/integration/{f}" for f in files] + extra
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=src, env=env)
        elapsed = time.monotonic() - t0
        if not junit.is_file():
            print(f"pytest did not run (exit {proc.returncode})", file=sys.stderr)
            return 2
        counts = _counts(junit)
        for group in ("network", "other"):
            c = counts[group]
            total = c["passed"] + c["failed"]
            pct = 100.0 * c["passed"] / total if total else 0.0
            print(f"docker-py {group}: {c['passed']} passed, {c['failed']} failed, "
                  f"{c['skipped']} skipped ({pct:.1f}% of run)")
        print(f"docker-py deselected (swarm/pull/off-machine): {len(SKIP)}; "
              f"time {elapsed:.0f}s")
        print("DOCKERPY_SUMMARY " + json.dumps({**counts, "seconds": round(elapsed, 1)}))
        return 0
    finally:
        daemon.destroy()
        if args.junit and daemon.log.is_file():      # keep the daemon's log for debugging
            shutil.copyfile(daemon.log, f"{args.junit}.coved.log")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
