"""Reading /proc: the members of a pid namespace, what ``ps`` shows, the host's memory."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass


@dataclass
class ProcInfo:
    pid: int
    ppid: int
    uid: int
    utime_ticks: int
    stime_ticks: int
    cmdline: list[str]
    comm: str


def _pidns(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/pid")


def pids_in_namespace_of(pid: int) -> list[int]:
    """Host pids of the processes sharing ``pid``'s pid namespace, sorted; [] if gone."""
    try:
        ns = _pidns(pid)
    except OSError:
        return []
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if _pidns(int(name)) == ns:
                out.append(int(name))
        except OSError:
            continue
    return sorted(out)


def proc_info(pid: int) -> ProcInfo | None:
    """One process's ps fields, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
        st = os.stat(f"/proc/{pid}")
    except OSError:
        return None
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    return ProcInfo(pid=pid, ppid=int(fields[1]), uid=st.st_uid,
                    utime_ticks=int(fields[11]), stime_ticks=int(fields[12]),
                    cmdline=argv, comm=comm)


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def clock_ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def mem_total() -> int:
    """The host's memory in bytes (MemTotal of /proc/meminfo), 0 if unreadable."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
