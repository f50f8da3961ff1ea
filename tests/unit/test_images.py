"""ImageStore: import, lookup by every kind of reference, tags, removal, safe extraction."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from cove.errors import Conflict, InvalidParameter, NotFound
from cove.images import ImageStore
from cove.images.reference import split_ref, validate_repo_tag
from cove.store import Store


def _tar(members: list[tuple[str, str, bytes | str]]) -> bytes:
    """Build a tarball from (kind, name, data-or-linkname) tuples."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for kind, name, data in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                assert isinstance(data, bytes)
                info.size = len(data)
                info.mode = 0o755
                tar.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "sym":
                info.type = tarfile.SYMTYPE
                info.linkname = str(data)
            elif kind == "hard":
                info.type = tarfile.LNKTYPE
                info.linkname = str(data)
            elif kind == "chr":
                info.type = tarfile.CHRTYPE
                info.devmajor, info.devminor = 1, 3
            tar.addfile(info)
    return buf.getvalue()


@pytest.fixture
def images(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    yield ImageStore(str(tmp_path), store)
    store.close()


ROOTFS = _tar([("dir", "./bin", b""), ("file", "./bin/sh", b"#!fake\n"),
               ("sym", "./bin/ls", "/bin/sh"), ("hard", "./bin/sh2", "./bin/sh"),
               ("chr", "./dev/null", b""), ("dir", "./tmp", b"")])


def test_import_extracts_and_records(images, tmp_path):
    img = images.import_tarball(io.BytesIO(ROOTFS), "busybox", "latest")
    assert img.id.startswith("sha256:") and len(img.id) == 71
    assert img.repo_tags == ["busybox:latest"]
    (layer,) = img.layers
    assert os.path.dirname(layer) == str(tmp_path / "images" / "layers")
    assert open(os.path.join(layer, "bin/sh"), "rb").read() == b"#!fake\n"
    assert os.readlink(os.path.join(layer, "bin/ls")) == "/bin/sh"  # symlinks kept
    assert os.stat(os.path.join(layer, "bin/sh2")).st_ino == os.stat(
        os.path.join(layer, "bin/sh")).st_ino
    assert not os.path.exists(os.path.join(layer, "dev/null"))  # devices skipped
    assert img.config["Cmd"] == ["sh"]
    assert images.store.get("image", img.id)["repo_tags"] == ["busybox:latest"]


def test_import_from_path_and_same_id(images, tmp_path):
    path = tmp_path / "rootfs.tar"
    path.write_bytes(ROOTFS)
    a = images.import_tarball(str(path), "busybox", "latest")
    b = images.import_tarball(io.BytesIO(ROOTFS), "other", "1.0")
    assert a.id == b.id
    assert sorted(images.get(a.id).repo_tags) == ["busybox:latest", "other:1.0"]
    assert len(images.list()) == 1


def test_get_by_every_reference(images):
    img = images.import_tarball(io.BytesIO(ROOTFS), "busybox", "latest")
    hexid = img.id[len("sha256:"):]
    for ref in ("busybox", "busybox:latest", "docker.io/library/busybox:latest", img.id,
                hexid, hexid[:12], "sha256:" + hexid[:10]):
        assert images.get(ref).id == img.id, ref
    for ref in ("busybox:1.0", "nginx", "ffffffffffff", "", "sha256:zz"):
        with pytest.raises(NotFound, match="No such image"):
            images.get(ref)


def test_tag_moves_to_newer_image(images):
    a = images.import_tarball(io.BytesIO(ROOTFS), "busybox", "latest")
    other = _tar([("file", "x", b"other")])
    b = images.import_tarball(io.BytesIO(other), "busybox", "latest")
    assert a.id != b.id
    assert images.get("busybox").id == b.id
    assert images.get(a.id).repo_tags == []


def test_remove_untags_then_deletes_layer(images):
    img = images.import_tarball(io.BytesIO(ROOTFS), "busybox", "latest")
    images.import_tarball(io.BytesIO(ROOTFS), "bb", "2")
    with pytest.raises(Conflict):
        images.remove(img.id)
    assert images.remove("bb:2") == [{"Untagged": "bb:2"}]
    assert os.path.isdir(img.layers[0])
    assert images.remove("busybox") == [{"Untagged": "busybox:latest"}, {"Deleted": img.id}]
    assert not os.path.exists(img.layers[0])
    assert images.list() == []
    with pytest.raises(NotFound):
        images.remove("busybox")


@pytest.mark.parametrize("members", [
    [("file", "../evil", b"x")],
    [("file", "a/../../evil", b"x")],
    [("sym", "link", "/"), ("file", "link/evil", b"x")],
    [("hard", "h", "../../etc/passwd")],
])
def test_unsafe_tarballs_leave_nothing(images, tmp_path, members):
    with pytest.raises(InvalidParameter):
        images.import_tarball(io.BytesIO(_tar(members)), "evil", "latest")
    assert images.list() == []
    assert os.listdir(tmp_path / "images" / "layers") == []
    assert os.listdir(tmp_path / "images" / "tmp") == []
    assert not os.path.exists(tmp_path / "evil")
    assert not os.path.exists("/evil")


def test_absolute_names_are_made_relative(images):
    img = images.import_tarball(io.BytesIO(_tar([("file", "/etc/motd", b"hi")])), "abs")
    assert open(os.path.join(img.layers[0], "etc/motd"), "rb").read() == b"hi"


def test_truncated_tarball_leaves_nothing(images, tmp_path):
    big = _tar([("file", "a", b"x" * 5000), ("file", "b", b"y" * 5000)])
    for data in (big[:512 * 8], b"not a tarball at all" * 100):
        with pytest.raises(InvalidParameter):
            images.import_tarball(io.BytesIO(data), "broken", "latest")
    assert images.list() == []
    assert os.listdir(tmp_path / "images" / "layers") == []


def test_bad_names(images):
    for repo, tag in (("BusyBox", "latest"), ("busybox:1", "latest"), ("busybox", "bad tag")):
        with pytest.raises(InvalidParameter):
            images.import_tarball(io.BytesIO(ROOTFS), repo, tag)
    assert images.list() == []


def test_reference_parsing():
    assert split_ref("busybox") == ("busybox", "latest")
    assert split_ref("localhost:5000/a/b") == ("localhost:5000/a/b", "latest")
    assert split_ref("a/b:1.0") == ("a/b", "1.0")
    assert split_ref("library/busybox:x") == ("busybox", "x")
    assert validate_repo_tag("my-repo/app", "v1") == "my-repo/app:v1"


def test_busybox_tarball_imports(images, busybox_tar):
    img = images.import_tarball(str(busybox_tar), "busybox", "latest")
    layer = img.layers[0]
    assert os.path.isfile(os.path.join(layer, "bin/busybox"))
    assert os.path.realpath(os.path.join(layer, "bin/sh")) == os.path.join(layer, "bin/busybox")
    assert os.path.islink(os.path.join(layer, "usr/bin/awk"))
    assert os.stat(os.path.join(layer, "tmp")).st_mode & 0o7777 == 0o1777
    assert "nobody" in open(os.path.join(layer, "etc/passwd")).read()
    assert os.path.isfile(os.path.join(layer, "www/index.html"))
    for d in ("proc", "sys", "dev"):
        assert os.path.isdir(os.path.join(layer, d))
