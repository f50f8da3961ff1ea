"""The OCI execution driver: containers run by ``runc`` or ``crun`` through their CLI.

Layout under ``<exec_root>/<binary>/``: ``state/`` is the runtime's ``--root``;
``<id>/`` holds the bundle (``config.json`` from :func:`cove.runtime.oci.spec.render_config`),
``monitor.json`` and the native driver's ``init.json``/``exit.json`` (see
:mod:`cove.runtime.native.statefiles`), written by a detached per-container monitor
(:mod:`cove.runtime.oci.monitor`). The monitor, not coved, is the parent of the
container's PID 1: containers survive a coved kill -9 and :meth:`state` reads the files
after a restart (re-adoption). The rootfs is an overlay mounted by the monitor in its own
mount namespace, so it disappears with the container.

conmon was considered: it writes k8s-file or journald logs, not Docker's json-file, so
a monitor of our own (the native driver's log writer and reaper) serves better.

crun 1.8 refuses a cgroup v1 hybrid host; every crun call runs in a private mount
namespace where the v2 hierarchy's ``cgroup.controllers`` is hidden by an empty file.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading

import cove
from cove.errors import Conflict, InvalidParameter, NotFound, RuntimeFailure
from cove.runtime.base import ContainerSpec, ContainerState, ExecutionDriver
from cove.runtime.common import ChildExecs, state_from_files, validate_spec
from cove.runtime.native import statefiles
from cove.runtime.oci import monitor as oci_monitor
from cove.runtime.oci.spec import render_config

BINARIES = ("runc", "crun")
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_SRC_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(cove.__file__)))
_HIDE = ('mount --bind "$0" ' + oci_monitor.HYBRID_CONTROLLERS + ' 2>/dev/null; exec "$@"')


def _bounding_set() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return 0


def _hybrid() -> bool:
    try:
        with open(oci_monitor.HYBRID_CONTROLLERS) as f:
            return bool(f.read().strip()) and os.path.isdir("/sys/fs/cgroup/memory")
    except OSError:
        return False


class OciDriver(ExecutionDriver):
    """Containers under an OCI runtime (``binary``: "runc" or "crun")."""

    def __init__(self, exec_root: str, binary: str = "runc") -> None:
        if binary not in BINARIES:
            raise InvalidParameter(f"unknown OCI runtime {binary!r}")
        path = shutil.which(binary)
        if path is None:
            raise InvalidParameter(f"runtime {binary}: binary not found in PATH")
        self.name = binary
        self.root = os.path.join(exec_root, binary)
        self.state_root = os.path.join(self.root, "state")
        os.makedirs(self.state_root, mode=0o700, exist_ok=True)
        self.hide = binary == "crun" and _hybrid()
        self.runtime = [path, "--root", self.state_root]
        self._empty = os.path.join(self.root, "empty")
        if self.hide:
            open(self._empty, "a").close()
        self._lock = threading.Lock()
        self._execs = ChildExecs()           # exec processes (coved's children)

    # -- helpers -----------------------------------------------------------------------

    def _argv(self, *args: str) -> list[str]:
        """The runtime's argv, wrapped for crun on a hybrid host (see the module doc)."""
        if self.hide:
            return ["unshare", "--mount", "--propagation", "private", "sh", "-c", _HIDE,
                    self._empty, *self.runtime, *args]
        return [*self.runtime, *args]

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        try:
            res = subprocess.run(self._argv(*args), stdin=subprocess.DEVNULL,
                                 capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeFailure(f"{self.name} {args[0]}: {exc}") from exc
        if check and res.returncode != 0:
            raise RuntimeFailure(f"{self.name} {args[0]} failed: "
                                 f"{res.stderr.decode(errors='replace').strip()}")
        return res

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

    @staticmethod
    def _user(user: str) -> tuple[int, int]:
        if not user:
            return 0, 0
        uid, _, gid = user.partition(":")
        try:
            return int(uid), int(gid or 0)
        except ValueError:
            raise InvalidParameter(f"user {user!r}: the OCI driver takes numeric "
                                   "UID[:GID] only") from None

    def _validate(self, spec: ContainerSpec) -> None:
        self._dir(spec.id)
        validate_spec(spec)
        self._user(spec.user)
        for g in spec.group_add:
            if not g.isdigit():
                raise InvalidParameter(f"group {g!r}: the OCI driver takes numeric GIDs "
                                       "only")

    # -- lifecycle ---------------------------------------------------------------------

    def create(self, spec: ContainerSpec) -> None:
        self._validate(spec)
        d = self._dir(spec.id)
        for path in (d, *(os.path.join(spec.state_dir, s) for s in ("upper", "work",
                                                                    "merged"))):
            os.makedirs(path, mode=0o711, exist_ok=True)
        self._write_bundle(spec, d)

    def _write_bundle(self, spec: ContainerSpec, d: str) -> None:
        uid, gid = self._user(spec.user)
        rootfs = os.path.join(spec.state_dir, "merged")
        cg = f"/cove/{spec.id}"
        cfg = render_config(spec, rootfs, uid, gid, cg, _bounding_set())
        statefiles.write_json(os.path.join(d, "config.json"), cfg)
        statefiles.write_json(os.path.join(d, oci_monitor.CONFIG), {
            "runtime": self.runtime, "id": spec.id, "bundle": d, "rootfs": rootfs,
            "overlay_opts": "lowerdir={},upperdir={},workdir={}".format(
                ":".join(spec.lower_dirs), os.path.join(spec.state_dir, "upper"),
                os.path.join(spec.state_dir, "work")),
            "hide_controllers": self.hide, "log_path": spec.log_path,
            "state_dir": spec.state_dir,
            "oom_control": f"/sys/fs/cgroup/memory{cg}/memory.oom_control"})

    def start(self, spec: ContainerSpec) -> int:
        d = self._dir(spec.id)
        self._validate(spec)
        if self.state(spec.id).running if os.path.isdir(d) else False:
            raise Conflict(f"container {spec.id} is already running")
        self.create(spec)
        old = statefiles.read_json(os.path.join(d, statefiles.INIT)) or {}
        self._wait_gone(int(old.get("monitor_pid", 0)), int(old.get("monitor_starttime", 0)),
                        5)
        if os.path.exists(os.path.join(self.state_root, spec.id)):  # a previous run's
            self._run("delete", "--force", spec.id, check=False)
        for name in (statefiles.INIT, statefiles.EXIT, "pid"):
            try:
                os.unlink(os.path.join(d, name))
            except FileNotFoundError:
                pass
        os.makedirs(os.path.dirname(spec.log_path), exist_ok=True)
        r, w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_SRC_ROOT, env.get("PYTHONPATH", "")) if p)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-S", "-m", "cove.runtime.oci.monitor", d, str(w)],
                pass_fds=[w], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True, cwd=d)
        except OSError as exc:
            os.close(r)
            raise RuntimeFailure(f"cannot start the monitor of {spec.id}: {exc}") from exc
        finally:
            os.close(w)
        proc.wait()
        raw = b""
        with os.fdopen(r, "rb") as f:
            raw = f.read()
        try:
            rep = json.loads(raw or b"{}")
        except ValueError:
            rep = {}
        if not rep.get("ok"):
            raise RuntimeFailure(f"failed to start container {spec.id} with {self.name}: "
                                 f"{rep.get('error') or 'monitor died'}")
        init = statefiles.read_json(os.path.join(d, statefiles.INIT)) or {}
        return int(init["monitor_pid"])

    def state(self, container_id: str) -> ContainerState:
        _, init, exit_ = self._files(container_id)
        return state_from_files(init, exit_)

    def kill(self, container_id: str, signal: int) -> None:  # noqa: A002
        if not self.state(container_id).running:
            return
        self._run("kill", container_id, str(int(signal)), check=False)

    def _wait_gone(self, pid: int, starttime: int, timeout: float) -> bool:
        if not statefiles.is_alive(pid, starttime):
            return True
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return True
        try:
            poller = select.poll()
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
        mon = statefiles.read_json(os.path.join(d, oci_monitor.CONFIG)) or {}
        errors: list[str] = []
        res = self._run("delete", "--force", container_id, check=False)
        err = res.stderr.decode(errors="replace")
        if res.returncode != 0 and "not exist" not in err and "not found" not in err:
            errors.append(f"{self.name} delete: {err.strip()}")
        pid, start = int(init.get("pid", 0)), int(init.get("starttime", 0))
        if statefiles.is_alive(pid, start):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if not self._wait_gone(pid, start, 10):
                errors.append(f"container process {pid} did not exit")
        mpid, mstart = int(init.get("monitor_pid", 0)), int(init.get("monitor_starttime", 0))
        if not self._wait_gone(mpid, mstart, 5):
            try:
                os.kill(mpid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._wait_gone(mpid, mstart, 5)
        state_dir = mon.get("state_dir") or ""
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
             user: str = "", stdout: int | None = None, stderr: int | None = None) -> int:
        if not args or not args[0]:
            raise InvalidParameter("no command specified")
        if not self.state(container_id).running:
            raise Conflict(f"Container {container_id} is not running")
        opts: list[str] = []
        for e in env:
            opts += ["--env", e]
        if cwd:
            opts += ["--cwd", cwd]
        if user:
            uid, gid = self._user(user)
            opts += ["--user", f"{uid}:{gid}"]
        return self._execs.spawn(self._argv("exec", *opts, container_id, *args),
                                 container_id, stdout, stderr)

    def exec_exit_code(self, pid: int) -> int | None:
        return self._execs.exit_code(pid)
