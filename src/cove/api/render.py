"""Pure JSON shaping: engine model objects → Docker Engine API 1.41 dicts.

Every function here is a function of its arguments (plus, for human durations, the
``now`` passed in), so the shapes can be unit-tested without a server: key sets and
``null`` vs ``{}`` follow /work/shared/reference/docker-networking.md §0.1/§0.2.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from cove.api import hostmodes, resources
from cove.api import update as updates
from cove.engine.health import status_suffix as health_suffix
from cove.engine.model import Container, ExecRecord, Image
from cove.humanize import human_duration
from cove.network.model import Endpoint, Network

ZERO_TIME = "0001-01-01T00:00:00Z"


# -- time helpers -----------------------------------------------------------------------

def parse_iso(ts: str) -> float:
    """RFC 3339 (nanosecond precision allowed) → unix seconds; 0.0 for zero/empty times."""
    if not ts or ts.startswith("0001-01-01"):
        return 0.0
    s = ts.rstrip("Z")
    tz_off = 0.0
    if "+" in s[10:] or "-" in s[10:]:
        base, sign, off = _split_tz(s)
        s = base
        hh, _, mm = off.partition(":")
        tz_off = (int(hh) * 3600 + int(mm or 0) * 60) * (1 if sign == "+" else -1)
    main, _, frac = s.partition(".")
    d = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return d.timestamp() + (float("0." + frac) if frac else 0.0) - tz_off


def _split_tz(s: str) -> tuple[str, str, str]:
    for i in range(len(s) - 1, 9, -1):
        if s[i] in "+-":
            return s[:i], s[i], s[i + 1:]
    return s, "+", "0"


def container_status_text(c: Container, now: float | None = None) -> str:
    """The ``Status`` column of ``docker ps``: "Up 3 seconds", "Exited (0) 5 seconds ago"."""
    now = time.time() if now is None else now
    if c.status == "running" and not c.paused:
        return "Up " + human_duration(now - parse_iso(c.started_at)) + health_suffix(c.health)
    if c.status == "paused" or c.paused:
        return "Up " + human_duration(now - parse_iso(c.started_at)) + " (Paused)"
    if c.status == "restarting":
        return f"Restarting ({c.exit_code}) " + human_duration(now - parse_iso(c.finished_at)) \
            + " ago"
    if c.status == "removing":
        return "Removal In Progress"
    if c.status == "dead":
        return "Dead"
    if c.status == "exited":
        finished = parse_iso(c.finished_at)
        if not finished:
            return f"Exited ({c.exit_code})"
        return f"Exited ({c.exit_code}) {human_duration(now - finished)} ago"
    return "Created"


# -- containers ---------------------------------------------------------------------------

def _ports_map(c: Container) -> dict[str, Any]:
    """NetworkSettings.Ports: {} when not running; exposed-only ports map to null."""
    actual = getattr(c, "ports", None)      # filled by the engine when it knows host ports
    if isinstance(actual, dict):
        return dict(actual)
    if c.status != "running":
        return {}
    out: dict[str, Any] = {p: None for p in c.config.exposed_ports}
    for port, binds in c.config.port_bindings.items():
        out[port] = [{"HostIp": b.get("HostIp") or "0.0.0.0",
                      "HostPort": str(b.get("HostPort", ""))} for b in (binds or [])] or None
    return out


def ports_list(c: Container) -> list[dict[str, Any]]:
    """The list API's ``Ports``: [{"IP", "PrivatePort", "PublicPort", "Type"}]."""
    out: list[dict[str, Any]] = []
    for key, binds in sorted(_ports_map(c).items()):
        port, _, proto = key.partition("/")
        proto = proto or "tcp"
        if not binds:
            out.append({"PrivatePort": int(port), "Type": proto})
            continue
        for b in binds:
            entry: dict[str, Any] = {"IP": b.get("HostIp", ""), "PrivatePort": int(port),
                                     "Type": proto}
            if b.get("HostPort"):
                entry["PublicPort"] = int(b["HostPort"])
            out.append(entry)
    return out


def _endpoint_settings(c: Container, net: Network, ep: Endpoint) -> dict[str, Any]:
    aliases = None
    if not net.default and net.driver not in ("host", "null"):
        aliases = [*getattr(ep, "aliases", []), c.short_id]
        if c.config.hostname and c.config.hostname not in (c.name, c.short_id):
            aliases.append(c.config.hostname)
    ipam_cfg = {k: v for k, v in (
        ("IPv4Address", getattr(ep, "requested_ip", "")),
        ("IPv6Address", getattr(ep, "requested_ip6", "")),
        ("LinkLocalIPs", list(getattr(ep, "link_local_ips", []) or []))) if v}
    return {
        "IPAMConfig": ipam_cfg or None,
        "Links": list(getattr(ep, "links", [])) or None, "Aliases": aliases,
        "NetworkID": net.id, "EndpointID": ep.id,
        "Gateway": ep.gateway, "IPAddress": ep.ip, "IPPrefixLen": ep.prefixlen,
        "IPv6Gateway": getattr(ep, "gateway6", ""),
        "GlobalIPv6Address": getattr(ep, "ip6", ""),
        "GlobalIPv6PrefixLen": getattr(ep, "prefixlen6", 0),
        "MacAddress": ep.mac, "DriverOpts": dict(getattr(ep, "driver_opts", {})) or None,
    }


def network_settings(c: Container, endpoints: list[tuple[Network, Endpoint]]) -> dict[str, Any]:
    """NetworkSettings of ``GET /containers/{id}/json`` (§0.2)."""
    top = {"EndpointID": "", "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
           "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": ""}
    networks: dict[str, Any] = {}
    for net, ep in endpoints:
        es = _endpoint_settings(c, net, ep)
        networks[net.name] = es
        if net.default:
            for k in top:
                top[k] = es[k]
    return {
        "Bridge": "", "SandboxID": c.sandbox_id, "HairpinMode": False,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "Ports": _ports_map(c), "SandboxKey": c.netns_path,
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        **top,
        "Networks": networks,
    }


def _state(c: Container) -> dict[str, Any]:
    return {
        "Status": "paused" if c.paused else c.status,
        "Running": c.status in ("running", "paused", "restarting"),
        "Paused": c.status == "paused" or c.paused,
        "Restarting": c.status == "restarting",
        "OOMKilled": c.oom_killed,
        "Dead": c.status == "dead",
        "Pid": c.pid,
        "ExitCode": c.exit_code,
        "Error": c.error,
        "StartedAt": c.started_at or ZERO_TIME,
        "FinishedAt": c.finished_at or ZERO_TIME,
        **updates.render_state(c),
    }


def host_config(c: Container) -> dict[str, Any]:
    cfg = c.config
    return {
        "Binds": None, "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {},
                      **(getattr(cfg, "log_config", None) or {})},
        "NetworkMode": cfg.network_mode or "default",
        "PortBindings": dict(cfg.port_bindings),
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": cfg.auto_remove, "VolumeDriver": "", "VolumesFrom": None,
        "CapAdd": None, "CapDrop": None, "CgroupnsMode": "host",
        "Dns": list(cfg.dns), "DnsOptions": list(cfg.dns_options),
        "DnsSearch": list(cfg.dns_search),
        "ExtraHosts": list(cfg.extra_hosts) or None, "GroupAdd": None, "IpcMode": "private",
        "Cgroup": "", "Links": list(cfg.links) or None, "OomScoreAdj": 0, "PidMode": "",
        "Privileged": False, "PublishAllPorts": cfg.publish_all, "ReadonlyRootfs": False,
        "SecurityOpt": None, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
        "Runtime": cfg.runtime or c.driver, "ConsoleSize": [0, 0], "Isolation": "",
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "", "BlkioWeight": 0,
        "CpuPeriod": 0, "CpuQuota": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": [],
        "MemoryReservation": 0, "MemorySwap": 0, "OomKillDisable": False, "PidsLimit": None,
        "Ulimits": None, "MaskedPaths": None, "ReadonlyPaths": None,
        **resources.render_host(c),
        **hostmodes.render_host(c),
        **updates.render_host(c),
    }


def container_config(c: Container) -> dict[str, Any]:
    cfg = c.config
    out: dict[str, Any] = {
        "Hostname": cfg.hostname or c.short_id, "Domainname": cfg.domainname, "User": cfg.user,
        "AttachStdin": False, "AttachStdout": cfg.attach_stdout,
        "AttachStderr": cfg.attach_stderr,
    }
    if cfg.exposed_ports:
        out["ExposedPorts"] = {k: {} for k in cfg.exposed_ports}
    out.update({
        "Tty": cfg.tty, "OpenStdin": cfg.open_stdin, "StdinOnce": cfg.stdin_once,
        "Env": list(cfg.env), "Cmd": list(cfg.cmd) or None, "Image": cfg.image,
        "Volumes": {p: {} for p in cfg.volumes} or None, "WorkingDir": cfg.working_dir,
        "Entrypoint": list(cfg.entrypoint) or None, "OnBuild": None,
        "Labels": dict(cfg.labels),
    })
    if getattr(cfg, "stop_timeout", None) is not None:
        out["StopTimeout"] = cfg.stop_timeout
    out.update(updates.render_config(c))
    return out


def container_inspect(c: Container, endpoints: list[tuple[Network, Endpoint]],
                      root: str = "/var/lib/cove") -> dict[str, Any]:
    """``GET /containers/{id}/json``."""
    cdir = f"{root}/containers/{c.id}"
    return {
        "Id": c.id, "Created": c.created, "Path": c.path, "Args": list(c.args),
        "State": _state(c), "Image": c.image_id,
        "ResolvConfPath": f"{cdir}/resolv.conf", "HostnamePath": f"{cdir}/hostname",
        "HostsPath": f"{cdir}/hosts", "LogPath": f"{cdir}/{c.id}-json.log",
        "Name": "/" + c.name, "RestartCount": c.restart_count, "Driver": "overlay2",
        "Platform": "linux", "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": None, "HostConfig": host_config(c),
        "GraphDriver": {"Data": None, "Name": "overlay2"},
        "Mounts": resources.render_mounts(c) + hostmodes.render_volume_mounts(c, root),
        "Config": container_config(c),
        "NetworkSettings": network_settings(c, endpoints),
    }


def container_summary(c: Container, endpoints: list[tuple[Network, Endpoint]]) -> dict[str, Any]:
    """One entry of ``GET /containers/json``."""
    command = " ".join([c.path, *c.args]) if c.path else " ".join(
        [*c.config.entrypoint, *c.config.cmd])
    return {
        "Id": c.id, "Names": ["/" + c.name], "Image": c.config.image, "ImageID": c.image_id,
        "Command": command, "Created": int(parse_iso(c.created)), "Ports": ports_list(c),
        "Labels": dict(c.config.labels), "State": c.status,
        "Status": container_status_text(c),
        "HostConfig": {"NetworkMode": c.config.network_mode or "default"},
        "NetworkSettings": {"Networks": {n.name: _endpoint_settings(c, n, e)
                                         for n, e in endpoints}},
        "Mounts": [],
    }


# -- exec ---------------------------------------------------------------------------------

def exec_inspect(e: ExecRecord) -> dict[str, Any]:
    return {
        "ID": e.id, "Running": e.running, "ExitCode": e.exit_code,
        "ProcessConfig": {"tty": e.tty, "entrypoint": e.cmd[0] if e.cmd else "",
                          "arguments": list(e.cmd[1:]), "privileged": False,
                          "user": e.user or None},
        "OpenStdin": e.attach_stdin, "OpenStderr": e.attach_stderr,
        "OpenStdout": e.attach_stdout, "CanRemove": False, "ContainerID": e.container_id,
        "DetachKeys": e.detach_keys, "Pid": e.pid,
    }


# -- images -------------------------------------------------------------------------------

def image_summary(img: Image) -> dict[str, Any]:
    return {
        "Id": img.id, "ParentId": "", "RepoTags": list(img.repo_tags) or ["<none>:<none>"],
        "RepoDigests": [], "Created": int(parse_iso(img.created)), "Size": img.size,
        "SharedSize": -1, "VirtualSize": img.size,
        "Labels": dict(img.config.get("Labels") or {}) or None, "Containers": -1,
    }


def image_inspect(img: Image) -> dict[str, Any]:
    cfg = img.config or {}
    return {
        "Id": img.id, "RepoTags": list(img.repo_tags), "RepoDigests": [],
        "Parent": getattr(img, "parent", ""), "Comment": getattr(img, "comment", ""),
        "Created": img.created, "Container": "", "ContainerConfig": {},
        "DockerVersion": "", "Author": getattr(img, "author", ""),
        "Config": {
            "Hostname": "", "Domainname": "", "User": cfg.get("User", ""),
            "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
            "Tty": False, "OpenStdin": False, "StdinOnce": False,
            "Env": cfg.get("Env"), "Cmd": cfg.get("Cmd"), "Image": "",
            "Volumes": cfg.get("Volumes"), "WorkingDir": cfg.get("WorkingDir", ""),
            "Entrypoint": cfg.get("Entrypoint"), "OnBuild": None,
            "Labels": cfg.get("Labels"),
            **({"ExposedPorts": cfg["ExposedPorts"]} if cfg.get("ExposedPorts") else {}),
        },
        "Architecture": _go_arch(), "Os": "linux", "Size": img.size, "VirtualSize": img.size,
        "GraphDriver": {"Data": None, "Name": "overlay2"},
        "RootFS": {"Type": "layers", "Layers": []},
        "Metadata": {"LastTagTime": ZERO_TIME},
    }


def _go_arch() -> str:
    import platform
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(m, m)


# -- networks -----------------------------------------------------------------------------

def _predefined(net: Network) -> bool:
    return net.default or net.driver in ("host", "null")


def _ipam_config(net: Network) -> list[dict[str, Any]]:
    if net.driver in ("host", "null"):
        return []
    if net.default:
        return [{"Subnet": net.subnet}] if net.subnet else []
    given = net.ipam.get("Config") if isinstance(net.ipam, dict) else None
    extra: dict[str, Any] = {}
    if isinstance(given, list) and given and isinstance(given[0], dict):
        extra = given[0]
    elif isinstance(net.ipam, dict):
        extra = net.ipam
    entry: dict[str, Any] = {}
    if net.subnet:
        entry["Subnet"] = net.subnet
    if extra.get("IPRange"):
        entry["IPRange"] = extra["IPRange"]
    if net.gateway:
        entry["Gateway"] = net.gateway
    if extra.get("AuxiliaryAddresses"):
        entry["AuxiliaryAddresses"] = dict(extra["AuxiliaryAddresses"])
    from cove.network.ipv6 import v6_entry
    entry6 = v6_entry(net.ipam) if isinstance(net.ipam, dict) else None
    return ([entry] if entry else []) + ([dict(entry6)] if entry6 else [])


def network_options(net: Network) -> dict[str, str]:
    if not net.default:
        return dict(net.options)
    return {
        "com.docker.network.bridge.default_bridge": "true",
        "com.docker.network.bridge.enable_icc": "true" if net.icc else "false",
        "com.docker.network.bridge.enable_ip_masquerade": "true" if net.masquerade else "false",
        "com.docker.network.bridge.host_binding_ipv4": net.host_binding_ipv4,
        "com.docker.network.bridge.name": net.bridge or "cove0",
        "com.docker.network.driver.mtu": str(net.mtu),
    }


def network_inspect(net: Network, members: list[tuple[Container, Endpoint]]) -> dict[str, Any]:
    """``GET /networks/{id}`` (§0.1). ``members`` may be empty for the list endpoint."""
    containers = {
        c.id: {"Name": c.name, "EndpointID": ep.id, "MacAddress": ep.mac,
               "IPv4Address": f"{ep.ip}/{ep.prefixlen}" if ep.ip else "",
               "IPv6Address": f"{ep.ip6}/{ep.prefixlen6}" if getattr(ep, "ip6", "") else ""}
        for c, ep in members
    }
    return {
        "Name": net.name, "Id": net.id, "Created": net.created or ZERO_TIME,
        "Scope": "global" if net.driver == "overlay" else "local",
        "Driver": net.driver, "EnableIPv6": bool(getattr(net, "enable_ipv6", False)),
        "IPAM": {"Driver": "default", "Options": None if _predefined(net) else (
                     net.ipam.get("Options", {}) if isinstance(net.ipam, dict) else {}),
                 "Config": _ipam_config(net)},
        "Internal": net.internal, "Attachable": net.driver == "overlay", "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
        "Containers": containers, "Options": network_options(net),
        "Labels": dict(net.labels),
    }
