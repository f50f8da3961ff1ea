"""The network driver seam: what a driver does for a network, an endpoint, a sandbox.

Drivers receive model objects (never user-facing names). ``join`` plumbs an endpoint's
L2 link into the sandbox's namespace and returns how the interface must be configured
inside it (the controller configures all of a sandbox's interfaces in one pass), or
None when there is nothing to configure.
"""

from __future__ import annotations

from cove.kernel.netlink import IfaceConfig
from cove.network.model import Endpoint, Network, Sandbox


class NetworkDriver:
    """Base driver: every operation is a no-op."""

    name = ""

    def create_network(self, network: Network) -> None:
        """Make the network's kernel objects exist (idempotent)."""

    def delete_network(self, network: Network) -> None:
        """Remove the network's kernel objects; what is gone is fine."""

    def join(self, network: Network, endpoint: Endpoint, sandbox: Sandbox) -> IfaceConfig | None:
        """Plumb ``endpoint`` into ``sandbox``; return the in-sandbox configuration."""
        return None

    def leave(self, network: Network, endpoint: Endpoint, sandbox: Sandbox) -> None:
        """Undo :meth:`join`; what is gone is fine."""
