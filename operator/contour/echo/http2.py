"""HTTP/2 for the echo backend: prior-knowledge h2c, `Upgrade: h2c`, and h2 negotiated by ALPN.

One reader loop feeds the h2 state machine; every request runs as its own task so a `?delay=` on
one stream never holds up the others. Request bodies are read and discarded (with their flow-control
credit returned at once); response bodies are sent within the peer's flow-control windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

from contour.echo.exchange import ConnectionInfo, EchoRequest, Reply, canonical_header_name, reset_socket
from contour.echo.handlers import EchoApp

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_READ_SIZE = 65536
# RFC 9113 section 8.2.2: connection-specific fields are not allowed in HTTP/2.
_CONNECTION_SPECIFIC = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


class Http2Session:
    """One HTTP/2 connection, from the connection preface to GOAWAY or EOF."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        info: ConnectionInfo,
        app: EchoApp,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._info = info
        self._app = app
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self._h2 = h2.connection.H2Connection(config=config)
        self._pending: dict[int, list[tuple[bytes, bytes]]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._window_opened = asyncio.Event()
        self._closed = False
        self._upgraded: EchoRequest | None = None

    def accept_upgrade(self, settings_header: str, request: EchoRequest) -> None:
        """Take over an HTTP/1.1 `Upgrade: h2c` request as stream 1; raises on a bad HTTP2-Settings."""
        value = settings_header.strip()
        # Clients send base64url without padding (RFC 7540 section 3.2.1); Python's decoder wants it.
        padded = (value + "=" * (-len(value) % 4)).encode("ascii", "replace")
        try:
            self._h2.initiate_upgrade_connection(padded)
        except Exception as exc:  # binascii, hyperframe and h2 errors alike: the header is bad
            raise ValueError(f"bad HTTP2-Settings header: {exc}") from exc
        self._upgraded = EchoRequest(
            method=request.method,
            target=request.target,
            host=request.host,
            proto="HTTP/2.0",
            headers=request.headers,
            connection=request.connection,
        )

    async def run(self, initial: bytes) -> None:
        if self._upgraded is None:
            self._h2.initiate_connection()
        else:
            self._start(1, self._upgraded)
        self._flush()
        data = initial
        try:
            while not self._closed:
                if data:
                    self._receive(data)
                    self._flush()
                    await self._writer.drain()
                if self._closed:
                    break
                data = await self._reader.read(_READ_SIZE)
                if not data:
                    break
        finally:
            self._closed = True
            for task in self._tasks.values():
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    def _receive(self, data: bytes) -> None:
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            print(f"echo: HTTP/2 protocol error from {self._info.remote}: {exc}", file=sys.stderr)
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self._h2.close_connection(error_code=h2.errors.ErrorCodes.PROTOCOL_ERROR)
            self._closed = True
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                headers = [(bytes(name), bytes(value)) for name, value in event.headers or ()]
                if event.stream_ended is not None:
                    self._start(event.stream_id, self._request(headers))
                else:
                    self._pending[event.stream_id] = headers
            elif isinstance(event, h2.events.DataReceived):
                if event.flow_controlled_length:
                    with contextlib.suppress(h2.exceptions.StreamClosedError):
                        self._h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                pending = self._pending.pop(event.stream_id, None)
                if pending is not None:
                    self._start(event.stream_id, self._request(pending))
            elif isinstance(event, h2.events.StreamReset):
                self._pending.pop(event.stream_id, None)
                task = self._tasks.pop(event.stream_id, None)
                if task is not None:
                    task.cancel()
            elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
                self._window_opened.set()
            elif isinstance(event, h2.events.ConnectionTerminated):
                self._closed = True

    def _request(self, headers: list[tuple[bytes, bytes]]) -> EchoRequest:
        pseudo: dict[bytes, bytes] = {}
        regular: list[tuple[str, str]] = []
        cookies: list[str] = []
        for name, value in headers:
            if name.startswith(b":"):
                pseudo.setdefault(name, value)
            elif name == b"cookie":
                cookies.append(_text(value))
            elif name != b"host":
                regular.append((canonical_header_name(_text(name)), _text(value)))
            else:
                pseudo.setdefault(b":authority", value)
        if cookies:
            # Go's HTTP/2 server joins split cookie fields back into one (RFC 9113 section 8.2.3).
            regular.append(("Cookie", "; ".join(cookies)))
        authority = _text(pseudo.get(b":authority", b""))
        return EchoRequest(
            method=_text(pseudo.get(b":method", b"")),
            target=_text(pseudo.get(b":path", b"")) or authority,
            host=authority,
            proto="HTTP/2.0",
            headers=tuple(regular),
            connection=self._info,
        )

    def _start(self, stream_id: int, request: EchoRequest) -> None:
        task = asyncio.create_task(self._serve_stream(stream_id, request))
        self._tasks[stream_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(stream_id, None))

    async def _serve_stream(self, stream_id: int, request: EchoRequest) -> None:
        outcome = await self._app.handle(request)
        if self._closed:
            return
        if not isinstance(outcome, Reply):
            self._reset_connection()
            return
        try:
            await self._send_reply(stream_id, request, outcome)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return
        self._flush()

    async def _send_reply(self, stream_id: int, request: EchoRequest, reply: Reply) -> None:
        headers = [(":status", str(reply.status))]
        headers.extend(
            (name.lower(), value) for name, value in reply.headers if name.lower() not in _CONNECTION_SPECIFIC
        )
        body = b"" if request.method == "HEAD" else reply.body
        self._h2.send_headers(stream_id, headers, end_stream=not body)
        self._flush()
        view = memoryview(body)
        while view:
            window = min(self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size)
            if window <= 0:
                self._window_opened.clear()
                await self._window_opened.wait()
                continue
            chunk, view = view[:window], view[window:]
            self._h2.send_data(stream_id, bytes(chunk), end_stream=not view)
            self._flush()

    def _flush(self) -> None:
        data = self._h2.data_to_send()
        if data and not self._writer.is_closing():
            self._writer.write(data)

    def _reset_connection(self) -> None:
        self._closed = True
        reset_socket(self._writer.get_extra_info("socket"))
        self._writer.transport.abort()
