"""``POST /containers/prune`` on a real coved: stopped containers go (record, files,
endpoint), running ones stay, label filters select, the freed bytes are reported. And
``Config.StopTimeout``: kept, shown, and used as the grace period of a plain stop."""

from __future__ import annotations

import json
import os
import urllib.parse


def _prune(daemon, filters: dict | None = None) -> dict:
    q = "?filters=" + urllib.parse.quote(json.dumps(filters)) if filters else ""
    status, body = daemon.api("POST", "/v1.41/containers/prune" + q)
    assert status == 200, body
    return json.loads(body)


def test_prune_removes_only_stopped_matching_containers(daemon):
    tag = os.urandom(3).hex()
    done = daemon.cli("run", "-d", "--label", f"t={tag}", "busybox", "sh", "-c",
                      "head -c 200000 /dev/zero > /big").stdout.strip()
    other = daemon.cli("create", "--label", "t=other", "busybox", "true").stdout.strip()
    live = daemon.cli("run", "-d", "--label", f"t={tag}", "busybox",
                      "sleep", "60").stdout.strip()
    try:
        status, body = daemon.api("POST", f"/containers/{done}/wait")
        assert status == 200 and json.loads(body)["StatusCode"] == 0
        status, body = daemon.api("POST", "/containers/prune?filters=%7Bbad")
        assert status == 400 and b"invalid filter" in body
        out = _prune(daemon, {"label": [f"t={tag}"]})
        assert out["ContainersDeleted"] == [done]
        assert out["SpaceReclaimed"] >= 200000
        assert not (daemon.root / "containers" / done).exists()
        assert daemon.api("GET", f"/containers/{done}/json")[0] == 404
        assert daemon.api("GET", f"/containers/{other}/json")[0] == 200   # label differs
        assert daemon.api("GET", f"/containers/{live}/json")[0] == 200    # running
        out = _prune(daemon, {"label!": ["t=other"]})
        assert other not in (out["ContainersDeleted"] or [])
        out = _prune(daemon, {"label": ["t=other"]})
        assert out["ContainersDeleted"] == [other]
    finally:
        daemon.cli("rm", "-f", done, other, live, check=False)


def test_stop_timeout_is_kept_and_used(daemon):
    """Config.StopTimeout: shown in inspect, and the grace period of a plain stop."""
    import time
    body = json.dumps({"Image": "busybox", "StopTimeout": 1,
                       "Cmd": ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]})
    status, out = daemon.api("POST", "/v1.41/containers/create", body.encode(),
                             {"Content-Type": "application/json"})
    assert status == 201, out
    cid = json.loads(out)["Id"]
    try:
        cfg = json.loads(daemon.api("GET", f"/containers/{cid}/json")[1])["Config"]
        assert cfg["StopTimeout"] == 1
        assert daemon.api("POST", f"/containers/{cid}/start")[0] == 204
        time.sleep(0.3)
        t0 = time.monotonic()
        assert daemon.api("POST", f"/containers/{cid}/stop")[0] == 204
        assert 0.8 < time.monotonic() - t0 < 5        # not the default 10 s
        bad = json.dumps({"Image": "busybox", "StopTimeout": "x"}).encode()
        assert daemon.api("POST", "/containers/create", bad,
                          {"Content-Type": "application/json"})[0] == 400
    finally:
        daemon.cli("rm", "-f", cid, check=False)
