"""JSON for the CLI's hot paths without the ``json`` package's start-up cost.

``import json`` pulls in ``re`` and costs ~12 ms here; the C scanner and string encoder
in ``_json`` do the same work for the small documents the API exchanges. Errors come
out as ``ValueError`` like ``json``'s.
"""

from __future__ import annotations

import _json


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__
    memo: dict = {}


_scan = _json.make_scanner(_Context())
_WS = " \t\n\r"


def loads(data: bytes | str) -> object:
    """Parse one JSON document."""
    s = data.decode() if isinstance(data, bytes | bytearray) else data
    s = s.strip(_WS)
    try:
        obj, end = _scan(s, 0)
    except StopIteration as exc:
        raise ValueError(f"invalid JSON at offset {exc.value}") from None
    if end != len(s):
        raise ValueError(f"extra data at offset {end}")
    return obj


def dumps(obj: object) -> str:
    """Serialise dicts, lists, strings, numbers, booleans and None (compact)."""
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, str):
        return _json.encode_basestring_ascii(obj)
    if isinstance(obj, int):
        return int.__repr__(obj)
    if isinstance(obj, float):
        return float.__repr__(obj)
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{_json.encode_basestring_ascii(str(k))}: {dumps(v)}"
                               for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ", ".join(dumps(v) for v in obj) + "]"
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
