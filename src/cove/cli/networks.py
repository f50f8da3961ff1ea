"""``cove network create|rm|prune|connect|disconnect`` (ls and inspect live in misc)."""

from __future__ import annotations

import sys

from cove.cli.client import Client, CLIError, DaemonError, q
from cove.cli.flags import Flag, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CREATE_FLAGS = [
    Flag(("-d", "--driver"), "driver", "str"),
    Flag(("--subnet",), "subnet", "list"),
    Flag(("--ip-range",), "ip_range", "list"),
    Flag(("--gateway",), "gateway", "list"),
    Flag(("--aux-address",), "aux", "list"),
    Flag(("--internal",), "internal"),
    Flag(("--ipv6",), "ipv6"),
    Flag(("--attachable",), "attachable"),
    Flag(("--label",), "label", "list"),
    Flag(("-o", "--opt"), "opt", "list"),
]


def _kv(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        k, sep, v = item.partition("=")
        if not k:
            raise CLIError(f'invalid argument "{item}" for "{what}" flag', 125)
        out[k] = v if sep else ""
    return out


def create_body(opts: dict[str, Any], pos: list[str]) -> dict[str, Any]:
    """Flags of ``network create`` → the Docker request body."""
    if len(pos) != 1:
        raise CLIError('"cove network create" requires exactly 1 argument.\n'
                       "Usage:  cove network create [OPTIONS] NETWORK", 125)
    subnets = opts["subnet"]
    for key in ("ip_range", "gateway"):
        if len(opts[key]) > len(subnets):
            flag = "--" + key.replace("_", "-")
            raise CLIError(f"every {flag} must have a corresponding --subnet" if subnets
                           else f"{flag} requires --subnet", 125)
    configs: list[dict[str, Any]] = [{"Subnet": s} for s in subnets]
    for i, r in enumerate(opts["ip_range"]):
        configs[i]["IPRange"] = r
    for i, g in enumerate(opts["gateway"]):
        configs[i]["Gateway"] = g
    aux = _kv(opts["aux"], "--aux-address")
    if aux:
        if not configs:
            raise CLIError("--aux-address requires --subnet", 125)
        configs[0]["AuxiliaryAddresses"] = aux
    return {
        "Name": pos[0], "CheckDuplicate": True, "Driver": opts["driver"] or "bridge",
        "Internal": bool(opts["internal"]), "EnableIPv6": bool(opts["ipv6"]),
        "Attachable": bool(opts["attachable"]),
        "IPAM": {"Driver": "default", "Config": configs, "Options": {}},
        "Options": _kv(opts["opt"], "--opt"), "Labels": _kv(opts["label"], "--label"),
    }


def cmd_create(cli: Client, args: list[str]) -> int:
    opts, pos = parse(args, CREATE_FLAGS, cmd="network create")
    out = cli.json("POST", "/networks/create", body=create_body(opts, pos))
    print(out["Id"])
    return 0


def cmd_rm(cli: Client, args: list[str]) -> int:
    opts, pos = parse(args, [Flag(("-f", "--force"), "force")], cmd="network rm")
    if not pos:
        raise CLIError('"cove network rm" requires at least 1 argument.', 125)
    rc = 0
    for ref in pos:
        try:
            cli.call("DELETE", f"/networks/{q(ref)}")
            print(ref)
        except DaemonError as exc:
            if opts["force"] and exc.status == 404:
                continue
            print(exc, file=sys.stderr)
            rc = 1
    return rc


def cmd_prune(cli: Client, args: list[str]) -> int:
    opts, _ = parse(args, [Flag(("-f", "--force"), "force"),
                           Flag(("--filter",), "filter", "list")], cmd="network prune")
    if not opts["force"]:
        sys.stdout.write("WARNING! This will remove all custom networks not used by at least"
                         " one container.\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    out = cli.json("POST", "/networks/prune") or {}
    gone = out.get("NetworksDeleted") or []
    if gone:
        print("Deleted Networks:")
        for n in gone:
            print(n)
    return 0


def cmd_connect(cli: Client, args: list[str]) -> int:
    opts, pos = parse(args, [Flag(("--ip",), "ip", "str"), Flag(("--ip6",), "ip6", "str"),
                             Flag(("--alias",), "alias", "list"),
                             Flag(("--link",), "link", "list"),
                             Flag(("--link-local-ip",), "lli", "list")],
                      cmd="network connect")
    if len(pos) != 2:
        raise CLIError('"cove network connect" requires exactly 2 arguments.\n'
                       "Usage:  cove network connect [OPTIONS] NETWORK CONTAINER", 125)
    ipam: dict[str, Any] = {}
    if opts["lli"]:
        ipam["LinkLocalIPs"] = opts["lli"]
    if opts["ip"]:
        ipam["IPv4Address"] = opts["ip"]
    if opts["ip6"]:
        ipam["IPv6Address"] = opts["ip6"]
    body = {"Container": pos[1], "EndpointConfig": {
        "IPAMConfig": ipam or None, "Aliases": opts["alias"] or None,
        "Links": opts["link"] or None}}
    cli.call("POST", f"/networks/{q(pos[0])}/connect", body=body)
    return 0


def cmd_disconnect(cli: Client, args: list[str]) -> int:
    opts, pos = parse(args, [Flag(("-f", "--force"), "force")], cmd="network disconnect")
    if len(pos) != 2:
        raise CLIError('"cove network disconnect" requires exactly 2 arguments.\n'
                       "Usage:  cove network disconnect [OPTIONS] NETWORK CONTAINER", 125)
    cli.call("POST", f"/networks/{q(pos[0])}/disconnect",
             body={"Container": pos[1], "Force": bool(opts["force"])})
    return 0


COMMANDS = {"create": cmd_create, "rm": cmd_rm, "remove": cmd_rm, "prune": cmd_prune,
            "connect": cmd_connect, "disconnect": cmd_disconnect}
