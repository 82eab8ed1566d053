"""The xDS core against a real Envoy at 10,000 virtual hosts: build, serialise, push, ACK; Envoy's RSS.

Configuration: one Listener (HTTP connection manager, routes from RDS), one RouteConfiguration of
``--vhosts`` virtual hosts x 4 routes (exact path; prefix + header match with timeout and retries;
safe_regex with an added request header; prefix), every route splitting 90/10 between two EDS
clusters (Contour's HTTPProxy with two weighted services), ``--clusters`` EDS Clusters and as many
ClusterLoadAssignments (3 endpoints each). Envoy runs on the bootstrap `contour bootstrap` writes, with
ADS state of the world (the floor server speaks only that), ``--concurrency`` workers, and without the
RTDS layer (``runtime_discovery=False``) so the minimal floor server need not answer Runtime. Each
server gets its own Envoy, one after the other (the floor first).

Figures, each beside its floor (DESIGN.md, "Performance targets"):

* full rebuild: building the protobufs, then ``Snapshot.build`` (serialise once, frame, hash) vs the
  floor: the same build plus plain upb ``SerializeToString`` of every message;
* full route table to Envoy: Envoy LIVE with every cluster and an empty route table, then the full
  table is published (``--full-rounds`` times, back to the empty table in between, unmeasured);
  ``set_snapshot`` -> RDS ACK received by the server, vs the floor: Envoy's own apply time, i.e. a
  minimal grpc.aio ADS servicer in this script writing the same RouteConfiguration pre-serialised as
  a DiscoveryResponse, measured from the write to the ACK;
* one virtual host changed (``--changes`` times): ``Snapshot.with_resources`` (re-serialise RDS),
  ``set_snapshot`` -> RDS ACK (p50/p99), vs the same floor (SotW re-sends the whole table, so Envoy
  re-applies all of it); target: p99 <= 1.25 x Envoy's own apply of the full route table, compared
  p99 to p99 since Envoy's own apply time varies from push to push;
* Envoy's RSS with the whole configuration.

The server's ACKs are observed through its ``on_ack`` hook, which timestamps them; its NACKs through
the ``NackRegistry`` the script gives it.

    .venv/bin/python bench/xds_envoy.py [--vhosts 10000] [--clusters 10000] [--changes 20] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import address_pb2, config_source_pb2
from envoy.config.endpoint.v3 import endpoint_components_pb2, endpoint_pb2
from envoy.config.listener.v3 import listener_components_pb2, listener_pb2
from envoy.config.route.v3 import route_components_pb2, route_pb2
from envoy.extensions.filters.http.router.v3 import router_pb2
from envoy.extensions.filters.network.http_connection_manager.v3 import (
    http_connection_manager_pb2 as hcm,
)
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2, duration_pb2, wrappers_pb2
from prometheus_client import CollectorRegistry

from contour.envoy.bootstrap import BootstrapConfig, bootstrap
from contour.envoyproc.process import EnvoyOptions, EnvoyProcess
from contour.xds import typeurls
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from contour.xds.metrics import XdsMetrics
from contour.xds.nacks import NackRegistry
from contour.xds.server import start_server
from contour.xds.snapshot import Snapshot

CDS, EDS, LDS, RDS = typeurls.CLUSTER, typeurls.ENDPOINT, typeurls.LISTENER, typeurls.ROUTE
ROUTE_NAME = "ingress_http"
ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService"
MIB = 1024 * 1024

# ---- the configuration ------------------------------------------------------------------------------


def _any(message: Any) -> Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _ads() -> Any:
    return config_source_pb2.ConfigSource(
        ads=config_source_pb2.AggregatedConfigSource(), resource_api_version=config_source_pb2.V3
    )


def cluster_name(i: int) -> str:
    return f"default/svc-{i}/80/da39a3ee5e"


def _split(route: Any, main: str, other: str) -> None:
    for name, weight in ((main, 90), (other, 10)):
        split = route.route.weighted_clusters.clusters.add()
        split.name = name
        split.weight.value = weight


def virtual_host(i: int, clusters: int, salt: str = "") -> Any:
    """2 domains, 4 routes, each route 90/10 over two clusters."""
    main, other = cluster_name(i % clusters), cluster_name((i + 1) % clusters)
    vhost = route_components_pb2.VirtualHost(name=f"host-{i}.example.com{salt}")
    vhost.domains.extend([f"host-{i}.example.com", f"host-{i}.example.com:*"])
    exact = vhost.routes.add()
    exact.match.path = "/healthz"
    _split(exact, main, other)
    prefixed = vhost.routes.add()
    prefixed.match.prefix = "/api"
    header = prefixed.match.headers.add()
    header.name = "x-tenant"
    header.string_match.exact = f"t{i}"
    _split(prefixed, main, other)
    prefixed.route.timeout.CopyFrom(duration_pb2.Duration(seconds=5))
    prefixed.route.retry_policy.retry_on = "5xx"
    prefixed.route.retry_policy.num_retries.CopyFrom(wrappers_pb2.UInt32Value(value=3))
    regex = vhost.routes.add()
    regex.match.safe_regex.regex = "/v[0-9]+/items/.*"
    _split(regex, main, other)
    added = regex.request_headers_to_add.add()
    added.header.key = "x-route"
    added.header.value = "regex"
    fallback = vhost.routes.add()
    fallback.match.prefix = "/"
    _split(fallback, main, other)
    return vhost


def route_configuration(vhosts: int, clusters: int, changed: int = -1, salt: str = "") -> Any:
    config = route_pb2.RouteConfiguration(name=ROUTE_NAME)
    config.virtual_hosts.extend(
        virtual_host(i, clusters, salt if i == changed else "") for i in range(vhosts)
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
    address = address_pb2.Address(socket_address=address_pb2.SocketAddress(address="127.0.0.1", port_value=0))
    return listener_pb2.Listener(name=ROUTE_NAME, address=address, filter_chains=[chain])


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


def resources(vhosts: int, clusters: int) -> dict[str, list[Any]]:
    return {
        CDS: [cluster(i) for i in range(clusters)],
        EDS: [assignment(i) for i in range(clusters)],
        LDS: [listener()],
        RDS: [route_configuration(vhosts, clusters)],
    }


def serialise_plainly(by_type: dict[str, list[Any]]) -> None:
    for messages in by_type.values():
        for message in messages:
            message.SerializeToString()


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def best_of(runs: int, action: Callable[[], Any]) -> float:
    return min(timed(action)[0] for _ in range(runs))


# ---- Envoy -----------------------------------------------------------------------------------------


def envoy_rss(envoy: EnvoyProcess) -> int:
    for line in Path(f"/proc/{envoy.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@dataclass
class EnvoyRun:
    concurrency: int
    work_dir: Path

    def process(self, name: str, port: int) -> EnvoyProcess:
        config = BootstrapConfig(
            xds_port=port,
            admin_address="127.0.0.1",
            admin_port=0,
            node_id=f"bench-{name}",
            ads=True,
            runtime_discovery=False,
        )
        options = EnvoyOptions(
            concurrency=self.concurrency, log_level="warning", ready_timeout=600, drain_seconds=0.1
        )
        return EnvoyProcess(bootstrap(config), self.work_dir / name, options)


async def start_envoy(envoy: EnvoyProcess) -> float:
    """Start Envoy and return the seconds until it was LIVE."""
    start = time.perf_counter()
    await envoy.start()
    return time.perf_counter() - start


# ---- observing ACKs -------------------------------------------------------------------------------


class AckClock:
    """The server's ``on_ack`` hook: timestamps ACKs. NACKs land in ``nacks``, which the waits watch."""

    def __init__(self) -> None:
        self.nacks = NackRegistry()
        self.acked: set[str] = set()
        self._waiters: dict[str, asyncio.Future[float]] = {}

    def __call__(self, type_url: str, node_id: str, version: str) -> None:
        now = time.perf_counter()
        self.acked.add(type_url)
        waiter = self._waiters.pop(type_url, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)

    def expect(self, type_url: str) -> asyncio.Future[float]:
        """A future set to ``perf_counter()`` when the next ACK of ``type_url`` arrives."""
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[type_url] = waiter
        return waiter

    async def acked_at(self, waiter: asyncio.Future[float], timeout: float = 600.0) -> float:
        """When ``waiter``'s ACK arrived; raises if Envoy NACKs instead or nothing comes in ``timeout``."""
        deadline = time.perf_counter() + timeout
        while not waiter.done():
            if self.nacks.current():
                raise RuntimeError(f"Envoy NACKed: {self.nacks.current()}")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no ACK after {timeout} s")
            # The hook sets the timestamp; this wait only bounds how late a NACK is noticed.
            await asyncio.wait({waiter}, timeout=0.05)
        return waiter.result()


# ---- the floor: a minimal ADS server ----------------------------------------------------------------


def discovery_response(type_url: str, version: str, values: list[bytes]) -> bytes:
    """A serialised DiscoveryResponse of already serialised resources; the nonce is the version."""
    response = discovery_pb2.DiscoveryResponse(version_info=version, type_url=type_url, nonce=version)
    for value in values:
        response.resources.add(type_url=type_url, value=value)
    return bytes(response.SerializeToString())


@dataclass
class MinimalAds:
    """One ADS SotW stream serving pre-serialised responses: each type is sent when a request's version
    differs from the current one, or when pushed; a request carrying the latest nonce is the ACK (or NACK)."""

    current: dict[str, tuple[str, bytes]]
    sent: dict[str, str] = field(default_factory=dict)
    acked: set[str] = field(default_factory=set)
    nacks: list[str] = field(default_factory=list)
    _out: asyncio.Queue[bytes] | None = None
    _waiters: dict[str, asyncio.Future[float]] = field(default_factory=dict)

    def handler(self) -> Any:
        method = grpc.stream_stream_rpc_method_handler(
            self._serve,
            request_deserializer=discovery_pb2.DiscoveryRequest.FromString,
            response_serializer=lambda payload: payload,
        )
        return grpc.method_handlers_generic_handler(ADS_SERVICE, {"StreamAggregatedResources": method})

    async def _serve(self, requests: AsyncIterator[Any], context: Any) -> None:
        out: asyncio.Queue[bytes] = asyncio.Queue()
        self._out = out
        reader = asyncio.create_task(self._read(requests, out))
        try:
            while True:
                await context.write(await out.get())
        finally:
            reader.cancel()

    async def _read(self, requests: AsyncIterator[Any], out: asyncio.Queue[bytes]) -> None:
        async for request in requests:
            type_url = request.type_url
            if request.response_nonce and request.response_nonce == self.sent.get(type_url):
                now = time.perf_counter()
                waiter = self._waiters.pop(type_url, None)
                if request.HasField("error_detail"):
                    self.nacks.append(f"{type_url}: {request.error_detail.message}")
                    if waiter is not None:
                        waiter.set_exception(RuntimeError(self.nacks[-1]))
                else:
                    self.acked.add(type_url)
                    if waiter is not None:
                        waiter.set_result(now)
            elif type_url in self.current and request.version_info != self.current[type_url][0]:
                self._send(type_url, out)

    def _send(self, type_url: str, out: asyncio.Queue[bytes]) -> None:
        version, payload = self.current[type_url]
        self.sent[type_url] = version
        out.put_nowait(payload)

    def push(self, type_url: str, version: str, payload: bytes) -> asyncio.Future[float]:
        """Send a new response now; the future gets ``perf_counter()`` at its ACK."""
        assert self._out is not None, "Envoy has not connected"
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters[type_url] = waiter
        self.current[type_url] = (version, payload)
        self._send(type_url, self._out)
        return waiter


# ---- the runs ----------------------------------------------------------------------------------------


@dataclass
class Scenario:
    """The same configuration for both servers: the base (clusters, endpoints, listener, empty routes),
    the full route table, and the route tables after each one-virtual-host change."""

    base: dict[str, list[Any]]
    full: Any
    changes: int
    full_rounds: int

    def changed_tables(self) -> Any:
        """Mutates a copy of the full table one virtual host at a time and yields it after each change."""
        table = route_pb2.RouteConfiguration()
        table.CopyFrom(self.full)
        for k in range(self.changes):
            table.virtual_hosts[k].name = f"{table.virtual_hosts[k].name}-changed"
            yield table


@dataclass
class Figures:
    startup: float = 0.0
    full_handed: list[float] = field(default_factory=list)
    full_acks: list[float] = field(default_factory=list)
    rebuilds: list[float] = field(default_factory=list)
    change_handed: list[float] = field(default_factory=list)
    change_acks: list[float] = field(default_factory=list)
    rss: int = 0


async def until_acked(acked: set[str], types: tuple[str, ...], timeout: float = 120.0) -> None:
    """Envoy has ACKed every type once (it is LIVE; its last ACKs may trail by a moment)."""
    deadline = time.perf_counter() + timeout
    while not acked.issuperset(types):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no ACK for {sorted(set(types) - acked)}")
        await asyncio.sleep(0.005)


async def run_product(run: EnvoyRun, scenario: Scenario) -> Figures:
    figures = Figures()
    clock = AckClock()
    handed: dict[str, float] = {}
    cache = SnapshotCache()
    base = Snapshot.build("base", scenario.base)
    cache.set_snapshot(DEFAULT_GROUP, base)
    server = await start_server(
        cache,
        nacks=clock.nacks,
        metrics=XdsMetrics(CollectorRegistry()),
        on_response=lambda type_url, size: handed.__setitem__(type_url, time.perf_counter()),
        on_ack=clock,
    )
    envoy = run.process("contour", server.port)
    try:
        figures.startup = await start_envoy(envoy)
        await until_acked(clock.acked, (CDS, EDS, LDS, RDS))
        snapshot = Snapshot.build("full", {**scenario.base, RDS: [scenario.full]})
        for round_ in range(scenario.full_rounds):
            if round_:
                acked = clock.expect(RDS)
                cache.set_snapshot(DEFAULT_GROUP, base)  # back to the empty table, unmeasured
                await clock.acked_at(acked)
            gc.collect()
            acked = clock.expect(RDS)
            start = time.perf_counter()
            cache.set_snapshot(DEFAULT_GROUP, snapshot)
            figures.full_acks.append(await clock.acked_at(acked) - start)
            figures.full_handed.append(handed[RDS] - start)
        figures.rss = envoy_rss(envoy)
        for k, table in enumerate(scenario.changed_tables()):
            rebuild, snapshot = timed(lambda: snapshot.with_resources(f"change-{k}", RDS, [table]))  # noqa: B023
            figures.rebuilds.append(rebuild)
            acked = clock.expect(RDS)
            start = time.perf_counter()
            cache.set_snapshot(DEFAULT_GROUP, snapshot)
            figures.change_acks.append(await clock.acked_at(acked) - start)
            figures.change_handed.append(handed[RDS] - start)
        rejected = await envoy.admin.update_rejected("rds")
        if rejected or clock.nacks.current():
            raise RuntimeError(f"Envoy rejected updates: {rejected}, {clock.nacks.current()}")
        figures.rss = max(figures.rss, envoy_rss(envoy))
    finally:
        await envoy.stop()
        await server.stop(None)
    return figures


async def run_floor(run: EnvoyRun, scenario: Scenario) -> Figures:
    figures = Figures()
    ads = MinimalAds(
        {
            type_url: (
                "base",
                discovery_response(type_url, "base", [m.SerializeToString() for m in messages]),
            )
            for type_url, messages in scenario.base.items()
        }
    )
    full_table = scenario.full.SerializeToString()
    empty_table = scenario.base[RDS][0].SerializeToString()
    full = [discovery_response(RDS, f"full-{i}", [full_table]) for i in range(scenario.full_rounds)]
    empty = [discovery_response(RDS, f"empty-{i}", [empty_table]) for i in range(scenario.full_rounds)]
    changed = [
        discovery_response(RDS, f"change-{k}", [table.SerializeToString()])
        for k, table in enumerate(scenario.changed_tables())
    ]
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([ads.handler()])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    envoy = run.process("floor", port)
    try:
        figures.startup = await start_envoy(envoy)
        await until_acked(ads.acked, (CDS, EDS, LDS, RDS))
        for round_ in range(scenario.full_rounds):
            if round_:
                await ads.push(RDS, f"empty-{round_}", empty[round_])  # back to the empty table, unmeasured
            gc.collect()
            start = time.perf_counter()
            figures.full_acks.append(await ads.push(RDS, f"full-{round_}", full[round_]) - start)
        figures.rss = envoy_rss(envoy)
        for k, payload in enumerate(changed):
            start = time.perf_counter()
            figures.change_acks.append(await ads.push(RDS, f"change-{k}", payload) - start)
        if ads.nacks:
            raise RuntimeError(f"Envoy rejected updates: {ads.nacks}")
        figures.rss = max(figures.rss, envoy_rss(envoy))
    finally:
        await envoy.stop()
        await server.stop(None)
    return figures


# ---- report --------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def verdict(ok: bool) -> str:
    return "within target" if ok else "OVER target"


async def main_async(args: argparse.Namespace) -> None:
    vhosts, clusters = args.vhosts, args.clusters
    build, by_type = timed(lambda: resources(vhosts, clusters))
    builds = [build] + [timed(lambda: resources(vhosts, clusters))[0] for _ in range(args.repeat - 1)]
    build = min(builds)
    plain = best_of(args.repeat, lambda: serialise_plainly(by_type))
    snapshot_build = best_of(args.repeat, lambda: Snapshot.build("v1", by_type))
    snapshot = Snapshot.build("v1", by_type)
    sizes = {
        typeurls.SHORT_NAMES[t]: len(snapshot.of_type(t).select(None).body) for t in (CDS, EDS, LDS, RDS)
    }
    full_table = by_type[RDS][0]
    base = {**by_type, RDS: [route_pb2.RouteConfiguration(name=ROUTE_NAME)]}
    scenario = Scenario(base=base, full=full_table, changes=args.changes, full_rounds=args.full_rounds)
    del snapshot

    with tempfile.TemporaryDirectory(prefix="bench-xds-") as work_dir:
        run = EnvoyRun(concurrency=args.concurrency, work_dir=Path(work_dir))
        floor = await run_floor(run, scenario)
        ours = await run_product(run, scenario)

    print(
        f"== {vhosts} virtual hosts x 4 routes (each route 90/10 over 2 clusters), {clusters} EDS clusters"
        f" + {clusters} ClusterLoadAssignments (3 endpoints), 1 listener; ADS state of the world;"
        f" Envoy --concurrency {args.concurrency}; best of {args.repeat} for CPU figures =="
    )
    print("serialised sizes: " + ", ".join(f"{k} {v / MIB:.2f} MiB" for k, v in sizes.items()))
    ours_full = build + snapshot_build
    floor_full = build + plain
    print(
        f"full rebuild: build protobufs {ms(build)} + Snapshot.build {ms(snapshot_build)} = {ms(ours_full)};"
        f" floor build + plain SerializeToString {ms(build)} + {ms(plain)} = {ms(floor_full)};"
        f" {ours_full / floor_full:.2f} x floor (target <= 1.5 x: {verdict(ours_full <= 1.5 * floor_full)})"
    )
    print(
        f"  serialisation alone: Snapshot.build {ms(snapshot_build)} vs plain {ms(plain)}:"
        f" {snapshot_build / plain:.2f} x"
    )
    print(
        f"Envoy start to LIVE with {clusters} clusters and an empty route table:"
        f" {ours.startup:.2f} s (contour.xds), {floor.startup:.2f} s (minimal ADS server)"
    )
    full_p50, floor_full_p50 = statistics.median(ours.full_acks), statistics.median(floor.full_acks)
    print(
        f"full route table replacing an empty one, {args.full_rounds} times: set_snapshot -> RDS ACK"
        f" p50 {ms(full_p50)} (response handed to gRPC after {ms(statistics.median(ours.full_handed))});"
        f" floor, Envoy's own apply (minimal server write -> ACK) p50 {ms(floor_full_p50)};"
        f" {full_p50 / floor_full_p50:.2f} x, {ms(full_p50 - floor_full_p50)} beyond"
    )
    p50, p99 = statistics.median(ours.change_acks), percentile(ours.change_acks, 0.99)
    floor_p50, floor_p99 = statistics.median(floor.change_acks), percentile(floor.change_acks, 0.99)
    end_to_end = [r + a for r, a in zip(ours.rebuilds, ours.change_acks, strict=True)]
    print(
        f"one virtual host changed, {args.changes} times: Snapshot.with_resources (re-serialise RDS)"
        f" p50 {ms(statistics.median(ours.rebuilds))}; set_snapshot -> RDS ACK p50 {ms(p50)}, p99 {ms(p99)};"
        f" with_resources + push p50 {ms(statistics.median(end_to_end))},"
        f" p99 {ms(percentile(end_to_end, 0.99))}"
    )
    print(
        f"  floor, Envoy's own apply of the full route table (same {args.changes} tables):"
        f" p50 {ms(floor_p50)}, p99 {ms(floor_p99)};"
        f" push p50 {p50 / floor_p50:.2f} x, p99 {p99 / floor_p99:.2f} x floor"
        f" (target p99 <= 1.25 x: {verdict(p99 <= 1.25 * floor_p99)})"
    )
    if args.samples:
        print("  samples, ms (set_snapshot -> ACK):", " ".join(f"{x * 1000:.0f}" for x in ours.change_acks))
        print("  samples, ms (floor write -> ACK): ", " ".join(f"{x * 1000:.0f}" for x in floor.change_acks))
        print("  handed to gRPC, ms:", " ".join(f"{x * 1000:.1f}" for x in ours.change_handed))
        print("  full table, ms (ours, floor):", [round(x * 1000) for x in ours.full_acks], end=" ")
        print([round(x * 1000) for x in floor.full_acks])
    print(
        f"Envoy RSS with the whole configuration: {ours.rss / MIB:.0f} MiB"
        f" (the floor run's Envoy: {floor.rss / MIB:.0f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--vhosts", type=int, default=10_000)
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--full-rounds", type=int, default=3, help="pushes of the full route table")
    parser.add_argument("--concurrency", type=int, default=1, help="Envoy worker threads")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each CPU-bound step; the best is kept")
    parser.add_argument("--gc-off", action="store_true", help="disable the cyclic GC (separates its cost)")
    parser.add_argument("--samples", action="store_true", help="print every push -> ACK latency")
    args = parser.parse_args()
    if args.gc_off:
        gc.disable()
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
