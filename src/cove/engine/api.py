"""The engine's public surface, as the API layer calls it (documentation of the contract).

The real implementation is :class:`cove.engine.engine.Engine`; tests of the HTTP layer
use a fake with the same methods. ``ref`` is a container (or network, image) reference:
a full id, a unique id prefix, or a name. Errors are ``cove.errors`` classes.

Streams are async iterators of ``(stream, chunk)`` where stream is 1 (stdout) or
2 (stderr), the numbering of Docker's multiplexed stream format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol

from cove.engine.events import EventBus
from cove.engine.model import Container, ContainerConfig, ExecRecord, Image
from cove.network.model import Endpoint, Network


class EngineAPI(Protocol):
    events: EventBus      # GET /events (cove.engine.events)

    # -- system
    def info(self) -> dict: ...   # keys: containers, running, paused, stopped, images,
    #                               driver, root, exec_root, name, id, runtimes, default_runtime
    def cluster_info(self) -> dict: ...   # {} or {"store", "advertise", "cove": nodes} (issue 7)

    # -- containers
    async def create_container(self, config: ContainerConfig, name: str | None) -> Container: ...
    async def start_container(self, ref: str) -> None: ...           # NotModified if running
    async def stop_container(self, ref: str, timeout: int | None = None) -> None: ...
    async def kill_container(self, ref: str, signal: str | int = "KILL") -> None: ...
    async def pause_container(self, ref: str) -> None: ...           # Conflict if not running
    async def unpause_container(self, ref: str) -> None: ...         # Conflict if not paused
    async def update_container(self, ref: str, resources: dict[str, int],
                               restart_policy: dict | None = None) -> list[str]: ...
    #   docker update (cove.engine.update): resources keyed memory, memory_swap,
    #   memory_reservation, cpu_shares, cpu_period, cpu_quota, nano_cpus, pids_limit,
    #   blkio_weight; returns warnings
    async def container_stats(self, ref: str) -> dict: ...   # one sample: read, online_cpus,
    #   system_cpu_usage, name, id, and (running) cpu_usage, cpu_user, cpu_system,
    #   throttled_periods, throttled_time, memory_usage, memory_limit, memory_max_usage,
    #   memory_cache, pids_current, pids_limit (cove.kernel.cgroups.Cgroup.stats)
    async def wait_container(self, ref: str, condition: str = "not-running") -> int: ...
    async def remove_container(self, ref: str, force: bool = False) -> None: ...
    async def remove_link(self, name: str) -> None: ...   # "parent/alias": forget the link
    async def prune_containers(self, match: Callable[[Container], bool] | None = None
                               ) -> tuple[list[str], int]: ...   # stopped ones: ids, bytes
    def get_container(self, ref: str) -> Container: ...
    def list_containers(self, all: bool = False) -> list[Container]: ...
    def container_endpoints(self, c: Container) -> list[tuple[Network, Endpoint]]: ...
    def logs(self, ref: str, stdout: bool = True, stderr: bool = True, follow: bool = False,
             tail: str = "all", since: float = 0, until: float = 0,
             timestamps: bool = False) -> AsyncIterator[tuple[int, bytes]]: ...

    def attach(self, ref: str, stdout: bool = True, stderr: bool = True, logs: bool = False,
               stream: bool = True) -> AsyncIterator[tuple[int, bytes]]: ...

    # -- exec
    async def exec_create(self, ref: str, cmd: list[str], env: list[str] | None = None,
                          working_dir: str = "", user: str = "", tty: bool = False,
                          attach_stdout: bool = True, attach_stderr: bool = True,
                          attach_stdin: bool = False, detach_keys: str = "") -> str: ...
    def exec_start(self, exec_id: str, detach: bool = False
                   ) -> AsyncIterator[tuple[int, bytes]]: ...
    def exec_inspect(self, exec_id: str) -> ExecRecord: ...

    # -- issue 6: stdin relay and tty size. A sink has ``async write(data)`` and
    # ``close()`` (cove.engine.stdio.StdinSink); None when there is no stdin to write.
    async def attach_stdin(self, ref: str) -> object | None: ...   # waits for the start
    async def exec_stdin(self, exec_id: str) -> object | None: ...  # waits for the start
    async def resize_container(self, ref: str, height: int, width: int) -> None: ...
    async def resize_exec(self, exec_id: str, height: int, width: int) -> None: ...

    # -- images
    async def commit_container(self, ref: str, repo_tag: str = "", comment: str = "",
                               author: str = "", changes: list[str] | None = None,
                               config: dict | None = None, pause: bool = True
                               ) -> Image: ...   # docker commit (cove.engine.commit)
    def list_images(self) -> list[Image]: ...
    def get_image(self, ref: str) -> Image: ...
    async def import_image(self, data: AsyncIterator[bytes], repo: str, tag: str) -> Image: ...
    async def load_images(self, data: AsyncIterator[bytes]) -> list[Image]: ...  # docker load
    async def save_images(self, refs: list[str]) -> AsyncIterator[bytes]: ...  # docker save
    async def remove_image(self, ref: str, force: bool = False) -> list[dict[str, str]]: ...

    # -- issue 6: rename/top/diff, docker cp, named volumes (optional for fakes)
    async def rename_container(self, ref: str, name: str) -> None: ...
    def top_container(self, ref: str, ps_args: str = "") -> dict: ...   # Titles, Processes
    def container_changes(self, ref: str) -> list[dict]: ...             # [{Path, Kind}]
    def archive_stat(self, ref: str, path: str) -> dict: ...             # name/size/mode..
    def archive_get(self, ref: str, path: str) -> bytes: ...             # a tar
    def archive_put(self, ref: str, path: str, data: bytes) -> None: ...
    def create_volume(self, name: str = "", driver: str = "local", labels: dict | None = None,
                      options: dict | None = None) -> dict: ...          # Docker's Volume
    def list_volumes(self) -> list[dict]: ...
    def get_volume(self, name: str) -> dict: ...
    def remove_volume(self, name: str, force: bool = False) -> None: ...
    def prune_volumes(self, labels: list[str]) -> tuple[list[str], int]: ...
    def volume_users(self, name: str) -> list[str]: ...                  # container ids

    # -- networks
    def list_networks(self) -> list[Network]: ...
    def get_network(self, ref: str) -> Network: ...
    def network_endpoints(self, net: Network) -> list[tuple[Container, Endpoint]]: ...
    async def create_network(self, name: str, **kw) -> Network: ...
    async def remove_network(self, ref: str) -> None: ...
    async def prune_networks(self) -> list[str]: ...
    async def connect_network(self, net_ref: str, container_ref: str, ip: str = "",
                              aliases: list[str] | None = None,
                              links: list[str] | None = None, mac: str = "",
                              driver_opts: dict[str, str] | None = None, ip6: str = "",
                              link_local_ips: list[str] | None = None) -> None: ...
    async def disconnect_network(self, net_ref: str, container_ref: str,
                                 force: bool = False) -> None: ...
