"""``GET /networks?filters=...``: Docker's network list filters (pure)."""

from __future__ import annotations

from cove.api.parse import filters
from cove.errors import InvalidParameter
from cove.network.model import Network

KEYS = ("id", "name", "driver", "label", "type", "scope", "dangling")
BUILTIN = ("bridge", "host", "none")


def parse(raw: str) -> dict[str, list[str]]:
    """The filters JSON (``{"name": ["x"]}`` or ``{"name": {"x": true}}``)."""
    out = filters(raw, KEYS)
    if any(t not in ("custom", "builtin") for t in out.get("type", [])):
        raise InvalidParameter(f"invalid filter: 'type'='{out['type']}'")
    return out


def matches(n: Network, f: dict[str, list[str]], in_use: bool = False) -> bool:
    if "id" in f and not any(n.id.startswith(x) for x in f["id"]):
        return False
    if "name" in f and not any(x in n.name for x in f["name"]):
        return False
    if "driver" in f and n.driver not in f["driver"]:
        return False
    if "scope" in f and "local" not in f["scope"]:
        return False
    if "type" in f:
        kind = "builtin" if n.name in BUILTIN and (n.default or n.driver != "bridge") \
            else "custom"
        if kind not in f["type"]:
            return False
    for lab in f.get("label", []):
        k, sep, v = lab.partition("=")
        if k not in n.labels or (sep and n.labels[k] != v):
            return False
    if "dangling" in f:
        want = f["dangling"][-1].lower() in ("true", "1")
        if want == in_use:
            return False
    return True
