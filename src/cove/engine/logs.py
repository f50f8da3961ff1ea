"""Reading a container's json-file log (Docker's format) for ``logs``.

Each line of the file is ``{"log": "...", "stream": "stdout"|"stderr", "time": RFC3339}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TextIO

STREAMS = {"stdout": 1, "stderr": 2}


def parse_time(ts: str) -> float:
    """RFC 3339 with up to nanoseconds → unix seconds."""
    base, _, frac = ts.rstrip("Z").partition(".")
    sec = datetime.fromisoformat(base + "+00:00").timestamp()
    return sec + (float("0." + frac) if frac else 0.0)


def select(lines: list[str], stdout: bool, stderr: bool, tail: str, since: float,
           until: float, timestamps: bool) -> list[tuple[int, bytes]]:
    """Filter raw json-file lines into ``(stream, chunk)`` records, as ``docker logs`` does."""
    out: list[tuple[int, bytes]] = []
    for raw in lines:
        rec = _decode(raw, stdout, stderr, since, until, timestamps)
        if rec is not None:
            out.append(rec)
    if tail not in ("", "all"):
        n = int(tail)
        out = out[-n:] if n > 0 else []
    return out


def _decode(raw: str, stdout: bool, stderr: bool, since: float, until: float,
            timestamps: bool) -> tuple[int, bytes] | None:
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    stream = STREAMS.get(entry.get("stream", ""), 1)
    if (stream == 1 and not stdout) or (stream == 2 and not stderr):
        return None
    if since or until:
        t = parse_time(entry["time"])
        if since and t < since:
            return None
        if until and t > until:
            return None
    text = entry.get("log", "")
    if timestamps:
        text = f"{entry['time']} {text}"
    return stream, text.encode()


def open_log(path: str) -> TextIO:
    """Open a log for following, creating it empty if the container has not run yet
    (the runtime appends to the same file, so the open file sees what it writes)."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o640)
    return open(fd, encoding="utf-8", errors="replace")  # noqa: SIM115 - caller closes


async def follow(f: TextIO, offset: int, stdout: bool, stderr: bool, timestamps: bool,
                 alive: Callable[[], bool], poll: float = 0.02,
                 exited: Callable[[], asyncio.Event | None] | None = None
                 ) -> AsyncIterator[tuple[int, bytes]]:
    """Yield records appended after ``offset`` while ``alive()``, then the rest; closes ``f``.

    The file stays open throughout, so an auto-removed container's last lines are read.
    Between polls it waits on the container's exit event when ``exited`` gives one, so
    the end of a short-lived container is seen at once rather than at the next poll.
    """
    pending = ""
    try:
        f.seek(offset)
        while True:
            was_alive = alive()
            data = f.read()
            pending += data
            *complete, pending = pending.split("\n")
            for raw in complete:
                rec = _decode(raw, stdout, stderr, 0, 0, timestamps)
                if rec is not None:
                    yield rec
            if not data:
                if not was_alive:
                    return
                ev = exited() if exited is not None else None
                if ev is None:
                    await asyncio.sleep(poll)
                else:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(ev.wait(), poll)
    finally:
        f.close()
