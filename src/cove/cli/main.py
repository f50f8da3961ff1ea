"""``cove``: the command-line client of the cove daemon (Docker CLI's verbs and flags).

Imports are lazy: ``cove version`` loads only socket/http.client/json and the verb it runs.
Exit codes follow docker: the command's own code for run/exec, 125 when ``run``/``create``
fail before the container starts, 1 for other errors.
"""

from __future__ import annotations

import os
import sys

USAGE = """Usage:  cove [OPTIONS] COMMAND

A container engine built around Docker's native networking model

Options:
  -H, --host string   Daemon socket to connect to (env COVE_HOST,
                      default unix:///run/cove/cove.sock)

Commands:
  run, create, start, stop, kill, rm, ps, logs, exec, inspect, port, stats, pause, unpause,
  update, events, commit,
  images, image (import, ls, inspect, rm, save, load), save, load, rmi, version, info,
  network (create, ls, inspect, rm, prune, connect, disconnect), node ls
"""

VERBS = {
    "run": ("containers", "cmd_run"), "create": ("containers", "cmd_create"),
    "start": ("containers", "cmd_start"), "stop": ("containers", "cmd_stop"),
    "kill": ("containers", "cmd_kill"), "rm": ("containers", "cmd_rm"),
    "ps": ("containers", "cmd_ps"), "logs": ("containers", "cmd_logs"),
    "exec": ("containers", "cmd_exec"), "inspect": ("containers", "cmd_inspect"),
    "images": ("misc", "cmd_images"), "image": ("misc", "cmd_image"),
    "network": ("misc", "cmd_network"), "version": ("misc", "cmd_version"),
    "info": ("misc", "cmd_info"),
    "node": ("nodes", "cmd_node"),
    "port": ("portspec", "cmd_port"),
    "stats": ("resources", "cmd_stats"), "pause": ("resources", "cmd_pause"),
    "unpause": ("resources", "cmd_unpause"),
    "save": ("imagearchive", "cmd_save"), "load": ("imagearchive", "cmd_load"),
    "rmi": ("imagearchive", "cmd_rmi"),
    "update": ("update", "cmd_update"),
    "events": ("events", "cmd_events"),
    "commit": ("hostmodes", "cmd_commit"),
}
CONTAINER_SUB = {"ls": "ps", "list": "ps", "run": "run", "create": "create", "start": "start",
                 "stop": "stop", "kill": "kill", "rm": "rm", "logs": "logs", "exec": "exec",
                 "inspect": "inspect", "port": "port", "commit": "commit"}


def _split_globals(argv: list[str]) -> tuple[str, list[str]]:
    host = os.environ.get("COVE_HOST") or ""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-H", "--host"):
            if i + 1 >= len(argv):
                raise SystemExit("flag needs an argument: --host")
            host, i = argv[i + 1], i + 2
        elif a.startswith("--host="):
            host, i = a.split("=", 1)[1], i + 1
        elif a.startswith("-H") and len(a) > 2:
            host, i = a[2:], i + 1
        else:
            break
    from cove.cli.client import DEFAULT_HOST
    host = host or DEFAULT_HOST
    if host.startswith("/"):
        host = "unix://" + host
    return host, argv[i:]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    host, rest = _split_globals(argv)
    if not rest or rest[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    verb, args = rest[0], rest[1:]
    if verb == "container" and args and args[0] in CONTAINER_SUB:
        verb, args = CONTAINER_SUB[args[0]], args[1:]
    if verb not in VERBS:
        sys.stderr.write(f"cove: '{verb}' is not a cove command.\nSee 'cove --help'\n")
        return 1
    if "--help" in args[:1]:
        sys.stdout.write(f"Usage:  cove {verb} [OPTIONS] ...\n")
        return 0
    module_name, fn_name = VERBS[verb]
    import importlib

    from cove.cli.client import Client, CLIError
    module = importlib.import_module(f"cove.cli.{module_name}")
    try:
        return getattr(module, fn_name)(Client(host), args)
    except CLIError as exc:
        prefix = "cove: " if verb in ("run", "create") and exc.code == 125 else ""
        sys.stderr.write(prefix + exc.message + "\n")
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
