"""Simulated multi-host clusters: real coveds in "host" netns on a fabric, real etcd.

Topology (nothing in the root network namespace)::

    fabric netns  covemh<sfx>f : bridge ulbr (the L2 switch), ports p<N>, petcd
    host N netns  covemh<sfx>h<N>: eth0 192.0.2.N/24 (veth into the fabric), lo
    etcd netns    covemh<sfx>e : eth0 192.0.2.254/24, etcd on :2379 (peer :2380)

Each host's coved is started with ``nsenter --net=/run/netns/<host>`` (never
``ip netns exec``: its private mount namespace hides the daemon's netns files) and has its
own --root, --exec-root and unix socket under a temp dir (``tests.harness.Daemon``).

Usage::

    from tests.multihost.harness import Cluster

    with Cluster(tmp_path, hosts=2) as cl:            # fabric + etcd + 2 host netns
        h1, h2 = cl.hosts
        cl.start_all(ttl=2, grace=4)                   # one coved per host, busybox imported
        h1.cove("network", "create", "-d", "overlay", "ov1")
        c2 = h2.run("--network", "ov1", "--name", "b2")          # -> container id
        h1.run("--network", "ov1", "--name", "b1")
        h1.exec("b1", "ping", "-c1", "-W2", "b2")                # CompletedProcess
        nid = h1.network_id("ov1")
        h1.peers(nid)                                  # {PeerEntry(ip, mac, vtep)} in ov-<id12>
        h2.kill9(); h2.stop(); h2.cont()               # SIGKILL / SIGSTOP / SIGCONT coved
        cl.etcd.stop(); cl.etcd.start()                # same data dir
    # everything (containers, coveds, sandboxes, netns, etcd, mounts) is gone here

Pytest fixtures in conftest.py: ``cluster3`` (3 hosts, coveds running, module scope),
``cluster2`` (2 hosts, function scope); both skip with a reason if etcd is missing or
the kernel refuses VXLAN.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.cluster.etcdserver import EtcdServer
from tests.harness import Daemon, sh

ETCD_IP = "192.0.2.254"
ETCD_PORT = 2379


def host_ip(n: int) -> str:
    return f"192.0.2.{n}"


def wait_for(pred, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``pred()`` until it returns a true value (returned) or ``timeout`` passes."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def vxlan_supported() -> str | None:
    """None if the kernel lets us make a vxlan device (in a throwaway netns), else why not."""
    ns = "covemhvx" + secrets.token_hex(3)
    try:
        sh("ip", "netns", "add", ns)
        r = sh("ip", "-n", ns, "link", "add", "vx0", "type", "vxlan", "id", "4096",
               "dstport", "4789", "nolearning", "proxy", check=False)
        return None if r.returncode == 0 else f"kernel refuses VXLAN: {r.stderr.strip()}"
    finally:
        sh("ip", "netns", "del", ns, check=False)


class Etcd(EtcdServer):
    """One etcd member in its own netns on the fabric, at 192.0.2.254:2379, by PID.

    ``stop()`` then ``start()`` keeps the data dir (the etcd-down scenario)."""

    def __init__(self, ns: str, base: Path) -> None:
        super().__init__(str(base / "etcd-data"), name="mh", ip=ETCD_IP, port=ETCD_PORT,
                         peer_port=2380, log_path=str(base / "etcd.log"))
        self.ns = ns
        self.wrapper = ["nsenter", f"--net=/run/netns/{ns}"]

    def healthy(self) -> bool:
        """etcd answers a status request (asked from inside its netns)."""
        from cove.kernel.syscalls import run_in_netns
        return run_in_netns(f"/run/netns/{self.ns}", super().healthy)

    def client(self):
        """An EtcdClient usable from the test process: requests run in the etcd netns."""
        return _NetnsEtcd(self.ns, f"etcd://{self.endpoint}")


class _NetnsEtcd:
    """Proxy: every EtcdClient method call runs on a thread inside the etcd netns."""

    def __init__(self, ns: str, url: str) -> None:
        from cove.store.etcd import EtcdClient

        self._path = f"/run/netns/{ns}"
        self._c = EtcdClient(url, timeout=2.0)

    def __getattr__(self, name: str):
        from cove.kernel.syscalls import run_in_netns

        attr = getattr(self._c, name)
        if not callable(attr):
            return attr
        return lambda *a, **kw: run_in_netns(self._path, lambda: attr(*a, **kw))


class Host:
    """One simulated host: netns with eth0 = 192.0.2.N/24 on the fabric, and a coved."""

    def __init__(self, cluster: Cluster, n: int) -> None:
        self.cluster = cluster
        self.n = n
        self.ip = host_ip(n)
        self.ns = f"{cluster.prefix}h{n}"
        self.netns = f"/run/netns/{self.ns}"
        self.base = cluster.base / f"h{n}"
        self.base.mkdir(parents=True, exist_ok=True)
        self.daemon: Daemon | None = None
        self.containers: set[str] = set()

    # -- coved
    def start_coved(self, ttl: float = 2, grace: float = 4, cluster: bool = True,
                    extra: tuple[str, ...] = (), import_busybox: bool = True) -> None:
        """Start (or restart) this host's coved; with ``cluster`` it joins the etcd."""
        if self.daemon is None:
            self.daemon = Daemon(self.base, ns=self.ns)
        args = list(extra)
        if cluster:
            args += ["--cluster-store", f"etcd://{self.cluster.etcd.endpoint}",
                     "--cluster-advertise", self.ip, "--cluster-ttl", str(ttl),
                     "--cluster-reap-grace", str(grace), "--cluster-node-name", f"h{self.n}"]
        self.daemon.extra_args = args
        self.daemon.start()
        if import_busybox and self.cluster.busybox_tar and not self.has_image("busybox"):
            self.cove("image", "import", str(self.cluster.busybox_tar), "busybox:latest")

    def has_image(self, name: str) -> bool:
        return name in self.cove("images", check=False).stdout

    @property
    def pid(self) -> int:
        assert self.daemon and self.daemon.proc, f"host {self.n}: coved is not running"
        return self.daemon.proc.pid

    def kill9(self) -> None:
        """SIGKILL this host's coved (its containers stay, as on a daemon crash)."""
        assert self.daemon is not None
        self.daemon.kill9()

    def stop(self) -> None:
        """SIGSTOP coved (a hung daemon / a partition from etcd)."""
        os.kill(self.pid, signal.SIGSTOP)

    def cont(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def terminate(self) -> None:
        """Clean shutdown (SIGTERM): revokes its lease."""
        if self.daemon:
            self.daemon.stop()

    # -- driving it
    def cove(self, *args: str, check: bool = True, timeout: float = 60,
             input: str | None = None) -> subprocess.CompletedProcess:
        """The `cove` CLI against this host's coved."""
        assert self.daemon is not None, f"host {self.n}: start_coved() first"
        return self.daemon.cli(*args, check=check, timeout=timeout, input=input)

    def api(self, method: str, path: str, body: object | None = None) -> tuple[int, object]:
        """Raw Docker API call: (status, decoded JSON or text)."""
        assert self.daemon is not None
        raw = json.dumps(body).encode() if body is not None else None
        st, data = self.daemon.api(method, path, raw,
                                   {"Content-Type": "application/json"} if raw else None)
        try:
            return st, json.loads(data or b"null")
        except ValueError:
            return st, data.decode(errors="replace")

    def run(self, *args: str, cmd: tuple[str, ...] = ("sleep", "3600"),
            check: bool = True) -> str:
        """`cove run -d ARGS busybox CMD`; returns the container id (tracked for cleanup)."""
        r = self.cove("run", "-d", *args, "busybox", *cmd, check=check)
        cid = r.stdout.strip()
        if r.returncode == 0 and cid:
            self.containers.add(cid)
        return cid

    def rm(self, *cids: str) -> None:
        """`cove rm -f CIDS` (and no longer tracked for cleanup)."""
        self.cove("rm", "-f", *cids)
        self.containers.difference_update(cids)

    def exec(self, cid: str, *cmd: str, check: bool = False, timeout: float = 30
             ) -> subprocess.CompletedProcess:
        return self.cove("exec", cid, *cmd, check=check, timeout=timeout)

    def sh(self, *cmd: str, check: bool = True, timeout: float = 30
           ) -> subprocess.CompletedProcess:
        """Run a command in the host's network namespace."""
        return sh("nsenter", f"--net={self.netns}", *cmd, check=check, timeout=timeout)

    def inspect(self, ref: str, fmt: str) -> str:
        return self.cove("inspect", "--format", fmt, ref).stdout.strip()

    def container_netns(self, cid: str) -> str:
        return self.inspect(cid, "{{.NetworkSettings.SandboxKey}}")

    def ip_of(self, cid: str, network: str) -> str:
        nets = json.loads(self.inspect(cid, "{{json .NetworkSettings.Networks}}"))
        return nets[network]["IPAddress"]

    def in_container(self, cid: str, *cmd: str, check: bool = False, timeout: float = 30
                     ) -> subprocess.CompletedProcess:
        """Run a HOST binary (iputils ping, iperf3, python) in the container's netns."""
        return sh("nsenter", f"--net={self.container_netns(cid)}", *cmd, check=check,
                  timeout=timeout)

    def network_id(self, name: str, check: bool = True) -> str:
        """The network's id ("" if unknown and not ``check``)."""
        r = self.cove("network", "inspect", "--format", "{{.Id}}", name, check=check)
        return r.stdout.strip() if r.returncode == 0 else ""

    # -- what the kernel holds
    def sandbox(self, net_id: str) -> str:
        assert self.daemon is not None
        return str(self.daemon.exec_root / "netns" / f"ov-{net_id[:12]}")

    def peers(self, net_id: str) -> set:
        """Static remote peers (PeerEntry ip/mac/vtep) in this host's overlay sandbox;
        empty if the sandbox does not exist."""
        from cove.kernel import netns, vxlan

        path = self.sandbox(net_id)
        if not netns.is_netns_mounted(path):
            return set()
        return vxlan.peer_entries(path)

    def sandbox_links(self, net_id: str) -> dict[str, str]:
        """{ifname: operstate-ish ("up"/"down")} of the links in the overlay sandbox."""
        from cove.kernel import netns

        path = self.sandbox(net_id)
        if not netns.is_netns_mounted(path):
            return {}
        out = sh("nsenter", f"--net={path}", "ip", "-j", "link").stdout
        return {link["ifname"]: ("up" if "UP" in link.get("flags", []) else "down")
                for link in json.loads(out)}

    # -- teardown
    def destroy(self) -> None:
        """Remove this host's containers, coved, overlay sandboxes and mounts (the host
        netns itself belongs to the Cluster)."""
        d = self.daemon
        if d is None:
            return
        if d.proc is not None:
            with contextlib.suppress(OSError):
                os.kill(d.proc.pid, signal.SIGCONT)
            ids = d.cli("ps", "-aq", check=False, timeout=30).stdout.split()
            for c in set(ids) | self.containers:
                d.cli("rm", "-f", c, check=False, timeout=30)
        d.stop()
        d.kill_containers()
        _remove_cgroups(self.containers)
        from cove.kernel import vxlan

        nsdir = d.exec_root / "netns"
        for f in sorted(os.listdir(nsdir)) if nsdir.is_dir() else []:
            if f.startswith("ov-"):
                with contextlib.suppress(Exception):
                    vxlan.destroy_vxlan_sandbox(str(nsdir / f))
        d.destroy()
        self.daemon = None


def _remove_cgroups(ids: set[str]) -> None:
    """Remove the cgroups of containers whose daemon died before removing them
    (coved runs in the test's own cgroup, so ``Cgroup.plan`` finds the same dirs)."""
    from cove.kernel.cgroups import Cgroup

    for cid in ids:
        cg = Cgroup.plan(cid)
        for _ in range(20):
            if not cg.exists() or not cg.remove():
                break
            time.sleep(0.05)


class Cluster:
    """Fabric + etcd + N hosts. A context manager; ``destroy()`` removes everything."""

    def __init__(self, base: Path, hosts: int = 3, busybox_tar: Path | None = None,
                 mtu: int = 1500) -> None:
        self.base = Path(base)
        self.prefix = "covemh" + secrets.token_hex(2)
        self.fabric = f"{self.prefix}f"
        self.busybox_tar = busybox_tar
        self.mtu = mtu
        self.namespaces: list[str] = []
        self.hosts: list[Host] = []
        self.etcd = Etcd(f"{self.prefix}e", self.base)
        try:
            self._build(hosts)
        except BaseException:
            self.destroy()
            raise

    def _addns(self, ns: str) -> None:
        sh("ip", "netns", "add", ns)
        self.namespaces.append(ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")

    def _wire(self, ns: str, port: str, addr: str) -> None:
        sh("ip", "-n", self.fabric, "link", "add", port, "mtu", str(self.mtu), "type", "veth",
           "peer", "name", "eth0", "netns", ns)
        sh("ip", "-n", self.fabric, "link", "set", port, "master", "ulbr", "up")
        sh("ip", "-n", ns, "link", "set", "eth0", "mtu", str(self.mtu), "up")
        sh("ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")

    def _build(self, n: int) -> None:
        self._addns(self.fabric)
        sh("ip", "-n", self.fabric, "link", "add", "ulbr", "type", "bridge")
        sh("ip", "-n", self.fabric, "link", "set", "ulbr", "up")
        self._addns(self.etcd.ns)
        self._wire(self.etcd.ns, "petcd", ETCD_IP)
        for i in range(1, n + 1):
            h = Host(self, i)
            self._addns(h.ns)
            self._wire(h.ns, f"p{i}", h.ip)
            self.hosts.append(h)

    def start_etcd(self) -> None:
        self.etcd.start()

    def start_all(self, ttl: float = 2, grace: float = 4, extra: tuple[str, ...] = ()
                  ) -> None:
        """etcd (if not running) + a coved per host, in parallel."""
        from concurrent.futures import ThreadPoolExecutor

        if self.etcd.proc is None:
            self.etcd.start()
        with ThreadPoolExecutor(len(self.hosts)) as ex:
            for f in [ex.submit(h.start_coved, ttl, grace, True, extra) for h in self.hosts]:
                f.result()

    def destroy(self) -> None:
        """Teardown continues past errors: hosts, etcd, namespaces, temp data."""
        for h in self.hosts:
            try:
                h.destroy()
            except Exception as exc:  # noqa: BLE001 - keep tearing down
                print(f"multihost teardown: host {h.n}: {exc}")
        self.etcd.stop()
        for ns in reversed(self.namespaces):
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()
        shutil.rmtree(self.etcd.data_dir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()
