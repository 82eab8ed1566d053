"""Process life of the non-HTTP echo modes (gRPC, TCP, UDP): listen, serve until SIGTERM, stop.

`StreamListeners` owns the stream listeners of one mode and every connection task they accepted,
so that a connection that fails (garbage, a reset, a failed TLS handshake) ends alone and the
process keeps serving; `run_service` is the shared process entry point.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from contour.echo.server import write_stdout_line

_SHUTDOWN_GRACE_SECONDS = 2.0
QUIET_ERRORS = (ConnectionError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError, EOFError)
"""What a misbehaving or vanished peer raises: the connection ends without a log line."""

ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class EchoService(Protocol):
    """One mode's listeners: bound by `start`, closed by `stop`."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def announce_listener(port: int, label: str) -> None:
    """The start-up line tests and users read the bound port from."""
    write_stdout_line(f"Starting server, listening on port {port} ({label})")


class StreamListeners:
    """Stream listeners on one address and the connection tasks they started."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[Any]] = set()

    async def listen(
        self, port: int, label: str, handler: ConnectionHandler, ssl_context: ssl.SSLContext | None = None
    ) -> int:
        """Bind and start accepting; returns the bound port (useful when `port` is 0)."""

        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._track(handler, reader, writer)

        server = await asyncio.start_server(
            accept, host=self._address, port=port, ssl=ssl_context, backlog=1024
        )
        self._servers.append(server)
        bound = int(server.sockets[0].getsockname()[1])
        announce_listener(bound, label)
        return bound

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=_SHUTDOWN_GRACE_SECONDS)

    async def _track(
        self, handler: ConnectionHandler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await handler(reader, writer)
        except QUIET_ERRORS:
            return
        except asyncio.CancelledError:
            # Shutdown cancels connection tasks. This task is the top of its connection and nobody
            # awaits it; ending normally keeps Python 3.11's stream callback from logging a traceback.
            return
        except Exception as exc:
            print(
                f"echo: connection from {writer.get_extra_info('peername')} failed: {exc!r}", file=sys.stderr
            )
        finally:
            if task is not None:
                self._connections.discard(task)
            with contextlib.suppress(Exception):
                writer.close()


def _report_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """One stderr line per asyncio-level error (a failed TLS handshake, mostly), no traceback."""
    exception = context.get("exception")
    detail = f": {exception!r}" if exception is not None else ""
    print(f"echo: {context.get('message', 'error')}{detail}", file=sys.stderr)


async def serve_until_signalled(service: EchoService) -> None:
    """Start the service and keep it up until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_report_loop_error)
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await service.start()
        await stopping.wait()
    finally:
        await service.stop()


def run_service(make_service: Callable[[], EchoService]) -> int:
    """The process entry point of a mode; returns the exit code (1 when a port cannot be bound)."""
    try:
        asyncio.run(serve_until_signalled(make_service()))
    except OSError as exc:  # includes ssl.SSLError from a bad certificate or key
        print(f"echo: {exc}", file=sys.stderr)
        return 1
    return 0
