"""Issue 7's benchmark: Envoy Gateway's shape, route convergence and controller RSS, each beside its target.

Workload (Envoy Gateway's benchmark shape): one GatewayClass, one Gateway with one HTTP listener, one
backend (a `contour echo` on 127.0.0.1 behind a selector-less Service ``echo`` and one EndpointSlice),
and HTTPRoutes ``route-NNNNN`` attached to the Gateway, route i with hostname ``bench-<i % 5>.example.com``
(5 hostnames) and one rule: PathPrefix ``/r-NNNNN`` (fixed width, so no route's path is a string
prefix of another's) -> ``echo:80``.

1. Through the real path: ``contour run`` as a subprocess (embedded API server, informers, controller,
   the Gateway's own Envoy on 127.0.1.N), objects written by a kr8s client (server-side apply, as
   ``kubectl apply --server-side``). Per scale (10 -> 100 -> 1,000 routes by default), the Gateway is
   filled to that many routes and left to settle (every route Accepted, the listener's attachedRoutes
   equal to the count, the last route answering 200), then ``--routes`` new routes are applied one at a
   time. Route convergence = from just before the apply request is sent until the first of 3
   consecutive 200s from the echo on the new route's host and path (requests every ``--poll-interval``
   over a keep-alive connection to the Gateway's Envoy); p50/p99 over the new routes. The controller's
   debounce holdoff (100 ms) is inside every figure. Each new route is left to settle before the next.
   Controller RSS = VmRSS of the ``contour run`` process alone (/proc/<pid>/status), read after the
   scale's measurements: the controller, its embedded API server (aiohttp + SQLite, in the same
   process) and all their threads. Not counted: its child processes (the default Envoy and the
   Gateway's Envoy), listed beside it with their own RSS, and the echo backend (started by this script).
   Printed beside it: the RSS once ready with no object applied, and the floor of a fresh interpreter
   that only imports ``contour.controller.localrun``.
   Targets at 1,000 routes: RSS <= 120 MiB (Envoy Gateway v1.9: 255 MiB), p99 convergence <= 1 s.
2. Through ``EventHandler`` directly (no API server, no debounce, no statuses written): the cache filled
   through ``on_event``, one full ``rebuild()``, then per new route ``on_event(ADDED)`` + ``rebuild()``
   (apply -> snapshots published, the Gateway's included), p50/p99, with its phases measured inside
   those rebuilds: ``Builder.build``, ``translate`` (default group), the Gateways' publish and, inside
   it, ``translate_gateway`` (the per-Gateway translation, which has no memo yet). Also
   ``translate_gateway`` of the final Gateway alone, best of ``--repeat``. The product pauses the
   cyclic GC for build + translate but not for the Gateways' publish, so ``--routes`` more new routes
   are measured with the GC paused by this script around the whole rebuild. At 1,000 and 10,000 routes.
   ``--profile``: a cProfile of one more new route's rebuild at the largest of ``--handler-scales``.

    .venv/bin/python bench/gatewayapi.py [--scales 10 100 1000 10000] [--routes 20]
        [--handler-scales 1000 10000] [--no-run] [--no-handler] [--profile]

The numbers depend on the machine and on what else runs on it; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import kr8s.asyncio
from bench.xds_envoy import percentile

from contour.controller import eventhandler as eventhandler_module
from contour.controller import gatewaysnapshots
from contour.controller.eventhandler import EventHandler
from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.dag.model import ObjectRef
from contour.envoy.gatewayapi_translate import translate_gateway
from contour.envoy.translate import TranslatorConfig
from contour.k8s.apply import server_side_apply
from contour.k8s.client import close, connect
from contour.k8s.informer import InformerEvent
from contour.xds.cache import SnapshotCache
from tests.support.contour_run import ContourRun, free_port, running
from tests.support.envoy_harness import EchoBackend

T = TypeVar("T")
MIB = 1024 * 1024
GATEWAY_API = "gateway.networking.k8s.io/v1"
CONTROLLER_NAME = "projectcontour.io/gateway-controller"
NS = "bench"
GATEWAY = "bench"
CLASS = "bench"
SERVICE = "echo"
ECHO_POD = "bench-echo"
HOSTNAMES = 5
FIELD_MANAGER = "bench-gatewayapi"
GATEWAY_REF = ObjectRef(NS, GATEWAY)
TARGET_SCALE = 1000
TARGET_RSS_MIB = 120.0
TARGET_P99_SECONDS = 1.0

# ---- the objects ------------------------------------------------------------------------------------


def hostname(i: int) -> str:
    return f"bench-{i % HOSTNAMES}.example.com"


def route_path(i: int) -> str:
    return f"/r-{i:05d}"


def http_route(i: int) -> dict[str, Any]:
    return {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {"name": f"route-{i:05d}", "namespace": NS, "generation": 1},
        "spec": {
            "parentRefs": [{"name": GATEWAY}],
            "hostnames": [hostname(i)],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": route_path(i)}}],
                    "backendRefs": [{"name": SERVICE, "port": 80}],
                }
            ],
        },
    }


def base_objects(listener_port: int, echo_port: int) -> list[dict[str, Any]]:
    """Namespace, Service + EndpointSlice of the echo, GatewayClass, Gateway (one HTTP listener)."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": SERVICE, "namespace": NS},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"}]},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{SERVICE}-0",
                "namespace": NS,
                "labels": {"kubernetes.io/service-name": SERVICE},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}],
            "ports": [{"name": "http", "port": echo_port, "protocol": "TCP"}],
        },
        {
            "apiVersion": GATEWAY_API,
            "kind": "GatewayClass",
            "metadata": {"name": CLASS, "generation": 1},
            "spec": {"controllerName": CONTROLLER_NAME},
        },
        {
            "apiVersion": GATEWAY_API,
            "kind": "Gateway",
            "metadata": {"name": GATEWAY, "namespace": NS, "generation": 1},
            "spec": {
                "gatewayClassName": CLASS,
                "listeners": [{"name": "http", "protocol": "HTTP", "port": listener_port}],
            },
        },
    ]


PLURALS = {
    "Namespace": "namespaces",
    "Service": "services",
    "EndpointSlice": "endpointslices",
    "GatewayClass": "gatewayclasses",
    "Gateway": "gateways",
    "HTTPRoute": "httproutes",
}


# ---- small helpers ----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(ok: bool) -> str:
    return "within target" if ok else "OVER target"


def p50_p99(values: list[float]) -> str:
    if not values:
        return "no samples"
    return f"p50 {ms(statistics.median(values))}, p99 {ms(percentile(values, 0.99))}, max {ms(max(values))}"


def proc_status_value(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field_name} for pid {pid}")


def proc_name(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def import_floor_kib() -> int:
    """VmRSS of a fresh interpreter that only imports `contour run`'s module (and what it imports)."""
    probe = (
        "import gc, pathlib, contour.controller.localrun; gc.collect(); "
        "print(next(l.split()[1] for l in pathlib.Path('/proc/self/status').read_text().splitlines()"
        " if l.startswith('VmRSS:')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, from every thread's /proc/<pid>/task/<tid>/children."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return sorted(set(found))


def process_tree(pid: int, depth: int = 0) -> Iterator[tuple[int, int, str, int]]:
    """(depth, pid, name, VmRSS KiB) of `pid` and every descendant."""
    with contextlib.suppress(FileNotFoundError, RuntimeError):
        yield depth, pid, proc_name(pid), proc_status_value(pid, "VmRSS")
        for child in child_pids(pid):
            yield from process_tree(child, depth + 1)


async def until(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], *, timeout: float, what: str, every: float
) -> T:
    """Await `probe` until `accept` takes its result (errors count as "not yet"); fail at the deadline."""
    deadline = time.monotonic() + timeout
    last: object = "never probed"
    while True:
        try:
            value = await probe()
        except (httpx.HTTPError, OSError, kr8s.ServerError, ValueError) as error:
            last = error
        else:
            if accept(value):
                return value
            last = value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s; last seen: {str(last)[:500]}")
        await asyncio.sleep(every)  # polling outside processes with a deadline


# ---- 1. through contour run --------------------------------------------------------------------------


@dataclass
class Convergence:
    total: float  # apply sent -> first of the 3 consecutive 200s
    confirmed: float  # apply sent -> the third 200
    write: float  # the apply request itself (API server answer)
    requests: int  # requests sent until confirmed


@dataclass
class ScaleFigures:
    scale: int
    fill: float
    settle: float
    samples: list[Convergence] = field(default_factory=list)
    rss_kib: int = 0
    hwm_kib: int = 0
    threads: int = 0
    tree: list[tuple[int, int, str, int]] = field(default_factory=list)


class RealPath:
    """A running `contour run`, its Gateway's Envoy and a kr8s client on its API server."""

    def __init__(self, run: ContourRun, api: kr8s.asyncio.Api, args: argparse.Namespace) -> None:
        self.run = run
        self.api = api
        self.args = args
        self.routes = 0  # routes route-00000 .. route-(routes-1) applied so far
        self.address = ""
        self.port = free_port()
        self.envoy: dict[str, Any] = {}

    @property
    def pid(self) -> int:
        return int(self.run.info["pid"])

    async def apply(self, obj: dict[str, Any]) -> None:
        await server_side_apply(self.api, obj, plural=PLURALS[obj["kind"]], field_manager=FIELD_MANAGER)

    async def get(self, url: str) -> dict[str, Any]:
        """GET a Gateway API resource of the namespace: `url` is `<plural>[/<name>]`."""
        async with self.api.call_api("GET", version=GATEWAY_API, namespace=NS, url=url) as response:
            body: dict[str, Any] = response.json()
            return body

    async def start(self, echo_port: int) -> None:
        for obj in base_objects(self.port, echo_port):
            await self.apply(obj)
        info_path = self.run.state_dir / "gateways.json"

        async def gateway_info() -> dict[str, Any]:
            found: dict[str, Any] = json.loads(info_path.read_text()) if info_path.exists() else {}
            entry: dict[str, Any] = found.get(str(GATEWAY_REF)) or {}
            return entry

        self.envoy = await until(gateway_info, bool, timeout=60, what="the Gateway's Envoy", every=0.05)
        self.address = str(self.envoy["address"])

    async def fill(self, target: int) -> None:
        """Apply routes up to `target` in all, `--fill-concurrency` requests at a time."""
        pending = iter(range(self.routes, target))
        self.routes = max(self.routes, target)

        async def writer() -> None:
            for i in pending:
                await self.apply(http_route(i))

        await asyncio.gather(*(writer() for _ in range(self.args.fill_concurrency)))

    async def settled(self, client: httpx.AsyncClient, timeout: float) -> None:
        """Every route Accepted, attachedRoutes == the count, the last route served (3 x 200)."""
        count = self.routes

        async def attached() -> int:
            listeners = (await self.get(f"gateways/{GATEWAY}")).get("status", {}).get("listeners") or [{}]
            return int(listeners[0].get("attachedRoutes") or 0)

        await until(
            attached, lambda n: n == count, timeout=timeout, what=f"attachedRoutes {count}", every=0.2
        )

        async def accepted() -> int:
            items = (await self.get("httproutes")).get("items") or []
            return sum(1 for item in items if route_accepted(item))

        await until(
            accepted, lambda n: n == count, timeout=timeout, what=f"{count} routes Accepted", every=0.5
        )
        await self.converge(client, count - 1, timeout=timeout)

    async def converge(self, client: httpx.AsyncClient, i: int, timeout: float) -> tuple[float, float, int]:
        """Poll route i until 3 consecutive 200s from the echo: (first of them, third, requests sent)."""
        deadline = time.perf_counter() + timeout
        streak: list[float] = []
        sent = 0
        while True:
            start = time.perf_counter()
            sent += 1
            try:
                response = await client.get(route_path(i), headers={"host": hostname(i)})
                ok = response.status_code == 200 and response.json().get("pod") == ECHO_POD
            except (httpx.HTTPError, ValueError):
                ok = False
            if ok:
                streak.append(start)
                if len(streak) == 3:
                    return streak[0], time.perf_counter(), sent
            else:
                streak.clear()
            if time.perf_counter() > deadline:
                raise TimeoutError(f"route {i} did not converge within {timeout}s")
            await asyncio.sleep(self.args.poll_interval)  # polling Envoy with a deadline

    async def route_settled(self, i: int, timeout: float) -> None:
        async def route() -> dict[str, Any]:
            return await self.get(f"httproutes/route-{i:05d}")

        await until(route, route_accepted, timeout=timeout, what=f"route {i} Accepted", every=0.02)

    async def measure(self, client: httpx.AsyncClient, figures: ScaleFigures) -> None:
        for _ in range(self.args.routes):
            i = self.routes
            self.routes += 1
            gc.collect()
            sent = time.perf_counter()
            await self.apply(http_route(i))
            written = time.perf_counter()
            first, confirmed, requests = await self.converge(client, i, timeout=30.0)
            figures.samples.append(Convergence(first - sent, confirmed - sent, written - sent, requests))
            await self.route_settled(i, timeout=30.0)

    async def scale(self, client: httpx.AsyncClient, scale: int) -> ScaleFigures:
        start = time.perf_counter()
        await self.fill(scale)
        filled = time.perf_counter()
        await self.settled(client, timeout=max(60.0, scale * 0.1))
        figures = ScaleFigures(scale, filled - start, time.perf_counter() - filled)
        await self.measure(client, figures)
        await self.settled(client, timeout=60.0)
        figures.rss_kib = proc_status_value(self.pid, "VmRSS")
        figures.hwm_kib = proc_status_value(self.pid, "VmHWM")
        figures.threads = proc_status_value(self.pid, "Threads")
        figures.tree = list(process_tree(self.pid))
        return figures

    def rejections(self) -> dict[str, int]:
        with httpx.Client(base_url=f"http://{self.envoy['admin']}", timeout=5.0, trust_env=False) as c:
            stats = c.get("/stats", params={"format": "json", "filter": r"(update_rejected)$"}).json()
        return {s["name"]: s["value"] for s in stats.get("stats", []) if s.get("value")}


def route_accepted(route: dict[str, Any]) -> bool:
    for parent in (route.get("status") or {}).get("parents") or []:
        if parent.get("controllerName") != CONTROLLER_NAME:
            continue
        for condition in parent.get("conditions") or []:
            if condition.get("type") == "Accepted" and condition.get("status") == "True":
                return True
    return False


def report_scale(figures: ScaleFigures, new_routes: int) -> None:
    scale = figures.scale
    print(
        f"== {scale} HTTPRoutes on one Gateway ({HOSTNAMES} hostnames, one backend): filled in"
        f" {figures.fill:.2f} s (server-side apply), settled {figures.settle:.2f} s later =="
    )
    totals = [s.total for s in figures.samples]
    p99 = percentile(totals, 0.99)
    target = f" (target p99 <= {ms(TARGET_P99_SECONDS)}: {verdict(p99 <= TARGET_P99_SECONDS)})"
    print(
        f"1. route convergence, {len(totals)} new routes (no. {scale + 1} .. {scale + new_routes}),"
        f" apply -> first of 3 consecutive 200s: {p50_p99(totals)}"
        + (target if scale == TARGET_SCALE else "")
    )
    print(
        f"   apply -> third 200: {p50_p99([s.confirmed for s in figures.samples])};"
        f" the apply request alone: {p50_p99([s.write for s in figures.samples])};"
        f" requests per route: {statistics.median([s.requests for s in figures.samples]):.0f} (median)"
    )
    print("   each route, in order (ms): " + " ".join(f"{t * 1000:.0f}" for t in totals))
    rss = figures.rss_kib / 1024
    target = f" (target <= {TARGET_RSS_MIB:.0f} MiB: {verdict(rss <= TARGET_RSS_MIB)})"
    print(
        f"2. controller RSS (VmRSS of the `contour run` process, pid {figures.tree[0][1]}, {figures.threads}"
        f" threads; controller + embedded API server): {rss:.1f} MiB"
        + (target if scale == TARGET_SCALE else "")
        + f"; peak (VmHWM) {figures.hwm_kib / 1024:.1f} MiB"
    )
    others = ", ".join(f"{name} pid {pid} {kib / 1024:.1f} MiB" for _, pid, name, kib in figures.tree[1:])
    print(f"   not counted, its child processes: {others or 'none'}")
    sys.stdout.flush()


async def real_path(run: ContourRun, echo: EchoBackend, args: argparse.Namespace) -> None:
    api = await connect(kubeconfig=str(run.kubeconfig))
    try:
        bench = RealPath(run, api, args)
        idle = proc_status_value(bench.pid, "VmRSS")
        await bench.start(echo.port)
        print(
            f"contour run pid {bench.pid}; the Gateway's Envoy pid {bench.envoy['pid']} on"
            f" {bench.address}:{bench.port}; echo pid {echo.pid} on 127.0.0.1:{echo.port}"
        )
        print(
            f"controller RSS once `contour run` was ready, before any object: {idle / 1024:.1f} MiB;"
            f" floor: a Python process importing contour.controller.localrun only,"
            f" {import_floor_kib() / 1024:.1f} MiB"
        )
        base_url = f"http://{bench.address}:{bench.port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=5.0, trust_env=False) as client:
            for scale in args.scales:
                if scale < bench.routes:
                    print(f"== {scale}: skipped, {bench.routes} routes exist already ==")
                    continue
                report_scale(await bench.scale(client, scale), args.routes)
        rejected = bench.rejections()
        print(f"   the Gateway's Envoy rejected configuration: {rejected or 'never'}")
    finally:
        await close(api)


def run_real_path(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-gatewayapi-") as tmp:
        work = Path(tmp)
        echo = EchoBackend(ECHO_POD, work / "echo", namespace=NS)
        try:
            with running(work / "state") as run:
                try:
                    asyncio.run(real_path(run, echo, args))
                except BaseException:
                    print(f"contour run's log (last 3000 characters):\n{run.log()[-3000:]}", file=sys.stderr)
                    raise
        finally:
            echo.stop()


# ---- 2. through the EventHandler ----------------------------------------------------------------------


def event(obj: dict[str, Any]) -> InformerEvent:
    meta = obj["metadata"]
    key = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else str(meta["name"])
    return InformerEvent(type="ADDED", key=key, obj=obj, old=None)


class PhaseClock:
    """Time spent in named callables while installed: the bench wraps them, the product is unchanged."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)

        def timed(*a: Any, **kw: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - start

        setattr(owner, attribute, timed)
        self._undo.append(lambda: setattr(owner, attribute, original))

    def reset(self) -> dict[str, float]:
        spent, self.spent = self.spent, {}
        return spent

    def remove(self) -> None:
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()


PHASES = ("Builder.build", "translate", "Gateways' publish", "translate_gateway")


def filled_handler(count: int) -> EventHandler:
    handler = EventHandler(
        KubernetesCache(), Builder(BuilderConfig()), SnapshotCache(), translator_config=TranslatorConfig()
    )
    for obj in base_objects(free_port(), 9):  # the echo port is never dialled here
        handler.on_event(event(obj))
    for i in range(count):
        handler.on_event(event(http_route(i)))
    return handler


def gateway_routes(handler: EventHandler) -> int:
    dag = handler.dag
    if dag is None or GATEWAY_REF not in dag.gateways:
        raise RuntimeError("the Gateway is not in the DAG")
    listeners = dag.gateways[GATEWAY_REF].listeners.values()
    return sum(len(vhost.routes) for listener in listeners for vhost in listener.virtual_hosts.values())


def measure_handler(count: int, args: argparse.Namespace, profile: bool) -> None:
    gc.collect()
    start = time.perf_counter()
    handler = filled_handler(count)
    fill = time.perf_counter() - start
    gc.collect()
    start = time.perf_counter()
    if not handler.rebuild():
        raise RuntimeError("the first rebuild failed")
    first = time.perf_counter() - start
    if gateway_routes(handler) != count:
        raise RuntimeError(f"the Gateway holds {gateway_routes(handler)} routes, not {count}")
    print(
        f"== EventHandler, {count} HTTPRoutes: cache filled through on_event {ms(fill)};"
        f" first (full) rebuild {ms(first)} =="
    )
    clock = PhaseClock()
    clock.wrap(handler.builder, "build", PHASES[0])
    clock.wrap(eventhandler_module, "translate", PHASES[1])
    clock.wrap(handler.gateway_snapshots, "publish", PHASES[2])
    clock.wrap(gatewaysnapshots, "translate_gateway", PHASES[3])
    totals: list[float] = []
    phases: dict[str, list[float]] = {name: [] for name in PHASES}
    try:
        for k in range(args.routes):
            route = http_route(count + k)
            gc.collect()
            clock.reset()
            start = time.perf_counter()
            handler.on_event(event(route))
            if not handler.rebuild():
                raise RuntimeError("a rebuild failed")
            totals.append(time.perf_counter() - start)
            spent = clock.reset()
            for name in PHASES:
                phases[name].append(spent.get(name, 0.0))
    finally:
        clock.remove()
    if gateway_routes(handler) != count + args.routes:
        raise RuntimeError("a new route did not reach the Gateway's DAG")
    print(
        f"3. one new HTTPRoute -> snapshots published (on_event + rebuild), {args.routes} routes:"
        f" {p50_p99(totals)}"
    )
    median_total = statistics.median(totals)
    print(
        "   phases inside those rebuilds (median; share of the median rebuild): "
        + ", ".join(
            f"{name} {ms(statistics.median(v))} ({statistics.median(v) / median_total:.0%})"
            for name, v in phases.items()
        )
    )
    medians = {name: statistics.median(v) for name, v in phases.items() if name != "Gateways' publish"}
    largest = max(medians, key=lambda name: medians[name])
    print(f"   largest phase: {largest} ({medians[largest] / median_total:.0%} of the median rebuild)")
    paused: list[float] = []
    for k in range(args.routes):
        gc.collect()
        gc.disable()  # the product pauses the cyclic GC for build + translate, not for the Gateways' publish
        try:
            start = time.perf_counter()
            handler.on_event(event(http_route(count + args.routes + k)))
            if not handler.rebuild():
                raise RuntimeError("a rebuild failed")
            paused.append(time.perf_counter() - start)
        finally:
            gc.enable()
    print(
        f"   the same with the cyclic GC paused around the whole rebuild (by this script), {args.routes}"
        f" more routes: {p50_p99(paused)}"
    )
    dag = handler.dag
    assert dag is not None
    gateway = dag.gateways[GATEWAY_REF]
    alone = min(
        timed(lambda: translate_gateway(gateway, handler.translator_config)) for _ in range(args.repeat)
    )
    print(
        f"   per-Gateway translation (translate_gateway of the {count + 2 * args.routes}-route Gateway alone,"
        f" best of {args.repeat}): {ms(alone)}"
    )
    if profile:
        profile_rebuild(handler, count + 2 * args.routes)
    sys.stdout.flush()


def timed(action: Callable[[], Any]) -> float:
    gc.collect()
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def profile_rebuild(handler: EventHandler, index: int) -> None:
    handler.on_event(event(http_route(index)))
    gc.collect()
    profiler = cProfile.Profile()
    profiler.runcall(handler.rebuild)
    print("-- cProfile of one new route's rebuild at the largest scale, top 20 cumulative")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(20)
    print("-- the same profile, top 15 by own time")
    stats.sort_stats("tottime").print_stats(15)


# ---- main ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--scales", type=int, nargs="+", default=[10, 100, 1000], help="routes, through contour run"
    )
    parser.add_argument("--routes", type=int, default=20, help="new routes measured per scale")
    parser.add_argument("--handler-scales", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--no-run", action="store_true", help="skip the measurements through contour run")
    parser.add_argument("--no-handler", action="store_true", help="skip the EventHandler measurements")
    parser.add_argument("--poll-interval", type=float, default=0.005, help="seconds between requests")
    parser.add_argument(
        "--fill-concurrency", type=int, default=8, help="apply requests in flight while filling"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of the standalone translation; best kept")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one rebuild at the largest handler scale"
    )
    args = parser.parse_args()
    print(
        f"targets at {TARGET_SCALE} routes: controller RSS <= {TARGET_RSS_MIB:.0f} MiB (Envoy Gateway v1.9:"
        f" 255 MiB), p99 route convergence <= {ms(TARGET_P99_SECONDS)}"
    )
    if not args.no_run:
        run_real_path(args)
    if not args.no_handler:
        largest = max(args.handler_scales)
        for count in args.handler_scales:
            measure_handler(count, args, profile=args.profile and count == largest)


if __name__ == "__main__":
    main()
