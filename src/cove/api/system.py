"""System routes: ``/_ping``, ``/version``, ``/info``, ``/system/df``."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime

from aiohttp import web

from cove import API_VERSION, MIN_API_VERSION, __version__
from cove.api import render
from cove.api.common import engine, json_response
from cove.api.render import _go_arch
from cove.kernel import procfs


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _count_dir(path: str) -> int:
    try:
        return len(os.listdir(path))
    except OSError:
        return 0


async def ping(request: web.Request) -> web.Response:
    resp = web.Response(text="OK", content_type="text/plain")
    resp.headers["Cache-Control"] = "no-cache, no-store, must-revalidate"
    resp.headers["Pragma"] = "no-cache"
    resp.headers["Docker-Experimental"] = "false"
    return resp


async def version(request: web.Request) -> web.Response:
    kernel = platform.release()
    details = {"ApiVersion": API_VERSION, "Arch": _go_arch(), "KernelVersion": kernel,
               "MinAPIVersion": MIN_API_VERSION, "Os": "linux"}
    return json_response({
        "Platform": {"Name": "cove"},
        "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": "", "Os": "linux", "Arch": _go_arch(),
        "KernelVersion": kernel, "BuildTime": "",
    })


async def info(request: web.Request) -> web.Response:
    i = engine(request).info()
    cluster = getattr(engine(request), "cluster_info", dict)()   # issue 7 (--cluster-store)
    runtimes = i.get("runtimes") or {}
    if isinstance(runtimes, list | tuple):
        runtimes = {name: {"path": name} for name in runtimes}
    return json_response({
        "ID": i.get("id", ""),
        "Debug": False,
        "NFd": _count_dir("/proc/self/fd"),
        "NGoroutines": 0,
        "SystemTime": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "LoggingDriver": "json-file",
        "NEventsListener": 0,
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null", "overlay"],
                    "Authorization": None, "Log": ["json-file"]},
        "MemoryLimit": True, "SwapLimit": False, "KernelMemory": False,
        "CpuCfsPeriod": True, "CpuCfsQuota": True, "CPUShares": True, "CPUSet": True,
        "PidsLimit": True, "IPv4Forwarding": True, "BridgeNfIptables": True,
        "BridgeNfIp6tables": True, "OomKillDisable": True,
        "HttpProxy": "", "HttpsProxy": "", "NoProxy": "",
        "Isolation": "", "InitBinary": "tini", "LiveRestoreEnabled": False,
        "Containers": i.get("containers", 0),
        "ContainersRunning": i.get("running", 0),
        "ContainersPaused": i.get("paused", 0),
        "ContainersStopped": i.get("stopped", 0),
        "Images": i.get("images", 0),
        "Driver": i.get("driver", "overlay2"),
        "DriverStatus": [],
        "DockerRootDir": i.get("root", ""),
        "Name": i.get("name", platform.node()),
        "KernelVersion": platform.release(),
        "OperatingSystem": _os_name(),
        "OSType": "linux",
        "OSVersion": "",
        "Architecture": platform.machine(),
        "NCPU": os.cpu_count() or 1,
        "MemTotal": procfs.mem_total(),
        "Runtimes": runtimes,
        "DefaultRuntime": i.get("default_runtime", ""),
        "ServerVersion": __version__,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": "1",
        "IndexServerAddress": "",
        "RegistryConfig": None,
        "Swarm": {"LocalNodeState": "inactive", "NodeID": "", "NodeAddr": "",
                  "ControlAvailable": False, "Error": "", "RemoteManagers": None},
        "ClusterStore": cluster.get("store", ""),
        "ClusterAdvertise": cluster.get("advertise", ""),
        "CoveCluster": cluster.get("cove"),
        "Labels": [],
        "ExperimentalBuild": False,
        "SecurityOptions": [],
        "Warnings": None,
    })


async def df(request: web.Request) -> web.Response:
    """``/system/df``: images, containers and volumes with their sizes (build cache empty)."""
    eng = engine(request)
    imgs = eng.list_images()
    cs = eng.list_containers(all=True)
    used = {c.image_id for c in cs if getattr(c, "image_id", "")}
    images = []
    for img in imgs:
        row = render.image_summary(img)
        row["Containers"] = sum(1 for c in cs if getattr(c, "image_id", "") == img.id)
        images.append(row)
    containers = [render.container_summary(c, eng.container_endpoints(c)) for c in cs]
    for row in containers:
        row.setdefault("SizeRw", 0)
        row.setdefault("SizeRootFs", 0)
    volumes = []
    for v in eng.list_volumes() if hasattr(eng, "list_volumes") else []:
        users = eng.volume_users(v["Name"])
        volumes.append({**v, "UsageData": {"Size": -1, "RefCount": len(users)}})
    return json_response({
        "LayersSize": sum(i.size for i in imgs if i.id in used) or sum(i.size for i in imgs),
        "Images": images, "Containers": containers, "Volumes": volumes, "BuildCache": [],
    })


routes = [
    ("GET", "/system/df", df),
    ("GET", "/_ping", ping),
    ("HEAD", "/_ping", ping),
    ("GET", "/version", version),
    ("GET", "/info", info),
]
