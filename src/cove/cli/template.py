"""A tiny subset of Go's text/template, enough for ``--format``.

Supported: ``{{.A.B}}``, ``{{.}}``, ``{{json .X}}``, ``{{index .X "k"}}``,
``{{join .X ","}}``, ``{{upper .X}}``, ``{{lower .X}}``, ``{{len .X}}``,
``{{range .X}}…{{else}}…{{end}}``, ``{{if .X}}…{{else}}…{{end}}``, ``{{- … -}}`` trimming.
Values print as Go does: maps as ``map[k:v]``, lists as ``[a b]``, nil as ``<nil>``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cove.cli.client import CLIError

_ACTION = re.compile(r"\{\{(-\s)?\s*(.*?)\s*(\s-)?\}\}", re.S)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\S+')
_MISSING = object()


def _go_str(v: Any) -> str:
    if v is _MISSING:
        return "<no value>"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go_str(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(_go_str(x) for x in v) + "]"
    return str(v)


def _parse(text: str) -> list:
    """→ nested nodes: str | ("expr", e) | ("range"/"if", e, body, else_body)."""
    pieces: list = []
    pos = 0
    for m in _ACTION.finditer(text):
        lit = text[pos:m.start()]
        if m.group(1):
            lit = lit.rstrip()
        pieces.append(lit)
        pieces.append(("action", m.group(2)))
        pos = m.end()
        if m.group(3):
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
    pieces.append(text[pos:])

    root: list = []
    stack: list[tuple[list, Any]] = [(root, None)]
    for p in pieces:
        body = stack[-1][0]
        if isinstance(p, str):
            if p:
                body.append(p)
            continue
        action = p[1]
        word = action.split(None, 1)[0] if action else ""
        if word in ("range", "if"):
            node = [word, action[len(word):].strip(), [], None]
            body.append(node)
            stack.append((node[2], node))
        elif word == "else":
            node = stack[-1][1]
            if node is None:
                raise CLIError("template: unexpected {{else}}")
            node[3] = []
            stack[-1] = (node[3], node)
        elif word == "end":
            if len(stack) == 1:
                raise CLIError("template: unexpected {{end}}")
            stack.pop()
        else:
            body.append(("expr", action))
    if len(stack) != 1:
        raise CLIError("template: unexpected EOF (missing {{end}})")
    return root


def _field(dot: Any, path: str) -> Any:
    v = dot
    for part in [p for p in path.split(".") if p]:
        if isinstance(v, dict):
            v = v.get(part, _MISSING)
        else:
            raise CLIError(f"template: can't evaluate field {part} in type {type(v).__name__}")
    return v


def _term(tok: str, dot: Any) -> Any:
    if tok.startswith("."):
        return _field(dot, tok)
    if tok.startswith('"'):
        return json.loads(tok)
    if re.fullmatch(r"-?\d+", tok):
        return int(tok)
    if tok in ("true", "false"):
        return tok == "true"
    raise CLIError(f'template: function "{tok}" not defined')


def _eval(expr: str, dot: Any) -> Any:
    toks = _TOKEN.findall(expr)
    if not toks:
        raise CLIError("template: missing value for command")
    fn, args = toks[0], [_term(t, dot) for t in toks[1:]]
    if fn == "json":
        v = args[0]
        return json.dumps(None if v is _MISSING else v, separators=(",", ":"))
    if fn == "index":
        v = args[0]
        for k in args[1:]:
            v = v.get(k, _MISSING) if isinstance(v, dict) else v[k]
        return v
    if fn == "join":
        return args[1].join(_go_str(x) for x in (args[0] or []))
    if fn in ("upper", "lower"):
        return getattr(_go_str(args[0]), fn)()
    if fn == "len":
        return len(args[0] or [])
    if fn == "println":
        return " ".join(_go_str(a) for a in args) + "\n"
    if len(toks) > 1:
        raise CLIError(f'template: function "{fn}" not defined')
    return _term(fn, dot)


def _truthy(v: Any) -> bool:
    return v is not _MISSING and bool(v)


def _render(nodes: list, dot: Any, out: list[str]) -> None:
    for n in nodes:
        if isinstance(n, str):
            out.append(n)
        elif isinstance(n, tuple):
            out.append(_go_str(_eval(n[1], dot)))
        elif n[0] == "if":
            branch = n[2] if _truthy(_eval(n[1], dot)) else (n[3] or [])
            _render(branch, dot, out)
        else:
            v = _eval(n[1], dot)
            items = [v[k] for k in sorted(v)] if isinstance(v, dict) else (
                list(v) if isinstance(v, list) else [])
            if not items and n[3]:
                _render(n[3], dot, out)
            for item in items:
                _render(n[2], item, out)


def render(template: str, data: Any) -> str:
    """Execute ``template`` against ``data`` (decoded JSON)."""
    out: list[str] = []
    _render(_parse(template), data, out)
    return "".join(out)
