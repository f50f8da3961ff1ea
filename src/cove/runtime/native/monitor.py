"""Processes forked by the spawner: the per-container monitor and the exec helper.

Monitor (one per running container, its own session so it outlives the daemon and the
spawner): forks C1, which joins the sandbox's netns and unshares mnt/pid/uts/ipc, then
forks C2 = the container's PID 1 (rootfs, hostname, exec). A close-on-exec error pipe
tells the monitor whether C2 reached exec; the monitor reports the outcome to the
spawner, writes ``init.json``, copies C2's stdout/stderr into the json-file log, reaps
C2 and writes ``exit.json`` (128+signal when killed). Stdlib + cove.kernel.syscalls only.

With ``tty``, C2 opens a pty inside the container (its own devpts, so ``tty`` says
``/dev/pts/0``), makes the slave its controlling terminal and stdio, and sends the master
to the monitor, which logs its output as stdout. The monitor serves the pty master (or,
with ``open_stdin``, the stdin pipe's write end) on its console socket
(:mod:`cove.runtime.native.console`). An exec with a tty gets a pty the same way, the
master going back to the daemon through the request's ``console`` socket.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import time
from typing import Any, NoReturn

from cove.kernel import syscalls as sc
from cove.kernel.cgroups import Cgroup
from cove.runtime import security, tty
from cove.runtime.native import console, libc, statefiles
from cove.runtime.native.jsonlog import JsonLogWriter, timestamp
from cove.runtime.native.process import ExecError, exec_process
from cove.runtime.native.rootfs import setup_rootfs

NS_FLAGS = sc.CLONE_NEWNS | sc.CLONE_NEWPID | sc.CLONE_NEWUTS | sc.CLONE_NEWIPC


def ns_flags(spec: dict[str, Any]) -> int:
    """The namespaces C1 unshares: PidMode host or container:<id> keeps (or joins) a pid
    ns, UTSMode host keeps the host's UTS ns, CgroupnsMode private adds a cgroup ns."""
    flags = NS_FLAGS
    if spec.get("pid_mode"):
        flags &= ~sc.CLONE_NEWPID
    if spec.get("uts_host"):
        flags &= ~sc.CLONE_NEWUTS
    if spec.get("cgroupns_private"):
        flags |= sc.CLONE_NEWCGROUP
    return flags


def reset_child_signals() -> None:
    """Undo the spawner's signal set-up in a freshly forked child."""
    try:
        signal.set_wakeup_fd(-1)
    except ValueError:
        pass
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def close_fds_except(keep: set[int]) -> None:
    last = 3
    for fd in sorted(k for k in keep if k >= 3):
        if fd > last:
            os.closerange(last, fd)
        last = fd + 1
    os.closerange(last, 1 << 20)


def read_all(fd: int) -> bytes:
    chunks = []
    while True:
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


def exit_code_of(status: int) -> int:
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def caps_of(spec: dict[str, Any]) -> int | None:
    """The capability mask for the container's processes (None: privileged, keep all)."""
    return None if spec.get("privileged") else security.DEFAULT_CAP_MASK


def cgroup_of(spec: dict[str, Any]) -> Cgroup | None:
    cg = spec.get("cgroup")
    return Cgroup.from_dict(cg) if cg else None


# -- the container's PID 1 (C2) --------------------------------------------------------

def send_master(con: socket.socket) -> int:
    """Open a pty under the current root, send its master over ``con``; return the slave."""
    master, slave = tty.open_pty()
    try:
        socket.send_fds(con, [console.TTY], [master])
    finally:
        os.close(master)
        con.close()
    return slave


def _container_init(spec: dict[str, Any], ep_w: int, out_w: int, err_w: int,
                    in_r: int = -1, con: socket.socket | None = None) -> NoReturn:
    try:
        os.dup2(in_r if in_r >= 0 else os.open("/dev/null", os.O_RDONLY), 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.setsid()
        hostname = spec.get("hostname") or spec["id"][:12]
        try:
            setup_rootfs(spec)
            if not spec.get("uts_host"):  # never the host's hostname
                libc.sethostname(hostname)
        except OSError as exc:
            raise ExecError(f"unable to set up the container's root filesystem: {exc}",
                            126) from exc
        if con is not None:
            try:
                tty.make_controlling(send_master(con))
            except OSError as exc:
                raise ExecError(f"unable to allocate a pseudo-terminal: {exc}", 126) from exc
        args = list(spec["args"])
        if spec.get("init_path"):
            args = [security.INIT_PATH, "--", *args]
        exec_process(args, spec.get("env", []), spec.get("cwd") or "/",
                     spec.get("user", ""), hostname, create_cwd=True,
                     caps=caps_of(spec), groups=spec.get("group_add") or [])
    except ExecError as exc:
        msg, code = exc.message, exc.code
    except BaseException as exc:  # noqa: BLE001 - anything before exec is a start failure
        msg, code = f"unable to start container process: {exc}", 126
    try:
        write_all(ep_w, json.dumps({"error": msg, "code": code}).encode())
    finally:
        os._exit(code)


# -- the monitor -----------------------------------------------------------------------

def run_monitor(spec: dict[str, Any], state_dir: str, report_fd: int) -> NoReturn:
    """Entry point of the monitor process (freshly forked by the spawner)."""
    code = 0
    try:
        _monitor(spec, state_dir, report_fd)
    except BaseException as exc:  # noqa: BLE001 - report and leave
        code = 1
        try:
            write_all(report_fd, json.dumps(
                {"error": f"container monitor failed: {exc}", "code": 126}).encode())
        except OSError:
            pass
    os._exit(code)


def _report(fd: int, msg: dict[str, Any]) -> None:
    try:
        write_all(fd, json.dumps(msg).encode())
    except OSError:
        pass  # the spawner is gone; the container runs on
    os.close(fd)


def _monitor(spec: dict[str, Any], state_dir: str, report_fd: int) -> None:
    t0 = time.monotonic()
    reset_child_signals()
    os.setsid()
    libc.set_child_subreaper()
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    close_fds_except({report_fd})

    pidfd = -1
    pid_mode = spec.get("pid_mode") or ""
    if pid_mode not in ("", "host"):  # container:<id>: that container's pid ns
        try:
            pidfd = os.open(pid_mode, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            _report(report_fd, {"error": f"cannot join the PID namespace {pid_mode}: "
                                         f"{exc.strerror}", "code": 126})
            return
    netfd = -1
    if spec.get("netns_path"):
        try:
            netfd = os.open(spec["netns_path"], os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            _report(report_fd, {"error": f"cannot open network namespace "
                                         f"{spec['netns_path']}: {exc.strerror}",
                                "code": 126})
            return
    log_path = os.devnull if spec.get("log_driver") == "none" else spec["log_path"]
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    ep_r, ep_w = os.pipe()
    pid_r, pid_w = os.pipe()
    use_tty = bool(spec.get("tty"))
    # OpenStdin: a pipe whose write end this monitor holds until the container exits,
    # so `cat` and `sh` wait on stdin as they do under Docker (no EOF). With a tty the
    # pty is the container's stdin.
    in_r, in_w = os.pipe() if spec.get("open_stdin") and not use_tty else (-1, -1)
    con_mon, con_c2 = (socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) if use_tty
                       else (None, None))

    c1 = os.fork()
    if c1 == 0:
        try:
            if netfd >= 0:
                sc.setns(netfd, sc.CLONE_NEWNET)
            cg = cgroup_of(spec)
            if cg is not None:
                cg.join(0)
            if pidfd >= 0:
                sc.setns(pidfd, sc.CLONE_NEWPID)  # for C2, the next child
            sc.unshare(ns_flags(spec))
            c2 = os.fork()
            if c2 == 0:
                _container_init(spec, ep_w, out_w, err_w, in_r, con_c2)
            write_all(pid_w, str(c2).encode())
            os._exit(0)
        except BaseException as exc:  # noqa: BLE001
            try:
                write_all(ep_w, json.dumps({"error": f"unable to create namespaces: {exc}",
                                            "code": 126}).encode())
            finally:
                os._exit(126)
    for fd in (out_w, err_w, ep_w, pid_w):
        os.close(fd)
    if in_r >= 0:
        os.close(in_r)
    if con_c2 is not None:
        con_c2.close()
    for fd in (netfd, pidfd):
        if fd >= 0:
            os.close(fd)
    c2_raw = read_all(pid_r)
    os.close(pid_r)
    os.waitpid(c1, 0)
    c2 = int(c2_raw) if c2_raw else 0
    err = read_all(ep_r)  # EOF when C2 exec'd (close-on-exec) or died
    spawn_ms = round((time.monotonic() - t0) * 1000, 3)
    os.close(ep_r)
    master = console.recv_master(con_mon) if con_mon is not None and not err and c2 else -1
    if use_tty and master < 0 and not err:
        err = json.dumps({"error": "unable to allocate a pseudo-terminal",
                          "code": 126}).encode()
    if err or not c2:
        if c2:
            os.waitpid(c2, 0)  # C2 is ours now: we are the subreaper
        try:
            failure = json.loads(err)
        except ValueError:
            failure = {"error": "container process died before exec", "code": 126}
        for fd in (out_r, err_r, log_fd):
            os.close(fd)
        if master >= 0:
            os.close(master)
        _report(report_fd, failure)
        return

    stat = statefiles.proc_stat(c2)
    me = statefiles.proc_stat(os.getpid())
    statefiles.write_json(os.path.join(state_dir, statefiles.INIT), {
        "pid": c2, "starttime": stat[1] if stat else 0, "started_at": timestamp(),
        "monitor_pid": os.getpid(), "monitor_starttime": me[1] if me else 0,
        "spawn_ms": spawn_ms,
    })
    listener = None
    if master >= 0 or in_w >= 0:
        try:
            listener = console.listen(state_dir)
        except OSError:
            listener = None        # the container runs; stdin just cannot be attached
    _report(report_fd, {"pid": c2})

    if master >= 0:
        for fd in (out_r, err_r):  # C2's pipes are unused: the pty carries everything
            os.close(fd)
        _copy_output(master, -1, log_fd, True, listener, master, console.TTY)
    else:
        _copy_output(out_r, err_r, log_fd, False, listener, in_w, console.PIPE)
    if listener is not None:
        listener.close()
        console.remove(state_dir)
    status = _reap(c2)
    cg = cgroup_of(spec)
    try:
        oom = cg is not None and cg.oom_killed()
    except OSError:
        oom = False
    statefiles.write_json(os.path.join(state_dir, statefiles.EXIT), {
        "exit_code": exit_code_of(status), "finished_at": timestamp(), "oom_killed": oom,
    })
    if cg is not None:
        cg.remove()  # the cgroup lives as long as the container runs (delete retries)


def _copy_output(out_r: int, err_r: int, log_fd: int, is_tty: bool = False,
                 listener: socket.socket | None = None, stdin_fd: int = -1,
                 kind: bytes = b"") -> None:
    """Copy output into the log until EOF on every stream (EIO on a pty master once the
    last slave closes), serving ``stdin_fd`` to console clients meanwhile."""
    writer = JsonLogWriter(log_fd, flush_partial=is_tty)
    streams = {out_r: "stdout"}
    if err_r >= 0:
        streams[err_r] = "stderr"
    poller = select.poll()
    for fd in streams:
        poller.register(fd, select.POLLIN)
    lfd = listener.fileno() if listener is not None else -1
    if lfd >= 0:
        poller.register(lfd, select.POLLIN)
    while streams:
        for fd, _ev in poller.poll():
            if fd == lfd:
                if console.serve_one(listener, stdin_fd, kind) and kind == console.PIPE \
                        and stdin_fd >= 0:
                    os.close(stdin_fd)      # StdinOnce: the container's stdin ends
                    stdin_fd = -1
                continue
            if fd not in streams:
                continue
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:  # a console client made the pty master non-blocking
                continue
            except OSError:        # EIO: the pty's slave side is gone
                data = b""
            if data:
                writer.feed(streams[fd], data)
            else:
                writer.close_stream(streams.pop(fd))
                poller.unregister(fd)
                os.close(fd)
    os.close(log_fd)


def _reap(pid: int) -> int:
    """Wait for ``pid``; reap any other orphan handed to us on the way."""
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255 << 8
        if got == pid:
            return status


# -- exec into a running container -----------------------------------------------------

def run_exec(req: dict[str, Any], stdout_fd: int, stderr_fd: int, exit_dir: str,
             stdin_fd: int = -1, console_fd: int = -1) -> NoReturn:
    """Entry point of the exec helper: join the container's namespaces, fork, exec, wait,
    write the exit code to ``<exit_dir>/<name>`` and exit with it.

    ``stdin_fd``: the process's stdin (else /dev/null). ``console_fd``: a socket; the
    process gets a pty opened inside the container, whose master is sent over it."""
    code = 126
    try:
        reset_child_signals()
        dir_fd = os.open(exit_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        close_fds_except({stdout_fd, stderr_fd, dir_fd, stdin_fd, console_fd})
        code = _exec_helper(req, stdout_fd, stderr_fd, dir_fd, stdin_fd, console_fd)
        statefiles.write_json(req["exit_name"], {"exit_code": code,
                                                  "finished_at": timestamp()}, dir_fd=dir_fd)
    except BaseException:  # noqa: BLE001
        pass
    os._exit(code & 0xFF)


def _exec_helper(req: dict[str, Any], stdout_fd: int, stderr_fd: int, dir_fd: int,
                 stdin_fd: int = -1, console_fd: int = -1) -> int:
    pid = req["pid"]
    cg = cgroup_of(req)
    if cg is not None:  # before entering the container's mount namespace
        try:
            cg.join(0)
        except OSError:
            pass  # the container's cgroup is gone: run outside it rather than fail
    ns_fds = []
    try:
        for ns in ("ipc", "uts", "net", "pid", "cgroup", "mnt"):
            ns_fds.append(os.open(f"/proc/{pid}/ns/{ns}", os.O_RDONLY | os.O_CLOEXEC))
        for fd in ns_fds:
            sc.setns(fd, 0)
    except OSError as exc:
        write_all(stderr_fd, f"OCI runtime exec failed: exec failed: cannot join the "
                             f"container's namespaces: {exc}: unknown\n".encode())
        return 126
    finally:
        for fd in ns_fds:
            os.close(fd)
    slave = -1
    if console_fd >= 0:             # in the container's mount ns now: its own devpts
        try:
            slave = send_master(socket.socket(fileno=console_fd))
        except OSError as exc:
            write_all(stderr_fd, f"OCI runtime exec failed: exec failed: unable to "
                                 f"allocate a pseudo-terminal: {exc}: unknown\n".encode())
            return 126
    child = os.fork()
    if child == 0:
        code = 126
        try:
            if slave >= 0:
                os.setsid()
                tty.make_controlling(slave)
                for fd in {stdout_fd, stderr_fd, stdin_fd} - {0, 1, 2, -1}:
                    os.close(fd)
            else:
                devnull = os.open("/dev/null", os.O_RDONLY)
                os.dup2(stdin_fd if stdin_fd >= 0 else devnull, 0)
                os.dup2(stdout_fd, 1)
                os.dup2(stderr_fd, 2)
                for fd in {stdout_fd, stderr_fd, devnull, stdin_fd} - {0, 1, 2, -1}:
                    os.close(fd)  # else background children keep the caller's pipe open
            exec_process(req["args"], req.get("env", []), req.get("cwd") or "/",
                         req.get("user", ""), caps=caps_of(req),
                         groups=req.get("group_add") or [])
        except ExecError as exc:
            code = 126             # Docker's exec: every start failure is 126, even ENOENT
            msg = exc.message
        except BaseException as exc:  # noqa: BLE001
            msg = str(exc)
        try:
            write_all(2, f"OCI runtime exec failed: exec failed: unable to start container "
                         f"process: {msg}: unknown\n".encode())
        finally:
            os._exit(code)
    for fd in {stdout_fd, stderr_fd, stdin_fd, slave} - {-1}:
        os.close(fd)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            return exit_code_of(status)
        except InterruptedError:
            time.sleep(0)
