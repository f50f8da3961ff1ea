"""Network list filters (pure)."""

from __future__ import annotations

import pytest

from cove.api import netfilters
from cove.errors import InvalidParameter
from cove.network.model import Network

NETS = [Network(id="a" * 64, name="bridge", driver="bridge", default=True),
        Network(id="b" * 64, name="host", driver="host"),
        Network(id="c" * 64, name="web-1", driver="bridge", labels={"env": "prod"})]


def _names(raw: str, in_use: bool = False) -> list[str]:
    f = netfilters.parse(raw)
    return [n.name for n in NETS if netfilters.matches(n, f, in_use)]


def test_filters():
    assert _names('{"id": ["ccc"]}') == ["web-1"]
    assert _names('{"name": {"web": true}}') == ["web-1"]
    assert _names('{"driver": ["bridge"]}') == ["bridge", "web-1"]
    assert _names('{"type": ["custom"]}') == ["web-1"]
    assert _names('{"type": ["builtin"]}') == ["bridge", "host"]
    assert _names('{"label": ["env=prod"]}') == ["web-1"]
    assert _names('{"label": ["env=dev"]}') == []
    assert _names('{"dangling": ["true"]}') == ["bridge", "host", "web-1"]
    assert _names('{"dangling": ["true"]}', in_use=True) == []
    assert _names("") == ["bridge", "host", "web-1"]


@pytest.mark.parametrize("raw", ['{"bogus": ["x"]}', "[1]", "{", '{"type": ["x"]}'])
def test_bad_filters(raw):
    with pytest.raises(InvalidParameter):
        netfilters.parse(raw)
