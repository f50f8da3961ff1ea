"""The engine's side of user-defined networks: network create/remove/prune, connect and
disconnect of containers (files and DNS follow), and keeping the embedded DNS server's
view in step with the running containers.

:class:`cove.engine.engine.Engine` delegates to these functions; the network controller
(and :mod:`cove.network.userdefined`) do the kernel and address work.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from cove.engine import events
from cove.errors import CoveError, Forbidden, InvalidParameter
from cove.network import hostsedit, userdefined
from cove.network.dns import DnsEntry, Records
from cove.network.gwbridge import is_gwbridge
from cove.network.model import Network

if TYPE_CHECKING:
    from cove.engine.engine import Engine
    from cove.engine.model import Container

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- networks
async def create_network(eng: Engine, name: str, driver: str = "bridge", subnet: str = "",
                         gateway: str = "", ip_range: str = "",
                         aux_addresses: dict[str, str] | None = None, internal: bool = False,
                         options: dict[str, str] | None = None,
                         labels: dict[str, str] | None = None,
                         enable_ipv6: bool = False, check_duplicate: bool = True,
                         ipam_options: dict[str, str] | None | bool = False,
                         ipv6_pool: dict | None = None) -> Network:
    if ip_range and not subnet:
        raise InvalidParameter("ip-range can only be used with a subnet")
    if (gateway or aux_addresses) and not subnet:
        raise InvalidParameter("gateway and aux-address can only be used with a subnet")
    net = await asyncio.to_thread(
        eng.network.create_network, name, driver, subnet, gateway, internal, options, labels,
        ip_range, aux_addresses, check_duplicate, ipam_options, enable_ipv6=enable_ipv6,
        ipv6_pool=ipv6_pool)
    events.network(eng, net, "create")
    return net


async def remove_network(eng: Engine, ref: str) -> None:
    net = eng.network.network(ref)
    eps = eng.network.network_endpoints(net.id)
    if eps and not (net.default or net.driver in ("host", "null")):
        names = []
        for ep in eps:
            c = eng._containers.get(ep.container_id)
            names.append(f'(name:"{c.name if c else ""}" id:"{ep.container_id[:12]}")')
        raise Forbidden(f"error while removing network: network {net.name} id {net.id}"
                        f" has active endpoints {' '.join(names)}")
    await asyncio.to_thread(eng.network.remove_network, net.id)
    events.network(eng, net, "destroy")
    await dns_sync(eng)


async def prune_networks(eng: Engine) -> list[str]:
    """Remove every user-defined network no container is attached to."""
    gone = []
    for net in eng.network.networks():
        if not userdefined.is_user_network(net):
            continue
        if eng.network.network_endpoints(net.id):
            continue
        try:
            await asyncio.to_thread(eng.network.remove_network, net.id)
            events.network(eng, net, "destroy")
            gone.append(net.name)
        except CoveError as exc:
            log.warning("prune %s: %s", net.name, exc.message)
    return gone


# ---------------------------------------------------------------- connect/disconnect
def _hostname(c: Container) -> str:
    return c.config.hostname or c.id[:12]


async def connect(eng: Engine, net_ref: str, container_ref: str, ip: str = "",
                  aliases: list[str] | None = None, links: list[str] | None = None,
                  mac: str = "", driver_opts: dict[str, str] | None = None, ip6: str = "",
                  link_local_ips: list[str] | None = None) -> None:
    net = eng.network.network(net_ref)
    c = eng.get_container(container_ref)
    mode = c.config.network_mode
    if mode in ("host", "none") or mode.startswith("container:"):
        raise Forbidden("container sharing network namespace with another container or host"
                        " cannot be connected to any other network")
    if net.driver not in ("bridge", "overlay"):
        raise Forbidden(f"container cannot be disconnected from host network or connected"
                        f" to {net.name} network")
    async with eng._lock(c.id):
        netns = c.netns_path if c.status == "running" else None
        ep = await asyncio.to_thread(userdefined.connect, eng.network, c.id, net, netns, ip,
                                     aliases or [], mac, links or [], driver_opts, ip6,
                                     link_local_ips or [])
        path = eng.container_dir(c.id) / "hosts"
        try:
            text = hostsedit.add_entry(path.read_text(), ep.ip, _hostname(c))
            if ep.ip6:
                text = hostsedit.add_entry(text, ep.ip6, _hostname(c))
            path.write_text(text)
        except OSError as exc:
            log.warning("hosts of %s: %s", c.short_id, exc)
        if netns and userdefined.is_user_network(net):
            await dns_attach(eng, c.id, netns)
        if netns:
            events.network(eng, net, "connect", c.id)
    await dns_sync(eng)


async def disconnect(eng: Engine, net_ref: str, container_ref: str, force: bool = False) -> None:
    net = eng.network.network(net_ref)
    c = eng.get_container(container_ref)
    if net.driver not in ("bridge", "overlay"):
        raise Forbidden(f"container cannot be disconnected from host network or connected"
                        f" to {net.name} network")
    async with eng._lock(c.id):
        netns = c.netns_path if c.status == "running" else None
        ep = await asyncio.to_thread(userdefined.disconnect, eng.network, c.id, net, netns)
        if netns:
            events.network(eng, net, "disconnect", c.id)
        path = eng.container_dir(c.id) / "hosts"
        try:
            text = hostsedit.remove_entry(path.read_text(), ep.ip, _hostname(c))
            if ep.ip6:
                text = hostsedit.remove_entry(text, ep.ip6, _hostname(c))
            path.write_text(text)
        except OSError as exc:
            log.warning("hosts of %s: %s", c.short_id, exc)
        if c.config.network_mode in (net.name, net.id):
            # the container's mode network is gone: the next attached one takes its place
            rest = [e for e in eng.network.endpoints(c.id)      # never cove_gwbridge
                    if not is_gwbridge(eng.network.network(e.network_id))]
            if rest:
                c.config.network_mode = eng.network.network(rest[0].network_id).name
                eng._save(c)
    await dns_sync(eng)
    if netns and not wants_embedded_dns(eng, c):
        await dns_detach(eng, c.id)


# ---------------------------------------------------------------- files and DNS
def wants_embedded_dns(eng: Engine, c: Container) -> bool:
    """True when the container is attached to a user-defined network."""
    nets = {n.id: n for n in eng.network.networks()}
    return any(userdefined.is_user_network(nets[e.network_id])
               for e in eng.network.endpoints(c.id) if e.network_id in nets)


def mode_is_user_network(eng: Engine, mode: str) -> bool:
    if mode in ("host", "none", "default", "bridge") or mode.startswith("container:"):
        return False
    try:
        return userdefined.is_user_network(eng.network.network(mode))
    except CoveError:
        return False


def endpoint_request(c: Container, mode: str) -> tuple[str, list[str], str]:
    """(ip, aliases, mac) asked for in the container's EndpointsConfig."""
    ec = c.config.endpoint_config or {}
    ipam_cfg = ec.get("IPAMConfig") or {}
    ip = ipam_cfg.get("IPv4Address") or ""
    aliases = [a for a in (ec.get("Aliases") or []) if isinstance(a, str)]
    mac = ec.get("MacAddress") or ""
    return ip, aliases, mac


def endpoint_extras(eng: Engine, c: Container, mode: str) -> dict:
    """links and DriverOpts of the endpoint a container is created with (user networks
    keep ``--link`` on the endpoint: a DNS alias, shown in its Links)."""
    ec = c.config.endpoint_config or {}
    out: dict = {}
    if ec.get("DriverOpts"):
        out["driver_opts"] = dict(ec["DriverOpts"])
    ipam_cfg = ec.get("IPAMConfig") or {}
    if ipam_cfg.get("IPv6Address"):                 # cove.network.ipv6
        out["ip6"] = ipam_cfg["IPv6Address"]
    if ipam_cfg.get("LinkLocalIPs"):
        out["link_local_ips"] = list(ipam_cfg["LinkLocalIPs"])
    links = [*(ec.get("Links") or []), *c.config.links]
    if links and mode_is_user_network(eng, mode):
        out["links"] = list(dict.fromkeys(links))
    return out


def records(eng: Engine) -> Records:
    """The DNS view of all running containers."""
    nets = {n.id: n for n in eng.network.networks()}
    entries = []
    links: dict[str, dict[str, str]] = {}
    by_name = {c.name: c for c in eng._containers.values()}
    by_ref = {**{n.name: n for n in nets.values()}, **nets}
    by_container: dict[str, list] = {}
    for ep in eng.network.all_endpoints():       # one store read, not one per container
        by_container.setdefault(ep.container_id, []).append(ep)
    for c in eng._containers.values():
        if c.status != "running":
            continue
        eps = by_container.get(c.id, [])
        for ep in sorted(eps, key=lambda e: userdefined.ifindex(e.ifname)):
            net = nets.get(ep.network_id)
            if net is None or not userdefined.is_user_network(net) or not ep.ip:
                continue
            names = [c.name, *ep.aliases, c.id[:12], _hostname(c)]
            entries.append(DnsEntry(c.id, net.id, net.name, ep.ip, names))
            if getattr(ep, "ip6", ""):                # AAAA (cove.network.ipv6)
                entries.append(DnsEntry(c.id, net.id, net.name, ep.ip6, names))
        link_specs = [x for ep in eps for x in ep.links]
        mode_net = by_ref.get(c.config.network_mode)
        if mode_net is not None and userdefined.is_user_network(mode_net):
            link_specs += c.config.links
        for link in link_specs:
            target, _, alias = link.lstrip("/").partition(":")
            t = by_name.get(target)
            if t is not None:
                links.setdefault(c.id, {})[alias or target] = t.name
    entries += eng.network.remote_dns_entries()     # overlay peers on other hosts (issue 7)
    return Records.build(entries, links)


async def dns_sync(eng: Engine) -> None:
    dns = getattr(eng, "dns", None)
    if dns is not None:
        dns.update(await asyncio.to_thread(records, eng))


async def dns_attach(eng: Engine, cid: str, netns_path: str) -> None:
    dns = getattr(eng, "dns", None)
    if dns is not None and netns_path:
        await dns.attach(cid, netns_path)


async def dns_detach(eng: Engine, cid: str) -> None:
    dns = getattr(eng, "dns", None)
    if dns is not None:
        await dns.detach(cid)


async def readopt_dns(eng: Engine) -> None:
    """At daemon start: serve DNS again in the sandboxes of re-adopted containers."""
    for c in list(eng._containers.values()):
        if c.status == "running" and c.netns_path and wants_embedded_dns(eng, c):
            try:
                await dns_attach(eng, c.id, c.netns_path)
            except CoveError as exc:
                log.warning("embedded DNS for %s: %s", c.short_id, exc.message)
    await dns_sync(eng)


def host_gateway(eng: Engine) -> str:
    """The address ``--add-host NAME:host-gateway`` stands for: the default bridge's
    gateway, as Docker's default ``--host-gateway-ip``."""
    for n in eng.network.networks():
        if n.default and n.gateway:
            return n.gateway
    raise InvalidParameter("unable to derive the IP value for host-gateway")


def check_create(eng: Engine, c: Container) -> None:
    """Validate the endpoint request of a container before anything is made."""
    ip, aliases, mac = endpoint_request(c, c.config.network_mode)
    ip = ip or ((c.config.endpoint_config or {}).get("IPAMConfig") or {}).get("IPv6Address", "")
    if (ip or aliases) and not mode_is_user_network(eng, c.config.network_mode):
        raise InvalidParameter(userdefined.IP_ON_DEFAULT if ip else
                               userdefined.ALIAS_ON_DEFAULT)
    userdefined.check_mac(mac)

