"""The Container and Image records the engine keeps in the store."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ContainerConfig:
    """What the user asked for (Docker's Config + the HostConfig parts cove honours)."""

    image: str                                   # as the user named it ("busybox")
    cmd: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    hostname: str = ""
    domainname: str = ""
    user: str = ""
    working_dir: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    open_stdin: bool = False
    stdin_once: bool = False                     # close stdin when the first attach ends
    attach_stdout: bool = False
    attach_stderr: bool = False
    exposed_ports: dict[str, dict] = field(default_factory=dict)   # {"80/tcp": {}}
    network_mode: str = "bridge"                 # "bridge", "none", "host", a network name
    auto_remove: bool = False
    runtime: str = ""
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    port_bindings: dict[str, list[dict]] = field(default_factory=dict)
    links: list[str] = field(default_factory=list)
    publish_all: bool = False
    # issue 5: HostConfig security and resources (see cove.engine.hostconfig)
    binds: list[str] = field(default_factory=list)        # "HOSTDIR:CDIR[:ro]"
    volumes: list[str] = field(default_factory=list)      # Config.Volumes: container paths
    anon_volumes: list[str] = field(default_factory=list)  # "name:CDIR" made for them
    tmpfs: dict[str, str] = field(default_factory=dict)   # container path -> options
    read_only: bool = False
    init: bool = False
    privileged: bool = False
    memory: int = 0                                       # bytes
    nano_cpus: int = 0
    cpu_shares: int = 0
    pids_limit: int = 0
    # HostConfig.LogConfig as validated by cove.api.logconfig ({} = json-file, no options)
    log_config: dict = field(default_factory=dict)
    stop_timeout: int | None = None              # Config.StopTimeout (None: 10 s)
    # EndpointsConfig of the network the container is created on: IPAMConfig, Aliases,
    # MacAddress (Docker's NetworkingConfig), see cove.network.userdefined
    endpoint_config: dict = field(default_factory=dict)
    # issue 6 (cove.engine.restart, cove.engine.health, cove.engine.update)
    restart_policy: dict = field(default_factory=dict)   # {"Name", "MaximumRetryCount"}
    healthcheck: dict = field(default_factory=dict)      # Config.Healthcheck (ns durations)
    memory_swap: int = 0                                 # 0: same as memory; -1: unlimited
    memory_reservation: int = 0
    cpu_period: int = 0
    cpu_quota: int = 0
    blkio_weight: int = 0
    # issue 6: namespace modes and the remaining create options (cove.api.hostmodes,
    # cove.engine.hostmodes, cove.engine.volumesfrom)
    pid_mode: str = ""                                   # "", "host", "container:<ref>"
    uts_mode: str = ""                                   # "", "host"
    cgroupns_mode: str = ""                              # "private", "host" ("": host)
    isolation: str = ""                                  # "", "default"
    group_add: list[str] = field(default_factory=list)   # names or gids
    device_cgroup_rules: list[str] = field(default_factory=list)  # "c 7:128 rwm"
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    volumes_from: list[str] = field(default_factory=list)  # "<container>[:ro|:rw]"
    inherited_binds: list[str] = field(default_factory=list)  # copied from volumes_from
    volume_driver: str = ""


@dataclass
class Container:
    id: str
    name: str                                    # without the leading "/"
    created: str
    config: ContainerConfig
    image_id: str                                # "sha256:<64hex>"
    path: str = ""                               # argv[0]
    args: list[str] = field(default_factory=list)
    status: str = "created"                      # created, running, exited, removing, dead
    pid: int = 0
    exit_code: int = 0
    oom_killed: bool = False
    error: str = ""
    started_at: str = "0001-01-01T00:00:00Z"
    finished_at: str = "0001-01-01T00:00:00Z"
    restart_count: int = 0
    sandbox_id: str = ""
    netns_path: str = ""                         # "" when not running or host network
    driver: str = "native"
    monitor_pid: int = 0                         # pid whose exit means the container exited
    ports: dict | None = None                    # NetworkSettings.Ports while running (issue 3)
    paused: bool = False                         # frozen (cgroup freezer); status stays running
    manually_stopped: bool = False               # stopped by the user: no restart policy
    health: dict | None = None                   # State.Health (cove.engine.health)

    @property
    def short_id(self) -> str:
        return self.id[:12]


@dataclass
class Image:
    id: str                                      # "sha256:<64hex>"
    repo_tags: list[str]                         # ["busybox:latest"]
    created: str
    size: int
    layers: list[str]                            # layer dirs, bottom-most first
    config: dict = field(default_factory=dict)   # Docker image config "config" section
    comment: str = ""                            # docker commit -m / import message
    author: str = ""                             # docker commit -a
    parent: str = ""                             # the image a commit was made on


@dataclass
class ExecRecord:
    id: str
    container_id: str
    cmd: list[str]
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    tty: bool = False
    attach_stdout: bool = True
    attach_stderr: bool = True
    attach_stdin: bool = False
    detach_keys: str = ""                        # as given (``ctrl-p,ctrl-q``); "" = default
    running: bool = False
    exit_code: int | None = None
    pid: int = 0
