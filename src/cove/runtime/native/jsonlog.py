"""Docker's json-file log format, written by the per-container monitor.

One JSON object per line: ``{"log":"hi\\n","stream":"stdout","time":"<RFC3339 ns>Z"}``.
Output is split on newlines; a partial line is held until its newline arrives, written
as is (without a newline) at EOF, or cut at 16 KiB like Docker does. A tty's output is
interactive (a shell prompt has no newline): with ``flush_partial`` each chunk's partial
line is written at once (cut at a UTF-8 character boundary). Stdlib only.
"""

from __future__ import annotations

import json
import os
import time

MAX_LINE = 16 * 1024


def timestamp(ns: int | None = None) -> str:
    """RFC 3339 UTC with nanoseconds: ``2026-11-28T13:00:00.123456789Z``."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def entry(data: bytes, stream: str, ns: int | None = None) -> bytes:
    """One log line (with its trailing newline) for ``data`` on ``stream``."""
    rec = {"log": data.decode("utf-8", errors="replace"), "stream": stream,
           "time": timestamp(ns)}
    return json.dumps(rec, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def utf8_cut(buf: bytes) -> int:
    """Length of the longest prefix of ``buf`` that does not end inside a UTF-8 character
    (at most 3 trailing bytes held back)."""
    n = len(buf)
    for back in range(1, min(3, n) + 1):
        b = buf[n - back]
        if b & 0xC0 == 0x80:          # continuation byte: look further back
            continue
        if b & 0x80 == 0:             # ASCII
            return n
        need = 2 if b & 0xE0 == 0xC0 else 3 if b & 0xF0 == 0xE0 else 4
        return n if back >= need else n - back
    return n


class JsonLogWriter:
    """Turns chunks read from the container's stdout/stderr into json-file lines."""

    def __init__(self, fd: int, flush_partial: bool = False) -> None:
        self.fd = fd
        self.flush_partial = flush_partial
        self._partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def _write(self, out: bytes) -> None:
        while out:
            n = os.write(self.fd, out)
            out = out[n:]

    def feed(self, stream: str, data: bytes) -> None:
        buf = self._partial.get(stream, b"") + data
        out = []
        ns = time.time_ns()
        while True:
            nl = buf.find(b"\n")
            if nl < 0 or nl >= MAX_LINE:
                if len(buf) >= MAX_LINE:
                    out.append(entry(buf[:MAX_LINE], stream, ns))
                    buf = buf[MAX_LINE:]
                    continue
                break
            out.append(entry(buf[:nl + 1], stream, ns))
            buf = buf[nl + 1:]
        if self.flush_partial and buf:
            cut = utf8_cut(buf)
            if cut:
                out.append(entry(buf[:cut], stream, ns))
                buf = buf[cut:]
        self._partial[stream] = buf
        if out:
            self._write(b"".join(out))

    def close_stream(self, stream: str) -> None:
        """EOF on ``stream``: write what is left of a partial line, without a newline."""
        rest = self._partial.get(stream, b"")
        self._partial[stream] = b""
        if rest:
            self._write(entry(rest, stream))
