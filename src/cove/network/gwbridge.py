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
calls :func:`prepare` from ``create_sandbox``; a hot connect/disconnect of a running
container calls :func:`settle`, which plugs the endpoint in live (``ethN`` + the default
route) when the container has just lost its last way out, or unplugs it (the default
route moves to the endpoint that now gives egress) when it no longer needs it, as
Docker's ``docker_gwbridge`` follows. Everything else is ordinary bridge work.
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
    """True when one endpoint is on a non-internal overlay network and no other gives
    the container a way out (every non-overlay network is internal), as Docker's
    ``needDefaultGW``."""
    mine = [nets.get(e.network_id) for e in eps]
    mine = [n for n in mine if n is not None and not is_gwbridge(n)]
    return any(n.driver == OVERLAY and not n.internal for n in mine) and all(
        n.driver == OVERLAY or n.internal for n in mine)


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


def settle(ctrl, container_id: str, netns_path: str) -> Callable[[], None] | None:
    """After a hot connect/disconnect of a running container (caller holds
    ``ctrl._lock``): plug in its gateway-bridge endpoint if it needs one now, or unplug
    it if it no longer does. Returns an undo for an endpoint plugged in here (None
    otherwise); a failed plug-in leaves nothing behind."""
    nets = {n.id: n for n in ctrl.networks()}
    eps = ctrl.endpoints(container_id)
    gw_net = next((n for n in nets.values() if is_gwbridge(n)), None)
    mine = [e for e in eps if gw_net is not None and e.network_id == gw_net.id]
    rest = [e for e in eps if e not in mine]
    if needs_gateway(rest, nets):
        return None if mine else _plug(ctrl, container_id, netns_path, rest, nets)
    for ep in mine:
        _unplug(ctrl, container_id, netns_path, ep, rest, nets)
    return None


def _plug(ctrl, container_id: str, netns_path: str, rest: list[Endpoint],
          nets: dict[str, Network]) -> Callable[[], None]:
    from cove.kernel.netlink import configure_sandbox
    from cove.network.model import Sandbox

    gw_net = ensure_network(ctrl)
    with ctrl.store.transaction():
        ep = userdefined.new_endpoint(ctrl, gw_net, container_id,
                                      userdefined.next_ifname(rest))
    drv = ctrl.driver(gw_net.driver)
    sb = Sandbox(id="", container_id=container_id, netns_path=netns_path)
    undo: list[Callable[[], None]] = [lambda: ctrl.store.delete("endpoint", ep.id)]
    try:
        cfg = drv.join(gw_net, ep, sb)
        undo.append(lambda: drv.leave(gw_net, ep, sb))
        if cfg is not None:
            if userdefined.gateway_endpoint(rest, nets) is not None:   # not expected
                cfg.gateway = cfg.gateway6 = ""
            configure_sandbox(netns_path, [cfg])
    except BaseException:
        _undo_all(undo)
        raise
    log.info("container %s: gateway bridge endpoint %s plugged in (%s)", container_id[:12],
             ep.ifname, ep.ip)
    return lambda: _undo_all(undo)


def _unplug(ctrl, container_id: str, netns_path: str, ep: Endpoint, rest: list[Endpoint],
            nets: dict[str, Network]) -> None:
    """Remove the endpoint (veth, address, record); the default route moves to the
    endpoint that gives egress now. Continues past errors, raising them at the end."""
    from cove.errors import CoveError, KernelError
    from cove.kernel.nsroute import set_default_route
    from cove.network.model import Sandbox

    errors: list[str] = []
    gw_net = nets[ep.network_id]
    try:
        ctrl.driver(gw_net.driver).leave(gw_net, ep, Sandbox("", container_id, netns_path))
    except CoveError as exc:
        errors.append(exc.message)
    ctrl.store.delete("endpoint", ep.id)
    nxt = userdefined.gateway_endpoint(rest, nets)
    try:
        set_default_route(netns_path, nxt.ifname if nxt else "", nxt.gateway if nxt else "")
    except CoveError as exc:
        errors.append(exc.message)
    log.info("container %s: gateway bridge endpoint %s unplugged", container_id[:12],
             ep.ifname)
    if errors:
        raise KernelError(f"gateway bridge endpoint of {container_id[:12]}: "
                          + "; ".join(errors))


def _undo_all(steps: list[Callable[[], None]]) -> None:
    for step in reversed(steps):
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - rollback continues past errors
            log.warning("gateway bridge rollback: %s", exc)
