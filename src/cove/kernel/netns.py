"""Network namespace files: create, delete and list bind-mounted netns files.

A netns file is an empty regular file with the namespace bind-mounted on it, as
``ip netns`` and Docker do. Creation is the fast way: a short-lived thread unshares
CLONE_NEWNET and bind-mounts its own ``/proc/self/task/<tid>/ns/net`` onto the file
(about 1 ms, no fork). The thread exits afterwards; the mount keeps the namespace alive.
"""

from __future__ import annotations

import errno
import os
import threading

from cove.errors import KernelError
from cove.kernel import syscalls


def create_netns(path: str) -> None:
    """Create a new network namespace bind-mounted at ``path`` (lo is down, nothing else).

    The parent directory must exist. Fails with KernelError if ``path`` exists.
    On failure nothing is left behind.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    except OSError as exc:
        raise KernelError(f"cannot create network namespace file {path}: {exc}") from exc
    os.close(fd)
    error: list[BaseException] = []

    def body() -> None:
        try:
            syscalls.unshare(syscalls.CLONE_NEWNET)
            tid = threading.get_native_id()
            syscalls.mount(f"/proc/self/task/{tid}/ns/net", path, None, syscalls.MS_BIND)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            error.append(exc)

    t = threading.Thread(target=body, name="cove-netns-create", daemon=True)
    t.start()
    t.join()
    if error:
        _unlink(path)
        raise KernelError(f"cannot create network namespace {path}: {error[0]}") from error[0]


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def delete_netns(path: str) -> None:
    """Unmount (lazily) and unlink a netns file. A missing file or mount is not an error."""
    try:
        syscalls.umount(path, syscalls.MNT_DETACH)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOENT):
            raise KernelError(f"cannot unmount network namespace {path}: {exc}") from exc
    try:
        _unlink(path)
    except OSError as exc:
        raise KernelError(f"cannot remove network namespace file {path}: {exc}") from exc


def is_netns_mounted(path: str) -> bool:
    """True when a namespace is bind-mounted on ``path`` (the file's device is nsfs)."""
    try:
        st = os.stat(path)
        parent = os.stat(os.path.dirname(os.path.abspath(path)) or "/")
    except OSError:
        return False
    return st.st_dev != parent.st_dev


def list_netns(directory: str) -> list[str]:
    """Names of the entries in ``directory`` (sorted); a missing directory gives []."""
    try:
        return sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
