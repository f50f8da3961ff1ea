"""Per-container LXC monitor: ``python -S -m cove.runtime.lxc.monitor <container dir>``.

Forks once (the driver reaps the parent; the child lives on without the daemon), mounts
the overlay rootfs in a private mount namespace (so it disappears with the container),
runs ``lxc-execute``, writes ``init.json`` once the container's init exists and reports
``{"ok": ...}`` as one JSON line on stdout, then copies the container's output into the
json-file log, and writes ``exit.json`` with the exit code mapped to Docker's: LXC
reports a killed container as 1, so a signal the driver sent (file ``signal``) becomes
128+signal. Finally it removes the cgroups LXC leaves behind.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time

from cove.kernel import syscalls as sc
from cove.runtime.lxc import cgroupdirs
from cove.runtime.native import statefiles
from cove.runtime.native.jsonlog import JsonLogWriter, timestamp

SIGNAL = "signal"
LXC_LOG = "lxc.log"


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def find_init(pid: int) -> int:
    """The container's PID 1: the first descendant of ``pid`` (lxc-execute, which forks
    its own monitor first) that lives in another pid namespace; 0 if none yet."""
    try:
        own = os.readlink("/proc/self/ns/pid")
    except OSError:
        return 0
    todo = _children(pid)
    while todo:
        p = todo.pop(0)
        try:
            if os.readlink(f"/proc/{p}/ns/pid") != own:
                return p
        except OSError:
            continue
        todo += _children(p)
    return 0


def _report(msg: dict) -> None:
    os.write(1, json.dumps(msg).encode() + b"\n")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _mount_rootfs(spec: dict) -> str:
    sc.unshare(sc.CLONE_NEWNS)
    sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
    state = spec["state_dir"]
    root = os.path.join(state, "merged")
    opts = "lowerdir={},upperdir={},workdir={}".format(
        ":".join(spec["lower_dirs"]), os.path.join(state, "upper"),
        os.path.join(state, "work"))
    sc.mount("overlay", root, "overlay", 0, opts)
    _make_targets(root, spec)
    return root


def _make_targets(root: str, spec: dict) -> None:
    """Create mount points in the (still writable) overlay, so that LXC's ``create=``
    has nothing to do under ``--read-only``; symlinks resolve inside the rootfs."""
    from cove.runtime.native.rootfs import _make_target, secure_join
    from cove.runtime.security import INIT_PATH
    targets = [(m["destination"], os.path.isdir(m["source"])) for m in spec["mounts"]]
    targets += [(p, True) for p in spec.get("tmpfs") or {}]
    if spec.get("init_path"):
        targets.append((INIT_PATH, False))
    for path, is_dir in targets:
        _make_target(secure_join(root, path), is_dir)


def exit_code(status: int, sent_signal: int) -> int:
    """Docker's exit code from lxc-execute's ``status`` (a Popen returncode)."""
    if status < 0:
        return 128 - status
    if sent_signal and status in (1, 128 + sent_signal):
        return 128 + sent_signal
    return status


def _pump(fds: dict[int, str], writer: JsonLogWriter) -> None:
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    while fds:
        for fd, _ in poller.poll():
            data = os.read(fd, 65536)
            if data:
                writer.feed(fds[fd], data)
                continue
            writer.close_stream(fds[fd])
            poller.unregister(fd)
            os.close(fd)
            del fds[fd]


def _lxc_errors(d: str) -> str:
    try:
        with open(os.path.join(d, LXC_LOG)) as f:
            return f.read().strip()
    except OSError:
        return ""


def run(d: str) -> int:
    spec = statefiles.read_json(os.path.join(d, statefiles.SPEC)) or {}
    cid = spec["id"]
    try:
        _mount_rootfs(spec)
        log_fd = os.open(spec["log_path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        args = list(spec["args"])
        if spec.get("init_path"):
            from cove.runtime.security import INIT_PATH
            args = [INIT_PATH, "-s", "--", *args]  # LXC's init is PID 1: subreaper
        proc = subprocess.Popen(
            ["lxc-execute", "-n", cid, "-P", os.path.join(d, "lxcpath"),
             "-f", os.path.join(d, "config"), "-o", os.path.join(d, LXC_LOG),
             "-l", "ERROR", "--", *args],
            stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, close_fds=True)
        os.close(out_w)
        os.close(err_w)
    except (OSError, KeyError) as exc:
        _report({"ok": False, "error": str(exc), "code": 126})
        return 1
    pid = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        pid = find_init(proc.pid)
        if pid:
            break
        time.sleep(0.001)
    me = statefiles.proc_stat(os.getpid())
    st = statefiles.proc_stat(pid) if pid else None
    statefiles.write_json(os.path.join(d, statefiles.INIT), {
        "pid": pid, "starttime": st[1] if st else 0, "monitor_pid": os.getpid(),
        "monitor_starttime": me[1] if me else 0, "started_at": timestamp()})
    if not pid:
        proc.wait()
        err = _lxc_errors(d)
        if err:
            _report({"ok": False, "error": err[-2000:] or "lxc-execute failed",
                     "code": 126})
            cgroupdirs.remove(cid)
            return 1
    _report({"ok": True, "pid": pid})
    _pump({out_r: "stdout", err_r: "stderr"}, JsonLogWriter(log_fd))
    status = proc.wait()
    try:
        with open(os.path.join(d, SIGNAL)) as f:
            sent = int(f.read().strip() or 0)
    except (OSError, ValueError):
        sent = 0
    code = exit_code(status, sent)
    if code == 0 and "Failed to spawn container" in _lxc_errors(d):
        code = 126  # LXC could not set the container up: Docker's "cannot be run"
    cgroupdirs.remove(cid)
    statefiles.write_json(os.path.join(d, statefiles.EXIT), {
        "exit_code": code, "oom_killed": False, "finished_at": timestamp()})
    return 0


def main() -> None:
    d = sys.argv[1]
    if os.fork():
        os._exit(0)
    os._exit(run(d))


if __name__ == "__main__":
    main()
