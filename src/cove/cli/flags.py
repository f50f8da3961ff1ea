"""Docker-style flag parsing without argparse (fast to import, docker's semantics).

Supports ``--name v``, ``--name=v``, ``-e v``, ``-eK=V``, combined booleans ``-dit``,
repeatable flags, ``--`` and non-interspersed verbs (``run IMAGE CMD -x`` keeps ``-x``
for the command).
"""

from __future__ import annotations

from cove.cli.client import CLIError


class Flag:
    """One flag: its spellings ("-e", "--env"), destination, kind (bool|str|int|list)."""

    __slots__ = ("names", "dest", "kind", "default")

    def __init__(self, names: tuple[str, ...], dest: str, kind: str = "bool",
                 default: object = None) -> None:
        self.names, self.dest, self.kind, self.default = names, dest, kind, default


def _defaults(flags: list[Flag]) -> dict[str, object]:
    out: dict[str, object] = {}
    for f in flags:
        if f.kind == "list":
            out[f.dest] = list(f.default or [])
        elif f.kind == "bool":
            out[f.dest] = bool(f.default)
        else:
            out[f.dest] = f.default
    return out


def _set(opts: dict, f: Flag, value: str | None, name: str) -> None:
    if f.kind == "bool":
        if value is None:
            opts[f.dest] = True
        elif value.lower() in ("true", "1", "false", "0"):
            opts[f.dest] = value.lower() in ("true", "1")
        else:
            raise CLIError(f'invalid argument "{value}" for "{name}" flag: '
                           "strconv.ParseBool: parsing: invalid syntax", 125)
        return
    assert value is not None
    if f.kind == "int":
        try:
            opts[f.dest] = int(value)
        except ValueError as exc:
            raise CLIError(f'invalid argument "{value}" for "{name}" flag: '
                           "strconv.ParseInt: parsing: invalid syntax", 125) from exc
    elif f.kind == "list":
        opts[f.dest].append(value)
    else:
        opts[f.dest] = value


def parse(args: list[str], flags: list[Flag], interspersed: bool = True,
          cmd: str = "") -> tuple[dict[str, object], list[str]]:
    """Return (options, positionals). With ``interspersed=False`` parsing stops at the
    first positional (everything after it is positional)."""
    by_name = {n: f for f in flags for n in f.names}
    opts = _defaults(flags)
    pos: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            pos.extend(args[i:])
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, value = a.partition("=")
            f = by_name.get(name)
            if f is None:
                raise CLIError(f"unknown flag: {name}\nSee 'cove {cmd} --help'.", 125)
            if f.kind != "bool" and not eq:
                if i >= len(args):
                    raise CLIError(f"flag needs an argument: {name}", 125)
                value = args[i]
                i += 1
            _set(opts, f, value if eq or f.kind != "bool" else None, name)
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                name = "-" + a[j]
                f = by_name.get(name)
                if f is None:
                    raise CLIError(f"unknown shorthand flag: '{a[j]}' in {a}\n"
                                   f"See 'cove {cmd} --help'.", 125)
                if f.kind == "bool":
                    _set(opts, f, None, name)
                    j += 1
                    continue
                value = a[j + 1:].removeprefix("=")
                if not value:
                    if i >= len(args):
                        raise CLIError(f"flag needs an argument: '{a[j]}' in {a}", 125)
                    value = args[i]
                    i += 1
                _set(opts, f, value, name)
                break
        else:
            pos.append(a)
            if not interspersed:
                pos.extend(args[i:])
                break
    return opts, pos
