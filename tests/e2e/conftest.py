"""Fixtures: a real coved in a throwaway network namespace (see tests/harness.py)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.harness import Daemon

if os.geteuid() != 0:  # e2e tests need root: collect nothing here without it
    collect_ignore_glob = ["test_*.py"]


def _running_daemon(base, busybox_tar):
    d = Daemon(base)
    try:
        d.start()
        d.cli("image", "import", str(busybox_tar), "busybox:latest")
        yield d
    finally:
        d.destroy()
        shutil.rmtree(d.root, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, busybox_tar):
    """A coved shared by the tests of one module."""
    yield from _running_daemon(tmp_path_factory.mktemp("coved"), busybox_tar)


@pytest.fixture
def fresh_daemon(tmp_path, busybox_tar):
    """A coved of the test's own (for restarts and damage)."""
    yield from _running_daemon(tmp_path, busybox_tar)
