"""Incremental xDS over real gRPC: wildcard, subscriptions, reconnect with known versions, NACK."""

import grpc

from contour.xds import typeurls
from contour.xds.cache import SnapshotCache
from contour.xds.metrics import XdsMetrics
from contour.xds.server import XdsServer
from tests.xds import builders as b
from tests.xds.client import DeltaClient, delta_barrier, delta_versions, eventually

CDS, EDS = typeurls.CLUSTER, typeurls.ENDPOINT


def _versions(cache: SnapshotCache, type_url: str) -> dict[str, str]:
    snap = cache.snapshot("contour")
    assert snap is not None
    return {name: r.version for name, r in snap.of_type(type_url).resources.items()}


async def test_initial_wildcard_gets_every_resource_with_its_version(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a", "b")))
    client = DeltaClient.ads(channel)
    await client.request(CDS)
    response = await client.recv()
    assert delta_versions(response) == _versions(cache, CDS)
    assert (response.system_version_info, list(response.removed_resources)) == ("v1", [])
    assert response.nonce


async def test_wildcard_gets_only_changed_and_removed_resources(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a", "b")))
    client = DeltaClient.ads(channel)
    await client.request(CDS)
    await client.ack(await client.recv())
    cache.set_snapshot("contour", b.snapshot("v2", clusters=("a", "c")))
    response = await client.recv()
    assert (sorted(delta_versions(response)), list(response.removed_resources)) == (["c"], ["b"])


async def test_subscribe_and_unsubscribe(cache: SnapshotCache, channel: grpc.aio.Channel) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a", "b")))
    client = DeltaClient.ads(channel)
    await client.request(EDS, ("a",))
    first = await client.recv()
    assert sorted(delta_versions(first)) == ["a"]
    await client.request(EDS, ("b",), nonce=first.nonce)
    second = await client.recv()
    assert sorted(delta_versions(second)) == ["b"]
    await client.request(EDS, unsubscribe=("a",), nonce=second.nonce)
    await delta_barrier(client)  # the unsubscription is applied before the update below
    snap = cache.snapshot("contour")
    assert snap is not None
    cache.set_snapshot("contour", snap.with_resources("v2", EDS, [b.cla("a", 1), b.cla("b", 2)]))
    third = await client.recv()
    assert sorted(delta_versions(third)) == ["b"]


async def test_subscribing_to_a_missing_resource_reports_it_removed(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a",)))
    client = DeltaClient.ads(channel)
    await client.request(EDS, ("a", "ghost"))
    response = await client.recv()
    assert (sorted(delta_versions(response)), list(response.removed_resources)) == (["a"], ["ghost"])


async def test_resubscribing_to_a_known_resource_is_answered(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a",)))
    client = DeltaClient.ads(channel)
    await client.request(EDS, ("a",))
    first = await client.recv()
    await client.request(EDS, ("a",), nonce=first.nonce)
    assert sorted(delta_versions(await client.recv())) == ["a"]


async def test_reconnect_sends_only_changed_and_removes_deleted(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    cache.set_snapshot("contour", b.snapshot("v2", clusters=("same", "changed")))
    current = _versions(cache, CDS)
    client = DeltaClient.ads(channel)
    known = {"same": current["same"], "changed": "old-version", "deleted": "whatever"}
    await client.request(CDS, initial=known)
    response = await client.recv()
    assert delta_versions(response) == {"changed": current["changed"]}
    assert list(response.removed_resources) == ["deleted"]


async def test_reconnect_with_everything_current_sends_nothing(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a", "b")))
    client = DeltaClient.ads(channel)
    await client.request(CDS, initial=_versions(cache, CDS))
    await delta_barrier(client)


async def test_nack_is_recorded_and_nothing_is_resent(
    cache: SnapshotCache, channel: grpc.aio.Channel, server: XdsServer, metrics: XdsMetrics
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("bad",)))
    client = DeltaClient.ads(channel)
    await client.request(CDS)
    rejected = await client.recv()
    await client.request(CDS, nonce=rejected.nonce, error="cluster bad: invalid")
    await delta_barrier(client)
    [nack] = server.nacks.current()
    assert (nack.type_url, nack.nonce, nack.rejected_version) == (CDS, rejected.nonce, "v1")
    assert (nack.resource_names, nack.message) == (("bad",), "cluster bad: invalid")
    assert metrics.sample("contour_xds_nack_total", type_url=CDS) == 1
    assert metrics.sample("contour_xds_responses_total", type_url=CDS) == 1


async def test_delta_stream_state_is_freed(
    cache: SnapshotCache, channel: grpc.aio.Channel, server: XdsServer, metrics: XdsMetrics
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1"))
    client = DeltaClient.ads(channel)
    await client.request(CDS)
    await client.recv()
    assert metrics.sample("contour_xds_open_streams", variant="delta") == 1
    client.call.cancel()
    await eventually(lambda: server.open_streams() == 0)
    assert cache.watch_count() == 0
    assert metrics.sample("contour_xds_open_streams", variant="delta") == 0
