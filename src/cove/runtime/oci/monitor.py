"""Per-container monitor for the OCI driver (runc, crun): ``python -m cove.runtime.oci.monitor``.

Started by :class:`cove.runtime.oci.driver.OciDriver` with one argument, the container's
state dir (holding ``monitor.json``: runtime argv prefix, id, bundle, overlay options,
log path). It forks once so that it is not coved's child (coved can die with kill -9 and
the container keeps running), then in the grandchild:

1. becomes a child subreaper (the container's PID 1 is re-parented to it when the
   runtime's ``create`` exits, so it gets the exit status by ``waitpid``);
2. enters a private mount namespace, mounts the overlay rootfs there (gone by itself when
   the monitor and the container are gone: nothing leaks into the host's mount table) and
   for crun on a cgroup v1 hybrid host hides ``cgroup.controllers`` of the v2 hierarchy;
3. runs ``<runtime> create`` with the container's stdout/stderr on pipes, then ``start``;
   writes ``init.json`` and reports ``{"ok": true, "pid": ...}`` on the report fd;
4. copies the output into the json-file log, reaps PID 1, writes ``exit.json``.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from typing import Any

from cove.kernel import syscalls as sc
from cove.runtime.native import libc, statefiles
from cove.runtime.native.jsonlog import JsonLogWriter, timestamp

CONFIG = "monitor.json"
HYBRID_CONTROLLERS = "/sys/fs/cgroup/unified/cgroup.controllers"


# The three helpers below mirror cove.runtime.native.monitor's; importing that module
# would cost ~20 ms of start-up per container (cgroups, dataclasses).
def exit_code_of(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _copy_output(out_r: int, err_r: int, log_fd: int) -> None:
    writer = JsonLogWriter(log_fd)
    streams = {out_r: "stdout", err_r: "stderr"}
    poller = select.poll()
    for fd in streams:
        poller.register(fd, select.POLLIN)
    while streams:
        for fd, _ev in poller.poll():
            if fd not in streams:
                continue
            data = os.read(fd, 65536)
            if data:
                writer.feed(streams[fd], data)
            else:
                writer.close_stream(streams.pop(fd))
                poller.unregister(fd)
                os.close(fd)
    os.close(log_fd)


def _reap(pid: int) -> int:
    """Wait for ``pid``; reap any other orphan handed to us (we are a subreaper)."""
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255 << 8
        if got == pid:
            return status


def _report(fd: int, msg: dict[str, Any]) -> None:
    try:
        os.write(fd, json.dumps(msg).encode())
    finally:
        os.close(fd)


def _setup_mounts(cfg: dict[str, Any], state_dir: str) -> None:
    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    sc.mount("overlay", cfg["rootfs"], "overlay", 0, cfg["overlay_opts"])
    if cfg.get("hide_controllers") and os.path.exists(HYBRID_CONTROLLERS):
        empty = os.path.join(state_dir, "empty")
        open(empty, "w").close()
        sc.mount(empty, HYBRID_CONTROLLERS, None, sc.MS_BIND)


def _oom_killed(cfg: dict[str, Any]) -> bool:
    path = cfg.get("oom_control", "")
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("oom_kill ") and int(line.split()[1]) > 0:
                    return True
    except (OSError, ValueError):
        pass
    return False


def monitor(state_dir: str, report_fd: int) -> int:
    cfg = statefiles.read_json(os.path.join(state_dir, CONFIG))
    if cfg is None:
        _report(report_fd, {"ok": False, "error": "monitor config missing"})
        return 1
    rt, cid = list(cfg["runtime"]), cfg["id"]
    try:
        libc.set_child_subreaper()
        _setup_mounts(cfg, state_dir)
        log_fd = os.open(cfg["log_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                         0o640)
    except OSError as exc:
        _report(report_fd, {"ok": False, "error": f"container setup: {exc}"})
        return 1
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid_file = os.path.join(state_dir, "pid")
    null = os.open(os.devnull, os.O_RDWR)
    create = subprocess.run([*rt, "create", "--bundle", cfg["bundle"], "--pid-file", pid_file,
                             cid], stdin=null, stdout=out_w, stderr=err_w, check=False)
    os.close(out_w)
    os.close(err_w)
    if create.returncode != 0:
        os.close(out_r)
        err = b""
        while chunk := os.read(err_r, 65536):
            err += chunk
        os.close(err_r)
        _report(report_fd, {"ok": False, "error": err.decode(errors="replace").strip()
                            or f"{rt[0]} create exited {create.returncode}"})
        return 1
    with open(pid_file) as f:
        pid = int(f.read().strip())
    st = statefiles.proc_stat(pid)
    me = statefiles.proc_stat(os.getpid())
    statefiles.write_json(os.path.join(state_dir, statefiles.INIT), {
        "pid": pid, "starttime": st[1] if st else 0, "monitor_pid": os.getpid(),
        "monitor_starttime": me[1] if me else 0, "started_at": timestamp()})
    start = subprocess.run([*rt, "start", cid], stdin=null, stdout=null,
                           stderr=subprocess.PIPE, check=False)
    if start.returncode != 0:
        subprocess.run([*rt, "delete", "--force", cid], stdin=null, stdout=null, stderr=null,
                       check=False)
        _report(report_fd, {"ok": False, "error": start.stderr.decode(errors="replace")
                            .strip() or f"{rt[0]} start exited {start.returncode}"})
        _reap(pid)
        return 1
    os.close(null)
    _report(report_fd, {"ok": True, "pid": pid})
    _copy_output(out_r, err_r, log_fd)
    code = exit_code_of(_reap(pid))
    statefiles.write_json(os.path.join(state_dir, statefiles.EXIT), {
        "exit_code": code, "finished_at": timestamp(), "oom_killed": _oom_killed(cfg)})
    return 0


def main() -> None:
    state_dir, report_fd = sys.argv[1], int(sys.argv[2])
    if os.fork():
        os._exit(0)       # the driver reaps this one; the grandchild is init's
    os.setsid()
    code = 1
    try:
        code = monitor(state_dir, report_fd)
    except BaseException as exc:  # report anything rather than leave the driver waiting
        try:
            _report(report_fd, {"ok": False, "error": f"monitor: {exc}"})
        except OSError:
            pass
    os._exit(code)


if __name__ == "__main__":
    main()
