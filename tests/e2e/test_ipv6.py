"""IPv6 networks and link-local IPs on a real coved: the bridge carries the IPv6 gateway,
containers get addresses (lowest free, or the requested one) and a default route, ping6
each other, inspect shows the fields; addresses are released on disconnect and rm."""

from __future__ import annotations

import json
import secrets

import pytest

pytestmark = pytest.mark.e2e


def _ep(d, name: str, net: str) -> dict:
    return json.loads(d.cli("inspect", name).stdout)[0]["NetworkSettings"]["Networks"][net]


def _ping6(d, ctr: str, ip: str) -> None:
    last = None
    for _ in range(3):
        last = d.cli("exec", ctr, "ping", "-6", "-c", "1", "-W", "2", ip, check=False,
                     timeout=30)
        if last.returncode == 0:
            return
    raise AssertionError(f"{ctr} cannot ping6 {ip}: {last.stdout} {last.stderr}")


def test_ipv6_network_two_containers_ping6(daemon):
    d = daemon
    tag = "%x" % (0x1000 + secrets.randbelow(0xf000))   # 4 hex digits, no leading 0
    net, prefix = f"v6-{tag}", f"fd00:c0fe:{tag}::"
    a, b, c = f"v6a-{tag}", f"v6b-{tag}", f"v6c-{tag}"
    try:
        d.cli("network", "create", "--ipv6", "--subnet", prefix + "/64", net)
        info = json.loads(d.cli("network", "inspect", net).stdout)[0]
        assert info["EnableIPv6"] is True
        assert {"Subnet": prefix + "/64"} in info["IPAM"]["Config"]
        bridge = info["Options"].get("com.docker.network.bridge.name") or "br-" + info["Id"][:12]
        assert f"inet6 {prefix}1/64" in d.host("ip", "-6", "addr", "show", "dev", bridge).stdout

        d.cli("run", "-d", "--name", a, "--network", net, "busybox", "sleep", "300")
        d.cli("run", "-d", "--name", b, "--network", net, "--ip6", prefix + "f00d",
              "busybox", "sleep", "300")
        ea, eb = _ep(d, a, net), _ep(d, b, net)
        assert (ea["GlobalIPv6Address"], ea["GlobalIPv6PrefixLen"], ea["IPv6Gateway"]) == (
            prefix + "2", 64, prefix + "1")
        assert ea["IPAMConfig"] is None
        assert eb["GlobalIPv6Address"] == prefix + "f00d"
        assert eb["IPAMConfig"] == {"IPv6Address": prefix + "f00d"}
        members = json.loads(d.cli("network", "inspect", net).stdout)[0]["Containers"]
        assert sorted(m["IPv6Address"] for m in members.values()) == [
            prefix + "2/64", prefix + "f00d/64"]

        hosts = d.cli("exec", a, "cat", "/etc/hosts").stdout
        assert f"{prefix}2\t" in hosts, hosts           # own IPv6 line, as Docker writes
        # the kernel: eth0 has the address, a default route via the gateway; ping6 works
        addrs = d.cli("exec", a, "ip", "-6", "addr", "show", "dev", "eth0").stdout
        assert f"inet6 {prefix}2/64" in addrs
        assert f"default via {prefix}1 dev eth0" in d.cli("exec", a, "ip", "-6", "route").stdout
        _ping6(d, a, prefix + "f00d")
        _ping6(d, b, prefix + "2")
        _ping6(d, a, prefix + "1")                  # the gateway on the bridge
        assert f"ip6 saddr {prefix}/64" in d.nft()  # masquerade in inet cove
        # the embedded DNS answers AAAA with the IPv6 address (and A as before)
        out = d.cli("exec", a, "nslookup", "-type=AAAA", b, "127.0.0.11").stdout
        assert prefix + "f00d" in out, out

        # errors: outside the subnet, taken
        r = d.cli("run", "-d", "--network", net, "--ip6", "fd99::5", "busybox", "true",
                  check=False)
        assert r.returncode != 0 and "does not belong to any of this network's subnets" \
            in r.stderr
        r = d.cli("run", "-d", "--network", net, "--ip6", prefix + "f00d", "busybox", "true",
                  check=False)
        assert r.returncode != 0 and "Address already in use" in r.stderr

        # release on disconnect: another container takes b's address, hot-plugged
        d.cli("network", "disconnect", net, b)
        assert prefix + "f00d" not in d.cli("exec", b, "cat", "/etc/hosts").stdout
        d.cli("run", "-d", "--name", c, "--link-local-ip", "169.254.8.8", "busybox",
              "sleep", "300")
        assert _ep(d, c, "bridge")["IPAMConfig"] == {"LinkLocalIPs": ["169.254.8.8"]}
        assert "inet 169.254.8.8/16" in d.cli("exec", c, "ip", "addr", "show", "eth0").stdout
        d.cli("network", "connect", "--ip6", prefix + "f00d", net, c)
        assert f"inet6 {prefix}f00d/64" in d.cli("exec", c, "ip", "-6", "addr", "show",
                                                 "eth1").stdout
        assert f"{prefix}f00d\t" in d.cli("exec", c, "cat", "/etc/hosts").stdout
        _ping6(d, a, prefix + "f00d")
        # release on rm: a's address is handed out again
        d.cli("rm", "-f", a)
        d.cli("run", "-d", "--name", a, "--network", net, "busybox", "sleep", "300")
        assert _ep(d, a, net)["GlobalIPv6Address"] == prefix + "2"
    finally:
        for x in (a, b, c):
            d.cli("rm", "-f", x, check=False)
        d.cli("network", "rm", net, check=False)
    assert net not in d.cli("network", "ls").stdout
