"""Overlay (global-scope) networks in the network controller, backed by the cluster agent.

:class:`OverlayNetworks` is the controller's overlay logic (the controller keeps only thin
hooks): global network records from etcd are cached in the local store (kind
``global_network``) so ``networks()``/``network(ref)`` show them on every host, and keep
showing them while etcd is unreachable; create/remove go through etcd transactions first;
an endpoint's address is claimed in etcd (unique cluster-wide) from container create to
rm; a running endpoint is published under this node's lease (``endpoints/<net>/<ep>``:
ip, mac, vtep, node, container, name, aliases) so peers program neighbour + FDB entries
and DNS records. The data plane is :class:`cove.network.drivers.overlay.OverlayDriver`,
wrapped by :class:`OverlayEndpointDriver` (join = plumb + publish, leave = withdraw +
unplumb). Remote endpoints feed the driver (batched) and the embedded DNS.

Nothing here deletes kernel state because etcd is unreachable: the data plane follows the
last known peer table until the watch reports otherwise.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cove.cluster.peers import Peer
from cove.errors import Conflict, CoveError, Forbidden, InvalidParameter
from cove.kernel import netns, vxlan
from cove.kernel.vxlan import PeerEntry
from cove.model import new_id, now_iso, to_dict
from cove.network import ipam, userdefined
from cove.network.drivers.base import NetworkDriver
from cove.network.drivers.overlay import VNI_OPTION, OverlayDriver
from cove.network.model import Endpoint, Network, Sandbox

if TYPE_CHECKING:
    from cove.cluster.agent import ClusterAgent
    from cove.kernel.netlink import IfaceConfig
    from cove.network.controller import NetworkController

log = logging.getLogger(__name__)

GLOBAL_NETWORK = "global_network"     # local cache of the etcd network records
NO_CLUSTER = "overlay networks need a cluster store: start coved with --cluster-store"
DEFAULT_POOL = ipaddress.IPv4Network("10.0.0.0/8")
POOL_PREFIX = 24


def network_from_record(rec: dict[str, Any]) -> Network:
    """The local view (a :class:`Network`, driver ``overlay``) of an etcd network record."""
    sub = (rec.get("subnets") or [{}])[0]
    cfg: dict[str, Any] = {"Subnet": sub.get("subnet", ""), "Gateway": sub.get("gateway", "")}
    if sub.get("ip_range"):
        cfg["IPRange"] = sub["ip_range"]
    if sub.get("aux"):
        cfg["AuxiliaryAddresses"] = dict(sub["aux"])
    opts = dict(rec.get("options") or {})
    opts[VNI_OPTION] = str(rec.get("vni", ""))
    return Network(id=rec["id"], name=rec.get("name", ""), driver="overlay", bridge="",
                   subnet=sub.get("subnet", ""), gateway=sub.get("gateway", ""),
                   created=rec.get("created", ""), internal=bool(rec.get("internal")),
                   options=opts, labels=dict(rec.get("labels") or {}),
                   ipam={"Driver": "default", "Options": rec.get("ipam_options") or {},
                         "UserSubnet": bool(rec.get("user_subnet")), "Config": [cfg]})


def choose_overlay_subnet(taken: list[str]) -> str:
    """The first /24 of 10.0.0.0/8 overlapping none of ``taken`` (Docker's overlay pool)."""
    used = [ipaddress.ip_network(t, strict=False) for t in taken if t]
    for cand in DEFAULT_POOL.subnets(new_prefix=POOL_PREFIX):
        if not any(cand.overlaps(u) for u in used):
            return str(cand)
    raise Forbidden("could not find an available, non-overlapping IPv4 address pool among "
                    "the defaults to assign to the network")


def reserved_addresses(net: Network) -> set[str]:
    """Addresses of ``net`` no endpoint may claim: gateway, aux addresses, network and
    broadcast."""
    n = ipaddress.IPv4Network(net.subnet)
    out = {str(n.network_address), str(n.broadcast_address)}
    if net.gateway:
        out.add(net.gateway)
    cfg = (net.ipam.get("Config") or [{}])[0] if isinstance(net.ipam, dict) else {}
    out |= set((cfg.get("AuxiliaryAddresses") or {}).values())
    return out


def endpoint_record(ep: Endpoint, vtep: str, node: str, name: str) -> dict[str, Any]:
    return {"ip": ep.ip, "mac": ep.mac, "vtep": vtep, "node": node,
            "container": ep.container_id, "name": name, "aliases": list(ep.aliases)}


def group_entries(peers: list[Peer]) -> dict[str, set[PeerEntry]]:
    out: dict[str, set[PeerEntry]] = {}
    for p in peers:
        if p.ip and p.mac and p.vtep:
            out.setdefault(p.network, set()).add(PeerEntry(p.ip, p.mac, p.vtep))
    return out


class OverlayEndpointDriver(NetworkDriver):
    """The ``overlay`` driver the controller sees: data plane + publication in etcd."""

    name = "overlay"

    def __init__(self, owner: OverlayNetworks) -> None:
        self.owner = owner

    def create_network(self, network: Network) -> None:
        self.owner.driver.create_network(network)

    def delete_network(self, network: Network) -> None:
        self.owner.driver.delete_network(network)

    def join(self, network: Network, endpoint: Endpoint, sandbox: Sandbox) -> IfaceConfig | None:
        return self.owner.join(network, endpoint, sandbox)

    def leave(self, network: Network, endpoint: Endpoint, sandbox: Sandbox) -> None:
        self.owner.leave(network, endpoint, sandbox)


class OverlayNetworks:
    """The controller's overlay networks (one per daemon, with a cluster agent)."""

    def __init__(self, ctrl: NetworkController, agent: ClusterAgent,
                 netns_dir: str | None = None) -> None:
        self.ctrl = ctrl
        self.agent = agent
        self.netns_dir = netns_dir or ctrl.netns_dir      # sandboxes: <netns_dir>/ov-<id12>
        self.driver = OverlayDriver(self.netns_dir, agent.vtep, agent.underlay_if)
        self.adapter = OverlayEndpointDriver(self)
        # set by the daemon: container id -> its name; DNS refresh after peer changes
        self.describe: Callable[[str], str] = lambda cid: ""
        self.on_dns_change: Callable[[], None] = lambda: None
        # (container, network, ip, node id, node name) of an address held elsewhere
        self.on_conflict: Callable[[str, str, str, str, str], None] = lambda *a: None
        self._running: dict[str, str] = {}       # local published endpoint id -> net id
        self._down: set[str] = set()              # endpoint ids kept down (conflicts)
        self._lock = threading.RLock()
        agent.listener = self
        ctrl.overlay = self

    # -- networks
    def networks(self) -> list[Network]:
        return [network_from_record(d) for d in self.ctrl.store.list(GLOBAL_NETWORK)]

    def networks_changed(self, records: dict[str, dict[str, Any]]) -> None:
        """The watch's full set of global networks: update the local cache. A cached
        network that vanished while local endpoints use it is kept (and logged)."""
        store = self.ctrl.store
        gone = []
        with self._lock:
            used = {e.network_id for e in self.ctrl.all_endpoints()}
            with store.transaction():
                for net_id, rec in records.items():
                    if "id" in rec and store.get(GLOBAL_NETWORK, net_id) != rec:
                        store.put(GLOBAL_NETWORK, net_id, rec)
                for d in store.list(GLOBAL_NETWORK):
                    if d["id"] in records:
                        continue
                    if d["id"] in used:
                        log.warning("overlay network %s was removed from the cluster store "
                                    "but has local endpoints: kept", d.get("name"))
                        continue
                    store.delete(GLOBAL_NETWORK, d["id"])
                    gone.append(d["id"])
            for net_id in gone:
                self._drop_sandbox(net_id)

    def _drop_sandbox(self, net_id: str) -> None:
        try:
            self.driver.delete_network(Network(id=net_id, name=net_id, driver="overlay"))
        except CoveError as exc:
            log.warning("overlay sandbox of %s: %s", net_id[:12], exc.message)

    def create(self, name: str, subnet: str = "", gateway: str = "", internal: bool = False,
               options: dict[str, str] | None = None, labels: dict[str, str] | None = None,
               ip_range: str = "", aux_addresses: dict[str, str] | None = None,
               ipam_options: dict[str, str] | None | bool = False) -> Network:
        """Create a global overlay network (etcd first, then the local cache)."""
        if not name:
            raise InvalidParameter("network name is required")
        user_subnet = bool(subnet)
        if subnet:
            subnet = ipam.parse_subnet(subnet)
        if gateway:
            ipam.check_gateway(gateway, subnet)
        local = [n for n in self.ctrl.networks() if n.driver != "overlay"]
        if any(n.name == name for n in local):
            raise Conflict(f"network with name {name} already exists")
        self.agent.require()
        opts = {k: v for k, v in (options or {}).items() if k != VNI_OPTION}
        ipam_opts = {} if ipam_options is False else ipam_options
        for _ in range(64):
            sub = subnet or choose_overlay_subnet(
                [n.subnet for n in self.ctrl.networks()]
                + self.ctrl.nl.host_networks(exclude_links=set()))
            gw_addr = gateway or ipam.gateway_for(sub)
            extras = userdefined.ipam_extras(sub, gw_addr, ip_range, aux_addresses)
            rec = {"name": name, "driver": "overlay", "created": now_iso(),
                   "subnets": [{"subnet": sub, "gateway": gw_addr,
                                "ip_range": extras.get("IPRange", ""),
                                "aux": extras.get("AuxiliaryAddresses", {})}],
                   "internal": internal, "labels": dict(labels or {}), "options": opts,
                   "ipam_options": ipam_opts, "user_subnet": user_subnet,
                   "attachable": True}
            try:
                rec = self.agent.networks.create(new_id(), name, rec)
                break
            except Conflict as exc:
                if subnet or "overlaps" not in exc.message:
                    raise
                with self._lock:            # another host took that subnet: refresh, retry
                    self.networks_changed({r["id"]: r for r in self.agent.networks.list()})
            except CoveError as exc:
                raise self.agent.wrap(exc) from exc
        else:
            raise Forbidden("could not find an available subnet for the overlay network")
        try:
            self.ctrl.store.put(GLOBAL_NETWORK, rec["id"], rec)
        except BaseException:
            try:
                self.agent.networks.delete(rec["id"])
            except CoveError as exc:
                log.warning("rollback of overlay network %s: %s", name, exc.message)
            raise
        log.info("overlay network %s (%s) created, VNI %s, subnet %s", name, rec["id"][:12],
                 rec["vni"], rec["subnets"][0]["subnet"])
        return network_from_record(rec)

    def remove(self, net: Network) -> None:
        """Delete the global network (refused while endpoints exist anywhere)."""
        self.agent.require()
        try:
            self.agent.networks.delete(net.id)
        except Conflict as exc:
            raise Forbidden(exc.message) from exc
        except CoveError as exc:
            raise self.agent.wrap(exc) from exc
        with self._lock:
            self.ctrl.store.delete(GLOBAL_NETWORK, net.id)
            self._drop_sandbox(net.id)

    # -- endpoints (address claim: container create .. rm)
    def new_endpoint(self, net: Network, container_id: str, ifname: str = "eth0",
                     ip: str = "", aliases: list[str] | tuple[str, ...] = (),
                     mac: str = "", links: list[str] | tuple[str, ...] = (),
                     driver_opts: dict[str, str] | None = None, ip6: str = "",
                     link_local_ips: list[str] | tuple[str, ...] = (),
                     **other: Any) -> Endpoint:
        """Claim an address of ``net`` in etcd and persist the endpoint locally."""
        if ip6 or link_local_ips:
            raise InvalidParameter(f"IPv6 addresses are not supported on overlay network "
                                   f"{net.name}")
        if other:
            log.debug("overlay endpoint: options ignored: %s", sorted(other))
        mac = userdefined.check_mac(mac)
        if any(e.container_id == container_id for e in self.ctrl.network_endpoints(net.id)):
            raise Conflict(f"endpoint with name {container_id[:12]} already exists in network"
                           f" {net.name}")
        reserved = reserved_addresses(net)
        if ip:
            try:
                ipaddress.IPv4Address(ip)
            except ValueError as exc:
                raise InvalidParameter(f"invalid IPv4 address: {ip}") from exc
            if ip in reserved:
                raise Conflict(f"Address already in use: {ip}")
        self.agent.require()
        ep_id = new_id()
        cfg = (net.ipam.get("Config") or [{}])[0]
        pool = ip and net.subnet or cfg.get("IPRange") or net.subnet
        try:
            addr = self.agent.ipam.claim(net.id, pool, ep_id, ip, reserved)
        except CoveError as exc:
            raise self.agent.wrap(exc) from exc
        ep = Endpoint(id=ep_id, network_id=net.id, container_id=container_id, ifname=ifname,
                      host_ifname=_veth_name(), ip=addr, prefixlen=ipam.prefixlen(net.subnet),
                      mac=mac or ipam.mac_for_ip(addr), gateway="",
                      aliases=[a for a in aliases if a], requested_ip=ip, links=list(links),
                      driver_opts=dict(driver_opts or {}))
        try:
            self.ctrl.store.put("endpoint", ep.id, to_dict(ep))
        except BaseException:
            self._release(net.id, addr)
            raise
        return ep

    def _release(self, net_id: str, ip: str) -> None:
        try:
            self.agent.ipam.release(net_id, ip)
        except CoveError as exc:     # reconcile frees it later (claims without endpoint)
            log.warning("cannot release %s on %s now: %s", ip, net_id[:12], exc.message)

    def endpoint_deleted(self, ep: Endpoint) -> None:
        """Container rm: withdraw (if still published) and release the address."""
        self._withdraw(ep)
        self._release(ep.network_id, ep.ip)
        self.agent.conflicts.pop(ep.id, None)
        self._down.discard(ep.id)

    # -- join / leave (container start .. stop)
    def join(self, net: Network, ep: Endpoint, sb: Sandbox) -> IfaceConfig:
        self.agent.require()
        try:          # still ours? (reaped while this node was away: claim it again)
            mine = self.agent.ipam.reclaim(net.id, ep.ip, ep.id)
        except CoveError as exc:
            raise self.agent.wrap(exc) from exc
        if not mine:
            raise Conflict(f"Address already in use: {ep.ip} is claimed by another node on "
                           f"network {net.name}")
        self.agent.conflicts.pop(ep.id, None)
        with self._lock:
            cfg = self.driver.join(net, ep, sb)
            self._running[ep.id] = net.id         # before publishing (see reconcile)
            try:
                self._sync_network(net.id)
                self.agent.publish(self.agent.keys.endpoint(net.id, ep.id), self._record(ep))
            except BaseException:
                self._running.pop(ep.id, None)
                try:
                    self.driver.leave(net, ep, sb)
                except CoveError as exc:
                    log.warning("rollback of %s: %s", ep.id[:12], exc.message)
                raise
        return cfg

    def leave(self, net: Network, ep: Endpoint, sb: Sandbox) -> None:
        with self._lock:
            self._withdraw(ep)
            self._running.pop(ep.id, None)
            self._down.discard(ep.id)
            self.driver.leave(net, ep, sb)

    def sandbox_gone(self, container_id: str) -> list[str]:
        """Before a container's sandbox is deleted: leave its overlay endpoints."""
        errors = []
        nets = {n.id: n for n in self.networks()}
        for ep in self.ctrl.endpoints(container_id):
            net = nets.get(ep.network_id)
            if net is None or ep.id not in self._running and not self._local(ep):
                continue
            try:
                self.leave(net, ep, Sandbox("", container_id, None))
            except CoveError as exc:
                errors.append(exc.message)
        return errors

    def _local(self, ep: Endpoint) -> bool:
        return ep.id in self.driver._local.get(ep.network_id, set())

    def _record(self, ep: Endpoint) -> dict[str, Any]:
        return endpoint_record(ep, self.agent.vtep, self.agent.node_id,
                               self.describe(ep.container_id))

    def _withdraw(self, ep: Endpoint) -> None:
        if ep.id not in self._running:
            return
        try:
            self.agent.client.delete(self.agent.keys.endpoint(ep.network_id, ep.id))
        except CoveError as exc:     # lease-bound: it goes with the lease at worst
            log.warning("cannot withdraw endpoint %s now: %s", ep.id[:12], exc.message)

    # -- agent callbacks
    def local_claims(self) -> list[tuple[str, str, str]]:
        nets = {n.id for n in self.networks()}
        return [(e.network_id, e.ip, e.id) for e in self.ctrl.all_endpoints()
                if e.network_id in nets and e.ip]

    def has_running_endpoints(self) -> bool:
        return bool(self._running)

    def publish_all(self) -> None:
        """(Re-)publish every running local endpoint (after (re-)registering)."""
        eps = {e.id: e for e in self.ctrl.all_endpoints()}
        with self._lock:
            running = dict(self._running)
        for ep_id, net_id in running.items():
            ep = eps.get(ep_id)
            if ep is None or ep_id in self.agent.conflicts:
                continue
            self.agent.publish(self.agent.keys.endpoint(net_id, ep_id), self._record(ep))
            if ep_id in self._down:
                self._set_endpoint(ep, up=True)

    def claim_conflict(self, net_id: str, ip: str, ep_id: str, owner: str) -> None:
        ep = next((e for e in self.ctrl.all_endpoints() if e.id == ep_id), None)
        if ep is not None and ep_id in self._running:
            self._set_endpoint(ep, up=False)
        if ep is not None:
            self.on_conflict(ep.container_id, net_id, ip, owner, self.agent.node_name(owner))

    def _set_endpoint(self, ep: Endpoint, up: bool) -> None:
        try:
            vxlan.set_endpoint_link(self.driver.sandbox_path(ep.network_id), ep.host_ifname, up)
        except CoveError as exc:
            log.error("endpoint %s: %s", ep.id[:12], exc.message)
            return
        (self._down.discard if up else self._down.add)(ep.id)

    def fence(self, down: bool) -> None:
        try:
            self.driver.fence(down)
        except CoveError as exc:            # partial: logged, the rest was done
            log.error("overlay fence(%s): %s", down, exc.message)
        log.warning("overlay data plane %s", "fenced (vxlan links down)" if down else
                    "unfenced (vxlan links up)")

    def peers_changed(self, added: list[Peer], removed: list[Peer]) -> None:
        add, rem = group_entries(added), group_entries(removed)
        for net_id in set(add) | set(rem):
            try:
                self.driver.apply_peers(net_id, add.get(net_id, set()),
                                        rem.get(net_id, set()))
            except CoveError as exc:
                log.warning("overlay peers of %s: %s", net_id[:12], exc.message)
                self.agent._reconcile_due = True
        self._dns_changed()

    def _dns_changed(self) -> None:
        try:
            self.on_dns_change()
        except Exception:  # noqa: BLE001 - never break the watch thread
            log.exception("DNS refresh after a peer change")

    def _sync_network(self, net_id: str) -> int:
        """Make the sandbox's peers those of the table; before the watch's first list
        the table is not the truth yet (after a restart the kernel's entries are kept)."""
        if not self.agent.peers.watcher.synced.is_set():
            return 0
        desired = group_entries(self.agent.peers.for_network(net_id)).get(net_id, set())
        return self.driver.reconcile(net_id, desired)

    def reconcile(self) -> None:
        """Repair drift of every local sandbox; free claims of this node that no local
        endpoint holds any more (a release that failed while etcd was down)."""
        if not self.agent.peers.watcher.synced.is_set():
            self.agent._reconcile_due = True          # after the watch's first list
            return
        for net_id in list(self.driver._local):
            try:
                n = self._sync_network(net_id)
                if n:
                    log.info("overlay %s: reconcile repaired %d entries", net_id[:12], n)
            except CoveError as exc:
                log.warning("overlay reconcile of %s: %s", net_id[:12], exc.message)
        mine = {(e.network_id, e.ip) for e in self.ctrl.all_endpoints()}
        try:
            kvs, _ = self.agent.client.range(self.agent.keys.ipams(), prefix=True)
            eps, _ = self.agent.client.range(self.agent.keys.endpoints(), prefix=True)
        except CoveError:
            return
        for kv in eps:      # records of ours no running endpoint backs (died while down)
            parts = self.agent.keys.split(kv.key)
            if (len(parts) == 3 and kv.json().get("node") == self.agent.node_id
                    and parts[2] not in self._running):
                log.info("withdrawing stale endpoint record %s", parts[2][:12])
                try:
                    self.agent.client.delete(kv.key)
                except CoveError as exc:
                    log.warning("cannot withdraw %s: %s", parts[2][:12], exc.message)
        for kv in kvs:
            parts = self.agent.keys.split(kv.key)
            if len(parts) != 3 or kv.json().get("node") != self.agent.node_id:
                continue
            if (parts[1], parts[2]) not in mine:
                log.info("releasing stale claim %s on %s", parts[2], parts[1][:12])
                self._release(parts[1], parts[2])
        self._dns_changed()

    # -- daemon start
    def start(self, keep_containers: set[str]) -> None:
        """Re-adopt running containers' overlay endpoints (their sandboxes survived the
        restart) and remove overlay sandboxes no running container uses."""
        os.makedirs(self.netns_dir, mode=0o711, exist_ok=True)
        nets = {n.id: n for n in self.networks()}
        used: set[str] = set()
        for ep in self.ctrl.all_endpoints():
            net = nets.get(ep.network_id)
            if net is None or ep.container_id not in keep_containers:
                continue
            if netns.is_netns_mounted(self.driver.sandbox_path(net.id)):
                self.driver._local.setdefault(net.id, set()).add(ep.id)
                self._running[ep.id] = net.id
                used.add(os.path.basename(self.driver.sandbox_path(net.id)))
        for name in netns.list_netns(self.netns_dir):
            if not name.startswith("ov-") or name in used:
                continue
            path = os.path.join(self.netns_dir, name)
            try:
                vxlan.destroy_vxlan_sandbox(path)
                netns.delete_netns(path)
            except CoveError as exc:
                log.warning("orphan overlay sandbox %s: %s", name, exc.message)
        if self._running:
            log.info("re-adopted %d overlay endpoints", len(self._running))

    # -- DNS
    def remote_dns(self) -> list[tuple[str, str, str, list[str]]]:
        """(container, network id, ip, names) of remote endpoints on known networks."""
        nets = {n.id for n in self.networks()}
        out = []
        with self.agent.peers._lock:
            peers = list(self.agent.peers.peers.values())
        for p in peers:
            if p.network in nets and p.ip:
                names = [x for x in (p.name, *p.aliases, p.container[:12]) if x]
                out.append((p.container or p.endpoint, p.network, p.ip, names))
        return out

    def info(self) -> dict[str, Any]:
        return {"NodeID": self.agent.node_id, "State": self.agent.state,
                "Error": self.agent.error, "Nodes": self.agent.nodes(),
                "Conflicts": dict(self.agent.conflicts)}


def _veth_name() -> str:
    from cove.network.controller import host_veth_name
    return host_veth_name()

