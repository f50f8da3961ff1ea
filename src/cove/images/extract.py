"""Safe extraction of a rootfs tarball into a layer directory.

Rules: member names are made relative (a leading ``/`` is stripped) and may not contain
``..``; no member may be written through a symlink (a parent component that is a symlink
is refused, so an archive cannot escape the layer dir); hard links must point inside the
archive; symlinks are kept as they are (absolute targets are fine inside a rootfs);
character and block devices are skipped (containers get their own /dev).
"""

from __future__ import annotations

import os
import shutil
import tarfile
from typing import IO

from cove.errors import InvalidParameter


def _clean_name(name: str) -> str:
    """Normalise a member name to a relative path; refuse ``..``. "" means the root."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InvalidParameter(f"unsafe path in image tarball: {name!r}")
    return "/".join(parts)


def _check_no_symlink_parent(dest: str, rel: str) -> None:
    cur = dest
    for part in rel.split("/")[:-1]:
        cur = os.path.join(cur, part)
        if os.path.islink(cur):
            raise InvalidParameter(
                f"unsafe path in image tarball: {rel!r} goes through a symlink")


def extract_rootfs(fileobj: IO[bytes], dest: str) -> int:
    """Extract the tar stream ``fileobj`` into the existing directory ``dest``.

    Returns the total size in bytes of the regular files extracted. Raises
    InvalidParameter for an unsafe or unreadable archive (the caller cleans ``dest``).
    """
    size = 0
    try:
        with tarfile.open(fileobj=fileobj, mode="r|*") as tar:
            for member in tar:
                rel = _clean_name(member.name)
                if not rel:
                    continue  # the root dir itself
                if member.ischr() or member.isblk():
                    continue
                _check_no_symlink_parent(dest, rel)
                member.name = rel
                if member.islnk():
                    link = _clean_name(member.linkname)
                    if not link:
                        raise InvalidParameter(
                            f"unsafe hard link in image tarball: {member.linkname!r}")
                    _check_no_symlink_parent(dest, link)
                    if os.path.islink(os.path.join(dest, link)):
                        # a hard link to a symlink: recreate it as the same symlink
                        target = os.readlink(os.path.join(dest, link))
                        path = os.path.join(dest, rel)
                        _remove_existing(path)
                        os.symlink(target, path)
                        continue
                    member.linkname = link
                path = os.path.join(dest, rel)
                if not member.isdir():
                    _remove_existing(path)
                tar.extract(member, dest, set_attrs=True, numeric_owner=True,
                            filter="fully_trusted")
                if member.isreg():
                    size += member.size
    except (tarfile.TarError, EOFError) as exc:
        raise InvalidParameter(f"invalid image tarball: {exc}") from exc
    return size


def _remove_existing(path: str) -> None:
    """Later members replace earlier ones (as tar does); never follow a symlink."""
    if os.path.islink(path) or os.path.isfile(path):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)

