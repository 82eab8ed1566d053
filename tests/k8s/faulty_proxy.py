"""A loopback TCP proxy that injects the network faults an informer must survive.

It forwards bytes between a client (the informer's kr8s session) and the API server, and on demand:
* cuts connections at random byte offsets of the server's answer (mid HTTP chunk, mid JSON line), a set
  number of times, by aborting both sides (RST, no clean end of the chunked body);
* stalls the connections open now: their server-to-client bytes stop flowing but the sockets stay open,
  like a half-open connection behind a NAT that lost its state; new connections are unaffected;
* cuts every open connection at once;
* holds the first request that contains a marker (e.g. `continue=`) until a test hook has run, to make
  something happen on the server between two requests of the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    sent: int = 0  # bytes forwarded from the server to the client
    cut_at: int | None = None
    stalled: asyncio.Event = field(default_factory=asyncio.Event)  # set = stalled, forever
    pumps: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()


class FaultyProxy:
    def __init__(self, target_host: str, target_port: int, *, seed: int = 0) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.rng = random.Random(seed)
        self.connections: set[_Connection] = set()
        self.accepted = 0
        self.cuts = 0
        self.cuts_left = 0
        self.cut_max_bytes = 0
        self._hold: tuple[bytes, Callable[[], Awaitable[None]]] | None = None
        self.held = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FaultyProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections):
            conn.abort()
            for pump in conn.pumps:
                pump.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        if self._server is not None:
            await self._server.wait_closed()

    # Faults -----------------------------------------------------------------------------------------

    def cut_randomly(self, times: int, max_bytes: int) -> None:
        """Cut connections `times` times, each after a random 1..max_bytes bytes from the server."""
        self.cuts_left = times
        self.cut_max_bytes = max_bytes
        for conn in self.connections:
            conn.cut_at = conn.sent + self.rng.randint(1, max_bytes)

    def hold_next_request(self, marker: bytes, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` before forwarding the next request whose bytes contain `marker` (once)."""
        self._hold = (marker, hook)

    def stall_open_connections(self) -> int:
        for conn in self.connections:
            conn.stalled.set()
        return len(self.connections)

    def cut_all(self) -> int:
        conns = list(self.connections)
        for conn in conns:
            conn.abort()
        self.cuts += len(conns)
        return len(conns)

    # Forwarding -------------------------------------------------------------------------------------

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        try:
            try:
                server_reader, server_writer = await asyncio.open_connection(
                    self.target_host, self.target_port
                )
            except OSError:
                client_writer.transport.abort()
                return
            conn = _Connection(client_writer, server_writer)
            if self.cuts_left > 0:
                conn.cut_at = self.rng.randint(1, self.cut_max_bytes)
            self.connections.add(conn)
            try:
                up = asyncio.create_task(self._upstream(client_reader, conn))
                down = asyncio.create_task(self._downstream(server_reader, conn))
                conn.pumps = [up, down]
                await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
                # One direction ended: a stalled connection stays open until the proxy stops.
                if conn.stalled.is_set():
                    await asyncio.wait({up, down})
                conn.abort()
                for t in (up, down):
                    t.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await t
            finally:
                self.connections.discard(conn)
        finally:
            self._tasks.discard(task)

    async def _upstream(self, reader: asyncio.StreamReader, conn: _Connection) -> None:
        while data := await reader.read(65536):
            if self._hold is not None and self._hold[0] in data:
                hook = self._hold[1]
                self._hold = None
                await hook()
                self.held += 1
            conn.server.write(data)
            await conn.server.drain()

    async def _downstream(self, reader: asyncio.StreamReader, conn: _Connection) -> None:
        while data := await reader.read(65536):
            if conn.stalled.is_set():
                await asyncio.Event().wait()
            if conn.cut_at is not None and self.cuts_left > 0 and conn.sent + len(data) >= conn.cut_at:
                part = data[: conn.cut_at - conn.sent]
                conn.client.write(part)
                with contextlib.suppress(ConnectionError):
                    await conn.client.drain()
                self.cuts_left -= 1
                self.cuts += 1
                conn.abort()
                return
            conn.client.write(data)
            conn.sent += len(data)
            await conn.client.drain()
