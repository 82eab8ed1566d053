"""Envoy started from the process that runs the xDS server while gRPC is busy (`contour run`, restarts).

gRPC installs fork handlers; a child forked while gRPC's threads are active runs them between fork and
exec. With a ``preexec_fn`` (``contour.envoyproc`` sets PR_SET_PDEATHSIG in one), CPython forks instead
of vforking, so the handlers run in the child, restart gRPC's pollers, and the child then closes every
file descriptor before exec: the pollers crash it (SIGSEGV/SIGABRT, "epoll_wait error: Bad file
descriptor" in envoy.log) and Envoy "exits before becoming LIVE". Measured here: 64 of 100 starts
failed under this load; 0 of 100 without the ``preexec_fn`` or with ``GRPC_ENABLE_FORK_SUPPORT=0``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from tests.e2e.echo_config import Backends, echo_config
from tests.support.envoy_harness import ADS_SOTW, envoy_process, start_control_plane

STARTS = 8


def connect_repeatedly(port: int, stop: threading.Event) -> None:
    """Keep gRPC's threads busy: open a channel to the server, wait until connected, close it."""
    while not stop.is_set():
        with (
            grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
            contextlib.suppress(grpc.FutureTimeoutError),
        ):
            grpc.channel_ready_future(channel).result(timeout=2)


@pytest.fixture
def keep_grpc_busy() -> Iterator[Callable[[int], None]]:
    """``keep_grpc_busy(port)`` starts two threads connecting to ``port`` until the test ends."""
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def keep_busy(port: int) -> None:
        for _ in range(2):
            thread = threading.Thread(target=connect_repeatedly, args=(port, stop), daemon=True)
            thread.start()
            threads.append(thread)

    yield keep_busy
    stop.set()
    for thread in threads:
        thread.join(timeout=10)


async def test_envoy_starts_while_the_xds_server_is_busy(
    backends: Backends, tmp_path: Path, keep_grpc_busy: Callable[[int], None]
) -> None:
    cache = SnapshotCache()
    cache.set_snapshot(DEFAULT_GROUP, echo_config("v1", ADS_SOTW, backends))
    server = await start_control_plane(cache)
    try:
        keep_grpc_busy(server.port)
        for start in range(STARTS):
            envoy = envoy_process(tmp_path / f"envoy-{start}", server.port, ADS_SOTW)
            try:
                await envoy.start(timeout=20)
            finally:
                await envoy.stop()
    finally:
        await server.stop(None)
