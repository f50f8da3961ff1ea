"""Render a container's /etc/hosts, /etc/resolv.conf and /etc/hostname (pure).

The text matches what Docker 20.10 writes (see the reference notes §0.6/§0.7): default
localhost lines, ``--add-host`` lines, link lines, then the container's own
``<ip>\\t<hostname>`` entry; resolv.conf copied from the host without localhost
nameservers (falling back to 8.8.8.8/8.8.4.4), or built from --dns/--dns-search/--dns-option.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from cove.errors import InvalidParameter

DEFAULT_HOSTS = (
    ("127.0.0.1", "localhost"),
    ("::1", "localhost ip6-localhost ip6-loopback"),
    ("fe00::0", "ip6-localnet"),
    ("ff00::0", "ip6-mcastprefix"),
    ("ff02::1", "ip6-allnodes"),
    ("ff02::2", "ip6-allrouters"),
)
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
EMBEDDED_DNS = "127.0.0.11"

_LOCALHOST_NS = re.compile(r"^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$|^::1$")


def parse_extra_host(spec: str, host_gateway: str = "") -> tuple[str, str]:
    """``"foo:1.2.3.4"`` → (``"1.2.3.4"``, ``"foo"``); ``host-gateway`` → ``host_gateway``."""
    name, sep, ip = spec.partition(":")
    if not sep or not name or not ip:
        raise InvalidParameter(f"invalid IP address in add-host: {ip!r}" if sep
                               else f"bad format for add-host: {spec!r}")
    if ip == "host-gateway":
        ip = host_gateway
    return ip, name


def _extra_line(item: str | tuple[str, str], host_gateway: str) -> str:
    if isinstance(item, str):
        a, n = parse_extra_host(item, host_gateway)
    else:
        a, n = item
        if a == "host-gateway":
            a = host_gateway
    return f"{a}\t{n}"


def render_hosts(ip: str | Iterable[tuple[str, str]], hostname: str = "",
                 domainname: str = "",
                 extra_hosts: Iterable[str | tuple[str, str]] = (), host_gateway: str = "",
                 records: Iterable[tuple[str, str]] = ()) -> str:
    """/etc/hosts text.

    ``extra_hosts`` are ``--add-host`` entries, as ``"name:ip"`` strings or ``(ip, name)``
    pairs; ``records`` are ``(ip, "names ...")`` pairs such as link entries. The own
    entry comes last: ``<ip>\t<fqdn> <hostname>`` with a domain, else
    ``<ip>\t<hostname>``; none when ``ip`` is empty. ``ip`` may also be a list of
    ``(ip, hostname)`` own entries (one per network).
    """
    lines = [f"{a}\t{n}" for a, n in DEFAULT_HOSTS]
    lines += [_extra_line(item, host_gateway) for item in extra_hosts]
    lines += [f"{a}\t{n}" for a, n in records]
    own = [(ip, hostname)] if isinstance(ip, str) else list(ip)
    for addr, name in own:
        if not addr:
            continue
        if domainname:
            lines.append(f"{addr}\t{name}.{domainname} {name}")
        else:
            lines.append(f"{addr}\t{name}")
    return "\n".join(lines) + "\n"


def render_hostname(hostname: str) -> str:
    return hostname + "\n"


def _words(text: str, key: str) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == key:
            if key == "nameserver":
                out += parts[1:2]
            else:
                out = parts[1:]          # the last search/options line wins, as in libc
    return out


def nameservers(text: str) -> list[str]:
    return _words(text, "nameserver")


def search_domains(text: str) -> list[str]:
    return _words(text, "search")


def options(text: str) -> list[str]:
    return _words(text, "options")


def _is_ipv6(ns: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(ns.split("%")[0]), ipaddress.IPv6Address)
    except ValueError:
        return False


def build_resolv_conf(servers: Iterable[str], search: Iterable[str] = (),
                      opts: Iterable[str] = ()) -> str:
    """resolv.conf as Docker's ``resolvconf.Build``: search, nameservers, options."""
    lines = []
    search = list(search)
    if search and " ".join(search).strip() != ".":
        lines.append("search " + " ".join(search))
    lines += [f"nameserver {s}" for s in servers]
    opts = list(opts)
    if opts and " ".join(opts).strip():
        lines.append("options " + " ".join(opts))
    return "".join(line + "\n" for line in lines)


def filter_resolv_conf(host_text: str, ipv6: bool = False) -> str:
    """The host's resolv.conf without localhost nameservers (and without IPv6 ones unless
    ``ipv6``); the fallback servers are added when no nameserver is left."""
    kept = []
    for line in host_text.splitlines():
        parts = line.split()
        if parts and parts[0] == "nameserver" and len(parts) > 1:
            ns = parts[1]
            if _LOCALHOST_NS.match(ns) or (not ipv6 and _is_ipv6(ns)):
                continue
        kept.append(line)
    text = "".join(line + "\n" for line in kept)
    if not nameservers(text):
        text += "".join(f"nameserver {s}\n" for s in FALLBACK_NAMESERVERS)
    return text


def render_resolv_conf(host_text: str, dns: Iterable[str] = (), dns_search: Iterable[str] = (),
                       dns_options: Iterable[str] = (), embedded: bool = False,
                       ipv6: bool = False) -> str:
    """A container's resolv.conf.

    Default bridge (``embedded=False``): the host's, filtered; with any of --dns,
    --dns-search, --dns-option, rebuilt with the given lists overriding the host's.
    User networks (``embedded=True``): ``nameserver 127.0.0.11`` with the search list and
    options of that result, plus ``ndots:0`` unless the user set ndots.
    """
    dns, dns_search, dns_options = list(dns), list(dns_search), list(dns_options)
    if dns or dns_search or dns_options:
        servers = dns or nameservers(filter_resolv_conf(host_text, ipv6))
        text = build_resolv_conf(servers, dns_search or search_domains(host_text),
                                 dns_options or options(host_text))
    else:
        text = filter_resolv_conf(host_text, ipv6)
    if not embedded:
        return text
    opts = options(text)
    if not any(o.startswith("ndots:") for o in opts):
        opts.append("ndots:0")
    return build_resolv_conf([EMBEDDED_DNS], search_domains(text), opts)
