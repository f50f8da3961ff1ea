"""User-defined networks: IPAM extras, endpoint addressing, connect and disconnect.

Pure helpers (:func:`ipam_extras`, :func:`allocate_ip`, :func:`gateway_endpoint`) decide;
:func:`new_endpoint`, :func:`connect` and :func:`disconnect` apply through the network
controller with full rollback. The default gateway of a sandbox follows one explicit,
stable rule: the first attached (lowest ``ethN``) endpoint on a non-internal network.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

from cove.errors import (
    Conflict,
    CoveError,
    Forbidden,
    InvalidParameter,
    NotFound,
    SystemFailure,
)
from cove.model import new_id, to_dict
from cove.network import ipam, ipv6
from cove.network.model import Endpoint, Network, Sandbox

IP_ON_DEFAULT = "user specified IP address is supported on user defined networks only"
IP_NO_SUBNET = ("user specified IP address is supported only when connecting to networks"
                " with user configured subnets")
ALIAS_ON_DEFAULT = "network-scoped alias is supported only for containers in user defined networks"
_MAC = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")


def ipam_extras(subnet: str, gateway: str, ip_range: str = "",
                aux: dict[str, str] | None = None) -> dict:
    """The IPAM ``Config`` entry of a network, with ``--ip-range`` and ``--aux-address``
    validated against the subnet (Docker's messages)."""
    net = ipaddress.IPv4Network(subnet)
    entry: dict = {"Subnet": subnet, "Gateway": gateway}
    if ip_range:
        try:
            rng = ipaddress.IPv4Network(ip_range)
        except ValueError as exc:
            raise InvalidParameter(f"invalid ip-range {ip_range}: {exc}") from exc
        if not rng.subnet_of(net):
            raise InvalidParameter(f"no matching subnet for range {ip_range}")
        entry["IPRange"] = str(rng)
    if aux:
        out = {}
        for name, ip in aux.items():
            try:
                a = ipaddress.IPv4Address(ip)
            except ValueError as exc:
                raise InvalidParameter(f"invalid aux-address {name}={ip}: {exc}") from exc
            if a not in net:
                raise InvalidParameter(f"no matching subnet for aux-address {ip}")
            out[name] = str(a)
        entry["AuxiliaryAddresses"] = out
    return entry


def _config(net: Network) -> dict:
    cfg = net.ipam.get("Config") if isinstance(net.ipam, dict) else None
    return cfg[0] if isinstance(cfg, list) and cfg and isinstance(cfg[0], dict) else {}


def is_user_network(net: Network) -> bool:
    return net.driver in ("bridge", "overlay") and not net.default and not _is_gwbridge(net)


def _is_gwbridge(net: Network) -> bool:
    from cove.network.gwbridge import is_gwbridge  # no DNS or aliases on the gwbridge
    return is_gwbridge(net)


def _gwbridge():
    from cove.network import gwbridge  # imports this module
    return gwbridge


def allocate_ip(net: Network, used: Iterable[str], requested: str = "") -> str:
    """An address of ``net``: ``requested`` (checked) or the lowest free one of the
    ``--ip-range`` (or subnet), skipping gateway, aux addresses and ``used``."""
    cfg = _config(net)
    reserved = set(used) | set((cfg.get("AuxiliaryAddresses") or {}).values())
    pool = ipam.AddressPool(net.subnet, net.gateway, label=f"{net.name} ({net.id})")
    if requested:
        if not is_user_network(net):
            raise InvalidParameter(IP_ON_DEFAULT)
        if not net.ipam.get("UserSubnet"):
            raise InvalidParameter(IP_NO_SUBNET)
        pool.reserve(requested)        # InvalidParameter: not in the subnet
        a = ipaddress.IPv4Address(requested)
        if requested in reserved or a == ipaddress.IPv4Address(net.gateway or "0.0.0.0") \
                or a in (pool.net.network_address, pool.net.broadcast_address):
            raise Conflict("Address already in use")
        return str(a)
    rng = ipaddress.IPv4Network(cfg.get("IPRange") or net.subnet)
    cands = rng.hosts() if rng.prefixlen < 31 else iter(rng)
    gw = net.gateway
    for a in cands:
        s = str(a)
        if s not in reserved and s != gw and a not in (pool.net.network_address,
                                                       pool.net.broadcast_address):
            return s
    raise SystemFailure(f"no available IPv4 addresses on this network's address pools:"
                        f" {net.name} ({net.id})")


def check_mac(mac: str) -> str:
    if mac and not _MAC.match(mac):
        raise InvalidParameter(f"invalid MAC address: {mac}")
    return mac.lower()


def gateway_endpoint(eps: list[Endpoint], nets: dict[str, Network]) -> Endpoint | None:
    """The endpoint that carries the default route: the first attached (lowest ethN)
    endpoint whose network is not internal and has a gateway."""
    for ep in sorted(eps, key=lambda e: ifindex(e.ifname)):
        n = nets.get(ep.network_id)
        if n is not None and not n.internal and ep.gateway and n.driver != "overlay":
            return ep
    return None


def ifindex(ifname: str) -> int:
    digits = ifname[3:] if ifname.startswith("eth") else ""
    return int(digits) if digits.isdigit() else 1 << 20


def next_ifname(eps: list[Endpoint]) -> str:
    used = [ifindex(e.ifname) for e in eps if ifindex(e.ifname) < 1 << 20]
    return f"eth{max(used) + 1 if used else 0}"


def new_endpoint(ctrl, net: Network, container_id: str, ifname: str = "eth0", ip: str = "",
                 aliases: Iterable[str] = (), mac: str = "", links: Iterable[str] = (),
                 driver_opts: dict[str, str] | None = None, ip6: str = "",
                 link_local_ips: Iterable[str] = ()) -> Endpoint:
    """Reserve an address on ``net`` for the container and persist the endpoint
    (caller holds the controller's lock and a store transaction). ``ip6`` and
    ``link_local_ips``: see :mod:`cove.network.ipv6`."""
    aliases = [a for a in aliases if a]
    if aliases and not is_user_network(net):
        raise InvalidParameter(ALIAS_ON_DEFAULT)
    mac = check_mac(mac)
    existing = ctrl.network_endpoints(net.id)
    if any(e.container_id == container_id for e in existing):
        raise Conflict(f"endpoint with name {container_id[:12]} already exists in network"
                       f" {net.name}")
    if ip6 and not is_user_network(net):
        raise InvalidParameter(IP_ON_DEFAULT)
    lls = ipv6.link_local(link_local_ips)
    addr = allocate_ip(net, [e.ip for e in existing if e.ip], ip)
    addr6, plen6, gw6 = ipv6.endpoint_addr(net, [e.ip6 for e in existing if e.ip6], ip6)
    ep = Endpoint(id=new_id(), network_id=net.id, container_id=container_id, ifname=ifname,
                  host_ifname=_veth_name(), ip=addr,
                  prefixlen=ipam.prefixlen(net.subnet), mac=mac or ipam.mac_for_ip(addr),
                  gateway="" if net.internal else net.gateway, aliases=list(aliases),
                  requested_ip=ip, links=list(links), driver_opts=dict(driver_opts or {}),
                  ip6=addr6, prefixlen6=plen6, gateway6=gw6, requested_ip6=ip6,
                  link_local_ips=lls)
    ctrl.store.put("endpoint", ep.id, to_dict(ep))
    return ep


def connect(ctrl, container_id: str, net: Network, netns_path: str | None, ip: str = "",
            aliases: Iterable[str] = (), mac: str = "", links: Iterable[str] = (),
            driver_opts: dict[str, str] | None = None, ip6: str = "",
            link_local_ips: Iterable[str] = ()) -> Endpoint:
    """Attach a container to ``net``; when it runs (``netns_path``), hot-plug the next
    ``ethN`` and take the default route only if no endpoint holds it. Full rollback."""
    from cove.kernel.netlink import configure_sandbox

    if net.driver not in ("bridge", "overlay"):
        raise InvalidParameter(f"container cannot be disconnected from host network or"
                               f" connected to {net.name} network")
    with ctrl._lock:
        nets = {n.id: n for n in ctrl.networks()}
        eps = ctrl.endpoints(container_id)
        if any(e.network_id == net.id for e in eps):
            raise Conflict(f"endpoint with name {container_id[:12]} already exists in"
                           f" network {net.name}")
        if net.driver == "overlay" and ctrl.overlay is not None:     # cluster-wide claim
            ep = ctrl.overlay.new_endpoint(net, container_id, next_ifname(eps), ip, aliases,
                                           mac, links, driver_opts, ip6, link_local_ips)
        else:
            with ctrl.store.transaction():
                ep = new_endpoint(ctrl, net, container_id, next_ifname(eps), ip, aliases,
                                  mac, links, driver_opts, ip6, link_local_ips)
        if not netns_path:
            return ep
        undo: list[Callable[[], None]] = [lambda: _forget(ctrl, net, ep)]
        try:
            drv = ctrl.driver(net.driver)
            sb = Sandbox(id="", container_id=container_id, netns_path=netns_path)
            cfg = drv.join(net, ep, sb)
            undo.append(lambda: drv.leave(net, ep, sb))
            if cfg is not None:
                gw = gateway_endpoint(eps, nets)
                if gw is not None:
                    cfg.gateway = cfg.gateway6 = ""
                configure_sandbox(netns_path, [cfg])
            gw_undo = _gwbridge().settle(ctrl, container_id, netns_path)   # issue 7
            if gw_undo is not None:
                undo.append(gw_undo)
        except BaseException:
            _run_all(reversed(undo))
            raise
        return ep


def disconnect(ctrl, container_id: str, net: Network, netns_path: str | None) -> Endpoint:
    """Detach a container from ``net``: its veth goes, the address is released, and if
    that endpoint held the default route the next one in attach order takes it."""
    from cove.kernel.nsroute import set_default_route

    with ctrl._lock:
        nets = {n.id: n for n in ctrl.networks()}
        eps = ctrl.endpoints(container_id)
        mine = [e for e in eps if e.network_id == net.id]
        if not mine:
            raise Forbidden(f"container {container_id} is not connected to network {net.name}")
        ep = mine[0]
        rest = [e for e in eps if e.id != ep.id]
        errors: list[str] = []
        was_gw = gateway_endpoint(eps, nets)
        if netns_path and ep.host_ifname:
            try:
                ctrl.driver(net.driver).leave(net, ep, Sandbox("", container_id, netns_path))
            except CoveError as exc:
                errors.append(exc.message)
        _forget(ctrl, net, ep)
        if netns_path and was_gw is not None and was_gw.id == ep.id:
            nxt = gateway_endpoint(rest, nets)
            try:
                set_default_route(netns_path, nxt.ifname if nxt else "",
                                  nxt.gateway if nxt else "")
                if ep.gateway6 or (nxt is not None and nxt.gateway6):
                    set_default_route(netns_path, nxt.ifname if nxt else "",
                                      nxt.gateway6 if nxt else "", family=6)
            except CoveError as exc:
                errors.append(exc.message)
        if netns_path and not _is_gwbridge(net):    # the gateway bridge follows (issue 7)
            try:
                _gwbridge().settle(ctrl, container_id, netns_path)
            except CoveError as exc:
                errors.append(exc.message)
        if errors:
            raise SystemFailure(f"disconnect of {container_id[:12]} from {net.name}: "
                                + "; ".join(errors))
        return ep


def _forget(ctrl, net: Network, ep: Endpoint) -> None:
    """Delete the endpoint record (and release an overlay endpoint's cluster claim)."""
    ctrl.store.delete("endpoint", ep.id)
    if net.driver == "overlay" and ctrl.overlay is not None:
        ctrl.overlay.endpoint_deleted(ep)


def _veth_name() -> str:
    from cove.network.controller import host_veth_name
    return host_veth_name()


def _run_all(steps) -> None:
    for step in steps:
        try:
            step()
        except Exception:  # noqa: BLE001 - rollback continues past errors
            pass


def resolve(ctrl, ref: str) -> Network:
    try:
        return ctrl.network(ref)
    except NotFound:
        raise NotFound(f"network {ref} not found") from None
