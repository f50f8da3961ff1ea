"""The ``host`` driver (network ``host``): the container shares the host's namespace."""

from __future__ import annotations

from cove.network.drivers.base import NetworkDriver


class HostDriver(NetworkDriver):
    name = "host"
