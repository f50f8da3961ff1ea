"""Docker's table output: tabwriter layout (minwidth 10, padding 3) and cell formatting."""

from __future__ import annotations

import time

from cove.humanize import human_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def table(header: list[str], rows: list[list[str]]) -> str:
    """Align like Go's tabwriter(minwidth=10, tabwidth=1, padding=3); last column ragged."""
    lines = [header, *rows]
    widths = [max(10, max(len(r[i]) for r in lines) + 3) for i in range(len(header) - 1)]
    out = []
    for r in lines:
        cells = [r[i].ljust(widths[i]) for i in range(len(header) - 1)] + [r[-1]]
        out.append("".join(cells))
    return "\n".join(out) + "\n"


def ellipsis(s: str, width: int) -> str:
    return s if len(s) <= width else s[:width - 1] + "…"


def go_quote(s: str) -> str:
    """strconv.Quote for the common (printable) case."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def human_size(size: float, precision: int = 3) -> str:
    """go-units HumanSizeWithPrecision (decimal units)."""
    units = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{units[i]}"


def ago(unix: float, now: float | None = None) -> str:
    now = time.time() if now is None else now
    return human_duration(now - unix) + " ago"


def ports(entries: list[dict[str, Any]]) -> str:
    from cove.cli.portspec import displayable_ports
    return displayable_ports(entries)


def ps_rows(containers: list[dict[str, Any]], trunc: bool = True,
            now: float | None = None) -> str:
    rows = []
    for c in containers:
        cmd = c.get("Command", "")
        if trunc:
            cmd = ellipsis(cmd, 20)
        names = [n.lstrip("/") for n in c.get("Names") or [] if "/" not in n.lstrip("/")]
        rows.append([c["Id"][:12] if trunc else c["Id"], c.get("Image", ""), go_quote(cmd),
                     ago(c.get("Created", 0), now), c.get("Status", ""),
                     ports(c.get("Ports") or []), ",".join(names)])
    return table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
                 rows)


def image_rows(images: list[dict[str, Any]], trunc: bool = True,
               now: float | None = None) -> str:
    rows = []
    for img in images:
        iid = img["Id"].removeprefix("sha256:")[:12] if trunc else img["Id"]
        for rt in img.get("RepoTags") or ["<none>:<none>"]:
            repo, _, tag = rt.rpartition(":")
            rows.append([repo, tag, iid, ago(img.get("Created", 0), now),
                         human_size(img.get("Size", 0))])
    return table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows)


def network_rows(nets: list[dict[str, Any]], trunc: bool = True) -> str:
    rows = [[n["Id"][:12] if trunc else n["Id"], n["Name"], n["Driver"], n["Scope"]]
            for n in sorted(nets, key=lambda n: n["Name"])]
    return table(["NETWORK ID", "NAME", "DRIVER", "SCOPE"], rows)
