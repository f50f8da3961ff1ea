"""``cove events [--since T] [--until T] [--filter k=v]... [--format TEMPLATE]``.

``T`` is a Unix timestamp (``1700000000.5``), a duration before now (``10s``, ``5m``,
``1h``) or an RFC 3339 time. Lines print as Docker's CLI prints them:
``<time> <type> <action> <id> (k=v, ...)``.
"""

from __future__ import annotations

import json
import sys
import time

from cove.cli.client import Client, CLIError
from cove.cli.flags import Flag, parse

FLAGS = [Flag(("--since",), "since", "str"), Flag(("--until",), "until", "str"),
         Flag(("-f", "--filter"), "filter", "list"), Flag(("--format",), "format", "str")]
_UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def timestamp(value: str, now: float | None = None) -> str:
    """A --since/--until value → ``seconds.nanoseconds`` as the API takes it."""
    if not value:
        return ""
    now = time.time() if now is None else now
    try:
        return f"{float(value):.9f}"
    except ValueError:
        pass
    for unit in sorted(_UNITS, key=len, reverse=True):
        if value.endswith(unit):
            try:
                return f"{now - float(value[:-len(unit)]) * _UNITS[unit]:.9f}"
            except ValueError:
                break
    from datetime import datetime
    try:
        return f"{datetime.fromisoformat(value.replace('Z', '+00:00')).timestamp():.9f}"
    except ValueError:
        raise CLIError(f'invalid value "{value}" for flag: use a timestamp, a duration'
                       " (10m) or an RFC 3339 time", 125) from None


def line(ev: dict) -> str:
    from datetime import UTC, datetime
    ns = ev.get("timeNano") or ev.get("time", 0) * 10**9
    ts = datetime.fromtimestamp(ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    actor = ev.get("Actor") or {}
    attrs = ", ".join(f"{k}={v}" for k, v in sorted((actor.get("Attributes") or {}).items()))
    out = f"{ts}.{ns % 10**9:09d}Z {ev.get('Type')} {ev.get('Action')} {actor.get('ID', '')}"
    return out + (f" ({attrs})" if attrs else "")


def cmd_events(cli: Client, args: list[str]) -> int:
    opts, pos = parse(args, FLAGS, cmd="events")
    if pos:
        raise CLIError('"cove events" accepts no arguments.', 125)
    filters: dict[str, list[str]] = {}
    for f in opts["filter"]:
        k, sep, v = f.partition("=")
        if not sep:
            raise CLIError(f"bad format of filter (expected name=value): {f}", 125)
        filters.setdefault(k, []).append(v)
    params = {"since": timestamp(opts["since"]) or None,
              "until": timestamp(opts["until"]) or None,
              "filters": json.dumps(filters) if filters else None}
    fmt = opts["format"]
    with cli.request("GET", "/events", params) as resp:
        buf = b""
        while True:
            chunk = resp.read1(1 << 16)
            if not chunk:
                return 0
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for raw in lines:
                if not raw.strip():
                    continue
                ev = json.loads(raw)
                if fmt:
                    from cove.cli.template import render
                    text = json.dumps(ev) if fmt == "{{json .}}" else render(fmt, ev)
                else:
                    text = line(ev)
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
