"""HTTP layer of issue 6's remaining create options: PidMode, UTSMode, CgroupnsMode,
Isolation, GroupAdd, DeviceCgroupRules, Cpuset*, VolumesFrom, VolumeDriver, a top-level
Runtime, LogConfig none (logs: 501) and POST /commit, with Docker's messages."""

from __future__ import annotations

from tests.api.helpers import run

HC = {"PidMode": "host", "UTSMode": "host", "CgroupnsMode": "private",
      "Isolation": "default", "GroupAdd": ["1000", "wheel"],
      "DeviceCgroupRules": ["c 7:128 rwm", "b *:* m"], "CpusetCpus": "0", "CpusetMems": "0",
      "VolumesFrom": ["other:ro"], "VolumeDriver": "foo"}


def test_create_and_inspect():
    async def body(client, engine):
        r = await client.post("/containers/create", json={
            "Image": "busybox", "Runtime": "runc", "HostConfig": HC})
        assert r.status == 201, await r.text()
        cfg = engine.calls[0][1]
        assert (cfg.pid_mode, cfg.uts_mode, cfg.cgroupns_mode, cfg.group_add,
                cfg.volumes_from, cfg.runtime) == (
            "host", "host", "private", ["1000", "wheel"], ["other:ro"], "runc")
        hc = (await (await client.get(f"/containers/{(await r.json())['Id']}/json")).json())[
            "HostConfig"]
        for k, v in HC.items():
            assert hc[k] == v, k
        r = await client.post("/containers/create", json={"Image": "busybox"})
        hc = (await (await client.get(f"/containers/{(await r.json())['Id']}/json")).json())[
            "HostConfig"]
        assert (hc["PidMode"], hc["UTSMode"], hc["CgroupnsMode"], hc["Isolation"],
                hc["GroupAdd"], hc["DeviceCgroupRules"], hc["VolumesFrom"]) == (
            "", "", "host", "", None, None, None)
    run(body)


def test_bad_values_get_dockers_messages():
    bad = [({"PidMode": "nope"}, "invalid PID mode: nope"),
           ({"PidMode": "container:"}, "invalid PID mode: container:"),
           ({"UTSMode": "private"}, "invalid UTS mode: private"),
           ({"CgroupnsMode": "shared"}, "invalid cgroup namespace mode: shared"),
           ({"Isolation": "hyperv"},
            "Invalid isolation: \"hyperv\" - linux only supports 'default'"),
           ({"DeviceCgroupRules": ["x 1:2 rwm"]}, "invalid device cgroup format 'x 1:2 rwm'"),
           ({"DeviceCgroupRules": ["c 1:2 rwx"]}, "invalid device cgroup format"),
           ({"CpusetCpus": "0-"}, "Invalid value 0- for cpuset cpus"),
           ({"CpusetMems": "a"}, "Invalid value a for cpuset mems"),
           ({"VolumesFrom": ["x:rx"]}, "invalid mode: rx"),
           ({"GroupAdd": [1000]}, "invalid HostConfig.GroupAdd"),
           ({"GroupAdd": ["a:b"]}, "invalid group")]

    async def body(client, engine):
        for hc, msg in bad:
            r = await client.post("/containers/create", json={"Image": "busybox",
                                                             "HostConfig": hc})
            assert r.status == 400, hc
            assert (await r.json())["message"].startswith(msg), hc
        r = await client.post("/containers/create", json={
            "Image": "busybox", "Hostname": "h", "HostConfig": {"UTSMode": "host"}})
        assert r.status == 400
        assert (await r.json())["message"] == ("conflicting options: hostname and the UTS "
                                               "mode")
        assert engine.calls == []
    run(body)


def test_log_driver_none_refuses_logs():
    async def body(client, engine):
        r = await client.post("/containers/create", json={
            "Image": "busybox", "HostConfig": {"LogConfig": {"Type": "none"}}})
        assert r.status == 201
        cid = (await r.json())["Id"]
        hc = (await (await client.get(f"/containers/{cid}/json")).json())["HostConfig"]
        assert hc["LogConfig"] == {"Type": "none", "Config": {}}
        r = await client.get(f"/containers/{cid}/logs?stdout=1")
        assert r.status == 501
        assert (await r.json())["message"] == ("configured logging driver does not support "
                                               "reading")
    run(body)


def test_commit_route():
    async def body(client, engine):
        r = await client.post("/containers/create", json={"Image": "busybox",
                                                         "Cmd": ["true"]})
        cid = (await r.json())["Id"]
        r = await client.post(f"/v1.41/commit?container={cid}&repo=me/img&tag=v1&comment=c"
                              "&author=a&changes=CMD%20%5B%22ls%22%5D&changes=ENV%20A%3Db",
                              json={"Labels": {"x": "y"}})
        assert r.status == 201, await r.text()
        iid = (await r.json())["Id"]
        img = (await (await client.get(f"/images/{iid}/json")).json())
        assert (img["RepoTags"], img["Comment"], img["Author"]) == (["me/img:v1"], "c", "a")
        assert img["Config"]["Cmd"] == ["ls"] and img["Config"]["Labels"] == {"x": "y"}
        assert img["Config"]["Env"] == ["A=b"]
        r = await client.post(f"/commit?container={cid}&repo=docker.io/library/plain&tag=2")
        iid = (await r.json())["Id"]          # the docker CLI sends the full name
        img = (await (await client.get(f"/images/{iid}/json")).json())
        assert img["RepoTags"] == ["plain:2"]
        for query, status, msg in (
                ("", 400, "No container specified"),
                ("container=nosuch", 404, "No such container: nosuch"),
                (f"container={cid}&repo=UPPER", 400, "invalid reference format"),
                (f"container={cid}&changes=RUN%20x", 400, "RUN is not a valid change")):
            r = await client.post(f"/commit?{query}")
            assert r.status == status, query
            assert (await r.json())["message"].startswith(msg), query
    run(body)
