"""VXLAN overlay plumbing: the per-network sandbox, endpoint veths, static peer entries.

An overlay network's sandbox is a network namespace holding ``br0`` and ``vxlan0``
(VNI of the network, UDP port 4789, ``nolearning proxy``). The VXLAN device is created
in the host's namespace, where its UDP socket stays bound to the underlay, then moved
into the sandbox. Its MTU, and the bridge's, is the underlay interface's MTU minus 50.

Remote endpoints are static entries on ``vxlan0``: a permanent neighbour (IP → MAC,
answered locally by ``proxy``) and a permanent FDB entry (MAC → remote VTEP). They are
written in batches inside the sandbox (:mod:`cove.kernel.neighbatch`: many requests
per send on one netlink socket); links are made with pyroute2.
Namespace work runs on short-lived threads (:func:`cove.kernel.syscalls.run_in_netns`).
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from cove.errors import KernelError
from cove.kernel.neighbatch import NUD_PERMANENT, NeighBatch
from cove.kernel.netlink import RawRtnl
from cove.kernel.syscalls import run_in_netns

VXLAN_PORT = 4789
OVERHEAD_V4 = 50           # outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14
BRIDGE, VXLAN = "br0", "vxlan0"

T = TypeVar("T")


@dataclass(frozen=True)
class PeerEntry:
    """A remote endpoint as kernel state: its IP and MAC, behind VTEP ``vtep``."""

    ip: str
    mac: str
    vtep: str


def _in(netns_path: str | None, fn: Callable[[], T]) -> T:
    """Run ``fn`` in ``netns_path`` (on a fresh thread), or here when it is None."""
    return fn() if netns_path is None else run_in_netns(netns_path, fn)


def _idx(ipr: IPRoute, name: str, what: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise KernelError(f"{what}: link {name} not found")
    return found[0]


def underlay_mtu(ifname: str, host_netns: str | None = None) -> int:
    """MTU of the underlay interface ``ifname`` (in ``host_netns``, or here)."""
    def body() -> int:
        with IPRoute() as ipr:
            idx = _idx(ipr, ifname, "cannot read the underlay MTU")
            return int(ipr.get_links(idx)[0].get_attr("IFLA_MTU"))
    return _in(host_netns, body)


def overlay_mtu(underlay: int) -> int:
    """The MTU of an overlay on an IPv4 underlay of MTU ``underlay``."""
    return underlay - OVERHEAD_V4


def create_vxlan_sandbox(sandbox: str, vni: int, local_ip: str, underlay_if: str,
                         host_netns: str | None = None, gateway_cidr: str = "",
                         port: int = VXLAN_PORT) -> int:
    """Plumb ``br0`` + ``vxlan0`` into the existing netns at ``sandbox``; returns the MTU.

    The VXLAN device is created in ``host_netns`` (default: the caller's namespace),
    bound to ``local_ip`` on ``underlay_if``, then moved. ``gateway_cidr`` ("10.0.0.1/24"),
    if given, goes on ``br0``. On failure nothing of it is left behind.
    """
    tmp = "cvx" + os.urandom(5).hex()[:9]
    what = f"cannot create VXLAN {vni} for overlay sandbox {os.path.basename(sandbox)}"

    def host_part() -> int:
        with IPRoute() as ipr:
            try:
                uidx = _idx(ipr, underlay_if, what)
                mtu = overlay_mtu(int(ipr.get_links(uidx)[0].get_attr("IFLA_MTU")))
                ipr.link("add", ifname=tmp, kind="vxlan", vxlan_id=vni, vxlan_port=port,
                         vxlan_local=local_ip, vxlan_link=uidx, vxlan_learning=0,
                         vxlan_proxy=1, mtu=mtu)
            except NetlinkError as exc:
                raise KernelError(f"{what}: {exc}") from exc
            try:
                fd = os.open(sandbox, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    ipr.link("set", index=_idx(ipr, tmp, what), net_ns_fd=fd)
                finally:
                    os.close(fd)
            except (OSError, NetlinkError) as exc:
                _delete_links(ipr, [tmp])
                raise KernelError(f"{what}: cannot move it into the sandbox: {exc}") from exc
            return mtu

    mtu = _in(host_netns, host_part)

    def sandbox_part() -> None:
        with IPRoute() as ipr:
            try:
                ipr.link("set", index=1, state="up")
                ipr.link("add", ifname=BRIDGE, kind="bridge", mtu=mtu)
                br = _idx(ipr, BRIDGE, what)
                vx = _idx(ipr, tmp, what)
                ipr.link("set", index=vx, ifname=VXLAN)
                ipr.link("set", index=vx, master=br, state="up")
                if gateway_cidr:
                    ip, _, plen = gateway_cidr.partition("/")
                    ipr.addr("add", index=br, address=ip, prefixlen=int(plen))
                ipr.link("set", index=br, state="up")
            except (NetlinkError, KernelError) as exc:
                _delete_links(ipr, [tmp, VXLAN, BRIDGE])
                if isinstance(exc, KernelError):
                    raise
                raise KernelError(f"{what}: {exc}") from exc

    run_in_netns(sandbox, sandbox_part)
    return mtu


def _delete_links(ipr: IPRoute, names: Iterable[str]) -> list[str]:
    errors = []
    for name in names:
        try:
            found = ipr.link_lookup(ifname=name)
            if found:
                ipr.link("del", index=found[0])
        except NetlinkError as exc:
            if exc.code not in (errno.ENODEV, errno.ENOENT):
                errors.append(f"{name}: {exc}")
    return errors


def destroy_vxlan_sandbox(sandbox: str) -> None:
    """Delete ``vxlan0`` and ``br0`` in the sandbox at once (frees the VNI on the host's
    socket before the namespace itself goes). A missing sandbox or link is fine."""
    if not os.path.exists(sandbox):
        return

    def body() -> list[str]:
        with IPRoute() as ipr:
            return _delete_links(ipr, [VXLAN, BRIDGE])

    errors = run_in_netns(sandbox, body)
    if errors:
        raise KernelError(f"cannot tear down overlay sandbox {sandbox}: {'; '.join(errors)}")


def attach_endpoint(sandbox: str, host_ifname: str, container_netns: str, peer_name: str,
                    mtu: int, mac: str) -> None:
    """A veth whose one end is a port of the sandbox's ``br0`` and whose peer is born in
    ``container_netns`` as ``peer_name`` with ``mac`` and ``mtu`` (one netlink message)."""
    what = f"cannot attach {host_ifname} to overlay sandbox {os.path.basename(sandbox)}"
    try:
        fd = os.open(container_netns, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise KernelError(f"{what}: {exc}") from exc

    def body() -> None:
        try:
            br = socket.if_nametoindex(BRIDGE)
        except OSError as exc:
            raise KernelError(f"{what}: no {BRIDGE}") from exc
        rt = RawRtnl()
        try:
            rt.add_veth(host_ifname, br, fd, peer_name, mtu, mac, what)
        finally:
            rt.close()

    try:
        run_in_netns(sandbox, body)
    finally:
        os.close(fd)


def detach_endpoint(sandbox: str, host_ifname: str) -> None:
    """Delete the endpoint's veth (both ends go); gone is fine."""
    if not os.path.exists(sandbox):
        return

    def body() -> list[str]:
        with IPRoute() as ipr:
            return _delete_links(ipr, [host_ifname])

    errors = run_in_netns(sandbox, body)
    if errors:
        raise KernelError(f"cannot detach {host_ifname}: {'; '.join(errors)}")


def program_peers(sandbox: str, add: Iterable[PeerEntry] = (),
                  remove: Iterable[PeerEntry] = ()) -> None:
    """Remove then add static neighbour + FDB entries on ``vxlan0``, in one batch.

    Adds use replace (idempotent); removing what is gone is fine. Every entry is
    attempted; failures are reported together afterwards.
    """
    add, remove = list(add), list(remove)
    if not add and not remove:
        return

    def body() -> list[str]:
        try:
            vx = socket.if_nametoindex(VXLAN)
        except OSError as exc:
            raise KernelError(f"cannot program overlay peers: no {VXLAN}") from exc
        batch = NeighBatch()
        for p in remove:
            batch.neigh(vx, p.ip, p.mac, delete=True)
            batch.fdb(vx, p.mac, p.vtep, delete=True)
        for p in add:
            batch.neigh(vx, p.ip, p.mac)
            batch.fdb(vx, p.mac, p.vtep)
        return batch.commit()

    errors = run_in_netns(sandbox, body)
    if errors:
        raise KernelError(f"cannot program overlay peers in {os.path.basename(sandbox)}: "
                          + "; ".join(errors[:5]) + (" ..." if len(errors) > 5 else ""))


def peer_entries(sandbox: str) -> set[PeerEntry]:
    """The static peers programmed on ``vxlan0``: permanent neighbours joined with the
    FDB entries that carry a remote destination (for drift repair)."""
    def body() -> set[PeerEntry]:
        with IPRoute() as ipr:
            vx = _idx(ipr, VXLAN, "cannot read overlay peers")
            neigh = {m.get_attr("NDA_LLADDR"): m.get_attr("NDA_DST")
                     for m in ipr.get_neighbours(ifindex=vx)
                     if m["state"] & NUD_PERMANENT and m.get_attr("NDA_DST")}
            out = set()
            for m in ipr.fdb("dump", ifindex=vx):
                mac, dst = m.get_attr("NDA_LLADDR"), m.get_attr("NDA_DST")
                if dst and mac in neigh and m["ifindex"] == vx:
                    out.add(PeerEntry(neigh[mac], mac, dst))
            return out
    return run_in_netns(sandbox, body)


def set_overlay_links(sandbox: str, up: bool) -> None:
    """Set ``vxlan0`` (the overlay's way out) up or down: fencing takes it down."""
    _set_link(sandbox, VXLAN, up, "cannot fence overlay")


def _set_link(sandbox: str, ifname: str, up: bool, what: str) -> None:
    """Set the link ``ifname`` of the overlay sandbox up or down."""
    def body() -> None:
        with IPRoute() as ipr:
            try:
                ipr.link("set", index=_idx(ipr, ifname, what),
                         state="up" if up else "down")
            except NetlinkError as exc:
                raise KernelError(f"cannot set {ifname} {'up' if up else 'down'} in "
                                  f"{os.path.basename(sandbox)}: {exc}") from exc
    run_in_netns(sandbox, body)


def resolve_underlay(advertise: str, host_netns: str | None = None) -> tuple[str, str]:
    """``--cluster-advertise`` → (VTEP IPv4, underlay interface).

    ``advertise`` is an IPv4 address (the interface carrying it is the underlay) or an
    interface name (its first IPv4 address is the VTEP).
    """
    import ipaddress

    def body() -> tuple[str, str]:
        with IPRoute() as ipr:
            names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in ipr.get_links()}
            addrs = [(m["index"], m.get_attr("IFA_ADDRESS"))
                     for m in ipr.get_addr(family=socket.AF_INET)]
        try:
            ipaddress.IPv4Address(advertise)
        except ValueError:
            idx = next((i for i, n in names.items() if n == advertise), None)
            if idx is None:
                raise KernelError(f"cluster advertise: no interface or IPv4 address "
                                  f"{advertise!r}") from None
            ip = next((a for i, a in addrs if i == idx), None)
            if ip is None:
                raise KernelError(f"cluster advertise: interface {advertise} has no IPv4 "
                                  "address") from None
            return ip, advertise
        for i, a in addrs:
            if a == advertise:
                return advertise, names.get(i, "")
        raise KernelError(f"cluster advertise: address {advertise} is not configured on "
                          "any interface of this host")
    return _in(host_netns, body)


def set_endpoint_link(sandbox: str, host_ifname: str, up: bool) -> None:
    """Set one endpoint's port on ``br0`` up or down (an address conflict keeps it down)."""
    _set_link(sandbox, host_ifname, up, "cannot set endpoint link")
