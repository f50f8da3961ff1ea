"""The gateway bridge ``cove_gwbridge``: egress and published ports for overlay containers.

As Docker does with ``docker_gwbridge``: an overlay network carries only east-west
traffic (no default route through it), so a container whose networks are all overlay
networks (at least one not internal) also gets an endpoint on a local bridge network
``cove_gwbridge``, plumbed after the overlay ones (``eth1`` for a single overlay) and
holding the default route. The network is created on demand from the free address
pools, with ICC off (containers do not talk to each other through it) and masquerade
on (egress is NATed to the host's address). Published ports (``-p``) land on that
endpoint, because it is the container's bridge endpoint.

The endpoint lives like any other (created with the first sandbox that needs it, released
at container removal); the network stays once made, as Docker's does. The controller
calls :func:`prepare` from ``create_sandbox``; everything else is ordinary bridge work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from cove.network import userdefined
from cove.network.model import Endpoint, Network

log = logging.getLogger(__name__)

NAME = "cove_gwbridge"
OPTIONS = {
    "com.docker.network.bridge.name": NAME,
    "com.docker.network.bridge.enable_icc": "false",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
}
OVERLAY = "overlay"


def is_gwbridge(net: Network) -> bool:
    """True for the gateway bridge network."""
    return net.name == NAME and net.driver == "bridge" and net.bridge == NAME


def needs_gateway(eps: list[Endpoint], nets: dict[str, Network]) -> bool:
    """True when every endpoint is on an overlay network and one of them is not
    internal: nothing else would give the container a way out."""
    mine = [nets.get(e.network_id) for e in eps]
    mine = [n for n in mine if n is not None and not is_gwbridge(n)]
    return bool(mine) and all(n.driver == OVERLAY for n in mine) and any(
        not n.internal for n in mine)


def ensure_network(ctrl) -> Network:
    """The gateway bridge network, created if missing (caller holds ``ctrl._lock``)."""
    for n in ctrl.networks():
        if is_gwbridge(n):
            return n
    log.info("creating the gateway bridge network %s", NAME)
    return ctrl.create_network(NAME, "bridge", options=dict(OPTIONS))


def prepare(ctrl, container_id: str, eps: list[Endpoint], nets: dict[str, Network]
            ) -> tuple[list[Endpoint], Callable[[], None] | None]:
    """Before a sandbox is made: add the container's gateway-bridge endpoint (creating
    network and endpoint as needed) when its networks are all overlay ones; drop a
    leftover one it no longer needs. Returns the endpoints to plumb (the gateway one
    last) and an undo for an endpoint made here (None if nothing was made).
    ``nets`` gains the gateway bridge network."""
    gw_net = next((n for n in nets.values() if is_gwbridge(n)), None)
    mine = [e for e in eps if gw_net is not None and e.network_id == gw_net.id]
    rest = [e for e in eps if e not in mine]
    if not needs_gateway(rest, nets):
        for e in mine:              # e.g. a bridge network was connected since
            ctrl.store.delete("endpoint", e.id)
        return rest, None
    if mine:
        return rest + mine[:1], None
    with ctrl._lock:
        gw_net = ensure_network(ctrl)
        nets[gw_net.id] = gw_net
        with ctrl.store.transaction():
            ep = userdefined.new_endpoint(ctrl, gw_net, container_id,
                                          userdefined.next_ifname(rest))
    return rest + [ep], lambda: ctrl.store.delete("endpoint", ep.id)
