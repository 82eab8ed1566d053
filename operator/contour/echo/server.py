"""The `contour echo` process: binds the HTTP, h2c and HTTPS listeners and serves until SIGTERM.

Each accepted connection is handed to HTTP/1.1 or HTTP/2 by listener: the h2c listener looks for
the HTTP/2 connection preface, the HTTPS listener follows ALPN. Whatever a connection does (garbage
bytes, a reset, a failed handshake) ends that connection only; the process keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contour.echo.assertions import Identity
from contour.echo.exchange import ConnectionInfo, format_address
from contour.echo.handlers import EchoApp
from contour.echo.http1 import Http1Connection, ListenerKind
from contour.echo.http2 import PREFACE, Http2Session
from contour.echo.tls import EchoTLS

_SHUTDOWN_GRACE_SECONDS = 2.0
_QUIET_ERRORS = (ConnectionError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError, EOFError)


@dataclass(frozen=True)
class EchoSettings:
    """Everything `contour echo` is configured with; a port of 0 asks the kernel for a free one."""

    address: str = "0.0.0.0"
    port: int = 3000
    h2c_port: int | None = None
    tls_port: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    identity: Identity = field(default_factory=Identity)


def write_stdout_line(line: str) -> None:
    """One log line on stdout, flushed at once (tests and mirror checks read it as it comes)."""
    # A closed or broken stdout must not stop the echo: the line is lost, the request still answered.
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class EchoServer:
    """The listeners of one echo process and the connections they accepted."""

    def __init__(self, settings: EchoSettings) -> None:
        self._settings = settings
        self._app = EchoApp(settings.identity, write_stdout_line)
        self._tls: EchoTLS | None = None
        if settings.tls_cert is not None and settings.tls_key is not None:
            self._tls = EchoTLS(settings.tls_cert, settings.tls_key, settings.client_ca)
        self._servers: list[asyncio.Server] = []
        self._connections: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        settings = self._settings
        listeners: list[tuple[ListenerKind, int]] = [(ListenerKind.HTTP, settings.port)]
        if settings.h2c_port is not None:
            listeners.append((ListenerKind.H2C, settings.h2c_port))
        if self._tls is not None:
            listeners.append((ListenerKind.HTTPS, 8443 if settings.tls_port is None else settings.tls_port))
        for kind, port in listeners:
            server = await asyncio.start_server(
                functools.partial(self._accept, kind=kind),
                host=settings.address,
                port=port,
                ssl=self._tls.context if kind is ListenerKind.HTTPS and self._tls else None,
                backlog=1024,
            )
            self._servers.append(server)
            bound = server.sockets[0].getsockname()[1]
            write_stdout_line(f"Starting server, listening on port {bound} ({kind.value})")

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=_SHUTDOWN_GRACE_SECONDS)

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, kind: ListenerKind
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._serve(reader, writer, kind)
        except _QUIET_ERRORS:
            return  # the client went away or sent garbage: nothing to report
        except Exception as exc:
            print(
                f"echo: connection from {writer.get_extra_info('peername')} failed: {exc!r}", file=sys.stderr
            )
        finally:
            if task is not None:
                self._connections.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, kind: ListenerKind
    ) -> None:
        tls = None
        ssl_object = writer.get_extra_info("ssl_object")
        if self._tls is not None and isinstance(ssl_object, ssl.SSLObject):
            tls = self._tls.details(ssl_object)
        info = ConnectionInfo(
            listener_port=int(writer.get_extra_info("sockname")[1]),
            remote=format_address(writer.get_extra_info("peername")),
            tls=tls,
        )
        initial = b""
        if kind is ListenerKind.H2C:
            initial = await _read_preface_or_less(reader)
            if initial.startswith(PREFACE):
                await Http2Session(reader, writer, info, self._app).run(initial)
                return
        elif tls is not None and tls.negotiated_protocol == "h2":
            await Http2Session(reader, writer, info, self._app).run(b"")
            return
        await Http1Connection(reader, writer, info, self._app, kind).run(initial)


async def _read_preface_or_less(reader: asyncio.StreamReader) -> bytes:
    """Read until the bytes either hold the whole HTTP/2 preface or cannot be its beginning."""
    data = b""
    while len(data) < len(PREFACE) and PREFACE.startswith(data):
        chunk = await reader.read(65536)
        if not chunk:
            break
        data += chunk
    return data


def _report_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """One stderr line per asyncio-level error (a failed TLS handshake, mostly), no traceback."""
    exception = context.get("exception")
    detail = f": {exception!r}" if exception is not None else ""
    print(f"echo: {context.get('message', 'error')}{detail}", file=sys.stderr)


async def serve(settings: EchoSettings) -> None:
    """Run until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_report_loop_error)
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    server = EchoServer(settings)
    try:
        await server.start()
        await stopping.wait()
    finally:
        await server.stop()


def run(settings: EchoSettings) -> int:
    """The process entry point; returns the exit code."""
    try:
        asyncio.run(serve(settings))
    except OSError as exc:
        print(f"echo: {exc}", file=sys.stderr)
        return 1
    return 0
