"""HTTP layer: ``HostConfig.LogConfig`` validated like Docker's json-file driver and shown
in inspect; unknown drivers get Docker's message, known-but-missing drivers 501."""

from __future__ import annotations

from tests.api.helpers import run


def _create(client, name, log_config):
    return client.post(f"/v1.41/containers/create?name=lc{name}", json={
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"LogConfig": log_config}})


def test_log_config_validated_and_shown():
    async def body(client, engine):
        r = await _create(client, "a", {"Type": "json-file", "Config": {"max-file": "100"}})
        assert r.status == 201, await r.text()
        hc = (await (await client.get("/containers/lca/json")).json())["HostConfig"]
        assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-file": "100"}}
        r = await _create(client, "b", {"Type": "", "Config": {"max-size": "10m"}})
        assert r.status == 201
        hc = (await (await client.get("/containers/lcb/json")).json())["HostConfig"]
        assert hc["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m"}}
        r = await client.post("/containers/create?name=lcc", json={"Image": "busybox"})
        hc = (await (await client.get("/containers/lcc/json")).json())["HostConfig"]
        assert hc["LogConfig"] == {"Type": "json-file", "Config": {}}
        bad = [({"Type": "asdf"}, 400, "logger: no log driver named 'asdf' is registered"),
               ({"Type": "syslog"}, 501, "log driver syslog is not supported by cove"),
               ({"Type": "json-file", "Config": {"nope": "1"}}, 400,
                "unknown log opt 'nope' for json-file log driver"),
               ({"Type": "json-file", "Config": {"max-file": "0"}}, 400,
                "max-file cannot be less than 1"),
               ({"Type": "json-file", "Config": {"max-size": "lots"}}, 400,
                "invalid size: 'lots'"),
               ({"Type": "json-file", "Config": {"max-file": 3}}, 400, "invalid HostConfig")]
        for i, (lc, status, msg) in enumerate(bad):
            r = await _create(client, f"bad{i}", lc)
            assert r.status == status, lc
            assert (await r.json())["message"].startswith(msg)
            assert (await client.get(f"/containers/lcbad{i}/json")).status == 404
    run(body)
