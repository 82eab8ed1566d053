"""How fast the xDS server serves many Envoys, what an idle stream costs, and the push overhead.

Streams: 100 concurrent ADS streams receive a 1,000-virtual-host snapshot (1 Listener, 1
RouteConfiguration of 1,000 virtual hosts x 4 routes, 1,000 EDS Clusters, 1,000 ClusterLoadAssignments).
The server runs on this process's event loop; the clients run in a separate process (one grpcio
channel and one thread per client, like 100 Envoys with one connection each), so client-side parsing
and the GIL of 100 client threads do not steal the server's CPU. Each client behaves as Envoy does:
CDS and LDS requests first, EDS for the clusters after CDS, RDS after LDS, and an ACK for every
response. The clock starts at ``set_snapshot`` and stops when the last client has all four types
(CLOCK_MONOTONIC is shared by both processes). RSS per idle stream is (server RSS with the 100 streams
open and served - RSS before they connected) / 100. The floor is serialising the same snapshot once
with plain protobuf ``SerializeToString``.

Push: at 10,000 virtual hosts x 4 routes, one stream subscribed to the RouteConfiguration; a new
snapshot changes one virtual host. Reported: plain serialisation of the RouteConfiguration (floor),
``Snapshot.build`` of the new snapshot, and the time from ``set_snapshot`` to the encoded response
being handed to gRPC (``on_response`` tap), plus the overhead beyond serialisation.

    .venv/bin/python bench/xds_streams.py [--streams 100] [--vhosts 1000] [--push-vhosts 10000] [--skip-push]
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import json
import os
import queue
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import grpc
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, base_pb2, config_source_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2 as hcm
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import any_pb2, duration_pb2, wrappers_pb2

from contour.xds import typeurls
from contour.xds.cache import SnapshotCache
from contour.xds.server import start_server
from contour.xds.snapshot import Snapshot

CDS, EDS, LDS, RDS = typeurls.CLUSTER, typeurls.ENDPOINT, typeurls.LISTENER, typeurls.ROUTE
ROUTE_NAME = "ingress_http"
NODE = base_pb2.Node(id="bench", cluster="contour")
CLIENT_OPTIONS = [("grpc.max_receive_message_length", -1)]


def _any(message: Any) -> Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _ads() -> Any:
    return config_source_pb2.ConfigSource(ads=config_source_pb2.AggregatedConfigSource())


def cluster_name(i: int) -> str:
    return f"default/svc-{i}/80/da39a3ee5e"


def virtual_host(i: int, clusters: int, salt: str = "") -> Any:
    """2 domains, 4 routes: exact; prefix + header with timeout and retries; regex; 90/10 weighted."""
    main, other = cluster_name(i % clusters), cluster_name((i + 1) % clusters)
    vhost = route_components_pb2.VirtualHost(name=f"host-{i}.example.com{salt}")
    vhost.domains.extend([f"host-{i}.example.com", f"host-{i}.example.com:*"])
    exact = vhost.routes.add()
    exact.match.path = "/healthz"
    exact.route.cluster = main
    prefixed = vhost.routes.add()
    prefixed.match.prefix = "/api"
    header = prefixed.match.headers.add()
    header.name = "x-tenant"
    header.string_match.exact = f"t{i}"
    prefixed.route.cluster = main
    prefixed.route.timeout.CopyFrom(duration_pb2.Duration(seconds=5))
    prefixed.route.retry_policy.retry_on = "5xx"
    prefixed.route.retry_policy.num_retries.CopyFrom(wrappers_pb2.UInt32Value(value=3))
    regex = vhost.routes.add()
    regex.match.safe_regex.regex = "/v[0-9]+/items/.*"
    regex.route.cluster = other
    added = regex.request_headers_to_add.add()
    added.header.key = "x-route"
    added.header.value = "regex"
    weighted = vhost.routes.add()
    weighted.match.prefix = "/"
    for name, weight in ((main, 90), (other, 10)):
        split = weighted.route.weighted_clusters.clusters.add()
        split.name = name
        split.weight.value = weight
    return vhost


def route_configuration(vhosts: int, clusters: int, changed: int = -1) -> Any:
    config = route_pb2.RouteConfiguration(name=ROUTE_NAME)
    config.virtual_hosts.extend(
        virtual_host(i, clusters, "-changed" if i == changed else "") for i in range(vhosts)
    )
    return config


def listener() -> Any:
    manager = hcm.HttpConnectionManager(
        stat_prefix=ROUTE_NAME,
        rds=hcm.Rds(route_config_name=ROUTE_NAME, config_source=_ads()),
        http_filters=[
            hcm.HttpFilter(name="envoy.filters.http.router", typed_config=_any(router_pb2.Router()))
        ],
    )
    chain = listener_components_pb2.FilterChain(
        filters=[
            listener_components_pb2.Filter(
                name="envoy.filters.network.http_connection_manager", typed_config=_any(manager)
            )
        ]
    )
    return listener_pb2.Listener(
        name=ROUTE_NAME,
        address=address_pb2.Address(
            socket_address=address_pb2.SocketAddress(address="0.0.0.0", port_value=8080)
        ),
        filter_chains=[chain],
    )


def cluster(i: int) -> Any:
    return cluster_pb2.Cluster(
        name=cluster_name(i),
        type=cluster_pb2.Cluster.EDS,
        eds_cluster_config=cluster_pb2.Cluster.EdsClusterConfig(eds_config=_ads()),
        connect_timeout=duration_pb2.Duration(seconds=2),
    )


def assignment(i: int) -> Any:
    lb_endpoints = [
        endpoint_components_pb2.LbEndpoint(
            endpoint=endpoint_components_pb2.Endpoint(
                address=address_pb2.Address(
                    socket_address=address_pb2.SocketAddress(
                        address=f"10.{i % 250}.{e}.{i % 200}", port_value=8080
                    )
                )
            )
        )
        for e in range(3)
    ]
    return endpoint_pb2.ClusterLoadAssignment(
        cluster_name=cluster_name(i),
        endpoints=[endpoint_components_pb2.LocalityLbEndpoints(lb_endpoints=lb_endpoints)],
    )


def resources(vhosts: int, clusters: int, changed: int = -1) -> dict[str, list[Any]]:
    return {
        CDS: [cluster(i) for i in range(clusters)],
        EDS: [assignment(i) for i in range(clusters)],
        LDS: [listener()],
        RDS: [route_configuration(vhosts, clusters, changed)],
    }


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def plain_serialise(by_type: dict[str, list[Any]]) -> float:
    start = time.perf_counter()
    for messages in by_type.values():
        for message in messages:
            message.SerializeToString()
    return time.perf_counter() - start


# ---- client process -------------------------------------------------------------------------------


def _client(port: int, clusters: int, done: list[float], connected: threading.Barrier) -> None:
    requests: queue.Queue[Any] = queue.Queue()

    def feed() -> Any:
        while (item := requests.get()) is not None:
            yield item

    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=CLIENT_OPTIONS)
    responses = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).StreamAggregatedResources(feed())
    requests.put(discovery_pb2.DiscoveryRequest(node=NODE, type_url=CDS))
    requests.put(discovery_pb2.DiscoveryRequest(type_url=LDS))
    connected.wait()
    names = {CDS: [], LDS: [], EDS: [cluster_name(i) for i in range(clusters)], RDS: [ROUTE_NAME]}
    seen: set[str] = set()
    try:
        for response in responses:
            kind = response.type_url
            requests.put(
                discovery_pb2.DiscoveryRequest(
                    type_url=kind,
                    resource_names=names[kind],
                    version_info=response.version_info,
                    response_nonce=response.nonce,
                )
            )
            follow_up = {CDS: EDS, LDS: RDS}.get(kind)
            if follow_up is not None and follow_up not in seen:
                requests.put(
                    discovery_pb2.DiscoveryRequest(type_url=follow_up, resource_names=names[follow_up])
                )
            seen.add(kind)
            if len(seen) == 4 and len(done) < 10**9:
                done.append(time.monotonic())
                seen.add("reported")
    except grpc.RpcError:
        return  # the server closed the stream at the end of the run: this client is done
    finally:
        requests.put(None)
        channel.close()


def client_process(port: int, streams: int, clusters: int) -> None:
    """The child: open ``streams`` ADS streams, print completion times, hold them until stdin closes."""
    done: list[float] = []
    connected = threading.Barrier(streams + 1)
    threads = [
        threading.Thread(target=_client, args=(port, clusters, done, connected)) for _ in range(streams)
    ]
    for thread in threads:
        thread.start()
    connected.wait()
    print("connected", flush=True)
    deadline = time.monotonic() + 120
    while len(done) < streams and time.monotonic() < deadline:
        time.sleep(0.01)
    print(json.dumps(done), flush=True)
    sys.stdin.readline()  # the parent measures idle RSS meanwhile
    os._exit(0)  # the stream threads block in grpc; the parent closes the server side anyway


# ---- server side --------------------------------------------------------------------------------


async def wait_for(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def streams_benchmark(streams: int, vhosts: int) -> None:
    clusters = vhosts
    start = time.perf_counter()
    by_type = resources(vhosts, clusters)
    build_protos = time.perf_counter() - start
    floor = min(plain_serialise(by_type) for _ in range(3))
    start = time.perf_counter()
    snapshot = Snapshot.build("v1", by_type)
    build_snapshot = time.perf_counter() - start
    sizes = {
        typeurls.SHORT_NAMES[t]: len(snapshot.of_type(t).select(None).body) for t in (CDS, EDS, LDS, RDS)
    }
    del by_type

    cache = SnapshotCache()
    server = await start_server(cache)
    gc.collect()
    rss_before = rss_bytes()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--client-process",
        str(server.port),
        str(streams),
        str(clusters),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        assert (await child.stdout.readline()).strip() == b"connected"
        await wait_for(lambda: cache.watch_count() == streams, 60)
        gc.collect()
        rss_waiting = rss_bytes()
        t0 = time.monotonic()
        cache.set_snapshot("contour", snapshot)
        done = json.loads(await child.stdout.readline())
        await wait_for(
            lambda: server.metrics.sample("contour_xds_responses_total", type_url=RDS) >= streams, 30
        )
        gc.collect()
        await asyncio.sleep(0.5)  # let the last ACKs land: RSS of idle, fully served streams
        rss_idle = rss_bytes()
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        rss_trimmed = rss_bytes()
        child.stdin.close()
        await child.wait()
        await wait_for(lambda: server.open_streams() == 0 and cache.watch_count() == 0, 30)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await server.stop(None)

    total = max(done) - t0 if len(done) == streams else float("nan")
    median = statistics.median(d - t0 for d in done) if done else float("nan")
    mib = 1024 * 1024
    print(f"== {streams} ADS streams, {vhosts} virtual hosts x 4 routes, {clusters} clusters/CLAs ==")
    print(f"response bodies (bytes): {sizes}")
    print(
        f"build protos: {build_protos * 1000:.1f} ms;"
        f" floor (plain SerializeToString, once): {floor * 1000:.1f} ms"
    )
    print(f"Snapshot.build (serialise + frame + hash, once): {build_snapshot * 1000:.1f} ms")
    print(
        f"all {len(done)}/{streams} streams have CDS+EDS+LDS+RDS: {total * 1000:.1f} ms after set_snapshot"
        f" (median stream {median * 1000:.1f} ms); target <= 2000 ms; {total / floor:.0f} x floor"
    )
    print(
        f"server RSS: before {rss_before / mib:.1f} MiB,"
        f" streams open without config {rss_waiting / mib:.1f} MiB,"
        f" served and idle {rss_idle / mib:.1f} MiB"
    )
    print(
        f"RSS per idle stream: {(rss_idle - rss_before) / streams / 1024:.1f} KiB served"
        f" ({(rss_waiting - rss_before) / streams / 1024:.1f} KiB before any config,"
        f" {(rss_trimmed - rss_before) / streams / 1024:.1f} KiB served after malloc_trim(0));"
        " target <= 1024 KiB"
    )


async def push_benchmark(vhosts: int, rounds: int = 5) -> None:
    clusters = 1000
    by_type = resources(vhosts, clusters)
    cache = SnapshotCache()
    cache.set_snapshot("contour", Snapshot.build("v0", by_type))
    handed: list[float] = []
    server = await start_server(cache, on_response=lambda type_url, size: handed.append(time.perf_counter()))
    floors, whole_floors, builds, derives, pushes = [], [], [], [], []
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}", options=CLIENT_OPTIONS) as channel:
            call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).StreamAggregatedResources()
            await call.write(
                discovery_pb2.DiscoveryRequest(node=NODE, type_url=RDS, resource_names=[ROUTE_NAME])
            )
            response = await call.read()
            for round_ in range(rounds):
                await call.write(
                    discovery_pb2.DiscoveryRequest(
                        type_url=RDS,
                        resource_names=[ROUTE_NAME],
                        version_info=response.version_info,
                        response_nonce=response.nonce,
                    )
                )
                by_type[RDS] = [route_configuration(vhosts, clusters, changed=round_)]
                floors.append(min(plain_serialise({RDS: by_type[RDS]}) for _ in range(3)))
                whole_floors.append(min(plain_serialise(by_type) for _ in range(3)))
                previous = cache.snapshot("contour")
                assert previous is not None
                start = time.perf_counter()
                previous.with_resources(f"v{round_ + 1}", RDS, by_type[RDS])
                derives.append(time.perf_counter() - start)
                start = time.perf_counter()
                snapshot = Snapshot.build(f"v{round_ + 1}", by_type)
                builds.append(time.perf_counter() - start)
                handed.clear()
                start = time.perf_counter()
                cache.set_snapshot("contour", snapshot)
                response = await call.read()
                pushes.append(handed[0] - start)
            call.cancel()
    finally:
        await server.stop(None)
    floor, whole_floor, build, derive, push = (
        statistics.median(x) for x in (floors, whole_floors, builds, derives, pushes)
    )
    rds_bytes = len(response.resources[0].value)
    print(
        f"== push: {vhosts} virtual hosts x 4 routes"
        f" (RouteConfiguration {rds_bytes / 1e6:.2f} MB), 1 stream =="
    )
    print(f"medians of {rounds} rounds, each changing one virtual host:")
    print(f"set_snapshot -> response bytes handed to gRPC: {push * 1000:.2f} ms (target <= 50 ms)")
    print(
        f"only RDS re-serialised (Snapshot.with_resources): {derive * 1000:.1f} ms"
        f" vs floor {floor * 1000:.1f} ms (plain SerializeToString of the RouteConfiguration):"
        f" {(derive + push - floor) * 1000:.1f} ms beyond serialisation"
    )
    print(
        "whole snapshot rebuilt (Snapshot.build, RDS + 1,000 clusters/CLAs + listener):"
        f" {build * 1000:.1f} ms"
        f" vs floor {whole_floor * 1000:.1f} ms (plain SerializeToString of the same messages):"
        f" {(build + push - whole_floor) * 1000:.1f} ms beyond serialisation"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--vhosts", type=int, default=1000)
    parser.add_argument("--push-vhosts", type=int, default=10000)
    parser.add_argument("--skip-push", action="store_true")
    parser.add_argument("--skip-streams", action="store_true")
    parser.add_argument("--client-process", nargs=3, type=int, metavar=("PORT", "STREAMS", "CLUSTERS"))
    args = parser.parse_args()
    if args.client_process:
        client_process(*args.client_process)
        return
    if not args.skip_streams:
        asyncio.run(streams_benchmark(args.streams, args.vhosts))
    if not args.skip_push:
        asyncio.run(push_benchmark(args.push_vhosts))


if __name__ == "__main__":
    main()
