"""Container operations behind the Docker API that need no runtime support: rename, top
(the processes of a running container) and changes (the rootfs diff).

Functions take the :class:`cove.engine.engine.Engine`; the Engine exposes them as
``rename_container``, ``top_container`` and ``container_changes``.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from cove.engine.names import validate_name
from cove.errors import Conflict, InvalidParameter
from cove.kernel import procfs

# Paths Docker leaves out of a diff: the files it bind-mounts and the API filesystems.
_HIDDEN = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/dev", "/proc", "/sys",
           "/.dockerenv", "/.dockerinit", "/run/.containerenv", "/sbin/docker-init"}

KIND_CHANGED, KIND_ADDED, KIND_DELETED = 0, 1, 2


def rename(eng: Any, ref: str, new_name: str) -> None:
    """Docker's rename: 400 without a name, 409 when the name is taken."""
    if not new_name:
        raise InvalidParameter("Neither old nor new names may be empty")
    name = validate_name(new_name)
    c = eng.get_container(ref)
    if c.name == name:
        raise Conflict('Renaming a container with the same name as its current name')
    for other in eng.list_containers(all=True):
        if other.name == name:
            raise Conflict(
                f'Conflict. The container name "/{name}" is already in use by container'
                f' "{other.id}". You have to remove (or rename) that container to be able'
                " to reuse that name.")
    c.name = name
    eng._save(c)


def top(eng: Any, ref: str, ps_args: str = "") -> dict[str, Any]:
    """``{"Titles": [...], "Processes": [[...]]}`` in busybox ``ps`` columns."""
    c = eng.get_container(ref)
    if c.status not in ("running", "paused") or not c.pid:
        raise Conflict(f"Container {c.id} is not running")
    hz = procfs.clock_ticks()
    rows = []
    for pid in procfs.pids_in_namespace_of(c.pid):
        p = procfs.proc_info(pid)
        if p is None:
            continue
        secs = (p.utime_ticks + p.stime_ticks) // hz
        cmd = " ".join(p.cmdline) if p.cmdline else f"[{p.comm}]"
        rows.append([str(p.pid), procfs.user_name(p.uid), f"{secs // 60}:{secs % 60:02d}",
                     cmd])
    return {"Titles": ["PID", "USER", "TIME", "COMMAND"], "Processes": rows}


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _in_lower(lowers: list[str], rel: str) -> bool:
    return any(os.path.lexists(os.path.join(d, rel.lstrip("/"))) for d in lowers)


def _walk(upper: str, lowers: list[str], rel: str, out: list[dict[str, Any]]) -> bool:
    """Append the changes under directory ``rel`` of ``upper``; True if any."""
    found = False
    try:
        names = sorted(os.listdir(os.path.join(upper, rel.lstrip("/"))))
    except OSError:
        return False
    for name in names:
        path = f"{rel.rstrip('/')}/{name}"
        if path in _HIDDEN:
            continue
        full = os.path.join(upper, path.lstrip("/"))
        try:
            st = os.lstat(full)
        except OSError:
            continue
        if _is_whiteout(st):
            out.append({"Path": path, "Kind": KIND_DELETED})
            found = True
            continue
        existed = _in_lower(lowers, path)
        if stat.S_ISDIR(st.st_mode) and existed:
            mark = len(out)
            if _walk(upper, lowers, path, out):
                out.insert(mark, {"Path": path, "Kind": KIND_CHANGED})
                found = True
            continue
        out.append({"Path": path, "Kind": KIND_CHANGED if existed else KIND_ADDED})
        found = True
        if stat.S_ISDIR(st.st_mode):
            _walk(upper, lowers, path, out)
    return found


def changes(eng: Any, ref: str) -> list[dict[str, Any]]:
    """The container's filesystem changes: Kind 0 modified, 1 added, 2 deleted."""
    c = eng.get_container(ref)
    upper = str(eng.container_dir(c.id) / "fs" / "upper")
    lowers = list(eng.images.get(c.image_id).layers)
    out: list[dict[str, Any]] = []
    if os.path.isdir(upper):
        _walk(upper, lowers, "/", out)
    return out
