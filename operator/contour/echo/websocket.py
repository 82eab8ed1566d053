"""The `/ws` WebSocket echo: the opening handshake answer and a loop that sends every frame back.

The HTTP/1.1 front end parses the upgrade request and sends the 101; this module computes the
accept key (RFC 6455 section 4.2.2) and then speaks frames with wsproto's connection object.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.utilities import LocalProtocolError

from contour.echo.exchange import EchoRequest

_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_READ_SIZE = 65536


def handshake_accept_key(request: EchoRequest) -> str | None:
    """The Sec-WebSocket-Accept value for a valid RFC 6455 upgrade request, otherwise None."""
    if request.method != "GET" or request.header("Sec-Websocket-Version") != "13":
        return None
    upgrade = (request.header("Upgrade") or "").lower()
    if "websocket" not in [token.strip() for token in upgrade.split(",")]:
        return None
    key = request.header("Sec-Websocket-Key")
    if not key:
        return None
    digest = hashlib.sha1(key.strip().encode("ascii", "replace") + _ACCEPT_GUID).digest()
    return base64.b64encode(digest).decode("ascii")


async def echo_frames(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, initial: bytes) -> None:
    """Send back each text and binary message (fragment by fragment) until either side closes."""
    connection = Connection(ConnectionType.SERVER)
    if initial:
        connection.receive_data(initial)
    while True:
        try:
            for event in connection.events():
                if isinstance(event, TextMessage | BytesMessage):
                    reply: TextMessage | BytesMessage
                    if isinstance(event, TextMessage):
                        reply = TextMessage(data=event.data, message_finished=event.message_finished)
                    else:
                        reply = BytesMessage(data=event.data, message_finished=event.message_finished)
                    writer.write(connection.send(reply))
                elif isinstance(event, Ping):
                    writer.write(connection.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if connection.state is ConnectionState.REMOTE_CLOSING:
                        writer.write(connection.send(event.response()))
                    await writer.drain()
                    return
        except LocalProtocolError:
            return
        await writer.drain()
        if connection.state is ConnectionState.CLOSED:
            return
        data = await reader.read(_READ_SIZE)
        if not data:
            return
        connection.receive_data(data)
