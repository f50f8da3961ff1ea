"""``cove node ls``: the nodes of the cluster (coved --cluster-store), from ``/cove/nodes``."""

from __future__ import annotations

import sys
from typing import Any

from cove.cli.client import Client, CLIError
from cove.cli.flags import Flag, parse


def node_rows(nodes: list[dict[str, Any]]) -> str:
    from cove.cli.tables import table
    rows = [[n["ID"] + (" *" if n.get("Self") else ""), n.get("Name", ""),
             n.get("Address", ""), n.get("State", "")] for n in nodes]
    return table(["ID", "NAME", "ADDRESS", "STATE"], rows)


def cmd_node(cli: Client, args: list[str]) -> int:
    sub, rest = (args[0], args[1:]) if args else ("", [])
    if sub not in ("ls", "list"):
        raise CLIError("Usage:  cove node ls [-q]")
    opts, _ = parse(rest, [Flag(("-q", "--quiet"), "quiet")], cmd="node ls")
    data = cli.json("GET", "/cove/nodes")
    nodes = data.get("Nodes") or []
    if opts["quiet"]:
        for n in nodes:
            print(n["ID"])
        return 0
    sys.stdout.write(node_rows(nodes))
    return 0
