"""Contour's Prometheus metrics, with Contour's names and labels, on one registry that /metrics exposes.

Names and label sets follow Contour's `internal/metrics/metrics.go`:

* `contour_build_info{branch,revision,version}` (always 1);
* `contour_dagrebuild_total`, `contour_dagrebuild_seconds` (summary), `contour_dagrebuild_timestamp`
  (Unix seconds), set by `observe_rebuild`, the `EventHandler.rebuild_observers` hook;
* `contour_httpproxy{namespace}`, `contour_httpproxy_root{namespace}`,
  `contour_httpproxy_valid{namespace,vhost}`, `contour_httpproxy_invalid{namespace,vhost}`,
  `contour_httpproxy_orphaned{namespace}`: counted from the statuses each build computed, replaced
  as a whole on every rebuild (a namespace without proxies any more has no sample, as in Contour);
* `contour_dag_cache_object{kind}`: objects held in the `KubernetesCache`, read at scrape time;
* `contour_eventhandler_operation_total{kind,op}`: informer events (op add, update, delete) by Kind,
  counted by the `count_events` wrapper around the event handler's callback;
* `contour_status_update_{total,success_total,failed_total,conflict_total,noop_total}{kind}` and
  `contour_status_update_duration_seconds{kind,error}` (summary), counted by `MeteredStatusWriter`
  around every write the status writer makes;
* the xDS server's `contour_xds_*` counters (`contour.xds.metrics.XdsMetrics`, same registry);
* the process's own `process_*` (RSS, CPU, open files) and `python_*` (GC, version) metrics, as
  Contour exposes Go's `process_*` and `go_*` ones.

Differences from Contour, on purpose: `contour_httpproxy_root` counts every root proxy of a
namespace (Contour sets it per vhost into the same namespace sample, so it never exceeds 1), and the
proxy gauges are kept on every replica, not only the leader (every replica builds the same statuses).
Statuses the `StatusUpdater` found identical to what it last settled are not counted as updates: no
request is made for them.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import kr8s.asyncio
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    Summary,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from contour import __version__
from contour.controller.eventhandler import STATUS_KINDS
from contour.dag.builder import BuildResult
from contour.dag.cache import KubernetesCache
from contour.dag.status import ORPHANED, ProxyStatus
from contour.k8s.informer import InformerEvent
from contour.k8s.statuswriter import Outcome, StatusUpdateLike, StatusWriter
from contour.xds.metrics import XdsMetrics

# plural -> Kind, for the `kind` label of the status update metrics (Contour labels them by Kind).
KIND_OF_PLURAL = {plural: kind for kind, (_group, plural) in STATUS_KINDS.items()}

# KubernetesCache attribute -> Kind, for contour_dag_cache_object.
CACHE_KINDS: tuple[tuple[str, str], ...] = (
    ("httpproxies", "HTTPProxy"),
    ("tlscertificatedelegations", "TLSCertificateDelegation"),
    ("extensionservices", "ExtensionService"),
    ("ingresses", "Ingress"),
    ("ingressclasses", "IngressClass"),
    ("services", "Service"),
    ("secrets", "Secret"),
    ("configmaps", "ConfigMap"),
    ("namespaces", "Namespace"),
    ("gatewayclasses", "GatewayClass"),
    ("gateways", "Gateway"),
    ("listenersets", "ListenerSet"),
    ("httproutes", "HTTPRoute"),
    ("grpcroutes", "GRPCRoute"),
    ("tlsroutes", "TLSRoute"),
    ("tcproutes", "TCPRoute"),
    ("udproutes", "UDPRoute"),
    ("referencegrants", "ReferenceGrant"),
    ("backendtlspolicies", "BackendTLSPolicy"),
)


# Informer event type -> Contour's `op` label (INVALID objects are not handed to the cache as such).
EVENT_OPS = {"ADDED": "add", "MODIFIED": "update", "DELETED": "delete"}


@dataclass(frozen=True)
class BuildInfo:
    branch: str = ""
    revision: str = ""
    version: str = __version__


@dataclass(frozen=True)
class ProxyCounts:
    """HTTPProxies by status, keyed as Contour labels them."""

    total: Mapping[str, int] = field(default_factory=dict)  # namespace
    root: Mapping[str, int] = field(default_factory=dict)  # namespace
    valid: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (namespace, vhost)
    invalid: Mapping[tuple[str, str], int] = field(default_factory=dict)  # (namespace, vhost)
    orphaned: Mapping[str, int] = field(default_factory=dict)  # namespace


def proxy_counts(proxies: Iterable[ProxyStatus]) -> ProxyCounts:
    """Contour's `calculateRouteMetric`: a proxy is valid, orphaned (an `Orphaned` error) or invalid."""
    total: Tally[str] = Tally()
    root: Tally[str] = Tally()
    valid: Tally[tuple[str, str]] = Tally()
    invalid: Tally[tuple[str, str]] = Tally()
    orphaned: Tally[str] = Tally()
    for ps in proxies:
        namespace = ps.ref.namespace
        total[namespace] += 1
        if ps.vhost:
            root[namespace] += 1
        if not ps.valid.errors:
            valid[(namespace, ps.vhost)] += 1
        elif ps.valid.has_error(ORPHANED):
            orphaned[namespace] += 1
        else:
            invalid[(namespace, ps.vhost)] += 1
    return ProxyCounts(dict(total), dict(root), dict(valid), dict(invalid), dict(orphaned))


class _ProxyCollector(Collector):
    """The five HTTPProxy gauges, rendered from the counts of the last rebuild (swapped whole)."""

    def __init__(self) -> None:
        self.counts = ProxyCounts()

    def describe(self) -> Iterable[Metric]:
        return list(self._families(ProxyCounts()))

    def collect(self) -> Iterable[Metric]:
        return list(self._families(self.counts))

    @staticmethod
    def _families(counts: ProxyCounts) -> Iterator[Metric]:
        by_namespace = (
            (
                "contour_httpproxy",
                "Total number of HTTPProxies that exist regardless of status.",
                counts.total,
            ),
            (
                "contour_httpproxy_root",
                "Total number of root HTTPProxies. "
                "Note there will only be a single root HTTPProxy per vhost.",
                counts.root,
            ),
            (
                "contour_httpproxy_orphaned",
                "Total number of orphaned HTTPProxies which have no root delegating to them.",
                counts.orphaned,
            ),
        )
        for name, documentation, values in by_namespace:
            family = GaugeMetricFamily(name, documentation, labels=["namespace"])
            for namespace, value in sorted(values.items()):
                family.add_metric([namespace], value)
            yield family
        by_vhost = (
            ("contour_httpproxy_valid", "Total number of valid HTTPProxies.", counts.valid),
            ("contour_httpproxy_invalid", "Total number of invalid HTTPProxies.", counts.invalid),
        )
        for name, documentation, pairs in by_vhost:
            family = GaugeMetricFamily(name, documentation, labels=["namespace", "vhost"])
            for (namespace, vhost), value in sorted(pairs.items()):
                family.add_metric([namespace, vhost], value)
            yield family


class _CacheCollector(Collector):
    """contour_dag_cache_object{kind}: the sizes of the watched cache, read when scraped."""

    def __init__(self) -> None:
        self.cache: KubernetesCache | None = None

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        if self.cache is not None:
            for attribute, kind in CACHE_KINDS:
                held = getattr(self.cache, attribute, None)
                if isinstance(held, Mapping):
                    family.add_metric([kind], len(held))
        return [family]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "contour_dag_cache_object",
            "Total number of items that are currently in the DAG cache.",
            labels=["kind"],
        )


class ControllerMetrics:
    """Every metric `contour serve` exposes, registered on `registry` (a fresh one by default)."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        build: BuildInfo | None = None,
        clock: Callable[[], float] = time.time,
        process: bool = True,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.clock = clock
        r = self.registry
        info = build or BuildInfo()
        self.build_info = Gauge(
            "contour_build_info",
            "Build information for Contour. Labels include the branch and git SHA that Contour was built "
            "from, and the Contour version.",
            ["branch", "revision", "version"],
            registry=r,
        )
        self.build_info.labels(info.branch, info.revision, info.version).set(1)
        # prometheus_client appends `_total` to counter names itself.
        self.dag_rebuild_total = Counter(
            "contour_dagrebuild", "Total number of times DAG has been rebuilt since startup", registry=r
        )
        self.dag_rebuild_seconds = Summary(
            "contour_dagrebuild_seconds", "Duration in seconds of DAG rebuilds", registry=r
        )
        self.dag_rebuild_timestamp = Gauge(
            "contour_dagrebuild_timestamp", "Timestamp of the last DAG rebuild.", registry=r
        )
        self.status_update_total = Counter(
            "contour_status_update", "Total number of status updates by object kind.", ["kind"], registry=r
        )
        self.status_update_success = Counter(
            "contour_status_update_success",
            "Number of status updates that succeeded by object kind.",
            ["kind"],
            registry=r,
        )
        self.status_update_failed = Counter(
            "contour_status_update_failed",
            "Number of status updates that failed by object kind.",
            ["kind"],
            registry=r,
        )
        self.status_update_conflict = Counter(
            "contour_status_update_conflict",
            "Number of status update conflicts encountered by object kind.",
            ["kind"],
            registry=r,
        )
        self.status_update_noop = Counter(
            "contour_status_update_noop",
            "Number of status updates that are no-ops by object kind. This is a subset of successful "
            "status updates.",
            ["kind"],
            registry=r,
        )
        self.status_update_duration = Summary(
            "contour_status_update_duration_seconds",
            "How long a status update takes to finish.",
            ["kind", "error"],
            registry=r,
        )
        self.eventhandler_operations = Counter(
            "contour_eventhandler_operation",
            "Total number of Kubernetes object changes Contour has received by operation and object kind.",
            ["op", "kind"],
            registry=r,
        )
        self._proxies = _ProxyCollector()
        r.register(self._proxies)
        self._cache = _CacheCollector()
        r.register(self._cache)
        self.xds = XdsMetrics(r)
        if process:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)

    # -- hooks ---------------------------------------------------------------------------------------

    def observe_rebuild(self, result: BuildResult, seconds: float) -> None:
        """`EventHandler.rebuild_observers` entry: one published rebuild and how long it took."""
        self.dag_rebuild_total.inc()
        self.dag_rebuild_seconds.observe(seconds)
        self.dag_rebuild_timestamp.set(self.clock())
        self._proxies.counts = proxy_counts(result.collector.proxies.values())

    def watch_cache(self, cache: KubernetesCache) -> None:
        """Report `cache`'s sizes as contour_dag_cache_object."""
        self._cache.cache = cache

    def observe_status_write(self, kind: str, outcome: Outcome, conflicts: int, seconds: float) -> None:
        """One `StatusWriter.write`: its outcome, the 409s it met on the way, and its duration."""
        failed = outcome in ("failed", "rejected")
        self.status_update_total.labels(kind).inc()
        if conflicts:
            self.status_update_conflict.labels(kind).inc(conflicts)
        if failed:
            self.status_update_failed.labels(kind).inc()
        else:
            # written, noop, and the writes found pointless (stale generation, object gone)
            self.status_update_success.labels(kind).inc()
        if outcome == "noop":
            self.status_update_noop.labels(kind).inc()
        self.status_update_duration.labels(kind, "true" if failed else "false").observe(seconds)

    def count_events(self, on_event: Callable[[InformerEvent], None]) -> Callable[[InformerEvent], None]:
        """`on_event`, counting each event as contour_eventhandler_operation_total first."""
        counter = self.eventhandler_operations

        def counted(event: InformerEvent) -> None:
            op = EVENT_OPS.get(event.type)
            if op is not None:
                obj = event.obj if event.obj is not None else event.old
                kind = obj.get("kind", "") if isinstance(obj, Mapping) else ""
                counter.labels(op, str(kind)).inc()
            on_event(event)

        return counted

    def status_writer(self, api: kr8s.asyncio.Api, **kwargs: Any) -> StatusWriter:
        """A `StatusWriter` (same arguments) whose writes are counted here."""
        return MeteredStatusWriter(api, self, **kwargs)

    def sample(self, name: str, **labels: str) -> float:
        """The current value of one sample (e.g. ``contour_dagrebuild_total``), 0 if absent."""
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


def status_kind(update: StatusUpdateLike) -> str:
    return KIND_OF_PLURAL.get(update.plural, update.plural)


class MeteredStatusWriter(StatusWriter):
    """A `StatusWriter` that reports every write to `ControllerMetrics.observe_status_write`."""

    def __init__(self, api: kr8s.asyncio.Api, metrics: ControllerMetrics, **kwargs: Any) -> None:
        super().__init__(api, **kwargs)
        self.metrics = metrics

    async def write(self, update: StatusUpdateLike) -> Outcome:
        conflicts_before = self.counters.conflicts
        started = time.perf_counter()
        outcome = await super().write(update)
        self.metrics.observe_status_write(
            status_kind(update),
            outcome,
            self.counters.conflicts - conflicts_before,
            time.perf_counter() - started,
        )
        return outcome
