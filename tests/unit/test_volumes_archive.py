"""Issue 6 pure logic: named volumes, the rootfs diff and `docker cp` path resolution."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from cove.engine import archive, containerops
from cove.engine.volumes import (
    VolumeStore,
    check_binds,
    ensure_volumes,
    resolve_binds,
    volume_names_in_binds,
)
from cove.errors import Conflict, InvalidParameter, NotFound
from cove.store.sqlite import Store


@pytest.fixture
def vols(tmp_path):
    store = Store(tmp_path / "cove.db")
    yield VolumeStore(str(tmp_path), store)
    store.close()


def test_volume_create_is_idempotent_and_lists_inspects_removes(vols, tmp_path):
    a = vols.create("data", labels={"k": "v"})
    assert a["Mountpoint"] == str(tmp_path / "volumes" / "data" / "_data")
    assert os.path.isdir(a["Mountpoint"])
    assert vols.create("data") == a                     # same name: the same volume
    assert [v["Name"] for v in vols.list()] == ["data"]
    assert vols.get("data")["Labels"] == {"k": "v"}
    with pytest.raises(Conflict, match="volume is in use"):
        vols.remove("data", ["c1"])
    vols.remove("data", [])
    assert not os.path.exists(tmp_path / "volumes" / "data")
    with pytest.raises(NotFound, match="no such volume"):
        vols.get("data")
    with pytest.raises(NotFound):
        vols.remove("data", [])
    vols.remove("data", [], force=True)                 # gone + force: not an error


def test_volume_errors_and_anonymous_names(vols):
    with pytest.raises(NotFound, match="plugin"):
        vols.create("x", driver="invalid.driver")
    with pytest.raises(InvalidParameter, match="invalid characters"):
        vols.create("bad/name")
    anon = vols.create()
    assert len(anon["Name"]) == 64


def test_prune_keeps_used_and_unmatched(vols):
    for name, labels in (("va", {}), ("vb", {"keep": "1"}), ("vc", {})):
        vols.create(name, labels=labels)
    deleted, _ = vols.prune(used={"vc"}, labels=[])
    assert deleted == ["va", "vb"]
    vols.create("vd", labels={"x": "1"})
    vols.create("ve")
    assert vols.prune(set(), ["x=1"])[0] == ["vd"]


def test_binds_resolution(vols):
    binds = ["data:/srv", "/host:/h:ro"]
    assert volume_names_in_binds(binds) == ["data"]
    assert check_binds(vols, binds) == ["/:/srv", "/host:/h:ro"]
    with pytest.raises(NotFound):
        resolve_binds(vols, binds, create=False)
    made, anon = ensure_volumes(vols, binds, ["/srv", "/cache"])
    assert made[0] == "data" and len(made) == 2            # /srv is a bind already
    assert anon == [f"{made[1]}:/cache"]
    out = resolve_binds(vols, [*binds, *anon], create=False)
    assert out[0] == f"{vols.get('data')['Mountpoint']}:/srv"
    assert out[2] == f"{vols.get(made[1])['Mountpoint']}:/cache"


def _tree(base, files: dict[str, str]) -> str:
    for rel, text in files.items():
        p = os.path.join(base, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    return str(base)


def _layout(tmp_path) -> archive.Layout:
    lower = _tree(tmp_path / "lower", {"etc/passwd": "root\n", "etc/group": "g\n",
                                       "bin/sh": "x"})
    upper = _tree(tmp_path / "upper", {"etc/motd": "hi\n", "etc/passwd": "root\nme\n"})
    vol = _tree(tmp_path / "vol", {"data.txt": "payload"})
    return archive.Layout(upper=upper, lowers=[lower],
                          mounts=[("/srv", vol, False), ("/ro", vol, True)])


def test_archive_resolves_mounts_then_upper_then_lower(tmp_path):
    lay = _layout(tmp_path)
    assert archive.sources(lay, "/srv/data.txt") == [str(tmp_path / "vol" / "data.txt")]
    assert archive.sources(lay, "//etc/passwd") == [str(tmp_path / "upper/etc/passwd")]
    assert archive.sources(lay, "/bin/sh") == [str(tmp_path / "lower/bin/sh")]
    st = archive.stat_path(lay, "/srv/data.txt")
    assert (st["name"], st["size"]) == ("data.txt", 7)
    assert archive.stat_path(lay, "/etc")["mode"] & archive.GO_DIR
    with pytest.raises(NotFound):
        archive.stat_path(lay, "/nope")


def test_archive_get_merges_directories(tmp_path):
    lay = _layout(tmp_path)
    with tarfile.open(fileobj=io.BytesIO(archive.get_tar(lay, "/etc"))) as tar:
        names = sorted(tar.getnames())
        assert names == ["etc", "etc/group", "etc/motd", "etc/passwd"]
        assert tar.extractfile("etc/passwd").read() == b"root\nme\n"   # upper wins


def test_archive_put_writes_to_the_mount_or_the_upper_dir(tmp_path):
    lay = _layout(tmp_path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("new.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    archive.put_tar(lay, "/srv", buf.getvalue())
    assert (tmp_path / "vol" / "new.txt").read_text() == "abc"
    archive.put_tar(lay, "/bin", buf.getvalue())
    assert (tmp_path / "upper" / "bin" / "new.txt").read_text() == "abc"
    with pytest.raises(InvalidParameter, match="read-only"):
        archive.put_tar(lay, "/ro", buf.getvalue())
    with pytest.raises(InvalidParameter, match="not a directory"):
        archive.put_tar(lay, "/bin/sh", buf.getvalue())


def test_changes_lists_added_and_changed_not_hidden_files(tmp_path):
    lower = _tree(tmp_path / "lower", {"etc/passwd": "root\n", "tmp/.keep": ""})
    upper = _tree(tmp_path / "upper", {"test": "", "etc/passwd": "x", "etc/hosts": "",
                                       "etc/hostname": "", "proc/x": ""})

    class Eng:
        def get_container(self, ref):
            return type("C", (), {"id": "c1", "image_id": "i"})()

        def container_dir(self, cid):
            from pathlib import Path
            d = Path(tmp_path / "c")
            (d / "fs").mkdir(parents=True, exist_ok=True)
            if not (d / "fs" / "upper").exists():
                os.symlink(upper, d / "fs" / "upper")
            return d

        images = type("I", (), {"get": staticmethod(
            lambda ref: type("Img", (), {"layers": [lower]})())})()

    out = containerops.changes(Eng(), "c1")
    assert out == [{"Path": "/etc", "Kind": 0}, {"Path": "/etc/passwd", "Kind": 0},
                   {"Path": "/test", "Kind": 1}]
