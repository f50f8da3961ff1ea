"""Default-route changes inside a sandbox's network namespace (pyroute2 on a short-lived
thread that joined the namespace)."""

from __future__ import annotations

from cove.errors import KernelError
from cove.kernel.syscalls import run_in_netns


def set_default_route(netns_path: str, ifname: str, gateway: str, family: int = 4) -> None:
    """Make the default route of the namespace go via ``gateway`` on ``ifname``; with an
    empty ``gateway`` just remove the default route. A missing route is fine.
    ``family=6``: the IPv6 default route."""
    dst, fam = ("::/0", 10) if family == 6 else ("0.0.0.0/0", 2)

    def body() -> None:
        from pyroute2 import IPRoute
        from pyroute2.netlink.exceptions import NetlinkError

        with IPRoute() as ipr:
            try:
                ipr.route("del", dst=dst, family=fam)
            except NetlinkError as exc:
                if exc.code not in (2, 3):      # ENOENT (IPv6), ESRCH: there was none
                    raise
            if gateway:
                idx = ipr.link_lookup(ifname=ifname)
                if not idx:
                    raise KernelError(f"cannot route via {ifname}: link not found")
                ipr.route("add", dst=dst, gateway=gateway, oif=idx[0], family=fam)

    try:
        run_in_netns(netns_path, body)
    except KernelError:
        raise
    except Exception as exc:  # noqa: BLE001 - translated at the kernel boundary
        raise KernelError(f"cannot set the default route via {gateway or '-'} in"
                          f" {netns_path}: {exc}") from exc
