"""``DELETE /containers/{parent}/{alias}?link=1`` on a real coved: the parent forgets the
legacy link (no env variables and no hosts entry after its next start), both containers
stay; errors for a missing link or parent and for a plain name."""

from __future__ import annotations

import json
import os


def _init_env(daemon, ref: str) -> str:
    return daemon.cli("exec", ref, "sh", "-c", "tr '\\0' '\\n' < /proc/1/environ").stdout


def test_remove_legacy_link(daemon):
    sfx = os.urandom(3).hex()
    child, parent = f"lc{sfx}", f"lp{sfx}"
    daemon.cli("run", "-d", "--name", child, "busybox", "sleep", "60")
    daemon.cli("run", "-d", "--name", parent, "--link", f"{child}:mylink", "busybox",
               "sleep", "60")
    try:
        assert "MYLINK_NAME=" in _init_env(daemon, parent)
        assert "mylink" in daemon.cli("exec", parent, "cat", "/etc/hosts").stdout
        status, body = daemon.api("DELETE", f"/v1.41/containers/{parent}/mylink")
        assert status == 404                             # no ?link: names no container
        status, body = daemon.api("DELETE", f"/v1.41/containers/{parent}/other?link=1")
        assert status == 404
        status, body = daemon.api("DELETE", f"/v1.41/containers/nosuch{sfx}/mylink?link=1")
        assert status == 404 and b"Cannot get parent" in body
        status, body = daemon.api("DELETE", f"/v1.41/containers/{child}?link=1")
        assert status == 409 and b"cannot remove the default link name" in body
        status, body = daemon.api("DELETE",
                                  f"/v1.41/containers/{parent}/mylink?v=False&link=True")
        assert status == 204, body
        for ref in (child, parent):                      # both containers stay
            assert daemon.api("GET", f"/containers/{ref}/json")[0] == 200
        hc = json.loads(daemon.api("GET", f"/containers/{parent}/json")[1])["HostConfig"]
        assert not hc["Links"]
        assert daemon.api("POST", f"/containers/{parent}/restart?t=0")[0] == 204
        assert "MYLINK_NAME=" not in _init_env(daemon, parent)
        assert "mylink" not in daemon.cli("exec", parent, "cat", "/etc/hosts").stdout
    finally:
        daemon.cli("rm", "-f", parent, child, check=False)
