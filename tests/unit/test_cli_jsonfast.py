"""The CLI's JSON codec agrees with the json package."""

from __future__ import annotations

import json

import pytest

from cove.cli import jsonfast

DOCS = [
    {"Image": "busybox", "Cmd": ["sh", "-c", "echo \"hi\"\n"], "Env": ["A=é☃"],
     "HostConfig": {"AutoRemove": True, "Memory": 0, "NanoCpus": 5e8, "Dns": None},
     "Labels": {}, "List": [], "Neg": -3, "Big": 2**40},
    [1, 2.5, "x", None, False, {"a": [{}]}],
    "plain",
]


@pytest.mark.parametrize("doc", DOCS)
def test_round_trip_matches_json(doc):
    assert json.loads(jsonfast.dumps(doc)) == doc
    assert jsonfast.loads(json.dumps(doc)) == doc
    assert jsonfast.loads(json.dumps(doc, indent=4).encode()) == doc


@pytest.mark.parametrize("bad", ["{", "[1,]", "{} x", "", "nul"])
def test_bad_json_is_a_value_error(bad):
    with pytest.raises(ValueError):
        jsonfast.loads(bad)


def test_unserialisable_is_a_type_error():
    with pytest.raises(TypeError):
        jsonfast.dumps({"a": object()})
