"""``cove update`` and the run/create flags for restart policies and healthchecks.

``--restart no|always|unless-stopped|on-failure[:N]``, ``--health-cmd``,
``--health-interval``, ``--health-timeout``, ``--health-retries``,
``--health-start-period``, ``--no-healthcheck``; ``cove update`` takes ``-m``,
``--memory-swap``, ``--memory-reservation``, ``--cpus``, ``-c``, ``--cpu-period``,
``--cpu-quota``, ``--pids-limit``, ``--blkio-weight`` and ``--restart``.
"""

from __future__ import annotations

import sys

from cove.cli.client import Client, CLIError, DaemonError, q
from cove.cli.flags import Flag, parse
from cove.cli.resources import nano_cpus, ram_in_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CREATE_FLAGS = [
    Flag(("--restart",), "restart", "str"),
    Flag(("--health-cmd",), "health_cmd", "str"),
    Flag(("--health-interval",), "health_interval", "str"),
    Flag(("--health-timeout",), "health_timeout", "str"),
    Flag(("--health-retries",), "health_retries", "int"),
    Flag(("--health-start-period",), "health_start_period", "str"),
    Flag(("--no-healthcheck",), "no_healthcheck"),
]
UPDATE_FLAGS = [
    Flag(("-m", "--memory"), "memory", "str"),
    Flag(("--memory-swap",), "memory_swap", "str"),
    Flag(("--memory-reservation",), "memory_reservation", "str"),
    Flag(("--cpus",), "cpus", "str"),
    Flag(("-c", "--cpu-shares"), "cpu_shares", "int"),
    Flag(("--cpu-period",), "cpu_period", "int"),
    Flag(("--cpu-quota",), "cpu_quota", "int"),
    Flag(("--pids-limit",), "pids_limit", "int"),
    Flag(("--blkio-weight",), "blkio_weight", "int"),
    Flag(("--restart",), "restart", "str"),
]
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000}


def restart_policy(raw: str) -> dict[str, Any]:
    """docker's opts.ParseRestartPolicy: ``name[:count]``."""
    name, sep, count = raw.partition(":")
    if not sep:
        return {"Name": name, "MaximumRetryCount": 0}
    if ":" in count or not count.lstrip("-").isdigit():
        raise CLIError(f'invalid argument "{raw}" for "--restart" flag: invalid restart '
                       "policy format", 125)
    return {"Name": name, "MaximumRetryCount": int(count)}


def duration_ns(raw: str, flag: str) -> int:
    """Go's time.ParseDuration ("1s", "1m30s", "500ms") in nanoseconds."""
    import re
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", raw)
    if not raw or "".join(n + u for n, u in parts) != raw:
        raise CLIError(f'invalid argument "{raw}" for "{flag}" flag: time: invalid '
                       f'duration "{raw}"', 125)
    return int(sum(float(n) * _UNIT_NS[u] for n, u in parts))


def create_fields(opts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(HostConfig keys, Config keys) for the run/create flags of this module."""
    host: dict[str, Any] = {}
    if opts["restart"]:
        host["RestartPolicy"] = restart_policy(opts["restart"])
    given = [k for k in ("health_cmd", "health_interval", "health_timeout",
                         "health_start_period") if opts[k]]
    if opts["health_retries"] is not None:
        given.append("health_retries")
    if opts["no_healthcheck"]:
        if given:
            raise CLIError("--no-healthcheck conflicts with --health-* options", 125)
        return host, {"Healthcheck": {"Test": ["NONE"]}}
    if not given:
        return host, {}
    hc: dict[str, Any] = {}
    if opts["health_cmd"]:
        hc["Test"] = ["CMD-SHELL", opts["health_cmd"]]
    for key, flag in (("Interval", "health_interval"), ("Timeout", "health_timeout"),
                      ("StartPeriod", "health_start_period")):
        if opts[flag]:
            hc[key] = duration_ns(opts[flag], "--" + flag.replace("_", "-"))
    if opts["health_retries"] is not None:
        hc["Retries"] = opts["health_retries"]
    return host, {"Healthcheck": hc}


def update_body(opts: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for key, flag in (("Memory", "memory"), ("MemorySwap", "memory_swap"),
                      ("MemoryReservation", "memory_reservation")):
        if opts[flag]:
            body[key] = -1 if opts[flag] == "-1" else ram_in_bytes(opts[flag])
    if opts["cpus"]:
        body["NanoCpus"] = nano_cpus(opts["cpus"])
    for key, flag in (("CpuShares", "cpu_shares"), ("CpuPeriod", "cpu_period"),
                      ("CpuQuota", "cpu_quota"), ("PidsLimit", "pids_limit"),
                      ("BlkioWeight", "blkio_weight")):
        if opts[flag] is not None:
            body[key] = opts[flag]
    if opts["restart"]:
        body["RestartPolicy"] = restart_policy(opts["restart"])
    return body


def cmd_update(cli: Client, args: list[str]) -> int:
    opts, refs = parse(args, UPDATE_FLAGS, cmd="update")
    if not refs:
        raise CLIError('"cove update" requires at least 1 argument.\n'
                       "Usage:  cove update [OPTIONS] CONTAINER [CONTAINER...]")
    body = update_body(opts)
    if not body:
        raise CLIError("you must provide one or more flags when using this command")
    rc = 0
    for ref in refs:
        try:
            out = cli.json("POST", f"/containers/{q(ref)}/update", None, body)
            for w in (out or {}).get("Warnings") or []:
                print(f"WARNING: {w}", file=sys.stderr)
            print(ref)
        except DaemonError as exc:
            print(f"Error response from daemon: {exc.message}", file=sys.stderr)
            rc = 1
    return rc
