"""Issue 5's benchmark: N HTTPProxies through the controller's rebuild path, each figure beside its floor.

Workload (names in ``bench/httpproxy_floor.py``): N HTTPProxies of 4 routes (exact path; prefix +
header match with timeout and retries; regex with a request header; "/"), every route split 90/10
between two Services; N Services (one per proxy, its neighbour takes the 10 %) and N EndpointSlices of
3 endpoints, so every cluster resolves: N clusters, N ClusterLoadAssignments, one ``ingress_http``
RouteConfiguration of N virtual hosts. Objects go in as the informers deliver them: raw dicts through
``EventHandler.on_event`` (``contour run``'s handler), and a rebuild is ``EventHandler.rebuild()``:
``Builder.build`` -> ``translate`` -> assignments -> ``Snapshot.build`` -> ``set_snapshot``. The
debounce holdoff (100 ms in ``contour run``) and status writes are left out of every figure.

Figures per scale (DESIGN.md, "Performance targets"):

1. full rebuild: the first ``rebuild()`` of a filled cache (every ClusterLoadAssignment computed, no
   memo; best of ``--repeat``, each on a fresh handler), a later one with nothing changed (every memo
   warm), the first one with the cyclic GC paused (and the ``gc.collect()`` after it), and its phases;
   floor: ``bench/httpproxy_floor.py`` building the same messages by hand + plain ``SerializeToString``
   (checked byte-identical to the product's). Target <= 1.5 x the floor.
2. one proxy changed -> new snapshot: ``on_event(MODIFIED)`` + ``rebuild()``, the incremental path
   (only the changed root is recomputed and translated; every other one comes from the memos),
   p50/p99 over ``--changes`` changes.
3. one proxy changed -> Envoy ACK: a real Envoy on ``contour run``'s configuration (one ADS stream,
   RTDS on; ``--per-type-streams`` for Contour's stream per type and per EDS cluster) fed by
   ``start_server``; ``on_event`` -> RDS ACK seen by ``on_ack``, p50/p99. Floor: Envoy's own apply of
   the same full route tables, pushed pre-serialised over the same transport by
   ``bench/xds_envoy.py``'s minimal server to another Envoy that starts from the same bytes.
   Targets: p99 <= 1.25 x the floor's p99 at 10,000; <= floor p99 + 15 ms at 1,000.
4. controller RSS: a child process (``--rss-child N``) holding the filled cache, the EndpointSlice
   index, the DAG, the memos, the last statuses and the snapshot, after ``gc.collect()``; targets
   <= 120 MiB at 1,000, <= 300 MiB at 10,000. The informers' own stores of raw objects are not in it.

    .venv/bin/python bench/httpproxy.py [--scales 1000 5000 10000] [--changes 20] [--no-envoy]
        [--repeat 3] [--concurrency 1] [--profile] [--per-type-streams]

``--profile`` prints a cProfile of one full rebuild at the largest scale (top 15 by cumulative time,
then by own time).
With ``--per-type-streams`` Envoy at 10,000 needs about 3 GiB (one EDS stream per cluster); the two
Envoys run one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import grpc
from bench import httpproxy_floor as floor
from bench import httpproxy_policies as policies
from bench.xds_envoy import AckClock, MinimalAds, discovery_response, envoy_rss, percentile, until_acked
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2
from prometheus_client import CollectorRegistry

from contour.controller.eventhandler import EventHandler
from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.envoy.bootstrap import BootstrapConfig, bootstrap
from contour.envoy.translate import TranslatorConfig, translate
from contour.envoyproc.process import EnvoyOptions, EnvoyProcess
from contour.k8s.informer import EventType, InformerEvent
from contour.xds import typeurls
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from contour.xds.metrics import XdsMetrics
from contour.xds.server import PER_TYPE_SERVICES, start_server
from contour.xds.snapshot import Snapshot

ROUTE, EDS = typeurls.ROUTE, typeurls.ENDPOINT
SNAPSHOT_TYPES = (typeurls.CLUSTER, typeurls.ENDPOINT, typeurls.LISTENER, ROUTE, typeurls.RUNTIME)
MIB = 1024 * 1024

# ---- the objects, as the API server returns them ------------------------------------------------------


def proxy(i: int, count: int, tenant: str = "", generation: int = 1) -> dict[str, Any]:
    built = _plain_proxy(i, count, tenant, generation)
    return policies.with_policies(built, i) if WORKLOAD["policies"] else built


def _plain_proxy(i: int, count: int, tenant: str, generation: int) -> dict[str, Any]:
    services = [
        {"name": f"svc-{i}", "port": floor.SERVICE_PORT, "weight": 90},
        {"name": f"svc-{floor.neighbour(i, count)}", "port": floor.SERVICE_PORT, "weight": 10},
    ]
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": f"proxy-{i}", "namespace": floor.namespace(i), "generation": generation},
        "spec": {
            "virtualhost": {"fqdn": floor.fqdn(i)},
            "routes": [
                {"conditions": [{"exact": "/healthz"}], "services": services},
                {
                    "conditions": [
                        {"prefix": "/api"},
                        {"header": {"name": "x-tenant", "exact": tenant or f"t{i}"}},
                    ],
                    "services": services,
                    "timeoutPolicy": {"response": "5s"},
                    "retryPolicy": {"count": 3, "retryOn": ["5xx"]},
                },
                {
                    "conditions": [{"regex": floor.REGEX}],
                    "services": services,
                    "requestHeadersPolicy": {"set": [{"name": "x-route", "value": "regex"}]},
                },
                {"services": services},
            ],
        },
    }


def service(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"svc-{i}", "namespace": floor.namespace(i)},
        "spec": {
            "type": "ClusterIP",
            "ports": [{"port": floor.SERVICE_PORT, "targetPort": floor.TARGET_PORT, "protocol": "TCP"}],
        },
    }


def endpoint_slice(i: int) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"svc-{i}-x7k2p",
            "namespace": floor.namespace(i),
            "labels": {"kubernetes.io/service-name": f"svc-{i}"},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [address], "conditions": {"ready": True}} for address in floor.endpoint_addresses(i)
        ],
        "ports": [{"name": "", "port": floor.TARGET_PORT, "protocol": "TCP"}],
    }


def objects(count: int) -> Iterator[dict[str, Any]]:
    """HTTPProxies, then Services, then EndpointSlices (Services after proxies: the costlier order);
    with ``--policies`` also the TLS Secrets and the authorization ExtensionService."""
    if WORKLOAD["policies"]:
        yield from (policies.secret(ns) for ns in sorted({floor.namespace(i) for i in range(count)}))
        yield from policies.authorization_objects()
    yield from (proxy(i, count) for i in range(count))
    yield from (service(i) for i in range(count))
    yield from (endpoint_slice(i) for i in range(count))


def event(kind: EventType, obj: dict[str, Any], old: dict[str, Any] | None = None) -> InformerEvent:
    meta = obj["metadata"]
    return InformerEvent(type=kind, key=f"{meta['namespace']}/{meta['name']}", obj=obj, old=old)


# ---- the controller -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ports:
    """The listener ports of the configuration (free ones: two Envoys bind them, one after the other)."""

    http: int
    stats: int

    @classmethod
    def free(cls) -> Ports:
        return cls(*(_free_port() for _ in range(2)))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ``--policies``: issue 6's workload (bench/httpproxy_policies.py) instead of the plain one.
WORKLOAD = {"policies": False}

# ``contour run``'s xDS transport: one ADS stream (``--per-type-streams``: Contour's one stream per type
# and one EDS stream per cluster).
TRANSPORT = {"ads": True}


def handler_for(cache: KubernetesCache, ports: Ports) -> EventHandler:
    """``contour run``'s event handler for ``cache`` (no status sink), with its own SnapshotCache."""
    return EventHandler(
        cache,
        Builder(BuilderConfig(http_port=ports.http)),
        SnapshotCache(),
        translator_config=TranslatorConfig(stats_port=ports.stats, ads=TRANSPORT["ads"]),
    )


def filled_handler(count: int, ports: Ports) -> EventHandler:
    handler = handler_for(KubernetesCache(), ports)
    for obj in objects(count):
        handler.on_event(event("ADDED", obj))
    return handler


def fresh_handler(filled: EventHandler, ports: Ports, count: int) -> EventHandler:
    """A handler on the same cache that has never rebuilt: its EndpointSlices re-fed, no memo."""
    handler = handler_for(filled.cache, ports)
    for i in range(count):
        handler.on_event(event("ADDED", endpoint_slice(i)))
    return handler


def current(handler: EventHandler) -> Snapshot:
    snapshot = handler.snapshots.snapshot(DEFAULT_GROUP)
    if snapshot is None:
        raise RuntimeError("no snapshot published")
    return snapshot


def serialised(snapshot: Snapshot, type_url: str) -> dict[str, bytes]:
    """The serialised messages of one type by name, in name order (unwrapped from their Any)."""
    return {
        name: any_pb2.Any.FromString(bytes(r.any_bytes())).value
        for name, r in snapshot.of_type(type_url).resources.items()
    }


def message_bytes(snapshot: Snapshot, type_url: str) -> list[bytes]:
    return list(serialised(snapshot, type_url).values())


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def best_of(runs: int, action: Callable[[], Any]) -> float:
    return min(timed(action)[0] for _ in range(runs))


# ---- 1. full rebuild ------------------------------------------------------------------------------------


@dataclass
class FullRebuild:
    fill: float
    cold: float
    warm: float
    paused: float  # the first rebuild with the cyclic GC paused
    collect: float  # the gc.collect() after it
    phases: dict[str, float]
    floor_build: float
    floor_serialise: float
    identical: dict[str, bool]
    sizes: dict[str, int]

    @property
    def floor(self) -> float:
        return self.floor_build + self.floor_serialise


def measure_full_rebuild(count: int, ports: Ports, repeat: int) -> tuple[EventHandler, FullRebuild]:
    fill, handler = timed(lambda: filled_handler(count, ports))
    cold = min(timed(fresh_handler(handler, ports, count).rebuild)[0] for _ in range(repeat))
    if not handler.rebuild():
        raise RuntimeError("the rebuild failed")
    warm = best_of(repeat, handler.rebuild)
    paused, collect = min(rebuild_without_gc(fresh_handler(handler, ports, count)) for _ in range(repeat))

    config = handler.translator_config
    build_time, result = timed(lambda: handler.builder.build(handler.cache))
    translate_time, by_type = timed(lambda: translate(result.dag, config))
    fresh = fresh_handler(handler, ports, count)
    assignments_time, assignments = timed(
        lambda: fresh.assignments.for_services(result.dag.services.values())
    )
    resources = {**by_type, typeurls.ENDPOINT: assignments}
    snapshot_time = best_of(repeat, lambda: Snapshot.build("phase", resources))
    phases = {
        "Builder.build": build_time,
        "translate": translate_time,
        "assignments": assignments_time,
        "Snapshot.build": snapshot_time,
    }

    # With --policies the floor stays the plain workload's (no hand-built policy messages): for scale only.
    floor_build = best_of(repeat, lambda: floor.resources(count, ports.http, ports.stats, TRANSPORT["ads"]))
    plain = floor.resources(count, ports.http, ports.stats, TRANSPORT["ads"])
    floor_serialise = best_of(repeat, lambda: floor.serialise(plain))
    snapshot = current(handler)
    identical = {
        typeurls.SHORT_NAMES[t]: message_bytes(snapshot, t)
        == [m.SerializeToString(deterministic=True) for m in plain.get(t, [])]
        for t in SNAPSHOT_TYPES
        if not WORKLOAD["policies"]
    }
    sizes = {typeurls.SHORT_NAMES[t]: len(snapshot.of_type(t).select(None).body) for t in SNAPSHOT_TYPES}
    figures = FullRebuild(
        fill, cold, warm, paused, collect, phases, floor_build, floor_serialise, identical, sizes
    )
    return handler, figures


def rebuild_without_gc(handler: EventHandler) -> tuple[float, float]:
    """The first rebuild with the cyclic GC paused, and the full collection that follows it."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        handler.rebuild()
        rebuilt = time.perf_counter() - start
    finally:
        gc.enable()
    start = time.perf_counter()
    gc.collect()
    return rebuilt, time.perf_counter() - start


def profile_rebuild(handler: EventHandler, ports: Ports, count: int) -> None:
    fresh = fresh_handler(handler, ports, count)
    gc.collect()
    profiler = cProfile.Profile()
    profiler.runcall(fresh.rebuild)
    print(f"-- cProfile of one full rebuild at {count} (first rebuild of a fresh handler), top 15 cumulative")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(15)
    print("-- the same profile, top 15 by own time")
    stats.sort_stats("tottime").print_stats(15)


# ---- 2. one proxy changed -> snapshot ---------------------------------------------------------------------


@dataclass
class Change:
    """One HTTPProxy edit: its header match gets a new value, its generation goes up."""

    index: int
    new: dict[str, Any]
    old: dict[str, Any]


def change_plan(count: int, first: int, number: int) -> list[Change]:
    """Changes ``first`` .. ``first + number - 1``, each to a different proxy spread over the table."""
    plan = []
    for k in range(first, first + number):
        i = (k * 7919) % count
        old = proxy(i, count)
        plan.append(Change(i, proxy(i, count, tenant=f"t{i}-change-{k}", generation=2), old))
    return plan


def apply(handler: EventHandler, change: Change) -> None:
    handler.on_event(event("MODIFIED", change.new, change.old))
    if not handler.rebuild():
        raise RuntimeError("the rebuild failed")


def measure_changes(handler: EventHandler, plan: list[Change]) -> list[float]:
    times = []
    for change in plan:
        gc.collect()
        start = time.perf_counter()
        apply(handler, change)
        times.append(time.perf_counter() - start)
    return times


# ---- 3. one proxy changed -> Envoy ACK --------------------------------------------------------------------


@dataclass
class EnvoyFigures:
    startup: float = 0.0
    rebuilds: list[float] = field(default_factory=list)
    handed: list[float] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    rss: int = 0
    streams: int = 0  # xDS streams Envoy opened


def envoy_process(work_dir: Path, name: str, xds_port: int, concurrency: int) -> EnvoyProcess:
    config = BootstrapConfig(
        xds_port=xds_port,
        admin_address="127.0.0.1",
        admin_port=0,
        node_id=f"bench-{name}",
        ads=TRANSPORT["ads"],
    )
    options = EnvoyOptions(concurrency=concurrency, log_level="warning", ready_timeout=900, drain_seconds=0.1)
    return EnvoyProcess(bootstrap(config), work_dir / name, options)


async def check_no_rejections(envoy: EnvoyProcess) -> None:
    rejected = {kind: await envoy.admin.update_rejected(kind) for kind in ("cds", "lds", "rds")}
    if any(rejected.values()):
        raise RuntimeError(f"Envoy rejected updates: {rejected}")


async def envoy_product(
    handler: EventHandler, plan: list[Change], work_dir: Path, concurrency: int
) -> tuple[EnvoyFigures, list[bytes]]:
    """``contour.xds`` feeding Envoy; returns the figures and the route table after each change."""
    figures, tables = EnvoyFigures(), []
    clock = AckClock()
    handed: dict[str, float] = {}
    metrics = XdsMetrics(CollectorRegistry())
    server = await start_server(
        handler.snapshots,
        nacks=clock.nacks,
        metrics=metrics,
        on_response=lambda type_url, size: handed.__setitem__(type_url, time.perf_counter()),
        on_ack=clock,
    )
    envoy = envoy_process(work_dir, "contour", server.port, concurrency)
    try:
        start = time.perf_counter()
        await envoy.start()
        figures.startup = time.perf_counter() - start
        await until_acked(clock.acked, SNAPSHOT_TYPES)
        for change in plan:
            gc.collect()
            acked = clock.expect(ROUTE)
            start = time.perf_counter()
            apply(handler, change)
            figures.rebuilds.append(time.perf_counter() - start)
            figures.acks.append(await clock.acked_at(acked) - start)
            figures.handed.append(handed[ROUTE] - start)
            tables.append(message_bytes(current(handler), ROUTE)[0])
        figures.rss = envoy_rss(envoy)
        streams = metrics.registry.get_sample_value("contour_xds_open_streams", {"variant": "sotw"})
        figures.streams = int(streams or 0)
        if clock.nacks.current():
            raise RuntimeError(f"Envoy NACKed: {clock.nacks.current()}")
        await check_no_rejections(envoy)
    finally:
        await envoy.stop()
        await server.stop(None)
    return figures, tables


StreamHandler = Callable[[AsyncIterator[Any], Any], Awaitable[None]]


def _serving(serve: StreamHandler, service: str, method: str) -> Any:
    handler = grpc.stream_stream_rpc_method_handler(
        serve,
        request_deserializer=discovery_pb2.DiscoveryRequest.FromString,
        response_serializer=lambda payload: payload,
    )
    return grpc.method_handlers_generic_handler(service, {method: handler})


async def _replay(first: Any, rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    async for request in rest:
        yield request


class AssignmentStreams:
    """The floor's EDS. Envoy opens one EDS stream per cluster when the cluster's ``eds_config`` is a
    (non-ADS) gRPC API config source, as Contour's is; each stream gets its own MinimalAds holding the
    assignments its first request names, so Envoy receives what ``contour.xds`` sends it."""

    def __init__(self, assignments: dict[str, bytes]) -> None:
        self.assignments = assignments
        self.streams: list[MinimalAds] = []

    async def serve(self, requests: AsyncIterator[Any], context: Any) -> None:
        incoming = aiter(requests)
        first = await anext(incoming)
        values = [self.assignments[name] for name in first.resource_names if name in self.assignments]
        ads = MinimalAds({EDS: ("base", discovery_response(EDS, "base", values))})
        self.streams.append(ads)
        await ads._serve(_replay(first, incoming), context)  # bench/xds_envoy.py's stream, reused as is


async def envoy_floor(
    base: dict[str, dict[str, bytes]], tables: list[bytes], work_dir: Path, concurrency: int
) -> EnvoyFigures:
    """Envoy's own apply: the minimal server writes each pre-serialised table; write -> ACK."""
    if TRANSPORT["ads"]:
        return await envoy_floor_ads(base, tables, work_dir, concurrency)
    figures = EnvoyFigures()
    singles = {
        type_url: MinimalAds({type_url: ("base", discovery_response(type_url, "base", list(named.values())))})
        for type_url, named in base.items()
        if type_url != EDS
    }
    assignments = AssignmentStreams(base[EDS])
    payloads = [discovery_response(ROUTE, f"change-{k}", [table]) for k, table in enumerate(tables)]
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            _serving(assignments.serve if type_url == EDS else singles[type_url]._serve, service, method)
            for service, (method, _, type_url) in PER_TYPE_SERVICES.items()
            if type_url in base
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    envoy = envoy_process(work_dir, "floor", port, concurrency)
    try:
        start = time.perf_counter()
        await envoy.start()
        figures.startup = time.perf_counter() - start
        for type_url, ads in singles.items():
            await until_acked(ads.acked, (type_url,))
        routes = singles[ROUTE]
        for k, payload in enumerate(payloads):
            gc.collect()
            start = time.perf_counter()
            figures.acks.append(await routes.push(ROUTE, f"change-{k}", payload) - start)
        figures.rss = envoy_rss(envoy)
        figures.streams = len(singles) + len(assignments.streams)
        nacks = [n for ads in [*singles.values(), *assignments.streams] for n in ads.nacks]
        if nacks:
            raise RuntimeError(f"Envoy NACKed: {nacks[:5]}")
        await check_no_rejections(envoy)
    finally:
        await envoy.stop()
        await server.stop(None)
    return figures


async def envoy_floor_ads(
    base: dict[str, dict[str, bytes]], tables: list[bytes], work_dir: Path, concurrency: int
) -> EnvoyFigures:
    """The floor over one ADS stream: every type from one MinimalAds, then each table pushed -> ACK."""
    figures = EnvoyFigures()
    ads = MinimalAds(
        {t: ("base", discovery_response(t, "base", list(named.values()))) for t, named in base.items()}
    )
    payloads = [discovery_response(ROUTE, f"change-{k}", [table]) for k, table in enumerate(tables)]
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([ads.handler()])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    envoy = envoy_process(work_dir, "floor", port, concurrency)
    try:
        start = time.perf_counter()
        await envoy.start()
        figures.startup = time.perf_counter() - start
        await until_acked(ads.acked, tuple(base))
        for k, payload in enumerate(payloads):
            gc.collect()
            start = time.perf_counter()
            figures.acks.append(await ads.push(ROUTE, f"change-{k}", payload) - start)
        figures.rss = envoy_rss(envoy)
        figures.streams = 1
        if ads.nacks:
            raise RuntimeError(f"Envoy NACKed: {ads.nacks[:5]}")
        await check_no_rejections(envoy)
    finally:
        await envoy.stop()
        await server.stop(None)
    return figures


async def measure_envoy(
    handler: EventHandler, plan: list[Change], concurrency: int
) -> tuple[EnvoyFigures, EnvoyFigures | None]:
    snapshot = current(handler)
    base = {t: serialised(snapshot, t) for t in SNAPSHOT_TYPES}
    with tempfile.TemporaryDirectory(prefix="bench-httpproxy-") as tmp:
        work_dir = Path(tmp)
        ours, tables = await envoy_product(handler, plan, work_dir, concurrency)
        if WORKLOAD["policies"]:  # a change touches its host's own https/ route configuration: no floor
            return ours, None
        theirs = await envoy_floor(base, tables, work_dir, concurrency)
    return ours, theirs


# ---- 4. controller RSS ---------------------------------------------------------------------------------


def _status_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field_name}")


def rss_child(count: int) -> None:
    """In a fresh interpreter: RSS after imports, after the fill, and holding cache + DAG + snapshot."""
    gc.collect()
    baseline = _status_kib("VmRSS")
    handler = filled_handler(count, Ports.free())
    gc.collect()
    filled = _status_kib("VmRSS")
    if not handler.rebuild():
        raise RuntimeError("the rebuild failed")
    gc.collect()
    print(
        json.dumps(
            {
                "baseline": baseline,
                "filled": filled,
                "held": _status_kib("VmRSS"),
                "peak": _status_kib("VmHWM"),
            }
        )
    )


def measure_rss(count: int) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, __file__, "--rss-child", str(count)]
        + (["--policies"] if WORKLOAD["policies"] else [])
        + ([] if TRANSPORT["ads"] else ["--per-type-streams"]),
        capture_output=True,
        text=True,
        check=True,
    )
    kib: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return kib


# ---- report ----------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(ok: bool) -> str:
    return "within target" if ok else "OVER target"


def p50_p99(values: list[float]) -> str:
    return f"p50 {ms(statistics.median(values))}, p99 {ms(percentile(values, 0.99))}"


def report_full(count: int, full: FullRebuild, repeat: int) -> None:
    print(
        f"cache filled through on_event ({count} HTTPProxies, then Services, then EndpointSlices):"
        f" {ms(full.fill)}"
    )
    ratio = full.cold / full.floor
    print(
        f"1. full rebuild (first rebuild, best of {repeat}): {ms(full.cold)}; floor, hand-built protobufs"
        f" {ms(full.floor_build)} + plain SerializeToString {ms(full.floor_serialise)} = {ms(full.floor)};"
        f" {ratio:.2f} x floor (target <= 1.5 x: {verdict(ratio <= 1.5)})"
    )
    print(
        f"   later full rebuild (assignments memoised, best of {repeat}): {ms(full.warm)},"
        f" {full.warm / full.floor:.2f} x floor"
    )
    print(
        f"   first rebuild with the cyclic GC paused (best of {repeat}): {ms(full.paused)},"
        f" {full.paused / full.floor:.2f} x floor; the gc.collect() after it {ms(full.collect)}"
    )
    print("   phases: " + ", ".join(f"{name} {ms(t)}" for name, t in full.phases.items()))
    sizes = ", ".join(f"{k} {v / MIB:.2f} MiB" for k, v in full.sizes.items())
    same = ", ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in full.identical.items())
    same = same or "not comparable (policies workload; the floor is the plain workload's)"
    print(f"   serialised sizes: {sizes}; floor bytes identical to the product's: {same}")


def report_envoy(count: int, ours: EnvoyFigures, theirs: EnvoyFigures | None) -> None:
    n = len(ours.acks)
    print(
        f"3. one proxy changed -> Envoy RDS ACK, {n} changes: {p50_p99(ours.acks)}"
        f" (of which on_event + rebuild {p50_p99(ours.rebuilds)}; response handed to gRPC"
        f" {p50_p99(ours.handed)})"
    )
    if theirs is None:
        print(
            f"   (policies workload: no floor; Envoy RSS {ours.rss / MIB:.0f} MiB,"
            f" xDS streams Envoy opened: {ours.streams})"
        )
        return
    p99, floor_p99 = percentile(ours.acks, 0.99), percentile(theirs.acks, 0.99)
    if count >= 10_000:
        target = f"target p99 <= 1.25 x floor p99: {verdict(p99 <= 1.25 * floor_p99)}"
    elif count <= 1000:
        target = f"target p99 <= floor p99 + 15 ms: {verdict(p99 <= floor_p99 + 0.015)}"
    else:
        target = "no target at this scale"
    print(
        f"   floor, Envoy's own apply of the same {n} full route tables (minimal server write -> ACK):"
        f" {p50_p99(theirs.acks)}; p99 {p99 / floor_p99:.2f} x floor, {ms(p99 - floor_p99)} beyond"
        f" ({target})"
    )
    print(
        f"   Envoy start to LIVE: {ours.startup:.2f} s (contour.xds), {theirs.startup:.2f} s (floor);"
        f" Envoy RSS {ours.rss / MIB:.0f} MiB (floor run's Envoy {theirs.rss / MIB:.0f} MiB);"
        f" xDS streams Envoy opened: {ours.streams} (floor {theirs.streams})"
        + ("" if TRANSPORT["ads"] else ", one EDS stream per cluster")
    )


def report_rss(count: int, kib: dict[str, int]) -> None:
    held = kib["held"] / 1024
    limit = 120 if count <= 1000 else 300 if count >= 10_000 else None
    target = f" (target <= {limit} MiB: {verdict(held <= limit)})" if limit is not None else ""
    print(
        f"4. controller RSS holding cache + DAG + snapshot: {held:.1f} MiB{target};"
        f" after imports {kib['baseline'] / 1024:.1f} MiB, after the fill {kib['filled'] / 1024:.1f} MiB,"
        f" peak {kib['peak'] / 1024:.1f} MiB"
    )


async def run_scale(count: int, args: argparse.Namespace, profile: bool) -> None:
    ports = Ports.free()
    print(
        f"== {count} HTTPProxies x 4 routes x 2 weighted services; {count} Services, {count} EndpointSlices"
        f" ({floor.ENDPOINTS_PER_SERVICE} endpoints), {floor.NAMESPACE_SIZE} proxies per namespace =="
    )
    handler, full = measure_full_rebuild(count, ports, args.repeat)
    report_full(count, full, args.repeat)
    if profile:
        profile_rebuild(handler, ports, count)
    changes = measure_changes(handler, change_plan(count, 0, args.changes))
    print(
        f"2. one proxy changed -> new snapshot (on_event + incremental rebuild), {args.changes} changes:"
        f" {p50_p99(changes)}"
    )
    if not args.no_envoy:
        ours, theirs = await measure_envoy(
            handler, change_plan(count, args.changes, args.changes), args.concurrency
        )
        report_envoy(count, ours, theirs)
    del handler
    gc.collect()
    report_rss(count, measure_rss(count))
    sys.stdout.flush()


async def main_async(args: argparse.Namespace) -> None:
    largest = max(args.scales)
    for count in args.scales:
        await run_scale(count, args, profile=args.profile and count == largest)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[1000, 5000, 10_000])
    parser.add_argument("--changes", type=int, default=20, help="one-proxy changes measured per scale")
    parser.add_argument("--no-envoy", action="store_true", help="skip figure 3 (no Envoy is started)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each CPU-bound step; the best is kept")
    parser.add_argument("--concurrency", type=int, default=1, help="Envoy worker threads")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one full rebuild at the largest scale"
    )
    parser.add_argument(
        "--per-type-streams",
        action="store_true",
        help="Contour's xDS transport (a stream per type, an EDS stream per cluster) instead of ADS",
    )
    parser.add_argument(
        "--policies",
        action="store_true",
        help="issue 6's workload: every proxy with TLS, ext_authz, a local rate limit and header policies",
    )
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    TRANSPORT["ads"] = not args.per_type_streams
    WORKLOAD["policies"] = args.policies
    if args.rss_child is not None:
        rss_child(args.rss_child)
        return
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
