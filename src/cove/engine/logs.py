"""Reading a container's json-file log (Docker's format) for ``logs``.

Each line of the file is ``{"log": "...", "stream": "stdout"|"stderr", "time": RFC3339}``.
A follower (``logs -f``, attach) sleeps until inotify says the file grew
(:mod:`cove.kernel.inotify`); the poll (``COVE_LOG_POLL`` seconds, default 0.02) is
only the fallback when inotify is unavailable (or ``COVE_LOG_INOTIFY=0``), and a slow
safety net besides.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TextIO

from cove.kernel import inotify

STREAMS = {"stdout": 1, "stderr": 2}
POLL = float(os.environ.get("COVE_LOG_POLL", "") or 0.02)   # seconds, without inotify
WATCHED_POLL = max(POLL, 1.0)                                # seconds, with inotify
INOTIFY = os.environ.get("COVE_LOG_INOTIFY", "1") != "0"     # "0": poll only (bench)


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
                 alive: Callable[[], bool], poll: float | None = None,
                 exited: Callable[[], asyncio.Event | None] | None = None
                 ) -> AsyncIterator[tuple[int, bytes]]:
    """Yield records appended after ``offset`` while ``alive()``, then the rest; closes ``f``.

    The file stays open throughout, so an auto-removed container's last lines are read.
    It waits for the file to grow (inotify on the open file), or for the container's exit
    event when ``exited`` gives one, so new output and the end of a short-lived container
    are seen at once; the poll is the fallback.
    """
    pending = ""
    watch = inotify.watch_file(f"/proc/self/fd/{f.fileno()}") if INOTIFY else None
    if poll is None:
        poll = POLL if watch is None else WATCHED_POLL
    try:
        f.seek(offset)
        while True:
            was_alive = alive()
            if watch is not None:
                watch.changed.clear()       # a write from now on wakes the wait below
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
                await _wait(watch, exited() if exited is not None else None, poll)
    finally:
        if watch is not None:
            watch.close()
        f.close()


async def _wait(watch: inotify.FileWatch | None, ev: asyncio.Event | None,
                timeout: float) -> None:
    """Until the file changed, ``ev`` is set, or ``timeout`` seconds passed."""
    events = [e for e in (watch.changed if watch is not None else None, ev) if e is not None]
    if any(e.is_set() for e in events):
        return
    if not events:
        await asyncio.sleep(timeout)
        return
    if len(events) == 1:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(events[0].wait(), timeout)
        return
    tasks = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
