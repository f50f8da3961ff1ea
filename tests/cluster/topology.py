"""Simulated hosts for overlay tests and benchmarks: namespaces on a fabric bridge.

``build_hosts(d, names, mtu)`` makes, under directory ``d``, a fabric netns with bridge
``ulbr`` and one netns per host with ``eth0`` (192.0.2.N/24, MTU ``mtu``) wired to it,
plus an overlay sandbox ``ov<H>`` and a container ``c<H>`` netns per host (empty).
Nothing is created in the root namespace. ``teardown`` removes everything.
"""

from __future__ import annotations

import os

from pyroute2 import IPRoute

from cove.kernel import netns, vxlan
from cove.kernel.syscalls import run_in_netns


def _wire_host(fabric: str, host: str, port: str, ip: str, mtu: int) -> None:
    fd = os.open(host, os.O_RDONLY)

    def in_fabric() -> None:
        with IPRoute() as ipr:
            ipr.link("add", ifname=port, kind="veth", peer={"ifname": "eth0", "net_ns_fd": fd})
            ipr.link("set", index=ipr.link_lookup(ifname=port)[0], mtu=mtu,
                     master=ipr.link_lookup(ifname="ulbr")[0], state="up")

    try:
        run_in_netns(fabric, in_fabric)
    finally:
        os.close(fd)

    def in_host() -> None:
        with IPRoute() as ipr:
            idx = ipr.link_lookup(ifname="eth0")[0]
            ipr.link("set", index=idx, mtu=mtu, state="up")
            ipr.addr("add", index=idx, address=ip, prefixlen=24)
            ipr.link("set", index=1, state="up")

    run_in_netns(host, in_host)


def build_hosts(d: str, hosts: list[str], mtu: int = 1500) -> dict[str, str]:
    """Paths of the namespaces: "fabric", "h<H>", "ov<H>", "c<H>" for each host H.
    Host number i (from 1) has underlay address 192.0.2.i."""
    sfx = os.urandom(3).hex()
    keys = ["fabric"] + [f"{k}{h}" for h in hosts for k in ("h", "ov", "c")]
    ns = {k: os.path.join(d, f"cove-t{k}-{sfx}") for k in keys}
    made = []
    try:
        for path in ns.values():
            netns.create_netns(path)
            made.append(path)

        def fabric_bridge() -> None:
            with IPRoute() as ipr:
                ipr.link("add", ifname="ulbr", kind="bridge")
                ipr.link("set", index=ipr.link_lookup(ifname="ulbr")[0], state="up")

        run_in_netns(ns["fabric"], fabric_bridge)
        for i, h in enumerate(hosts, 1):
            _wire_host(ns["fabric"], ns[f"h{h}"], f"p{h}", f"192.0.2.{i}", mtu)
    except BaseException:
        teardown(ns)
        raise
    return ns


def teardown(ns: dict[str, str]) -> None:
    """Remove every namespace of the topology (overlay sandboxes first)."""
    for key, path in ns.items():
        if key.startswith("ov"):
            vxlan.destroy_vxlan_sandbox(path)
    for path in ns.values():
        netns.delete_netns(path)
