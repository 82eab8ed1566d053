"""SnapshotCache groups and watches, and endpoint-only updates (in-process and over gRPC)."""

import asyncio

import grpc
from envoy.config.core.v3 import base_pb2

from contour.xds import typeurls
from contour.xds.cache import SnapshotCache, group_by_node_cluster
from contour.xds.endpoints import EndpointsCache
from contour.xds.metrics import XdsMetrics
from contour.xds.server import start_server
from tests.xds import builders as b
from tests.xds.client import SotwClient, names_of, sotw_barrier, unpack


async def test_set_snapshot_wakes_watches_of_that_group_only() -> None:
    cache = SnapshotCache()
    mine, other = asyncio.Event(), asyncio.Event()
    cache.watch("contour", mine)
    cache.watch("gateway-b", other)
    cache.set_snapshot("contour", b.snapshot("v1"))
    assert (mine.is_set(), other.is_set()) == (True, False)


async def test_closed_watch_is_forgotten_and_not_woken() -> None:
    cache = SnapshotCache()
    event = asyncio.Event()
    watch = cache.watch("contour", event)
    watch.close()
    cache.set_snapshot("contour", b.snapshot("v1"))
    assert (event.is_set(), cache.watch_count()) == (False, 0)


def test_default_group_is_shared_by_every_node() -> None:
    cache = SnapshotCache()
    assert cache.group_of(base_pb2.Node(id="a", cluster="x")) == cache.group_of(base_pb2.Node()) == "contour"


def test_nodes_can_be_grouped_by_cluster() -> None:
    cache = SnapshotCache(group_of=group_by_node_cluster)
    assert cache.group_of(base_pb2.Node(id="a", cluster="gateway-a")) == "gateway-a"


async def test_node_gets_its_own_groups_snapshot() -> None:
    cache = SnapshotCache(group_of=group_by_node_cluster)
    cache.set_snapshot("gateway-a", b.snapshot("a", clusters=("for-a",)))
    cache.set_snapshot("gateway-b", b.snapshot("b", clusters=("for-b",)))
    server = await start_server(cache)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as own:
            client = SotwClient.ads(own, base_pb2.Node(id="e", cluster="gateway-b"))
            await client.request(typeurls.CLUSTER)
            assert names_of(await client.recv()) == ["for-b"]
    finally:
        await server.stop(None)


def test_endpoints_update_bumps_only_eds() -> None:
    cache = SnapshotCache()
    before = b.snapshot("v1", clusters=("a", "b"))
    cache.set_snapshot("contour", before)
    after = EndpointsCache(cache).update([b.cla("a", 4242)], removed=["b"])
    assert after is cache.snapshot("contour")
    assert after is not None
    assert after.version == "v1+eds1"
    for type_url in (typeurls.CLUSTER, typeurls.LISTENER, typeurls.ROUTE, typeurls.SECRET):
        assert after.of_type(type_url) is before.of_type(type_url)
    assert after.type_version(typeurls.ENDPOINT) != before.type_version(typeurls.ENDPOINT)
    assert sorted(after.of_type(typeurls.ENDPOINT).resources) == ["a"]


def test_endpoints_update_without_a_snapshot_publishes_nothing() -> None:
    cache = SnapshotCache()
    assert EndpointsCache(cache).update([b.cla("a", 1)]) is None
    assert cache.snapshot("contour") is None


async def test_endpoints_update_sends_only_eds_on_ads(
    cache: SnapshotCache, channel: grpc.aio.Channel, metrics: XdsMetrics
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1", clusters=("a",), routes=("r",)))
    client = SotwClient.ads(channel)
    for type_url, names in ((typeurls.CLUSTER, ()), (typeurls.ENDPOINT, ("a",)), (typeurls.LISTENER, ())):
        await client.request(type_url, names)
        await client.ack(await client.recv(), names)
    await client.request(typeurls.ROUTE, ("r",))
    await client.ack(await client.recv(), ("r",))

    EndpointsCache(cache).update([b.cla("a", 4242)])
    response = await client.recv()
    assert response.type_url == typeurls.ENDPOINT
    [assignment] = unpack(response)
    assert assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value == 4242
    await client.ack(response, ("a",))
    await sotw_barrier(client)
    sent = {t: metrics.sample("contour_xds_responses_total", type_url=t) for t in typeurls.SEND_ORDER[:5]}
    assert sent == {
        typeurls.CLUSTER: 1,
        typeurls.ENDPOINT: 2,
        typeurls.SECRET: 0,
        typeurls.LISTENER: 1,
        typeurls.ROUTE: 1,
    }
