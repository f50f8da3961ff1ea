"""``--cluster-advertise`` resolution on real interfaces (throwaway namespaces): an
address gives its interface, an interface name gives its first IPv4."""

from __future__ import annotations

import os

import pytest

from cove.errors import KernelError
from cove.kernel import vxlan
from tests.cluster.topology import build_hosts, teardown

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def test_advertise_by_address_or_interface_name(net_netns_dir):
    ns = build_hosts(net_netns_dir, ["A"])
    try:
        host = ns["hA"]
        assert vxlan.resolve_underlay("192.0.2.1", host) == ("192.0.2.1", "eth0")
        assert vxlan.resolve_underlay("eth0", host) == ("192.0.2.1", "eth0")
        with pytest.raises(KernelError, match="not configured on any interface"):
            vxlan.resolve_underlay("192.0.2.77", host)
        with pytest.raises(KernelError, match="no interface or IPv4 address"):
            vxlan.resolve_underlay("nosuch0", host)
        with pytest.raises(KernelError, match="has no IPv4 address"):
            vxlan.resolve_underlay("lo", ns["cA"])          # down, unaddressed
    finally:
        teardown(ns)
