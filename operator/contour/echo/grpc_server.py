"""`contour echo --mode grpc`: the GrpcEcho service over HTTP/2, plaintext and TLS.

The server speaks gRPC's HTTP/2 mapping itself (on the h2 state machine the HTTP echo already uses)
instead of using grpcio's server, because grpcio does not show a handler the `:authority` or the
`content-type` of a call, and the echo must report both. Only unary calls exist in this service,
so a call is answered once its request stream ends. The wire rules followed are those of
https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions

from contour.echo.assertions import Identity
from contour.echo.exchange import ConnectionInfo, format_address
from contour.echo.grpc_echo import (
    MAX_MESSAGE_BYTES,
    GrpcCall,
    GrpcEchoService,
    RpcOutcome,
    StatusCode,
    frame_message,
)
from contour.echo.lifecycle import StreamListeners
from contour.echo.server import write_stdout_line
from contour.echo.tls import EchoTLS

_READ_SIZE = 65536
_MAX_BODY_BYTES = MAX_MESSAGE_BYTES + 5
_GRPC_CONTENT_TYPE = "application/grpc"
# Percent-encode everything outside printable ASCII, and `%` itself (PROTOCOL-HTTP2.md, Status-Message).
_UNRESERVED = frozenset(range(0x20, 0x7F)) - {ord("%")}


@dataclass(frozen=True)
class GrpcEchoSettings:
    """What `contour echo --mode grpc` is configured with; a port of 0 asks for a free one."""

    address: str = "0.0.0.0"
    port: int = 3000
    tls_port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    identity: Identity = field(default_factory=Identity)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _percent_encode(message: str) -> str:
    return "".join(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in message.encode("utf-8"))


@dataclass
class _Stream:
    """A call in progress: its request so far, then the response bytes still held back by flow control."""

    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytearray = field(default_factory=bytearray)
    answered: bool = False
    unsent: bytes = b""
    trailers: list[tuple[str, str]] = field(default_factory=list)


class GrpcConnection:
    """One HTTP/2 connection carrying GrpcEcho calls, from the client preface to EOF or GOAWAY."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        info: ConnectionInfo,
        service: GrpcEchoService,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._info = info
        self._service = service
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self._streams: dict[int, _Stream] = {}
        self._closed = False

    async def run(self) -> None:
        self._h2.initiate_connection()
        await self._flush()
        while not self._closed:
            data = await self._reader.read(_READ_SIZE)
            if not data:
                return
            try:
                events = self._h2.receive_data(data)
            except h2.exceptions.ProtocolError:
                await self._flush()  # h2 has queued a GOAWAY naming the error
                return
            for event in events:
                self._on_event(event)
            await self._flush()

    async def _flush(self) -> None:
        outgoing = self._h2.data_to_send()
        if outgoing:
            self._writer.write(outgoing)
            await self._writer.drain()

    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._on_request(event)
        elif isinstance(event, h2.events.DataReceived):
            self._on_data(event)
        elif isinstance(event, h2.events.StreamEnded):
            self._on_stream_ended(event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            self._streams.pop(event.stream_id, None)
        elif isinstance(event, h2.events.WindowUpdated):
            self._on_window_updated(event.stream_id)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._closed = True

    def _on_request(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id
        if stream_id is None:
            return
        headers = tuple((_text(name), _text(value)) for name, value in event.headers or ())
        fields = dict(headers)
        stream = _Stream(path=fields.get(":path", ""), headers=headers)
        self._streams[stream_id] = stream
        if fields.get(":method") != "POST":
            self._refuse_http(stream_id, stream, "405")
        elif not _is_grpc_content_type(fields.get("content-type", "")):
            self._refuse_http(stream_id, stream, "415")

    def _on_data(self, event: h2.events.DataReceived) -> None:
        stream_id = event.stream_id
        if stream_id is None:
            return
        if event.flow_controlled_length:
            # The body is buffered here, not by the peer: give its flow-control credit straight back.
            self._h2.acknowledge_received_data(event.flow_controlled_length, stream_id)
        stream = self._streams.get(stream_id)
        if stream is None or stream.answered:
            return
        stream.body += event.data or b""
        if len(stream.body) > _MAX_BODY_BYTES:
            stream.body.clear()
            self._answer(
                stream_id,
                stream,
                RpcOutcome(
                    StatusCode.RESOURCE_EXHAUSTED,
                    f"grpc: received message larger than max (more than {MAX_MESSAGE_BYTES} bytes)",
                ),
            )

    def _on_stream_ended(self, stream_id: int | None) -> None:
        if stream_id is None:
            return
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if not stream.answered:
            call = GrpcCall(
                path=stream.path, headers=stream.headers, body=bytes(stream.body), tls=self._info.tls
            )
            self._log_call(call)
            self._answer(stream_id, stream, self._service.call(call))
        if not stream.unsent and not stream.trailers:
            self._streams.pop(stream_id, None)

    def _log_call(self, call: GrpcCall) -> None:
        over = "TLS" if call.tls is not None else "plaintext"
        write_stdout_line(f"Received over {over}: {call.path} from {self._info.remote}")

    def _refuse_http(self, stream_id: int, stream: _Stream, status: str) -> None:
        """Not a gRPC request at all: a bare HTTP status, as grpc-go answers."""
        stream.answered = True
        self._send(lambda: self._h2.send_headers(stream_id, [(":status", status)], end_stream=True))

    def _answer(self, stream_id: int, stream: _Stream, outcome: RpcOutcome) -> None:
        stream.answered = True
        response_headers = [(":status", "200"), ("content-type", _GRPC_CONTENT_TYPE)]
        status = [("grpc-status", str(int(outcome.code)))]
        if outcome.message:
            status.append(("grpc-message", _percent_encode(outcome.message)))
        if outcome.code is not StatusCode.OK:
            # A "Trailers-Only" response: the status rides on the only HEADERS frame.
            self._send(lambda: self._h2.send_headers(stream_id, response_headers + status, end_stream=True))
            return
        self._send(lambda: self._h2.send_headers(stream_id, response_headers))
        stream.unsent = frame_message(outcome.response)
        stream.trailers = status
        self._send_within_window(stream_id, stream)

    def _on_window_updated(self, stream_id: int | None) -> None:
        targets = (
            list(self._streams.items()) if not stream_id else [(stream_id, self._streams.get(stream_id))]
        )
        for target_id, stream in targets:
            if stream is not None and (stream.unsent or stream.trailers):
                self._send_within_window(target_id, stream)

    def _send_within_window(self, stream_id: int, stream: _Stream) -> None:
        """Send what the peer's flow-control windows allow; the rest waits for a WINDOW_UPDATE."""
        while stream.unsent:
            try:
                allowed = min(self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size)
            except h2.exceptions.StreamClosedError:
                self._streams.pop(stream_id, None)
                return
            if allowed <= 0:
                return
            chunk, stream.unsent = stream.unsent[:allowed], stream.unsent[allowed:]
            if not self._send(functools.partial(self._h2.send_data, stream_id, chunk)):
                self._streams.pop(stream_id, None)
                return
        trailers, stream.trailers = stream.trailers, []
        if trailers:
            self._send(lambda: self._h2.send_headers(stream_id, trailers, end_stream=True))
        self._streams.pop(stream_id, None)

    def _send(self, action: Callable[[], None]) -> bool:
        """Queue a frame; False when the client has meanwhile reset or closed the stream."""
        try:
            action()
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return False
        return True


def _is_grpc_content_type(value: str) -> bool:
    """`application/grpc`, optionally followed by `+proto`-style or `;`-parameter suffixes."""
    return value == _GRPC_CONTENT_TYPE or (
        value.startswith(_GRPC_CONTENT_TYPE) and value[len(_GRPC_CONTENT_TYPE)] in "+;"
    )


class GrpcEchoServer:
    """The plaintext listener and, given a certificate, the TLS listener of the GrpcEcho service."""

    def __init__(self, settings: GrpcEchoSettings) -> None:
        self._settings = settings
        self._service = GrpcEchoService(settings.identity)
        self._tls: EchoTLS | None = None
        if settings.tls_cert is not None and settings.tls_key is not None:
            self._tls = EchoTLS(settings.tls_cert, settings.tls_key)
            # gRPC is HTTP/2 only; grpc-go's server credentials offer just "h2" too.
            self._tls.context.set_alpn_protocols(["h2"])
        self._listeners = StreamListeners(settings.address)

    async def start(self) -> None:
        await self._listeners.listen(self._settings.port, "grpc", self._serve)
        if self._tls is not None:
            await self._listeners.listen(self._settings.tls_port, "grpc-tls", self._serve, self._tls.context)

    async def stop(self) -> None:
        await self._listeners.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls = None
        ssl_object = writer.get_extra_info("ssl_object")
        if self._tls is not None and isinstance(ssl_object, ssl.SSLObject):
            tls = self._tls.details(ssl_object)
        info = ConnectionInfo(
            listener_port=int(writer.get_extra_info("sockname")[1]),
            remote=format_address(writer.get_extra_info("peername")),
            tls=tls,
        )
        await GrpcConnection(reader, writer, info, self._service).run()
