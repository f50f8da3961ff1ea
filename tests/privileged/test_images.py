"""ImageStore as root: ownership and modes are kept, device nodes are never created,
the busybox build script is reproducible."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest

from cove.images import ImageStore
from cove.store import Store

pytestmark = pytest.mark.privileged
if os.geteuid() != 0:
    pytest.skip("needs root", allow_module_level=True)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def images(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    yield ImageStore(str(tmp_path), store)
    store.close()


def test_owner_mode_kept_devices_skipped(images):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        f = tarfile.TarInfo("home/app/owned")
        f.uid, f.gid, f.mode, f.size = 1234, 4321, 0o4750, 2
        tar.addfile(f, io.BytesIO(b"hi"))
        for name, kind in (("dev/sda", tarfile.BLKTYPE), ("dev/null", tarfile.CHRTYPE)):
            d = tarfile.TarInfo(name)
            d.type, d.devmajor, d.devminor = kind, 1, 3
            tar.addfile(d)
    buf.seek(0)
    img = images.import_tarball(buf, "owned", "1")
    st = os.lstat(os.path.join(img.layers[0], "home/app/owned"))
    assert (st.st_uid, st.st_gid) == (1234, 4321)
    assert stat.S_IMODE(st.st_mode) == 0o4750
    assert not os.path.lexists(os.path.join(img.layers[0], "dev/sda"))
    assert not os.path.lexists(os.path.join(img.layers[0], "dev/null"))


def test_busybox_build_is_reproducible(busybox_tar, tmp_path, images):
    again = tmp_path / "again.tar"
    subprocess.run(["bash", str(REPO / "scripts/build-busybox-image.sh"), str(again)],
                   check=True, capture_output=True)
    assert again.read_bytes() == Path(busybox_tar).read_bytes()
    a = images.import_tarball(str(busybox_tar), "busybox", "latest")
    b = images.import_tarball(str(again), "busybox", "copy")
    assert a.id == b.id and a.layers == b.layers
    st = os.lstat(os.path.join(a.layers[0], "bin/busybox"))
    assert st.st_uid == 0 and st.st_mode & 0o111
