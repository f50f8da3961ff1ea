"""HTTP layer: the container lifecycle, inspect/list shapes, logs framing, exec."""

from __future__ import annotations

from tests.api.helpers import demux, run

CREATE = {
    "Image": "busybox", "Cmd": ["sleep", "100"], "Env": ["A=1"], "Hostname": "h1",
    "Labels": {"k": "v"}, "ExposedPorts": {"80/tcp": {}},
    "HostConfig": {"NetworkMode": "default", "AutoRemove": False, "Runtime": "native",
                   "Dns": ["9.9.9.9"], "PortBindings": {"80/tcp": [{"HostIp": "",
                                                                      "HostPort": "8080"}]}},
    "NetworkingConfig": {"EndpointsConfig": {}},
}


async def _create(client, name="c1", body=None):
    r = await client.post(f"/v1.41/containers/create?name={name}", json=body or CREATE)
    assert r.status == 201, await r.text()
    out = await r.json()
    assert out["Warnings"] == [] and len(out["Id"]) == 64
    return out["Id"]


def test_create_maps_docker_body_to_engine_config():
    async def body(client, engine):
        await _create(client)
        _, cfg, name = engine.calls[0]
        assert name == "c1"
        assert cfg.image == "busybox" and cfg.cmd == ["sleep", "100"] and cfg.env == ["A=1"]
        assert cfg.hostname == "h1" and cfg.labels == {"k": "v"}
        assert cfg.network_mode == "bridge" and cfg.runtime == "native" and cfg.dns == ["9.9.9.9"]
        assert cfg.exposed_ports == {"80/tcp": {}}
        assert cfg.port_bindings == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    run(body)


def test_create_errors():
    async def body(client, engine):
        r = await client.post("/containers/create?name=bad name!", json=CREATE)
        assert r.status == 400 and "Invalid container name" in (await r.json())["message"]
        r = await client.post("/containers/create", json={**CREATE, "Image": "nosuch"})
        assert r.status == 404 and (await r.json())["message"] == "No such image: nosuch"
        await _create(client, "dup")
        r = await client.post("/containers/create?name=dup", json=CREATE)
        assert r.status == 409 and "already in use" in (await r.json())["message"]
        bad = {**CREATE, "HostConfig": {"PortBindings": {"80/tcpx": []}}}
        r = await client.post("/containers/create", json=bad)
        assert r.status == 400 and (await r.json())["message"] == "invalid proto: tcpx"
        r = await client.post("/containers/create", json={**CREATE, "Cmd": "echo hi"})
        assert r.status == 201                            # StrSlice accepts a bare string
    run(body)


def test_lifecycle_start_304_stop_wait_delete():
    async def body(client, engine):
        cid = await _create(client)
        r = await client.post(f"/containers/{cid[:8]}/start")
        assert r.status == 204
        r = await client.post("/containers/c1/start")
        assert r.status == 304 and await r.read() == b""
        r = await client.post("/containers/c1/stop?t=3")
        assert r.status == 204 and engine.calls[-1] == ("stop", cid, 3)
        r = await client.post("/containers/c1/stop?t=abc")
        assert r.status == 400
        r = await client.post("/containers/c1/wait")
        assert await r.json() == {"StatusCode": 143, "Error": None}
        r = await client.post("/containers/c1/wait?condition=bogus")
        assert r.status == 400
        r = await client.delete("/containers/c1")
        assert r.status == 204
        r = await client.get("/containers/c1/json")
        assert r.status == 404
        assert await r.json() == {"message": "No such container: c1"}
    run(body)


def test_kill_signal_validation_and_conflicts():
    async def body(client, engine):
        cid = await _create(client)
        await client.post("/containers/c1/start")
        r = await client.post("/containers/c1/kill?signal=NOPE")
        assert r.status == 400 and (await r.json())["message"] == "Invalid signal: NOPE"
        r = await client.delete("/containers/c1")
        assert r.status == 409
        r = await client.post("/containers/c1/kill?signal=SIGTERM")
        assert r.status == 204 and engine.calls[-1] == ("kill", cid, "TERM")
        r = await client.post("/containers/c1/kill")
        assert r.status == 409
        r = await client.delete("/containers/c1?force=1")
        assert r.status == 204
    run(body)


def test_inspect_shape_default_bridge():
    async def body(client, engine):
        cid = await _create(client)
        await client.post("/containers/c1/start")
        d = await (await client.get("/containers/c1/json")).json()
        assert d["Id"] == cid and d["Name"] == "/c1" and d["Path"] == "sleep"
        assert d["Args"] == ["100"]
        for k in ("Created", "Image", "ResolvConfPath", "HostnamePath", "HostsPath", "LogPath",
                  "RestartCount", "Driver", "Platform", "Mounts"):
            assert k in d, k
        assert set(d["State"]) >= {"Status", "Running", "Paused", "Restarting", "OOMKilled",
                                   "Dead", "Pid", "ExitCode", "Error", "StartedAt",
                                   "FinishedAt"}
        assert d["State"]["Running"] is True and d["State"]["Status"] == "running"
        hc = d["HostConfig"]
        assert hc["NetworkMode"] == "bridge" and hc["Runtime"] == "native"
        assert hc["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
        cfg = d["Config"]
        assert cfg["Hostname"] == "h1" and cfg["Cmd"] == ["sleep", "100"]
        assert cfg["Entrypoint"] is None and cfg["Labels"] == {"k": "v"}
        assert cfg["ExposedPorts"] == {"80/tcp": {}} and cfg["Image"] == "busybox"
        ns = d["NetworkSettings"]
        assert ns["IPAddress"] == "172.17.0.2" and ns["Gateway"] == "172.17.0.1"
        assert ns["IPPrefixLen"] == 16 and ns["MacAddress"]
        assert ns["SecondaryIPAddresses"] is None
        assert ns["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}
        br = ns["Networks"]["bridge"]
        assert br["IPAddress"] == "172.17.0.2" and br["Aliases"] is None
        assert br["IPAMConfig"] is None and br["DriverOpts"] is None
        # stopped: Ports is {} (not null)
        await client.post("/containers/c1/stop")
        d = await (await client.get("/containers/c1/json")).json()
        assert d["NetworkSettings"]["Ports"] == {}
        assert d["State"]["ExitCode"] == 143 and d["State"]["Running"] is False
    run(body)


def test_inspect_user_network_has_empty_top_level():
    async def body(client, engine):
        body_ = {"Image": "busybox", "Cmd": ["sleep"], "HostConfig": {"NetworkMode": "web"}}
        await _create(client, "u1", body_)
        await client.post("/containers/u1/start")
        ns = (await (await client.get("/containers/u1/json")).json())["NetworkSettings"]
        assert ns["IPAddress"] == "" and ns["Gateway"] == "" and ns["EndpointID"] == ""
        assert ns["Ports"] == {}
        web = ns["Networks"]["web"]
        assert web["IPAddress"].startswith("172.18.") and len(web["Aliases"]) == 1
    run(body)


def test_list_shape_all_and_limit():
    async def body(client, engine):
        cid = await _create(client, "aa")
        await _create(client, "bb", {"Image": "busybox", "Cmd": ["echo", "hi"]})
        await client.post("/containers/aa/start")
        await client.post("/containers/bb/start")              # exits at once
        running = await (await client.get("/containers/json")).json()
        assert [c["Names"] for c in running] == [["/aa"]]
        c = running[0]
        assert c["Id"] == cid and c["Image"] == "busybox" and c["Command"] == "sleep 100"
        assert c["State"] == "running" and c["Status"].startswith("Up ")
        assert isinstance(c["Created"], int) and c["Mounts"] == []
        assert c["Ports"] == [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080,
                               "Type": "tcp"}]
        assert c["HostConfig"] == {"NetworkMode": "bridge"}
        assert "bridge" in c["NetworkSettings"]["Networks"]
        everything = await (await client.get("/containers/json?all=1")).json()
        assert {c["Names"][0] for c in everything} == {"/aa", "/bb"}
        b = next(c for c in everything if c["Names"] == ["/bb"])
        assert b["Status"].startswith("Exited (0) ") and b["Status"].endswith(" ago")
        one = await (await client.get("/containers/json?limit=1")).json()
        assert len(one) == 1 and one[0]["Names"] == ["/bb"]      # newest first
        f = await (await client.get('/containers/json?all=1&filters={"status":["exited"]}')
                   ).json()
        assert [c["Names"] for c in f] == [["/bb"]]
    run(body)


def test_logs_multiplexed_and_params():
    async def body(client, engine):
        await _create(client, "ee", {"Image": "busybox", "Cmd": ["fail", "3"]})
        await _create(client, "oo", {"Image": "busybox", "Cmd": ["echo", "hello"]})
        await client.post("/containers/ee/start")
        await client.post("/containers/oo/start")
        r = await client.get("/containers/oo/logs?stdout=1&stderr=1")
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/vnd.docker.multiplexed-stream"
        assert demux(await r.read()) == [(1, b"hello\n")]
        r = await client.get("/containers/ee/logs?stdout=1&stderr=1&tail=5&timestamps=1")
        frames = demux(await r.read())
        assert frames[0][0] == 2 and frames[0][1].endswith(b" boom\n")
        assert engine.calls[-1][-4:] == ("5", 0.0, 0.0, True)
        r = await client.get("/containers/ee/logs?stdout=1&stderr=0")
        assert demux(await r.read()) == []
        r = await client.get("/containers/ee/logs")
        assert r.status == 400
        r = await client.get("/containers/nosuch/logs?stdout=1")
        assert r.status == 404
        r = await client.get("/containers/ee/logs?stdout=1&tail=x")
        assert r.status == 400
    run(body)


def test_logs_tty_is_raw():
    async def body(client, engine):
        await _create(client, "tt", {"Image": "busybox", "Cmd": ["echo", "x"], "Tty": True})
        await client.post("/containers/tt/start")
        r = await client.get("/containers/tt/logs?stdout=1")
        assert r.headers["Content-Type"] == "application/vnd.docker.raw-stream"
        assert await r.read() == b"x\n"
    run(body)


def test_logs_follow_streams_until_exit():
    async def body(client, engine):
        import asyncio
        await _create(client)
        await client.post("/containers/c1/start")
        r = await client.get("/containers/c1/logs?stdout=1&stderr=1&follow=1")
        assert r.status == 200                   # headers arrive before any output
        cid = engine.get_container("c1").id
        engine._emit(cid, 1, b"late\n")
        hdr = await asyncio.wait_for(r.content.readexactly(8 + 5), 5)
        assert demux(hdr) == [(1, b"late\n")]
        await client.post("/containers/c1/kill")
        assert await asyncio.wait_for(r.read(), 5) == b""
    run(body)


def test_exec_create_start_inspect():
    async def body(client, engine):
        await _create(client)
        r = await client.post("/containers/c1/exec", json={"Cmd": ["echo", "x"]})
        assert r.status == 409                   # not running
        await client.post("/containers/c1/start")
        r = await client.post("/containers/c1/exec", json={"Cmd": []})
        assert r.status == 400
        r = await client.post("/containers/c1/exec",
                              json={"Cmd": ["fail", "7"], "AttachStdout": True,
                                    "AttachStderr": True, "Env": ["X=1"], "User": "1"})
        assert r.status == 201
        eid = (await r.json())["Id"]
        r = await client.post(f"/exec/{eid}/start", json={"Detach": False, "Tty": False})
        assert r.status == 200
        assert demux(await r.read()) == [(2, b"boom\n")]
        d = await (await client.get(f"/exec/{eid}/json")).json()
        assert d["ExitCode"] == 7 and d["Running"] is False and d["ID"] == eid
        assert d["ProcessConfig"]["entrypoint"] == "fail"
        assert d["ProcessConfig"]["arguments"] == ["7"]
        assert d["ContainerID"] == engine.get_container("c1").id
        r = await client.post(f"/exec/{eid}/start", json={})
        assert r.status == 409
        r = await client.get("/exec/nosuch/json")
        assert r.status == 404 and (await r.json())["message"] == "No such exec instance: nosuch"
        r = await client.post("/containers/c1/exec", json={"Cmd": ["echo", "d"]})
        eid = (await r.json())["Id"]
        r = await client.post(f"/exec/{eid}/start", json={"Detach": True})
        assert r.status == 200 and await r.read() == b""
        assert engine.execs[eid].exit_code == 0
    run(body)


def test_exec_start_upgrade_tcp_like_docker_cli():
    async def body(client, engine):
        await _create(client)
        await client.post("/containers/c1/start")
        r = await client.post("/containers/c1/exec", json={"Cmd": ["echo", "up"]})
        eid = (await r.json())["Id"]
        # speak HTTP by hand: the docker CLI asks for a hijacked connection
        import asyncio
        host, port = client.server.host, client.server.port
        reader, writer = await asyncio.open_connection(host, port)
        body_ = b'{"Detach":false,"Tty":false}'
        writer.write(f"POST /v1.41/exec/{eid}/start HTTP/1.1\r\nHost: x\r\n"
                     "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body_)}\r\n\r\n".encode() + body_)
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        head, _, rest = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101")
        assert b"Upgrade: tcp" in head
        assert demux(rest) == [(1, b"up\n")]
    run(body)


def test_attach_before_start_streams_output():
    async def body(client, engine):
        import asyncio
        await _create(client, "at", {"Image": "busybox", "Cmd": ["echo", "attached"]})
        r = await client.post("/containers/at/attach?stream=1&stdout=1&stderr=1")
        assert r.status == 200                 # headers before the container starts
        w = await client.post("/containers/at/wait?condition=next-exit")
        assert w.status == 200                 # likewise (the docker CLI needs both)
        await client.post("/containers/at/start")
        assert demux(await asyncio.wait_for(r.read(), 5)) == [(1, b"attached\n")]
        assert await asyncio.wait_for(w.json(), 5) == {"StatusCode": 0, "Error": None}
    run(body)

