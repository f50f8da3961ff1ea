"""The engine's side of published ports and legacy links (issue 3).

Thin glue between the container records and :mod:`cove.network.portmap` /
:mod:`cove.network.links`: links are resolved at create (Docker's error for a missing
container), their ``/etc/hosts`` lines written with the container's files, their
environment computed at start; ports are published at start and released at stop.
"""

from __future__ import annotations

import asyncio

from cove.engine.model import Container
from cove.errors import Conflict, InvalidParameter, NotFound
from cove.network import links as linklib


def _on_default_bridge(engine, c: Container) -> bool:
    mode = c.config.network_mode or "bridge"
    if mode in ("host", "none") or mode.startswith("container:"):
        return False
    try:
        return bool(engine.network.network(mode).default)
    except NotFound:
        return False


def resolve_links(engine, c: Container, strict: bool = True) -> list[tuple[Container, str]]:
    """``--link NAME[:ALIAS]`` → [(child, alias)]; Docker's message for a missing one
    (``strict=False``: missing children are skipped)."""
    out = []
    for spec in c.config.links:
        name, alias = linklib.parse_link(spec)
        try:
            child = engine.get_container(name)
        except NotFound as exc:
            if not strict:
                continue
            raise NotFound(f"could not get container for {name}: {exc.message}") from None
        if child.id == c.id:
            raise InvalidParameter("Cannot link to self")
        out.append((child, alias))
    if out and not _on_default_bridge(engine, c):
        return []                    # user networks: links are DNS aliases (issue 4)
    return out


def _child_ip(engine, child: Container) -> str:
    for net, ep in engine.container_endpoints(child):
        if net.default and ep.ip:
            return ep.ip
    return ""


def _child_env(engine, child: Container) -> list[str]:
    try:
        icfg = engine.images.get(child.image_id).config or {}
    except NotFound:
        icfg = {}
    merged: dict[str, str] = {}
    for item in [*(icfg.get("Env") or []), *child.config.env]:
        merged[item.partition("=")[0]] = item
    return list(merged.values())


def link_records(engine, c: Container) -> list[tuple[str, str]]:
    """``(ip, "alias hostname name")`` /etc/hosts records of the container's links."""
    out = []
    for child, alias in resolve_links(engine, c, strict=False):
        ip = _child_ip(engine, child)
        if ip:
            out.append(linklib.link_hosts_entry(ip, alias, child.config.hostname, child.name))
    return out


def link_env(engine, c: Container) -> list[str]:
    """The environment the container's links give it (children must be running)."""
    env: list[str] = []
    for child, alias in resolve_links(engine, c):
        if child.status != "running":
            raise Conflict(f"Cannot link to a non running container: /{child.name} AS"
                           f" /{c.name}/{alias}")
        env += linklib.link_env(c.name, alias, _child_ip(engine, child),
                                list(child.config.exposed_ports), _child_env(engine, child))
    return env


async def publish(engine, c: Container) -> None:
    """Publish the container's ports (fills ``c.ports``); raises with nothing left held."""
    cfg = c.config
    if cfg.network_mode in ("host", "none"):
        c.ports = {}
        return
    reach = []                       # what its links may reach when ICC is off
    for child, _alias in resolve_links(engine, c):
        ip = _child_ip(engine, child)
        for key in child.config.exposed_ports:
            port, _, proto = key.partition("/")
            reach.append((ip, proto or "tcp", int(port)))
    c.ports = await asyncio.to_thread(
        engine.network.publish_ports, c.id, c.name, dict(cfg.port_bindings),
        dict(cfg.exposed_ports), cfg.publish_all, reach)


def unpublish_now(engine, c: Container) -> None:
    """Release the container's ports (blocking; undo steps run on a worker thread)."""
    c.ports = None
    engine.network.unpublish_ports(c.id)


async def unpublish(engine, c: Container) -> None:
    await asyncio.to_thread(unpublish_now, engine, c)
