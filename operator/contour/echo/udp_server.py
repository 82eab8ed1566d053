"""`contour echo --mode udp`: the conformance UDP echo, for UDPRoute tests.

Every datagram is answered, to its sender, with one JSON datagram holding the payload received (as
text, invalid UTF-8 replaced) and the pod context. Unlike the reference server, which reads into a
1,024-byte buffer and so truncates longer payloads, the whole datagram is echoed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from typing import cast

from contour.echo.assertions import Identity
from contour.echo.exchange import format_address
from contour.echo.go_json import marshal_compact
from contour.echo.lifecycle import announce_listener
from contour.echo.server import write_stdout_line


@dataclass(frozen=True)
class UdpEchoSettings:
    """What `contour echo --mode udp` is configured with; a port of 0 asks for a free one."""

    address: str = "0.0.0.0"
    port: int = 8080
    identity: Identity = field(default_factory=Identity)


def echo_document(payload: bytes, identity: Identity) -> bytes:
    """The answer to one datagram, in the reference server's field order."""
    return marshal_compact(
        {
            "request": payload.decode("utf-8", "replace"),
            "namespace": identity.namespace,
            "ingress": identity.ingress,
            "service": identity.service,
            "pod": identity.pod,
        }
    )


class _EchoProtocol(asyncio.DatagramProtocol):
    def __init__(self, identity: Identity) -> None:
        self._identity = identity
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass asyncio.DatagramTransport.
        self._transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        text = json.dumps(data.decode("utf-8", "replace"), ensure_ascii=True)
        write_stdout_line(f"Received UDP {text} from {format_address(addr)}")
        if self._transport is None:
            return
        try:
            self._transport.sendto(echo_document(data, self._identity), addr)
        except OSError as exc:  # e.g. EMSGSIZE: the answer to a near-64-KiB datagram does not fit
            print(f"echo: cannot answer {format_address(addr)}: {exc}", file=sys.stderr)

    def error_received(self, exc: Exception) -> None:
        # An ICMP error about an earlier answer (the client went away); the socket stays usable.
        print(f"echo: UDP error: {exc}", file=sys.stderr)


class UdpEchoServer:
    """The UDP socket of the echo."""

    def __init__(self, settings: UdpEchoSettings) -> None:
        self._settings = settings
        self._transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _EchoProtocol(self._settings.identity),
            local_addr=(self._settings.address, self._settings.port),
        )
        self._transport = transport
        announce_listener(int(transport.get_extra_info("sockname")[1]), "udp")

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
