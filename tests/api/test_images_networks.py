"""HTTP layer: images (list, inspect, streamed import) and networks (§0.1 shapes)."""

from __future__ import annotations

from tests.api.helpers import run


def test_images_list_and_inspect():
    async def body(client, engine):
        imgs = await (await client.get("/images/json")).json()
        assert len(imgs) == 1
        i = imgs[0]
        assert i["RepoTags"] == ["busybox:latest"] and i["Id"].startswith("sha256:")
        assert isinstance(i["Created"], int) and i["Size"] == 4_500_000
        assert {"ParentId", "RepoDigests", "SharedSize", "Labels", "Containers"} <= set(i)
        d = await (await client.get("/v1.41/images/busybox/json")).json()
        assert d["Id"] == i["Id"] and d["Config"]["Cmd"] == ["sh"] and d["Os"] == "linux"
        assert d["RootFS"]["Type"] == "layers"
        r = await client.get("/images/nosuch:1/json")
        assert r.status == 404 and (await r.json())["message"] == "No such image: nosuch:1"
    run(body)


def test_image_import_streams_body():
    async def body(client, engine):
        payload = b"x" * 300_000
        r = await client.post("/images/create?fromSrc=-&repo=my/img&tag=v1", data=payload,
                              headers={"Content-Type": "application/x-tar"})
        assert r.status == 200
        line = await r.json(content_type=None)
        import hashlib
        assert line == {"status": "sha256:" + hashlib.sha256(payload).hexdigest()}
        assert any("my/img:v1" in i.repo_tags for i in engine.images)
        r = await client.post("/images/create?fromSrc=-&repo=other:v2", data=b"y")
        assert r.status == 200
        assert engine.get_image("other:v2").size == 1
        r = await client.post("/images/create?fromSrc=-&repo=BAD", data=b"y")
        assert r.status == 400
        r = await client.post("/images/create?fromImage=busybox&tag=1.36")
        assert r.status == 404                 # no registry: docker-py's ImageNotFound
        assert (await r.json())["message"].startswith("pull access denied for busybox,")
    run(body)


def test_network_list_and_default_bridge_shape():
    async def body(client, engine):
        nets = await (await client.get("/networks")).json()
        assert {n["Name"] for n in nets} == {"bridge", "host", "none", "web"}
        await client.post("/containers/create?name=c1", json={"Image": "busybox",
                                                               "Cmd": ["sleep"]})
        await client.post("/containers/c1/start")
        br = await (await client.get("/networks/bridge")).json()
        assert br["IPAM"] == {"Driver": "default", "Options": None,
                              "Config": [{"Subnet": "172.17.0.0/16"}]}
        assert br["Options"]["com.docker.network.bridge.name"] == "cove0"
        assert br["Options"]["com.docker.network.bridge.default_bridge"] == "true"
        assert len(br["Options"]) == 6 and br["Labels"] == {} and br["Scope"] == "local"
        assert br["ConfigFrom"] == {"Network": ""}
        (cid, member), = br["Containers"].items()
        assert cid == engine.get_container("c1").id
        assert member["Name"] == "c1" and member["IPv4Address"] == "172.17.0.2/16"
        assert member["IPv6Address"] == "" and set(member) == {
            "Name", "EndpointID", "MacAddress", "IPv4Address", "IPv6Address"}
        web = await (await client.get("/networks/web")).json()
        assert web["IPAM"]["Options"] == {} and web["Options"] == {}
        assert web["IPAM"]["Config"] == [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]
        assert web["Labels"] == {"team": "a"} and web["Containers"] == {}
        r = await client.get("/networks/nosuch")
        assert r.status == 404
    run(body)
