"""`cove network create` and run's endpoint flags → Docker request bodies (pure)."""

from __future__ import annotations

import pytest

from cove.cli import containers, networks
from cove.cli.client import CLIError
from cove.cli.flags import parse


def _create(args):
    opts, pos = parse(args, networks.CREATE_FLAGS, cmd="network create")
    return networks.create_body(opts, pos)


def test_network_create_body():
    b = _create(["--subnet", "10.1.0.0/24", "--ip-range", "10.1.0.128/25", "--gateway",
                 "10.1.0.1", "--aux-address", "r=10.1.0.2", "--internal", "--label", "a=b",
                 "-o", "com.docker.network.driver.mtu=1400", "n1"])
    assert b["Name"] == "n1" and b["Driver"] == "bridge" and b["Internal"] is True
    assert b["IPAM"]["Config"] == [{"Subnet": "10.1.0.0/24", "IPRange": "10.1.0.128/25",
                                    "Gateway": "10.1.0.1",
                                    "AuxiliaryAddresses": {"r": "10.1.0.2"}}]
    assert b["Options"] == {"com.docker.network.driver.mtu": "1400"}
    assert b["Labels"] == {"a": "b"}
    assert _create(["plain"])["IPAM"]["Config"] == []


@pytest.mark.parametrize("args", [["--gateway", "10.0.0.1", "n"],
                                  ["--ip-range", "10.0.0.0/25", "n"],
                                  ["--aux-address", "a=10.0.0.2", "n"], []])
def test_network_create_needs_subnet_or_name(args):
    with pytest.raises(CLIError):
        _create(args)


def test_run_endpoint_flags():
    opts, pos = parse(["--network", "n1", "--ip", "10.1.0.9", "--network-alias", "x",
                       "--mac-address", "02:42:0a:01:00:09", "busybox"], containers.RUN_FLAGS)
    body, _ = containers.create_body(opts, pos)
    assert body["HostConfig"]["NetworkMode"] == "n1"
    assert body["NetworkingConfig"]["EndpointsConfig"] == {"n1": {
        "IPAMConfig": {"IPv4Address": "10.1.0.9"}, "Aliases": ["x"],
        "MacAddress": "02:42:0a:01:00:09"}}
    opts, pos = parse(["--ip", "172.17.0.9", "busybox"], containers.RUN_FLAGS)
    body, _ = containers.create_body(opts, pos)
    assert body["NetworkingConfig"]["EndpointsConfig"] == {
        "bridge": {"IPAMConfig": {"IPv4Address": "172.17.0.9"}}}
    opts, pos = parse(["busybox"], containers.RUN_FLAGS)
    assert containers.create_body(opts, pos)[0]["NetworkingConfig"]["EndpointsConfig"] == {}
