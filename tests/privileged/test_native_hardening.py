"""The native driver's hardening and resource limits on real namespaces and cgroups:
Docker's default capabilities, masked / read-only /proc paths, --privileged,
--read-only, --tmpfs, bind mounts, --init, memory (OOM), pids and CPU limits, stats,
pause/resume, and cgroups removed with the container."""

from __future__ import annotations

import os
import time

import pytest

from cove.errors import InvalidParameter
from cove.runtime.base import Mount
from tests.privileged.test_native_driver import Harness, _stdout, image  # noqa: F401

pytestmark = pytest.mark.privileged
if os.geteuid() != 0:
    pytest.skip("needs root", allow_module_level=True)


@pytest.fixture
def h(tmp_path, image):  # noqa: F811
    harness = Harness(tmp_path, image)
    yield harness
    harness.cleanup()
    assert str(tmp_path) not in open("/proc/self/mountinfo").read()
    for cid in harness.ids:  # cgroups removed with the container
        assert cid not in open("/proc/self/mountinfo").read()
        for ctrl in ("memory", "pids", "cpu", "freezer"):
            for dirpath, dirs, _ in os.walk(f"/sys/fs/cgroup/{ctrl}"):
                assert cid not in dirs, f"cgroup {dirpath}/{cid} left"


def _status(h, **kw) -> dict[str, str]:
    out = _stdout(h.run(["cat", "/proc/self/status"], **kw)[1])
    return dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)


def test_default_capabilities_are_dockers(h):
    st = _status(h)
    assert st["CapEff"].strip() == "00000000a80425fb"
    assert st["CapBnd"].strip() == "00000000a80425fb"
    assert st["NoNewPrivs"].strip() == "1"
    st = _status(h, user="65534")
    assert st["CapEff"].strip() == "0000000000000000"
    assert st["CapBnd"].strip() == "00000000a80425fb"


def test_privileged_keeps_all_capabilities(h):
    st = _status(h, privileged=True)
    assert int(st["CapEff"], 16) & (1 << 21)  # CAP_SYS_ADMIN
    code, _ = h.run(["sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid"], privileged=True)
    assert code == 0


def test_proc_sys_read_only_and_masked_paths(h):
    code, logs = h.run(["sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid"])
    assert code != 0 and "Read-only file system" in "".join(e["log"] for e in logs)
    assert os.path.exists("/proc/interrupts") and os.listdir("/sys/firmware")
    code, logs = h.run(["sh", "-c", "wc -c < /proc/interrupts; ls /sys/firmware | wc -l"])
    out = "".join(e["log"] for e in logs)
    assert out.split() == ["0", "0"]
    code, logs = h.run(["sh", "-c", "wc -c < /proc/interrupts"], privileged=True)
    assert int(_stdout(logs)) > 0
    code, _ = h.run(["mkdir", "/sys/fs/x"])
    assert code != 0


def test_read_only_rootfs_and_tmpfs(h):
    code, logs = h.run(["sh", "-c", "touch /x"], readonly_rootfs=True)
    assert code != 0 and "Read-only file system" in "".join(e["log"] for e in logs)
    code, logs = h.run(["sh", "-c", "echo hi > /scratch/f && cat /scratch/f && "
                        "grep ' /scratch ' /proc/mounts"],
                       readonly_rootfs=True, tmpfs={"/scratch": "size=1m"})
    out = _stdout(logs)
    assert code == 0 and out.startswith("hi\n")
    assert "tmpfs" in out and "size=1024k" in out and "noexec" in out


def test_bind_mounts_rw_and_ro(h, tmp_path):
    src = tmp_path / "vol"
    src.mkdir()
    (src / "in.txt").write_text("from host\n")
    code, logs = h.run(["sh", "-c", "cat /data/in.txt; echo back > /data/out.txt"],
                       mounts=[Mount(str(src), "/data")])
    assert code == 0 and _stdout(logs) == "from host\n"
    assert (src / "out.txt").read_text() == "back\n"
    code, _ = h.run(["sh", "-c", "echo no > /data/x"], mounts=[Mount(str(src), "/data", True)])
    assert code != 0 and not (src / "x").exists()


def test_init_is_pid1_and_reaps(h):
    out = _stdout(h.run(["sh", "-c", "ps -o pid,args"], init_path="/usr/bin/tini-static")[1])
    first = out.splitlines()[1].split(None, 1)
    assert first == ["1", "/sbin/docker-init -- sh -c ps -o pid,args"]
    # an orphan's zombie is reaped by tini
    code, logs = h.run(["sh", "-c", "(sleep 0.1 &) ; sleep 0.5; ps -o stat | grep -c Z"],
                       init_path="/usr/bin/tini-static")
    assert _stdout(logs).strip() == "0"


def test_stop_exit_codes_137_and_143(h):
    spec = h.spec("sig", ["sleep", "30"])
    mon = h.start(spec)
    h.drv.kill(spec.id, 9)
    h.wait(mon)
    assert h.drv.state(spec.id).exit_code == 137
    spec = h.spec("sig", ["sleep", "30"], init_path="/usr/bin/tini-static")
    mon = h.start(spec)
    time.sleep(0.1)
    h.drv.kill(spec.id, 15)
    h.wait(mon)
    assert h.drv.state(spec.id).exit_code == 143


def test_memory_limit_oom_killed(h):
    spec = h.spec("oom", ["sh", "-c", "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo $x"],
                  memory=32 * 1024 * 1024)
    h.wait(h.start(spec), 30)
    st = h.drv.state(spec.id)
    assert st.exit_code == 137 and st.oom_killed


def test_no_oom_without_limit_pressure(h):
    spec = h.spec("mem", ["true"], memory=32 * 1024 * 1024)
    h.wait(h.start(spec))
    st = h.drv.state(spec.id)
    assert st.exit_code == 0 and not st.oom_killed
    cg = h.drv._cgroup(spec.id)
    assert cg is not None and cg.dirs and not cg.exists()  # removed when it exited


def test_pids_limit_stops_fork_bomb(h):
    code, logs = h.run(["sh", "-c", "for i in $(seq 20); do sleep 2 & done; sleep 0.3; "
                        "cat /proc/loadavg >/dev/null; ps -o pid | wc -l"], pids_limit=10)
    out = "".join(e["log"] for e in logs)
    assert "can't fork" in out or "Resource temporarily unavailable" in out


def test_cpu_quota_near_half_a_core_and_stats(h):
    spec = h.spec("cpu", ["sh", "-c", "while :; do :; done"], nano_cpus=500_000_000)
    h.start(spec)
    time.sleep(0.2)
    a = h.drv.stats(spec.id)
    t0 = time.monotonic()
    time.sleep(1.0)
    b = h.drv.stats(spec.id)
    elapsed = time.monotonic() - t0
    share = (b["cpu_usage"] - a["cpu_usage"]) / 1e9 / elapsed
    assert 0.3 < share < 0.6, share
    assert b["throttled_periods"] > a["throttled_periods"]
    assert b["memory_usage"] > 0 and b["pids_current"] >= 1
    h.drv.kill(spec.id, 9)


def test_pause_resume(h):
    spec = h.spec("frz", ["sh", "-c", "while :; do :; done"])
    h.start(spec)
    h.drv.pause(spec.id)
    a = h.drv.stats(spec.id)["cpu_usage"]
    time.sleep(0.3)
    assert h.drv.stats(spec.id)["cpu_usage"] == a
    h.drv.resume(spec.id)
    time.sleep(0.2)
    assert h.drv.stats(spec.id)["cpu_usage"] > a
    h.drv.pause(spec.id)  # delete of a paused container still works


def test_bad_input_leaves_nothing(h):
    with pytest.raises(InvalidParameter):
        h.drv.start(h.spec("bad", ["true"], tmpfs={"rel": ""}))
    with pytest.raises(InvalidParameter):
        h.drv.start(h.spec("bad", ["true"], tmpfs={"/t": "bogus"}))
    with pytest.raises(InvalidParameter):
        h.drv.start(h.spec("bad", ["true"], memory=1024))
    with pytest.raises(InvalidParameter):
        h.drv.start(h.spec("bad", ["true"], init_path="/nonexistent/tini"))
    assert os.listdir(h.drv.root) == ["execs"]
