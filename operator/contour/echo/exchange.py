"""Protocol-neutral shapes of what the echo backend receives and answers.

The HTTP/1.1 and HTTP/2 front ends both turn a request into an `EchoRequest` and carry out the
`Reply` or `Reset` the handlers return, so the behaviour is written once for every protocol.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import struct
from dataclasses import dataclass

# RFC 9110 section 5.6.2 token characters; Go leaves a name holding anything else uncanonicalised.
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class TLSDetails:
    """What the TLS handshake settled, in the words of Go's tls.ConnectionState."""

    version: str
    server_name: str
    negotiated_protocol: str
    cipher_suite: str
    peer_certificates: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """Facts about one accepted connection that every request on it shares."""

    listener_port: int
    remote: str
    tls: TLSDetails | None


@dataclass(frozen=True, slots=True)
class EchoRequest:
    """A request as Go's net/http would present it to a handler."""

    method: str
    target: str
    host: str
    proto: str
    headers: tuple[tuple[str, str], ...]
    connection: ConnectionInfo

    def header(self, name: str) -> str | None:
        """The first value of a header given by its canonical name, like Go's Header.Get."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete response: status, headers in order, body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class Reset:
    """Answer by aborting the TCP connection with an RST instead of a response."""


RESET = Reset()


@functools.lru_cache(maxsize=4096)
def canonical_header_name(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: `x-forwarded-for` becomes `X-Forwarded-For`."""
    if not name or any(char not in _TOKEN_CHARS for char in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def format_address(peer: object) -> str:
    """`host:port` as Go's RemoteAddr prints it, with brackets around an IPv6 host."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = str(peer[0]), peer[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(peer)


def reset_socket(sock: socket.socket | None) -> None:
    """Make the coming close send an RST: SO_LINGER on with a zero timeout (see socket(7))."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
