"""Informer events in, xDS snapshots and statuses out: the controller's one owner of the cache.

* Objects go into `KubernetesCache`; when it says a rebuild is needed, a rebuild is scheduled with
  Contour's debounce: `holdoff` (100 ms) after the last event, but never more than `max_holdoff`
  (500 ms) after the first event still waiting, so a steady stream of changes cannot starve it.
* A change of metadata.resourceVersion, managedFields or status alone (our own status writes, most
  often) is no change: nothing is rebuilt.
* EndpointSlices never enter the cache: they go to the `EndpointSliceIndex`, and the Services the DAG
  references get their ClusterLoadAssignments published at once through `EndpointsCache` (EDS only).
  A rebuild publishes the assignment of every Service the new DAG references, so a Service that a
  route starts using gets its endpoints in the same snapshot.
* Nothing is published before every informer has listed once (`run(wait_synced)`): a snapshot built
  from half the objects would remove routes from a running Envoy.
* A rebuild builds the DAG, translates it, adds the assignments, publishes one `Snapshot` to the
  `SnapshotCache` and submits the statuses. An exception there is a bug: it is logged and counted,
  and the previous snapshot stays.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from contour.controller.endpointslices import AssignmentCache, EndpointSliceIndex
from contour.controller.gatewaysnapshots import GatewaySnapshots, stamp_nested_conditions
from contour.controller.heap import release_free_memory
from contour.dag.builder import Builder, BuildResult
from contour.dag.cache import KubernetesCache
from contour.dag.model import DAG, ObjectRef
from contour.envoy.endpoints import cluster_load_assignment
from contour.envoy.extension_clusters import extension_load_assignment
from contour.envoy.translate import TranslatorConfig, translate
from contour.envoy.translation_memo import TranslationMemo
from contour.k8s.informer import InformerEvent
from contour.k8s.statuswriter import StatusUpdateLike
from contour.xds import typeurls
from contour.xds.cache import DEFAULT_GROUP, SnapshotCache
from contour.xds.endpoints import EndpointsCache
from contour.xds.snapshot import ResourceMemo, Snapshot

log = logging.getLogger(__name__)

ENDPOINT_SLICE_KIND = "EndpointSlice"
INGRESS_API = ("networking.k8s.io", "v1", "ingresses")
# kind -> (group, plural) of the objects whose status is written, to forget them once deleted.
STATUS_KINDS = {
    "HTTPProxy": ("projectcontour.io", "httpproxies"),
    "TLSCertificateDelegation": ("projectcontour.io", "tlscertificatedelegations"),
    "ExtensionService": ("projectcontour.io", "extensionservices"),
    "Ingress": ("networking.k8s.io", "ingresses"),
    **{
        kind: ("gateway.networking.k8s.io", plural)
        for kind, plural in (
            ("GatewayClass", "gatewayclasses"),
            ("Gateway", "gateways"),
            ("HTTPRoute", "httproutes"),
            ("GRPCRoute", "grpcroutes"),
            ("TLSRoute", "tlsroutes"),
            ("TCPRoute", "tcproutes"),
            ("UDPRoute", "udproutes"),
        )
    },
}


class StatusSink(Protocol):
    def submit(self, updates: list[StatusUpdateLike]) -> None: ...
    def forget(self, group: str, plural: str, ref: ObjectRef) -> None: ...


@dataclass(frozen=True)
class IngressAddressUpdate:
    """A status update holding nothing but what the writer adds: an Ingress's loadBalancer."""

    group: str
    version: str
    plural: str
    ref: ObjectRef
    generation: int
    status: Mapping[str, Any]


@dataclass
class HandlerCounters:
    events: int = 0
    ignored: int = 0  # changes of resourceVersion/managedFields/status only
    rebuilds: int = 0
    rebuild_errors: int = 0
    eds_updates: int = 0
    last_rebuild_seconds: float = 0.0


def _is_status_only_change(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    def essence(obj: Mapping[str, Any]) -> dict[str, Any]:
        meta = dict(obj.get("metadata") or {})
        for volatile in ("resourceVersion", "managedFields"):
            meta.pop(volatile, None)
        return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}

    return essence(old) == essence(new)


def _ref(obj: Mapping[str, Any]) -> ObjectRef:
    meta = obj.get("metadata") or {}
    return ObjectRef(str(meta.get("namespace") or ""), str(meta.get("name") or ""))


class EventHandler:
    """Owns the KubernetesCache, the EndpointSlice index and the publishing of snapshots."""

    def __init__(
        self,
        cache: KubernetesCache,
        builder: Builder,
        snapshots: SnapshotCache,
        *,
        translator_config: TranslatorConfig | None = None,
        statuses: StatusSink | None = None,
        holdoff: float = 0.1,
        max_holdoff: float = 0.5,
        group: str = DEFAULT_GROUP,
    ) -> None:
        self.cache = cache
        self.builder = builder
        self.snapshots = snapshots
        self.translator_config = translator_config if translator_config is not None else TranslatorConfig()
        self.statuses = statuses
        self.holdoff = holdoff
        self.max_holdoff = max_holdoff
        self.group = group
        self.slices = EndpointSliceIndex()
        self.assignments = AssignmentCache(self.slices, cluster_load_assignment)
        self.endpoints = EndpointsCache(snapshots)
        # Each Gateway's own group (gateway/<ns>/<name>), published after the default one.
        self.gateway_snapshots = GatewaySnapshots(snapshots, self.slices, self.endpoints)
        self.counters = HandlerCounters()
        # What the last rebuild translated and serialised, reused for what did not change.
        self.translation_memo = TranslationMemo()
        self.resource_memo = ResourceMemo()
        self.dag: DAG | None = None
        self.last_result: BuildResult | None = None
        self.published = asyncio.Event()  # set by the first snapshot
        self._version = 0
        self._dirty = asyncio.Event()
        self._pending_since = 0.0
        self._last_event = 0.0
        self._rebuilt = asyncio.Event()
        # Called after each published rebuild with its result and duration in seconds (metrics).
        self.rebuild_observers: list[Callable[[BuildResult, float], None]] = []

    # -- events ------------------------------------------------------------------------------------

    def on_event(self, event: InformerEvent) -> None:
        """The informers' callback (synchronous: it only updates memory and schedules work)."""
        self.counters.events += 1
        new = event.obj if isinstance(event.obj, Mapping) else None
        old = event.old if isinstance(event.old, Mapping) else None
        kind = str((new or old or {}).get("kind", ""))
        if kind == ENDPOINT_SLICE_KIND:
            self._on_endpoint_slice(event.type, new, old)
            return
        if (
            event.type == "MODIFIED"
            and new is not None
            and old is not None
            and _is_status_only_change(old, new)
        ):
            self.counters.ignored += 1
            self.cache.record_gateway_api_status(new)
            return
        if event.type == "DELETED":
            changed = old is not None and self.cache.remove(old)
            if old is not None and kind in STATUS_KINDS and self.statuses is not None:
                self.statuses.forget(*STATUS_KINDS[kind], _ref(old))
        elif new is not None:
            # INVALID cannot happen (the informers run without a model); insert it like any change.
            changed = self.cache.insert(new)
        else:
            changed = False
        if changed:
            self._mark_dirty()

    def _on_endpoint_slice(
        self, kind: str, new: Mapping[str, Any] | None, old: Mapping[str, Any] | None
    ) -> None:
        if kind == "DELETED":
            touched = self.slices.remove(old)
        elif new is not None:
            touched = self.slices.upsert(new, old)
        else:
            touched = set()
        dag = self.dag
        if not touched or dag is None:
            return  # before the first build: the first snapshot carries every assignment
        if dag.gateways:
            self.gateway_snapshots.endpoints_changed(dag, touched)
        services = [s for s in dag.services.values() if s.ref in touched and not s.external_name]
        if services:
            assignments = [self.assignments.assignment(s) for s in services]
            assignments += self.assignments.for_extensions(
                dag.extension_clusters, extension_load_assignment, touched
            )
            self.endpoints.update(assignments, group=self.group)
            self.counters.eds_updates += 1

    def _mark_dirty(self) -> None:
        now = time.monotonic()
        if not self._dirty.is_set():
            self._pending_since = now
            self._dirty.set()
        self._last_event = now

    def request_rebuild(self) -> None:
        """Rebuild (debounced) after a change made to the cache directly, e.g. a Gateway's address."""
        self._mark_dirty()

    # -- the rebuild loop --------------------------------------------------------------------------

    async def run(self, wait_synced: Callable[[], Awaitable[object]]) -> None:
        """Wait for the informers' first lists, publish, then rebuild on every debounced change."""
        await wait_synced()
        self._dirty.clear()
        self.rebuild()
        while True:
            await self._dirty.wait()
            while (delay := self._debounce_deadline() - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            self._dirty.clear()
            self.rebuild()

    def _debounce_deadline(self) -> float:
        return min(self._last_event + self.holdoff, self._pending_since + self.max_holdoff)

    def rebuild(self) -> bool:
        """Build, translate and publish now; False (previous snapshot kept) if that raised."""
        started = time.perf_counter()
        # A rebuild allocates millions of short-lived objects; the cyclic collector's full passes over
        # the cache during it cost about a third of the rebuild (bench/httpproxy.py). Pause it for the
        # rebuild; it runs again afterwards on its own schedule.
        collecting = gc.isenabled()
        gc.disable()
        try:
            result = self.builder.build(self.cache)
            translated = translate(result.dag, self.translator_config, self.translation_memo)
            resources: dict[str, list[Any]] = {k: list(v) for k, v in translated.items()}
            resources[typeurls.ENDPOINT] = self.assignments.for_dag_services(result.dag.services)
            resources[typeurls.ENDPOINT] += self.assignments.for_extensions(
                result.dag.extension_clusters, extension_load_assignment
            )
            self._version += 1
            snapshot = Snapshot.build(str(self._version), resources, self.resource_memo)
        except Exception:
            # A half-done translation may have left the memos inconsistent: start them afresh.
            self.translation_memo = TranslationMemo()
            self.resource_memo = ResourceMemo()
            self.counters.rebuild_errors += 1
            log.exception("rebuild failed; the previous configuration stays")
            return False
        finally:
            if collecting:
                gc.enable()
        self.snapshots.set_snapshot(self.group, snapshot)
        try:
            self.gateway_snapshots.publish(result.dag, self.translator_config, str(self._version))
        except Exception:
            self.counters.rebuild_errors += 1
            log.exception("publishing the Gateways' snapshots failed; their previous configuration stays")
        self.dag = result.dag
        self.last_result = result
        self.counters.rebuilds += 1
        self.counters.last_rebuild_seconds = time.perf_counter() - started
        log.debug("rebuild %d took %.1f ms", self._version, self.counters.last_rebuild_seconds * 1000)
        # The streams woken by set_snapshot send first; the statuses and the consistency check (it
        # only logs) come after them on the loop, so they do not delay Envoy's update.
        try:
            asyncio.get_running_loop().call_soon(self._after_publish, result, snapshot)
        except RuntimeError:  # no loop (a synchronous caller): now
            self._after_publish(result, snapshot)
        self.published.set()
        self._rebuilt.set()
        self._rebuilt = asyncio.Event()
        return True

    def _after_publish(self, result: BuildResult, snapshot: Snapshot) -> None:
        if self.counters.rebuilds == 1:
            # The first build of everything leaves the heap at its peak; the later, incremental
            # ones allocate little.
            release_free_memory()
        missing = snapshot.missing_references()
        if missing:
            log.warning("snapshot %s refers to resources it lacks: %s", snapshot.version, missing[:10])
        if self.statuses is not None:
            self.statuses.submit(self._statuses(result))
        for observer in self.rebuild_observers:
            try:
                observer(result, self.counters.last_rebuild_seconds)
            except Exception:
                log.exception("rebuild observer %r failed", observer)

    def _statuses(self, result: BuildResult) -> list[StatusUpdateLike]:
        updates: list[StatusUpdateLike] = list(result.statuses)
        covered = {(u.group, u.plural, u.ref) for u in updates}
        group, version, plural = INGRESS_API
        for ref, ingress in sorted(self.cache.ingresses.items()):
            if (group, plural, ref) in covered:
                continue
            generation = int((ingress.get("metadata") or {}).get("generation") or 0)
            updates.append(IngressAddressUpdate(group, version, plural, ref, generation, {}))
        return stamp_nested_conditions(updates)

    async def next_rebuild(self) -> None:
        """Return after the next successful rebuild (tests)."""
        await self._rebuilt.wait()
