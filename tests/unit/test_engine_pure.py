"""Pure parts of the engine: names, signals, env merging, json-file log selection."""

from __future__ import annotations

import asyncio
import json

import pytest

from cove.engine import logs
from cove.engine.engine import Undo, _merge_env, signal_number
from cove.engine.names import random_name, validate_name
from cove.errors import InvalidParameter


def test_validate_name():
    assert validate_name("/web-1") == "web-1"
    assert validate_name("a.b_c") == "a.b_c"
    for bad in ("", "a", "-x", "x y", "é1"):
        with pytest.raises(InvalidParameter, match="only \\[a-zA-Z0-9\\]"):
            validate_name(bad)


def test_random_name_avoids_taken():
    taken = {random_name(set()) for _ in range(50)}
    name = random_name(taken)
    assert name not in taken and "_" in name


@pytest.mark.parametrize("given,num", [("KILL", 9), ("SIGTERM", 15), ("9", 9), (2, 2),
                                       ("hup", 1)])
def test_signal_number(given, num):
    assert signal_number(given) == num


@pytest.mark.parametrize("bad", ["NOPE", "0", 99, "SIGFOO"])
def test_signal_number_rejects(bad):
    with pytest.raises(InvalidParameter, match="Invalid signal"):
        signal_number(bad)


def test_merge_env_later_wins_and_keeps_order():
    assert _merge_env(["PATH=/bin", "A=1"], ["A=2", "B=3"], ["PATH=/x"]) == [
        "PATH=/x", "A=2", "B=3"]


def test_undo_runs_in_reverse_and_past_errors():
    seen = []
    u = Undo()
    u.push(lambda: seen.append(1))
    u.push(lambda: 1 / 0)
    u.push(lambda: seen.append(3))
    u.rollback()
    assert seen == [3, 1]


def _line(text, stream="stdout", t="2026-11-28T13:00:00.000000001Z"):
    return json.dumps({"log": text, "stream": stream, "time": t})


def test_select_filters_streams_tail_and_time():
    lines = [_line("a\n"), _line("b\n", "stderr"), _line("c\n", t="2026-11-28T13:00:05Z")]
    assert logs.select(lines, True, True, "all", 0, 0, False) == [
        (1, b"a\n"), (2, b"b\n"), (1, b"c\n")]
    assert logs.select(lines, True, False, "all", 0, 0, False) == [(1, b"a\n"), (1, b"c\n")]
    assert logs.select(lines, True, True, "1", 0, 0, False) == [(1, b"c\n")]
    assert logs.select(lines, True, True, "0", 0, 0, False) == []
    since = logs.parse_time("2026-11-28T13:00:01Z")
    assert logs.select(lines, True, True, "all", since, 0, False) == [(1, b"c\n")]
    assert logs.select(lines[:1], True, True, "all", 0, 0, True) == [
        (1, b"2026-11-28T13:00:00.000000001Z a\n")]


def test_follow_reads_appended_lines_until_stopped(tmp_path):
    path = tmp_path / "log"
    path.write_text(_line("old\n") + "\n")
    offset = path.stat().st_size
    state = {"running": True}

    async def go():
        got = []

        async def writer():
            await asyncio.sleep(0.05)
            with open(path, "a") as f:
                f.write(_line("new\n") + "\n")
            await asyncio.sleep(0.1)
            state["running"] = False

        task = asyncio.ensure_future(writer())
        async for rec in logs.follow(logs.open_log(str(path)), offset, True, True, False,
                                     lambda: state["running"], poll=0.01):
            got.append(rec)
        await task
        return got

    assert asyncio.run(go()) == [(1, b"new\n")]
