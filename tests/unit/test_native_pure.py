"""Pure parts of the native runtime: json-file log, state files, PATH lookup, secure join,
input validation, the driver factory."""

from __future__ import annotations

import json
import os
import re

import pytest

from cove.errors import InvalidParameter, NotFound
from cove.runtime import get_driver
from cove.runtime.base import ContainerSpec, Mount
from cove.runtime.native import statefiles
from cove.runtime.native.jsonlog import MAX_LINE, JsonLogWriter, timestamp
from cove.runtime.native.process import ExecError, find_executable, make_env, resolve_user
from cove.runtime.native.rootfs import secure_join


def _lines(path) -> list[dict]:
    return [json.loads(line) for line in open(path, "rb").read().splitlines()]


def test_json_log_lines_partial_and_eof(tmp_path):
    path = tmp_path / "log.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    w = JsonLogWriter(fd)
    w.feed("stdout", b"hel")
    w.feed("stderr", b"oops\n")
    w.feed("stdout", b"lo\nwor")
    w.feed("stdout", b"ld\nlast")
    w.close_stream("stdout")
    w.close_stream("stderr")
    os.close(fd)
    got = [(e["stream"], e["log"]) for e in _lines(path)]
    assert got == [("stderr", "oops\n"), ("stdout", "hello\n"), ("stdout", "world\n"),
                   ("stdout", "last")]
    raw = open(path, "rb").read().splitlines()[0]
    assert raw.startswith(b'{"log":"oops\\n","stream":"stderr","time":"')
    for e in _lines(path):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", e["time"])


def test_json_log_long_line_is_cut(tmp_path):
    path = tmp_path / "log.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    w = JsonLogWriter(fd)
    w.feed("stdout", b"x" * (MAX_LINE + 10) + b"\n")
    os.close(fd)
    logs = [e["log"] for e in _lines(path)]
    assert logs == ["x" * MAX_LINE, "x" * 10 + "\n"]


def test_timestamp_format():
    assert timestamp(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"


def test_state_files_and_proc_identity(tmp_path):
    path = str(tmp_path / "init.json")
    statefiles.write_json(path, {"pid": 1})
    assert statefiles.read_json(path) == {"pid": 1}
    assert statefiles.read_json(str(tmp_path / "missing.json")) is None
    (tmp_path / "half.json").write_text('{"pid": ')
    assert statefiles.read_json(str(tmp_path / "half.json")) is None
    _, start = statefiles.proc_stat(os.getpid())
    assert statefiles.is_alive(os.getpid(), start)
    assert not statefiles.is_alive(os.getpid(), start + 1)  # a reused pid is not ours
    assert not statefiles.is_alive(0, 0)


def test_find_executable(tmp_path):
    exe = tmp_path / "tool"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    noexec = tmp_path / "data"
    noexec.write_text("x")
    noexec.chmod(0o644)
    assert find_executable("tool", f"/nonexistent:{tmp_path}") == str(exe)
    assert find_executable(str(exe), "") == str(exe)
    with pytest.raises(ExecError) as e:
        find_executable("nosuchcmd", str(tmp_path))
    assert e.value.code == 127
    assert e.value.message == 'exec: "nosuchcmd": executable file not found in $PATH'
    with pytest.raises(ExecError) as e:
        find_executable("/no/such", "")
    assert e.value.code == 127
    with pytest.raises(ExecError) as e:
        find_executable("data", str(tmp_path))
    assert e.value.code == 126


def test_resolve_user_and_env():
    assert resolve_user("") == (0, 0, "/root")
    assert resolve_user("0")[:2] == (0, 0)
    assert resolve_user("1234:5678")[:2] == (1234, 5678)
    with pytest.raises(ExecError):
        resolve_user("no-such-user-cove")
    env = make_env(["A=1", "PATH=/x", "junk"], "/root", "h1")
    assert env == {"A": "1", "PATH": "/x", "HOSTNAME": "h1", "HOME": "/root"}
    assert "PATH" in make_env([], "/")


def test_secure_join_keeps_symlinks_inside(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/elsewhere/hosts", root / "etc" / "hosts")
    os.symlink("../../../../outside", root / "etc" / "rel")
    os.symlink("/etc", root / "link")
    assert secure_join(str(root), "/etc/hosts") == str(root / "elsewhere" / "hosts")
    assert secure_join(str(root), "/etc/rel") == str(root / "outside")
    assert secure_join(str(root), "/link/resolv.conf") == str(root / "etc" / "resolv.conf")
    assert secure_join(str(root), "/") == str(root)


def _spec(tmp_path, **kw) -> ContainerSpec:
    layer = tmp_path / "layer"
    layer.mkdir(exist_ok=True)
    base = dict(id="abc123", args=["true"], env=[], lower_dirs=[str(layer)],
                state_dir=str(tmp_path / "c"), log_path=str(tmp_path / "c" / "log.json"))
    base.update(kw)
    return ContainerSpec(**base)


@pytest.mark.parametrize("bad", [
    {"id": "../x"}, {"args": []}, {"args": [""]}, {"lower_dirs": []},
    {"lower_dirs": ["/nonexistent-layer"]}, {"state_dir": "relative"},
    {"state_dir": "/tmp/a,b"}, {"log_path": ""}, {"netns_path": "/run/netns/nope-cove"},
    {"mounts": [Mount("/nonexistent-src", "/etc/hosts")]},
    {"mounts": [Mount("/etc/hostname", "relative")]},
])
def test_create_validates_first_and_changes_nothing(tmp_path, bad):
    drv = get_driver("native", str(tmp_path / "exec"))
    with pytest.raises(InvalidParameter):
        drv.create(_spec(tmp_path, **bad))
    assert sorted(os.listdir(tmp_path / "exec" / "native")) == ["execs"]
    assert not (tmp_path / "c").exists()
    drv.close()


def test_create_delete_without_running(tmp_path):
    drv = get_driver("native", str(tmp_path / "exec"))
    spec = _spec(tmp_path)
    drv.create(spec)
    for sub in ("upper", "work", "merged"):
        assert (tmp_path / "c" / sub).is_dir()
    st = drv.state("abc123")
    assert not st.running and st.exit_code is None
    drv.delete("abc123")
    drv.delete("abc123")  # gone is fine
    assert not (tmp_path / "exec" / "native" / "abc123").exists()
    assert not (tmp_path / "c" / "upper").exists()
    with pytest.raises(NotFound):
        drv.state("abc123")
    drv.close()


def test_get_driver():
    with pytest.raises(InvalidParameter):
        get_driver("nosuch", "/tmp")
