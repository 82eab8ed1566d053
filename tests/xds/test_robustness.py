"""Bad input never takes the server down: garbage bytes, unknown types, random request sequences."""

import random

import grpc
import pytest
from envoy.service.discovery.v3 import discovery_pb2
from google.rpc import status_pb2

from contour.xds import typeurls
from contour.xds.cache import SnapshotCache
from contour.xds.metrics import XdsMetrics
from contour.xds.server import XdsServer
from tests.xds import builders as b
from tests.xds.client import NODE, DeltaClient, SotwClient, eventually, names_of, sotw_barrier

ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/"


async def _healthy(channel: grpc.aio.Channel, cache: SnapshotCache, version: str) -> None:
    """A fresh stream is served the current snapshot."""
    client = SotwClient.ads(channel)
    await client.request(typeurls.CLUSTER)
    response = await client.recv()
    snap = cache.snapshot("contour")
    assert snap is not None
    assert (snap.version, response.version_info) == (version, snap.type_version(typeurls.CLUSTER))
    client.call.cancel()


@pytest.mark.parametrize("method", ["StreamAggregatedResources", "DeltaAggregatedResources"])
@pytest.mark.parametrize(
    "payload",
    [b"\xff\xff\xff\xff", b"\x0a\x05ab", bytes(range(256))],
    ids=["invalid-varint", "truncated-string", "all-bytes"],
)
async def test_undecodable_request_ends_only_that_stream(
    cache: SnapshotCache, channel: grpc.aio.Channel, server: XdsServer, method: str, payload: bytes
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1"))
    bystander = SotwClient.ads(channel)
    await bystander.request(typeurls.CLUSTER)
    await bystander.ack(await bystander.recv())

    raw = channel.stream_stream(ADS + method, request_serializer=None, response_deserializer=None)()
    await raw.write(payload)
    with pytest.raises(grpc.aio.AioRpcError):
        await raw.read()

    cache.set_snapshot("contour", b.snapshot("v2", clusters=("a", "b")))
    assert names_of(await bystander.recv()) == ["a", "b"]
    await eventually(lambda: server.open_streams() == 1)
    assert server.metrics.sample("contour_xds_bad_requests_total", reason="undecodable") == 1


@pytest.mark.parametrize(
    "type_url",
    ["", "type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration", "garbage"],
    ids=["empty", "unserved-type", "not-a-type-url"],
)
async def test_unknown_type_on_ads_is_ignored_and_counted(
    cache: SnapshotCache, channel: grpc.aio.Channel, metrics: XdsMetrics, type_url: str
) -> None:
    cache.set_snapshot("contour", b.snapshot("v1"))
    client = SotwClient.ads(channel)
    await client.request(type_url, ("x",))
    await sotw_barrier(client)
    assert metrics.sample("contour_xds_bad_requests_total", reason="unknown_type") == 1


def _random_sotw(rng: random.Random, nonces: list[str]) -> discovery_pb2.DiscoveryRequest:
    request = discovery_pb2.DiscoveryRequest(
        type_url=rng.choice([*typeurls.SEND_ORDER, "", "type.googleapis.com/nope", "\x00"]),
        resource_names=rng.sample(["a", "b", "*", "", "zz", "é"], rng.randint(0, 4)),
        version_info=rng.choice(["", "v1", "x" * 1000]),
        response_nonce=rng.choice(["", "0", "nonsense", *nonces]),
    )
    if rng.random() < 0.5:
        request.node.CopyFrom(NODE)
    if rng.random() < 0.3:
        request.error_detail.CopyFrom(status_pb2.Status(code=rng.randint(-5, 20), message="fuzz"))
    return request


def _random_delta(rng: random.Random, nonces: list[str]) -> discovery_pb2.DeltaDiscoveryRequest:
    request = discovery_pb2.DeltaDiscoveryRequest(
        type_url=rng.choice([*typeurls.SEND_ORDER, "", "type.googleapis.com/nope"]),
        resource_names_subscribe=rng.sample(["a", "b", "*", "", "zz"], rng.randint(0, 3)),
        resource_names_unsubscribe=rng.sample(["a", "b", "*", "zz"], rng.randint(0, 2)),
        initial_resource_versions={n: rng.choice(["", "old"]) for n in rng.sample(["a", "b", "q"], 2)},
        response_nonce=rng.choice(["", "0", "nonsense", *nonces]),
    )
    if rng.random() < 0.3:
        request.error_detail.CopyFrom(status_pb2.Status(code=rng.randint(-5, 20), message="fuzz"))
    return request


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("variant", ["sotw", "delta"])
async def test_random_request_sequences_never_raise_in_the_server(
    cache: SnapshotCache, channel: grpc.aio.Channel, metrics: XdsMetrics, seed: int, variant: str
) -> None:
    rng = random.Random(seed)
    client = SotwClient.ads(channel) if variant == "sotw" else DeltaClient.ads(channel)
    nonces: list[str] = []
    for step in range(40):
        if step % 10 == 0:
            cache.set_snapshot("contour", b.snapshot(f"v{step}", clusters=("a", "b")[: 1 + step % 2]))
        make = _random_sotw if variant == "sotw" else _random_delta
        try:
            await client.call.write(make(rng, nonces))
        except grpc.aio.AioRpcError as ended:  # refusing a stream is allowed; crashing is not
            assert ended.code() == grpc.StatusCode.INVALID_ARGUMENT
            break
    await client.call.done_writing()
    while True:
        try:
            response = await client.recv()
        except (AssertionError, grpc.aio.AioRpcError):
            break
        nonces.append(response.nonce)
    assert metrics.sample("contour_xds_bad_requests_total", reason="unhandled") == 0
    await _healthy(channel, cache, "v30")
