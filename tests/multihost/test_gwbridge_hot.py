"""The gateway bridge follows hot connect/disconnect (src/cove/network/gwbridge.py:settle).

One host (cluster1). A running container on an internal bridge network has no way out;
``network connect OVERLAY`` plugs in its ``cove_gwbridge`` endpoint live (a new ethN,
the default route through it, egress NATed to the etcd namespace on the fabric);
connecting a bridge network that gives egress unplugs it (the default route moves to the
new bridge endpoint); disconnecting that bridge plugs it in again; disconnecting the last
overlay network unplugs it for good. No restart anywhere.
"""

from __future__ import annotations

import json

import pytest

from tests.multihost.harness import ETCD_IP

pytestmark = pytest.mark.usefixtures("multihost_ok")


def _state(h, cid: str) -> tuple[dict[str, str], list[dict]]:
    """({ifname: IPv4} of the container's eth links, its default routes)."""
    links = json.loads(h.in_container(cid, "ip", "-j", "addr", check=True).stdout)
    addrs = {i["ifname"]: next((a["local"] for a in i.get("addr_info", [])
                                if a.get("family") == "inet"), "")
             for i in links if i["ifname"].startswith("eth")}
    routes = json.loads(h.in_container(cid, "ip", "-j", "route", check=True).stdout)
    return addrs, [r for r in routes if r["dst"] == "default"]


def _gw_containers(h) -> dict[str, dict]:
    return json.loads(h.cove("network", "inspect", "cove_gwbridge").stdout)[0]["Containers"]


def _egress(h, cid: str) -> bool:
    return h.exec(cid, "ping", "-c1", "-W1", ETCD_IP).returncode == 0


def test_gwbridge_follows_hot_connect_and_disconnect(cluster1):
    (h1,) = cluster1.hosts
    h1.cove("network", "create", "--internal", "--subnet", "10.237.1.0/24", "hot-int")
    h1.cove("network", "create", "--subnet", "10.237.2.0/24", "hot-br")
    h1.cove("network", "create", "-d", "overlay", "--subnet", "10.237.3.0/24", "hot-ov")
    c = h1.run("--network", "hot-int", "--name", "hot-c")
    try:
        addrs, default = _state(h1, c)
        assert set(addrs) == {"eth0"} and default == [] and not _egress(h1, c)

        # connect the overlay: no other way out -> gateway endpoint plugged in live
        h1.cove("network", "connect", "hot-ov", c)
        gw = _gw_containers(h1)
        assert c in gw, gw
        gw_ip = gw[c]["IPv4Address"].split("/")[0]
        addrs, default = _state(h1, c)
        assert addrs["eth1"] == h1.ip_of(c, "hot-ov")
        assert addrs["eth2"] == gw_ip, addrs
        assert len(default) == 1 and default[0]["dev"] == "eth2", default
        assert _egress(h1, c)
        # still hidden from the container's own networks
        assert set(json.loads(h1.inspect(c, "{{json .NetworkSettings.Networks}}"))) == {
            "hot-int", "hot-ov"}

        # connect a bridge network that gives egress -> gateway endpoint unplugged
        h1.cove("network", "connect", "hot-br", c)
        assert c not in _gw_containers(h1)
        addrs, default = _state(h1, c)
        assert "eth2" not in addrs and addrs["eth3"] == h1.ip_of(c, "hot-br"), addrs
        assert len(default) == 1 and default[0]["dev"] == "eth3", default
        assert _egress(h1, c)

        # disconnect that bridge -> plugged in again (default route back through it)
        h1.cove("network", "disconnect", "hot-br", c)
        gw = _gw_containers(h1)
        assert c in gw
        addrs, default = _state(h1, c)
        assert addrs["eth2"] == gw[c]["IPv4Address"].split("/")[0], addrs
        assert len(default) == 1 and default[0]["dev"] == "eth2", default
        assert _egress(h1, c)

        # disconnect the last overlay -> unplugged, no way out again
        h1.cove("network", "disconnect", "hot-ov", c)
        assert c not in _gw_containers(h1)
        addrs, default = _state(h1, c)
        assert set(addrs) == {"eth0"} and default == [], (addrs, default)
        assert not _egress(h1, c)
    finally:
        h1.cove("rm", "-f", c, check=False)
        h1.containers.discard(c)
    assert c not in _gw_containers(h1)
    for n in ("hot-ov", "hot-br", "hot-int"):
        h1.cove("network", "rm", n)
