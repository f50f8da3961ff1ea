"""Start and stop a throwaway etcd (on loopback, random ports, unless told), by PID."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EtcdServer:
    """One etcd member; ``endpoint`` is "<ip>:<port>" (127.0.0.1 and free ports unless
    told). ``stop()`` then ``start()`` keeps the data dir. Subclasses run it elsewhere
    with ``wrapper`` (a command prefix such as ``nsenter --net=…``) and their own
    :meth:`healthy`."""

    def __init__(self, data_dir: str, name: str = "cove-test", ip: str = "127.0.0.1",
                 port: int = 0, peer_port: int = 0, log_path: str = "") -> None:
        self.binary = shutil.which("etcd")
        self.data_dir = data_dir
        self.name = name
        self.ip = ip
        self.port = port or free_port()
        self.peer_port = peer_port or free_port()
        self.wrapper: list[str] = []
        self.proc: subprocess.Popen | None = None
        self.log_path = log_path or os.path.join(os.path.dirname(data_dir), f"{name}.log")

    @property
    def endpoint(self) -> str:
        return f"{self.ip}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        assert self.binary, "etcd is not installed"
        peer = f"http://{self.ip}:{self.peer_port}"
        client = f"http://{self.endpoint}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [*self.wrapper, self.binary, "--name", self.name,
                 "--data-dir", str(self.data_dir),
                 "--listen-client-urls", client, "--advertise-client-urls", client,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"{self.name}={peer}",
                 "--heartbeat-interval", "50", "--election-timeout", "300"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                with open(self.log_path, errors="replace") as f:
                    raise RuntimeError(f"etcd exited: {f.read()[-2000:]}")
            if self.healthy():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"etcd did not answer within {timeout}s: see {self.log_path}")

    def healthy(self) -> bool:
        """etcd answers a status request."""
        try:
            req = urllib.request.Request(f"http://{self.endpoint}/v3/maintenance/status",
                                         b"{}", {"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=0.5) as r:
                json.load(r)
            return True
        except OSError:
            return False

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """Stopped for the ``with`` block, started again after it (same data dir)."""
        self.stop()
        try:
            yield
        finally:
            if self.proc is None:
                self.start()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
