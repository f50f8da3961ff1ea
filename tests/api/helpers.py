"""Run an async test body against make_app(FakeEngine) through aiohttp's test client."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient, TestServer

from cove.api.server import make_app
from tests.api.fake_engine import FakeEngine


def run(body: Callable[[TestClient, FakeEngine], Awaitable[None]]) -> None:
    async def main() -> None:
        engine = FakeEngine()
        client = TestClient(TestServer(make_app(engine)))
        await client.start_server()
        try:
            await body(client, engine)
        finally:
            await client.close()
    asyncio.run(main())


def demux(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        stream, size = struct.unpack(">BxxxI", data[:8])
        out.append((stream, data[8:8 + size]))
        data = data[8 + size:]
    return out


JSON = {"Content-Type": "application/json"}
