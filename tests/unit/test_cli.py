"""cove CLI pure parts: flags → request bodies, tables, the template subset, demux."""

from __future__ import annotations

import io
import struct

import pytest

from cove.cli import tables, template
from cove.cli.client import CLIError, demux
from cove.cli.containers import RUN_FLAGS, create_body
from cove.cli.flags import parse


def _run_body(*argv: str):
    opts, pos = parse(list(argv), RUN_FLAGS, interspersed=False, cmd="run")
    return opts, *create_body(opts, pos)


def test_run_flags_to_create_body():
    opts, body, name = _run_body(
        "-d", "--rm", "--name", "web", "-e", "A=1", "--env=B=2", "-eC=3", "-h", "box",
        "--net", "mynet", "-it", "--runtime", "runc", "--entrypoint", "/bin/sh", "-w", "/tmp",
        "-u", "1000:1000", "--label", "k=v", "-p", "127.0.0.1:8080:80/udp", "-p", "9000",
        "busybox", "-c", "echo hi", "-d")
    assert opts["detach"] and name == "web"
    assert body["Image"] == "busybox" and body["Cmd"] == ["-c", "echo hi", "-d"]
    assert body["Env"] == ["A=1", "B=2", "C=3"] and body["Hostname"] == "box"
    assert body["Tty"] is True and body["OpenStdin"] is True
    assert body["Entrypoint"] == ["/bin/sh"] and body["WorkingDir"] == "/tmp"
    assert body["User"] == "1000:1000" and body["Labels"] == {"k": "v"}
    hc = body["HostConfig"]
    assert hc["AutoRemove"] is True and hc["NetworkMode"] == "mynet" and hc["Runtime"] == "runc"
    assert hc["PortBindings"] == {"80/udp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                                  "9000/tcp": [{"HostIp": "", "HostPort": ""}]}
    assert body["ExposedPorts"] == {"80/udp": {}, "9000/tcp": {}}
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"mynet": {}}}


def test_run_defaults():
    opts, body, name = _run_body("busybox")
    assert name is None and body["Cmd"] is None and body["Entrypoint"] is None
    assert body["HostConfig"]["NetworkMode"] == "default"
    assert body["HostConfig"]["AutoRemove"] is False and "ExposedPorts" not in body
    assert body["AttachStdout"] is True


def test_flag_errors_exit_125():
    with pytest.raises(CLIError) as e:
        _run_body("--bogus", "busybox")
    assert e.value.code == 125 and "unknown flag: --bogus" in e.value.message
    with pytest.raises(CLIError):
        _run_body("--name")
    with pytest.raises(CLIError) as e:
        _run_body("-p", "80/sctpx", "busybox")
    assert e.value.message == "invalid proto: sctpx"
    with pytest.raises(CLIError):
        _run_body()


def test_interspersed_flags_for_other_verbs():
    from cove.cli.flags import Flag
    opts, pos = parse(["a", "-f", "b", "--time=3"],
                      [Flag(("-f", "--force"), "force"), Flag(("--time",), "time", "int")])
    assert opts == {"force": True, "time": 3} and pos == ["a", "b"]


def test_table_layout_like_tabwriter():
    out = tables.table(["A", "LONGER HEADER", "LAST"], [["x", "y", "z"], ["wide cell", "", ""]])
    assert out.splitlines() == [
        "A           LONGER HEADER   LAST",
        "x           y               z",
        "wide cell                   ",
    ]


def test_ps_rows():
    now = 1_000_000.0
    c = {"Id": "f" * 64, "Names": ["/web"], "Image": "busybox",
         "Command": "sh -c 'sleep 1000; echo done'", "Created": int(now - 3),
         "Status": "Up 3 seconds",
         "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                   {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                   {"PrivatePort": 9000, "Type": "tcp"}]}
    lines = tables.ps_rows([c], now=now).splitlines()
    assert lines[0].startswith("CONTAINER ID   IMAGE     COMMAND ")
    row = lines[1]
    assert row.startswith("ffffffffffff   busybox   \"sh -c 'sleep 1000; …\"   3 seconds ago   ")
    # Docker's DisplayablePorts: unpublished (and same-number) groups first, then mappings
    assert "9000/tcp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp   web" in row
    full = tables.ps_rows([c], trunc=False, now=now)
    assert "f" * 64 in full and "echo done'\"" in full


def test_human_size_and_images():
    assert tables.human_size(4_500_000) == "4.5MB"
    assert tables.human_size(1_234_567) == "1.23MB"
    assert tables.human_size(999) == "999B"
    rows = tables.image_rows([{"Id": "sha256:" + "ab" * 32, "RepoTags": ["busybox:latest"],
                               "Created": 0, "Size": 1_000}], now=7200)
    assert rows.splitlines() == [
        "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE",
        "busybox      latest    abababababab   2 hours ago   1kB"]


def test_template_subset():
    data = {"Name": "/web", "State": {"Pid": 42, "Running": True},
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"k": "v"}, "Entrypoint": None},
            "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"},
                                             "web": {"IPAddress": "172.18.0.2"}}}}
    r = template.render
    assert r("{{.Name}} {{.State.Pid}} {{.State.Running}}", data) == "/web 42 true"
    assert r("{{json .Config.Env}}", data) == '["A=1","B=2"]'
    assert r("{{json .Config}}", data) == (
        '{"Env":["A=1","B=2"],"Labels":{"k":"v"},"Entrypoint":null}')
    assert r("{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", data) == (
        "172.17.0.2 172.18.0.2 ")
    assert r('{{index .Config.Labels "k"}}', data) == "v"
    assert r("{{.Config.Env}} {{.Config.Labels}} {{.Config.Entrypoint}}", data) == (
        "[A=1 B=2] map[k:v] <nil>")
    assert r("{{.Nope}}", data) == "<no value>"
    assert r('{{join .Config.Env ","}}|{{len .Config.Env}}', data) == "A=1,B=2|2"
    assert r("{{if .State.Running}}up{{else}}down{{end}}", data) == "up"
    assert r("{{range .Config.Entrypoint}}x{{else}}none{{end}}", data) == "none"
    assert r("a {{- .Name -}} b", data) == "a/webb"
    with pytest.raises(CLIError):
        r("{{range .X}}", data)
    with pytest.raises(CLIError):
        r("{{bogus .X}}", data)


def test_demux_splits_streams():
    def f(stream, data):
        return struct.pack(">BxxxI", stream, len(data)) + data
    raw = io.BytesIO(f(1, b"out1\n") + f(2, b"err\n") + f(1, b"") + f(1, b"out2\n")
                     + f(3, b"daemon error\n"))
    out, err = io.BytesIO(), io.BytesIO()
    demux(raw, out, err)
    assert out.getvalue() == b"out1\nout2\n"
    assert err.getvalue() == b"err\ndaemon error\n"
    truncated = io.BytesIO(f(1, b"abcdef")[:10])
    out = io.BytesIO()
    demux(truncated, out, io.BytesIO())
    assert out.getvalue() == b"ab"
