"""NetworkController on the real kernel: API 1.41 ``CheckDuplicate=false`` makes a second
network of the same name (its own bridge and subnet); predefined names stay refused."""

import os

import pytest

from cove.errors import Conflict, NotFound
from cove.kernel import nft
from tests.privileged.test_controller import net_ctl_factory  # noqa: F401 (fixture)

pytestmark = [pytest.mark.privileged,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]


def test_duplicate_names_only_without_check(net_in_fresh_netns, net_ctl_factory):  # noqa: F811
    def body():
        c = net_ctl_factory()
        c.start(set())
        name = "dup" + os.urandom(2).hex()
        a = c.create_network(name, ipam_options=None)
        with pytest.raises(Conflict, match="already exists"):
            c.create_network(name)
        b = c.create_network(name, check_duplicate=False, ipam_options={"k": "v"})
        assert a.id != b.id and a.bridge != b.bridge and a.subnet != b.subnet
        assert c.nl.link(a.bridge) is not None and c.nl.link(b.bridge) is not None
        assert (a.ipam["Options"], b.ipam["Options"]) == (None, {"k": "v"})
        for predefined in ("bridge", "host", "none"):
            with pytest.raises(Conflict):
                c.create_network(predefined, check_duplicate=False)
        text = nft.list_table("inet", c.nft_table)
        assert a.subnet in text and b.subnet in text
        c.remove_network(a.id)
        c.remove_network(b.id)
        for n in (a, b):
            assert c.nl.link(n.bridge) is None
            with pytest.raises(NotFound):
                c.network(n.id)

    net_in_fresh_netns(body)
