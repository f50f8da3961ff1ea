"""Cluster address conflicts made visible on the container (issue 7).

After a lease loss the cluster agent re-claims this node's overlay addresses; one that
another node took meanwhile is a *conflict*: that endpoint stays down
(:meth:`cove.network.overlaynet.OverlayNetworks.claim_conflict`). :func:`endpoint_conflict`
(run on the engine's event loop) records on the container, as inspect's ``State.Error``,
which address is held by which node, and emits a ``network`` event ``conflict`` with
``container``, ``address``, ``node`` (name) and ``node_id`` attributes. The error is
cleared by the container's next start, like any start error.
"""

from __future__ import annotations

import logging
from typing import Any

from cove.errors import CoveError

log = logging.getLogger(__name__)


def message(ip: str, net_name: str, node_id: str, node_name: str) -> str:
    """The text shown as State.Error."""
    who = f"{node_name} ({node_id})" if node_name and node_name != node_id else node_id
    return (f"address {ip} on overlay network {net_name} is held by node {who}:"
            f" this endpoint stays down")


def endpoint_conflict(eng: Any, container_id: str, net_id: str, ip: str, node_id: str,
                      node_name: str) -> None:
    """Record the conflict on the container (State.Error) and publish the event."""
    try:
        net = eng.network.network(net_id)
        net_name, driver = net.name, net.driver
    except CoveError:
        net_name, driver = net_id[:12], "overlay"
    text = message(ip, net_name, node_id, node_name)
    c = eng._containers.get(container_id)
    if c is not None:
        c.error = text
        try:
            eng._save(c)
        except Exception as exc:  # noqa: BLE001 - the event still goes out
            log.warning("cannot save %s: %s", container_id[:12], exc)
    bus = getattr(eng, "events", None)
    if bus is not None:
        bus.publish("network", "conflict", net_id,
                    {"name": net_name, "type": driver, "container": container_id,
                     "address": ip, "node": node_name or node_id, "node_id": node_id})
