"""The real docker CLI pointed at a test coved: :func:`docker_runner` gives the callable
the ``docker`` fixtures of the CLI tests return."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

import pytest

DOCKER = shutil.which("docker") or "/usr/local/bin/docker"


def docker_runner(daemon, tmp_path_factory, check: bool = False
                  ) -> Callable[..., subprocess.CompletedProcess]:
    """``run(*args, check=…, timeout=60, input=None)`` running ``docker ARGS`` against
    ``daemon`` with a config and home of its own (``run.env`` is that environment);
    ``check`` is the default of raising when docker fails. Skips without the CLI."""
    if not os.access(DOCKER, os.X_OK):
        pytest.skip("the docker CLI is not installed")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "DOCKER_HOST": f"unix://{daemon.sock}",
           "DOCKER_CONFIG": str(tmp_path_factory.mktemp("dockercfg")),
           "DOCKER_CLI_HINTS": "false", "HOME": str(tmp_path_factory.mktemp("home"))}
    default_check = check

    def run(*args: str, check: bool = default_check, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run([DOCKER, *args], capture_output=True, text=True, env=env,
                           timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} → {r.returncode}\n"
                                 f"{r.stdout}\n{r.stderr}")
        return r
    run.env = env  # type: ignore[attr-defined]
    return run
