"""Issue 6, pure logic: detach-key parsing and filtering, tty log flushing."""

from __future__ import annotations

import json
import os

import pytest

from cove.api.detachkeys import EscapeProxy, parse
from cove.errors import InvalidParameter
from cove.runtime.native.jsonlog import JsonLogWriter, utf8_cut


def test_parse_docker_key_specs():
    assert parse("") == b"\x10\x11"                      # ctrl-p,ctrl-q
    assert parse("ctrl-x") == b"\x18"
    assert parse("ctrl-a,z,ctrl-@,ctrl-[") == b"\x01z\x00\x1b"
    assert parse("CTRL-P") == b"\x10"
    for bad in ("ctrl-", "ctrl-!", "ab", "ctrl-pp", "é"):
        with pytest.raises(InvalidParameter, match="Invalid escape keys"):
            parse(bad)


def test_escape_proxy_holds_a_prefix_and_releases_it_when_broken():
    p = EscapeProxy(b"\x10\x11")
    assert p.feed(b"ab\x10") == (b"ab", False)           # ctrl-p held back
    assert p.feed(b"x") == (b"\x10x", False)             # not followed by ctrl-q: passed on
    assert p.feed(b"\x10\x10") == (b"\x10", False)       # a second ctrl-p restarts the match
    assert p.feed(b"\x11tail") == (b"", True)            # detach; the rest is dropped
    assert EscapeProxy(b"\x18").feed(b"hi\x18more") == (b"hi", True)


def test_utf8_cut_never_splits_a_character():
    euro = "€".encode()                                  # 3 bytes
    assert utf8_cut(b"ab") == 2
    assert utf8_cut(b"a" + euro) == 4
    assert utf8_cut(b"a" + euro[:2]) == 1
    assert utf8_cut(b"a" + euro[:1]) == 1
    assert utf8_cut("é".encode()) == 2


def _entries(path: str) -> list[str]:
    with open(path) as f:
        return [json.loads(line)["log"] for line in f]


def test_tty_log_writes_partial_lines_at_once(tmp_path):
    path = str(tmp_path / "log.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    tty = JsonLogWriter(fd, flush_partial=True)
    tty.feed("stdout", b"/ # ")                           # a prompt: no newline
    assert _entries(path) == ["/ # "]
    tty.feed("stdout", b"ls\r\nbin" + "€".encode()[:1])
    assert _entries(path) == ["/ # ", "ls\r\n", "bin"]    # the split character waits
    tty.feed("stdout", "€".encode()[1:])
    assert _entries(path)[-1] == "€"
    plain = JsonLogWriter(fd)
    plain.feed("stdout", b"no newline")
    assert len(_entries(path)) == 4                        # held until newline or EOF
    os.close(fd)
