"""Start and stop a throwaway etcd on loopback (random ports, temp data dir), by PID."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EtcdServer:
    """One etcd member on 127.0.0.1; ``endpoint`` is "127.0.0.1:<port>"."""

    def __init__(self, data_dir: str, name: str = "cove-test") -> None:
        self.binary = shutil.which("etcd")
        self.data_dir = data_dir
        self.name = name
        self.port = free_port()
        self.peer_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(os.path.dirname(data_dir), f"{name}.log")

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        assert self.binary, "etcd is not installed"
        peer = f"http://127.0.0.1:{self.peer_port}"
        client = f"http://127.0.0.1:{self.port}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "--name", self.name, "--data-dir", self.data_dir,
                 "--listen-client-urls", client, "--advertise-client-urls", client,
                 "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", f"{self.name}={peer}",
                 "--heartbeat-interval", "50", "--election-timeout", "300"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited: see {self.log_path}")
            try:
                req = urllib.request.Request(f"{client}/v3/maintenance/status", b"{}",
                                             {"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=0.5) as r:
                    json.load(r)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"etcd did not answer within {timeout}s: see {self.log_path}")

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
