"""Detach keys: the key sequence that ends an attach without stopping the process.

Docker's format is a comma-separated list of ``ctrl-<x>`` (x in a-z, @, [, \\, ], ^, _)
or single characters; the default is ``ctrl-p,ctrl-q``. :class:`EscapeProxy` filters
the client's input like Docker's: bytes that could start the sequence are held back
until it is complete (detach) or broken (the held bytes are passed on).
"""

from __future__ import annotations

from cove.errors import InvalidParameter

DEFAULT = "ctrl-p,ctrl-q"
_CTRL_EXTRA = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse(keys: str) -> bytes:
    """``"ctrl-p,ctrl-q"`` → ``b"\\x10\\x11"``; "" gives the default."""
    out = bytearray()
    for part in (keys or DEFAULT).split(","):
        key = part.strip().lower() if part.strip().lower().startswith("ctrl-") else part
        if key.startswith("ctrl-") and len(key) == 6:
            ch = key[5]
            if "a" <= ch <= "z":
                out.append(ord(ch) - ord("a") + 1)
                continue
            if ch in _CTRL_EXTRA:
                out.append(_CTRL_EXTRA[ch])
                continue
        elif len(key) == 1 and ord(key) < 128:
            out.append(ord(key))
            continue
        raise InvalidParameter(f"Invalid escape keys ({keys}) provided")
    return bytes(out)


class EscapeProxy:
    """Feed input chunks; get back what to pass on and whether the sequence was typed."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        out = bytearray()
        for b in data:
            cand = self.held + bytes([b])
            if self.keys.startswith(cand):
                if cand == self.keys:
                    return bytes(out), True
                self.held = cand
                continue
            out += self.held
            self.held = b""
            if self.keys.startswith(bytes([b])):
                self.held = bytes([b])
            else:
                out.append(b)
        return bytes(out), False
