"""`contour echo --mode tcp`: the conformance TCP echo, for TCPRoute and TLSRoute tests.

On connect the server greets with one line; then, line by line, `TEST` is answered with a JSON
document naming the pod and the connection (TLS or not, and the handshake), `IS_TLS` with
`true`/`false`, `PING` with `PONG`; other lines get no answer. Lines end with `\n` (a `\r` before it
is dropped), and a line longer than 64 KiB ends the connection, as Go's bufio.Scanner does in the
reference server. With a certificate a second, TLS, listener serves the same protocol inside TLS.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from contour.echo.assertions import Identity
from contour.echo.exchange import TLSDetails
from contour.echo.go_json import marshal_compact
from contour.echo.lifecycle import StreamListeners
from contour.echo.tls import EchoTLS

WELCOME = b"Gateway API Test TCP Server\n"
_MAX_LINE_BYTES = 64 * 1024
# Go's tls.VersionName spells versions with a space, unlike the HTTP and gRPC echoes' `TLSv1.3`.
_GO_VERSION_NAMES = {"TLSv1": "TLS 1.0", "TLSv1.1": "TLS 1.1", "TLSv1.2": "TLS 1.2", "TLSv1.3": "TLS 1.3"}


@dataclass(frozen=True)
class TcpEchoSettings:
    """What `contour echo --mode tcp` is configured with; a port of 0 asks for a free one."""

    address: str = "0.0.0.0"
    port: int = 3000
    tls_port: int = 8443
    tls_cert: Path | None = None
    tls_key: Path | None = None
    identity: Identity = field(default_factory=Identity)


def assertions_document(
    identity: Identity, tcp_port: int, tls_port: int, tls: TLSDetails | None
) -> dict[str, object]:
    """The answer to `TEST`, in the reference server's field order."""
    document: dict[str, object] = {
        "namespace": identity.namespace,
        "ingress": identity.ingress,
        "service": identity.service,
        "pod": identity.pod,
        "tcpport": str(tcp_port),
        "tlsport": str(tls_port),
        "isTLS": tls is not None,
    }
    if tls is not None:
        handshake: dict[str, str] = {
            "version": _GO_VERSION_NAMES.get(tls.version, tls.version),
            "serverName": tls.server_name,
        }
        if tls.negotiated_protocol:
            handshake["negotiatedProtocol"] = tls.negotiated_protocol
        handshake["cipherSuite"] = tls.cipher_suite
        document["tls"] = handshake
    return document


class TcpEchoServer:
    """The plaintext listener and, given a certificate, the TLS listener of the TCP echo."""

    def __init__(self, settings: TcpEchoSettings) -> None:
        self._settings = settings
        self._tls: EchoTLS | None = None
        if settings.tls_cert is not None and settings.tls_key is not None:
            self._tls = EchoTLS(settings.tls_cert, settings.tls_key)
            # The reference server offers no ALPN protocols, so none is ever negotiated.
            self._tls.context.set_alpn_protocols([])
        self._listeners = StreamListeners(settings.address)
        self._tcp_port = settings.port
        self._tls_port = settings.tls_port

    async def start(self) -> None:
        self._tcp_port = await self._listeners.listen(self._settings.port, "tcp", self._serve)
        if self._tls is not None:
            self._tls_port = await self._listeners.listen(
                self._settings.tls_port, "tls", self._serve, self._tls.context
            )

    async def stop(self) -> None:
        await self._listeners.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls = None
        ssl_object = writer.get_extra_info("ssl_object")
        if self._tls is not None and isinstance(ssl_object, ssl.SSLObject):
            tls = self._tls.details(ssl_object)
        answers = {
            b"TEST": marshal_compact(
                assertions_document(self._settings.identity, self._tcp_port, self._tls_port, tls)
            )
            + b"\n",
            b"IS_TLS": b"true\n" if tls is not None else b"false\n",
            b"PING": b"PONG\n",
        }
        writer.write(WELCOME)
        await writer.drain()
        while True:
            line, more = await _read_line(reader)
            if line is None:
                return
            answer = answers.get(line)
            if answer is not None:
                writer.write(answer)
                await writer.drain()
            if not more:
                return


async def _read_line(reader: asyncio.StreamReader) -> tuple[bytes | None, bool]:
    """The next line without its ending, and whether more may follow; None at EOF or on an overlong line."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as eof:
        # Like bufio.ScanLines, a last line without a newline still counts.
        return (eof.partial.removesuffix(b"\r") or None), False
    except asyncio.LimitOverrunError:
        return None, False
    if len(line) > _MAX_LINE_BYTES + 1:
        return None, False
    return line[:-1].removesuffix(b"\r"), True
