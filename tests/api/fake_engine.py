"""An in-memory test double of the engine (cove.engine.api.EngineAPI) for HTTP-layer tests.

Container "processes" are simulated from their argv:
``echo ARGS`` prints ARGS and exits 0; ``fail N`` prints "boom" on stderr and exits N;
anything else runs until stopped (exit 143) or killed (exit 137).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator

from cove.engine.model import Container, ContainerConfig, ExecRecord, Image
from cove.errors import Conflict, InvalidParameter, NotFound, NotModified
from cove.model import new_id, now_iso
from cove.network.model import Endpoint, Network


def _simulate(argv: list[str]) -> tuple[list[tuple[int, bytes]], int | None]:
    """(output, exit code or None while it keeps running)."""
    if argv and argv[0] == "echo":
        return [(1, (" ".join(argv[1:]) + "\n").encode())], 0
    if argv and argv[0] == "fail":
        return [(2, b"boom\n")], int(argv[1]) if len(argv) > 1 else 1
    return [], None


class FakeSink:
    """Stands in for :class:`cove.engine.stdio.StdinSink`: collects what is written."""

    def __init__(self, buf: bytearray) -> None:
        self.buf = buf
        self.closed = False

    async def write(self, data: bytes) -> None:
        self.buf += data

    def close(self) -> None:
        self.closed = True


class FakeEngine:
    def __init__(self) -> None:
        from cove.engine.events import EventBus
        self.events = EventBus()          # GET /events
        self.containers: dict[str, Container] = {}
        self.output: dict[str, list[tuple[float, int, bytes]]] = {}
        self.changed: dict[str, asyncio.Event] = {}
        self.removed: dict[str, asyncio.Event] = {}
        self.endpoints: dict[str, list[tuple[Network, Endpoint]]] = {}
        self.execs: dict[str, ExecRecord] = {}
        self.stdin: dict[str, bytearray] = {}      # container/exec id -> bytes relayed
        self.calls: list[tuple] = []
        self.next_ip = 2
        self.exits: dict[str, int] = {}
        bridge = Network(id=new_id(), name="bridge", driver="bridge", bridge="cove0",
                         subnet="172.17.0.0/16", gateway="172.17.0.1", default=True,
                         created=now_iso())
        web = Network(id=new_id(), name="web", driver="bridge", subnet="172.18.0.0/16",
                      gateway="172.18.0.1", created=now_iso(), labels={"team": "a"})
        web.bridge = "br-" + web.id[:12]
        self.networks = [bridge, Network(id=new_id(), name="host", driver="host"),
                         Network(id=new_id(), name="none", driver="null"), web]
        busybox = Image(id="sha256:" + "ab" * 32, repo_tags=["busybox:latest"],
                        created="2026-01-02T03:04:05.123456789Z", size=4_500_000,
                        layers=["/tmp/layer"], config={"Cmd": ["sh"], "Env": ["PATH=/bin"]})
        self.images = [busybox]

    # -- system
    def cluster_info(self) -> dict:
        return getattr(self, "cluster", {})

    def info(self) -> dict:
        cs = list(self.containers.values())
        running = sum(c.status == "running" for c in cs)
        return {"containers": len(cs), "running": running, "paused": 0,
                "stopped": len(cs) - running, "images": len(self.images),
                "driver": "overlay2", "root": "/var/lib/cove", "exec_root": "/run/cove",
                "name": "testhost", "id": "FAKE:ID", "runtimes": ["native", "runc"],
                "default_runtime": "native"}

    # -- helpers
    def _bump(self, cid: str) -> None:
        self.changed[cid].set()
        self.changed[cid] = asyncio.Event()

    def _emit(self, cid: str, stream: int, data: bytes) -> None:
        self.output[cid].append((time.time(), stream, data))
        self._bump(cid)

    async def _exited(self, c: Container, code: int) -> None:
        c.status, c.exit_code, c.pid, c.finished_at = "exited", code, 0, now_iso()
        c.netns_path = ""
        self.exits[c.id] = self.exits.get(c.id, 0) + 1
        self._bump(c.id)
        if c.config.auto_remove:
            await self.remove_container(c.id, force=True)

    # -- containers
    async def create_container(self, config: ContainerConfig, name: str | None) -> Container:
        self.calls.append(("create", config, name))
        img = self.get_image(config.image)
        if config.network_mode not in ("bridge", "host", "none", "default"):
            self.get_network(config.network_mode)
        name = name or f"fake_{len(self.containers)}_{new_id()[:4]}"
        for other in self.containers.values():
            if other.name == name:
                raise Conflict(f'Conflict. The container name "/{name}" is already in use by '
                               f'container "{other.id}". You have to remove (or rename) that '
                               "container to be able to reuse that name.")
        argv = [*config.entrypoint, *(config.cmd or img.config.get("Cmd") or [])]
        c = Container(id=new_id(), name=name, created=now_iso(), config=config,
                      image_id=img.id, path=argv[0] if argv else "", args=argv[1:])
        self.containers[c.id] = c
        self.output[c.id] = []
        self.changed[c.id] = asyncio.Event()
        self.removed[c.id] = asyncio.Event()
        self.endpoints[c.id] = []
        return c

    async def start_container(self, ref: str) -> None:
        c = self.get_container(ref)
        if c.status == "running":
            raise NotModified(f"container {c.id} is already running")
        c.status, c.pid, c.started_at = "running", 4242, now_iso()
        c.sandbox_id = new_id()
        c.netns_path = f"/run/cove/netns/{c.sandbox_id[:12]}"
        mode = c.config.network_mode
        if not self.endpoints[c.id] and mode not in ("host", "none"):
            net = self.get_network("bridge" if mode in ("bridge", "default") else mode)
            prefix = net.subnet.rsplit(".", 2)[0]
            ip = f"{prefix}.0.{self.next_ip}"
            self.next_ip += 1
            self.endpoints[c.id].append((net, Endpoint(
                id=new_id(), network_id=net.id, container_id=c.id, ip=ip, prefixlen=16,
                mac="02:42:ac:11:00:%02x" % (self.next_ip - 1), gateway=net.gateway,
                host_ifname="veth" + new_id()[:7])))
        self._bump(c.id)
        out, code = _simulate([c.path, *c.args])
        for stream, data in out:
            self._emit(c.id, stream, data)
        if code is not None:
            await self._exited(c, code)

    async def stop_container(self, ref: str, timeout: int | None = None) -> None:
        c = self.get_container(ref)
        self.calls.append(("stop", c.id, timeout))
        if c.status != "running":
            raise NotModified(f"container {c.id} is not running")
        await self._exited(c, 143)

    async def kill_container(self, ref: str, signal: str | int = "KILL") -> None:
        c = self.get_container(ref)
        self.calls.append(("kill", c.id, signal))
        if c.status != "running":
            raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
        await self._exited(c, 137)

    async def update_container(self, ref: str, resources: dict[str, int],
                               restart_policy: dict | None = None) -> list[str]:
        from cove.engine.update import merge  # the real validation, no cgroup
        c = self.get_container(ref)
        self.calls.append(("update", c.id, dict(resources), restart_policy))
        for k, v in merge(c.config, resources, restart_policy).items():
            setattr(c.config, k, v)
        return []

    async def pause_container(self, ref: str) -> None:
        c = self.get_container(ref)
        self.calls.append(("pause", c.id))
        if c.status != "running" or c.paused:
            raise Conflict(f"Container {c.id} is not running or already paused")
        c.paused = True

    async def unpause_container(self, ref: str) -> None:
        c = self.get_container(ref)
        self.calls.append(("unpause", c.id))
        if not c.paused:
            raise Conflict(f"Container {c.id} is not paused")
        c.paused = False

    async def container_stats(self, ref: str) -> dict:
        c = self.get_container(ref)
        sample = {"read": now_iso(), "online_cpus": 2, "system_cpu_usage": 10**12,
                  "name": c.name, "id": c.id}
        if c.status == "running":
            sample.update(cpu_usage=5 * 10**8, cpu_user=4 * 10**8, cpu_system=10**8,
                          throttled_periods=0, throttled_time=0, memory_usage=4 << 20,
                          memory_limit=32 << 20, memory_max_usage=5 << 20,
                          memory_cache=1 << 20, pids_current=1, pids_limit=10)
        return sample

    async def wait_container(self, ref: str, condition: str = "not-running") -> int:
        c = self.get_container(ref)
        if condition == "removed":
            await self.removed[c.id].wait()
            return c.exit_code
        if condition == "not-running" and c.status != "running":
            return c.exit_code
        seen = self.exits.get(c.id, 0)
        while self.exits.get(c.id, 0) == seen:
            await self.changed[c.id].wait()
        return c.exit_code

    async def remove_container(self, ref: str, force: bool = False) -> None:
        c = self.get_container(ref)
        if c.status == "running":
            if not force:
                raise Conflict(f"You cannot remove a running container {c.id}. Stop the "
                               "container before attempting removal or force remove")
            await self._exited(c, 137)
            if c.id not in self.containers:
                return
        del self.containers[c.id]
        self._bump(c.id)
        self.removed[c.id].set()

    async def remove_link(self, name: str) -> None:
        parent, _, alias = name.strip("/").rpartition("/")
        if not parent:
            raise Conflict("Conflict, cannot remove the default link name")
        c = self.get_container(parent)
        keep = [s for s in c.config.links if (s.split(":") + [s])[1].lstrip("/") != alias]
        if len(keep) == len(c.config.links):
            raise NotFound(f"No such container: {name}")
        c.config.links = keep

    async def prune_containers(self, match=None) -> tuple[list[str], int]:
        gone = [c for c in list(self.containers.values())
                if c.status not in ("running", "paused") and (match is None or match(c))]
        for c in gone:
            await self.remove_container(c.id)
        return [c.id for c in gone], 4096 * len(gone)

    def get_container(self, ref: str) -> Container:
        if not ref:
            raise NotFound("No such container: ")
        if ref in self.containers:
            return self.containers[ref]
        for c in self.containers.values():
            if c.name == ref.lstrip("/"):
                return c
        hits = [c for c in self.containers.values() if c.id.startswith(ref)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def list_containers(self, all: bool = False) -> list[Container]:
        return [c for c in self.containers.values() if all or c.status == "running"]

    def container_endpoints(self, c: Container) -> list[tuple[Network, Endpoint]]:
        return list(self.endpoints.get(c.id, []))

    async def logs(self, ref: str, stdout: bool = True, stderr: bool = True,
                   follow: bool = False, tail: str = "all", since: float = 0,
                   until: float = 0, timestamps: bool = False
                   ) -> AsyncIterator[tuple[int, bytes]]:
        c = self.get_container(ref)
        self.calls.append(("logs", c.id, stdout, stderr, follow, tail, since, until, timestamps))
        entries = self.output[c.id]
        start = 0 if tail == "all" else max(0, len(entries) - int(tail))
        i = start
        while True:
            while i < len(entries):
                ts, stream, data = entries[i]
                i += 1
                if (stream == 1 and not stdout) or (stream == 2 and not stderr):
                    continue
                if since and ts < since:
                    continue
                if timestamps:
                    data = b"2026-01-01T00:00:00.000000000Z " + data
                yield stream, data
            if not follow or c.status != "running" or c.id not in self.containers:
                return
            await self.changed[c.id].wait()

    async def attach(self, ref: str, stdout: bool = True, stderr: bool = True,
                     logs: bool = False, stream: bool = True
                     ) -> AsyncIterator[tuple[int, bytes]]:
        c = self.get_container(ref)
        self.calls.append(("attach", c.id, stdout, stderr, logs, stream))
        entries = self.output[c.id]
        i = 0 if logs else len(entries)
        while True:
            while i < len(entries):
                _ts, s, data = entries[i]
                i += 1
                if (s == 1 and stdout) or (s == 2 and stderr):
                    yield s, data
            if not stream or c.status not in ("running", "created") \
                    or c.id not in self.containers:
                return
            await self.changed[c.id].wait()

    # -- exec
    async def exec_create(self, ref: str, cmd: list[str], env: list[str] | None = None,
                          working_dir: str = "", user: str = "", tty: bool = False,
                          attach_stdout: bool = True, attach_stderr: bool = True,
                          attach_stdin: bool = False, detach_keys: str = "") -> str:
        c = self.get_container(ref)
        if c.status != "running":
            raise Conflict(f"Container {c.id} is not running")
        e = ExecRecord(id=new_id(), container_id=c.id, cmd=cmd, env=env or [],
                       working_dir=working_dir, user=user, tty=tty,
                       attach_stdout=attach_stdout, attach_stderr=attach_stderr,
                       attach_stdin=attach_stdin, detach_keys=detach_keys)
        self.execs[e.id] = e
        return e.id

    # -- issue 6: stdin and tty size (records what a client sent)
    async def attach_stdin(self, ref: str) -> FakeSink | None:
        c = self.get_container(ref)
        if not c.config.open_stdin:
            return None
        return FakeSink(self.stdin.setdefault(c.id, bytearray()))

    async def exec_stdin(self, exec_id: str) -> FakeSink | None:
        e = self.exec_inspect(exec_id)
        return FakeSink(self.stdin.setdefault(e.id, bytearray())) if e.attach_stdin else None

    async def resize_container(self, ref: str, height: int, width: int) -> None:
        c = self.get_container(ref)
        if c.status != "running":
            raise Conflict(f"Container {c.id} is not running")
        self.calls.append(("resize", c.id, height, width))

    async def resize_exec(self, exec_id: str, height: int, width: int) -> None:
        self.calls.append(("resize_exec", self.exec_inspect(exec_id).id, height, width))

    async def exec_start(self, exec_id: str, detach: bool = False
                         ) -> AsyncIterator[tuple[int, bytes]]:
        e = self.exec_inspect(exec_id)
        if e.running or e.exit_code is not None:
            raise Conflict(f"exec {exec_id} has already been started")
        e.running, e.pid = True, 4343
        out, code = _simulate(e.cmd)
        if code is None:
            code = 0
        e.running, e.exit_code = False, code
        if detach:
            return
        for stream, data in out:
            yield stream, data

    def exec_inspect(self, exec_id: str) -> ExecRecord:
        if exec_id not in self.execs:
            raise NotFound(f"No such exec instance: {exec_id}")
        return self.execs[exec_id]

    # -- images
    def list_images(self) -> list[Image]:
        return list(self.images)

    def get_image(self, ref: str) -> Image:
        want = ref if ":" in ref.rsplit("/", 1)[-1] else ref + ":latest"
        for img in self.images:
            if want in img.repo_tags or img.id == ref or img.id[7:].startswith(ref):
                return img
        raise NotFound(f"No such image: {ref}")

    async def import_image(self, data: AsyncIterator[bytes], repo: str, tag: str) -> Image:
        h = hashlib.sha256()
        size = 0
        async for chunk in data:
            h.update(chunk)
            size += len(chunk)
        if size == 0:
            raise InvalidParameter("image import: empty tarball")
        ref = f"{repo}:{tag}"
        for other in self.images:
            if ref in other.repo_tags:
                other.repo_tags.remove(ref)
        img = Image(id="sha256:" + h.hexdigest(), repo_tags=[ref], created=now_iso(),
                    size=size, layers=[])
        self.images.append(img)
        return img

    async def commit_container(self, ref: str, repo_tag: str = "", comment: str = "",
                               author: str = "", changes: list[str] | None = None,
                               config: dict | None = None, pause: bool = True) -> Image:
        from cove.images.commit import apply_changes
        c = self.get_container(ref)
        cfg = apply_changes({"Cmd": list(c.config.cmd), **(config or {})}, changes or [])
        img = Image(id="sha256:" + hashlib.sha256(f"{c.id}{now_iso()}".encode()).hexdigest(),
                    repo_tags=[repo_tag] if repo_tag else [], created=now_iso(), size=0,
                    layers=[], config=cfg, comment=comment, author=author)
        self.images.append(img)
        return img

    async def load_images(self, data: AsyncIterator[bytes]) -> list[Image]:
        """A fake archive: the body is a JSON list of repo tags."""
        import json
        raw = b"".join([c async for c in data])
        try:
            tags = json.loads(raw)
        except ValueError as exc:
            raise InvalidParameter("invalid docker archive: no readable manifest.json") \
                from exc
        img = Image(id="sha256:" + hashlib.sha256(raw).hexdigest(), repo_tags=tags,
                    created=now_iso(), size=len(raw), layers=[])
        self.images.append(img)
        return [img]

    async def save_images(self, refs: list[str]) -> AsyncIterator[bytes]:
        imgs = [self.get_image(r) for r in refs]

        async def chunks() -> AsyncIterator[bytes]:
            for img in imgs:
                yield img.id.encode()
        return chunks()

    async def remove_image(self, ref: str, force: bool = False) -> list[dict[str, str]]:
        img = self.get_image(ref)
        if any(c.image_id == img.id for c in self.containers.values()) and not force:
            raise Conflict(f"conflict: unable to remove repository reference \"{ref}\"")
        self.images.remove(img)
        return [{"Untagged": t} for t in img.repo_tags] + [{"Deleted": img.id}]

    # -- networks
    def list_networks(self) -> list[Network]:
        return list(self.networks)

    def get_network(self, ref: str) -> Network:
        for n in self.networks:
            if ref in (n.id, n.name) or (len(ref) >= 3 and n.id.startswith(ref)):
                return n
        raise NotFound(f"network {ref} not found")

    def network_endpoints(self, net: Network) -> list[tuple[Container, Endpoint]]:
        return [(self.containers[cid], ep) for cid, eps in self.endpoints.items()
                if cid in self.containers for n, ep in eps if n.id == net.id]

    # -- user-defined networks (issue 4)
    async def create_network(self, name: str, **kw) -> Network:
        if any(n.name == name for n in self.networks) and kw.get("check_duplicate", True):
            raise Conflict(f"network with name {name} already exists")
        subnet = kw.get("subnet") or f"172.{18 + len(self.networks)}.0.0/16"
        net = Network(id=new_id(), name=name, driver=kw.get("driver") or "bridge",
                      bridge="", subnet=subnet, gateway=kw.get("gateway") or "",
                      created=now_iso(), internal=bool(kw.get("internal")),
                      options=dict(kw.get("options") or {}),
                      labels=dict(kw.get("labels") or {}))
        if kw.get("ipam_options", False) is not False:
            net.ipam = {"Options": kw["ipam_options"]}
        self.networks.append(net)
        return net

    async def remove_network(self, ref: str) -> None:
        net = self.get_network(ref)
        if self.network_endpoints(net):
            from cove.errors import Forbidden
            raise Forbidden(f"error while removing network: network {net.name} id {net.id}"
                            " has active endpoints")
        self.networks.remove(net)

    async def prune_networks(self) -> list[str]:
        gone = [n for n in self.networks if n.driver == "bridge" and n.name != "bridge"
                and not self.network_endpoints(n)]
        for n in gone:
            self.networks.remove(n)
        return [n.name for n in gone]

    async def connect_network(self, net_ref: str, container_ref: str, ip: str = "",
                              aliases: list[str] | None = None,
                              links: list[str] | None = None, mac: str = "",
                              driver_opts: dict[str, str] | None = None, ip6: str = "",
                              link_local_ips: list[str] | None = None) -> None:
        net = self.get_network(net_ref)
        c = self.get_container(container_ref)
        eps = self.endpoints.setdefault(c.id, [])
        if any(n.id == net.id for n, _ in eps):
            raise Conflict(f"endpoint with name {c.name} already exists in network {net.name}")
        eps.append((net, Endpoint(id=new_id(), network_id=net.id, container_id=c.id,
                                  ifname=f"eth{len(eps)}", ip=ip or "172.18.0.2",
                                  prefixlen=16, aliases=list(aliases or []))))

    async def disconnect_network(self, net_ref: str, container_ref: str,
                                 force: bool = False) -> None:
        net = self.get_network(net_ref)
        c = self.get_container(container_ref)
        eps = self.endpoints.get(c.id, [])
        keep = [(n, e) for n, e in eps if n.id != net.id]
        if len(keep) == len(eps):
            from cove.errors import Forbidden
            raise Forbidden(f"container {c.id} is not connected to network {net.name}")
        self.endpoints[c.id] = keep
