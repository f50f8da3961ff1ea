"""docker-py's own integration suite (docker==6.1.3) against a real coved.

Runs tests/dockerpy/run.py (its own venv, its own coved in a throwaway netns) and checks
the counts. Until the issue's bar (every network test, 95% of the rest) is reached, this
test fails only under FLOOR (a regression guard) and writes the numbers to
``$COVE_DOCKERPY_REPORT`` (default: the pytest tmp dir) and to the captured output.
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

# The bar of issue 6, and the floor this test enforces meanwhile (passed tests, counted
# after the suite's own deselections for swarm/pull/off-machine, see README).
BAR_OTHER = 0.95
FLOOR = {"network": 24, "other": 132}


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
    bar_met = (net["failed"] == 0 and
               other["passed"] >= BAR_OTHER * (other["passed"] + other["failed"]))
    if bar_met:
        return
    for group, floor in FLOOR.items():
        assert data[group]["passed"] >= floor, (
            f"docker-py {group} tests regressed: {data[group]} (floor {floor}); "
            f"failing: {data['failed_tests']}")
