"""The network controller (libnetwork's role): networks, endpoints and sandboxes.

The store is the truth; kernel state is derived from it. :meth:`NetworkController.start`
makes sure the predefined networks exist (``bridge``, ``host``, ``none``) and reconciles
the kernel: bridges up with their gateway address, ip_forward on, cove's nftables table,
orphan netns files and veths removed. Endpoints (an address lease + a veth name) live
from container create to container rm; a sandbox (a netns with the endpoints plumbed)
lives while the container runs. Every multi-step operation rolls back on failure.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from cove.errors import (
    Conflict,
    CoveError,
    Forbidden,
    InvalidParameter,
    KernelError,
    NotFound,
)
from cove.kernel import netns, nft, sysctl
from cove.kernel.netlink import IfaceConfig, Netlink, configure_sandbox
from cove.model import from_dict, new_id, now_iso, to_dict
from cove.network import firewall, fwinc, gwbridge, hostfw, ipam, ipv6, userdefined
from cove.network.drivers.base import NetworkDriver
from cove.network.drivers.bridge import BridgeDriver
from cove.network.drivers.host import HostDriver
from cove.network.drivers.null import NullDriver
from cove.network.model import Endpoint, Network, Sandbox
from cove.network.portmap import PortMapper
from cove.store.sqlite import Store

log = logging.getLogger(__name__)

NETWORK, ENDPOINT, SANDBOX = "network", "endpoint", "sandbox"
PREDEFINED = ("bridge", "host", "none")
VETH_PREFIX = "veth"
REAP_DELAY = 1.0   # seconds before leftover host veths of a deleted sandbox are deleted


def host_veth_name() -> str:
    """A fresh host-side veth name: ``veth`` + 7 hex."""
    return VETH_PREFIX + new_id()[:7]


class NetworkController:
    """The one entry point the engine uses for networking."""

    def __init__(self, store: Store, exec_root: str, bip: str | None = None,
                 default_bridge: str = "cove0", nft_table: str = firewall.TABLE,
                 icc: bool = True) -> None:
        if bip is not None:
            ipam.parse_bip(bip)               # validate early
        self.store = store
        self.exec_root = exec_root
        self.netns_dir = os.path.join(exec_root, "netns")
        self.bip = bip
        self.default_bridge = default_bridge
        self.nft_table = nft_table
        self._lock = threading.RLock()
        self._nl: Netlink | None = None
        self._drivers: dict[str, NetworkDriver] = {}
        self.ports = PortMapper(store, nft_table)      # published ports (issue 3)
        self.icc = icc                                 # coved --icc (default bridge)
        self.overlay = None     # cove.network.overlaynet.OverlayNetworks (--cluster-store)

    # -- plumbing helpers
    @property
    def nl(self) -> Netlink:
        if self._nl is None:
            self._nl = Netlink()
            self._drivers = {"bridge": BridgeDriver(self._nl), "host": HostDriver(),
                             "null": NullDriver()}
        return self._nl

    def driver(self, name: str) -> NetworkDriver:
        _ = self.nl
        if name == "overlay" and self.overlay is not None:
            return self.overlay.adapter
        try:
            return self._drivers[name]
        except KeyError:
            raise NotFound(f"plugin {name!r} not found") from None

    def close(self) -> None:
        if self._nl is not None:
            self._nl.close()
            self._nl = None

    # -- networks
    def networks(self) -> list[Network]:
        nets = [from_dict(Network, d) for d in self.store.list(NETWORK)]
        if self.overlay is not None:                # global networks (issue 7)
            nets += self.overlay.networks()
        return nets

    def network(self, ref: str) -> Network:
        """A network by full id, name, or unique id prefix."""
        nets = self.networks()
        for n in nets:
            if n.id == ref:
                return n
        for n in nets:
            if n.name == ref:
                return n
        matches = [n for n in nets if ref and n.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(
                f"network {ref} is ambiguous ({len(matches)} matches found based on ID prefix)")
        raise NotFound(f"network {ref} not found")

    def _save_network(self, n: Network) -> None:
        self.store.put(NETWORK, n.id, to_dict(n))

    def _ensure_predefined(self) -> None:
        with self._lock, self.store.transaction():
            by_name = {n.name: n for n in self.networks()}
            br = by_name.get("bridge")
            if br is None:
                if self.bip:
                    subnet, gateway = ipam.parse_bip(self.bip)
                else:
                    used = [n.subnet for n in by_name.values() if n.subnet]
                    ours = {n.bridge for n in by_name.values() if n.bridge} | {self.default_bridge}
                    subnet = ipam.choose_subnet(self.nl.host_networks(exclude_links=ours), used)
                    gateway = ipam.gateway_for(subnet)
                br = Network(id=new_id(), name="bridge", driver="bridge",
                             bridge=self.default_bridge, subnet=subnet, gateway=gateway,
                             created=now_iso(), default=True, options={
                                 "com.docker.network.bridge.default_bridge": "true",
                                 "com.docker.network.bridge.enable_icc": "true",
                                 "com.docker.network.bridge.enable_ip_masquerade": "true",
                                 "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                                 "com.docker.network.bridge.name": self.default_bridge,
                                 "com.docker.network.driver.mtu": "1500"})
                self._save_network(br)
            if br.icc != self.icc:            # coved --icc applies to the default bridge
                br.icc = self.icc
                br.options["com.docker.network.bridge.enable_icc"] = str(self.icc).lower()
                self._save_network(br)
            if self.bip:
                subnet, gateway = ipam.parse_bip(self.bip)
                if (subnet, gateway) != (br.subnet, br.gateway):
                    if self.network_endpoints(br.id):
                        log.warning("bip %s ignored: network bridge has endpoints", self.bip)
                    else:
                        old = br.gateway, ipam.prefixlen(br.subnet)
                        br.subnet, br.gateway = subnet, gateway
                        self._save_network(br)
                        self.nl.delete_address(br.bridge, *old)
            for name, drv in (("host", "host"), ("none", "null")):
                if name not in by_name:
                    self._save_network(Network(id=new_id(), name=name, driver=drv,
                                               created=now_iso()))

    def create_network(self, name: str, driver: str = "bridge", subnet: str = "",
                       gateway: str = "", internal: bool = False,
                       options: dict[str, str] | None = None,
                       labels: dict[str, str] | None = None, ip_range: str = "",
                       aux_addresses: dict[str, str] | None = None,
                       check_duplicate: bool = True,
                       ipam_options: dict[str, str] | None | bool = False,
                       enable_ipv6: bool = False, ipv6_pool: dict | None = None) -> Network:
        """Create a user-defined bridge network (bridge ``br-<12hex>`` unless named by
        ``com.docker.network.bridge.name``). Rolls back fully on failure.
        ``check_duplicate=False`` allows a second network of the same name (API 1.41);
        ``ipam_options`` is IPAM.Options as the request gave it (None: null; False: not
        given, shown as ``{}``); ``enable_ipv6``/``ipv6_pool`` (a validated
        :func:`ipv6.pool_entry`): see :mod:`cove.network.ipv6`."""
        options = dict(options or {})
        ipam_opts = {} if ipam_options is False else (
            None if ipam_options is None else dict(ipam_options))
        if not name:
            raise InvalidParameter("network name is required")
        if driver in ("host", "null"):
            raise Forbidden(f'only one instance of "{driver}" network is allowed')
        if driver == "overlay":                     # global scope: cove.network.overlaynet
            if self.overlay is None:
                from cove.network.overlaynet import NO_CLUSTER
                raise InvalidParameter(NO_CLUSTER)
            if enable_ipv6:
                raise InvalidParameter("IPv6 is not supported on overlay networks yet")
            return self.overlay.create(name, subnet, gateway, internal, options, labels,
                                       ip_range, aux_addresses, ipam_options)
        if driver != "bridge":
            raise NotFound(f"plugin \"{driver}\" not found")
        mtu = _int_opt(options, "com.docker.network.driver.mtu", 1500)
        icc = _bool_opt(options, "com.docker.network.bridge.enable_icc", True)
        masq = _bool_opt(options, "com.docker.network.bridge.enable_ip_masquerade", True)
        with self._lock:
            nets = self.networks()
            if any(n.name == name and (check_duplicate or n.default or n.driver != "bridge")
                   for n in nets):
                raise Conflict(f"network with name {name} already exists")
            used = [n.subnet for n in nets if n.subnet]
            user_subnet = bool(subnet)
            if subnet:
                subnet = ipam.parse_subnet(subnet)
                ipam.check_overlap(subnet, used)
            else:
                ours = {n.bridge for n in nets if n.bridge}
                subnet = ipam.choose_subnet(self.nl.host_networks(exclude_links=ours), used)
            if gateway:
                ipam.check_gateway(gateway, subnet)
            else:
                gateway = ipam.gateway_for(subnet)
            nid = new_id()
            subnet6, gateway6, entry6 = ipv6.plan(enable_ipv6, ipv6_pool, nid,
                                                  [n.subnet6 for n in nets])
            bridge = options.get("com.docker.network.bridge.name") or "br-" + nid[:12]
            if len(bridge) > 15 or "/" in bridge or not bridge.isprintable() or " " in bridge:
                raise InvalidParameter(f"invalid bridge name {bridge!r}")
            if any(n.bridge == bridge for n in nets):
                raise Conflict(f"bridge name {bridge} is already used by another network")
            net = Network(id=nid, name=name, driver="bridge", bridge=bridge, subnet=subnet,
                          gateway=gateway, created=now_iso(), internal=internal, mtu=mtu,
                          icc=icc, masquerade=masq,
                          host_binding_ipv4=options.get(
                              "com.docker.network.bridge.host_binding_ipv4", "0.0.0.0"),
                          options=options, labels=dict(labels or {}),
                          ipam={"Driver": "default", "Options": ipam_opts,
                                "UserSubnet": user_subnet,
                                "UserSubnet6": ipv6_pool is not None,
                                "Config": [userdefined.ipam_extras(
                                    subnet, gateway, ip_range, aux_addresses),
                                    *([entry6] if entry6 else [])]},
                          enable_ipv6=enable_ipv6, subnet6=subnet6, gateway6=gateway6)
            drv = self.driver("bridge")
            existed = self.nl.index(bridge) is not None
            self._save_network(net)
            try:
                drv.create_network(net)
                if fwinc.can_add_incrementally(nets):     # O(1) instead of the whole table
                    self._add_network_rules(net, nets)
                else:
                    self.apply_firewall()
            except BaseException:
                self.store.delete(NETWORK, net.id)
                undo = [self.apply_firewall]
                if not existed:                   # never delete a link we did not make
                    undo.insert(0, lambda: drv.delete_network(net))
                _run_all(undo, f"rollback of network {name}")
                raise
        return net

    def remove_network(self, ref: str) -> None:
        """Remove a user-defined network without endpoints (kernel objects included)."""
        with self._lock:
            net = self.network(ref)
            if net.name in PREDEFINED and (net.default or net.driver in ("host", "null")):
                raise Forbidden(f"{net.name} is a pre-defined network and cannot be removed")
            if self.network_endpoints(net.id):
                raise Forbidden(f"error while removing network: network {net.name}"
                                f" id {net.id} has active endpoints")
            if net.driver == "overlay" and self.overlay is not None:
                self.overlay.remove(net)
                return
            self.store.delete(NETWORK, net.id)
            errors: list[str] = []
            for step in (self.apply_firewall, lambda: self.driver(net.driver).delete_network(net)):
                try:
                    step()
                except CoveError as exc:
                    errors.append(exc.message)
            if errors:
                raise KernelError(f"network {net.name} removed with errors: " + "; ".join(errors))

    def apply_firewall(self) -> None:
        """Replace cove's nftables table from the store, in one transaction."""
        with self.ports.lock:
            nets = self.networks()
            nft.run(firewall.render_table(nets, table=self.nft_table, maps=self.ports.maps(),
                                          chains=self.ports.chains(nets),
                                          link_set=self.ports.LINK_SET),
                    what=f"apply nftables table inet {self.nft_table}")
        try:                              # a host FORWARD policy of DROP (issue 3)
            hostfw.sync(n.bridge for n in firewall.bridge_networks(nets))
        except CoveError as exc:
            log.warning("host FORWARD chain: %s", exc.message)

    def _add_network_rules(self, net: Network, existing: list[Network]) -> None:
        """A new network's rules added to the live table (see cove.network.fwinc)."""
        nft.run(fwinc.render_network_add(net, self.nft_table)
                + self.ports.render_network_add(net),      # port datapath (issue 3)
                what=f"add the rules of network {net.name}")
        try:                              # as apply_firewall does
            hostfw.sync(n.bridge for n in firewall.bridge_networks([*existing, net]))
        except CoveError as exc:
            log.warning("host FORWARD chain: %s", exc.message)

    def cluster_info(self) -> dict:
        """``{"store", "advertise", "cove": {node list...}}``; {} without a cluster."""
        if self.overlay is None:
            return {}
        agent = self.overlay.agent
        return {"store": agent.store_spec, "advertise": agent.advertise,
                "cove": self.overlay.info()}

    def remote_dns_entries(self) -> list:
        """DNS entries of overlay endpoints on other hosts (empty without a cluster)."""
        if self.overlay is None:
            return []
        from cove.network.dns import DnsEntry
        names = {n.id: n.name for n in self.overlay.networks()}
        return [DnsEntry(cid, nid, names.get(nid, ""), ip, list(ns))
                for cid, nid, ip, ns in self.overlay.remote_dns()]

    # -- published ports (cove.network.portmap)
    def publish_ports(self, container_id: str, name: str, bindings: dict[str, list[dict]],
                      exposed: dict[str, dict], publish_all: bool,
                      links: list[tuple[str, str, int]] = ()
                      ) -> dict[str, list[dict] | None]:
        """Publish a started container's ports on its bridge endpoint; returns
        NetworkSettings.Ports. Containers without a bridge endpoint publish nothing."""
        for ep in self.endpoints(container_id):
            net = self.network(ep.network_id)
            if net.driver == "bridge" and net.bridge:
                return self.ports.publish(container_id, name, name, net, ep, bindings,
                                          exposed, publish_all, links)
        return {}

    def unpublish_ports(self, container_id: str) -> None:
        self.ports.unpublish(container_id)

    def start(self, keep_sandboxes: set[str]) -> None:
        """Ensure predefined networks, then reconcile the kernel from the store."""
        os.makedirs(self.netns_dir, mode=0o711, exist_ok=True)
        self._ensure_predefined()
        nets = self.networks()
        for n in nets:
            self.driver(n.driver).create_network(n)
        sysctl.ensure("net.ipv4.ip_forward", 1)
        self.ports.restore({d["container_id"] for d in self.store.list(SANDBOX)
                            if d["id"] in keep_sandboxes})
        self.apply_firewall()
        self._remove_orphans(keep_sandboxes, nets)
        if self.overlay is not None:                # re-adopt overlay endpoints
            self.overlay.start({d["container_id"] for d in self.store.list(SANDBOX)
                                if d["id"] in keep_sandboxes})

    def _remove_orphans(self, keep: set[str], nets: list[Network]) -> None:
        keep_short = {s[:12] for s in keep}
        errors: list[str] = []
        for name in netns.list_netns(self.netns_dir):
            if name not in keep_short and not name.startswith("ov-"):   # ov-: overlaynet
                try:
                    netns.delete_netns(os.path.join(self.netns_dir, name))
                except CoveError as exc:
                    errors.append(exc.message)
        kept_containers = set()
        for d in self.store.list(SANDBOX):
            if d["id"] in keep:
                kept_containers.add(d["container_id"])
            else:
                self.store.delete(SANDBOX, d["id"])
        eps = self.store.list(ENDPOINT)
        bridge_of = {n.id: n.bridge for n in nets if n.driver == "bridge" and n.bridge}
        keep_veths = {d["host_ifname"]: bridge_of.get(d["network_id"], "") for d in eps
                      if d["container_id"] in kept_containers}
        known_veths = {d["host_ifname"] for d in eps if d["host_ifname"]}
        bridges = set(bridge_of.values())
        for link in self.nl.links(prefix=VETH_PREFIX):
            try:
                if link.name in keep_veths:
                    # a re-created bridge lost its ports: put kept veths back on it
                    want = keep_veths[link.name]
                    if want and link.master != want:
                        self.nl.set_master(link.name, want)
                elif link.master in bridges or link.name in known_veths:
                    # ours: on a cove bridge, or recorded in the store (a bridge deleted
                    # under it leaves it without a master)
                    self.nl.delete_link(link.name)
            except CoveError as exc:
                errors.append(exc.message)
        for e in errors:
            log.warning("orphan clean-up: %s", e)

    # -- endpoints
    def _endpoint_docs(self) -> list[Endpoint]:
        return [from_dict(Endpoint, d) for d in self.store.list(ENDPOINT)]

    def all_endpoints(self) -> list[Endpoint]:
        return self._endpoint_docs()

    def endpoints(self, container_id: str) -> list[Endpoint]:
        return [e for e in self._endpoint_docs() if e.container_id == container_id]

    def network_endpoints(self, network_id: str) -> list[Endpoint]:
        return [e for e in self._endpoint_docs() if e.network_id == network_id]

    def _mode_network(self, network_mode: str) -> Network | None:
        """The network a container's mode attaches to; None for host/none/container:X."""
        if not network_mode:
            raise InvalidParameter("invalid network mode: empty")
        if network_mode in ("host", "none") or network_mode.startswith("container:"):
            return None
        if network_mode == "default":
            network_mode = "bridge"
        net = self.network(network_mode)
        if net.driver not in ("bridge", "overlay"):
            return None
        return net

    def create_endpoints(self, container_id: str, network_mode: str, ip: str = "",
                         aliases: list[str] | tuple[str, ...] = (), mac: str = "",
                         **extra) -> list[Endpoint]:
        """Reserve an address on the container's network and persist the endpoint
        (``ip``/``aliases``/``mac``: see :func:`userdefined.new_endpoint`)."""
        net = self._mode_network(network_mode)
        if net is None:
            if ip or aliases:
                raise InvalidParameter(userdefined.IP_ON_DEFAULT if ip
                                       else userdefined.ALIAS_ON_DEFAULT)
            return []
        if net.driver == "overlay" and self.overlay is not None:
            with self._lock:
                return [self.overlay.new_endpoint(net, container_id, "eth0", ip, aliases, mac,
                                                  **extra)]
        with self._lock, self.store.transaction():
            ep = userdefined.new_endpoint(self, net, container_id, "eth0", ip, aliases, mac,
                                          **extra)
        return [ep]

    def delete_endpoints(self, container_id: str) -> None:
        """Release the container's leases (deleting what is gone is fine).

        A host veth still on a bridge (its netns kept alive by some process, so the
        kernel has not destroyed the pair yet) is deleted first: the address and the MAC
        derived from it must not be on the bridge twice once the lease is reused."""
        eps = self.endpoints(container_id)
        for e in eps:
            if e.host_ifname and _link_exists(e.host_ifname):
                try:
                    self.nl.delete_link(e.host_ifname)
                except CoveError as exc:
                    log.warning("removing %s: %s", e.host_ifname, exc.message)
        with self._lock, self.store.transaction():
            for e in eps:
                self.store.delete(ENDPOINT, e.id)
        if self.overlay is not None:                # release cluster-wide claims
            overlay_nets = {n.id for n in self.overlay.networks()}
            for e in eps:
                if e.network_id in overlay_nets:
                    self.overlay.endpoint_deleted(e)

    # -- sandboxes
    def sandbox_path(self, sandbox_id: str) -> str:
        return os.path.join(self.netns_dir, sandbox_id[:12])

    def create_sandbox(self, container_id: str, network_mode: str) -> Sandbox:
        """Make the container's netns with lo up and every endpoint plumbed as ethN.

        ``host`` gives ``Sandbox(netns_path=None)``. Full rollback on failure.
        """
        self._mode_network(network_mode)          # validates the mode
        if network_mode.startswith("container:"):
            raise InvalidParameter("network mode container: shares another container's"
                                   " sandbox; it has none of its own")
        sid = new_id()
        if network_mode == "host":
            return Sandbox(id=sid, container_id=container_id, netns_path=None)
        path = self.sandbox_path(sid)
        eps = sorted(self.endpoints(container_id),
                     key=lambda e: userdefined.ifindex(e.ifname))
        nets = {n.id: n for n in self.networks()}
        # overlay-only containers: + an endpoint on cove_gwbridge (egress, ports)
        eps, gw_undo = gwbridge.prepare(self, container_id, eps, nets)
        sb = Sandbox(id=sid, container_id=container_id, netns_path=path, endpoints=eps)
        undo: list[Callable[[], None]] = [gw_undo] if gw_undo else []
        try:
            netns.create_netns(path)
            undo.append(lambda: netns.delete_netns(path))
            configs: list[IfaceConfig] = []
            for i, ep in enumerate(eps):
                net = nets.get(ep.network_id)
                if net is None:
                    raise NotFound(f"network {ep.network_id} not found")
                ep.ifname = f"eth{i}"
                ep.host_ifname = host_veth_name()
                drv = self.driver(net.driver)
                cfg = drv.join(net, ep, sb)
                undo.append(lambda d=drv, n=net, e=ep: d.leave(n, e, sb))
                if cfg is not None:
                    configs.append(cfg)
            gw = userdefined.gateway_endpoint(eps, nets)
            for cfg in configs:             # one default route: the gateway endpoint's
                if gw is None or cfg.final_name != gw.ifname:
                    cfg.gateway = cfg.gateway6 = ""
            configure_sandbox(path, configs)
            with self._lock, self.store.transaction():
                for ep in eps:
                    if self.store.get(ENDPOINT, ep.id) is None:
                        raise NotFound(f"endpoint {ep.id[:12]} was removed")
                    self.store.put(ENDPOINT, ep.id, to_dict(ep))
                self.store.put(SANDBOX, sid, {"id": sid, "container_id": container_id,
                                              "netns_path": path})
        except BaseException:
            _run_all(reversed(undo), "rollback of sandbox " + sid[:12])
            raise
        return sb

    def delete_sandbox(self, container_id: str, sandbox_id: str) -> None:
        """Remove the sandbox's netns (its veths die with it). Gone is fine."""
        path = self.sandbox_path(sandbox_id)
        veths = [e.host_ifname for e in self.endpoints(container_id) if e.host_ifname]
        errors: list[str] = []
        if self.overlay is not None:                # withdraw + unplumb overlay endpoints
            errors += self.overlay.sandbox_gone(container_id)
        try:
            netns.delete_netns(path)
        except CoveError as exc:
            errors.append(exc.message)
        try:
            self.store.delete(SANDBOX, sandbox_id)
        except Exception as exc:  # noqa: BLE001 - teardown continues
            errors.append(str(exc))
        if veths:
            self._reap_later(veths)
        if errors:
            raise KernelError(f"cannot remove sandbox {sandbox_id[:12]}: " + "; ".join(errors))

    def _reap_later(self, veths: list[str]) -> None:
        """The kernel destroys a netns's veths asynchronously once the namespace is
        released; if something keeps it alive, delete the host ends after a delay."""
        nl = self.nl

        def reap() -> None:
            time.sleep(REAP_DELAY)
            for v in veths:
                try:
                    nl.delete_link(v)
                except CoveError as exc:
                    log.warning("reaping %s: %s", v, exc.message)
                except Exception:  # noqa: BLE001 - socket closed at shutdown
                    return

        threading.Thread(target=reap, name="cove-veth-reaper", daemon=True).start()


def _link_exists(name: str) -> bool:
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True


def _bool_opt(options: dict[str, str], key: str, default: bool) -> bool:
    v = options.get(key)
    if v is None:
        return default
    if str(v).lower() in ("true", "1"):
        return True
    if str(v).lower() in ("false", "0"):
        return False
    raise InvalidParameter(f"invalid value {v!r} for option {key}")


def _int_opt(options: dict[str, str], key: str, default: int) -> int:
    v = options.get(key)
    if v is None:
        return default
    try:
        n = int(v)
    except ValueError:
        n = -1
    if not 68 <= n <= 65535:
        raise InvalidParameter(f"invalid value {v!r} for option {key}")
    return n


def _run_all(steps, what: str) -> None:
    """Run every undo step; log failures and go on."""
    for step in steps:
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - teardown continues past errors
            log.warning("%s: %s", what, exc)
