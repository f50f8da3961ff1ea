"""``cove save``, ``cove load`` and ``cove rmi`` / ``cove image rm`` (docker save format)."""

from __future__ import annotations

import json
import os
import sys
from urllib.parse import quote

from cove.cli.client import Client, CLIError, DaemonError, q
from cove.cli.flags import Flag, parse


def cmd_save(cli: Client, args: list[str]) -> int:
    opts, refs = parse(args, [Flag(("-o", "--output"), "output", "str")], cmd="save")
    if not refs:
        raise CLIError('"cove save" requires at least 1 argument.\n'
                       "Usage:  cove save [OPTIONS] IMAGE [IMAGE...]")
    if not opts["output"] and sys.stdout.isatty():
        raise CLIError("cowardly refusing to save to a terminal. Use the -o flag or "
                       "redirect")
    path = "/images/get?" + "&".join(f"names={quote(r, safe='')}" for r in refs)
    resp = cli.request("GET", path)
    out = opts["output"]
    tmp = f"{out}.cove-tmp" if out else ""
    try:
        f = open(tmp, "wb") if out else sys.stdout.buffer  # noqa: SIM115
        try:
            while chunk := resp.read(1 << 20):
                f.write(chunk)
        finally:
            if out:
                f.close()
        if out:
            os.replace(tmp, out)
    except OSError as exc:
        raise CLIError(f"failed to save image: {exc}") from exc
    finally:
        resp.close()
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
    return 0


def cmd_load(cli: Client, args: list[str]) -> int:
    opts, _ = parse(args, [Flag(("-i", "--input"), "input", "str"),
                           Flag(("-q", "--quiet"), "quiet")], cmd="load")
    src = opts["input"]
    headers = {"Content-Type": "application/x-tar"}
    try:
        f = open(src, "rb") if src else sys.stdin.buffer  # noqa: SIM115
    except OSError as exc:
        raise CLIError(f"open {src}: {exc.strerror.lower() if exc.strerror else exc}") \
            from exc
    try:
        if src:
            headers["Content-Length"] = str(os.fstat(f.fileno()).st_size)
        resp = cli.request("POST", "/images/load", {"quiet": 1 if opts["quiet"] else 0},
                           raw=f, headers=headers)
        data = resp.read().decode()
        resp.close()
    finally:
        if src:
            f.close()
    for line in data.splitlines():
        if line.strip():
            msg = json.loads(line)
            if msg.get("error"):
                raise CLIError(msg["error"])
            sys.stdout.write(msg.get("stream", ""))
    return 0


def cmd_rmi(cli: Client, args: list[str]) -> int:
    opts, refs = parse(args, [Flag(("-f", "--force"), "force"),
                              Flag(("--no-prune",), "no_prune")], cmd="rmi")
    if not refs:
        raise CLIError('"cove rmi" requires at least 1 argument.')
    rc = 0
    for ref in refs:
        try:
            out = cli.json("DELETE", f"/images/{q(ref)}",
                           {"force": 1} if opts["force"] else None)
        except DaemonError as exc:
            print(f"Error response from daemon: {exc.message}", file=sys.stderr)
            rc = 1
            continue
        for item in out or []:
            for k, v in item.items():
                print(f"{k}: {v}")
    return rc
