"""Container lifecycle: wires the store, the network controller, the image store and the
execution drivers together.

Every operation validates first, applies step by step with an undo stack, and commits the
store last. Blocking kernel and runtime work runs on worker threads (``asyncio.to_thread``);
the event loop only waits. A container's exit is noticed through a pidfd on the driver's
monitor process, so it is seen even for containers re-adopted after a daemon restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import platform
import shutil
import signal as _signal
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from cove.engine import archive, containerops, events, hostconfig, hostmodes, networking, stdio
from cove.engine import logs as logfile
from cove.engine import ports as engports
from cove.engine import update as engupdate
from cove.engine.health import HealthMonitor
from cove.engine.model import Container, ContainerConfig, ExecRecord, Image
from cove.engine.names import random_name, validate_name
from cove.engine.pipes import read_ready
from cove.engine.restart import Restarter
from cove.engine.volumes import (
    VolumeStore,
    check_binds,
    ensure_volumes,
    resolve_binds,
    volume_names_in_binds,
)
from cove.errors import (
    Conflict,
    CoveError,
    InvalidParameter,
    NotFound,
    NotModified,
    Unsupported,
)
from cove.model import from_dict, new_id, now_iso, to_dict
from cove.network import files as netfiles
from cove.network.gwbridge import is_gwbridge
from cove.network.model import Endpoint, Network
from cove.runtime.base import ContainerSpec, ExecutionDriver, Mount
from cove.store import Store

log = logging.getLogger("cove.engine")

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ZERO_TIME = "0001-01-01T00:00:00Z"


class Undo:
    """An undo stack: register the inverse of each applied step; run all on failure."""

    def __init__(self) -> None:
        self._steps: list[Callable[[], object]] = []

    def push(self, fn: Callable[[], object]) -> None:
        self._steps.append(fn)

    def rollback(self) -> None:
        while self._steps:
            fn = self._steps.pop()
            try:
                fn()
            except Exception:  # noqa: BLE001 - undo continues past errors
                log.exception("rollback step failed")


def signal_number(sig: str | int) -> int:
    """'KILL', 'SIGKILL', '9' or 9 → 9; InvalidParameter otherwise."""
    if isinstance(sig, int):
        num = sig
    else:
        s = sig.strip().upper()
        if s.isdigit():
            num = int(s)
        else:
            name = s if s.startswith("SIG") else "SIG" + s
            try:
                num = int(getattr(_signal.Signals, name))
            except AttributeError:
                raise InvalidParameter(f"Invalid signal: {sig}") from None
    if not 0 < num < 65:
        raise InvalidParameter(f"Invalid signal: {sig}")
    return num


class Engine:
    """The daemon's core. See :class:`cove.engine.api.EngineAPI` for the contract."""

    def __init__(self, root: str, exec_root: str, store: Store, network, images,
                 drivers: dict[str, ExecutionDriver], default_runtime: str = "native",
                 dns=None) -> None:
        self.root = root
        self.exec_root = exec_root
        self.store = store
        self.network = network
        self.images = images
        self.drivers = drivers
        self.default_runtime = default_runtime
        self.dns = dns                    # the embedded DNS server (cove.network.dns)
        self.volumes = VolumeStore(root, store)
        self.id = new_id()[:36]
        self._containers: dict[str, Container] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._exit_events: dict[str, asyncio.Event] = {}
        self._removed_events: dict[str, asyncio.Event] = {}
        self._watched: dict[str, int] = {}
        self._execs: dict[str, ExecRecord] = {}
        self._exec_io: dict[str, stdio.ExecIO] = {}      # running execs' fds (issue 6)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.restarts = Restarter(self)       # restart policies (cove.engine.restart)
        self.health = HealthMonitor(self)     # healthchecks (cove.engine.health)
        self.events = events.EventBus()       # GET /events (cove.engine.events)

    # ------------------------------------------------------------------ start-up
    async def start(self) -> None:
        """Load containers, re-adopt running ones, then reconcile the network."""
        self._loop = asyncio.get_running_loop()
        for doc in self.store.list("container"):
            doc["config"] = from_dict(ContainerConfig, doc["config"])
            c = from_dict(Container, doc)
            self._containers[c.id] = c
        keep: set[str] = set()
        for c in list(self._containers.values()):
            if c.status != "running":
                continue
            driver = self.drivers.get(c.driver)
            st = await asyncio.to_thread(driver.state, c.id) if driver else None
            if st is not None and st.running and self._watch(c):
                if c.sandbox_id:
                    keep.add(c.sandbox_id)
                self.health.start(c)
                continue
            await self._mark_exited(c, st.exit_code if st and st.exit_code is not None else 255,
                                    st.finished_at if st else "")
        await asyncio.to_thread(self.network.start, keep)
        await networking.readopt_dns(self)
        for c in list(self._containers.values()):
            if c.status == "exited" and c.config.auto_remove:
                await self._remove(c)
        self.restarts.at_boot(list(self._containers.values()))

    async def close(self) -> None:
        """Stop watching; containers keep running (they are re-adopted at the next start)."""
        await self.restarts.close()
        await self.health.close()
        for cid in list(self._watched):
            self._unwatch(cid)
        for d in self.drivers.values():
            await asyncio.to_thread(d.close)
        if self.dns is not None:
            await self.dns.close()

    # ------------------------------------------------------------------ lookups
    def get_container(self, ref: str) -> Container:
        if not ref:
            raise NotFound("No such container: ")
        c = self._containers.get(ref)
        if c:
            return c
        name = ref.lstrip("/")
        for c in self._containers.values():
            if c.name == name:
                return c
        matches = [c for c in self._containers.values() if c.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidParameter(f"Multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def list_containers(self, all: bool = False) -> list[Container]:
        cs = sorted(self._containers.values(), key=lambda c: c.created, reverse=True)
        return [c for c in cs if all or c.status == "running"]

    def container_endpoints(self, c: Container) -> list[tuple[Network, Endpoint]]:
        out = []
        for ep in self.network.endpoints(c.id):
            try:
                net = self.network.network(ep.network_id)
            except NotFound:
                continue
            if not is_gwbridge(net):      # hidden, as Docker hides docker_gwbridge's
                out.append((net, ep))
        return out

    def container_dir(self, cid: str) -> Path:
        return Path(self.root) / "containers" / cid

    def log_path(self, cid: str) -> str:
        return str(self.container_dir(cid) / f"{cid}-json.log")

    # ------------------------------------------------------------------ create
    async def create_container(self, config: ContainerConfig, name: str | None) -> Container:
        taken = {c.name for c in self._containers.values()}
        if name:
            name = validate_name(name)
            for c in self._containers.values():
                if c.name == name:
                    raise Conflict(
                        f'Conflict. The container name "/{name}" is already in use by container'
                        f' "{c.id}". You have to remove (or rename) that container to be able'
                        " to reuse that name."
                    )
        else:
            name = random_name(taken)
        runtime = config.runtime or self.default_runtime
        if runtime not in self.drivers:
            raise InvalidParameter(f"Unknown runtime specified {runtime}")
        config.runtime = runtime
        mode = config.network_mode or "bridge"
        if mode == "default":
            mode = "bridge"
        config.network_mode = mode
        if mode.startswith("container:"):
            raise InvalidParameter("network mode container: is not supported yet")
        if mode not in ("host", "none"):
            self.network.network(mode)  # NotFound: network X not found
        image = self.images.get(config.image)
        icfg = image.config or {}
        entrypoint = config.entrypoint or icfg.get("Entrypoint") or []
        cmd = config.cmd or ([] if config.entrypoint else icfg.get("Cmd") or [])
        argv = list(entrypoint) + list(cmd)
        if not argv:
            raise InvalidParameter("No command specified")
        if any(not isinstance(a, str) for a in argv):
            raise InvalidParameter("command arguments must be strings")
        for e in config.env:     # "KEY" alone is kept in the config, as Docker does
            if not isinstance(e, str) or not e or e.startswith("="):
                raise InvalidParameter(f"invalid environment variable: {e}")
        hostconfig.validate(dataclasses.replace(
            config, binds=check_binds(self.volumes, config.binds)))
        hostmodes.check_create(self, config)
        cid = new_id()
        if not config.hostname:
            config.hostname = "" if "host" in (mode, config.uts_mode) else cid[:12]
        if not config.working_dir:
            config.working_dir = icfg.get("WorkingDir") or ""
        c = Container(
            id=cid, name=name, created=now_iso(), config=config, image_id=image.id,
            path=argv[0], args=argv[1:], driver=runtime,
        )
        networking.check_create(self, c)
        engports.resolve_links(self, c)
        ep_ip, ep_aliases, ep_mac = networking.endpoint_request(c, mode)
        undo = Undo()
        try:
            cdir = self.container_dir(cid)
            cdir.mkdir(parents=True)
            undo.push(lambda: shutil.rmtree(cdir, ignore_errors=True))
            made, config.anon_volumes = ensure_volumes(
                self.volumes, [*config.binds, *config.inherited_binds], config.volumes)
            undo.push(lambda: [self.volumes.remove(v, [], force=True) for v in made])
            endpoints = await asyncio.to_thread(
                self.network.create_endpoints, cid, mode, ep_ip, ep_aliases, ep_mac,
                **networking.endpoint_extras(self, c, mode))
            undo.push(lambda: self.network.delete_endpoints(cid))
            self._write_files(c, endpoints)
            self.store.put("container", cid, to_dict(c))
        except BaseException:
            await asyncio.to_thread(undo.rollback)
            raise
        self._containers[cid] = c
        events.container(self, c, "create")
        return c

    def _write_files(self, c: Container, endpoints: list[Endpoint]) -> None:
        cdir = self.container_dir(c.id)
        cfg = c.config
        hostname = cfg.hostname if "host" not in (cfg.network_mode, cfg.uts_mode) else (
            cfg.hostname or platform.node())
        own = [(ep.ip, hostname) for ep in endpoints[:1] if ep.ip] + [
            (ep.ip6, hostname) for ep in endpoints[:1] if getattr(ep, "ip6", "")]
        (cdir / "hostname").write_text(netfiles.render_hostname(hostname))
        (cdir / "hosts").write_text(
            netfiles.render_hosts(own, extra_hosts=self._extra_hosts(cfg.extra_hosts),
                                  records=engports.link_records(self, c)))
        (cdir / "resolv.conf").write_text(
            netfiles.render_resolv_conf(
                _read_host_resolv(), dns=cfg.dns, dns_search=cfg.dns_search,
                dns_options=cfg.dns_options,
                embedded=networking.mode_is_user_network(self, cfg.network_mode)))

    def _extra_hosts(self, items: list[str]) -> list[tuple[str, str]]:
        out = []
        for item in items:
            host, sep, ip = item.partition(":")
            if not sep or not host or not ip:
                raise InvalidParameter(f"invalid argument \"{item}\" for \"--add-host\" flag")
            if ip == "host-gateway":
                ip = networking.host_gateway(self)
            out.append((ip, host))
        return out

    # ------------------------------------------------------------------ start
    def _lock(self, cid: str) -> asyncio.Lock:
        return self._locks.setdefault(cid, asyncio.Lock())

    async def start_container(self, ref: str) -> None:
        c = self.get_container(ref)
        async with self._lock(c.id):
            if c.status == "running":
                raise NotModified(f"container {c.id} is already started")
            if c.status in ("removing", "dead"):
                raise Conflict(f"cannot start a container in state {c.status}")
            if c.status == "restarting":
                raise NotModified(f"container {c.id} is restarting")
            self.restarts.reset(c)
            await self._start(c)

    async def _start(self, c: Container) -> None:
        driver = self.drivers[c.driver]
        undo = Undo()
        marks = [("begin", time.perf_counter())]
        try:
            sandbox = await asyncio.to_thread(
                self.network.create_sandbox, c.id, c.config.network_mode)
            undo.push(lambda: self.network.delete_sandbox(c.id, sandbox.id))
            marks.append(("sandbox", time.perf_counter()))
            await engports.publish(self, c)
            undo.push(lambda: engports.unpublish_now(self, c))
            if sandbox.netns_path and networking.wants_embedded_dns(self, c):
                await networking.dns_attach(self, c.id, sandbox.netns_path)
            marks.append(("ports+dns", time.perf_counter()))
            spec = self._spec(c, sandbox.netns_path)
            await asyncio.to_thread(driver.create, spec)
            undo.push(lambda: driver.delete(c.id))
            marks.append(("driver.create", time.perf_counter()))
            monitor = await asyncio.to_thread(driver.start, spec)
            await engupdate.apply_extra(self, c)
            marks.append(("driver.start", time.perf_counter()))
            st = await asyncio.to_thread(driver.state, c.id)
            marks.append(("state", time.perf_counter()))
        except BaseException as exc:
            await networking.dns_detach(self, c.id)
            await asyncio.to_thread(undo.rollback)
            if isinstance(exc, CoveError):
                c.error = exc.message
                self._save(c)
            raise
        c.status = "running"
        c.pid = st.pid
        c.monitor_pid = monitor
        c.exit_code = 0
        c.error = ""
        c.oom_killed = False
        c.started_at = st.started_at or now_iso()
        c.finished_at = ZERO_TIME
        c.sandbox_id = sandbox.id
        c.netns_path = sandbox.netns_path or ""
        self._exit_events.setdefault(c.id, asyncio.Event())
        self.health.start(c)
        self._save(c)
        events.endpoints(self, c, "connect")
        events.container(self, c, "start")
        await networking.dns_sync(self)
        marks.append(("saved", time.perf_counter()))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("start %s: %s", c.short_id, " ".join(
                f"{name}={(t - prev) * 1000:.1f}ms"
                for (name, t), (_, prev) in zip(marks[1:], marks, strict=False)))
        if not self._watch(c):
            await self._on_exit(c.id)

    def _spec(self, c: Container, netns_path: str | None) -> ContainerSpec:
        image = self.images.get(c.image_id)
        icfg = image.config or {}
        env = _merge_env(
            [DEFAULT_PATH, f"HOSTNAME={c.config.hostname}"] if c.config.hostname else
            [DEFAULT_PATH], engports.link_env(self, c), icfg.get("Env") or [], c.config.env)
        cdir = self.container_dir(c.id)
        return ContainerSpec(
            id=c.id, args=[c.path, *c.args], env=env,
            cwd=c.config.working_dir or "/", hostname=c.config.hostname,
            user=c.config.user or icfg.get("User") or "",
            lower_dirs=list(reversed(image.layers)),
            state_dir=str(cdir / "fs"), netns_path=netns_path,
            mounts=[
                Mount(str(cdir / "hosts"), "/etc/hosts"),
                Mount(str(cdir / "resolv.conf"), "/etc/resolv.conf"),
                Mount(str(cdir / "hostname"), "/etc/hostname"),
                *hostconfig.validate(self._with_volumes(c.config)),
            ],
            log_path=self.log_path(c.id),
            open_stdin=c.config.open_stdin,
            tty=c.config.tty,
            **hostconfig.spec_fields(c.config),
            **hostmodes.spec_fields(self, c),
            extra_limits=engupdate.extra_limits(c.config),
        )

    def _save(self, c: Container) -> None:
        self.store.put("container", c.id, to_dict(c))

    # ------------------------------------------------------------------ exit handling
    def _watch(self, c: Container) -> bool:
        """Watch the driver's monitor pid; False if it is already gone."""
        assert self._loop is not None
        try:
            fd = os.pidfd_open(c.monitor_pid)
        except (ProcessLookupError, OSError):
            return False
        self._watched[c.id] = fd
        self._exit_events.setdefault(c.id, asyncio.Event())
        self._loop.add_reader(fd, lambda: asyncio.ensure_future(self._on_exit(c.id)))
        return True

    def _unwatch(self, cid: str) -> None:
        fd = self._watched.pop(cid, None)
        if fd is not None and self._loop is not None:
            self._loop.remove_reader(fd)
            os.close(fd)

    async def _on_exit(self, cid: str) -> None:
        self._unwatch(cid)
        c = self._containers.get(cid)
        if c is None or c.status != "running":
            return
        async with self._lock(cid):
            if c.status != "running":
                return
            st = await asyncio.to_thread(self.drivers[c.driver].state, cid)
            code = st.exit_code if st.exit_code is not None else 255
            c.oom_killed = st.oom_killed
            started_at = c.started_at
            await self._mark_exited(c, code, st.finished_at)
            self.restarts.on_exit(c, _seconds_since(started_at))
        if c.config.auto_remove:
            await self._remove(c)

    async def _mark_exited(self, c: Container, code: int, finished_at: str) -> None:
        errors = []
        self.health.stop(c.id)
        await networking.dns_detach(self, c.id)
        try:
            await engports.unpublish(self, c)
        except CoveError as exc:
            errors.append(exc.message)
        if c.sandbox_id or c.netns_path:
            try:
                await asyncio.to_thread(self.network.delete_sandbox, c.id, c.sandbox_id)
            except CoveError as exc:
                errors.append(exc.message)
        c.status = "exited"
        c.paused = False
        c.exit_code = code
        c.pid = 0
        c.monitor_pid = 0
        c.finished_at = finished_at or now_iso()
        c.sandbox_id = ""
        c.netns_path = ""
        if errors:
            log.warning("teardown of %s: %s", c.id[:12], "; ".join(errors))
        self._save(c)
        events.container(self, c, "die", exitCode=str(code))
        events.endpoints(self, c, "disconnect")
        await networking.dns_sync(self)
        ev = self._exit_events.pop(c.id, None)
        if ev:
            ev.set()

    # ------------------------------------------------------------------ volumes
    def _with_volumes(self, config: ContainerConfig) -> ContainerConfig:
        """``config`` with named and anonymous volumes as binds of their mountpoints."""
        binds = resolve_binds(self.volumes, [*config.binds, *config.anon_volumes,
                                             *config.inherited_binds], True)
        return config if binds == config.binds else dataclasses.replace(config, binds=binds)

    def volume_users(self, name: str) -> list[str]:
        return [c.id for c in self._containers.values()
                if name in volume_names_in_binds([*c.config.binds, *c.config.anon_volumes,
                                                  *c.config.inherited_binds])]

    def create_volume(self, name: str = "", driver: str = "local",
                      labels: dict | None = None, options: dict | None = None) -> dict:
        return self.volumes.create(name, driver, labels, options)

    def list_volumes(self) -> list[dict]:
        return self.volumes.list()

    def get_volume(self, name: str) -> dict:
        return self.volumes.get(name)

    def remove_volume(self, name: str, force: bool = False) -> None:
        self.volumes.remove(name, self.volume_users(name), force)

    def prune_volumes(self, labels: list[str]) -> tuple[list[str], int]:
        used = {v for c in self._containers.values()
                for v in volume_names_in_binds([*c.config.binds, *c.config.anon_volumes,
                                                *c.config.inherited_binds])}
        return self.volumes.prune(used, labels)

    # ------------------------------------------------------------------ archive (docker cp)
    def _archive_layout(self, ref: str) -> archive.Layout:
        c = self.get_container(ref)
        mounts = hostconfig.validate(self._with_volumes(c.config))
        return archive.Layout(
            upper=str(self.container_dir(c.id) / "fs" / "upper"),
            lowers=list(reversed(self.images.get(c.image_id).layers)),
            mounts=[(m.destination, m.source, m.readonly) for m in mounts])

    def archive_stat(self, ref: str, path: str) -> dict:
        return archive.stat_path(self._archive_layout(ref), path)

    def archive_get(self, ref: str, path: str) -> bytes:
        return archive.get_tar(self._archive_layout(ref), path)

    def archive_put(self, ref: str, path: str, data: bytes) -> None:
        archive.put_tar(self._archive_layout(ref), path, data)

    # ------------------------------------------------------------------ rename / top / diff
    async def rename_container(self, ref: str, name: str) -> None:
        c = self.get_container(ref)
        old = c.name
        containerops.rename(self, ref, name)
        events.container(self, c, "rename", oldName=old)

    def top_container(self, ref: str, ps_args: str = "") -> dict:
        return containerops.top(self, ref, ps_args)

    def container_changes(self, ref: str) -> list[dict]:
        return containerops.changes(self, ref)

    # ------------------------------------------------------------------ stop / kill / wait
    async def stop_container(self, ref: str, timeout: int | None = None) -> None:
        c = self.get_container(ref)
        if self.restarts.stop(c):           # was waiting to restart: now stopped
            return
        if c.status != "running":
            raise NotModified(f"container {c.id} is already stopped")
        if timeout is None:
            timeout = getattr(c.config, "stop_timeout", None)
        await self._stop(c, 10 if timeout is None else timeout)
        events.container(self, c, "stop")

    async def _stop(self, c: Container, timeout: float) -> None:
        driver = self.drivers[c.driver]
        if c.paused:  # a frozen process cannot act on SIGTERM
            await self._set_paused(c, False)
        ev = self._exit_events.get(c.id)
        if timeout != 0 and ev is not None:        # -1: wait as long as it takes
            await asyncio.to_thread(driver.kill, c.id, _signal.SIGTERM)
            events.container(self, c, "kill", signal=str(int(_signal.SIGTERM)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ev.wait(), None if timeout < 0 else timeout)
        if c.status == "running":
            await asyncio.to_thread(driver.kill, c.id, _signal.SIGKILL)
            events.container(self, c, "kill", signal=str(int(_signal.SIGKILL)))
            if ev is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ev.wait(), 10)
            if c.status == "running":
                await self._on_exit(c.id)

    # ------------------------------------------------------------------ update
    async def update_container(self, ref: str, resources: dict[str, int],
                               restart_policy: dict | None = None) -> list[str]:
        """``docker update`` (see cove.engine.update); returns warnings."""
        return await engupdate.update(self, ref, resources, restart_policy)

    # ------------------------------------------------------------------ pause / stats
    async def pause_container(self, ref: str) -> None:
        c = self.get_container(ref)
        if c.status != "running":
            raise Conflict(f"Container {c.id} is not running")
        if c.paused:
            raise Conflict(f"Container {c.id} is already paused")
        await self._set_paused(c, True)

    async def unpause_container(self, ref: str) -> None:
        c = self.get_container(ref)
        if c.status != "running" or not c.paused:
            raise Conflict(f"Container {c.id} is not paused")
        await self._set_paused(c, False)

    async def _set_paused(self, c: Container, paused: bool) -> None:
        driver = self.drivers[c.driver]
        fn = getattr(driver, "pause" if paused else "resume", None)
        if fn is None:
            raise Unsupported(f"runtime {c.driver} cannot pause containers")
        await asyncio.to_thread(fn, c.id)
        c.paused = paused
        self._save(c)
        events.container(self, c, "pause" if paused else "unpause")

    async def container_stats(self, ref: str) -> dict:
        """One sample of the container's cgroup counters (see Cgroup.stats) plus
        ``read`` (ISO time), ``online_cpus``, ``system_cpu_usage`` (ns) and ``name``."""
        c = self.get_container(ref)
        sample: dict = {"read": now_iso(), "online_cpus": os.cpu_count() or 1,
                        "system_cpu_usage": _system_cpu_ns(), "name": c.name, "id": c.id}
        fn = getattr(self.drivers.get(c.driver), "stats", None)
        if c.status == "running" and fn is not None:
            with contextlib.suppress(CoveError):
                sample.update(await asyncio.to_thread(fn, c.id))
        return sample

    async def kill_container(self, ref: str, signal: str | int = "KILL") -> None:
        c = self.get_container(ref)
        num = signal_number(signal)
        if c.status != "running":
            raise Conflict(f"Container {c.id} is not running")
        await asyncio.to_thread(self.drivers[c.driver].kill, c.id, num)
        events.container(self, c, "kill", signal=str(num))
        if num == _signal.SIGKILL:
            ev = self._exit_events.get(c.id)
            if ev is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ev.wait(), 10)

    async def wait_container(self, ref: str, condition: str = "not-running") -> int:
        c = self.get_container(ref)
        if condition not in ("not-running", "next-exit", "removed", ""):
            raise InvalidParameter(f"invalid condition: {condition}")
        if condition == "removed":
            ev = self._removed_events.setdefault(c.id, asyncio.Event())
            if c.status == "running":
                await self._exit_events.setdefault(c.id, asyncio.Event()).wait()
            code = c.exit_code
            if c.id in self._containers:
                await ev.wait()
                code = c.exit_code   # a created container's code is known only now
            return code
        if condition == "next-exit" or c.status in ("running", "restarting"):
            await self._exit_events.setdefault(c.id, asyncio.Event()).wait()
        return c.exit_code

    # ------------------------------------------------------------------ remove
    async def remove_container(self, ref: str, force: bool = False) -> None:
        c = self.get_container(ref)
        if c.status in ("running", "restarting"):
            if not force:
                raise Conflict(
                    f"You cannot remove a {c.status} container {c.id}. Stop the container "
                    "before attempting removal or force remove")
            self.restarts.stop(c)
            if c.status == "running":
                await self._stop(c, 0)
        await self._remove(c)

    async def remove_link(self, name: str) -> None:
        from cove.engine.linkremove import remove_link
        await remove_link(self, name)

    async def prune_containers(self, match: Callable[[Container], bool] | None = None
                               ) -> tuple[list[str], int]:
        from cove.engine.prune import prune_containers
        return await prune_containers(self, match)

    async def _remove(self, c: Container) -> None:
        async with self._lock(c.id):
            if c.id not in self._containers:
                return
            c.status = "removing"
            self.restarts.forget(c.id)
            self.health.stop(c.id)
            driver = self.drivers.get(c.driver)
            if driver is not None:
                await asyncio.to_thread(driver.delete, c.id)
            await asyncio.to_thread(self.network.delete_endpoints, c.id)
            await asyncio.to_thread(shutil.rmtree, self.container_dir(c.id), True)
            self.store.delete("container", c.id)
            del self._containers[c.id]
            events.container(self, c, "destroy")
        self._locks.pop(c.id, None)
        ev = self._removed_events.pop(c.id, None)
        if ev:
            ev.set()

    # ------------------------------------------------------------------ logs
    async def logs(self, ref: str, stdout: bool = True, stderr: bool = True,
                   follow: bool = False, tail: str = "all", since: float = 0,
                   until: float = 0, timestamps: bool = False
                   ) -> AsyncIterator[tuple[int, bytes]]:
        c = self.get_container(ref)
        if tail not in ("", "all") and not tail.lstrip("-").isdigit():
            raise InvalidParameter(f"invalid value for tail: {tail}")
        path = self.log_path(c.id)
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                data = f.read()
                offset = f.tell()
        except FileNotFoundError:
            data, offset = "", 0
        lines = data.split("\n")
        pending = lines.pop()  # incomplete last line, if any
        offset -= len(pending.encode())
        for rec in logfile.select(lines, stdout, stderr, tail, since, until, timestamps):
            yield rec
        if follow and not until:
            async for rec in logfile.follow(logfile.open_log(path), offset, stdout, stderr,
                                            timestamps, lambda: c.status == "running"):
                yield rec

    def attach(self, ref: str, stdout: bool = True, stderr: bool = True,
               logs: bool = False, stream: bool = True) -> AsyncIterator[tuple[int, bytes]]:
        """The container's output: its past output when ``logs``, then, when ``stream``,
        what it prints until it exits, waiting for the start of a created container.

        The log is opened here, before the caller starts the container, so even a
        container that exits and is auto-removed at once is read to the end."""
        c = self.get_container(ref)
        f = logfile.open_log(self.log_path(c.id)) if stream else None
        offset = os.fstat(f.fileno()).st_size if f else 0
        events.container(self, c, "attach")
        return self._attach(c, f, offset, stdout, stderr, logs)

    async def _attach(self, c: Container, f, offset: int, stdout: bool, stderr: bool,
                      logs: bool) -> AsyncIterator[tuple[int, bytes]]:
        if logs:
            async for rec in self.logs(c.id, stdout, stderr):
                yield rec
        if f is not None:
            async for rec in logfile.follow(
                    f, offset, stdout, stderr, False,
                    lambda: c.status in ("created", "running") and c.id in self._containers,
                    exited=lambda: self._exit_events.get(c.id)):
                yield rec

    # ------------------------------------------------------------------ exec
    async def exec_create(self, ref: str, cmd: list[str], env: list[str] | None = None,
                          working_dir: str = "", user: str = "", tty: bool = False,
                          attach_stdout: bool = True, attach_stderr: bool = True,
                          attach_stdin: bool = False, detach_keys: str = "") -> str:
        c = self.get_container(ref)
        if not cmd or any(not isinstance(a, str) for a in cmd):
            raise InvalidParameter("No exec command specified")
        if c.status != "running":
            raise Conflict(f"Container {c.id} is not running")
        eid = new_id()
        self._execs[eid] = ExecRecord(id=eid, container_id=c.id, cmd=list(cmd),
                                      env=list(env or []), working_dir=working_dir,
                                      user=user, tty=tty, attach_stdout=attach_stdout,
                                      attach_stderr=attach_stderr, attach_stdin=attach_stdin,
                                      detach_keys=detach_keys)
        events.exec_event(self, c, "exec_create", self._execs[eid])
        return eid

    def exec_inspect(self, exec_id: str) -> ExecRecord:
        rec = self._execs.get(exec_id)
        if rec is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return rec

    async def exec_start(self, exec_id: str, detach: bool = False
                         ) -> AsyncIterator[tuple[int, bytes]]:
        rec = self.exec_inspect(exec_id)
        if rec.running or rec.exit_code is not None:
            raise Conflict(f"Error: Exec command {exec_id} has already run")
        c = self.get_container(rec.container_id)
        if c.status != "running":
            raise Conflict(f"Container {c.id} is not running")
        driver = self.drivers[c.driver]
        env = _merge_env([DEFAULT_PATH, f"HOSTNAME={c.config.hostname}"], c.config.env,
                         rec.env)
        io = stdio.ExecIO(rec, detach, driver)      # pipes or a pty (cove.engine.stdio)
        self._exec_io[rec.id] = io
        try:
            pid = await asyncio.to_thread(
                driver.exec, c.id, rec.cmd, env, rec.working_dir or c.config.working_dir,
                rec.user or c.config.user, **io.exec_kwargs(driver))
        except BaseException:
            io.abort()
            self._exec_io.pop(rec.id, None)
            raise
        finally:
            io.close_child_ends()
        io.on_started(driver, pid)
        streams = io.streams
        rec.pid = pid
        rec.running = True
        events.exec_event(self, c, "exec_start", rec)
        if detach:
            self._exec_io.pop(rec.id, None)
            asyncio.ensure_future(self._reap_exec(rec, driver))
            return
        reader = _read_pipes(streams)
        ended = False
        try:
            async for item in reader:
                yield item
            ended = True
        finally:
            # a tty exec whose client detached (or left) runs on, as in Docker
            kept = None if ended else io.keep_running()
            await reader.aclose()
            io.finish()
            if kept is not None:
                asyncio.ensure_future(stdio.run_on(io, kept, self._reap_exec(rec, driver),
                                                   lambda: self._exec_io.pop(rec.id, None)))
            else:
                await self._reap_exec(rec, driver)
                self._exec_io.pop(rec.id, None)

    # stdin and tty size (cove.engine.stdio)
    async def attach_stdin(self, ref: str) -> stdio.StdinSink | None:
        return await stdio.container_stdin(self, ref)

    async def exec_stdin(self, exec_id: str) -> stdio.StdinSink | None:
        return await stdio.exec_stdin(self, exec_id)

    async def resize_container(self, ref: str, height: int, width: int) -> None:
        await stdio.resize_container(self, ref, height, width)

    async def resize_exec(self, exec_id: str, height: int, width: int) -> None:
        await stdio.resize_exec(self, exec_id, height, width)

    async def _reap_exec(self, rec: ExecRecord, driver: ExecutionDriver) -> None:
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            code = await asyncio.to_thread(driver.exec_exit_code, rec.pid)
            if code is not None:
                rec.exit_code = code
                break
            await asyncio.sleep(0.01)
        rec.running = False
        c = self._containers.get(rec.container_id)
        if c is not None:
            events.exec_event(self, c, "exec_die", rec, exitCode=str(rec.exit_code))

    # ------------------------------------------------------------------ images
    async def commit_container(self, ref: str, repo_tag: str = "", comment: str = "",
                               author: str = "", changes: list[str] | None = None,
                               config: dict | None = None, pause: bool = True) -> Image:
        from cove.engine.commit import commit
        return await commit(self, ref, repo_tag, comment, author, changes, config, pause)

    def list_images(self) -> list[Image]:
        return self.images.list()

    def get_image(self, ref: str) -> Image:
        return self.images.get(ref)

    async def import_image(self, data: AsyncIterator[bytes], repo: str, tag: str) -> Image:
        tmpdir = Path(self.root) / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=tmpdir, suffix=".tar")
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in data:
                    f.write(chunk)
            return await asyncio.to_thread(self.images.import_tarball, path, repo, tag)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    async def load_images(self, data: AsyncIterator[bytes]) -> list[Image]:
        """Load a ``docker save`` archive (see cove.images.archive)."""
        from cove.images import archive
        path = await self._spool(data)
        try:
            return await asyncio.to_thread(archive.load, self.images, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    async def _spool(self, data: AsyncIterator[bytes]) -> str:
        tmpdir = Path(self.root) / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=tmpdir, suffix=".tar")
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in data:
                    f.write(chunk)
        except BaseException:
            os.unlink(path)
            raise
        return path

    async def save_images(self, refs: list[str]) -> AsyncIterator[bytes]:
        """A ``docker save`` archive of ``refs``; NotFound before any byte is sent."""
        from cove.images import archive
        if not refs:
            raise InvalidParameter("no image names given")
        for ref in refs:
            self.images.get(ref)
        tmpdir = Path(self.root) / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(dir=tmpdir, suffix=".tar")
        os.close(fd)

        def write() -> None:
            with open(path, "wb") as f:
                archive.save(self.images, refs, f)
        try:
            await asyncio.to_thread(write)
        except BaseException:
            os.unlink(path)
            raise

        async def chunks() -> AsyncIterator[bytes]:
            try:
                with open(path, "rb") as f:
                    while chunk := await asyncio.to_thread(f.read, 1 << 20):
                        yield chunk
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        return chunks()

    async def remove_image(self, ref: str, force: bool = False) -> list[dict[str, str]]:
        """Docker's ``rmi``; refused (409) while a container uses the image."""
        image = self.images.get(ref)
        users = [c for c in self._containers.values() if c.image_id == image.id]
        if users:
            state = "running" if users[0].status == "running" else "stopped"
            raise Conflict(f"conflict: unable to remove repository reference \"{ref}\" "
                           f"(must force) - container {users[0].short_id} is using its "
                           f"referenced image {image.id[7:19]}" if state == "stopped" and
                           not force else
                           f"conflict: unable to delete {image.id[7:19]} (cannot be forced)"
                           f" - image is being used by {state} container "
                           f"{users[0].short_id}")
        return await asyncio.to_thread(self.images.remove, ref, force)

    # ------------------------------------------------------------------ networks
    def list_networks(self) -> list[Network]:
        return self.network.networks()

    def get_network(self, ref: str) -> Network:
        return self.network.network(ref)

    async def create_network(self, name: str, **kw) -> Network:
        return await networking.create_network(self, name, **kw)

    async def remove_network(self, ref: str) -> None:
        await networking.remove_network(self, ref)

    async def prune_networks(self) -> list[str]:
        return await networking.prune_networks(self)

    async def connect_network(self, net_ref: str, container_ref: str, ip: str = "",
                              aliases: list[str] | None = None,
                              links: list[str] | None = None, mac: str = "",
                              driver_opts: dict[str, str] | None = None, ip6: str = "",
                              link_local_ips: list[str] | None = None) -> None:
        await networking.connect(self, net_ref, container_ref, ip, aliases, links, mac,
                                 driver_opts, ip6, link_local_ips)

    async def disconnect_network(self, net_ref: str, container_ref: str,
                                 force: bool = False) -> None:
        await networking.disconnect(self, net_ref, container_ref, force)

    def network_endpoints(self, net: Network) -> list[tuple[Container, Endpoint]]:
        out = []
        for ep in self.network.network_endpoints(net.id):
            c = self._containers.get(ep.container_id)
            if c is not None and c.status == "running":
                out.append((c, ep))
        return out

    # ------------------------------------------------------------------ system
    def cluster_info(self) -> dict:
        """Cluster store, advertise address and nodes (empty without --cluster-store)."""
        return self.network.cluster_info()

    def info(self) -> dict:
        cs = list(self._containers.values())
        running = sum(1 for c in cs if c.status == "running")
        return {
            "id": self.id, "containers": len(cs), "running": running,
            "paused": sum(1 for c in cs if c.paused),
            "stopped": len(cs) - running, "images": len(self.images.list()),
            "driver": "overlay2", "root": self.root, "exec_root": self.exec_root,
            "name": platform.node(), "runtimes": sorted(self.drivers),
            "default_runtime": self.default_runtime,
        }


def _seconds_since(iso: str) -> float:
    """Seconds from an RFC 3339 UTC time (as now_iso writes it) to now; 0 if unknown."""
    from datetime import UTC, datetime
    try:
        main, _, frac = iso.rstrip("Z").partition(".")
        t = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
        return max(0.0, time.time() - t - float("0." + (frac[:6] or "0")))
    except ValueError:
        return 0.0


def _system_cpu_ns() -> int:
    """Host CPU time (all CPUs, all states) in ns, Docker's system_cpu_usage."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:8]
        return sum(int(x) for x in fields) * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return 0


def _merge_env(*layers: list[str]) -> list[str]:
    """Later layers override earlier ones by key; order of first appearance is kept."""
    merged: dict[str, str] = {}
    for layer in layers:
        for item in layer:
            k, eq, _v = item.partition("=")
            if eq:                     # "KEY" without a value is not set in the process
                merged[k] = item
    return list(merged.values())


def _read_host_resolv() -> str:
    try:
        return Path("/etc/resolv.conf").read_text()
    except OSError:
        return ""


async def _read_pipes(streams: dict[int, int]) -> AsyncIterator[tuple[int, bytes]]:
    """Read several pipe fds until all hit EOF, yielding ``(stream, chunk)``."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
    open_fds = set(streams)

    def readable(fd: int) -> None:
        chunk = read_ready(fd)
        if chunk is None:
            return
        if chunk:
            queue.put_nowait((streams[fd], chunk))
        else:
            loop.remove_reader(fd)
            os.close(fd)
            open_fds.discard(fd)
            if not open_fds:
                queue.put_nowait(None)

    if not open_fds:
        return
    for fd in streams:
        os.set_blocking(fd, False)
        loop.add_reader(fd, readable, fd)
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            yield item
    finally:
        for fd in list(open_fds):
            loop.remove_reader(fd)
            os.close(fd)
