"""The execution-driver seam (the libcontainer role).

An :class:`ExecutionDriver` runs a :class:`ContainerSpec` as processes in namespaces and
reports their state. It never touches networking beyond joining ``spec.netns_path``, the
network namespace the network controller created beforehand (None: the host's).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


@dataclass
class Mount:
    source: str
    destination: str
    readonly: bool = False


@dataclass
class ContainerSpec:
    id: str
    args: list[str]                          # argv, args[0] looked up in the rootfs PATH
    env: list[str]                           # "K=V"
    cwd: str = "/"
    hostname: str = ""
    user: str = ""                           # "", "uid", "uid:gid"
    lower_dirs: list[str] = field(default_factory=list)  # image layers, top-most first
    state_dir: str = ""                      # per-container dir for rootfs upper/work/merged
    netns_path: str | None = None            # None = share the host's network namespace
    mounts: list[Mount] = field(default_factory=list)   # e.g. hosts, resolv.conf, hostname
    log_path: str = ""                       # json-file log (Docker's json-file format)
    open_stdin: bool = False                 # stdin is a pipe held open while it runs
    tty: bool = False                        # a pty is its stdin/stdout/stderr (issue 6)
    # issue 5: security and resources (see cove.runtime.security, cove.kernel.cgroups)
    privileged: bool = False                 # all capabilities, no masked/ro /proc paths
    readonly_rootfs: bool = False
    tmpfs: dict[str, str] = field(default_factory=dict)  # container path -> mount options
    init_path: str = ""                      # host path of tini, bind-mounted at INIT_PATH
    memory: int = 0                          # bytes; 0 = unlimited
    nano_cpus: int = 0                       # 1e9 = one CPU
    cpu_shares: int = 0
    pids_limit: int = 0                      # 0 = unlimited
    # issue 6: namespace modes and the remaining create options (cove.engine.hostmodes)
    pid_mode: str = ""                       # "": new pid ns; "host"; or a pid ns path
    uts_host: bool = False                   # share the host's UTS ns (no sethostname)
    cgroupns_private: bool = False           # a new cgroup namespace
    group_add: list[str] = field(default_factory=list)  # supplementary groups (names/gids)
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    device_rules: list[str] = field(default_factory=list)  # added to the default allow list
    log_driver: str = "json-file"            # "none": output is discarded, no log file
    # limits beyond the four above (cove.kernel.cgupdate.apply keywords: memory_swap,
    # memory_reservation, cpu_period, cpu_quota, blkio_weight); a driver that sets
    # ``applies_extra_limits`` writes them before the process runs
    extra_limits: dict[str, int] = field(default_factory=dict)


@dataclass
class ContainerState:
    running: bool
    pid: int = 0                 # host pid of the container's PID 1 (0 when not running)
    exit_code: int | None = None
    oom_killed: bool = False
    started_at: str = ""
    finished_at: str = ""


@dataclass
class ExecResult:
    exit_code: int
    output: bytes = b""          # combined stdout/stderr when not streamed


class ExecutionDriver(abc.ABC):
    """create → start → (kill) → state → delete; exec while running."""

    name: str = ""
    supports_tty: bool = False   # exec(..., stdin=, tty=), exec_console, console (issue 6)
    applies_extra_limits: bool = False   # writes ContainerSpec.extra_limits before the start

    @abc.abstractmethod
    def create(self, spec: ContainerSpec) -> None:
        """Prepare everything short of running: rootfs, runtime state. Undone by delete."""

    @abc.abstractmethod
    def start(self, spec: ContainerSpec) -> int:
        """Start the container's process; return a pid whose exit means the container
        has exited (watchable with a pidfd; its exit status is then in :meth:`state`)."""

    @abc.abstractmethod
    def state(self, container_id: str) -> ContainerState:
        """Current state, readable after a daemon restart (from the driver's own files)."""

    @abc.abstractmethod
    def kill(self, container_id: str, signal: int) -> None:
        """Send a signal to the container's PID 1. No error if it is not running."""

    @abc.abstractmethod
    def delete(self, container_id: str) -> None:
        """Remove every trace (kill if running, unmount rootfs, remove state).
        Deleting what is already gone is not an error."""

    @abc.abstractmethod
    def exec(self, container_id: str, args: list[str], env: list[str], cwd: str = "",
             user: str = "", stdout: int | None = None, stderr: int | None = None) -> int:
        """Start ``args`` inside the running container's namespaces. Output goes to the
        given fds (pipes the caller reads) or is discarded. Returns a pid watchable with a
        pidfd; :meth:`exec_exit_code` gives its exit code once it has exited."""

    @abc.abstractmethod
    def exec_exit_code(self, pid: int) -> int | None:
        """The exit code of an exec started by :meth:`exec`, or None while it runs."""

    def console(self, container_id: str) -> tuple[int, bool] | None:
        """(fd, is_tty) for writing the running container's stdin (a pty master or a
        pipe; the caller closes it), or None: the driver offers no stdin or tty."""
        return None

    def close_stdin(self, container_id: str) -> None:  # noqa: B027 - optional hook
        """Close the running container's stdin (``StdinOnce``), where :meth:`console`
        offers one."""

    def exec_console(self, pid: int) -> int | None:
        """The pty master of an exec started with ``tty`` (drivers with supports_tty)."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release driver resources (helper processes) at daemon shutdown."""
