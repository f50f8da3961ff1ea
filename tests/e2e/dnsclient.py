"""Helpers for the e2e DNS tests: ask a DNS server from inside a container's sandbox
(``nsenter --net=<SandboxKey>`` + a tiny client built on cove.network.dnswire)."""

from __future__ import annotations

import json
import subprocess
import sys

CLIENT = r"""
import json, socket, struct, sys, time
from cove.network import dnswire as w
name, qtype, proto, server, port, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
out = []
t0 = time.monotonic()
for i in range(count):
    q = w.build_query(name, qtype, mid=(i + 7) & 0xffff)
    t = time.monotonic()
    if proto == "udp":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(10)
        s.sendto(q, (server, port))
        data, _ = s.recvfrom(65535)
    else:
        s = socket.create_connection((server, port), timeout=10)
        s.sendall(struct.pack("!H", len(q)) + q)
        n = struct.unpack("!H", s.recv(2))[0]
        data = b""
        while len(data) < n:
            data += s.recv(n - len(data))
    s.close()
    out.append({"rcode": w.response_rcode(data), "answers": w.parse_answers(data),
                "seconds": time.monotonic() - t})
print(json.dumps({"results": out, "total": time.monotonic() - t0}))
"""


def query(netns: str, name: str, qtype: int = 1, proto: str = "udp",
          server: str = "127.0.0.11", port: int = 53, count: int = 1,
          timeout: float = 60) -> dict:
    """Send ``count`` queries from inside ``netns``; the decoded results."""
    r = subprocess.run(["nsenter", f"--net={netns}", sys.executable, "-c", CLIENT, name,
                        str(qtype), proto, server, str(port), str(count)],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"dns query {name} failed: {r.stderr}")
    return json.loads(r.stdout)


def one(netns: str, name: str, qtype: int = 1, proto: str = "udp") -> dict:
    return query(netns, name, qtype, proto)["results"][0]


UPSTREAM = r"""
import socket, sys
from cove.network import dnswire as w
ip, port, answer = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, port))
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(65535)
    if answer == "silent":
        continue
    m = w.parse_message(data)
    q = m.questions[0]
    if q.name == "example.test" and q.qtype == w.A:
        s.sendto(w.build_response(m, [(w.A, answer)]), addr)
    else:
        s.sendto(w.build_response(m, [], rcode=w.NXDOMAIN), addr)
"""


def start_upstream(netns: str, ip: str, port: int, answer: str) -> subprocess.Popen:
    """A toy upstream DNS server inside ``netns`` (answers ``example.test`` with
    ``answer``, or never answers with ``answer="silent"``). Stop it by its pid."""
    p = subprocess.Popen(["nsenter", f"--net={netns}", sys.executable, "-c", UPSTREAM, ip,
                          str(port), answer], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    if p.stdout.readline().strip() != "ready":
        p.kill()
        p.wait()
        raise AssertionError("the toy upstream did not start")
    return p
