"""Issue 5: `cove save` / `cove load` in docker-save format, multi-layer archives with
whiteouts, the image config applied at run, `cove image rm` / `image inspect`."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

import pytest

pytestmark = pytest.mark.e2e


def _members(path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def _layer(files: dict[str, bytes | None]) -> bytes:
    """A layer tar: name -> content (None: a directory)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o644
                tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_save_load_round_trip(fresh_daemon, tmp_path):
    d = fresh_daemon
    first, second = tmp_path / "a.tar", tmp_path / "b.tar"
    d.cli("save", "-o", str(first), "busybox")
    files = _members(first)
    manifest = json.loads(files["manifest.json"])
    assert manifest[0]["RepoTags"] == ["busybox:latest"]
    config = files[manifest[0]["Config"]]
    layer = files[manifest[0]["Layers"][0]]
    assert json.loads(config)["rootfs"]["diff_ids"] == [
        "sha256:" + hashlib.sha256(layer).hexdigest()]
    cid = d.cli("create", "busybox").stdout.strip()
    r = d.cli("rmi", "busybox", check=False)
    assert r.returncode == 1 and "is using its referenced image" in r.stderr
    d.cli("rm", cid)
    out = d.cli("image", "rm", "busybox").stdout
    assert "Untagged: busybox:latest" in out and "Deleted: sha256:" in out
    assert d.cli("images", "-q").stdout == ""
    out = d.cli("load", "-i", str(first)).stdout
    assert out == "Loaded image: busybox:latest\n"
    image_id = json.loads(d.cli("image", "inspect", "busybox").stdout)[0]["Id"]
    assert image_id == "sha256:" + hashlib.sha256(config).hexdigest()
    assert d.cli("run", "--rm", "busybox", "cat", "/www/index.html").stdout
    d.cli("save", "-o", str(second), "busybox")
    assert _members(second) == files  # save -> load -> save is stable


def test_multi_layer_archive_with_whiteouts_and_config(fresh_daemon, tmp_path):
    d = fresh_daemon
    base = tmp_path / "base.tar"
    d.cli("save", "-o", str(base), "busybox")
    files = _members(base)
    base_layer = files[json.loads(files["manifest.json"])[0]["Layers"][0]]
    l1 = _layer({"etc/a": b"A\n", "etc/b": b"B\n", "dir": None, "dir/x": b"x\n",
                 "dir/y": b"y\n", "app": None, "app/keep": b"keep\n"})
    l2 = _layer({"etc/.wh.a": b"", "dir": None, "dir/.wh..wh..opq": b"", "dir/z": b"z\n",
                 "new": b"new\n", "app/.wh.gone": b""})
    layers = [base_layer, l1, l2]
    diff_ids = ["sha256:" + hashlib.sha256(x).hexdigest() for x in layers]
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {
        "Env": ["PATH=/bin", "GREETING=hello"], "Cmd": ["sh", "-c", "echo $GREETING; pwd"],
        "WorkingDir": "/app", "ExposedPorts": {"80/tcp": {}}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cname = hashlib.sha256(cfg).hexdigest() + ".json"
    archive = tmp_path / "multi.tar"
    with tarfile.open(archive, "w") as tar:
        entries = {cname: cfg, "manifest.json": json.dumps([{
            "Config": cname, "RepoTags": ["multi:v1"],
            "Layers": [f"l{i}/layer.tar" for i in range(3)]}]).encode()}
        entries.update({f"l{i}/layer.tar": data for i, data in enumerate(layers)})
        for name, data in entries.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    assert d.cli("load", "-i", str(archive)).stdout == "Loaded image: multi:v1\n"
    assert d.cli("run", "--rm", "multi:v1").stdout == "hello\n/app\n"
    out = d.cli("run", "--rm", "multi:v1", "sh", "-c",
                "ls /etc/a 2>&1; cat /etc/b; ls /dir; cat /new; ls /app").stdout
    assert out.splitlines() == ["ls: /etc/a: No such file or directory", "B", "z", "new",
                                "keep"]
    inspect = json.loads(d.cli("image", "inspect", "multi:v1").stdout)[0]
    assert inspect["Id"] == "sha256:" + hashlib.sha256(cfg).hexdigest()
    # a bad archive is refused and leaves nothing
    layers_before = d.cli("images", "-q").stdout
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        data = json.dumps([{"Config": cname, "Layers": ["l0/layer.tar"]}]).encode()
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))
    r = d.cli("load", "-i", str(bad), check=False)
    assert r.returncode != 0 and "invalid docker archive" in r.stderr
    assert d.cli("images", "-q").stdout == layers_before
