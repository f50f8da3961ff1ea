"""The native driver's per-container files under ``<exec_root>/native/<id>/``.

``spec.json`` (the spec given to create), ``init.json`` (host pid of the container's
PID 1, its start time from /proc/<pid>/stat, the monitor's pid and start time),
``exit.json`` (exit code, finish time). They make :meth:`state` work after a daemon
restart. Stdlib only: imported by the spawner and the monitor.
"""

from __future__ import annotations

import json
import os
from typing import Any

SPEC = "spec.json"
INIT = "init.json"
EXIT = "exit.json"


def write_json(path: str, data: dict[str, Any], dir_fd: int | None = None) -> None:
    """Write atomically (temp file + rename), relative to ``dir_fd`` when given."""
    tmp = f".{os.path.basename(path)}.{os.getpid()}.tmp"
    if dir_fd is None:
        tmp = os.path.join(os.path.dirname(path), tmp)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600,
                 dir_fd=dir_fd)
    try:
        os.write(fd, json.dumps(data).encode())
    finally:
        os.close(fd)
    os.rename(tmp, path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def read_json(path: str) -> dict[str, Any] | None:
    """The JSON dict at ``path``, or None when missing or unreadable (half-written)."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks) of ``pid``, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    rest = raw[raw.rfind(b")") + 2:].split()
    try:
        return rest[0].decode(), int(rest[19])
    except (IndexError, ValueError):
        return None


def is_alive(pid: int, starttime: int) -> bool:
    """True if ``pid`` runs (not a zombie) and is the process recorded (same start time)."""
    if pid <= 0:
        return False
    st = proc_stat(pid)
    return st is not None and st[1] == starttime and st[0] not in ("Z", "X")
