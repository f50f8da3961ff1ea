"""Port specs and port display as the Docker CLI does them (go-connections ``nat`` and the
CLI's ``DisplayablePorts``), pure.

- :func:`parse_publish`: ``-p [IP:][HOSTPORT|HOSTRANGE]:CPORT[-END][/PROTO]`` →
  ``(ExposedPorts, PortBindings)``, with Docker's client errors.
- :func:`parse_expose`: ``--expose PORT[-END][/PROTO]`` → ``ExposedPorts``.
- :func:`displayable_ports`: the list API's ``Ports`` → ``cove ps``'s PORTS column.
- :func:`port_lines`: ``NetworkSettings.Ports`` → ``cove port`` lines.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

PROTOS = ("tcp", "udp", "sctp")


class PortSpecError(ValueError):
    """A bad port spec; the message is Docker's."""


def split_proto_port(raw: str) -> tuple[str, str]:
    """``"80/udp"`` → ``("udp", "80")``; no proto → tcp; empty → ("", "")."""
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def parse_port_range(raw: str) -> tuple[int, int]:
    """``"80"`` → (80, 80); ``"7000-7002"`` → (7000, 7002); ValueError otherwise."""
    if not raw:
        raise ValueError("empty string specified for ports")
    lo, sep, hi = raw.partition("-")
    for p in (lo, hi) if sep else (lo,):
        if not re.fullmatch(r"[0-9]+", p) or int(p) > 65535:
            raise ValueError(f"invalid port: {raw}")
    a, b = int(lo), int(hi) if sep else int(lo)
    if b < a:
        raise ValueError(f"invalid range specified for port: {raw}")
    return a, b


def _split_parts(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    n = len(parts)
    if n == 1:
        return "", "", parts[0]
    if n == 2:
        return "", parts[0], parts[1]
    if n == 3:
        return parts[0], parts[1], parts[2]
    return ":".join(parts[:n - 2]), parts[n - 2], parts[n - 1]


def parse_port_spec(raw: str) -> list[tuple[str, str, str]]:
    """One ``-p`` value → ``[(port_key, host_ip, host_port)]`` (Docker's ParsePortSpec)."""
    ip, host_port, cport = _split_parts(raw)
    proto, cport = split_proto_port(cport)
    if ip.startswith("["):
        if not ip.endswith("]"):
            raise PortSpecError(f"Invalid ip address {ip}: missing ']' in address")
        ip = ip[1:-1]
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise PortSpecError(f"invalid IP address: {ip}") from None
    if not cport:
        raise PortSpecError(f"no port specified: {raw}<empty>")
    try:
        start, end = parse_port_range(cport)
    except ValueError:
        raise PortSpecError(f"invalid containerPort: {cport}") from None
    hstart = hend = 0
    if host_port:
        try:
            hstart, hend = parse_port_range(host_port)
        except ValueError:
            raise PortSpecError(f"invalid hostPort: {host_port}") from None
        if end - start != hend - hstart and end != start:
            raise PortSpecError("invalid ranges specified for container and host Ports:"
                                f" {cport} and {host_port}")
    if proto.lower() not in PROTOS:
        raise PortSpecError(f"invalid proto: {proto}")
    out = []
    for i in range(end - start + 1):
        hp = str(hstart + i) if host_port else ""
        if start == end and hstart != hend:
            hp = f"{hp}-{hend}"
        out.append((f"{start + i}/{proto.lower()}", ip, hp))
    return out


def parse_publish(specs: list[str]) -> tuple[dict[str, dict], dict[str, list[dict]]]:
    """All ``-p`` values → (ExposedPorts, PortBindings)."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict]] = {}
    for spec in specs:
        for key, ip, hp in parse_port_spec(spec):
            exposed[key] = {}
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": hp})
    return exposed, bindings


def parse_expose(specs: list[str]) -> dict[str, dict]:
    """All ``--expose`` values → ExposedPorts (ranges expanded)."""
    out: dict[str, dict] = {}
    for e in specs:
        proto, port = split_proto_port(e)
        try:
            start, end = parse_port_range(port)
        except ValueError as exc:
            raise PortSpecError(f"invalid range format for --expose: {e}, error: {exc}"
                                ) from None
        if proto.lower() not in PROTOS:
            raise PortSpecError(f"invalid proto: {proto}")
        for p in range(start, end + 1):
            out[f"{p}/{proto.lower()}"] = {}
    return out


def _join(ip: str, port: int | str) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _form_group(key: str, first: int, last: int) -> str:
    parts = key.split("/")
    typ, ip = parts[-1], "/".join(parts[:-1])
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{ip}:{group}->{group}"
    return f"{group}/{typ}"


def displayable_ports(ports: list[dict[str, Any]]) -> str:
    """The PORTS column (the Docker CLI's DisplayablePorts): ports published on the same
    number collapse into ranges (``0.0.0.0:8000-8002->8000-8002/tcp``), other mappings
    are listed one by one."""
    entries = sorted(ports, key=lambda p: (p.get("PrivatePort", 0), p.get("IP", ""),
                                           p.get("PublicPort", 0), p.get("Type", "")))
    groups: dict[str, list[int]] = {}
    result: list[str] = []
    host_mappings: list[str] = []
    for p in entries:
        cur = p.get("PrivatePort", 0)
        key = p.get("Type", "")
        if p.get("IP"):
            if p.get("PublicPort", 0) != cur:
                host_mappings.append(
                    f"{_join(p['IP'], p.get('PublicPort', 0))}->{cur}/{p.get('Type', '')}")
                continue
            key = f"{p['IP']}/{p.get('Type', '')}"
        g = groups.get(key)
        if g is None:
            groups[key] = [cur, cur]
            continue
        if cur == g[1] + 1:
            g[1] = cur
            continue
        result.append(_form_group(key, g[0], g[1]))
        groups[key] = [cur, cur]
    for key, g in groups.items():
        result.append(_form_group(key, g[0], g[1]))
    return ", ".join(result + host_mappings)


def _natural_key(s: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def port_lines(ports: dict[str, Any] | None, want: str = "") -> list[str]:
    """``cove port C [PORT[/PROTO]]`` lines from ``NetworkSettings.Ports``; with ``want``
    only the host addresses of that port (``0.0.0.0:32768``)."""
    ports = ports or {}
    if want:
        proto, port = split_proto_port(want)
        key = f"{port}/{proto or 'tcp'}"
        return [_join(b.get("HostIp", ""), b.get("HostPort", "")) for b in ports.get(key) or []]
    out = []
    for key, binds in ports.items():
        for b in binds or []:
            out.append(f"{key} -> {_join(b.get('HostIp', ''), b.get('HostPort', ''))}")
    return sorted(out, key=_natural_key)


def cmd_port(cli, args: list[str]) -> int:
    """``cove port CONTAINER [PRIVATE_PORT[/PROTO]]``."""
    from cove.cli.client import CLIError, q
    from cove.cli.flags import parse
    _, pos = parse(args, [], cmd="port")
    if not pos or len(pos) > 2:
        raise CLIError('"cove port" requires at least 1 and at most 2 arguments.\n'
                       "Usage:  cove port CONTAINER [PRIVATE_PORT[/PROTO]]", 1)
    c = cli.json("GET", f"/containers/{q(pos[0])}/json")
    ports = (c.get("NetworkSettings") or {}).get("Ports") or {}
    if len(pos) == 2:
        proto, port = split_proto_port(pos[1])
        lines = port_lines(ports, pos[1])
        if not lines:
            raise CLIError(f"Error: No public port '{port}/{proto or 'tcp'}' published"
                           f" for {pos[0]}", 1)
    else:
        lines = port_lines(ports)
    for line in lines:
        print(line)
    return 0
