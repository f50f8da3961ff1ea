"""Benchmark: keystroke -> echo through a container attach and a tty exec, and the delay
of ``logs -f``, with the log followers woken by inotify and, for comparison, polling.

For each mode a coved is started in a throwaway network namespace (tests/harness.py)
with a tty container running ``cat``. Each round sends one line on the hijacked attach
and times when its echo comes back on the attach and when it shows on a
``logs?follow=1`` stream; then the same keystroke through a tty exec (``cat``, read
straight from its pty). Prints medians and 90th percentiles in ms.

    .venv/bin/python bench/attach_latency.py [-n 200]
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.test_attach_live import Following  # noqa: E402
from tests.e2e.test_tty import Hijacked  # noqa: E402
from tests.harness import Daemon  # noqa: E402


def _post(d: Daemon, path: str, body: dict | None = None) -> dict:
    status, data = d.api("POST", path, json.dumps(body or {}).encode(),
                         {"Content-Type": "application/json"})
    assert status < 300, (status, data)
    return json.loads(data) if data else {}


def _round(socks: dict[str, object], send, token: bytes) -> dict[str, float]:
    """Send ``token`` and time its arrival on each of ``socks`` (name -> reader)."""
    sel = selectors.DefaultSelector()
    for name, r in socks.items():
        sel.register(r.sock, selectors.EVENT_READ, name)
        r.sock.setblocking(False)
    got: dict[str, float] = {}
    t0 = time.perf_counter()
    send(token + b"\n")
    try:
        while len(got) < len(socks):
            events = sel.select(5)
            assert events, f"timeout waiting for {token!r}"
            for key, _ in events:
                r = socks[key.data]
                r.buf += r.sock.recv(65536)
                if key.data not in got and token in r.buf:
                    got[key.data] = (time.perf_counter() - t0) * 1000
                    r.buf = r.buf[r.buf.index(token) + len(token):]
    finally:
        sel.close()
        for r in socks.values():
            r.sock.setblocking(True)
    return got


def measure(tar: Path, n: int, inotify: bool) -> dict[str, list[float]]:
    os.environ["COVE_LOG_INOTIFY"] = "1" if inotify else "0"
    res: dict[str, list[float]] = {"attach": [], "logs -f": [], "exec": []}
    with tempfile.TemporaryDirectory(prefix="covebench") as tmp:
        d = Daemon(Path(tmp))
        try:
            d.start()
            d.cli("image", "import", str(tar), "busybox:latest")
            cid = _post(d, "/containers/create", {"Image": "busybox", "Cmd": ["cat"],
                                                  "Tty": True, "OpenStdin": True})["Id"]
            _post(d, f"/containers/{cid}/start")
            att = Hijacked(d, f"/containers/{cid}/attach?stream=1&stdin=1&stdout=1")
            fol = Following(d, cid)
            eid = _post(d, f"/containers/{cid}/exec",
                        {"Cmd": ["cat"], "AttachStdin": True, "AttachStdout": True,
                         "Tty": True})["Id"]
            ex = Hijacked(d, f"/exec/{eid}/start", {"Tty": True})
            time.sleep(0.3)
            for i in range(n + 5):
                tok = b"k%05d" % i
                got = _round({"attach": att, "logs -f": fol}, att.send, tok)
                got.update(_round({"exec": ex}, ex.send, tok))
                if i >= 5:                                   # warm-up rounds dropped
                    for k, v in got.items():
                        res[k].append(v)
                time.sleep(0.002)
            for s in (att, fol, ex):
                s.close()
            d.api("DELETE", f"/containers/{cid}?force=1")
        finally:
            d.destroy()
    os.environ.pop("COVE_LOG_INOTIFY", None)
    return res


def _pct(v: list[float], q: float) -> float:
    return sorted(v)[min(len(v) - 1, int(q * len(v)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=200)
    args = ap.parse_args()
    root = Path(__file__).resolve().parent.parent
    tar = root / "build" / "busybox.tar"
    if not tar.exists():
        subprocess.run(["bash", str(root / "scripts/build-busybox-image.sh"), str(tar)],
                       check=True)
    print(f"keystroke -> echo, {args.n} rounds, ms (median / p90)")
    for label, flag in (("poll 20 ms (before)", False), ("inotify (after)", True)):
        res = measure(tar, args.n, flag)
        cols = "  ".join(f"{k}: {statistics.median(v):6.2f} / {_pct(v, 0.9):6.2f}"
                         for k, v in res.items())
        print(f"{label:22s} {cols}")


if __name__ == "__main__":
    main()
