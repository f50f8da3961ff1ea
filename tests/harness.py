"""A real coved in a throwaway network namespace, driven through the `cove` CLI.

Shared by the e2e tests and the benchmarks.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path


def sh(*cmd: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=timeout)


class Daemon:
    """One coved with its own netns, root, exec-root and socket."""

    def __init__(self, base: Path, ns: str | None = None) -> None:
        # ns: run in this existing named netns (owned by the caller, left in place)
        self.own_ns = ns is None
        self.ns = ns or "covee2e" + secrets.token_hex(3)
        self.netns = f"/run/netns/{self.ns}"
        self.root = base / "root"
        self.exec_root = base / "run"
        self.sock = base / "cove.sock"
        self.log = base / "coved.log"
        self.proc: subprocess.Popen | None = None
        self.extra_args: list[str] = []      # more coved flags (e.g. --dns-upstream)
        if self.own_ns:
            sh("ip", "netns", "add", self.ns)
            sh("ip", "-n", self.ns, "link", "set", "lo", "up")

    # -- process
    def start(self) -> None:
        if self.sock.exists():
            self.sock.unlink()
        logf = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            ["nsenter", f"--net={self.netns}", sys.executable, "-m", "cove.daemon",
             "--root", str(self.root), "--exec-root", str(self.exec_root),
             "--host", f"unix://{self.sock}", "--log-level", "debug", *self.extra_args],
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        logf.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"coved exited: {self.log.read_text()[-3000:]}")
            if self.sock.exists() and self.cli("version", check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"coved did not come up: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    # -- driving it
    def cli(self, *args: str, check: bool = True, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run(
            [sys.executable, "-m", "cove.cli.main", "-H", f"unix://{self.sock}", *args],
            capture_output=True, text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"cove {' '.join(args)} failed ({r.returncode}):\n"
                                 f"{r.stdout}\n{r.stderr}")
        return r

    def host(self, *cmd: str, check: bool = True, timeout: float = 30
             ) -> subprocess.CompletedProcess:
        """Run a command in the daemon's network namespace (the containers' 'host')."""
        return sh("nsenter", f"--net={self.netns}", *cmd, check=check, timeout=timeout)

    def api(self, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """A raw HTTP request to the daemon's socket: (status, body)."""
        import http.client
        import socket

        class Conn(http.client.HTTPConnection):
            def connect(conn) -> None:  # noqa: N805 - http.client's hook
                conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.sock.connect(str(self.sock))

        c = Conn("cove", timeout=30)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def inspect(self, ref: str, fmt: str) -> str:
        return self.cli("inspect", "--format", fmt, ref).stdout.strip()

    def kill_containers(self) -> None:
        """SIGKILL every container this daemon started that still runs (containers
        outlive a stopped daemon by design), by the pids in the driver's state files."""
        import signal as _sig

        from cove.runtime.native import statefiles

        bases = [self.exec_root / n for n in ("native", "runc", "crun", "lxc")]
        for d in [d for b in bases if b.is_dir() for d in b.iterdir()]:
            init = statefiles.read_json(str(d / statefiles.INIT)) or {}
            pid, start = init.get("pid", 0), init.get("starttime", 0)
            if pid and statefiles.is_alive(pid, start):
                os.kill(pid, _sig.SIGKILL)

    # -- what the kernel holds
    def netns_files(self) -> list[str]:
        d = self.exec_root / "netns"
        return sorted(os.listdir(d)) if d.exists() else []

    def links(self) -> list[str]:
        out = self.host("ip", "-o", "link").stdout
        return [line.split(": ")[1].split("@")[0] for line in out.splitlines()]

    def mounts(self) -> list[str]:
        out = sh("findmnt", "-rn", "-o", "TARGET").stdout.split()
        return [m for m in out if m.startswith((str(self.exec_root), str(self.root)))]

    def nft(self) -> str:
        return self.host("nft", "list", "table", "inet", "cove", check=False).stdout

    def destroy(self) -> None:
        for c in self.cli("ps", "-aq", check=False).stdout.split() if self.proc else []:
            self.cli("rm", "-f", c, check=False)
        self.stop()
        self.kill_containers()
        for f in self.netns_files():
            p = self.exec_root / "netns" / f
            subprocess.run(["umount", "-l", str(p)], capture_output=True)
        if self.own_ns:
            sh("ip", "netns", "del", self.ns, check=False)
        for m in reversed(self.mounts()):
            subprocess.run(["umount", "-l", m], capture_output=True)


