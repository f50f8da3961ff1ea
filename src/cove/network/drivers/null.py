"""The ``null`` driver (network ``none``): a sandbox with only lo."""

from __future__ import annotations

from cove.network.drivers.base import NetworkDriver


class NullDriver(NetworkDriver):
    name = "null"
