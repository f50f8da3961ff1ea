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
    p.add_argument("--tcp", default="", metavar="ADDR:PORT",
                   help="also serve the API on plain TCP (no TLS: loopback or a private "
                        "network namespace only), e.g. 127.0.0.1:2375")
    p.add_argument("--bip", default=None,
                   help="default bridge address and prefix, e.g. 172.30.0.1/16")
    p.add_argument("--bridge", default="cove0", help="name of the default bridge")
    p.add_argument("--runtime", default="native", help="default execution driver")
    p.add_argument("--icc", default="true", choices=["true", "false"],
                   help="inter-container communication on the default bridge")
    p.add_argument("--dns-upstream", action="append", default=[], metavar="IP[:PORT]",
                   help="upstream server of the embedded DNS (default: /etc/resolv.conf's)")
    p.add_argument("--cluster-store", default="", metavar="etcd://HOST:PORT[,HOST:PORT]",
                   help="etcd endpoints of the cluster (enables overlay networks)")
    p.add_argument("--cluster-advertise", default="", metavar="ADDR",
                   help="this node's address on the underlay: an IPv4 or an interface name")
    p.add_argument("--cluster-ttl", type=float, default=10.0, metavar="SECONDS",
                   help="TTL of this node's cluster lease")
    p.add_argument("--cluster-reap-grace", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--cluster-node-name", default="", metavar="NAME",
                   help="this node's name in `cove node ls` (default: the hostname)")
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
    agent = await asyncio.to_thread(make_cluster, args, network, root, exec_root)
    engine = Engine(root, exec_root, store, network, images, drivers, args.runtime,
                    dns=make_dns(args))
    await engine.start()
    if agent is not None:
        wire_cluster(agent, network, engine, asyncio.get_running_loop())
    app = make_app(engine)
    runner = await serve(app, socket_path(args.host))
    log.info("coved listening on %s", args.host)
    if args.tcp:
        from cove.api.server import serve_tcp
        await serve_tcp(runner, args.tcp)
        log.info("coved listening on tcp://%s", args.tcp)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        if agent is not None:
            await asyncio.to_thread(agent.close)
        await engine.close()
        store.close()
        log.info("coved stopped")


def make_cluster(args: argparse.Namespace, network, root: str, exec_root: str):
    """The cluster agent and the controller's overlay networks (``--cluster-store``), or
    None. Bad flags stop the daemon; an unreachable etcd does not (the agent retries)."""
    if not args.cluster_store:
        if args.cluster_advertise:
            raise SystemExit("coved: --cluster-advertise needs --cluster-store")
        return None
    from cove.cluster.agent import ClusterAgent, resolve_advertise
    from cove.errors import CoveError
    from cove.network.overlaynet import OverlayNetworks
    from cove.store.etcd import parse_endpoints

    if not args.cluster_advertise:
        raise SystemExit("coved: --cluster-store needs --cluster-advertise ADDR")
    if args.cluster_ttl <= 0 or (args.cluster_reap_grace is not None
                                 and args.cluster_reap_grace <= args.cluster_ttl):
        raise SystemExit("coved: --cluster-ttl must be > 0 and the reap grace > the TTL")
    try:
        parse_endpoints(args.cluster_store)
        vtep, underlay = resolve_advertise(args.cluster_advertise)
    except CoveError as exc:
        raise SystemExit(f"coved: {exc.message}") from exc
    agent = ClusterAgent(args.cluster_store, vtep, underlay, root,
                         advertise=args.cluster_advertise, ttl=args.cluster_ttl,
                         reap_grace=args.cluster_reap_grace,
                         node_name=args.cluster_node_name)
    OverlayNetworks(network, agent)
    return agent


def wire_cluster(agent, network, engine, loop: asyncio.AbstractEventLoop) -> None:
    """Give the overlay networks the container names and a DNS refresh, then connect."""
    from cove.engine import networking

    def describe(cid: str) -> str:
        c = engine._containers.get(cid)
        return c.name if c is not None else ""

    def dns_changed() -> None:
        if not loop.is_closed():
            asyncio.run_coroutine_threadsafe(networking.dns_sync(engine), loop)

    def conflict(*args: str) -> None:           # State.Error + event (cove.engine.conflicts)
        from cove.engine.conflicts import endpoint_conflict
        if not loop.is_closed():
            loop.call_soon_threadsafe(endpoint_conflict, engine, *args)

    network.overlay.describe = describe
    network.overlay.on_dns_change = dns_changed
    network.overlay.on_conflict = conflict
    agent.start()


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
