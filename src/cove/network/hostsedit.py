"""Per-network edits of a container's /etc/hosts (pure).

Connecting a container to a network adds one ``<ip>\\t<hostname>`` line; disconnecting
removes exactly the line for that address. Every other line (the user's ``--add-host``
entries, links, edits made inside the container) is kept as it is — unlike Docker's
rebuild (moby#34044).
"""

from __future__ import annotations


def add_entry(text: str, ip: str, names: str) -> str:
    """``text`` with ``<ip>\\t<names>`` appended (unless that exact entry is there)."""
    line = f"{ip}\t{names}"
    lines = text.splitlines()
    if any(_same(existing, ip, names) for existing in lines):
        return text
    return "".join(x + "\n" for x in [*lines, line])


def remove_entry(text: str, ip: str, names: str) -> str:
    """``text`` without the ``<ip> <names>`` entry; everything else unchanged."""
    lines = text.splitlines()
    kept = [x for x in lines if not _same(x, ip, names)]
    if len(kept) == len(lines):
        return text
    return "".join(x + "\n" for x in kept)


def _same(line: str, ip: str, names: str) -> bool:
    parts = line.split()
    return bool(parts) and parts[0] == ip and parts[1:] == names.split()
