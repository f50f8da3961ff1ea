"""What the execution drivers share: a container's state read from its state files, and
the checks around its cgroup (stats, update) whichever driver placed it.

Every driver's monitor writes ``init.json`` (PID 1 and the monitor, with start times) and
``exit.json`` (exit code, OOM, finish time) in the format of
:mod:`cove.runtime.native.statefiles`; the state follows from those alone, so it is the
same after a daemon restart.
"""

from __future__ import annotations

from typing import Any

from cove.errors import Conflict, RuntimeFailure
from cove.kernel.cgroups import Cgroup
from cove.runtime.base import ContainerState
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
