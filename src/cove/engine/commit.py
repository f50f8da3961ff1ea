"""``POST /commit`` in the engine: a container's filesystem changes → a new image.

The new image's config is the container's effective config (the image's, overridden by
what the container was created with), then the request's ``config`` object, then the
``changes`` instructions (:func:`cove.images.commit.apply_changes`). A running container
is frozen while its upper dir is read (``pause``, Docker's default), when its driver can.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from typing import Any

from cove.engine import events
from cove.engine.model import Container, Image
from cove.errors import CoveError, InvalidParameter
from cove.images.commit import apply_changes, commit_layer, register
from cove.model import now_iso

# request config keys (Docker's Config) that replace the image's
CONFIG_KEYS = ("Cmd", "Entrypoint", "Env", "ExposedPorts", "Labels", "User", "WorkingDir",
               "Volumes", "StopSignal", "OnBuild", "Healthcheck")


def _merge_env(*layers: list[str]) -> list[str]:
    env: dict[str, str] = {}
    for layer in layers:
        for item in layer:
            k, _, v = item.partition("=")
            env[k] = v
    return [f"{k}={v}" for k, v in env.items()]


def image_config(c: Container, base: Image, override: dict[str, Any] | None,
                 changes: list[str]) -> dict[str, Any]:
    """The committed image's config section (pure)."""
    cfg = dict(base.config or {})
    cc = c.config
    if cc.cmd or cc.entrypoint:
        cfg["Cmd"] = list(cc.cmd) or None
    if cc.entrypoint:
        cfg["Entrypoint"] = list(cc.entrypoint)
    cfg["Env"] = _merge_env(cfg.get("Env") or [], [e for e in cc.env if "=" in e])
    for key, value in (("User", cc.user), ("WorkingDir", cc.working_dir)):
        if value:
            cfg[key] = value
    if cc.labels:
        cfg["Labels"] = {**(cfg.get("Labels") or {}), **cc.labels}
    if cc.exposed_ports:
        cfg["ExposedPorts"] = {**(cfg.get("ExposedPorts") or {}), **cc.exposed_ports}
    if cc.volumes:
        cfg["Volumes"] = {**(cfg.get("Volumes") or {}), **{p: {} for p in cc.volumes}}
    if override is not None:
        if not isinstance(override, dict):
            raise InvalidParameter("invalid commit config: must be a JSON object")
        for key in CONFIG_KEYS:
            if override.get(key) not in (None, "", [], {}):
                cfg[key] = override[key]
    return apply_changes(cfg, changes)


async def commit(eng: Any, ref: str, repo_tag: str = "", comment: str = "",
                 author: str = "", changes: list[str] | None = None,
                 config: dict[str, Any] | None = None, pause: bool = True) -> Image:
    c = eng.get_container(ref)
    base = eng.images.get(c.image_id)
    cfg = image_config(c, base, config, changes or [])
    upper = os.path.join(str(eng.container_dir(c.id)), "fs", "upper")
    paused = False
    if pause and c.status == "running" and not c.paused:
        with contextlib.suppress(CoveError):
            await eng.pause_container(c.id)
            paused = True
    try:
        if not os.path.isdir(upper):   # never started: no changes
            os.makedirs(upper, mode=0o711)
        layer, size, new = await asyncio.to_thread(commit_layer, eng.images, upper)
    finally:
        if paused:
            with contextlib.suppress(CoveError):
                await eng.unpause_container(c.id)
    try:
        image = await asyncio.to_thread(
            register, eng.images, base, layer, size, cfg, [repo_tag] if repo_tag else [],
            {"created": now_iso(), "author": author, "comment": comment, "container": c.id})
    except BaseException:
        if new:
            shutil.rmtree(layer, ignore_errors=True)
        raise
    events.container(eng, c, "commit", comment=comment, imageID=image.id)
    return image
