"""What the execution drivers share: the checks on a ContainerSpec, a container's state
read from its state files, the checks around its cgroup (stats, update) whichever driver
placed it, and the table of exec processes run as coved's children (OCI, LXC).

Every driver's monitor writes ``init.json`` (PID 1 and the monitor, with start times) and
``exit.json`` (exit code, OOM, finish time) in the format of
:mod:`cove.runtime.native.statefiles`; the state follows from those alone, so it is the
same after a daemon restart.
"""

from __future__ import annotations

import os
import subprocess
import threading
from typing import Any

from cove.errors import Conflict, InvalidParameter, NotFound, RuntimeFailure
from cove.kernel.cgroups import Cgroup
from cove.runtime import security
from cove.runtime.base import ContainerSpec, ContainerState
from cove.runtime.native import statefiles


def state_from_files(init: dict[str, Any] | None,
                     exit_: dict[str, Any] | None) -> ContainerState:
    """The state told by ``init.json`` and ``exit.json`` (None when missing)."""
    if init is None:
        return ContainerState(running=False)
    started = init.get("started_at", "")
    if exit_ is not None:
        return ContainerState(running=False, exit_code=int(exit_["exit_code"]),
                              oom_killed=bool(exit_.get("oom_killed")),
                              started_at=started, finished_at=exit_.get("finished_at", ""))
    pid = int(init.get("pid", 0))
    if pid and statefiles.is_alive(pid, int(init.get("starttime", 0))):
        return ContainerState(running=True, pid=pid, started_at=started)
    if statefiles.is_alive(int(init.get("monitor_pid", 0)),
                           int(init.get("monitor_starttime", 0))):
        # exited a moment ago; the monitor is writing exit.json
        return ContainerState(running=False, started_at=started)
    return ContainerState(running=False, exit_code=255, started_at=started)


def live_cgroup(cg: Cgroup | None, container_id: str) -> Cgroup:
    """``cg`` when it exists; Conflict when the container has none (not running)."""
    if cg is None or not cg.exists():
        raise Conflict(f"container {container_id} has no cgroup (not running)")
    return cg


def update_cgroup(cg: Cgroup | None, container_id: str, limits: dict[str, int]) -> list[str]:
    """Change a running container's cgroup limits (see cove.kernel.cgupdate.apply);
    returns warnings."""
    from cove.kernel import cgupdate
    cg = live_cgroup(cg, container_id)
    try:
        return cgupdate.apply(cg, **limits)
    except OSError as exc:
        raise RuntimeFailure(f"cannot update the cgroup of container {container_id}: "
                             f"{exc}") from exc


def validate_spec(spec: ContainerSpec) -> None:
    """The checks every driver makes before touching anything: a command, absolute image
    layer dirs, state dir and log path, bind mounts, the init binary, the memory floor and
    the network namespace."""
    if not spec.args or not spec.args[0]:
        raise InvalidParameter("no command specified")
    if not spec.lower_dirs:
        raise InvalidParameter(f"container {spec.id}: no image layers")
    for d in spec.lower_dirs:
        if not os.path.isabs(d) or not os.path.isdir(d) or any(c in d for c in ",:"):
            raise InvalidParameter(f"container {spec.id}: bad image layer dir {d!r}")
    if not os.path.isabs(spec.state_dir or "") or any(c in spec.state_dir for c in ",:"):
        raise InvalidParameter(f"container {spec.id}: bad state dir {spec.state_dir!r}")
    if not os.path.isabs(spec.log_path or ""):
        raise InvalidParameter(f"container {spec.id}: bad log path {spec.log_path!r}")
    for m in spec.mounts:
        if not os.path.isabs(m.destination) or not os.path.exists(m.source):
            raise InvalidParameter(
                f"container {spec.id}: bad mount {m.source} -> {m.destination}")
    if spec.init_path and not os.access(spec.init_path, os.X_OK):
        raise InvalidParameter(f"init binary {spec.init_path} not found")
    if spec.memory and spec.memory < 6 * 1024 * 1024:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if spec.netns_path is not None and not os.path.exists(spec.netns_path):
        raise InvalidParameter(
            f"container {spec.id}: network namespace {spec.netns_path} does not exist")


def validate_tmpfs_and_limits(spec: ContainerSpec) -> None:
    """The native and LXC drivers' further checks: tmpfs mounts and their options, and
    resource limits that are not negative."""
    for path, opts in spec.tmpfs.items():
        if not os.path.isabs(path) or os.path.normpath(path) == "/":
            raise InvalidParameter(f"invalid tmpfs mount point {path!r}: "
                                   "must be an absolute path other than /")
        try:
            security.tmpfs_options(opts)
        except ValueError as exc:
            raise InvalidParameter(f"invalid tmpfs mount {path}: {exc}") from exc
    if spec.nano_cpus < 0 or spec.pids_limit < 0 or spec.cpu_shares < 0:
        raise InvalidParameter("resource limits cannot be negative")


class ChildExecs:
    """Exec processes run as coved's children (``runc exec``, ``lxc-attach``): started
    with stdin closed, their exit codes kept (128+signal when killed) once read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._codes: dict[int, int] = {}

    def spawn(self, argv: list[str], container_id: str, stdout: int | None,
              stderr: int | None) -> int:
        """Start ``argv``; its pid."""
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL,
                stdout=stdout if stdout is not None else subprocess.DEVNULL,
                stderr=stderr if stderr is not None else subprocess.DEVNULL)
        except OSError as exc:
            raise RuntimeFailure(f"exec in container {container_id} failed: {exc}") from exc
        with self._lock:
            self._procs[proc.pid] = proc
            self._codes.pop(proc.pid, None)
        return proc.pid

    def exit_code(self, pid: int) -> int | None:
        """None while it runs; NotFound for a pid never started here."""
        with self._lock:
            if pid in self._codes:
                return self._codes[pid]
            proc = self._procs.get(pid)
        if proc is None:
            raise NotFound(f"No such exec process: {pid}")
        code = proc.poll()
        if code is None:
            return None
        code = 128 - code if code < 0 else code
        with self._lock:
            self._codes[pid] = code
            self._procs.pop(pid, None)
        return code
