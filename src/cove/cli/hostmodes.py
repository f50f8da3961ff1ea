"""CLI flags for namespace modes and the remaining create options, and ``cove commit``.

``--pid host|container:NAME``, ``--uts host``, ``--cgroupns private|host``,
``--isolation``, ``--group-add``, ``--device-cgroup-rule``, ``--cpuset-cpus``,
``--cpuset-mems``, ``--volumes-from``, ``--volume-driver``, ``--log-driver``,
``--log-opt``; ``cove commit [-a AUTHOR] [-m MSG] [-c CHANGE]... [-p] CONTAINER
[REPO[:TAG]]`` prints the new image id, as ``docker commit`` does.
"""

from __future__ import annotations

from cove.cli.client import Client, CLIError
from cove.cli.flags import Flag, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

FLAGS = [
    Flag(("--pid",), "pid", "str"),
    Flag(("--uts",), "uts", "str"),
    Flag(("--cgroupns",), "cgroupns", "str"),
    Flag(("--isolation",), "isolation", "str"),
    Flag(("--group-add",), "group_add", "list"),
    Flag(("--device-cgroup-rule",), "device_cgroup_rule", "list"),
    Flag(("--cpuset-cpus",), "cpuset_cpus", "str"),
    Flag(("--cpuset-mems",), "cpuset_mems", "str"),
    Flag(("--volumes-from",), "volumes_from", "list"),
    Flag(("--volume-driver",), "volume_driver", "str"),
    Flag(("--log-driver",), "log_driver", "str"),
    Flag(("--log-opt",), "log_opt", "list"),
]


def host_config(opts: dict[str, Any]) -> dict[str, Any]:
    """HostConfig keys for these flags (only those given)."""
    out: dict[str, Any] = {}
    for key, dest in (("PidMode", "pid"), ("UTSMode", "uts"), ("CgroupnsMode", "cgroupns"),
                      ("Isolation", "isolation"), ("CpusetCpus", "cpuset_cpus"),
                      ("CpusetMems", "cpuset_mems"), ("VolumeDriver", "volume_driver")):
        if opts.get(dest):
            out[key] = opts[dest]
    for key, dest in (("GroupAdd", "group_add"), ("DeviceCgroupRules", "device_cgroup_rule"),
                      ("VolumesFrom", "volumes_from")):
        if opts.get(dest):
            out[key] = list(opts[dest])
    if opts.get("log_driver") or opts.get("log_opt"):
        cfg = {}
        for item in opts.get("log_opt") or []:
            k, sep, v = item.partition("=")
            if not sep or not k:
                raise CLIError(f'invalid argument "{item}" for "--log-opt" flag: '
                               "invalid key value pair format", 125)
            cfg[k] = v
        out["LogConfig"] = {"Type": opts.get("log_driver") or "", "Config": cfg}
    return out


def cmd_commit(cli: Client, args: list[str]) -> int:
    opts, pos = parse(args, [Flag(("-a", "--author"), "author", "str"),
                             Flag(("-m", "--message"), "message", "str"),
                             Flag(("-c", "--change"), "change", "list"),
                             Flag(("-p", "--pause"), "pause", "bool", True)], cmd="commit")
    if not 1 <= len(pos) <= 2:
        raise CLIError('"cove commit" requires at least 1 and at most 2 arguments.\n'
                       "Usage:  cove commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]")
    params: dict[str, Any] = {"container": pos[0], "pause": 1 if opts["pause"] else 0}
    if len(pos) == 2:
        params["repo"] = pos[1]
    if opts["author"]:
        params["author"] = opts["author"]
    if opts["message"]:
        params["comment"] = opts["message"]
    if opts["change"]:
        params["changes"] = "\n".join(opts["change"])
    out = cli.json("POST", "/commit", params, {})
    print(out["Id"])
    return 0
