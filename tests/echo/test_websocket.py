"""WebSocket echo on `/ws`: every text and binary message comes back unchanged, with its type."""

from __future__ import annotations

import aiohttp
import pytest

from tests.echo.process import EchoProcess


@pytest.mark.parametrize(
    ("payload", "expected_type"),
    [("hello, echo", aiohttp.WSMsgType.TEXT), (bytes(range(256)) * 300, aiohttp.WSMsgType.BINARY)],
    ids=["text", "binary"],
)
async def test_websocket_frames_are_echoed(
    echo: EchoProcess, payload: str | bytes, expected_type: aiohttp.WSMsgType
) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(echo.url("http", "/ws")) as ws:
        if isinstance(payload, str):
            await ws.send_str(payload)
        else:
            await ws.send_bytes(payload)
        message = await ws.receive(timeout=10)
    assert (message.type, message.data) == (expected_type, payload)


async def test_websocket_close_is_answered(echo: EchoProcess) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(echo.url("http", "/ws"))
        await ws.send_str("one")
        assert (await ws.receive(timeout=10)).data == "one"
        await ws.close()
    assert ws.close_code == 1000


async def test_ws_path_without_upgrade_is_a_400(echo: EchoProcess) -> None:
    async with aiohttp.ClientSession() as session, session.get(echo.url("http", "/ws")) as response:
        assert response.status == 400
