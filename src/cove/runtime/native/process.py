"""The last steps before exec, shared by a container's PID 1 and by ``exec``.

User switch (``uid[:gid]`` or names from the rootfs's /etc/passwd and /etc/group),
environment defaults, working directory, and the PATH lookup with Docker's error
messages and exit codes (127: not found, 126: found but cannot be run). Stdlib only.
"""

from __future__ import annotations

import errno
import os
import signal

from cove.runtime.native import libc

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ExecError(Exception):
    """A failure before exec; ``code`` is the exit code Docker gives it."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _read_db(path: str) -> list[list[str]]:
    try:
        with open(path) as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip()]
    except OSError:
        return []


def resolve_user(user: str) -> tuple[int, int, str]:
    """``"uid[:gid]"`` or names → (uid, gid, home). Reads the current root's files."""
    if not user:
        return 0, 0, "/root"
    name, _, group = user.partition(":")
    passwd = _read_db("/etc/passwd")
    uid: int | None = None
    gid: int | None = None
    home = "/"
    for ent in passwd:
        if len(ent) >= 6 and (ent[0] == name or (name.isdigit() and ent[2] == name)):
            uid, gid, home = int(ent[2]), int(ent[3]), ent[5] or "/"
            break
    if uid is None:
        if not name.isdigit():
            raise ExecError(f"unable to find user {name}: no matching entries in passwd file",
                            126)
        uid, gid = int(name), 0
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            for ent in _read_db("/etc/group"):
                if len(ent) >= 3 and ent[0] == group:
                    gid = int(ent[2])
                    break
            else:
                raise ExecError(
                    f"unable to find group {group}: no matching entries in group file", 126)
    return uid, gid or 0, home


def resolve_groups(user_name: str, gid: int, extra: list[str]) -> list[int]:
    """Supplementary groups: those of /etc/group listing ``user_name`` (as Docker) and
    ``--group-add`` (names from the current root's /etc/group, numbers as they are)."""
    groups = _read_db("/etc/group")
    out: list[int] = []
    if user_name:
        for ent in groups:
            if len(ent) >= 4 and ent[2].isdigit() and user_name in ent[3].split(","):
                out.append(int(ent[2]))
    for g in extra:
        if g.isdigit():
            out.append(int(g))
            continue
        for ent in groups:
            if len(ent) >= 3 and ent[0] == g and ent[2].isdigit():
                out.append(int(ent[2]))
                break
        else:
            raise ExecError(f"Unable to find group {g}: no matching entries in group file",
                            126)
    return sorted(set(out) - {gid})


def make_env(env: list[str], home: str, hostname: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for item in env:
        k, sep, v = item.partition("=")
        if k and sep:
            out[k] = v
    out.setdefault("PATH", DEFAULT_PATH)
    if hostname:
        out.setdefault("HOSTNAME", hostname)
    out.setdefault("HOME", home)
    return out


def find_executable(arg0: str, path: str) -> str:
    if not arg0:
        raise ExecError('exec: "": executable file not found in $PATH', 127)
    if "/" in arg0:
        if not os.path.exists(arg0):
            raise ExecError(f'exec: "{arg0}": stat {arg0}: no such file or directory', 127)
        return arg0
    denied = None
    for d in path.split(":"):
        cand = os.path.join(d or ".", arg0)
        if os.path.isfile(cand):
            if os.access(cand, os.X_OK):
                return cand
            denied = denied or cand
    if denied:
        raise ExecError(f'exec: "{arg0}": permission denied', 126)
    raise ExecError(f'exec: "{arg0}": executable file not found in $PATH', 127)


def exec_process(args: list[str], env: list[str], cwd: str, user: str, hostname: str = "",
                 create_cwd: bool = False, caps: int | None = None,
                 groups: list[str] | None = None) -> None:
    """Switch user, chdir, exec. Returns only by raising ExecError.

    ``caps``: the capability mask to keep (bounding, effective, permitted) and
    no_new_privs set; None keeps everything (``--privileged``). ``groups``: --group-add."""
    uid, gid, home = resolve_user(user)
    name = user.partition(":")[0]
    if name.isdigit():
        name = next((e[0] for e in _read_db("/etc/passwd") if len(e) >= 3 and e[2] == name),
                    "")
    supplementary = resolve_groups(name or ("root" if not user else ""), gid, groups or [])
    environ = make_env(env, home, hostname)
    cwd = cwd or "/"
    try:
        if create_cwd and not os.path.exists(cwd):
            os.makedirs(cwd, 0o755)
        os.chdir(cwd)
    except OSError as exc:
        raise ExecError(f'chdir to cwd ("{cwd}") set in config.json failed: '
                        f"{os.strerror(exc.errno or 0).lower()}", 126) from exc
    try:
        if caps is not None:
            libc.drop_bounding_set(caps, libc.cap_last_cap())
        os.setgroups(supplementary)
        os.setgid(gid)
        os.setuid(uid)
        if caps is not None:
            if uid == 0:
                libc.set_caps(caps)
            libc.set_no_new_privs()
    except OSError as exc:
        raise ExecError(f"setting user {user}: {exc.strerror}", 126) from exc
    path = find_executable(args[0], environ["PATH"])
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM,
                signal.SIGCHLD, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.execve(path, args, environ)
    except OSError as exc:
        code = 127 if exc.errno == errno.ENOENT else 126
        raise ExecError(f'exec: "{args[0]}": {os.strerror(exc.errno or 0).lower()}',
                        code) from exc
