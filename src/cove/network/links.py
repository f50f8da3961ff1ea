"""Legacy container links (``--link NAME[:ALIAS]`` on the default bridge), pure.

:func:`link_env` builds the environment variables exactly as Docker's ``links.go`` (v29:
TCP ports sorted first, a port range's ``_START``/``_END`` emitted even when it is the
last block); :func:`link_hosts_line` the ``/etc/hosts`` line of the linking container;
:func:`parse_link` splits ``NAME[:ALIAS]``.
"""

from __future__ import annotations

from cove.errors import InvalidParameter

_SKIP_ENV = ("HOME", "PATH")


def parse_link(spec: str) -> tuple[str, str]:
    """``"db:alias"`` → ("db", "alias"); ``"db"`` → ("db", "db"); leading "/" ignored."""
    name, _, alias = spec.partition(":")
    name = name.lstrip("/")
    alias = alias or name
    if not name or ":" in alias:
        raise InvalidParameter(f"invalid link format: {spec}")
    return name, alias


def _port_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return int(port), (proto or "tcp").lower()


def _sort_key(p: tuple[int, str]) -> tuple[int, str, int]:
    num, proto = p
    return (0 if proto == "tcp" else 1, proto, num)


def link_env(parent_name: str, alias: str, child_ip: str, exposed: list[str] | dict,
             child_env: list[str]) -> list[str]:
    """The variables a container linking to ``child`` as ``alias`` gets."""
    name = f"/{parent_name}/{alias}"
    up = alias.rsplit("/", 1)[-1].upper().replace("-", "_")
    ports = sorted((_port_key(k) for k in exposed), key=_sort_key)
    env: list[str] = []
    start = end = None
    for i, (num, proto) in enumerate(ports):
        if i == 0:
            start = end = (num, proto)
            env.append(f"{up}_PORT={proto}://{child_ip}:{num}")
        prefix = f"{up}_PORT_{num}_{proto.upper()}"
        env += [f"{prefix}={proto}://{child_ip}:{num}", f"{prefix}_ADDR={child_ip}",
                f"{prefix}_PORT={num}", f"{prefix}_PROTO={proto}"]
        assert start is not None and end is not None
        if num == end[0] + 1 and proto == end[1]:
            end = (num, proto)
            if i < len(ports) - 1:
                continue
        if end != start:
            prefix = f"{up}_PORT_{start[0]}_{start[1].upper()}"
            env += [f"{prefix}_START={start[1]}://{child_ip}:{start[0]}",
                    f"{prefix}_PORT_START={start[0]}",
                    f"{prefix}_END={end[1]}://{child_ip}:{end[0]}",
                    f"{prefix}_PORT_END={end[0]}"]
        start = end = (num, proto)
    env.append(f"{up}_NAME={name}")
    for item in child_env:
        k, sep, v = item.partition("=")
        if not sep or k in _SKIP_ENV:
            continue
        env.append(f"{up}_ENV_{k}={v}")
    return env


def link_hosts_entry(child_ip: str, alias: str, child_hostname: str, child_name: str
                     ) -> tuple[str, str]:
    """``(ip, names)`` for /etc/hosts as Docker writes them: ``<alias> <hostname>``, then
    ``<name>`` when the alias differs from it."""
    names = f"{alias} {child_hostname}"
    if alias != child_name:
        names += f" {child_name}"
    return child_ip, names


def link_hosts_line(child_ip: str, alias: str, child_hostname: str, child_name: str) -> str:
    ip, names = link_hosts_entry(child_ip, alias, child_hostname, child_name)
    return f"{ip}\t{names}"
