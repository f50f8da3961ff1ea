"""cgroups for containers, on v1 (per-controller hierarchies) and v2 (unified), detected.

A container's cgroup is ``<parent>/cove/<id>`` in each hierarchy, where ``<parent>`` is
the cgroup of the process that creates it (so containers stay inside the daemon's own
accounting, like Docker's ``--cgroup-parent``). :class:`Cgroup` is a list of directories
(one per v1 controller, one on v2), serialisable as a dict so the driver can find them
again after a restart. Limits: memory (swap not allowed beyond it), CPU quota and
shares, pids; the OOM-kill counter; usage statistics; freeze/thaw.

Stdlib only: the native runtime's monitor and exec helper import it to join a cgroup.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass, field

ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids", "freezer")
CPU_PERIOD = 100_000


def version(root: str = ROOT) -> int:
    """2 when the unified hierarchy is the only one (cgroup.controllers at the root)."""
    return 2 if os.path.exists(os.path.join(root, "cgroup.controllers")) else 1


def own_paths(pid: str = "self") -> dict[str, str]:
    """{controller: path} of a process's cgroups ("" key: the v2 path)."""
    out: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            for c in ctrls.split(",") if ctrls else [""]:
                out[c] = path
    return out


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _kv(path: str) -> dict[str, int]:
    out = {}
    try:
        for line in _read(path).splitlines():
            k, _, v = line.partition(" ")
            if v.strip().lstrip("-").isdigit():
                out[k] = int(v)
    except OSError:
        pass
    return out


def _init_cpuset(d: str) -> None:
    """A new v1 cpuset cgroup has no CPUs and no memory nodes (no task may join): give
    ``d`` and its empty ancestors their parent's."""
    parent = os.path.dirname(d)
    if not os.path.exists(os.path.join(parent, "cpuset.cpus")):
        return
    for key in ("cpuset.cpus", "cpuset.mems"):
        if not _read(os.path.join(parent, key)).strip():
            _init_cpuset(parent)
        if not _read(os.path.join(d, key)).strip():
            _write(os.path.join(d, key), _read(os.path.join(parent, key)).strip())


@dataclass
class Limits:
    memory: int = 0          # bytes
    nano_cpus: int = 0
    cpu_shares: int = 0
    pids_limit: int = 0
    cpuset_cpus: str = ""    # "0-1" (v1 cpuset, v2 cpuset.cpus when enabled)
    cpuset_mems: str = ""
    devices: list[str] | None = None  # v1 devices allow list ("c 1:3 rwm"); None: all


@dataclass
class Cgroup:
    version: int
    dirs: dict[str, str] = field(default_factory=dict)  # controller ("" on v2) -> dir

    # -- creation ----------------------------------------------------------------------
    @classmethod
    def plan(cls, name: str, root: str = ROOT, extra: tuple[str, ...] = ()) -> Cgroup:
        """Where the cgroup ``cove/<name>`` goes (nothing is created). ``extra``: v1
        controllers wanted beyond :data:`V1_CONTROLLERS` (``cpuset``, ``devices``)."""
        ver = version(root)
        own = own_paths()
        if ver == 2:
            base = own.get("", "/")
            return cls(2, {"": os.path.join(root, base.lstrip("/"), "cove", name)})
        dirs: dict[str, str] = {}
        seen: set[str] = set()
        for ctrl in (*V1_CONTROLLERS, *extra):
            mnt = os.path.join(root, ctrl)
            if not os.path.isdir(mnt) or os.path.realpath(mnt) in seen:
                continue
            seen.add(os.path.realpath(mnt))
            dirs[ctrl] = os.path.join(mnt, own.get(ctrl, "/").lstrip("/"), "cove", name)
        return cls(1, dirs)

    def to_dict(self) -> dict:
        return {"version": self.version, "dirs": dict(self.dirs)}

    @classmethod
    def from_dict(cls, d: dict) -> Cgroup:
        return cls(int(d.get("version", 1)), dict(d.get("dirs") or {}))

    def create(self, limits: Limits) -> None:
        """Make the directories and apply ``limits``; on failure remove what was made.
        Raises OSError."""
        self.remove()
        try:
            if self.version == 2:
                self._enable_v2(os.path.dirname(self.dirs[""]))
            for d in self.dirs.values():
                os.makedirs(d, exist_ok=True)
            self._apply(limits)
        except OSError:
            self.remove()
            raise

    def _enable_v2(self, parent: str) -> None:
        os.makedirs(parent, exist_ok=True)
        avail = _read(os.path.join(os.path.dirname(parent), "cgroup.controllers")).split()
        want = " ".join(f"+{c}" for c in ("memory", "cpu", "pids", "cpuset") if c in avail)
        if want:
            _write(os.path.join(parent, "cgroup.subtree_control"), want)

    def _apply(self, lim: Limits) -> None:
        d = self.dirs
        if self.version == 2:
            g = d[""]
            if lim.memory:
                _write(os.path.join(g, "memory.max"), str(lim.memory))
                if os.path.exists(os.path.join(g, "memory.swap.max")):
                    _write(os.path.join(g, "memory.swap.max"), "0")
            if lim.nano_cpus:
                quota = max(1000, lim.nano_cpus * CPU_PERIOD // 1_000_000_000)
                _write(os.path.join(g, "cpu.max"), f"{quota} {CPU_PERIOD}")
            if lim.cpu_shares:
                weight = 1 + ((lim.cpu_shares - 2) * 9999) // 262142
                _write(os.path.join(g, "cpu.weight"), str(max(1, min(10000, weight))))
            if lim.pids_limit:
                _write(os.path.join(g, "pids.max"), str(lim.pids_limit))
            for key, value in (("cpus", lim.cpuset_cpus), ("mems", lim.cpuset_mems)):
                if value:
                    _write(os.path.join(g, f"cpuset.{key}"), value)
            return
        if lim.memory and "memory" in d:
            _write(os.path.join(d["memory"], "memory.limit_in_bytes"), str(lim.memory))
            memsw = os.path.join(d["memory"], "memory.memsw.limit_in_bytes")
            if os.path.exists(memsw):  # after limit_in_bytes, else EINVAL
                _write(memsw, str(lim.memory))
        if "cpu" in d:
            if lim.nano_cpus:
                quota = max(1000, lim.nano_cpus * CPU_PERIOD // 1_000_000_000)
                _write(os.path.join(d["cpu"], "cpu.cfs_period_us"), str(CPU_PERIOD))
                _write(os.path.join(d["cpu"], "cpu.cfs_quota_us"), str(quota))
            if lim.cpu_shares:
                _write(os.path.join(d["cpu"], "cpu.shares"), str(lim.cpu_shares))
        if lim.pids_limit and "pids" in d:
            _write(os.path.join(d["pids"], "pids.max"), str(lim.pids_limit))
        if "cpuset" in d:
            _init_cpuset(d["cpuset"])
            for key, value in (("cpus", lim.cpuset_cpus), ("mems", lim.cpuset_mems)):
                if value:
                    _write(os.path.join(d["cpuset"], f"cpuset.{key}"), value)
        if "devices" in d and lim.devices is not None:
            _write(os.path.join(d["devices"], "devices.deny"), "a")
            for rule in lim.devices:
                _write(os.path.join(d["devices"], "devices.allow"), rule)

    # -- use ---------------------------------------------------------------------------
    def join(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the caller) into every hierarchy of this cgroup."""
        for d in self.dirs.values():
            _write(os.path.join(d, "cgroup.procs"), str(pid))

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.dirs.values())

    def oom_killed(self) -> bool:
        if self.version == 2:
            return _kv(os.path.join(self.dirs[""], "memory.events")).get("oom_kill", 0) > 0
        if "memory" not in self.dirs:
            return False
        return _kv(os.path.join(self.dirs["memory"], "memory.oom_control")).get(
            "oom_kill", 0) > 0

    def pids(self) -> list[int]:
        out: set[int] = set()
        for d in self.dirs.values():
            try:
                out.update(int(x) for x in _read(os.path.join(d, "cgroup.procs")).split())
            except OSError:
                continue
        return sorted(out)

    def stats(self) -> dict[str, int]:
        """cpu_usage (ns), cpu_user/cpu_system (ns), throttled (periods), memory_usage,
        memory_limit, memory_max_usage (v1), pids_current, pids_limit (0: none)."""
        out = {"cpu_usage": 0, "cpu_user": 0, "cpu_system": 0, "throttled_periods": 0,
               "throttled_time": 0, "memory_usage": 0, "memory_limit": 0,
               "memory_max_usage": 0, "memory_cache": 0, "pids_current": 0, "pids_limit": 0}

        def num(path: str) -> int:
            try:
                raw = _read(path).strip()
            except OSError:
                return 0
            return int(raw) if raw.isdigit() else 0

        d = self.dirs
        if self.version == 2:
            g = d[""]
            cpu = _kv(os.path.join(g, "cpu.stat"))
            out.update(cpu_usage=cpu.get("usage_usec", 0) * 1000,
                       cpu_user=cpu.get("user_usec", 0) * 1000,
                       cpu_system=cpu.get("system_usec", 0) * 1000,
                       throttled_periods=cpu.get("nr_throttled", 0),
                       throttled_time=cpu.get("throttled_usec", 0) * 1000,
                       memory_usage=num(os.path.join(g, "memory.current")),
                       memory_limit=num(os.path.join(g, "memory.max")),
                       memory_cache=_kv(os.path.join(g, "memory.stat")).get("file", 0),
                       pids_current=num(os.path.join(g, "pids.current")),
                       pids_limit=num(os.path.join(g, "pids.max")))
            return out
        if "cpuacct" in d:
            out["cpu_usage"] = num(os.path.join(d["cpuacct"], "cpuacct.usage"))
            ticks = _kv(os.path.join(d["cpuacct"], "cpuacct.stat"))
            hz = os.sysconf("SC_CLK_TCK")
            out["cpu_user"] = ticks.get("user", 0) * 1_000_000_000 // hz
            out["cpu_system"] = ticks.get("system", 0) * 1_000_000_000 // hz
        if "cpu" in d:
            cpu = _kv(os.path.join(d["cpu"], "cpu.stat"))
            out["throttled_periods"] = cpu.get("nr_throttled", 0)
            out["throttled_time"] = cpu.get("throttled_time", 0)
        if "memory" in d:
            m = d["memory"]
            out["memory_usage"] = num(os.path.join(m, "memory.usage_in_bytes"))
            out["memory_max_usage"] = num(os.path.join(m, "memory.max_usage_in_bytes"))
            out["memory_limit"] = num(os.path.join(m, "memory.limit_in_bytes"))
            out["memory_cache"] = _kv(os.path.join(m, "memory.stat")).get("cache", 0)
        if "pids" in d:
            out["pids_current"] = num(os.path.join(d["pids"], "pids.current"))
            out["pids_limit"] = num(os.path.join(d["pids"], "pids.max"))
        return out

    def freeze(self, frozen: bool) -> None:
        """Pause (True) or resume all processes (v1 freezer, v2 cgroup.freeze)."""
        if self.version == 2:
            _write(os.path.join(self.dirs[""], "cgroup.freeze"), "1" if frozen else "0")
            return
        if "freezer" not in self.dirs:
            raise OSError(errno.ENOTSUP, "no freezer cgroup")
        path = os.path.join(self.dirs["freezer"], "freezer.state")
        want = "FROZEN" if frozen else "THAWED"
        _write(path, want)
        for _ in range(200):
            if _read(path).strip() == want:
                return
            time.sleep(0.005)
        raise OSError(errno.EBUSY, f"freezer did not reach {want}")

    def remove(self) -> list[str]:
        """Remove the directories (retrying briefly while the last task leaves).
        Gone already is fine. Returns error messages (empty: all removed)."""
        errors = []
        for d in self.dirs.values():
            for attempt in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or attempt == 49:
                        errors.append(f"remove cgroup {d}: {exc.strerror}")
                        break
                    time.sleep(0.01)
        return errors


def available_cpuset(root: str = ROOT) -> tuple[str, str]:
    """(cpus, mems) the daemon's own cpuset allows, e.g. ("0-1", "0"); from
    /sys/devices/system when there is no cpuset controller."""
    own = own_paths()
    candidates = [os.path.join(root, "cpuset", own.get("cpuset", "/").lstrip("/"))]
    if version(root) == 2:
        candidates = [os.path.join(root, own.get("", "/").lstrip("/"))]
    for d in candidates:
        try:
            return (_read(os.path.join(d, "cpuset.effective_cpus")).strip(),
                    _read(os.path.join(d, "cpuset.effective_mems")).strip())
        except OSError:
            continue
    try:
        cpus = _read("/sys/devices/system/cpu/online").strip()
    except OSError:
        cpus = f"0-{(os.cpu_count() or 1) - 1}"
    try:
        mems = _read("/sys/devices/system/node/online").strip()
    except OSError:
        mems = "0"
    return cpus, mems
