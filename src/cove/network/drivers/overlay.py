"""The ``overlay`` driver's data plane: one VXLAN segment per network, across hosts.

Per overlay network with at least one local endpoint, a sandbox netns
``<netns_dir>/ov-<netid12>`` holds ``br0`` (with the gateway address) and ``vxlan0``
(:mod:`cove.kernel.vxlan`). It is made lazily by the first local ``join`` and removed
with the last ``leave``. Each endpoint is a veth from ``br0`` into the container's
sandbox, at the overlay MTU (underlay MTU - 50).

Remote endpoints come from the cluster's peer table (``apply_peers``, ``reconcile``)
as static neighbour + FDB entries; ``fence`` takes the overlay down while this node
has lost its cluster lease. The VNI is the network option
``com.docker.network.driver.overlay.vxlanid_list`` (as Docker names it), set from the
global network record. Control plane (etcd) wiring lives in :mod:`cove.cluster`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable

from cove.errors import CoveError, InvalidParameter, KernelError
from cove.kernel import netns, vxlan
from cove.kernel.netlink import IfaceConfig
from cove.network import ipam
from cove.network.drivers.base import NetworkDriver
from cove.network.model import Endpoint, Network, Sandbox

log = logging.getLogger(__name__)

VNI_OPTION = "com.docker.network.driver.overlay.vxlanid_list"
MTU_OPTION = "com.docker.network.driver.mtu"


def vni_of(network: Network) -> int:
    """The network's VNI (from its options)."""
    raw = network.options.get(VNI_OPTION, "")
    try:
        vni = int(str(raw).split(",")[0])
    except ValueError as exc:
        raise InvalidParameter(f"overlay network {network.name} has no valid VNI "
                               f"({VNI_OPTION}={raw!r})") from exc
    if not 1 <= vni < (1 << 24):
        raise InvalidParameter(f"overlay network {network.name}: VNI {vni} out of range")
    return vni


class OverlayDriver(NetworkDriver):
    name = "overlay"

    def __init__(self, netns_dir: str, vtep_ip: str, underlay_if: str,
                 host_netns: str | None = None) -> None:
        self.netns_dir = netns_dir
        self.vtep_ip = vtep_ip
        self.underlay_if = underlay_if
        self.host_netns = host_netns        # None: the daemon's own namespace
        self._lock = threading.RLock()
        self._local: dict[str, set[str]] = {}    # network id -> local endpoint ids
        self._mtu: dict[str, int] = {}
        self.fenced = False

    def sandbox_path(self, net_id: str) -> str:
        return os.path.join(self.netns_dir, f"ov-{net_id[:12]}")

    def mtu(self, network: Network) -> int:
        """The overlay MTU: underlay - 50, or the network's smaller ``MTU_OPTION``."""
        m = self._mtu.get(network.id) or vxlan.overlay_mtu(
            vxlan.underlay_mtu(self.underlay_if, self.host_netns))
        opt = network.options.get(MTU_OPTION, "")
        return min(m, int(opt)) if str(opt).isdigit() and int(opt) > 0 else m

    # -- sandbox lifecycle
    def _ensure_sandbox(self, network: Network) -> str:
        path = self.sandbox_path(network.id)
        if netns.is_netns_mounted(path):
            return path
        vni = vni_of(network)
        netns.create_netns(path)
        try:
            gw = f"{network.gateway}/{ipam.prefixlen(network.subnet)}" if network.gateway else ""
            self._mtu[network.id] = vxlan.create_vxlan_sandbox(
                path, vni, self.vtep_ip, self.underlay_if, self.host_netns, gw)
            if self.fenced:
                vxlan.set_overlay_links(path, up=False)
        except CoveError:
            netns.delete_netns(path)
            raise
        return path

    def _drop_sandbox(self, net_id: str) -> None:
        path = self.sandbox_path(net_id)
        errors = []
        for step in (vxlan.destroy_vxlan_sandbox, netns.delete_netns):
            try:
                step(path)
            except CoveError as exc:
                errors.append(str(exc))
        self._mtu.pop(net_id, None)
        if errors:
            raise KernelError("; ".join(errors))

    def create_network(self, network: Network) -> None:
        vni_of(network)     # validate only: the sandbox is made by the first local join

    def delete_network(self, network: Network) -> None:
        with self._lock:
            self._local.pop(network.id, None)
            self._drop_sandbox(network.id)

    # -- endpoints
    def join(self, network: Network, endpoint: Endpoint, sandbox: Sandbox) -> IfaceConfig:
        if not sandbox.netns_path:
            raise KernelError(f"cannot join endpoint {endpoint.id[:12]}: sandbox has no netns")
        with self._lock:
            path = self._ensure_sandbox(network)
            try:
                vxlan.attach_endpoint(path, endpoint.host_ifname, sandbox.netns_path,
                                      endpoint.ifname, self.mtu(network), endpoint.mac)
            except CoveError:
                if not self._local.get(network.id):
                    self._drop_sandbox(network.id)
                raise
            self._local.setdefault(network.id, set()).add(endpoint.id)
        # no default route: egress goes through the local gateway bridge (not here)
        return IfaceConfig(name=endpoint.ifname, final_name=endpoint.ifname, ip=endpoint.ip,
                           prefixlen=endpoint.prefixlen, mac="", gateway="", mtu=0)

    def leave(self, network: Network, endpoint: Endpoint, sandbox: Sandbox) -> None:
        with self._lock:
            path = self.sandbox_path(network.id)
            errors = []
            if endpoint.host_ifname:
                try:
                    vxlan.detach_endpoint(path, endpoint.host_ifname)
                except CoveError as exc:
                    errors.append(str(exc))
            local = self._local.get(network.id, set())
            local.discard(endpoint.id)
            if not local:
                self._local.pop(network.id, None)
                try:
                    self._drop_sandbox(network.id)
                except CoveError as exc:
                    errors.append(str(exc))
            if errors:
                raise KernelError("; ".join(errors))

    # -- remote peers (fed by cove.cluster.peers)
    def apply_peers(self, net_id: str, add: Iterable[vxlan.PeerEntry],
                    remove: Iterable[vxlan.PeerEntry]) -> None:
        """Program changes for one network; nothing to do without a local sandbox."""
        path = self.sandbox_path(net_id)
        if netns.is_netns_mounted(path):
            vxlan.program_peers(path, add=add, remove=remove)

    def reconcile(self, net_id: str, desired: set[vxlan.PeerEntry]) -> int:
        """Repair drift between the kernel and ``desired``; returns entries changed."""
        path = self.sandbox_path(net_id)
        if not netns.is_netns_mounted(path):
            return 0
        have = vxlan.peer_entries(path)
        add, remove = desired - have, have - desired
        vxlan.program_peers(path, add=add, remove=remove)
        return len(add) + len(remove)

    def fence(self, down: bool) -> None:
        """Take every local overlay down (lease lost) or bring it back (re-registered)."""
        with self._lock:
            self.fenced = down
            errors = []
            for net_id in list(self._local):
                try:
                    vxlan.set_overlay_links(self.sandbox_path(net_id), up=not down)
                except CoveError as exc:
                    errors.append(str(exc))
            if errors:
                raise KernelError("; ".join(errors))
