"""Healthchecks (Config.Healthcheck): a probe run as an exec in the container on a timer.

Pure parts: :func:`validate` (Docker's messages), :func:`probe_argv` (``CMD`` /
``CMD-SHELL`` / ``NONE``), :func:`record` (Docker's state machine: a passing probe makes
the container healthy and resets the failing streak; a failure counts unless the
container has never been healthy and is still in its start period; ``Retries`` failures
in a row make it unhealthy; the log keeps the last 5 results). :class:`HealthMonitor`
runs one asyncio task per running container: wait ``Interval``, run the probe with
``Timeout``, record, store. The image's own healthcheck is not used.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from typing import Any

from cove.engine.pipes import read_ready
from cove.errors import CoveError, InvalidParameter
from cove.model import now_iso

log = logging.getLogger("cove.engine.health")

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_RETRIES = 3
MIN_DURATION = 1_000_000          # 1ms
MAX_LOG = 5
MAX_OUTPUT = 4096
STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"


def validate(hc: Any) -> dict[str, Any]:
    """Config.Healthcheck → the stored dict (zero values left out, as Docker's JSON)."""
    if hc is None:
        return {}
    if not isinstance(hc, dict):
        raise InvalidParameter("invalid Healthcheck: must be an object")
    test = hc.get("Test")
    if test is not None and (not isinstance(test, list)
                             or not all(isinstance(x, str) for x in test)):
        raise InvalidParameter("invalid Healthcheck.Test: must be a list of strings")
    out: dict[str, Any] = {"Test": list(test)} if test else {}
    for key in ("Interval", "Timeout", "StartPeriod", "Retries"):
        v = hc.get(key)
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidParameter(f"invalid Healthcheck.{key}: must be an integer")
        if key == "Retries":
            if v < 0:
                raise InvalidParameter("Retries in Healthcheck cannot be negative")
        elif v != 0 and v < MIN_DURATION:
            raise InvalidParameter(f"{key} in Healthcheck cannot be less than 1ms")
        if v:
            out[key] = v
    if test and test[0] not in ("NONE", "CMD", "CMD-SHELL", ""):
        raise InvalidParameter(f"unknown Healthcheck type {test[0]!r} (CMD, CMD-SHELL or "
                               "NONE)")
    return out


def probe_argv(hc: dict[str, Any]) -> list[str] | None:
    """The probe's argv, or None when there is no healthcheck."""
    test = hc.get("Test") or []
    if not test or test[0] in ("NONE", ""):
        return None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", *test[1:]] if len(test) > 1 else None
    if test[0] == "CMD":
        return list(test[1:]) or None
    return None


def go_duration(ns: int) -> str:
    """Go's Duration.String() for the common cases ("1s", "1.5s", "500ms", "1m30s")."""
    if ns % SECOND == 0:
        secs = ns // SECOND
        if secs >= 60:
            m, s = divmod(secs, 60)
            h, m = divmod(m, 60)
            return (f"{h}h" if h else "") + f"{m}m{s}s"
        return f"{secs}s"
    if ns >= SECOND:
        return f"{ns / SECOND:g}s"
    if ns % 1_000_000 == 0:
        return f"{ns // 1_000_000}ms"
    return f"{ns / 1_000_000:g}ms"


def new_state(previous: dict[str, Any] | None) -> dict[str, Any]:
    """State.Health at a start: starting, streak 0, the log kept."""
    return {"Status": STARTING, "FailingStreak": 0,
            "Log": list((previous or {}).get("Log") or [])}


def record(health: dict[str, Any], result: dict[str, Any], retries: int,
           in_start_period: bool) -> str:
    """Apply one probe result to ``health`` (in place); returns the new status."""
    health["Log"] = [*(health.get("Log") or []), result][-MAX_LOG:]
    if result["ExitCode"] == 0:
        health["FailingStreak"] = 0
        health["Status"] = HEALTHY
    elif not (health.get("Status") == STARTING and in_start_period):
        health["FailingStreak"] = int(health.get("FailingStreak", 0)) + 1
        if health["FailingStreak"] >= (retries if retries > 0 else DEFAULT_RETRIES):
            health["Status"] = UNHEALTHY
    return health["Status"]


def status_suffix(health: dict[str, Any] | None) -> str:
    """`` (healthy)`` / `` (unhealthy)`` / `` (health: starting)`` for ``docker ps``."""
    if not health:
        return ""
    st = health.get("Status") or UNHEALTHY
    return " (health: starting)" if st == STARTING else f" ({st})"


def filter_value(health: dict[str, Any] | None) -> str:
    """The ``health=`` list filter's value: starting, healthy, unhealthy or none."""
    return (health.get("Status") or UNHEALTHY) if health else "none"


class HealthMonitor:
    """One probe loop per running container with a healthcheck."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._tasks: dict[str, asyncio.Task] = {}

    def start(self, c: Any) -> None:
        """At a container's start: reset State.Health and start probing."""
        self.stop(c.id)
        if probe_argv(c.config.healthcheck) is None:
            return
        c.health = new_state(c.health)
        self._tasks[c.id] = asyncio.ensure_future(self._run(c.id, time.monotonic()))

    def stop(self, cid: str) -> None:
        task = self._tasks.pop(cid, None)
        if task is not None and not task.done():
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t

    async def _run(self, cid: str, started: float) -> None:
        eng = self.engine
        while True:
            c = eng._containers.get(cid)
            if c is None or c.status != "running":
                return
            hc = c.config.healthcheck
            await asyncio.sleep((hc.get("Interval") or DEFAULT_INTERVAL) / SECOND)
            c = eng._containers.get(cid)
            if c is None or c.status != "running" or c.health is None:
                return
            if c.paused:
                continue
            begun = time.monotonic()
            result = await run_probe(eng, c, hc.get("Timeout") or DEFAULT_TIMEOUT)
            if c.status != "running" or c.health is None:
                return
            old = c.health.get("Status")
            new = record(c.health, result, int(hc.get("Retries") or 0),
                         begun - started < (hc.get("StartPeriod") or 0) / SECOND)
            if new != old:
                log.info("container %s: health %s", cid[:12], new)
                from cove.engine import events
                events.container(eng, c, "health_status: " + new)
            eng._save(c)


async def run_probe(eng: Any, c: Any, timeout_ns: int) -> dict[str, Any]:
    """Run the probe once: ``{"Start", "End", "ExitCode", "Output"}`` (ExitCode -1 when
    it could not run or timed out)."""
    from cove.engine.engine import DEFAULT_PATH, _merge_env
    argv = probe_argv(c.config.healthcheck) or []
    driver = eng.drivers[c.driver]
    env = _merge_env([DEFAULT_PATH, f"HOSTNAME={c.config.hostname}"], c.config.env)
    start = now_iso()
    r, w = os.pipe()
    try:
        pid = await asyncio.to_thread(driver.exec, c.id, argv, env,
                                      c.config.working_dir, c.config.user, w, w)
    except CoveError as exc:
        os.close(r)
        return {"Start": start, "End": now_iso(), "ExitCode": -1, "Output": exc.message}
    finally:
        os.close(w)
    try:
        output, code = await asyncio.wait_for(_collect(driver, pid, r), timeout_ns / SECOND)
    except TimeoutError:
        _kill(pid)
        asyncio.ensure_future(_reap(driver, pid))
        return {"Start": start, "End": now_iso(), "ExitCode": -1,
                "Output": f"Health check exceeded timeout ({go_duration(timeout_ns)})"}
    finally:
        with contextlib.suppress(OSError):
            os.close(r)
    return {"Start": start, "End": now_iso(), "ExitCode": code,
            "Output": output.decode("utf-8", "replace")}


async def _collect(driver: Any, pid: int, fd: int) -> tuple[bytes, int]:
    """Read the probe's output to EOF (keeping the first 4 KiB), then its exit code."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    buf = bytearray()
    eof = asyncio.Event()

    def readable() -> None:
        chunk = read_ready(fd)
        if chunk is None:
            return
        if not chunk:
            loop.remove_reader(fd)
            eof.set()
        elif len(buf) < MAX_OUTPUT:
            buf.extend(chunk[:MAX_OUTPUT - len(buf)])

    loop.add_reader(fd, readable)
    try:
        await eof.wait()
    finally:
        loop.remove_reader(fd)
    while True:
        code = await asyncio.to_thread(driver.exec_exit_code, pid)
        if code is not None:
            return bytes(buf), code
        await asyncio.sleep(0.01)


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        fd = os.pidfd_open(pid)
        try:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        finally:
            os.close(fd)


async def _reap(driver: Any, pid: int) -> None:
    """Collect a killed probe's exit so the driver forgets it."""
    for _ in range(500):
        with contextlib.suppress(CoveError):
            if await asyncio.to_thread(driver.exec_exit_code, pid) is not None:
                return
        await asyncio.sleep(0.02)
