"""HTTP layer of issue 6: POST /containers/{id}/update, RestartPolicy and Healthcheck in
create/inspect, Docker's 400/409 messages, the health filter and ps STATUS."""

from __future__ import annotations

from tests.api.helpers import run

SECOND = 1_000_000_000


async def _create(client, **extra) -> str:
    body = {"Image": "busybox", "Cmd": ["sleep", "100"], **extra}
    r = await client.post("/containers/create", json=body)
    assert r.status == 201, await r.text()
    return (await r.json())["Id"]


async def _inspect(client, cid: str) -> dict:
    return await (await client.get(f"/containers/{cid}/json")).json()


def test_update_stores_resources_and_policy():
    async def body(client, engine):
        cid = await _create(client, HostConfig={"Memory": 400 << 20, "RestartPolicy": {
            "Name": "always", "MaximumRetryCount": 0}})
        hc = (await _inspect(client, cid))["HostConfig"]
        assert hc["RestartPolicy"] == {"Name": "always", "MaximumRetryCount": 0}
        r = await client.post(f"/v1.41/containers/{cid}/update", json={
            "Memory": 300 << 20, "CpuShares": 3, "CpuQuota": 50000, "CpuPeriod": 100000,
            "MemoryReservation": 100 << 20, "PidsLimit": 20,
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 42}})
        assert r.status == 200, await r.text()
        assert await r.json() == {"Warnings": []}
        hc = (await _inspect(client, cid))["HostConfig"]
        assert (hc["Memory"], hc["CpuShares"], hc["CpuQuota"], hc["CpuPeriod"],
                hc["MemoryReservation"], hc["PidsLimit"]) == (
            300 << 20, 3, 50000, 100000, 100 << 20, 20)
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 42}
    run(body)


def test_update_errors_are_dockers():
    async def body(client, engine):
        cid = await _create(client, HostConfig={"NanoCpus": 500_000_000})
        cases = [
            ({"Memory": 1024}, 400, "Minimum memory limit allowed is 6MB"),
            ({"Memory": 64 << 20, "MemorySwap": 32 << 20}, 400,
             "Minimum memoryswap limit should be larger than memory limit, see usage"),
            ({"CpuPeriod": 10}, 400, "CPU cfs period can not be less than 1ms"),
            ({"CpuQuota": 10}, 400, "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
            ({"CpuQuota": 50000}, 409,
             "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already "
             "been set"),
            ({"BlkioWeight": 5}, 400, "Range of blkio weight is from 10 to 1000"),
            ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 3}}, 400,
             "maximum retry count cannot be used with restart policy 'always'"),
            ({"RestartPolicy": {"Name": "sometimes"}}, 400, "invalid restart policy 'sometimes'"),
            ({"Memory": "1g"}, 400, "invalid Memory: must be an integer"),
        ]
        for req, status, msg in cases:
            r = await client.post(f"/containers/{cid}/update", json=req)
            assert r.status == status, (req, await r.text())
            assert msg in (await r.json())["message"], req
        r = await client.post("/containers/nope/update", json={"Memory": 64 << 20})
        assert r.status == 404
    run(body)


def test_create_validates_restart_policy_and_healthcheck():
    async def body(client, engine):
        bad = [
            ({"HostConfig": {"RestartPolicy": {"Name": "unless-stopped",
                                               "MaximumRetryCount": 1}}},
             "maximum retry count cannot be used with restart policy 'unless-stopped'"),
            ({"HostConfig": {"RestartPolicy": {"Name": "on-failure",
                                               "MaximumRetryCount": -1}}},
             "maximum retry count cannot be negative"),
            ({"HostConfig": {"AutoRemove": True, "RestartPolicy": {"Name": "always"}}},
             "can't create 'AutoRemove' container with restart policy"),
            ({"Healthcheck": {"Test": ["CMD", "true"], "Interval": 10}},
             "Interval in Healthcheck cannot be less than 1ms"),
            ({"Healthcheck": {"Test": ["CMD", "true"], "Retries": -1}},
             "Retries in Healthcheck cannot be negative"),
        ]
        for extra, msg in bad:
            r = await client.post("/containers/create", json={"Image": "busybox", **extra})
            assert r.status == 400, extra
            assert msg in (await r.json())["message"]
    run(body)


def test_healthcheck_in_inspect_and_ps_status_and_filter():
    async def body(client, engine):
        hc = {"Test": ["CMD-SHELL", "echo hi"], "Interval": SECOND, "Retries": 1}
        cid = await _create(client, Healthcheck=hc)
        plain = await _create(client)
        data = await _inspect(client, cid)
        assert data["Config"]["Healthcheck"] == hc
        assert "Health" not in data["State"]
        assert "Healthcheck" not in (await _inspect(client, plain))["Config"]
        await client.post(f"/containers/{cid}/start")
        await client.post(f"/containers/{plain}/start")
        engine.get_container(cid).health = {"Status": "healthy", "FailingStreak": 0,
                                            "Log": []}
        data = await _inspect(client, cid)
        assert data["State"]["Health"]["Status"] == "healthy"
        rows = await (await client.get(
            '/containers/json?filters={"health":["healthy"]}')).json()
        assert [r["Id"] for r in rows] == [cid]
        assert rows[0]["Status"].endswith("(healthy)")
        rows = await (await client.get('/containers/json?filters={"health":["none"]}')).json()
        assert [r["Id"] for r in rows] == [plain]
        engine.get_container(cid).health["Status"] = "starting"
        rows = await (await client.get('/containers/json')).json()
        assert [r["Status"] for r in rows if r["Id"] == cid][0].endswith(
            "(health: starting)")
        r = await client.get('/containers/json?filters={"health":["sick"]}')
        assert r.status == 400
        assert "Unrecognised filter value for health: sick" in (await r.json())["message"]
    run(body)
