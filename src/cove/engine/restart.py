"""Restart policies (``no``, ``always``, ``unless-stopped``, ``on-failure[:N]``).

The policy logic is Docker's restart manager, as pure functions: :func:`validate` checks a
``HostConfig.RestartPolicy``; :func:`should_restart` decides from the policy, the exit
code, whether the user stopped the container and how many restarts it had; :func:`backoff`
gives the delay (100 ms, doubling, at most a minute, back to 100 ms after 10 s of
running). :class:`Restarter` applies them for the Engine: it is told of each exit, turns
the container to ``restarting`` and starts it again after the delay; a user's stop,
start or remove cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from cove.errors import CoveError, InvalidParameter
from cove.model import now_iso

log = logging.getLogger("cove.engine.restart")

POLICIES = ("no", "always", "unless-stopped", "on-failure")
FIRST_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


def validate(policy: Any, auto_remove: bool = False) -> dict[str, Any]:
    """``{"Name", "MaximumRetryCount"}`` checked with Docker's messages; ``{}`` for none."""
    if policy is None:
        return {}
    if not isinstance(policy, dict):
        raise InvalidParameter("invalid RestartPolicy: must be an object")
    name = policy.get("Name") or ""
    count = policy.get("MaximumRetryCount") or 0
    if not isinstance(name, str):
        raise InvalidParameter("invalid RestartPolicy.Name: must be a string")
    if isinstance(count, bool) or not isinstance(count, int):
        raise InvalidParameter("invalid RestartPolicy.MaximumRetryCount: must be an integer")
    if name in ("always", "unless-stopped", "no"):
        if count != 0:
            raise InvalidParameter(
                f"maximum retry count cannot be used with restart policy '{name}'")
    elif name == "on-failure":
        if count < 0:
            raise InvalidParameter("maximum retry count cannot be negative")
    elif name:
        raise InvalidParameter(f"invalid restart policy '{name}'")
    if name in ("", "no"):
        return {}
    if auto_remove:
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    return {"Name": name, "MaximumRetryCount": count}


def render(policy: dict[str, Any]) -> dict[str, Any]:
    """inspect's ``HostConfig.RestartPolicy``."""
    return {"Name": policy.get("Name") or "no",
            "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0)}


def should_restart(policy: dict[str, Any], exit_code: int, manually_stopped: bool,
                   restart_count: int) -> bool:
    """Docker's decision after an exit (``restart_count``: restarts so far)."""
    name = policy.get("Name") or "no"
    if name == "always":
        return True
    if name == "unless-stopped":
        return not manually_stopped
    if name == "on-failure":
        limit = int(policy.get("MaximumRetryCount") or 0)
        return exit_code != 0 and (limit == 0 or restart_count < limit)
    return False


def backoff(previous: float, ran_for: float) -> float:
    """The next delay: 100 ms after a run of 10 s or more (or the first time), else
    double the previous one, at most a minute."""
    if ran_for >= RESET_AFTER or previous <= 0:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)


class Restarter:
    """Per-container back-off and pending restarts for the Engine (the restart manager)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self._delay: dict[str, float] = {}
        self._pending: dict[str, asyncio.Task] = {}

    def on_exit(self, c: Any, ran_for: float) -> bool:
        """Called (under the container's lock) once the exit is recorded; when the policy
        says so, mark ``c`` restarting and schedule its start. True if scheduled.
        After a user's stop nothing restarts (Docker cancels the restart manager); only
        the daemon's start brings ``always`` containers back (:meth:`at_boot`)."""
        if c.config.auto_remove or c.manually_stopped or not should_restart(
                c.config.restart_policy, c.exit_code, c.manually_stopped, c.restart_count):
            self._delay.pop(c.id, None)
            return False
        delay = backoff(self._delay.get(c.id, 0.0), ran_for)
        self._delay[c.id] = delay
        c.status = "restarting"
        c.restart_count += 1
        self.engine._save(c)
        self.cancel(c.id)
        self._pending[c.id] = asyncio.ensure_future(self._later(c.id, delay))
        return True

    async def _later(self, cid: str, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
        finally:
            if self._pending.get(cid) is asyncio.current_task():
                del self._pending[cid]
        eng = self.engine
        c = eng._containers.get(cid)
        if c is None:
            return
        async with eng._lock(cid):
            if c.status != "restarting":
                return
            try:
                await eng._start(c)
            except CoveError as exc:
                log.warning("restart of %s failed: %s", cid[:12], exc.message)
                c.status = "exited"
                c.finished_at = now_iso()
                eng._save(c)

    def at_boot(self, containers: list[Any]) -> list[str]:
        """At daemon start: containers whose policy wants them running (``always``,
        ``unless-stopped`` unless the user stopped them, ``on-failure`` after a failure
        within its retries, or one that was waiting to restart) start again. Returns
        their ids."""
        out = []
        for c in containers:
            if c.config.auto_remove or c.status not in ("exited", "restarting"):
                continue
            if c.status == "exited" and not should_restart(
                    c.config.restart_policy, c.exit_code, c.manually_stopped,
                    c.restart_count):
                continue
            c.status = "restarting"
            self.engine._save(c)
            self._pending[c.id] = asyncio.ensure_future(self._later(c.id, 0))
            out.append(c.id)
        return out

    def cancel(self, cid: str) -> None:
        """Drop a pending restart (a stop, a remove, a new start)."""
        task = self._pending.pop(cid, None)
        if task is not None and not task.done():
            task.cancel()

    def stop(self, c: Any) -> bool:
        """The user stops ``c``: no more restarts until its next start. True if it was
        waiting to restart (it is then exited)."""
        if c.status not in ("running", "restarting"):
            return False
        c.manually_stopped = True
        self.cancel(c.id)
        if c.status == "restarting":
            c.status = "exited"
            self.engine._save(c)
            return True
        return False

    def reset(self, c: Any) -> None:
        """A user's start: restart count and back-off start again."""
        self.cancel(c.id)
        self._delay.pop(c.id, None)
        c.restart_count = 0
        c.manually_stopped = False

    def forget(self, cid: str) -> None:
        self.cancel(cid)
        self._delay.pop(cid, None)

    async def close(self) -> None:
        tasks = list(self._pending.values())
        self._pending.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
