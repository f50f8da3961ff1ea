"""``coved``: the daemon. Parses flags, builds the engine and serves the Docker API.

On SIGTERM/SIGINT it stops serving and leaves containers running; the next start
re-adopts them and reconciles the kernel from the store.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import signal
import sys
from pathlib import Path

log = logging.getLogger("cove.daemon")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="coved", description="the cove container daemon")
    p.add_argument("--root", default="/var/lib/cove", help="persistent state directory")
    p.add_argument("--exec-root", default="/run/cove", help="runtime state directory")
    p.add_argument("-H", "--host", default="unix:///run/cove/cove.sock",
                   help="socket to listen on (unix://PATH)")
    p.add_argument("--bip", default=None,
                   help="default bridge address and prefix, e.g. 172.30.0.1/16")
    p.add_argument("--bridge", default="cove0", help="name of the default bridge")
    p.add_argument("--runtime", default="native", help="default execution driver")
    p.add_argument("--icc", default="true", choices=["true", "false"],
                   help="inter-container communication on the default bridge")
    p.add_argument("--dns-upstream", action="append", default=[], metavar="IP[:PORT]",
                   help="upstream server of the embedded DNS (default: /etc/resolv.conf's)")
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error"])
    return p.parse_args(argv)


def socket_path(host: str) -> str:
    if not host.startswith("unix://"):
        raise SystemExit(f"coved: only unix:// sockets are supported, got {host}")
    return host[len("unix://"):]


async def run(args: argparse.Namespace) -> None:
    from cove.api.server import make_app, serve
    from cove.engine.engine import Engine
    from cove.images import ImageStore
    from cove.network.controller import NetworkController
    from cove.runtime import get_driver
    from cove.store import Store

    root, exec_root = os.path.abspath(args.root), os.path.abspath(args.exec_root)
    Path(root).mkdir(parents=True, exist_ok=True, mode=0o710)
    Path(exec_root).mkdir(parents=True, exist_ok=True, mode=0o710)
    store = Store(os.path.join(root, "cove.db"))
    network = NetworkController(store, exec_root, bip=args.bip, default_bridge=args.bridge,
                                icc=args.icc == "true")
    images = ImageStore(root, store)
    drivers = {"native": get_driver("native", exec_root)}
    for name in ("runc", "crun"):   # OCI runtimes, when their binary is installed
        if shutil.which(name):
            drivers[name] = get_driver(name, exec_root)
    if shutil.which("lxc-execute"):   # Debian's LXC tools
        drivers["lxc"] = get_driver("lxc", exec_root)
    if args.runtime not in drivers:
        raise SystemExit(f"coved: unknown runtime {args.runtime}")
    engine = Engine(root, exec_root, store, network, images, drivers, args.runtime,
                    dns=make_dns(args))
    await engine.start()
    app = make_app(engine)
    runner = await serve(app, socket_path(args.host))
    log.info("coved listening on %s", args.host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await engine.close()
        store.close()
        log.info("coved stopped")


def make_dns(args: argparse.Namespace):
    """The embedded DNS server with its upstreams (flags, else the host's resolv.conf)."""
    from cove.network.dns import EmbeddedDNS, parse_upstream, upstreams_from_resolv

    if args.dns_upstream:
        try:
            ups = [parse_upstream(u) for u in args.dns_upstream]
        except ValueError as exc:
            raise SystemExit(f"coved: invalid --dns-upstream: {exc}") from exc
    else:
        try:
            ups = upstreams_from_resolv(Path("/etc/resolv.conf").read_text())
        except OSError:
            ups = []
    return EmbeddedDNS(ups)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if os.geteuid() != 0:
        raise SystemExit("coved: must run as root")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
