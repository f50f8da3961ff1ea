"""The LXC execution driver: ``lxc-execute`` with a generated config, ``lxc-attach``.

Layout: ``<exec_root>/lxc/<id>/`` holds ``spec.json``, ``config`` (from
:func:`cove.runtime.lxc.config.render_config`), ``lxcpath/`` (LXC's private ``-P``),
``init.json`` / ``exit.json`` written by the per-container monitor
(:mod:`cove.runtime.lxc.monitor`) and ``signal`` (the last signal cove sent, to map
LXC's exit status 1 to Docker's 128+signal). State comes from these files only, so it
survives a daemon restart.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
from typing import Any

import cove
from cove.errors import Conflict, InvalidParameter, NotFound, RuntimeFailure
from cove.kernel import cgroups
from cove.runtime.base import ContainerSpec, ContainerState, ExecutionDriver
from cove.runtime.common import (
    ChildExecs,
    live_cgroup,
    state_from_files,
    update_cgroup,
    validate_spec,
    validate_tmpfs_and_limits,
)
from cove.runtime.lxc import cgroupdirs
from cove.runtime.lxc.config import render_config
from cove.runtime.lxc.monitor import SIGNAL
from cove.runtime.native import statefiles
from cove.runtime.native.driver import NativeDriver, StartFailed

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SRC_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(cove.__file__)))
CONFIG = "config"
LXCPATH = "lxcpath"


def available() -> bool:
    """Whether Debian's LXC tools are installed."""
    return all(shutil.which(b) for b in ("lxc-execute", "lxc-attach"))


class LxcDriver(ExecutionDriver):
    """Containers run by LXC, joining the sandbox netns that cove made."""

    name = "lxc"

    def __init__(self, exec_root: str) -> None:
        self.root = os.path.join(exec_root, "lxc")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self._lock = threading.Lock()
        self._execs = ChildExecs()           # exec processes (coved's children)

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

    def _validate(self, spec: ContainerSpec) -> str:
        self._dir(spec.id)
        validate_spec(spec)
        validate_tmpfs_and_limits(spec)
        try:
            return self._render(spec)
        except ValueError as exc:
            raise InvalidParameter(f"container {spec.id}: {exc}") from exc

    def _render(self, spec: ContainerSpec) -> str:
        ver = cgroups.version()
        memsw = ver == 2 or os.path.exists(
            os.path.join(cgroups.ROOT, "memory", "memory.memsw.limit_in_bytes"))
        dirs = frozenset(m.source for m in spec.mounts if os.path.isdir(m.source))
        return render_config(spec, os.path.join(spec.state_dir, "merged"), ver,
                             memsw=memsw, dir_sources=dirs)

    def _write(self, d: str, spec: ContainerSpec, config: str) -> None:
        statefiles.write_json(os.path.join(d, statefiles.SPEC), dataclasses.asdict(spec))
        with open(os.path.join(d, CONFIG), "w") as f:
            f.write(config)

    # -- lifecycle ---------------------------------------------------------------------

    def create(self, spec: ContainerSpec) -> None:
        config = self._validate(spec)
        d = self._dir(spec.id)
        made: list[str] = []
        try:
            for path in (d, os.path.join(d, LXCPATH), spec.state_dir,
                         *(os.path.join(spec.state_dir, s)
                           for s in ("upper", "work", "merged"))):
                if not os.path.isdir(path):
                    os.makedirs(path, mode=0o711)
                    made.append(path)
            self._write(d, spec, config)
        except OSError as exc:
            for path in reversed(made):
                shutil.rmtree(path, ignore_errors=True)
            raise RuntimeFailure(f"cannot create container {spec.id}: {exc}") from exc

    def start(self, spec: ContainerSpec) -> int:
        d = self._dir(spec.id)
        if not os.path.exists(os.path.join(d, statefiles.SPEC)):
            self.create(spec)
        else:
            self._write(d, spec, self._validate(spec))
        if self.state(spec.id).running:
            raise Conflict(f"container {spec.id} is already running")
        old = statefiles.read_json(os.path.join(d, statefiles.INIT)) or {}
        NativeDriver._wait_gone(self, int(old.get("monitor_pid", 0)),  # type: ignore[arg-type]
                                int(old.get("monitor_starttime", 0)), 5)
        for name in (statefiles.INIT, statefiles.EXIT, SIGNAL):
            try:
                os.unlink(os.path.join(d, name))
            except FileNotFoundError:
                pass
        os.makedirs(os.path.dirname(spec.log_path), exist_ok=True)
        cgroupdirs.remove(spec.id)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_SRC_ROOT, env.get("PYTHONPATH", "")) if p)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-S", "-m", "cove.runtime.lxc.monitor", d],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env,
                start_new_session=True)
        except OSError as exc:
            raise RuntimeFailure(f"cannot start the lxc monitor: {exc}") from exc
        assert proc.stdout is not None
        try:
            poller = select.poll()
            poller.register(proc.stdout.fileno(), select.POLLIN)
            line = proc.stdout.readline() if poller.poll(30_000) else b""
        finally:
            proc.stdout.close()
            proc.wait()
        try:
            rep: dict[str, Any] = json.loads(line)
        except ValueError:
            rep = {"ok": False, "error": "the lxc monitor did not answer", "code": 126}
        if not rep.get("ok"):
            init = statefiles.read_json(os.path.join(d, statefiles.INIT)) or {}
            self._kill_monitor(init)
            cgroupdirs.remove(spec.id)
            raise StartFailed(f"failed to start container {spec.id} under lxc: "
                              f"{rep.get('error')}", int(rep.get("code", 126)))
        init = statefiles.read_json(os.path.join(d, statefiles.INIT)) or {}
        return int(init["monitor_pid"])

    def state(self, container_id: str) -> ContainerState:
        _, init, exit_ = self._files(container_id)
        return state_from_files(init, exit_)

    def kill(self, container_id: str, signal: int) -> None:  # noqa: A002
        d, init, exit_ = self._files(container_id)
        if init is None or exit_ is not None:
            return
        pid = int(init.get("pid", 0))
        if pid and statefiles.is_alive(pid, int(init.get("starttime", 0))):
            with open(os.path.join(d, SIGNAL), "w") as f:
                f.write(str(int(signal)))
            try:
                os.kill(pid, signal)
            except ProcessLookupError:
                pass

    def _kill_monitor(self, init: dict) -> None:
        mpid, mstart = int(init.get("monitor_pid", 0)), int(init.get("monitor_starttime", 0))
        if not NativeDriver._wait_gone(self, mpid, mstart, 5):  # type: ignore[arg-type]
            try:
                os.kill(mpid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            NativeDriver._wait_gone(self, mpid, mstart, 5)  # type: ignore[arg-type]

    def delete(self, container_id: str) -> None:
        d = self._dir(container_id)
        if not os.path.isdir(d):
            return
        init = statefiles.read_json(os.path.join(d, statefiles.INIT)) or {}
        spec = statefiles.read_json(os.path.join(d, statefiles.SPEC)) or {}
        errors: list[str] = []
        pid, start = int(init.get("pid", 0)), int(init.get("starttime", 0))
        try:
            cgroupdirs.container(container_id).freeze(False)  # frozen cannot die
        except OSError:
            pass
        if pid and statefiles.is_alive(pid, start):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if not NativeDriver._wait_gone(self, pid, start, 10):  # type: ignore[arg-type]
                errors.append(f"container process {pid} did not exit")
        self._kill_monitor(init)
        errors.extend(cgroupdirs.remove(container_id))
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

    # -- cgroups: stats, pause ---------------------------------------------------------

    def stats(self, container_id: str) -> dict[str, int]:
        """Resource usage from the container's cgroup (see :meth:`Cgroup.stats`)."""
        self._files(container_id)
        return live_cgroup(cgroupdirs.container(container_id), container_id).stats()

    def update(self, container_id: str, limits: dict[str, int]) -> list[str]:
        """Change a running container's cgroup limits; returns warnings."""
        return update_cgroup(cgroupdirs.container(container_id), container_id, limits)

    def pause(self, container_id: str) -> None:
        """Freeze every process of the container."""
        self._freeze(container_id, True)

    def resume(self, container_id: str) -> None:
        self._freeze(container_id, False)

    def _freeze(self, container_id: str, frozen: bool) -> None:
        if not self.state(container_id).running:
            raise Conflict(f"Container {container_id} is not running")
        try:
            cgroupdirs.container(container_id).freeze(frozen)
        except OSError as exc:
            what = "pause" if frozen else "unpause"
            raise RuntimeFailure(f"cannot {what} container {container_id}: {exc}") from exc

    # -- exec --------------------------------------------------------------------------

    def exec(self, container_id: str, args: list[str], env: list[str], cwd: str = "",
             user: str = "", stdout: int | None = None, stderr: int | None = None) -> int:
        if not args or not args[0]:
            raise InvalidParameter("no command specified")
        if not self.state(container_id).running:
            raise Conflict(f"Container {container_id} is not running")
        d = self._dir(container_id)
        cmd = ["lxc-attach", "-n", container_id, "-P", os.path.join(d, LXCPATH),
               "--clear-env"]
        for kv in env:
            cmd += ["-v", kv]
        if user:
            uid, _, gid = user.partition(":")
            if not uid.isdigit() or (gid and not gid.isdigit()):
                raise InvalidParameter(f"user must be numeric UID[:GID] under lxc: {user!r}")
            cmd += ["-u", uid, "-g", gid or "0"]
        cmd.append("--")
        if cwd and cwd != "/":
            cmd += ["/bin/sh", "-c", 'cd "$0" && exec "$@"', cwd]
        cmd += list(args)
        return self._execs.spawn(cmd, container_id, stdout, stderr)

    def exec_exit_code(self, pid: int) -> int | None:
        return self._execs.exit_code(pid)
