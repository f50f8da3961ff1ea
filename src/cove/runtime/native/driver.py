"""The native execution driver: containers from a spawner process, state in files.

Layout: ``<exec_root>/native/<id>/{spec,init,exit}.json`` (see
:mod:`cove.runtime.native.statefiles`), ``<exec_root>/native/execs/`` for exec exit
codes. Methods are synchronous and thread-safe; requests to the spawner are serialised
on one socket, and a dead spawner is restarted on the next call.
"""

from __future__ import annotations

import dataclasses
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

import cove
from cove.errors import Conflict, InvalidParameter, NotFound, RuntimeFailure
from cove.kernel.cgroups import Cgroup, Limits
from cove.runtime import security
from cove.runtime.base import ContainerSpec, ContainerState, ExecutionDriver
from cove.runtime.common import (
    live_cgroup,
    state_from_files,
    update_cgroup,
    validate_spec,
    validate_tmpfs_and_limits,
)
from cove.runtime.native import console, statefiles
from cove.runtime.native.proto import recv_msg, send_msg

CGROUP = "cgroup.json"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SRC_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(cove.__file__)))


class StartFailed(RuntimeFailure):
    """The container's process could not be started; ``exit_code`` as Docker gives it
    (127: command not found, 126: cannot be run or set up)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class NativeDriver(ExecutionDriver):
    """The libcontainer role in Python: namespaces, overlayfs, pivot_root, exec."""

    name = "native"
    supports_tty = True
    applies_extra_limits = True

    def __init__(self, exec_root: str) -> None:
        self.root = os.path.join(exec_root, "native")
        self.exec_dir = os.path.join(self.root, "execs")
        os.makedirs(self.exec_dir, mode=0o700, exist_ok=True)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._execs: dict[int, str] = {}
        self._exec_codes: dict[int, int] = {}
        self._exec_consoles: dict[int, int] = {}

    # -- spawner -----------------------------------------------------------------------

    def _spawn(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_SRC_ROOT, env.get("PYTHONPATH", "")) if p)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-S", "-m", "cove.runtime.native.spawner",
                 str(child.fileno())],
                pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            parent.close()
            raise RuntimeFailure(f"cannot start the native spawner: {exc}") from exc
        finally:
            child.close()
        self._sock = parent

    def _stop_spawner(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def spawner_pid(self) -> int:
        """The spawner's pid (starting it if needed)."""
        return int(self._call({"op": "ping"})["pid"])

    def _call(self, msg: dict[str, Any], fds: list[int] | None = None) -> dict[str, Any]:
        with self._lock:
            for attempt in (1, 2):
                if self._sock is None or (self._proc is not None and
                                          self._proc.poll() is not None):
                    self._stop_spawner()
                    self._spawn()
                assert self._sock is not None
                try:
                    send_msg(self._sock, msg, fds)
                except OSError as exc:
                    self._stop_spawner()
                    if attempt == 2:
                        raise RuntimeFailure(f"native spawner unreachable: {exc}") from exc
                    continue
                try:
                    rep, extra = recv_msg(self._sock)
                except OSError as exc:
                    rep, extra = None, []
                    err: Exception | None = exc
                else:
                    err = None
                for fd in extra:
                    os.close(fd)
                if rep is None:
                    self._stop_spawner()
                    raise RuntimeFailure(f"native spawner died during {msg.get('op')}"
                                         + (f": {err}" if err else ""))
                return rep
        raise RuntimeFailure("native spawner unreachable")  # pragma: no cover

    def close(self) -> None:
        with self._lock:
            self._stop_spawner()

    # -- files -------------------------------------------------------------------------

    def _dir(self, container_id: str) -> str:
        if not _ID_RE.match(container_id or ""):
            raise InvalidParameter(f"invalid container id {container_id!r}")
        return os.path.join(self.root, container_id)

    def _files(self, container_id: str) -> tuple[str, dict | None, dict | None]:
        d = self._dir(container_id)
        if not os.path.isdir(d):
            raise NotFound(f"No such container: {container_id}")
        return (d, statefiles.read_json(os.path.join(d, statefiles.INIT)),
                statefiles.read_json(os.path.join(d, statefiles.EXIT)))

    # -- lifecycle ---------------------------------------------------------------------

    def _validate(self, spec: ContainerSpec) -> None:
        self._dir(spec.id)
        validate_spec(spec)
        validate_tmpfs_and_limits(spec)

    def create(self, spec: ContainerSpec) -> None:
        self._validate(spec)
        d = self._dir(spec.id)
        made: list[str] = []
        try:
            for path in (d, spec.state_dir, *(os.path.join(spec.state_dir, s)
                                              for s in ("upper", "work", "merged"))):
                if not os.path.isdir(path):
                    os.makedirs(path, mode=0o711)
                    made.append(path)
            statefiles.write_json(os.path.join(d, statefiles.SPEC), dataclasses.asdict(spec))
        except OSError as exc:
            for path in reversed(made):
                shutil.rmtree(path, ignore_errors=True)
            raise RuntimeFailure(f"cannot create container {spec.id}: {exc}") from exc

    def start(self, spec: ContainerSpec) -> int:
        d = self._dir(spec.id)
        if not os.path.exists(os.path.join(d, statefiles.SPEC)):
            self.create(spec)
        else:
            self._validate(spec)
            statefiles.write_json(os.path.join(d, statefiles.SPEC), dataclasses.asdict(spec))
        if self.state(spec.id).running:
            raise Conflict(f"container {spec.id} is already running")
        old = statefiles.read_json(os.path.join(d, statefiles.INIT)) or {}
        # a previous run's monitor may still be writing exit.json: let it finish first
        self._wait_gone(int(old.get("monitor_pid", 0)), int(old.get("monitor_starttime", 0)),
                        5)
        for name in (statefiles.INIT, statefiles.EXIT):
            try:
                os.unlink(os.path.join(d, name))
            except FileNotFoundError:
                pass
        os.makedirs(os.path.dirname(spec.log_path), exist_ok=True)
        cg = self._make_cgroup(spec, d)
        msg = dataclasses.asdict(spec)
        msg["cgroup"] = cg.to_dict()
        try:
            rep = self._call({"op": "start", "spec": msg, "state_dir": d})
        except BaseException:
            cg.remove()
            raise
        if not rep.get("ok"):
            cg.remove()
            raise StartFailed(f"failed to start container {spec.id}: {rep.get('error')}",
                              int(rep.get("code", 126)))
        return int(rep["monitor_pid"])

    # -- cgroups -----------------------------------------------------------------------

    def _make_cgroup(self, spec: ContainerSpec, d: str) -> Cgroup:
        old = self._cgroup(spec.id)
        if old is not None:
            old.remove()
        extra = ("devices",) + (("cpuset",) if spec.cpuset_cpus or spec.cpuset_mems else ())
        cg = Cgroup.plan(spec.id, extra=extra)
        statefiles.write_json(os.path.join(d, CGROUP), cg.to_dict())
        devices = None if spec.privileged else [*security.DEFAULT_DEVICE_RULES,
                                                *spec.device_rules]
        try:
            cg.create(Limits(memory=spec.memory, nano_cpus=spec.nano_cpus,
                             cpu_shares=spec.cpu_shares, pids_limit=spec.pids_limit,
                             cpuset_cpus=spec.cpuset_cpus, cpuset_mems=spec.cpuset_mems,
                             devices=devices))
            if spec.extra_limits:
                from cove.kernel import cgupdate
                cgupdate.apply(cg, **spec.extra_limits)
        except OSError as exc:
            cg.remove()
            raise RuntimeFailure(f"cannot create the cgroup of container {spec.id}: "
                                 f"{exc}") from exc
        return cg

    def _cgroup(self, container_id: str) -> Cgroup | None:
        data = statefiles.read_json(os.path.join(self._dir(container_id), CGROUP))
        return Cgroup.from_dict(data) if data else None

    def stats(self, container_id: str) -> dict[str, int]:
        """Resource usage from the container's cgroup (see :meth:`Cgroup.stats`)."""
        self._files(container_id)
        return live_cgroup(self._cgroup(container_id), container_id).stats()

    def update(self, container_id: str, limits: dict[str, int]) -> list[str]:
        """Change a running container's cgroup limits; returns warnings."""
        return update_cgroup(self._cgroup(container_id), container_id, limits)

    def pause(self, container_id: str) -> None:
        """Freeze every process of the container."""
        self._freeze(container_id, True)

    def resume(self, container_id: str) -> None:
        self._freeze(container_id, False)

    def _freeze(self, container_id: str, frozen: bool) -> None:
        if not self.state(container_id).running:
            raise Conflict(f"Container {container_id} is not running")
        cg = self._cgroup(container_id)
        if cg is None:
            raise Conflict(f"container {container_id} has no cgroup")
        try:
            cg.freeze(frozen)
        except OSError as exc:
            what = "pause" if frozen else "unpause"
            raise RuntimeFailure(f"cannot {what} container {container_id}: {exc}") from exc

    def state(self, container_id: str) -> ContainerState:
        _, init, exit_ = self._files(container_id)
        return state_from_files(init, exit_)

    def kill(self, container_id: str, signal: int) -> None:  # noqa: A002
        _, init, exit_ = self._files(container_id)
        if init is None or exit_ is not None:
            return
        pid = int(init.get("pid", 0))
        if statefiles.is_alive(pid, int(init.get("starttime", 0))):
            try:
                os.kill(pid, signal)
            except ProcessLookupError:
                pass

    def _wait_gone(self, pid: int, starttime: int, timeout: float) -> bool:
        if not statefiles.is_alive(pid, starttime):
            return True
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return True
        try:
            if not statefiles.is_alive(pid, starttime):
                return True
            poller = select.poll()          # not select(): the daemon's fds may pass 1024
            poller.register(pidfd, select.POLLIN)
            poller.poll(max(0.0, timeout) * 1000)
        finally:
            os.close(pidfd)
        return not statefiles.is_alive(pid, starttime)

    def delete(self, container_id: str) -> None:
        d = self._dir(container_id)
        if not os.path.isdir(d):
            return
        init = statefiles.read_json(os.path.join(d, statefiles.INIT)) or {}
        spec = statefiles.read_json(os.path.join(d, statefiles.SPEC)) or {}
        errors: list[str] = []
        pid, start = int(init.get("pid", 0)), int(init.get("starttime", 0))
        mpid, mstart = int(init.get("monitor_pid", 0)), int(init.get("monitor_starttime", 0))
        cg = self._cgroup(container_id)
        if cg is not None:
            try:
                cg.freeze(False)  # a frozen process cannot die of SIGKILL
            except OSError:
                pass
        if statefiles.is_alive(pid, start):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if not self._wait_gone(pid, start, 10):
                errors.append(f"container process {pid} did not exit")
        if not self._wait_gone(mpid, mstart, 5):
            try:
                os.kill(mpid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._wait_gone(mpid, mstart, 5)
        if cg is not None:
            for p in cg.pids():  # e.g. exec'd processes that outlived PID 1
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            errors.extend(cg.remove())
        state_dir = spec.get("state_dir") or ""
        if state_dir:
            for sub in ("upper", "work", "merged"):
                path = os.path.join(state_dir, sub)
                if os.path.ismount(path):
                    errors.append(f"{path} is still mounted; not removed")
                    continue
                shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)
        if errors:
            raise RuntimeFailure(f"deleting container {container_id}: " + "; ".join(errors))

    # -- exec --------------------------------------------------------------------------

    def exec(self, container_id: str, args: list[str], env: list[str], cwd: str = "",
             user: str = "", stdout: int | None = None, stderr: int | None = None,
             stdin: int | None = None, tty: bool = False) -> int:
        """See :meth:`ExecutionDriver.exec`. ``stdin``: an fd the process reads (else
        /dev/null). ``tty``: the process gets a pty opened inside the container; its
        master is then :meth:`exec_console`'s (stdout/stderr carry only start errors)."""
        if not args or not args[0]:
            raise InvalidParameter("no command specified")
        st = self.state(container_id)
        if not st.running:
            raise Conflict(f"Container {container_id} is not running")
        names, fds = [], []
        for name, fd in (("stdout", stdout), ("stderr", stderr), ("stdin", stdin)):
            if fd is not None:
                names.append(name)
                fds.append(fd)
        con_ours = con_theirs = None
        if tty:
            con_ours, con_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            names.append("console")
            fds.append(con_theirs.fileno())
        exit_name = uuid.uuid4().hex + ".json"
        d = self._dir(container_id)
        spec = statefiles.read_json(os.path.join(d, statefiles.SPEC)) or {}
        cg = self._cgroup(container_id)
        try:
            rep = self._call({"op": "exec", "pid": st.pid, "args": list(args),
                              "env": list(env), "cwd": cwd, "user": user,
                              "exit_dir": self.exec_dir, "exit_name": exit_name,
                              "fds": names, "privileged": bool(spec.get("privileged")),
                              "group_add": list(spec.get("group_add") or []),
                              "cgroup": cg.to_dict() if cg else None}, fds)
        except BaseException:
            if con_ours is not None:
                con_ours.close()
            raise
        finally:
            if con_theirs is not None:
                con_theirs.close()
        if not rep.get("ok"):
            if con_ours is not None:
                con_ours.close()
            raise RuntimeFailure(f"exec in container {container_id} failed: "
                                 f"{rep.get('error')}")
        pid = int(rep["pid"])
        master = console.recv_master(con_ours, timeout=10) if con_ours is not None else -1
        with self._lock:
            self._execs[pid] = os.path.join(self.exec_dir, exit_name)
            self._exec_codes.pop(pid, None)
            if master >= 0:
                self._exec_consoles[pid] = master
        return pid

    def exec_console(self, pid: int) -> int | None:
        """The pty master of the exec ``pid`` started with ``tty`` (the caller owns it)."""
        with self._lock:
            return self._exec_consoles.pop(pid, None)

    def console(self, container_id: str) -> tuple[int, bool] | None:
        """(fd, is_tty) writing to the running container's stdin: its pty master (tty)
        or its stdin pipe (OpenStdin), from its monitor; None when it has neither."""
        return console.fetch(self._dir(container_id))

    def close_stdin(self, container_id: str) -> None:
        """Close the running container's stdin pipe (``StdinOnce``); its monitor holds
        the last write end. No error when it is gone."""
        console.close_stdin(self._dir(container_id))

    def exec_exit_code(self, pid: int) -> int | None:
        with self._lock:
            if pid in self._exec_codes:
                return self._exec_codes[pid]
            path = self._execs.get(pid)
        if path is None:
            raise NotFound(f"No such exec process: {pid}")
        for _ in (1, 2):
            data = statefiles.read_json(path)
            if data is not None:
                code = int(data["exit_code"])
                with self._lock:
                    self._exec_codes[pid] = code
                    self._execs.pop(pid, None)
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
                return code
            st = statefiles.proc_stat(pid)
            if st is not None and st[0] not in ("Z", "X"):
                return None
            time.sleep(0.01)  # gone without a file: look once more, then give up
        with self._lock:
            self._exec_codes[pid] = 255
            self._execs.pop(pid, None)
        return 255
