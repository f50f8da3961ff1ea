"""``docker cp``: a container path as seen through its mounts and its overlay layers.

The container's rootfs is an overlay of the image layers (lower, top-most first) and the
container's upper dir; bind mounts and volumes sit on top. The daemon does not see the
container's mount namespace, so paths are resolved here the way overlayfs would: mounts
first (longest destination prefix), then the upper dir (a whiteout hides a path), then
the lower dirs. Reads (``stat``, ``get``) merge directories across layers; writes
(``put``) go to the mount's source or to the upper dir.
"""

from __future__ import annotations

import io
import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass
from typing import Any

from cove.errors import InvalidParameter, NotFound

GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27


@dataclass
class Layout:
    upper: str
    lowers: list[str]                       # top-most first
    mounts: list[tuple[str, str, bool]]     # (container dest, host source, readonly)


def _clean(path: str) -> str:
    if not path:
        raise InvalidParameter("path must not be empty")
    return posixpath.normpath("/" + path.lstrip("/"))


def _whiteout(full: str) -> bool:
    try:
        st = os.lstat(full)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _mount_of(lay: Layout, path: str) -> tuple[str, str, bool] | None:
    best = None
    for dest, src, ro in lay.mounts:
        d = posixpath.normpath(dest)
        if (path == d or path.startswith(d.rstrip("/") + "/")) and (
                best is None or len(d) > len(best[0])):
            best = (d, src, ro)
    return best


def sources(lay: Layout, path: str) -> list[str]:
    """Host paths that make up container ``path``, top-most first ([] when absent)."""
    path = _clean(path)
    m = _mount_of(lay, path)
    if m is not None:
        full = os.path.join(m[1], os.path.relpath(path, m[0]))
        return [os.path.normpath(full)] if os.path.lexists(full) else []
    out = []
    rel = path.lstrip("/")
    for layer in [lay.upper, *lay.lowers]:
        # a whiteout of the path or of any parent hides everything below it
        parts = rel.split("/") if rel else []
        hidden = any(_whiteout(os.path.join(layer, *parts[:i + 1]))
                     for i in range(len(parts)))
        if hidden:
            break
        full = os.path.join(layer, rel)
        if os.path.lexists(full):
            out.append(full)
            if not stat.S_ISDIR(os.lstat(full).st_mode):
                break
    return out


def stat_path(lay: Layout, path: str) -> dict[str, Any]:
    """Docker's ``X-Docker-Container-Path-Stat`` object."""
    srcs = sources(lay, path)
    if not srcs:
        raise NotFound(f"Could not find the file {path} in container")
    st = os.lstat(srcs[0])
    mode = stat.S_IMODE(st.st_mode)
    link = ""
    if stat.S_ISDIR(st.st_mode):
        mode |= GO_DIR
    elif stat.S_ISLNK(st.st_mode):
        mode |= GO_SYMLINK
        link = os.readlink(srcs[0])
    from datetime import UTC, datetime
    mtime = datetime.fromtimestamp(st.st_mtime, UTC).isoformat().replace("+00:00", "Z")
    name = posixpath.basename(_clean(path)) or "/"
    return {"name": name, "size": st.st_size, "mode": mode, "mtime": mtime,
            "linkTarget": link}


def _add_tree(tar: tarfile.TarFile, lay: Layout, path: str, arcname: str) -> None:
    srcs = sources(lay, path)
    if not srcs:
        return
    top = srcs[0]
    tar.add(top, arcname=arcname, recursive=False)
    if not stat.S_ISDIR(os.lstat(top).st_mode):
        return
    names: set[str] = set()
    for d in srcs:
        try:
            names.update(os.listdir(d))
        except OSError:
            continue
    for name in sorted(names):
        child = posixpath.join(_clean(path), name)
        if sources(lay, child):
            _add_tree(tar, lay, child, f"{arcname}/{name}")


def get_tar(lay: Layout, path: str) -> bytes:
    """A tar of container ``path`` (a file, or a directory with its merged contents)."""
    clean = _clean(path)
    if not sources(lay, clean):
        raise NotFound(f"Could not find the file {path} in container")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_tree(tar, lay, clean, posixpath.basename(clean) or ".")
    return buf.getvalue()


def put_tar(lay: Layout, path: str, data: bytes) -> None:
    """Extract ``data`` (a tar) into container directory ``path``."""
    clean = _clean(path)
    srcs = sources(lay, clean)
    if not srcs:
        raise NotFound(f"Could not find the file {path} in container")
    if not stat.S_ISDIR(os.lstat(srcs[0]).st_mode):
        raise InvalidParameter(f"extraction point is not a directory: {path}")
    m = _mount_of(lay, clean)
    if m is not None:
        if m[2]:
            raise InvalidParameter(f"container rootfs is marked read-only: {path}")
        dest = os.path.join(m[1], os.path.relpath(clean, m[0]))
    else:
        dest = os.path.join(lay.upper, clean.lstrip("/"))
        os.makedirs(dest, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            tar.extractall(dest, filter="tar")
    except (tarfile.TarError, OSError) as exc:
        raise InvalidParameter(f"cannot extract the archive into {path}: {exc}") from exc
