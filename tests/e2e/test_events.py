"""GET /events on a real coved, read with the real docker CLI: container and network
events of a lifecycle in Docker's order and shapes, --since/--until, --filter, and a live
stream that ends at --until."""

from __future__ import annotations

import json
import secrets
import subprocess
import time

import pytest

from tests.e2e.dockercli import DOCKER, docker_runner

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def docker(daemon, tmp_path_factory):
    return docker_runner(daemon, tmp_path_factory, check=True)


def _events(docker, since: float, until: float, *flt: str) -> list[dict]:
    out = docker("events", "--since", f"{since:.6f}", "--until", f"{until:.6f}",
                 "--format", "{{json .}}", *flt).stdout
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def test_lifecycle_events_since_until_filters(docker):
    tag = secrets.token_hex(3)
    net, a, b = f"evnet{tag}", f"eva{tag}", f"evb{tag}"
    t0 = time.time()
    try:
        docker("network", "create", net)
        cid = docker("run", "-d", "--name", a, "--network", net, "--label", "k=v",
                     "busybox", "sleep", "300").stdout.strip()
        docker("exec", a, "true")
        docker("pause", a)
        docker("unpause", a)
        docker("rename", a, b)
        docker("stop", "-t", "1", b)
        docker("rm", b)
        docker("network", "rm", net)
    finally:
        docker("rm", "-f", a, b, check=False)
        docker("network", "rm", net, check=False)
    t1 = time.time()
    evs = _events(docker, t0, t1)
    mine = [e for e in evs if e["Type"] == "container" and e["Actor"]["ID"] == cid]
    acts = [e["Action"] for e in mine]
    want = ["create", "start", "exec_create: true", "exec_start: true", "exec_die",
            "pause", "unpause", "rename", "kill", "die", "stop", "destroy"]
    assert list(dict.fromkeys(x for x in acts if x in want)) == want, acts
    by: dict[str, dict] = {}
    for e in mine:                                   # the first of each action
        by.setdefault(e["Action"], e)
    assert by["create"]["Actor"]["Attributes"] == {"image": "busybox", "k": "v", "name": a}
    assert by["create"]["status"] == "create" and by["create"]["from"] == "busybox"
    assert by["create"]["scope"] == "local" and by["create"]["timeNano"] // 10**9 == \
        by["create"]["time"]
    assert by["rename"]["Actor"]["Attributes"]["oldName"] == a
    assert by["rename"]["Actor"]["Attributes"]["name"] == b
    assert by["kill"]["Actor"]["Attributes"]["signal"] == "15"
    assert by["die"]["Actor"]["Attributes"]["exitCode"] in ("137", "143")
    assert by["exec_die"]["Actor"]["Attributes"]["exitCode"] == "0"
    nets = [(e["Action"], e["Actor"]["Attributes"]) for e in evs
            if e["Type"] == "network" and e["Actor"]["Attributes"].get("name") == net]
    assert [x for x, _ in nets] == ["create", "connect", "disconnect", "destroy"]
    assert nets[1][1] == {"name": net, "type": "bridge", "container": cid}

    # --filter: by type and event, by container name (only its own events)
    flt = _events(docker, t0, t1, "--filter", "type=network", "--filter", "event=connect")
    assert [(e["Action"], e["Actor"]["Attributes"]["name"]) for e in flt] == [
        ("connect", net)]
    flt = _events(docker, t0, t1, "--filter", f"container={b}")
    got = [e["Action"] for e in flt]
    assert got[0] == "rename" and got[-2:] == ["stop", "destroy"], got
    assert all(e["Actor"]["ID"] == cid for e in flt)
    # until before everything: nothing
    assert _events(docker, t0 - 10, t0 - 5) == []


def test_live_stream_ends_at_until(docker):
    name = f"evlive{secrets.token_hex(3)}"
    until = time.time() + 4
    proc = subprocess.Popen(
        [DOCKER, "events", "--until", f"{until:.3f}", "--filter", f"container={name}",
         "--format", "{{.Action}}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=docker.env)
    try:
        time.sleep(0.5)
        docker("run", "--rm", "--name", name, "busybox", "true")
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    got = out.split()
    assert [x for x in got if x in ("create", "start", "die", "destroy")] == [
        "create", "start", "die", "destroy"], got
    assert time.time() >= until - 0.2


def test_cove_events_cli(daemon):
    t0 = time.time()
    name = f"evcli{secrets.token_hex(3)}"
    daemon.cli("run", "--rm", "--name", name, "busybox", "true")
    out = daemon.cli("events", "--since", f"{t0:.3f}", "--until", f"{time.time():.3f}",
                     "--filter", f"container={name}").stdout
    lines = out.splitlines()
    assert lines and lines[0].split()[1:3] == ["container", "create"], out
    assert any(" container destroy " in ln and f"name={name}" in ln for ln in lines), out
    acts = daemon.cli("events", "--since", "1m", "--until", "0s", "--filter",
                      f"container={name}", "--format", "{{.Action}}").stdout.split()
    assert "die" in acts and "destroy" in acts
