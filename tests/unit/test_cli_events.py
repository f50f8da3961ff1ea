"""cove events: time values and the default line format (pure)."""

from __future__ import annotations

import pytest

from cove.cli.client import CLIError
from cove.cli.events import line, timestamp


def test_timestamp_forms():
    assert timestamp("") == ""
    assert timestamp("1700000000.5") == "1700000000.500000000"
    assert timestamp("10s", now=100.0) == "90.000000000"
    assert timestamp("2m", now=1000.0) == "880.000000000"
    assert timestamp("1970-01-01T00:01:00Z") == "60.000000000"
    with pytest.raises(CLIError):
        timestamp("yesterday")


def test_line_like_docker():
    ev = {"Type": "container", "Action": "start", "timeNano": 1_700_000_000_000_000_001,
          "Actor": {"ID": "abc", "Attributes": {"name": "web", "image": "busybox"}}}
    assert line(ev) == ("2023-11-14T22:13:20.000000001Z container start abc"
                        " (image=busybox, name=web)")
