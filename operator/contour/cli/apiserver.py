"""`contour apiserver`: run the embedded Kubernetes-compatible API server on its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer

from contour.apiserver.server import APIServer, APIServerConfig


def apiserver(
    *,
    state_dir: Annotated[
        Path, typer.Option("--state-dir", help="Directory for the SQLite store, certificates and kubeconfig.")
    ],
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port to listen on (0 picks a free one).")
    ] = 6443,
    address: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    token: Annotated[
        str | None, typer.Option(help="Require 'Authorization: Bearer TOKEN' on every request.")
    ] = None,
    tls: Annotated[
        bool, typer.Option(help="Serve HTTPS with a self-signed certificate kept in the state dir.")
    ] = False,
    watch_history: Annotated[
        int, typer.Option(min=10, help="Changes kept for watches to resume from.")
    ] = 10_000,
    bookmark_interval: Annotated[
        float, typer.Option(min=0.05, help="Seconds between watch bookmarks.")
    ] = 30.0,
) -> None:
    """Serve a Kubernetes-compatible API (kubectl, kr8s) backed by SQLite, with Contour's CRDs installed."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = APIServerConfig(
        state_dir=state_dir,
        address=address,
        port=port,
        token=token,
        tls=tls,
        history=watch_history,
        bookmark_interval=bookmark_interval,
    )
    asyncio.run(_run(config))


async def _run(config: APIServerConfig) -> None:
    server = APIServer(config)
    await server.start()
    # One line on stdout that scripts and tests wait for: where to connect.
    print(f"serving on {server.url}; kubeconfig: {config.state_dir / 'kubeconfig'}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await server.stop()


def register(app: typer.Typer) -> None:
    app.command("apiserver")(apiserver)
