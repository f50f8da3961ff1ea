"""Cluster routes (issue 7): ``GET /cove/nodes`` lists the cluster's nodes.

A cove extension (Docker's ``/nodes`` belongs to swarm mode and has another shape):
``{"NodeID": <this node>, "State": ..., "Nodes": [{"ID", "Name", "Address", "State",
"Self"}]}``. Without ``--cluster-store`` it answers 503 with a clear message.
"""

from __future__ import annotations

from aiohttp import web

from cove.api.common import engine, json_response
from cove.errors import Unavailable

NO_CLUSTER = "this node is not part of a cluster: start coved with --cluster-store"


async def nodes(request: web.Request) -> web.Response:
    info = getattr(engine(request), "cluster_info", dict)()
    if not info.get("cove"):
        raise Unavailable(NO_CLUSTER)
    return json_response(info["cove"])


routes = [
    ("GET", "/cove/nodes", nodes),
]
