"""Container verbs: run, create, start, stop, kill, rm, ps, logs, exec, inspect."""

from __future__ import annotations

import sys

from cove.cli import hostmodes, jsonfast, resources, update
from cove.cli.client import Client, CLIError, DaemonError, copy_raw, demux, q
from cove.cli.flags import Flag, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CREATE_FLAGS = [
    Flag(("--name",), "name", "str"),
    Flag(("-e", "--env"), "env", "list"),
    Flag(("-h", "--hostname"), "hostname", "str"),
    Flag(("--network", "--net"), "network", "str"),
    Flag(("-i", "--interactive"), "interactive"),
    Flag(("-t", "--tty"), "tty"),
    Flag(("--rm",), "rm"),
    Flag(("--runtime",), "runtime", "str"),
    Flag(("--entrypoint",), "entrypoint", "str"),
    Flag(("-w", "--workdir"), "workdir", "str"),
    Flag(("-u", "--user"), "user", "str"),
    Flag(("-l", "--label"), "label", "list"),
    Flag(("-p", "--publish"), "publish", "list"),
    Flag(("-P", "--publish-all"), "publish_all"),
    Flag(("--expose",), "expose", "list"),
    Flag(("--dns",), "dns", "list"),
    Flag(("--dns-search",), "dns_search", "list"),
    Flag(("--dns-option", "--dns-opt"), "dns_option", "list"),
    Flag(("--add-host",), "add_host", "list"),
    Flag(("--link",), "link", "list"),
    Flag(("--domainname",), "domainname", "str"),
    Flag(("--ip",), "ip", "str"),
    Flag(("--ip6",), "ip6", "str"),
    Flag(("--link-local-ip",), "link_local_ip", "list"),
    Flag(("--network-alias", "--net-alias"), "network_alias", "list"),
    Flag(("--mac-address",), "mac_address", "str"),
]
CREATE_FLAGS += resources.FLAGS
CREATE_FLAGS += hostmodes.FLAGS      # --pid, --uts, --cgroupns, --volumes-from, ...
CREATE_FLAGS += update.CREATE_FLAGS   # --restart, --health-*
RUN_FLAGS = [*CREATE_FLAGS, Flag(("-d", "--detach"), "detach")]


def _env_item(item: str) -> str:
    if "=" in item:
        return item
    import os
    return f"{item}={os.environ[item]}" if item in os.environ else item


def _publish(specs: list[str]) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """-p [ip:][hostport:]port[/proto] → (ExposedPorts, PortBindings)."""
    if not specs:
        return {}, {}   # portspec (re, ipaddress) costs ~15 ms of start-up: only when used
    from cove.cli.portspec import PortSpecError, parse_publish
    try:
        return parse_publish(specs)
    except PortSpecError as exc:
        raise CLIError(str(exc), 125) from None


def _endpoints_config(opts: dict[str, Any], network: str) -> dict[str, Any]:
    """--ip/--ip6/--network-alias/--mac-address → NetworkingConfig.EndpointsConfig."""
    ec: dict[str, Any] = {}
    ipam = {k: v for k, v in (("IPv4Address", opts.get("ip")),
                              ("IPv6Address", opts.get("ip6")),
                              ("LinkLocalIPs", opts.get("link_local_ip"))) if v}
    if ipam:
        ec["IPAMConfig"] = ipam
    if opts.get("network_alias"):
        ec["Aliases"] = list(opts["network_alias"])
    if opts.get("mac_address"):
        ec["MacAddress"] = opts["mac_address"]
    if not opts["network"] and not ec:
        return {}
    return {network if opts["network"] else "bridge": ec}


def create_body(opts: dict[str, Any], pos: list[str]) -> tuple[dict[str, Any], str | None]:
    """Flags and positionals of run/create → (Docker create body, name)."""
    if not pos:
        raise CLIError('"cove run" requires at least 1 argument.\n'
                       "Usage:  cove run [OPTIONS] IMAGE [COMMAND] [ARG...]", 125)
    image, cmd = pos[0], pos[1:]
    exposed, bindings = _publish(opts["publish"])
    if opts["expose"]:
        from cove.cli.portspec import PortSpecError, parse_expose
        try:
            exposed.update(parse_expose(opts["expose"]))
        except PortSpecError as exc:
            raise CLIError(str(exc), 125) from None
    labels = {}
    for lab in opts["label"]:
        k, _, v = lab.partition("=")
        labels[k] = v
    network = opts["network"] or "default"
    body: dict[str, Any] = {
        "Hostname": opts["hostname"] or "", "Domainname": opts["domainname"] or "",
        "User": opts["user"] or "",
        "AttachStdin": bool(opts["interactive"]),
        "AttachStdout": not opts.get("detach"), "AttachStderr": not opts.get("detach"),
        "Tty": bool(opts["tty"]), "OpenStdin": bool(opts["interactive"]),
        "StdinOnce": bool(opts["interactive"]) and not opts.get("detach"),
        "Env": [_env_item(e) for e in opts["env"]],
        "Cmd": cmd or None, "Image": image, "WorkingDir": opts["workdir"] or "",
        "Entrypoint": None if opts["entrypoint"] is None else (
            [opts["entrypoint"]] if opts["entrypoint"] else [""]),
        "Labels": labels,
        "HostConfig": {
            "NetworkMode": network, "AutoRemove": bool(opts["rm"]),
            "PortBindings": bindings, "PublishAllPorts": bool(opts["publish_all"]),
            "Dns": opts["dns"], "DnsSearch": opts["dns_search"],
            "DnsOptions": opts["dns_option"], "ExtraHosts": opts["add_host"] or None,
            "Links": opts["link"] or None, "Runtime": opts["runtime"] or "",
            **resources.host_config(opts),
            **hostmodes.host_config(opts),
        },
        "NetworkingConfig": {"EndpointsConfig": _endpoints_config(opts, network)},
    }
    if exposed:
        body["ExposedPorts"] = exposed
    restart_host, health_config = update.create_fields(opts)
    body["HostConfig"].update(restart_host)
    body.update(health_config)
    return body, opts["name"]


def _create(cli: Client, body: dict[str, Any], name: str | None) -> str:
    params = {"name": name} if name else None
    out = cli.json("POST", "/containers/create", params, body)
    for w in out.get("Warnings") or []:
        print(f"WARNING: {w}", file=sys.stderr)
    return out["Id"]


def cmd_create(cli: Client, args: list[str]) -> int:
    opts, pos = parse(args, CREATE_FLAGS, interspersed=False, cmd="create")
    body, name = create_body(opts, pos)
    try:
        print(_create(cli, body, name))
    except CLIError as exc:
        exc.code = 125
        raise
    return 0


_UPGRADE = {"Connection": "Upgrade", "Upgrade": "tcp"}


def _resize(cli: Client, path: str, height: int, width: int) -> None:
    try:
        cli.call("POST", path, {"h": height, "w": width})
    except CLIError:
        pass                       # e.g. the process already ended


def cmd_run(cli: Client, args: list[str]) -> int:
    """create; then (unless -d) attach and wait — both answered with headers at once —
    start, copy the output until it ends, and exit with the container's code."""
    opts, pos = parse(args, RUN_FLAGS, interspersed=False, cmd="run")
    body, name = create_body(opts, pos)
    try:
        cid = _create(cli, body, name)
    except CLIError as exc:
        exc.code = 125
        raise
    try:
        if opts["detach"]:
            cli.call("POST", f"/containers/{q(cid)}/start")
            print(cid)
            return 0
        interactive = bool(opts["interactive"])       # -i: stdin over a hijacked stream
        attach = cli.request("POST", f"/containers/{q(cid)}/attach",
                             {"stream": 1, "stdout": 1, "stderr": 1,
                              "stdin": 1 if interactive else None},
                             headers=_UPGRADE if interactive else None)
        wait = cli.request("POST", f"/containers/{q(cid)}/wait",
                           {"condition": "removed" if opts["rm"] else "next-exit"})
        cli.call("POST", f"/containers/{q(cid)}/start")
    except CLIError as exc:
        # unlike docker, a run that cannot start leaves no half-made container behind
        try:
            cli.call("DELETE", f"/containers/{q(cid)}", {"force": 1})
        except CLIError:
            pass
        msg = str(exc)
        exc.code = 127 if "not found" in msg else 126 if "ermission denied" in msg else 125
        raise
    if interactive:
        from cove.cli.interactive import session
        session(attach, bool(opts["tty"]), True,
                lambda h, w: _resize(cli, f"/containers/{q(cid)}/resize", h, w))
    else:
        with attach:
            (copy_raw if opts["tty"] else demux)(attach)
    with wait:
        out = jsonfast.loads(wait.read() or b"{}")
    if out.get("Error"):
        raise CLIError(f"Error response from daemon: {out['Error'].get('Message', '')}", 125)
    return int(out.get("StatusCode", 125))


def _each(cli: Client, refs: list[str], fn, verb: str) -> int:
    if not refs:
        raise CLIError(f'"cove {verb}" requires at least 1 argument.')
    rc = 0
    for ref in refs:
        try:
            fn(ref)
            print(ref)
        except DaemonError as exc:
            print(exc.message, file=sys.stderr)
            rc = 1
    return rc


def cmd_start(cli: Client, args: list[str]) -> int:
    _, refs = parse(args, [Flag(("-a", "--attach"), "attach"),
                           Flag(("-i", "--interactive"), "i")], cmd="start")
    return _each(cli, refs, lambda r: cli.call("POST", f"/containers/{q(r)}/start"), "start")


def cmd_stop(cli: Client, args: list[str]) -> int:
    opts, refs = parse(args, [Flag(("-t", "--time"), "time", "int")], cmd="stop")
    params = {"t": opts["time"]} if opts["time"] is not None else None
    return _each(cli, refs, lambda r: cli.call("POST", f"/containers/{q(r)}/stop", params),
                 "stop")


def cmd_kill(cli: Client, args: list[str]) -> int:
    opts, refs = parse(args, [Flag(("-s", "--signal"), "signal", "str")], cmd="kill")
    params = {"signal": opts["signal"]} if opts["signal"] else None
    return _each(cli, refs, lambda r: cli.call("POST", f"/containers/{q(r)}/kill", params),
                 "kill")


def cmd_rm(cli: Client, args: list[str]) -> int:
    opts, refs = parse(args, [Flag(("-f", "--force"), "force"),
                              Flag(("-v", "--volumes"), "volumes")], cmd="rm")
    params = {"force": 1} if opts["force"] else None
    return _each(cli, refs, lambda r: cli.call("DELETE", f"/containers/{q(r)}", params), "rm")


def cmd_ps(cli: Client, args: list[str]) -> int:
    opts, _ = parse(args, [Flag(("-a", "--all"), "all"), Flag(("-q", "--quiet"), "quiet"),
                           Flag(("--no-trunc",), "no_trunc"),
                           Flag(("-n", "--last"), "last", "int"),
                           Flag(("-l", "--latest"), "latest"),
                           Flag(("-f", "--filter"), "filter", "list")], cmd="ps")
    params: dict[str, Any] = {"all": 1} if opts["all"] else {}
    if opts["filter"]:                      # -f key=value (health=, status=, name=, ...)
        filters: dict[str, list[str]] = {}
        for item in opts["filter"]:
            k, sep, v = item.partition("=")
            if not sep:
                raise CLIError(f'invalid argument "{item}" for "-f, --filter" flag: bad '
                               "format of filter (expected name=value)", 125)
            filters.setdefault(k, []).append(v)
        params["filters"] = jsonfast.dumps(filters)
    if opts["latest"]:
        params["limit"] = 1
    elif opts["last"]:
        params["limit"] = opts["last"]
    cs = cli.json("GET", "/containers/json", params)
    if opts["quiet"]:
        for c in cs:
            print(c["Id"] if opts["no_trunc"] else c["Id"][:12])
        return 0
    from cove.cli.tables import ps_rows
    sys.stdout.write(ps_rows(cs, trunc=not opts["no_trunc"]))
    return 0


def cmd_logs(cli: Client, args: list[str]) -> int:
    opts, pos = parse(args, [Flag(("-f", "--follow"), "follow"),
                             Flag(("-n", "--tail"), "tail", "str"),
                             Flag(("-t", "--timestamps"), "timestamps"),
                             Flag(("--since",), "since", "str"),
                             Flag(("--until",), "until", "str")], cmd="logs")
    if len(pos) != 1:
        raise CLIError('"cove logs" requires exactly 1 argument.')
    c = cli.json("GET", f"/containers/{q(pos[0])}/json")
    params = {"stdout": 1, "stderr": 1, "follow": int(opts["follow"]),
              "tail": opts["tail"] or "all", "timestamps": int(opts["timestamps"]),
              "since": opts["since"], "until": opts["until"]}
    with cli.request("GET", f"/containers/{q(c['Id'])}/logs", params) as resp:
        (copy_raw if c["Config"]["Tty"] else demux)(resp)
    return 0


def cmd_exec(cli: Client, args: list[str]) -> int:
    opts, pos = parse(args, [Flag(("-d", "--detach"), "detach"),
                             Flag(("-e", "--env"), "env", "list"),
                             Flag(("-w", "--workdir"), "workdir", "str"),
                             Flag(("-u", "--user"), "user", "str"),
                             Flag(("-i", "--interactive"), "interactive"),
                             Flag(("-t", "--tty"), "tty")], interspersed=False, cmd="exec")
    if len(pos) < 2:
        raise CLIError('"cove exec" requires at least 2 arguments.\n'
                       "Usage:  cove exec [OPTIONS] CONTAINER COMMAND [ARG...]")
    ref, cmd = pos[0], pos[1:]
    tty, detach = bool(opts["tty"]), bool(opts["detach"])
    interactive = bool(opts["interactive"]) and not detach
    out = cli.json("POST", f"/containers/{q(ref)}/exec", body={
        "AttachStdin": interactive, "AttachStdout": not detach, "AttachStderr": not detach,
        "Tty": tty, "Env": [_env_item(e) for e in opts["env"]],
        "WorkingDir": opts["workdir"] or "", "User": opts["user"] or "", "Cmd": cmd,
        "Detach": detach})
    eid = out["Id"]
    if interactive:
        from cove.cli.interactive import session
        resp = cli.request("POST", f"/exec/{q(eid)}/start", body={"Detach": False, "Tty": tty},
                           headers=_UPGRADE)
        session(resp, tty, True, lambda h, w: _resize(cli, f"/exec/{q(eid)}/resize", h, w))
        info = cli.json("GET", f"/exec/{q(eid)}/json")
        return int(info.get("ExitCode") or 0)
    with cli.request("POST", f"/exec/{q(eid)}/start",
                     body={"Detach": detach, "Tty": tty}) as resp:
        if detach:
            resp.read()
            return 0
        (copy_raw if tty else demux)(resp)
    info = cli.json("GET", f"/exec/{q(eid)}/json")
    return int(info.get("ExitCode") or 0)


def _inspect_one(cli: Client, ref: str, kind: str) -> Any:
    paths = {"container": f"/containers/{q(ref)}/json", "image": f"/images/{q(ref)}/json",
             "network": f"/networks/{q(ref)}"}
    kinds = [kind] if kind else ["container", "image", "network"]
    for k in kinds:
        try:
            return cli.json("GET", paths[k])
        except DaemonError as exc:
            if exc.status != 404 or kind:
                raise
    raise CLIError(f"Error: No such object: {ref}")


def inspect_refs(cli: Client, args: list[str], kind: str = "", verb: str = "inspect") -> int:
    opts, refs = parse(args, [Flag(("-f", "--format"), "format", "str"),
                              Flag(("--type",), "type", "str")], cmd=verb)
    if not refs:
        raise CLIError(f'"cove {verb}" requires at least 1 argument.')
    kind = kind or opts["type"] or ""
    results, rc = [], 0
    for ref in refs:
        try:
            results.append(_inspect_one(cli, ref, kind))
        except CLIError as exc:
            print(exc.message, file=sys.stderr)
            rc = 1
    if opts["format"]:
        from cove.cli.template import render
        for r in results:
            print(render(opts["format"], r))
    else:
        import json

        print(json.dumps(results, indent=4))
    return rc


def cmd_inspect(cli: Client, args: list[str]) -> int:
    return inspect_refs(cli, args)
