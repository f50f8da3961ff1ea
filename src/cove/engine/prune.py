"""``POST /containers/prune``: remove every stopped container (optionally only those a
predicate accepts: the API's ``label``/``label!``/``until`` filters), reporting the ids
removed and the bytes their directories held on disk. Removal goes through the Engine's
own ``remove_container`` (endpoints, runtime state, files, record); it continues past a
container that fails to go and reports the first such error after the others are gone."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cove.engine.engine import Engine
    from cove.engine.model import Container

_LIVE = ("running", "paused", "restarting", "removing")


def disk_usage(path: str) -> int:
    """Bytes held by the files under ``path`` (allocated blocks; 0 when it is gone)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_blocks * 512
    return total


async def prune_containers(eng: Engine, match: Callable[[Container], bool] | None = None
                           ) -> tuple[list[str], int]:
    """Remove the stopped containers that match; returns (ids removed, bytes freed)."""
    import asyncio

    gone: list[str] = []
    freed = 0
    first_error: BaseException | None = None
    for c in list(eng.list_containers(all=True)):
        if c.status in _LIVE or getattr(c, "paused", False):
            continue
        if match is not None and not match(c):
            continue
        size = await asyncio.to_thread(disk_usage, str(eng.container_dir(c.id)))
        try:
            await eng.remove_container(c.id)
        except Exception as exc:      # keep pruning the others; report afterwards
            first_error = first_error or exc
            continue
        gone.append(c.id)
        freed += size
    if first_error is not None and not gone:
        raise first_error
    return gone, freed
