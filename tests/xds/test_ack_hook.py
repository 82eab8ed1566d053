"""The server's ACK hook over real gRPC: called once per ACK with the acknowledged version, never for a
NACK, and a hook that raises is logged without breaking the stream."""

import logging
from collections.abc import AsyncIterator

import grpc
import pytest

from contour.xds import typeurls
from contour.xds.cache import SnapshotCache
from contour.xds.metrics import XdsMetrics
from contour.xds.server import XdsServer, start_server
from tests.xds import builders as b
from tests.xds.client import DeltaClient, SotwClient, delta_barrier, eventually, names_of, sotw_barrier

CDS = typeurls.CLUSTER

Ack = tuple[str, str, str]


class AckRecorder:
    """The hook under test: records every call, and raises after recording when ``fail`` is set."""

    def __init__(self) -> None:
        self.calls: list[Ack] = []
        self.fail = False

    def __call__(self, type_url: str, node_id: str, version: str) -> None:
        self.calls.append((type_url, node_id, version))
        if self.fail:
            raise RuntimeError("hook broke")


@pytest.fixture
def acks() -> AckRecorder:
    return AckRecorder()


@pytest.fixture
async def server(cache: SnapshotCache, metrics: XdsMetrics, acks: AckRecorder) -> AsyncIterator[XdsServer]:
    """Overrides the tier's server (and so its ``channel``) with one that has the hook."""
    running = await start_server(cache, "127.0.0.1", 0, metrics=metrics, on_ack=acks)
    try:
        yield running
    finally:
        await running.stop(None)


async def test_sotw_ack_reports_the_acknowledged_version(
    cache: SnapshotCache, channel: grpc.aio.Channel, acks: AckRecorder
) -> None:
    snap = b.snapshot("v1", clusters=("a",))
    cache.set_snapshot("contour", snap)
    client = SotwClient.ads(channel)
    await client.request(CDS)
    response = await client.recv()
    assert acks.calls == []  # the first request acknowledges nothing
    await client.ack(response)
    await sotw_barrier(client)
    assert acks.calls == [(CDS, "envoy-1", snap.type_version(CDS))]


async def test_delta_ack_reports_the_snapshot_version(
    cache: SnapshotCache, channel: grpc.aio.Channel, acks: AckRecorder
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a",)))
    client = DeltaClient.ads(channel)
    await client.request(CDS)
    first = await client.recv()
    await client.ack(first)
    cache.set_snapshot("contour", b.snapshot("v2", clusters=("a", "b")))
    second = await client.recv()
    await client.ack(second)
    await delta_barrier(client)
    assert acks.calls == [(CDS, "envoy-1", "v1"), (CDS, "envoy-1", "v2")]


@pytest.mark.parametrize("variant", ["sotw", "delta"])
async def test_nack_is_not_reported(
    cache: SnapshotCache, channel: grpc.aio.Channel, acks: AckRecorder, server: XdsServer, variant: str
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("bad",)))
    if variant == "sotw":
        sotw = SotwClient.ads(channel)
        await sotw.request(CDS)
        await sotw.nack(await sotw.recv(), last_good="", error="no")
        await sotw_barrier(sotw)
    else:
        delta = DeltaClient.ads(channel)
        await delta.request(CDS)
        await delta.request(CDS, nonce=(await delta.recv()).nonce, error="no")
        await delta_barrier(delta)
    assert [nack.type_url for nack in server.nacks.current()] == [CDS]
    assert acks.calls == []


async def test_a_raising_hook_is_logged_and_the_stream_goes_on(
    cache: SnapshotCache,
    channel: grpc.aio.Channel,
    acks: AckRecorder,
    metrics: XdsMetrics,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="contour.xds")
    acks.fail = True
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a",)))
    client = SotwClient.ads(channel)
    await client.request(CDS)
    first = await client.recv()
    await client.ack(first)
    await sotw_barrier(client)  # the stream still answers after the hook raised
    cache.set_snapshot("contour", b.snapshot("v2", clusters=("a", "b")))
    second = await client.recv()
    assert names_of(second) == ["a", "b"]
    await client.ack(second)
    await eventually(lambda: len(acks.calls) == 2)
    assert [call[2] for call in acks.calls] == [first.version_info, second.version_info]
    failures = [r for r in caplog.records if "ACK hook failed" in r.getMessage()]
    assert len(failures) >= 1 and failures[0].exc_info is not None
    assert metrics.sample("contour_xds_bad_requests_total", reason="unhandled") == 0
