"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src"
if str(SRC) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(SRC))


def _static_busybox() -> str | None:
    for cand in ("/bin/busybox", "/usr/bin/busybox"):
        if os.access(cand, os.X_OK):
            return cand
    return shutil.which("busybox")


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory) -> Path:
    """A busybox rootfs tarball built once per session by scripts/build-busybox-image.sh."""
    if _static_busybox() is None:
        pytest.skip("busybox-static is not installed")
    out = tmp_path_factory.mktemp("busybox") / "busybox.tar"
    script = REPO / "scripts" / "build-busybox-image.sh"
    proc = subprocess.run(["bash", str(script), str(out)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot build the busybox image: {proc.stderr.strip()}")
    return out
