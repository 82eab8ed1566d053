"""HTTP/1.x connections of the echo backend: keep-alive, pipelining, WebSocket and h2c upgrades.

On the h2c listener a plain HTTP/1.1 request gets 400 "Expected h2c request" unless it carries
`Upgrade: h2c`; a complete h2c upgrade (with HTTP2-Settings) switches the connection to HTTP/2 and
the request is answered as stream 1. Malformed input is answered with the status `http1_wire`
chose and the connection is closed; it never reaches the handlers.
"""

from __future__ import annotations

import asyncio
import enum

from contour.echo.exchange import ConnectionInfo, EchoRequest, Reply, canonical_header_name, reset_socket
from contour.echo.handlers import EchoApp, is_websocket_path
from contour.echo.http1_wire import (
    BodySkipper,
    RequestHead,
    WireError,
    parse_request_head,
    reason_phrase,
    response_head,
)
from contour.echo.http2 import Http2Session
from contour.echo.websocket import echo_frames, handshake_accept_key

_READ_SIZE = 65536


class ListenerKind(enum.Enum):
    """Which of the three echo listeners accepted a connection."""

    HTTP = "http"
    H2C = "h2c"
    HTTPS = "https"


class _ClientClosedError(Exception):
    """The client closed its side; nothing more will arrive."""


def _has_token(value: str | None, token: str) -> bool:
    return value is not None and token in (part.strip().lower() for part in value.split(","))


class Http1Connection:
    """One HTTP/1.x connection; `run` returns when it is finished, handed over, or reset."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        info: ConnectionInfo,
        app: EchoApp,
        kind: ListenerKind,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._info = info
        self._app = app
        self._kind = kind
        self._buffer = bytearray()

    async def run(self, initial: bytes) -> None:
        self._buffer += initial
        while True:
            try:
                head = await self._read_head()
                if head is None:
                    return
                request = self._request(head)
                await self._skip_body(head)
            except WireError as exc:
                await self._refuse(exc.status)
                return
            except _ClientClosedError:
                return
            if not await self._respond(request, head):
                return

    async def _fill(self) -> None:
        data = await self._reader.read(_READ_SIZE)
        if not data:
            raise _ClientClosedError
        self._buffer += data

    async def _read_head(self) -> RequestHead | None:
        while True:
            parsed = parse_request_head(self._buffer)
            if parsed is not None:
                head, length = parsed
                del self._buffer[:length]
                return head
            try:
                await self._fill()
            except _ClientClosedError:
                if self._buffer.strip():
                    raise WireError(400, "connection closed inside the request head") from None
                return None

    async def _skip_body(self, head: RequestHead) -> None:
        if head.body_length == 0:
            return
        if head.expects_continue and not self._buffer:
            self._writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        skipper = BodySkipper(head.body_length)
        while not skipper.consume(self._buffer):
            await self._fill()

    def _request(self, head: RequestHead) -> EchoRequest:
        host = ""
        headers: list[tuple[str, str]] = []
        for name, value in head.headers:
            canonical = canonical_header_name(name)
            if canonical == "Host":
                host = host or value
            else:
                headers.append((canonical, value))
        return EchoRequest(
            method=head.method,
            target=head.target,
            host=host,
            proto=f"HTTP/{head.version}",
            headers=tuple(headers),
            connection=self._info,
        )

    async def _respond(self, request: EchoRequest, head: RequestHead) -> bool:
        """Answer one request; False when the connection must not serve another HTTP/1 request."""
        upgrade = request.header("Upgrade")
        if self._kind is ListenerKind.H2C:
            settings = request.header("Http2-Settings")
            if (
                _has_token(upgrade, "h2c")
                and _has_token(request.header("Connection"), "http2-settings")
                and settings is not None
            ):
                return await self._upgrade_to_h2c(request, head, settings)
            if upgrade != "h2c":
                return await self._send(head, self._app.plain(400, b"Expected h2c request"))
        elif upgrade is not None and is_websocket_path(request.target):
            accept = handshake_accept_key(request)
            if accept is not None:
                await self._upgrade_to_websocket(accept)
                return False
        outcome = await self._app.handle(request)
        if not isinstance(outcome, Reply):
            reset_socket(self._writer.get_extra_info("socket"))
            self._writer.transport.abort()
            return False
        return await self._send(head, outcome)

    async def _upgrade_to_h2c(self, request: EchoRequest, head: RequestHead, settings: str) -> bool:
        session = Http2Session(self._reader, self._writer, self._info, self._app)
        try:
            session.accept_upgrade(settings, request)
        except ValueError as exc:
            return await self._send(head, self._app.plain(400, str(exc).encode()))
        self._writer.write(response_head(101, [("Connection", "Upgrade"), ("Upgrade", "h2c")]))
        await session.run(bytes(self._buffer))
        return False

    async def _upgrade_to_websocket(self, accept: str) -> None:
        headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)]
        self._writer.write(response_head(101, headers))
        self._app.log(f"established websocket connection {self._info.remote}")
        await echo_frames(self._reader, self._writer, bytes(self._buffer))

    async def _send(self, head: RequestHead, reply: Reply) -> bool:
        """Write a reply; True if the connection stays open for the next request."""
        headers = list(reply.headers)
        if not head.keep_alive:
            headers.append(("Connection", "close"))
        elif head.version == "1.0":
            headers.append(("Connection", "keep-alive"))
        data = response_head(reply.status, headers)
        if head.method != "HEAD":
            data += reply.body
        self._writer.write(data)
        await self._writer.drain()
        return head.keep_alive

    async def _refuse(self, status: int) -> None:
        """Answer input the server cannot take (body `400 Bad Request`, as Go does) and close."""
        reply = self._app.plain(status, f"{status} {reason_phrase(status)}".encode())
        self._writer.write(response_head(status, [*reply.headers, ("Connection", "close")]) + reply.body)
        await self._writer.drain()
