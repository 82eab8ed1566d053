"""State-of-the-world xDS over real gRPC: versions, nonces, ACK/NACK, subscriptions, ordering."""

import grpc
import pytest
from envoy.service.cluster.v3 import cds_pb2_grpc
from envoy.service.discovery.v3 import discovery_pb2

from contour.xds import typeurls
from contour.xds.cache import SnapshotCache
from contour.xds.metrics import XdsMetrics
from contour.xds.server import XdsServer
from tests.xds import builders as b
from tests.xds.client import SotwClient, eventually, names_of, sotw_barrier, unpack

CDS, EDS, LDS, RDS = typeurls.CLUSTER, typeurls.ENDPOINT, typeurls.LISTENER, typeurls.ROUTE


async def test_initial_response_has_every_cluster_version_and_nonce(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    snap = b.snapshot("v1", clusters=("a", "b"))
    cache.set_snapshot("contour", snap)
    client = SotwClient.ads(channel)
    await client.request(CDS)
    response = await client.recv()
    assert (response.type_url, names_of(response)) == (CDS, ["a", "b"])
    assert response.version_info == snap.type_version(CDS)
    assert response.nonce


async def test_request_before_any_snapshot_is_answered_when_one_is_set(
    cache: SnapshotCache, channel: grpc.aio.Channel, metrics: XdsMetrics
) -> None:
    client = SotwClient.ads(channel)
    await client.request(CDS)
    await eventually(lambda: cache.watch_count() == 1)
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("late",)))
    assert names_of(await client.recv()) == ["late"]


async def test_ack_is_not_answered_with_the_same_version(
    cache: SnapshotCache, channel: grpc.aio.Channel, metrics: XdsMetrics
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1"))
    client = SotwClient.ads(channel)
    await client.request(CDS)
    await client.ack(await client.recv())
    await sotw_barrier(client)
    assert metrics.sample("contour_xds_responses_total", type_url=CDS) == 1


async def test_nack_is_recorded_counted_and_not_answered(
    cache: SnapshotCache, channel: grpc.aio.Channel, server: XdsServer, metrics: XdsMetrics
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a",)))
    client = SotwClient.ads(channel)
    await client.request(CDS)
    good = await client.recv()
    await client.ack(good)
    cache.set_snapshot("contour", b.snapshot("v2", clusters=("a", "bad")))
    rejected = await client.recv()
    await client.nack(rejected, last_good=good.version_info, error="cluster bad: invalid")
    await sotw_barrier(client)

    [nack] = server.nacks.current()
    assert (nack.type_url, nack.nonce, nack.rejected_version) == (CDS, rejected.nonce, rejected.version_info)
    assert (nack.resource_names, nack.message, nack.code) == (("a", "bad"), "cluster bad: invalid", 3)
    assert (nack.node_id, nack.node_cluster) == ("envoy-1", "contour")
    assert metrics.sample("contour_xds_nack_total", type_url=CDS) == 1
    assert metrics.sample("contour_xds_responses_total", type_url=CDS) == 2


async def test_a_later_ack_clears_the_nack(
    cache: SnapshotCache, channel: grpc.aio.Channel, server: XdsServer
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("bad",)))
    client = SotwClient.ads(channel)
    await client.request(CDS)
    rejected = await client.recv()
    await client.nack(rejected, last_good="", error="no")
    await eventually(lambda: len(server.nacks.current()) == 1)
    cache.set_snapshot("contour", b.snapshot("v2", clusters=("good",)))
    fixed = await client.recv()
    assert names_of(fixed) == ["good"]
    await client.ack(fixed)
    await eventually(lambda: server.nacks.current() == [])


async def test_stale_nonce_is_ignored(cache: SnapshotCache, channel: grpc.aio.Channel) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a", "b")))
    client = SotwClient.ads(channel)
    await client.request(EDS, ("a",))
    first = await client.recv()
    snap = cache.snapshot("contour")
    assert snap is not None
    cache.set_snapshot("contour", snap.with_resources("v2", EDS, [b.cla("a", 1234)]))
    second = await client.recv()
    assert first.nonce != second.nonce
    # Changing the names with the superseded nonce is not a valid request: nothing is sent for it.
    await client.request(EDS, ("a", "b"), version=first.version_info, nonce=first.nonce)
    await sotw_barrier(client)


async def test_named_subscription_gets_only_the_requested_existing_resources(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a", "b", "c")))
    client = SotwClient.ads(channel)
    await client.request(EDS, ("a", "missing"))
    assert names_of(await client.recv()) == ["a"]


async def test_a_new_name_set_is_answered(cache: SnapshotCache, channel: grpc.aio.Channel) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a", "b", "c")))
    client = SotwClient.ads(channel)
    await client.request(EDS, ("a",))
    first = await client.recv()
    await client.ack(first, ("b", "c"))
    assert names_of(await client.recv()) == ["b", "c"]


async def test_resources_unsubscribed_and_subscribed_again_are_sent_again(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    # Envoy drops the endpoints of a removed cluster; when the cluster comes back it asks for them
    # again, and must get them although they did not change (else the cluster warms forever).
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a",)))
    client = SotwClient.ads(channel)
    await client.request(EDS, ("a",))
    first = await client.recv()
    await client.ack(first, ())  # unsubscribed from every endpoint resource
    await client.ack(first, ("a",))  # subscribed again, still answering the same response
    again = await client.recv()
    assert names_of(again) == ["a"]
    assert again.nonce != first.nonce


async def test_new_snapshot_pushes_a_new_version(cache: SnapshotCache, channel: grpc.aio.Channel) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a",)))
    client = SotwClient.ads(channel)
    await client.request(CDS)
    first = await client.recv()
    await client.ack(first)
    cache.set_snapshot("contour", b.snapshot("v2", clusters=("a", "b")))
    second = await client.recv()
    assert names_of(second) == ["a", "b"]
    assert second.version_info != first.version_info


async def test_removed_cluster_is_absent_from_the_next_response(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a", "b")))
    client = SotwClient.ads(channel)
    await client.request(CDS)
    await client.ack(await client.recv())
    cache.set_snapshot("contour", b.snapshot("v2", clusters=("a",)))
    assert names_of(await client.recv()) == ["a"]


async def test_unchanged_content_under_a_new_snapshot_version_is_not_resent(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1"))
    client = SotwClient.ads(channel)
    await client.request(CDS)
    await client.ack(await client.recv())
    cache.set_snapshot("contour", b.snapshot("v2"))
    await sotw_barrier(client)


async def test_reconnect_with_the_current_wildcard_version_is_not_resent(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    snap = b.snapshot("v1")
    cache.set_snapshot("contour", snap)
    client = SotwClient.ads(channel)
    await client.request(CDS, version=snap.type_version(CDS))
    await sotw_barrier(client)


async def test_ads_sends_clusters_before_listeners_and_holds_listeners_until_clusters_are_acked(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a",), routes=("r1",)))
    client = SotwClient.ads(channel)
    await client.request(CDS)
    cds = await client.recv()
    await client.ack(cds)
    await client.request(LDS)
    lds = await client.recv()
    await client.ack(lds)

    cache.set_snapshot("contour", b.snapshot("v2", clusters=("a", "b"), routes=("r1", "r2")))
    first = await client.recv()
    assert (first.type_url, names_of(first)) == (CDS, ["a", "b"])
    await sotw_barrier(client)  # the listeners wait for the clusters' ACK
    await client.ack(first)
    second = await client.recv()
    assert (second.type_url, names_of(second)) == (LDS, ["listener-r1", "listener-r2"])


async def test_cluster_discovery_service_alone(cache: SnapshotCache, channel: grpc.aio.Channel) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a",)))
    client = SotwClient(cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters())
    await client.request("")  # per-type streams may leave type_url empty
    response = await client.recv()
    assert (response.type_url, [c.name for c in unpack(response)]) == (CDS, ["a"])


async def test_cluster_discovery_service_refuses_other_types(
    cache: SnapshotCache, channel: grpc.aio.Channel
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1"))
    call = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters()
    await call.write(discovery_pb2.DiscoveryRequest(type_url=LDS))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call.read()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_stream_state_is_freed_when_the_client_goes_away(
    cache: SnapshotCache, channel: grpc.aio.Channel, server: XdsServer, metrics: XdsMetrics
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("bad",)))
    client = SotwClient.ads(channel)
    await client.request(CDS)
    await client.nack(await client.recv(), last_good="", error="no")
    await eventually(lambda: len(server.nacks.current()) == 1)
    assert (server.open_streams(), cache.watch_count()) == (1, 1)
    assert metrics.sample("contour_xds_open_streams", variant="sotw") == 1

    client.call.cancel()
    await eventually(lambda: server.open_streams() == 0)
    assert cache.watch_count() == 0
    assert server.nacks.current() == []
    assert metrics.sample("contour_xds_open_streams", variant="sotw") == 0


async def test_client_half_close_ends_the_stream(
    cache: SnapshotCache, channel: grpc.aio.Channel, server: XdsServer
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1"))
    client = SotwClient.ads(channel)
    await client.request(CDS)
    await client.recv()
    await client.call.done_writing()
    assert await client.call.read() is grpc.aio.EOF
    await eventually(lambda: server.open_streams() == 0 and cache.watch_count() == 0)
