"""Issue 3 acceptance on a real coved: legacy links on the default bridge (environment
and /etc/hosts exactly as Docker writes them) and Docker's error for a missing one."""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.e2e


def test_link_env_and_hosts_match_docker(daemon):
    daemon.cli("run", "-d", "--name", "cr-db", "--hostname", "dbhost", "-e", "MYSQL_PASS=secret",
               "-e", "FOO=bar", "--expose", "5432", "--expose", "53/udp", "--expose",
               "7000-7001", "busybox", "sleep", "600")
    daemon.cli("run", "-d", "--name", "cr-rand", "busybox", "sleep", "600")
    try:
        db_ip = daemon.inspect("cr-db", "{{.NetworkSettings.IPAddress}}")
        rand_ip = daemon.inspect("cr-rand", "{{.NetworkSettings.IPAddress}}")
        rand_host = daemon.inspect("cr-rand", "{{.Config.Hostname}}")
        out = daemon.cli("run", "--rm", "--name", "cr-app", "--link", "cr-db:db", "--link",
                         "cr-rand", "busybox", "sh", "-c", "env; echo ===; cat /etc/hosts"
                         ).stdout
        env_text, hosts = out.split("===\n")
        env = set(env_text.splitlines())
        want = {
            f"DB_PORT=tcp://{db_ip}:5432", "DB_NAME=/cr-app/db",
            f"DB_PORT_53_UDP=udp://{db_ip}:53", f"DB_PORT_53_UDP_ADDR={db_ip}",
            "DB_PORT_53_UDP_PORT=53", "DB_PORT_53_UDP_PROTO=udp",
            f"DB_PORT_5432_TCP=tcp://{db_ip}:5432", f"DB_PORT_5432_TCP_ADDR={db_ip}",
            "DB_PORT_5432_TCP_PORT=5432", "DB_PORT_5432_TCP_PROTO=tcp",
            f"DB_PORT_7000_TCP=tcp://{db_ip}:7000", f"DB_PORT_7001_TCP=tcp://{db_ip}:7001",
            f"DB_PORT_7000_TCP_START=tcp://{db_ip}:7000", "DB_PORT_7000_TCP_PORT_START=7000",
            f"DB_PORT_7000_TCP_END=tcp://{db_ip}:7001", "DB_PORT_7000_TCP_PORT_END=7001",
            "DB_ENV_FOO=bar", "DB_ENV_MYSQL_PASS=secret", "CR_RAND_NAME=/cr-app/cr-rand",
        }
        assert want <= env, sorted(want - env)
        link_vars = {e for e in env if e.startswith(("DB_", "CR_RAND_"))}
        assert not any(e.startswith(("DB_ENV_PATH", "DB_ENV_HOME")) for e in link_vars)
        assert len([e for e in link_vars if e.startswith("DB_")]) == 24
        assert link_vars - {e for e in link_vars if e.startswith("DB_")} == {
            "CR_RAND_NAME=/cr-app/cr-rand"}
        lines = hosts.splitlines()
        assert f"{db_ip}\tdb dbhost cr-db" in lines
        assert f"{rand_ip}\tcr-rand {rand_host}" in lines
        # link lines come before the container's own entry, which is last
        assert lines.index(f"{db_ip}\tdb dbhost cr-db") < len(lines) - 1
    finally:
        for n in ("cr-db", "cr-rand", "cr-app"):
            daemon.cli("rm", "-f", n, check=False)


def test_link_to_a_missing_container_fails_like_docker(daemon):
    names = daemon.cli("ps", "-aq").stdout.split()
    r = daemon.cli("run", "--link", "nonexist", "busybox", "true", check=False)
    assert r.returncode == 125
    assert "could not get container for nonexist: No such container: nonexist" in r.stderr
    assert daemon.cli("ps", "-aq").stdout.split() == names


def _wget(d, who: str, url: str):
    return d.cli("exec", who, "timeout", "3", "wget", "-qO-", url, check=False)


def test_icc_off_allows_only_links_on_exposed_ports(fresh_daemon):
    d = fresh_daemon
    d.stop()
    d.extra_args = ["--icc=false"]
    d.start()
    net = json.loads(d.cli("network", "inspect", "bridge").stdout)[0]
    assert net["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    d.cli("run", "-d", "--name", "srv", "--expose", "80", "busybox", "sh", "-c",
          "httpd -p 81 -h /etc; exec httpd -f -p 80 -h /etc")
    d.cli("run", "-d", "--name", "app", "--link", "srv", "busybox", "sleep", "600")
    d.cli("run", "-d", "--name", "other", "busybox", "sleep", "600")
    srv_ip = d.inspect("srv", "{{.NetworkSettings.IPAddress}}")
    short = d.inspect("srv", "{{.Id}}")[:12]
    got = None
    for _ in range(30):
        got = _wget(d, "app", "http://srv:80/hostname")
        if got.returncode == 0:
            break
        time.sleep(0.1)
    assert got.stdout.strip() == short                       # linked, exposed port
    assert _wget(d, "app", f"http://{srv_ip}:81/hostname").returncode != 0   # not exposed
    assert _wget(d, "other", f"http://{srv_ip}:80/hostname").returncode != 0  # not linked
    assert d.cli("exec", "other", "ping", "-c", "1", "-W", "1", srv_ip,
                 check=False).returncode != 0
    # the link's set elements leave with the container
    assert "link_pairs" in d.nft() and srv_ip in d.nft()
    d.cli("rm", "-f", "app")
    assert f". {srv_ip} . tcp . 80" not in d.nft()
