"""Fixtures of the in-process xDS tier: a real grpc.aio server on 127.0.0.1:0 and real gRPC clients."""

from collections.abc import AsyncIterator

import grpc
import pytest
from prometheus_client import CollectorRegistry

from contour.xds.cache import SnapshotCache
from contour.xds.metrics import XdsMetrics
from contour.xds.server import XdsServer, start_server
from tests.xds.client import CLIENT_OPTIONS


@pytest.fixture
def cache() -> SnapshotCache:
    return SnapshotCache()


@pytest.fixture
def metrics() -> XdsMetrics:
    return XdsMetrics(CollectorRegistry())


@pytest.fixture
async def server(cache: SnapshotCache, metrics: XdsMetrics) -> AsyncIterator[XdsServer]:
    running = await start_server(cache, "127.0.0.1", 0, metrics=metrics)
    try:
        yield running
    finally:
        await running.stop(None)


@pytest.fixture
async def channel(server: XdsServer) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}", options=CLIENT_OPTIONS) as opened:
        yield opened
