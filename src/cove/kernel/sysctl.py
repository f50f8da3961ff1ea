"""Read and write kernel parameters under /proc/sys (``net.ipv4.ip_forward`` style keys).

/proc/sys/net reflects the network namespace of the thread that opens the file.
"""

from __future__ import annotations

from cove.errors import KernelError


def _path(key: str) -> str:
    if not key or ".." in key or key.startswith((".", "/")):
        raise KernelError(f"invalid sysctl key {key!r}")
    # sysctl's convention: '.' separates levels, '/' stands for a '.' inside a name
    return "/proc/sys/" + key.translate(str.maketrans("./", "/."))


def read(key: str) -> str:
    """The value of ``key`` (e.g. ``net.ipv4.ip_forward``), stripped."""
    try:
        with open(_path(key)) as f:
            return f.read().strip()
    except OSError as exc:
        raise KernelError(f"cannot read sysctl {key}: {exc}") from exc


def write(key: str, value: str | int) -> None:
    """Set ``key`` to ``value``; writing the current value again is cheap and harmless."""
    try:
        with open(_path(key), "w") as f:
            f.write(f"{value}\n")
    except OSError as exc:
        raise KernelError(f"cannot set sysctl {key}={value}: {exc}") from exc


def ensure(key: str, value: str | int) -> None:
    """Write ``key`` only if it differs from ``value``."""
    if read(key) != str(value):
        write(key, value)


def iface_key(ifname: str, key: str, family: str = "ipv4") -> str:
    """The sysctl key of a per-interface setting, e.g. net.ipv4.conf.cove0.route_localnet.

    A dot inside the interface name is written '/', as sysctl(8) does.
    """
    return f"net.{family}.conf.{ifname.replace('.', '/')}.{key}"
