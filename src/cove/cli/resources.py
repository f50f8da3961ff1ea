"""CLI flags for security and resources (``-v``, ``--tmpfs``, ``--read-only``, ``--init``,
``--privileged``, ``-m``, ``--cpus``, ``-c``, ``--pids-limit``) and ``cove stats``.

Sizes and CPU counts are parsed here, as the docker CLI does, with its messages.
"""

from __future__ import annotations

import sys

from cove.cli.client import Client, CLIError, q
from cove.cli.flags import Flag, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FLAGS = [
    Flag(("-v", "--volume"), "volume", "list"),
    Flag(("--tmpfs",), "tmpfs", "list"),
    Flag(("--read-only",), "read_only"),
    Flag(("--init",), "init"),
    Flag(("--privileged",), "privileged"),
    Flag(("-m", "--memory"), "memory", "str"),
    Flag(("--cpus",), "cpus", "str"),
    Flag(("-c", "--cpu-shares"), "cpu_shares", "int"),
    Flag(("--pids-limit",), "pids_limit", "int"),
]
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
          "p": 1 << 50}


def ram_in_bytes(raw: str) -> int:
    """docker's units.RAMInBytes: "32m", "1.5g", "64MiB", "1024" (binary units)."""
    import re
    m = re.match(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$", raw.strip(), re.IGNORECASE)
    if not m:
        raise CLIError(f'invalid argument "{raw}" for "-m, --memory" flag: '
                       f"invalid size: '{raw}'", 125)
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def nano_cpus(raw: str) -> int:
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise CLIError(f'invalid argument "{raw}" for "--cpus" flag: failed to parse '
                       f"{raw} as a rational number", 125)
    return int(round(value * 1e9))


def host_config(opts: dict[str, Any]) -> dict[str, Any]:
    """HostConfig keys for these flags."""
    tmpfs = {}
    for item in opts["tmpfs"]:
        path, _, options = item.partition(":")
        tmpfs[path] = options
    out: dict[str, Any] = {
        "Binds": opts["volume"] or None, "Tmpfs": tmpfs or None,
        "ReadonlyRootfs": bool(opts["read_only"]), "Privileged": bool(opts["privileged"]),
        "Memory": ram_in_bytes(opts["memory"]) if opts["memory"] else 0,
        "NanoCpus": nano_cpus(opts["cpus"]) if opts["cpus"] else 0,
        "CpuShares": opts["cpu_shares"] or 0,
    }
    if opts["init"]:
        out["Init"] = True
    if opts["pids_limit"] is not None:
        out["PidsLimit"] = opts["pids_limit"]
    return out


# -- cove stats --------------------------------------------------------------------------

def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.4g}{unit}" if unit != "B" else f"{int(n)}B"
        n /= 1024
    return f"{n}B"  # pragma: no cover


def stats_row(s: dict[str, Any]) -> list[str]:
    """One row of ``docker stats`` from Docker's stats JSON."""
    cpu, pre = s.get("cpu_stats", {}), s.get("precpu_stats", {})
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - \
        pre.get("cpu_usage", {}).get("total_usage", 0)
    sys_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    pct = cpu_delta / sys_delta * cpu.get("online_cpus", 1) * 100 if sys_delta > 0 and \
        pre.get("system_cpu_usage") else 0.0
    mem = s.get("memory_stats") or {}
    used = mem.get("usage", 0) - (mem.get("stats") or {}).get("total_inactive_file", 0)
    limit = mem.get("limit", 0)
    pids = (s.get("pids_stats") or {}).get("current", 0)
    return [s.get("id", "")[:12], s.get("name", "").lstrip("/"), f"{pct:.2f}%",
            f"{_size(used)} / {_size(limit)}" if mem else "0B / 0B",
            f"{used / limit * 100:.2f}%" if limit else "0.00%", "--", "--", str(pids)]


def cmd_stats(cli: Client, args: list[str]) -> int:
    opts, refs = parse(args, [Flag(("--no-stream",), "no_stream"),
                              Flag(("-a", "--all"), "all"),
                              Flag(("--no-trunc",), "no_trunc")], cmd="stats")
    if not opts["no_stream"]:
        raise CLIError("cove stats: only --no-stream is supported", 125)
    if not refs:
        refs = [c["Id"] for c in cli.json("GET", "/containers/json",
                                          {"all": 1} if opts["all"] else None)]
    from cove.cli.tables import table
    rows = []
    for ref in refs:
        s = cli.json("GET", f"/containers/{q(ref)}/stats", {"stream": 0})
        row = stats_row(s)
        if opts["no_trunc"]:
            row[0] = s.get("id", "")
        rows.append(row)
    sys.stdout.write(table(["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %",
                            "NET I/O", "BLOCK I/O", "PIDS"], rows))
    return 0


def _each(cli: Client, refs: list[str], verb: str) -> int:
    if not refs:
        raise CLIError(f'"cove {verb}" requires at least 1 argument.')
    from cove.cli.client import DaemonError
    rc = 0
    for ref in refs:
        try:
            cli.call("POST", f"/containers/{q(ref)}/{verb}")
            print(ref)
        except DaemonError as exc:
            print(f"Error response from daemon: {exc.message}", file=sys.stderr)
            rc = 1
    return rc


def cmd_pause(cli: Client, args: list[str]) -> int:
    _, refs = parse(args, [], cmd="pause")
    return _each(cli, refs, "pause")


def cmd_unpause(cli: Client, args: list[str]) -> int:
    _, refs = parse(args, [], cmd="unpause")
    return _each(cli, refs, "unpause")
