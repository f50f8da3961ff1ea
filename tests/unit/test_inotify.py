"""cove.kernel.inotify: a FileWatch wakes on writes to its file, and closes its fd."""

from __future__ import annotations

import asyncio
import os

from cove.kernel import inotify


def test_file_watch_wakes_on_append_and_closes(tmp_path):
    path = tmp_path / "log.json"
    path.write_text("")

    async def run() -> tuple[bool, bool, int]:
        watch = inotify.watch_file(str(path))
        assert watch is not None
        fd = watch.fd
        quiet = True
        try:
            await asyncio.wait_for(watch.changed.wait(), 0.05)
            quiet = False
        except TimeoutError:
            pass
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, lambda: path.open("a").write("x\n"))
        await asyncio.wait_for(watch.changed.wait(), 5)
        woke = watch.changed.is_set()
        watch.close()
        watch.close()                       # closing twice is harmless
        return quiet, woke, fd

    quiet, woke, fd = asyncio.run(run())
    assert quiet and woke
    try:
        os.fstat(fd)
        closed = False
    except OSError:
        closed = True
    assert closed


def test_watch_file_of_a_missing_path_is_none(tmp_path):
    async def run():
        return inotify.watch_file(str(tmp_path / "nope"))
    assert asyncio.run(run()) is None
