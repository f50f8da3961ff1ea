"""docker-py's own integration suite (docker==6.1.3) against a real coved.

Runs tests/dockerpy/run.py (its own venv, its own coved in a throwaway netns) and checks
the counts against issue 6's bar (every network test, 95% of the rest) and writes the
numbers to ``$COVE_DOCKERPY_REPORT`` (default: the pytest tmp dir) and to the captured
output.
Skipped when the sdist cannot be downloaded (no PyPI access).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "tests" / "dockerpy" / "run.py"

# The bar of issue 6: every network test passes and at least 95% of the rest (counted
# after the suite's own deselections for swarm/pull/off-machine, see README; a test the
# suite itself skips counts as not passed).
BAR_OTHER = 0.95


def test_dockerpy_integration_suite(tmp_path):
    junit = tmp_path / "junit.xml"
    try:
        proc = subprocess.run([sys.executable, str(RUN), "--junit", str(junit)],
                              capture_output=True, text=True, timeout=1200)
    except subprocess.TimeoutExpired:
        pytest.fail("docker-py suite took longer than 20 minutes")
    summary = [ln for ln in proc.stdout.splitlines() if ln.startswith("DOCKERPY_SUMMARY ")]
    if not summary:
        if "pip download" in proc.stderr or "Could not find" in proc.stderr:
            pytest.skip(f"docker==6.1.3 sdist unavailable: {proc.stderr[-500:]}")
        pytest.fail(f"docker-py run did not finish ({proc.returncode}):\n"
                    f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    data = json.loads(summary[-1].split(" ", 1)[1])
    report = Path(os.environ.get("COVE_DOCKERPY_REPORT", tmp_path / "dockerpy.json"))
    report.write_text(json.dumps(data, indent=1))
    print("\n".join(ln for ln in proc.stdout.splitlines() if ln.startswith("docker-py")))
    net, other = data["network"], data["other"]
    assert net["failed"] == 0 and net["passed"] > 0, (
        f"docker-py network tests must all pass: {net}; failing: {data['failed_tests']}")
    run = other["passed"] + other["failed"] + other["skipped"]
    assert other["passed"] >= BAR_OTHER * run, (
        f"docker-py other tests below {BAR_OTHER:.0%} of {run}: {other}; "
        f"failing: {data['failed_tests']}")
