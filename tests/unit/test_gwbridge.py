"""cove.network.gwbridge: which containers get a gateway-bridge endpoint, and its life."""

from __future__ import annotations

import threading

from cove.model import from_dict, to_dict
from cove.network import gwbridge, userdefined
from cove.network.model import Endpoint, Network
from cove.store.sqlite import Store


class FakeCtrl:
    """The slice of NetworkController that gwbridge uses, on a real sqlite store."""

    def __init__(self, path) -> None:
        self.store = Store(path)
        self._lock = threading.RLock()
        self.created: list[str] = []

    def networks(self) -> list[Network]:
        return [from_dict(Network, d) for d in self.store.list("network")]

    def network_endpoints(self, nid: str) -> list[Endpoint]:
        return [e for e in (from_dict(Endpoint, d) for d in self.store.list("endpoint"))
                if e.network_id == nid]

    def create_network(self, name, driver, options=None, **_):
        n = Network(id="g" * 64, name=name, driver=driver, bridge=options[
            "com.docker.network.bridge.name"], subnet="172.30.0.0/16", gateway="172.30.0.1",
            icc=False, options=dict(options), ipam={"Config": [{"Subnet": "172.30.0.0/16"}]})
        self.store.put("network", n.id, to_dict(n))
        self.created.append(name)
        return n


def _net(nid, driver, internal=False, name=None):
    return Network(id=nid, name=name or nid, driver=driver, internal=internal,
                   subnet="10.9.0.0/24", gateway="10.9.0.1")


def _ep(eid, nid, ifname="eth0", gateway="10.9.0.1"):
    return Endpoint(id=eid, network_id=nid, container_id="c1", ifname=ifname, ip="10.9.0.2",
                    gateway=gateway)


def test_needs_gateway_only_for_overlay_only_containers():
    nets = {"o": _net("o", "overlay"), "oi": _net("oi", "overlay", internal=True),
            "b": _net("b", "bridge")}
    assert gwbridge.needs_gateway([_ep("1", "o")], nets)
    assert gwbridge.needs_gateway([_ep("1", "o"), _ep("2", "oi", "eth1")], nets)
    assert not gwbridge.needs_gateway([_ep("1", "oi")], nets)           # internal only
    assert not gwbridge.needs_gateway([_ep("1", "o"), _ep("2", "b", "eth1")], nets)
    assert not gwbridge.needs_gateway([], nets)
    # an internal bridge gives no way out either (Docker's needDefaultGW)
    nets["bi"] = _net("bi", "bridge", internal=True)
    assert gwbridge.needs_gateway([_ep("1", "bi"), _ep("2", "o", "eth1")], nets)
    assert not gwbridge.needs_gateway([_ep("1", "bi")], nets)


def test_prepare_creates_network_and_endpoint_once_then_reuses(tmp_path):
    ctrl = FakeCtrl(tmp_path / "s.db")
    ov = _net("o" * 64, "overlay")
    nets = {ov.id: ov}
    eps, undo = gwbridge.prepare(ctrl, "c1", [_ep("e1", ov.id)], nets)
    assert ctrl.created == [gwbridge.NAME] and undo is not None
    gw = eps[-1]
    assert [e.id for e in eps[:-1]] == ["e1"] and gw.ifname == "eth1"
    assert nets[gw.network_id].name == gwbridge.NAME
    assert gw.ip.startswith("172.30.") and gw.gateway == "172.30.0.1"
    # the gateway endpoint takes the default route, never the overlay one
    assert userdefined.gateway_endpoint(eps, nets).id == gw.id
    # a restart reuses the stored endpoint and makes nothing
    stored = [e for e in ctrl.network_endpoints(gw.network_id)]
    eps2, undo2 = gwbridge.prepare(ctrl, "c1", [_ep("e1", ov.id), stored[0]], nets)
    assert undo2 is None and eps2[-1].id == gw.id and ctrl.created == [gwbridge.NAME]
    # undo releases the endpoint made by the first call
    undo()
    assert ctrl.network_endpoints(gw.network_id) == []


def test_prepare_drops_a_gateway_endpoint_no_longer_needed(tmp_path):
    ctrl = FakeCtrl(tmp_path / "s.db")
    ov, br = _net("o" * 64, "overlay"), _net("b" * 64, "bridge")
    nets = {ov.id: ov}
    eps, _ = gwbridge.prepare(ctrl, "c1", [_ep("e1", ov.id)], nets)
    nets[br.id] = br
    eps2, undo = gwbridge.prepare(ctrl, "c1", [eps[0], _ep("e2", br.id, "eth1"), eps[1]],
                                  nets)
    assert [e.id for e in eps2] == ["e1", "e2"] and undo is None
    assert ctrl.network_endpoints(eps[1].network_id) == []


def test_gateway_bridge_is_not_a_user_network_for_dns_and_aliases():
    gw = Network(id="g", name=gwbridge.NAME, driver="bridge", bridge=gwbridge.NAME)
    assert gwbridge.is_gwbridge(gw) and not userdefined.is_user_network(gw)
    other = Network(id="x", name="cove_gwbridge2", driver="bridge", bridge="br-x")
    assert userdefined.is_user_network(other)
