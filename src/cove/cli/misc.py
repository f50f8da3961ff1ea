"""Image, network and system verbs: images, image import/ls/inspect, network ls/inspect,
version, info."""

from __future__ import annotations

import os
import sys

from cove.cli.client import Client, CLIError
from cove.cli.flags import Flag, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def cmd_images(cli: Client, args: list[str]) -> int:
    opts, _ = parse(args, [Flag(("-q", "--quiet"), "quiet"), Flag(("-a", "--all"), "all"),
                           Flag(("--no-trunc",), "no_trunc")], cmd="images")
    imgs = cli.json("GET", "/images/json")
    if opts["quiet"]:
        for i in imgs:
            print(i["Id"] if opts["no_trunc"] else i["Id"].removeprefix("sha256:")[:12])
        return 0
    from cove.cli.tables import image_rows
    sys.stdout.write(image_rows(imgs, trunc=not opts["no_trunc"]))
    return 0


def cmd_image_import(cli: Client, args: list[str]) -> int:
    _, pos = parse(args, [Flag(("-m", "--message"), "message", "str")], cmd="image import")
    if not pos or len(pos) > 2:
        raise CLIError('"cove image import" requires 1 or 2 arguments.\n'
                       "Usage:  cove image import file|- [REPOSITORY[:TAG]]")
    src, ref = pos[0], (pos[1] if len(pos) > 1 else "")
    if not ref:
        raise CLIError("cove image import needs a REPOSITORY[:TAG] to name the image")
    headers = {"Content-Type": "application/x-tar"}
    f = sys.stdin.buffer if src == "-" else None
    try:
        if f is None:
            f = open(src, "rb")  # noqa: SIM115 - closed below
            headers["Content-Length"] = str(os.fstat(f.fileno()).st_size)
    except OSError as exc:
        raise CLIError(f"open {src}: {exc.strerror.lower() if exc.strerror else exc}") from exc
    try:
        resp = cli.request("POST", "/images/create", {"fromSrc": "-", "repo": ref},
                           raw=f, headers=headers)
        data = resp.read().decode()
        resp.close()
    finally:
        if f is not sys.stdin.buffer:
            f.close()
    import json
    for line in data.splitlines():
        if not line.strip():
            continue
        msg = json.loads(line)
        if msg.get("error"):
            raise CLIError(msg["error"])
        if msg.get("status"):
            print(msg["status"])
    return 0


def cmd_image(cli: Client, args: list[str]) -> int:
    sub, rest = (args[0], args[1:]) if args else ("", [])
    if sub in ("ls", "list"):
        return cmd_images(cli, rest)
    if sub == "import":
        return cmd_image_import(cli, rest)
    if sub in ("rm", "save", "load"):
        from cove.cli import imagearchive
        return getattr(imagearchive, "cmd_rmi" if sub == "rm" else f"cmd_{sub}")(cli, rest)
    if sub == "inspect":
        from cove.cli.containers import inspect_refs
        return inspect_refs(cli, rest, "image", "image inspect")
    raise CLIError("Usage:  cove image COMMAND  (import, inspect, load, ls, rm, save)")


def cmd_network(cli: Client, args: list[str]) -> int:
    sub, rest = (args[0], args[1:]) if args else ("", [])
    if sub in ("ls", "list"):
        opts, _ = parse(rest, [Flag(("-q", "--quiet"), "quiet"),
                               Flag(("--no-trunc",), "no_trunc")], cmd="network ls")
        nets = cli.json("GET", "/networks")
        if opts["quiet"]:
            for n in nets:
                print(n["Id"] if opts["no_trunc"] else n["Id"][:12])
            return 0
        from cove.cli.tables import network_rows
        sys.stdout.write(network_rows(nets, trunc=not opts["no_trunc"]))
        return 0
    if sub == "inspect":
        from cove.cli.containers import inspect_refs
        return inspect_refs(cli, rest, "network", "network inspect")
    from cove.cli.networks import COMMANDS
    if sub in COMMANDS:
        return COMMANDS[sub](cli, rest)
    raise CLIError("Usage:  cove network COMMAND  (connect, create, disconnect, inspect, ls,"
                   " prune, rm)")


def cmd_version(cli: Client, args: list[str]) -> int:
    from cove import API_VERSION, __version__
    print("Client:")
    print(f" Version:           {__version__}")
    print(f" API version:       {API_VERSION}")
    m = os.uname().machine
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)
    print(f" OS/Arch:           linux/{arch}")
    print()
    v = cli.json("GET", "/version")
    print("Server: cove")
    print(" Engine:")
    print(f"  Version:          {v.get('Version', '')}")
    print(f"  API version:      {v.get('ApiVersion', '')} (minimum version "
          f"{v.get('MinAPIVersion', '')})")
    print(f"  OS/Arch:          {v.get('Os', '')}/{v.get('Arch', '')}")
    print(f"  Kernel Version:   {v.get('KernelVersion', '')}")
    return 0


def _runtimes(info: dict[str, Any]) -> str:
    return " ".join(sorted(info.get("Runtimes") or {}))


def cmd_info(cli: Client, args: list[str]) -> int:
    i = cli.json("GET", "/info")
    lines = [
        "Server:",
        f" Containers: {i.get('Containers', 0)}",
        f"  Running: {i.get('ContainersRunning', 0)}",
        f"  Paused: {i.get('ContainersPaused', 0)}",
        f"  Stopped: {i.get('ContainersStopped', 0)}",
        f" Images: {i.get('Images', 0)}",
        f" Server Version: {i.get('ServerVersion', '')}",
        f" Storage Driver: {i.get('Driver', '')}",
        f" Runtimes: {_runtimes(i)}",
        f" Default Runtime: {i.get('DefaultRuntime', '')}",
        f" Kernel Version: {i.get('KernelVersion', '')}",
        f" Operating System: {i.get('OperatingSystem', '')}",
        f" OSType: {i.get('OSType', 'linux')}",
        f" Architecture: {i.get('Architecture', '')}",
        f" CPUs: {i.get('NCPU', 0)}",
        f" Total Memory: {_gib(i.get('MemTotal', 0))}",
        f" Name: {i.get('Name', '')}",
        f" ID: {i.get('ID', '')}",
        f" Docker Root Dir: {i.get('DockerRootDir', '')}",
    ]
    if i.get("ClusterStore"):                    # issue 7
        lines += [f" Cluster Store: {i['ClusterStore']}",
                  f" Cluster Advertise: {i.get('ClusterAdvertise', '')}"]
    print("\n".join(lines))
    return 0


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.4g}GiB"

