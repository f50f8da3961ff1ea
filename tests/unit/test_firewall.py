"""Golden text of cove's nftables table (inet cove)."""

from cove.network import firewall
from cove.network.firewall import Chain, NamedMap
from cove.network.model import Network


def _default():
    return Network(id="a" * 64, name="bridge", driver="bridge", bridge="cove0",
                   subnet="172.17.0.0/16", gateway="172.17.0.1", default=True)


def test_default_bridge_golden():
    nets = [_default(), Network(id="h" * 64, name="host", driver="host"),
            Network(id="n" * 64, name="none", driver="null")]
    assert firewall.render_table(nets) == (
        "add table inet cove\n"
        "delete table inet cove\n"
        "table inet cove {\n"
        "\tchain postrouting {\n"
        "\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        '\t\tip saddr 172.17.0.0/16 oifname != "cove0" masquerade\n'
        "\t}\n"
        "\tchain forward {\n"
        "\t\ttype filter hook forward priority filter; policy accept;\n"
        '\t\tiifname "cove0" accept\n'
        '\t\toifname "cove0" ct state established,related accept\n'
        "\t}\n"
        "}\n")


def test_no_masquerade_when_disabled_or_internal():
    a = _default()
    a.masquerade = False
    b = Network(id="b" * 64, name="web", driver="bridge", bridge="br-bbbbbbbbbbbb",
                subnet="172.18.0.0/16", gateway="172.18.0.1", internal=True)
    assert firewall.nat_rules([a, b]) == []


def test_isolation_internal_and_icc_golden():
    a = _default()
    b = Network(id="b" * 64, name="web", driver="bridge", bridge="br-bbbbbbbbbbbb",
                subnet="172.18.0.0/16", gateway="172.18.0.1", internal=True, icc=False)
    assert firewall.forward_rules([a, b]) == [
        'iifname "br-bbbbbbbbbbbb" oifname != "br-bbbbbbbbbbbb" oifname @cove_bridges drop',
        'iifname "cove0" oifname != "cove0" oifname @cove_bridges drop',
        'iifname "br-bbbbbbbbbbbb" oifname != "br-bbbbbbbbbbbb" drop',
        'oifname "br-bbbbbbbbbbbb" iifname != "br-bbbbbbbbbbbb" drop',
        'iifname "br-bbbbbbbbbbbb" oifname "br-bbbbbbbbbbbb" drop',
        'iifname "br-bbbbbbbbbbbb" accept',
        'oifname "br-bbbbbbbbbbbb" ct state established,related accept',
        'iifname "cove0" accept',
        'oifname "cove0" ct state established,related accept',
    ]
    assert firewall.nat_rules([a, b]) == [
        'ip saddr 172.17.0.0/16 oifname != "cove0" masquerade']
    # the isolation set holds every bridge (one set, so the table grows linearly)
    assert ('\tset cove_bridges {\n\t\ttype ifname\n'
            '\t\telements = { "br-bbbbbbbbbbbb", "cove0" }\n\t}') in firewall.render_table([a, b])


def test_maps_and_extra_chains_are_rendered_with_elements():
    m = NamedMap("pub4", "inet_proto . inet_service", "ipv4_addr . inet_service",
                 ["tcp . 8080 : 172.17.0.2 . 80"])
    c = Chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;",
              ["fib daddr type local dnat ip to meta l4proto . th dport map @pub4"])
    text = firewall.render_table([_default()], table="cove_x", maps=[m], chains=[c])
    assert text.startswith("add table inet cove_x\ndelete table inet cove_x\n")
    assert ("\tmap pub4 {\n"
            "\t\ttype inet_proto . inet_service : ipv4_addr . inet_service\n"
            "\t\telements = { tcp . 8080 : 172.17.0.2 . 80 }\n"
            "\t}\n") in text
    assert text.endswith(
        "\tchain prerouting {\n"
        "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
        "\t\tfib daddr type local dnat ip to meta l4proto . th dport map @pub4\n"
        "\t}\n}\n")


def test_map_update_deletes_before_adding():
    assert firewall.render_map_update("pub4", add=["tcp . 80 : 172.17.0.3 . 80"],
                                      delete=["tcp . 80"]) == (
        "delete element inet cove pub4 { tcp . 80 }\n"
        "add element inet cove pub4 { tcp . 80 : 172.17.0.3 . 80 }\n")
    assert firewall.render_map_update("pub4") == ""
