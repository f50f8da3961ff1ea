"""Request validation: Docker's PascalCase bodies and query strings → engine values.

Everything here raises :class:`cove.errors.InvalidParameter` (HTTP 400) on bad input,
before the engine is called. PascalCase JSON stays in ``cove.api``.
"""

from __future__ import annotations

import ipaddress
import json
import re
import signal as _signal
from collections.abc import Mapping
from typing import Any

from cove.engine.model import ContainerConfig
from cove.errors import InvalidParameter

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
WAIT_CONDITIONS = ("not-running", "next-exit", "removed")


def bool_value(query: Mapping[str, str], key: str, default: bool = False) -> bool:
    """Docker's httputils.BoolValue: anything but ""/0/no/false/none is true."""
    if key not in query:
        return default
    return query[key].strip().lower() not in ("", "0", "no", "false", "none")


def int_value(query: Mapping[str, str], key: str, default: int | None = None) -> int | None:
    raw = query.get(key, "")
    if raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidParameter(f"invalid value for {key}: {raw!r} is not an integer") from exc


def float_value(query: Mapping[str, str], key: str) -> float:
    raw = query.get(key, "").strip()
    if not raw:
        return 0.0
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidParameter(f"invalid value for {key}: {raw!r} is not a timestamp") from exc


def container_name(query: Mapping[str, str]) -> str | None:
    name = query.get("name", "")
    if not name:
        return None
    if not NAME_RE.match(name):
        raise InvalidParameter(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


def signal_value(raw: str) -> str | int:
    """"9", "KILL", "SIGKILL" → 9 / "KILL"; unknown → 400 like Docker."""
    raw = (raw or "KILL").strip()
    if raw.isdigit():
        num = int(raw)
        if not 0 < num < 65:
            raise InvalidParameter(f"Invalid signal: {raw}")
        return num
    name = raw.upper()
    name = name[3:] if name.startswith("SIG") else name
    if not hasattr(_signal, "SIG" + name) or name.startswith("_"):
        raise InvalidParameter(f"Invalid signal: {raw}")
    return name


def wait_condition(raw: str) -> str:
    cond = raw or "not-running"
    if cond not in WAIT_CONDITIONS:
        raise InvalidParameter(f'invalid condition: "{cond}"')
    return cond


def tail_value(raw: str) -> str:
    raw = (raw or "all").strip()
    if raw == "all":
        return raw
    try:
        if int(raw) < 0:
            return "all"
    except ValueError as exc:
        raise InvalidParameter(f"invalid value for tail: {raw!r}") from exc
    return raw


# -- JSON bodies ----------------------------------------------------------------------------

def _obj(body: Any, what: str) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidParameter(f"invalid {what}: must be a JSON object")
    return body


def _str(d: dict, key: str, what: str = "") -> str:
    v = d.get(key)
    if v is None:
        return ""
    if not isinstance(v, str):
        raise InvalidParameter(f"invalid {what}{key}: must be a string")
    return v


def _bool(d: dict, key: str, what: str = "") -> bool:
    v = d.get(key)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise InvalidParameter(f"invalid {what}{key}: must be a boolean")
    return v


def _strlist(d: dict, key: str, what: str = "", strslice: bool = False) -> list[str]:
    """A list of strings; with ``strslice`` a bare string is accepted (Docker's StrSlice)."""
    v = d.get(key)
    if v is None:
        return []
    if strslice and isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InvalidParameter(f"invalid {what}{key}: must be a list of strings")
    return list(v)


def _strmap(d: dict, key: str, what: str = "") -> dict[str, str]:
    v = d.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise InvalidParameter(f"invalid {what}{key}: must be an object of strings")
    return dict(v)


def _port_key(key: str) -> str:
    port, _, proto = key.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidParameter(f"invalid proto: {proto}")
    lo, _, hi = port.partition("-")
    for p in (lo, hi) if hi else (lo,):
        if not p.isdigit() or not 0 < int(p) < 65536:
            raise InvalidParameter(f"invalid port: {key}")
    return f"{port}/{proto}"


def _exposed(d: dict) -> dict[str, dict]:
    v = d.get("ExposedPorts")
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise InvalidParameter("invalid ExposedPorts: must be an object")
    return {_port_key(k): {} for k in v}


def _volume_paths(b: dict) -> list[str]:
    """Config.Volumes ``{"/path": {}}`` → the container paths (anonymous volumes)."""
    v = b.get("Volumes")
    if v is None:
        return []
    if not isinstance(v, dict) or not all(isinstance(k, str) and k.startswith("/")
                                          for k in v):
        raise InvalidParameter("invalid Config.Volumes: must map absolute paths to {}")
    return list(v)


def _bindings(hc: dict) -> dict[str, list[dict]]:
    v = hc.get("PortBindings")
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise InvalidParameter("invalid HostConfig.PortBindings: must be an object")
    out: dict[str, list[dict]] = {}
    for key, binds in v.items():
        norm = _port_key(key)
        if binds is None:
            out[norm] = []
            continue
        if not isinstance(binds, list):
            raise InvalidParameter(f"invalid HostConfig.PortBindings[{key}]: must be a list")
        items = []
        for b in binds:
            if not isinstance(b, dict):
                raise InvalidParameter(f"invalid HostConfig.PortBindings[{key}]: bad binding")
            host_ip = b.get("HostIp") or ""
            host_port = b.get("HostPort") or ""
            if not isinstance(host_ip, str) or not isinstance(host_port, str | int):
                raise InvalidParameter(f"invalid HostConfig.PortBindings[{key}]: bad binding")
            host_port = str(host_port)
            if host_port:
                lo, _, hi = host_port.partition("-")
                for p in (lo, hi) if hi else (lo,):
                    if not p.isdigit() or not 0 <= int(p) < 65536:
                        raise InvalidParameter(f"invalid hostPort: {host_port}")
            items.append({"HostIp": host_ip, "HostPort": host_port})
        out[norm] = items
    return out


def create_body(body: Any) -> ContainerConfig:
    """``POST /containers/create`` body (Config + HostConfig + NetworkingConfig)."""
    b = _obj(body, "body")
    image = _str(b, "Image")
    if not image:
        raise InvalidParameter("config.Image is required: no image specified")
    hc = _obj(b.get("HostConfig"), "HostConfig")
    nc = _obj(b.get("NetworkingConfig"), "NetworkingConfig")
    h = "HostConfig."
    env = _strlist(b, "Env")
    for item in env:
        if not item or item.startswith("="):
            raise InvalidParameter(f"invalid environment variable: {item!r}")
    mode = _str(hc, "NetworkMode", h) or "default"
    eps = _obj(nc.get("EndpointsConfig"), "NetworkingConfig.EndpointsConfig")
    if mode == "default":
        mode = next(iter(eps)) if len(eps) == 1 else "bridge"
    if mode.startswith("container:"):
        raise InvalidParameter("network mode container:<id> is not supported by cove")
    hostname = _str(b, "Hostname")
    if hostname and (len(hostname) > 63 or not re.match(r"^[a-zA-Z0-9][a-zA-Z0-9.-]*$",
                                                         hostname)):
        raise InvalidParameter(f"invalid hostname format: {hostname}")
    return ContainerConfig(
        image=image,
        cmd=_strlist(b, "Cmd", strslice=True),
        entrypoint=_strlist(b, "Entrypoint", strslice=True),
        env=env,
        hostname=hostname,
        domainname=_str(b, "Domainname"),
        user=_str(b, "User"),
        working_dir=_str(b, "WorkingDir"),
        labels=_strmap(b, "Labels"),
        tty=_bool(b, "Tty"),
        open_stdin=_bool(b, "OpenStdin"),
        stdin_once=_bool(b, "StdinOnce"),
        volumes=_volume_paths(b),
        attach_stdout=_bool(b, "AttachStdout"),
        attach_stderr=_bool(b, "AttachStderr"),
        exposed_ports=_exposed(b),
        network_mode=mode,
        auto_remove=_bool(hc, "AutoRemove", h),
        # docker-py sends create_container(runtime=...) at the top level of the body
        runtime=_str(hc, "Runtime", h) or _str(b, "Runtime"),
        dns=_strlist(hc, "Dns", h),
        dns_search=_strlist(hc, "DnsSearch", h),
        dns_options=_strlist(hc, "DnsOptions", h),
        extra_hosts=_strlist(hc, "ExtraHosts", h),
        port_bindings=_bindings(hc),
        links=_strlist(hc, "Links", h),
        publish_all=_bool(hc, "PublishAllPorts", h),
        **_host_resources(hc),
        **_host_modes(hc, hostname),
        **_log_config(hc),
        **_stop_timeout(b),
        **_issue6_fields(b, hc),
        endpoint_config=endpoint_config(eps, mode, _str(b, "MacAddress")),
    )


def endpoint_config(eps: dict, mode: str, mac: str = "") -> dict[str, Any]:
    """The EndpointsConfig entry of the container's network (IPAMConfig, Aliases,
    MacAddress), validated."""
    ec = eps.get(mode)
    if ec is None and len(eps) == 1:
        ec = next(iter(eps.values()))
    ec = _obj(ec, f"EndpointsConfig.{mode}")
    out: dict[str, Any] = {}
    ipam = _obj(ec.get("IPAMConfig"), "IPAMConfig")
    ip4 = _str(ipam, "IPv4Address", "IPAMConfig.")
    ip6 = _str(ipam, "IPv6Address", "IPAMConfig.")
    if ip4:
        try:
            ipaddress.IPv4Address(ip4)
        except ValueError:
            raise InvalidParameter(f"invalid IPv4 address: {ip4}") from None
        out["IPAMConfig"] = {"IPv4Address": ip4}
    if ip6:
        try:
            ip6 = str(ipaddress.IPv6Address(ip6))
        except ValueError:
            raise InvalidParameter(f"invalid IPv6 address: {ip6}") from None
        out.setdefault("IPAMConfig", {})["IPv6Address"] = ip6
    lls = _strlist(ipam, "LinkLocalIPs", "IPAMConfig.")
    if lls:
        from cove.network.ipv6 import link_local
        out.setdefault("IPAMConfig", {})["LinkLocalIPs"] = link_local(lls)
    aliases = _strlist(ec, "Aliases", "EndpointsConfig.")
    if aliases:
        out["Aliases"] = aliases
    links = _strlist(ec, "Links", "EndpointsConfig.")
    if links:
        out["Links"] = links
    opts = _strmap(ec, "DriverOpts", "EndpointsConfig.")
    if opts:
        out["DriverOpts"] = opts
    mac = _str(ec, "MacAddress", "EndpointsConfig.") or mac
    if mac:
        if not re.match(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$", mac):
            raise InvalidParameter(f"invalid MAC address: {mac}")
        out["MacAddress"] = mac.lower()
    return out


def network_create_body(body: Any) -> dict[str, Any]:
    """``POST /networks/create`` → keyword arguments of ``Engine.create_network``."""
    b = _obj(body, "body")
    name = _str(b, "Name")
    if not name:
        raise InvalidParameter("network name is required")
    ipam = _obj(b.get("IPAM"), "IPAM")
    configs = ipam.get("Config") or []
    if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
        raise InvalidParameter("IPAM.Config must be a list of objects")
    v4 = [c for c in configs if ":" not in str(c.get("Subnet", ""))]
    if len(v4) > 1:
        raise InvalidParameter("cove supports one IPv4 pool per network")
    c4 = v4[0] if v4 else {}
    v6 = [c for c in configs if ":" in str(c.get("Subnet", ""))]
    if len(v6) > 1:
        raise InvalidParameter("cove supports one IPv6 pool per network")
    pool6 = None
    if v6:
        from cove.network.ipv6 import pool_entry
        w = "IPAM.Config."
        pool6 = pool_entry(_str(v6[0], "Subnet", w), _str(v6[0], "Gateway", w),
                           _str(v6[0], "IPRange", w),
                           _strmap(v6[0], "AuxiliaryAddresses", w) or None)
    kw: dict[str, Any] = {
        "name": name, "driver": _str(b, "Driver") or "bridge",
        "subnet": _str(c4, "Subnet", "IPAM.Config."),
        "gateway": _str(c4, "Gateway", "IPAM.Config."),
        "ip_range": _str(c4, "IPRange", "IPAM.Config."),
        "aux_addresses": _strmap(c4, "AuxiliaryAddresses", "IPAM.Config.") or None,
        "internal": _bool(b, "Internal"),
        "options": _strmap(b, "Options"), "labels": _strmap(b, "Labels"),
        "enable_ipv6": _bool(b, "EnableIPv6"), "ipv6_pool": pool6,
        # API 1.41: only an explicit CheckDuplicate=false allows a second network of a name
        "check_duplicate": b.get("CheckDuplicate") is None or _bool(b, "CheckDuplicate"),
        # IPAM.Options echoed as given: null stays null, an absent IPAM shows {}
        "ipam_options": (_strmap(ipam, "Options", "IPAM.") if ipam.get("Options") is not None
                         else None) if b.get("IPAM") is not None else False,
    }
    return kw


def network_connect_body(body: Any) -> dict[str, Any]:
    """``POST /networks/{id}/connect`` → container, ip, aliases, links."""
    b = _obj(body, "body")
    container = _str(b, "Container")
    if not container:
        raise InvalidParameter("Container is required")
    ec = _obj(b.get("EndpointConfig"), "EndpointConfig")
    parsed = endpoint_config({"x": ec}, "x")
    return {"container": container,
            "ip": (parsed.get("IPAMConfig") or {}).get("IPv4Address", ""),
            "ip6": (parsed.get("IPAMConfig") or {}).get("IPv6Address", ""),
            "link_local_ips": (parsed.get("IPAMConfig") or {}).get("LinkLocalIPs", []),
            "aliases": parsed.get("Aliases") or [],
            "links": _strlist(ec, "Links", "EndpointConfig."),
            "mac": parsed.get("MacAddress", ""), "driver_opts": parsed.get("DriverOpts") or {}}


def _host_resources(hc: dict) -> dict[str, Any]:
    from cove.api.resources import host_fields  # its own module (issue 5)
    return host_fields(hc)


def _host_modes(hc: dict, hostname: str) -> dict[str, Any]:
    from cove.api.hostmodes import host_fields  # its own module (issue 6)
    return host_fields(hc, hostname)


def _issue6_fields(b: dict, hc: dict) -> dict[str, Any]:
    from cove.api.update import create_fields  # restart policy, healthcheck, resources
    return create_fields(b, hc)


def _stop_timeout(b: dict) -> dict[str, Any]:
    """Config.StopTimeout (seconds; absent: the daemon's default of 10)."""
    v = b.get("StopTimeout")
    if v is None:
        return {}
    if isinstance(v, bool) or not isinstance(v, int) or v < -1:
        raise InvalidParameter("invalid StopTimeout: must be an integer of -1 or more")
    return {"stop_timeout": v}


def _log_config(hc: dict) -> dict[str, Any]:
    from cove.api.logconfig import log_config  # its own module
    return log_config(hc)


def exec_body(body: Any) -> dict[str, Any]:
    """``POST /containers/{id}/exec`` body → keyword arguments of ``exec_create``."""
    b = _obj(body, "body")
    cmd = _strlist(b, "Cmd", strslice=True)
    if not cmd:
        raise InvalidParameter("No exec command specified")
    return {
        "cmd": cmd, "env": _strlist(b, "Env"), "working_dir": _str(b, "WorkingDir"),
        "user": _str(b, "User"), "tty": _bool(b, "Tty"),
        "attach_stdout": b.get("AttachStdout") is not False,
        "attach_stderr": b.get("AttachStderr") is not False,
        **exec_stdin_fields(b),
    }


def exec_stdin_fields(b: dict) -> dict[str, Any]:
    """AttachStdin and DetachKeys of an exec (Go decodes JSON keys case-insensitively:
    docker-py sends ``detachKeys``); invalid keys are refused here, as Docker does."""
    from cove.api import detachkeys
    keys = _str(b, "DetachKeys") or _str(b, "detachKeys")
    if keys:
        detachkeys.parse(keys)
    return {"attach_stdin": _bool(b, "AttachStdin"), "detach_keys": keys}


def exec_start_body(body: Any) -> tuple[bool, bool]:
    """``POST /exec/{id}/start`` body → (detach, tty)."""
    b = _obj(body, "body")
    return _bool(b, "Detach"), _bool(b, "Tty")


def repo_tag(repo: str, tag: str) -> tuple[str, str]:
    """Split ``repo[:tag]`` (a registry port's colon is not a tag) and validate."""
    if not repo:
        raise InvalidParameter("repo is required when importing an image")
    slash = repo.rfind("/")
    colon = repo.rfind(":")
    if colon > slash:
        if tag:
            raise InvalidParameter(f"invalid reference format: {repo}:{tag}")
        repo, tag = repo[:colon], repo[colon + 1:]
    tag = tag or "latest"
    if not re.match(r"^[a-z0-9]+([._/-]+[a-z0-9]+)*(:[0-9]+)?(/[a-z0-9._-]+)*$", repo):
        raise InvalidParameter(f"invalid reference format: repository name ({repo}) "
                               "must be lowercase")
    if not re.match(r"^[\w][\w.-]{0,127}$", tag):
        raise InvalidParameter(f"invalid tag format: {tag}")
    return repo, tag


def filters(raw: str, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    """The ``filters`` query parameter (``{"k": ["v"]}`` or ``{"k": {"v": true}}``),
    keys limited to ``allowed``; InvalidParameter for anything else."""
    if not raw:
        return {}
    try:
        f = json.loads(raw)
    except ValueError as exc:
        raise InvalidParameter(f"invalid filter: {exc}") from exc
    if not isinstance(f, dict):
        raise InvalidParameter("invalid filter: must be a JSON object")
    out: dict[str, list[str]] = {}
    for k, v in f.items():
        if k not in allowed:
            raise InvalidParameter(f"invalid filter '{k}'")
        if isinstance(v, list):
            out[k] = [str(x) for x in v]
        elif isinstance(v, dict):
            out[k] = [str(x) for x, on in v.items() if on]
        else:
            raise InvalidParameter(f"invalid filter '{k}': must be a list or an object")
    return out
