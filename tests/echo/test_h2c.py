"""The h2c listener: HTTP/2 with prior knowledge, the `Upgrade: h2c` dance, and 400 for plain HTTP/1.1."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from typing import Any

import h2.config
import h2.connection
import h2.events
import httpx
import pytest

from tests.echo.process import EchoProcess


def h2c_upgrade_get(port: int, target: str) -> tuple[bytes, int, dict[str, Any]]:
    """GET target with `Upgrade: h2c`; returns the HTTP/1.1 status line and the HTTP/2 answer on stream 1."""
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    settings = client.initiate_upgrade_connection()
    assert settings is not None
    request = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade, HTTP2-Settings\r\n"
        f"Upgrade: h2c\r\nHTTP2-Settings: {settings.decode()}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        buffered = b""
        while b"\r\n\r\n" not in buffered:
            chunk = sock.recv(65536)
            assert chunk, f"closed before the 101: {buffered!r}"
            buffered += chunk
        head, _, rest = buffered.partition(b"\r\n\r\n")
        sock.sendall(client.data_to_send())
        status, body = 0, b""
        events = client.receive_data(rest) if rest else []
        while True:
            for event in events:
                if isinstance(event, h2.events.ResponseReceived) and event.stream_id == 1:
                    status = int(dict(event.headers)[b":status"])
                elif isinstance(event, h2.events.DataReceived) and event.stream_id == 1:
                    body += event.data
                    client.acknowledge_received_data(event.flow_controlled_length, 1)
                elif isinstance(event, h2.events.StreamEnded) and event.stream_id == 1:
                    return head.split(b"\r\n")[0], status, json.loads(body)
            sock.sendall(client.data_to_send())
            chunk = sock.recv(65536)
            assert chunk, "closed before stream 1 ended"
            events = client.receive_data(chunk)


def test_prior_knowledge_http2_is_echoed_as_http2(echo: EchoProcess) -> None:
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        response = client.get(echo.url("h2c", "/h2?x=1"))
    assert response.http_version == "HTTP/2"
    body = response.json()
    assert (body["proto"], body["path"], body["httpPort"]) == ("HTTP/2.0", "/h2?x=1", str(echo.ports["h2c"]))
    assert body["host"] == f"127.0.0.1:{echo.ports['h2c']}"


async def test_prior_knowledge_streams_run_concurrently(echo: EchoProcess) -> None:
    """A delayed stream must not hold up another stream on the same connection."""
    slow_target = f"/?delay=1s&id={uuid.uuid4()}"
    async with httpx.AsyncClient(http1=False, http2=True, timeout=10) as client:
        slow = asyncio.create_task(client.get(echo.url("h2c", slow_target)))
        await asyncio.to_thread(
            echo.wait_for_line, f"Echoing back request made to {slow_target}", 5.0, prefix=True
        )
        fast = await client.get(echo.url("h2c", "/fast"))
        assert not slow.done(), "the fast stream waited for the slow one"
        assert ((await slow).status_code, fast.status_code) == (200, 200)


def test_h2c_upgrade_switches_protocols_and_answers_on_stream_one(echo: EchoProcess) -> None:
    status_line, status, body = h2c_upgrade_get(echo.ports["h2c"], "/upgraded?y=2")
    assert status_line == b"HTTP/1.1 101 Switching Protocols"
    assert (status, body["proto"], body["path"]) == (200, "HTTP/2.0", "/upgraded?y=2")


def test_plain_http1_on_the_h2c_port_is_a_400(echo: EchoProcess) -> None:
    with httpx.Client(timeout=10) as client:
        response = client.get(echo.url("h2c", "/"))
    assert (response.status_code, response.text) == (400, "Expected h2c request")


def test_http1_with_upgrade_h2c_header_but_no_settings_is_echoed(echo: EchoProcess) -> None:
    with httpx.Client(timeout=10) as client:
        response = client.get(echo.url("h2c", "/"), headers={"Upgrade": "h2c"})
    assert (response.status_code, response.json()["proto"]) == (200, "HTTP/1.1")


@pytest.mark.parametrize(
    ("target", "headers", "expected"),
    [
        ("/health", {}, (200, "OK", None)),
        ("/status/503", {}, (503, "", None)),
        ("/", {"X-Echo-Set-Header": "X-A:1,X-A:2"}, (200, None, "1,2")),
    ],
    ids=["health", "status", "header-reflection"],
)
def test_http2_requests_reach_the_same_handlers(
    echo: EchoProcess, target: str, headers: dict[str, str], expected: tuple[int, str | None, str | None]
) -> None:
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        response = client.get(echo.url("h2c", target), headers=headers)
    status, text, reflected = expected
    assert response.status_code == status
    if text is not None:
        assert response.text == text
    if reflected is not None:
        assert response.headers["x-a"] == reflected
