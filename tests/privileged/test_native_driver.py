"""The native driver on real kernel objects: busybox containers from the imported image."""

from __future__ import annotations

import json
import os
import select
import signal
import statistics
import subprocess
import threading
import time

import pytest

from cove.errors import Conflict, RuntimeFailure
from cove.images import ImageStore
from cove.kernel import syscalls as sc
from cove.runtime import get_driver
from cove.runtime.base import ContainerSpec, Mount
from cove.store import Store

pytestmark = pytest.mark.privileged
if os.geteuid() != 0:
    pytest.skip("needs root", allow_module_level=True)


@pytest.fixture(scope="module")
def image(busybox_tar, tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    store = Store(root / "db.sqlite")
    img = ImageStore(str(root), store).import_tarball(str(busybox_tar), "busybox", "latest")
    yield img
    store.close()


def _children_of(pid: int) -> set[int]:
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            out.add(int(d))
    return out


class Harness:
    def __init__(self, tmp_path, image):
        self.tmp = tmp_path
        self.image = image
        self.drv = get_driver("native", str(tmp_path / "exec"))
        self.ids: list[str] = []
        self.monitors: list[int] = []

    def spec(self, cid: str, args: list[str], **kw) -> ContainerSpec:
        cid = f"{cid}{os.urandom(3).hex()}"
        sd = self.tmp / "containers" / cid
        sd.mkdir(parents=True)
        (sd / "hostname").write_text("box1\n")
        base = dict(id=cid, args=args, env=[], hostname="box1",
                    lower_dirs=list(reversed(self.image.layers)), state_dir=str(sd),
                    log_path=str(sd / "log.json"),
                    mounts=[Mount(str(sd / "hostname"), "/etc/hostname", readonly=True)])
        base.update(kw)
        return ContainerSpec(**base)

    def start(self, spec: ContainerSpec) -> int:
        self.ids.append(spec.id)
        mon = self.drv.start(spec)
        self.monitors.append(mon)
        return mon

    def wait(self, mon: int, timeout: float = 10) -> None:
        fd = os.pidfd_open(mon)
        try:
            assert select.select([fd], [], [], timeout)[0], "container did not exit"
        finally:
            os.close(fd)

    def run(self, args: list[str], **kw) -> tuple[int, list[dict]]:
        spec = self.spec("run", args, **kw)
        self.wait(self.start(spec))
        st = self.drv.state(spec.id)
        assert not st.running
        logs = [json.loads(x) for x in open(spec.log_path).read().splitlines()]
        return st.exit_code, logs

    def cleanup(self) -> None:
        for cid in self.ids:
            self.drv.delete(cid)
        for mon in self.monitors:
            assert not os.path.exists(f"/proc/{mon}") or _is_zombie(mon), "monitor left"
        self.drv.close()


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.fixture
def h(tmp_path, image):
    harness = Harness(tmp_path, image)
    yield harness
    harness.cleanup()
    assert str(tmp_path) not in open("/proc/self/mountinfo").read()


def _stdout(logs: list[dict]) -> str:
    return "".join(e["log"] for e in logs if e["stream"] == "stdout")


def test_echo_lands_in_json_log(h):
    code, logs = h.run(["echo", "hi"])
    assert code == 0
    assert [(e["log"], e["stream"]) for e in logs] == [("hi\n", "stdout")]


def test_stderr_and_partial_line(h):
    code, logs = h.run(["sh", "-c", "echo err >&2; printf partial"])
    assert code == 0
    assert ("err\n", "stderr") in [(e["log"], e["stream"]) for e in logs]
    assert ("partial", "stdout") in [(e["log"], e["stream"]) for e in logs]


def test_exit_code(h):
    assert h.run(["sh", "-c", "exit 3"])[0] == 3


def test_hostname_and_hostname_file(h):
    assert _stdout(h.run(["hostname"])[1]) == "box1\n"
    assert _stdout(h.run(["cat", "/etc/hostname"])[1]) == "box1\n"
    code, logs = h.run(["sh", "-c", "echo x > /etc/hostname"])
    assert code != 0  # mounted read-only


def test_ps_shows_command_as_pid1(h):
    out = _stdout(h.run(["ps", "-o", "pid,args"])[1]).splitlines()
    pids = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in out[1:]}
    assert pids == {"1": "ps -o pid,args"}


def test_env_cwd_user_rootfs(h):
    out = _stdout(h.run(["sh", "-c", "echo $FOO; pwd; id -u; ls /dev; cat /www/index.html"],
                        env=["FOO=bar"], cwd="/tmp", user="65534")[1])
    lines = out.splitlines()
    assert lines[:3] == ["bar", "/tmp", "65534"]
    for dev in ("null", "zero", "urandom", "tty", "pts", "shm", "ptmx"):
        assert dev in lines
    assert "Hello from cove" in out


def test_rootfs_changes_stay_in_upper_dir(h):
    spec = h.spec("upper", ["sh", "-c", "echo data > /newfile; rm /bin/ls"])
    h.wait(h.start(spec))
    assert h.drv.state(spec.id).exit_code == 0
    assert open(os.path.join(spec.state_dir, "upper", "newfile")).read() == "data\n"
    assert os.path.islink(os.path.join(h.image.layers[0], "bin", "ls"))  # image untouched


def test_kill_sigkill_gives_137_and_state(h):
    spec = h.spec("sleep", ["sleep", "1000"])
    mon = h.start(spec)
    st = h.drv.state(spec.id)
    assert st.running and st.pid > 0
    assert open(f"/proc/{st.pid}/cmdline").read().split("\0")[0] == "sleep"
    with pytest.raises(Conflict):
        h.drv.start(spec)
    h.drv.kill(spec.id, signal.SIGTERM)  # PID 1 without a handler ignores SIGTERM
    time.sleep(0.2)
    assert h.drv.state(spec.id).running
    h.drv.kill(spec.id, signal.SIGKILL)
    h.wait(mon)
    st = h.drv.state(spec.id)
    assert not st.running and st.exit_code == 137 and st.finished_at
    h.drv.kill(spec.id, signal.SIGKILL)  # not running: no error


def test_state_survives_a_new_driver(h):
    spec = h.spec("restart", ["sleep", "1000"])
    mon = h.start(spec)
    other = get_driver("native", str(h.tmp / "exec"))  # as after a daemon restart
    try:
        assert other.state(spec.id).running
        other.kill(spec.id, signal.SIGKILL)
        h.wait(mon)
        assert other.state(spec.id).exit_code == 137
    finally:
        other.close()


def test_restart_after_exit(h):
    spec = h.spec("again", ["sh", "-c", "echo run; exit 5"])
    h.wait(h.start(spec))
    assert h.drv.state(spec.id).exit_code == 5
    h.wait(h.start(spec))
    assert h.drv.state(spec.id).exit_code == 5
    assert open(spec.log_path).read().count('"run\\n"') == 2


def test_exec_into_running_container(h):
    spec = h.spec("exec", ["sleep", "1000"], hostname="inner")
    h.start(spec)
    r, w = os.pipe()
    pid = h.drv.exec(spec.id, ["sh", "-c", "echo x; hostname; echo e >&2; exit 4"], [],
                     stdout=w, stderr=w)
    os.close(w)
    out = b""
    while chunk := os.read(r, 4096):
        out += chunk
    os.close(r)
    deadline = time.time() + 5
    while h.drv.exec_exit_code(pid) is None and time.time() < deadline:
        time.sleep(0.01)
    assert h.drv.exec_exit_code(pid) == 4
    assert out.decode().split() == ["x", "inner", "e"]

    r, w = os.pipe()
    pid = h.drv.exec(spec.id, ["ps", "-o", "pid,args"], [], stdout=w)
    os.close(w)
    ps = os.fdopen(r).read()
    assert "1 sleep 1000" in ps
    fd = os.pidfd_open(pid)
    select.select([fd], [], [], 5)
    os.close(fd)
    assert h.drv.exec_exit_code(pid) == 0


def test_exec_bad_command(h):
    spec = h.spec("execbad", ["sleep", "1000"])
    h.start(spec)
    r, w = os.pipe()
    pid = h.drv.exec(spec.id, ["nosuchcmd"], [], stdout=w, stderr=w)
    os.close(w)
    out = os.fdopen(r).read()
    fd = os.pidfd_open(pid)
    select.select([fd], [], [], 5)
    os.close(fd)
    assert h.drv.exec_exit_code(pid) == 126        # Docker's exec: 126 (docker-py tests it)
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in out


def test_bad_command_leaves_nothing(h):
    spawner = h.drv.spawner_pid()
    before = _children_of(spawner)
    spec = h.spec("bad", ["nosuchcmd"])
    h.ids.append(spec.id)
    with pytest.raises(RuntimeFailure) as e:
        h.drv.start(spec)
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in str(e.value)
    assert e.value.exit_code == 127
    time.sleep(0.05)
    left = {p for p in _children_of(spawner) - before if not _is_zombie(p)}
    assert not left, "monitor left running"
    findmnt = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True,
                             text=True).stdout
    assert spec.state_dir not in findmnt
    h.drv.delete(spec.id)
    assert not os.path.exists(os.path.join(h.drv.root, spec.id))
    assert not os.path.exists(os.path.join(spec.state_dir, "upper"))

    with pytest.raises(RuntimeFailure) as e:
        h.start(h.spec("badcwd", ["true"], cwd="/etc/passwd"))
    assert "chdir" in str(e.value) and e.value.exit_code == 126


def test_delete_running_container(h):
    spec = h.spec("del", ["sleep", "1000"])
    mon = h.start(spec)
    pid = h.drv.state(spec.id).pid
    h.drv.delete(spec.id)
    assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid)
    assert not os.path.exists(f"/proc/{mon}") or _is_zombie(mon)
    assert not os.path.exists(os.path.join(h.drv.root, spec.id))
    for sub in ("upper", "work", "merged"):
        assert not os.path.exists(os.path.join(spec.state_dir, sub))


def test_spawner_is_restarted(h):
    first = h.drv.spawner_pid()
    os.kill(first, signal.SIGKILL)
    time.sleep(0.05)
    code, logs = h.run(["echo", "back"])
    assert code == 0 and _stdout(logs) == "back\n"
    assert h.drv.spawner_pid() != first


def test_container_survives_spawner_death(h):
    spec = h.spec("survive", ["sleep", "1000"])
    mon = h.start(spec)
    os.kill(h.drv.spawner_pid(), signal.SIGKILL)
    time.sleep(0.1)
    assert h.drv.state(spec.id).running
    h.drv.kill(spec.id, signal.SIGKILL)
    h.wait(mon)
    assert h.drv.state(spec.id).exit_code == 137


@pytest.fixture
def netns(tmp_path):
    """A throwaway netns bind-mounted at a file of ours, with a veth pair inside."""
    path = tmp_path / f"covetest{os.urandom(3).hex()}"
    path.touch()
    err: list[BaseException] = []

    def make() -> None:
        try:
            sc.unshare(sc.CLONE_NEWNET)
            sc.mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", str(path),
                     None, sc.MS_BIND)
        except BaseException as exc:  # noqa: BLE001
            err.append(exc)

    t = threading.Thread(target=make)
    t.start()
    t.join()
    if err:
        raise err[0]
    subprocess.run(["nsenter", f"--net={path}", "ip", "link", "add", "cvA", "type", "veth",
                    "peer", "name", "cvB"], check=True)
    yield str(path)
    sc.umount(str(path), sc.MNT_DETACH)
    path.unlink()


def test_netns_is_joined(h, netns):
    out = _stdout(h.run(["ip", "-o", "link"], netns_path=netns)[1])
    names = sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())
    assert names == ["cvA", "cvB", "lo"]
    # and the container does not keep the netns bind mount (old root was detached)
    out = _stdout(h.run(["cat", "/proc/self/mountinfo"], netns_path=netns)[1])
    assert os.path.basename(netns) not in out


def test_start_latency(h, capsys):
    times, spawn = [], []
    for _ in range(20):
        spec = h.spec("lat", ["true"])
        h.drv.create(spec)
        t = time.perf_counter()
        mon = h.start(spec)
        times.append((time.perf_counter() - t) * 1000)
        info = json.load(open(os.path.join(h.drv.root, spec.id, "init.json")))
        spawn.append(info["spawn_ms"])
        h.wait(mon)
        assert h.drv.state(spec.id).exit_code == 0
    with capsys.disabled():
        print(f"\nnative start(): median {statistics.median(times):.2f} ms; "
              f"monitor fork→exec: median {statistics.median(spawn):.2f} ms")
    assert statistics.median(times) < 100
