"""The controller assembled: informers on a Kubernetes API, the event handler, the xDS server, status.

This is exactly the code path a cluster runs: the informers list and watch through HTTP (kr8s), the
objects go through `EventHandler` into snapshots that the grpc.aio xDS server streams, and statuses go
back through the `StatusWriter`. `contour run` points it at the embedded API server; `contour serve`
will point it at a cluster. `Controller.start()` returns once the xDS server is bound and the tasks
run; `wait_ready()` once the first snapshot is published; `stop()` cancels everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kr8s.asyncio

from contour.controller.eventhandler import EventHandler
from contour.controller.gatewayenvoys import group_by_gateway
from contour.controller.metrics import ControllerMetrics
from contour.controller.nackstatus import NackStatus
from contour.controller.statusupdater import StatusUpdater
from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.envoy.translate import TranslatorConfig
from contour.k8s.informer import Informer
from contour.k8s.statuswriter import StatusUpdateLike, StatusWriter
from contour.xds.cache import SnapshotCache
from contour.xds.nacks import NackRegistry
from contour.xds.server import XdsServer, start_server
from contour.xds.tls import TlsFiles

log = logging.getLogger(__name__)

# (group, version, plural) of every resource the controller watches, as Contour's informers.
WATCHED: tuple[tuple[str, str, str], ...] = (
    ("projectcontour.io", "v1", "httpproxies"),
    ("projectcontour.io", "v1", "tlscertificatedelegations"),
    ("projectcontour.io", "v1alpha1", "extensionservices"),
    ("networking.k8s.io", "v1", "ingresses"),
    ("networking.k8s.io", "v1", "ingressclasses"),
    ("", "v1", "services"),
    ("", "v1", "secrets"),
    ("", "v1", "namespaces"),
    ("", "v1", "configmaps"),
    ("discovery.k8s.io", "v1", "endpointslices"),
    # Gateway API v1.6.1 (ReferenceGrant's v1beta1 objects are the same objects, served as v1 too).
    ("gateway.networking.k8s.io", "v1", "gatewayclasses"),
    ("gateway.networking.k8s.io", "v1", "gateways"),
    ("gateway.networking.k8s.io", "v1", "listenersets"),
    ("gateway.networking.k8s.io", "v1", "httproutes"),
    ("gateway.networking.k8s.io", "v1", "grpcroutes"),
    ("gateway.networking.k8s.io", "v1", "tlsroutes"),
    ("gateway.networking.k8s.io", "v1", "tcproutes"),
    ("gateway.networking.k8s.io", "v1", "udproutes"),
    ("gateway.networking.k8s.io", "v1", "referencegrants"),
    ("gateway.networking.k8s.io", "v1", "backendtlspolicies"),
)
# Watched everywhere even when the namespaces are restricted (they have none).
CLUSTER_SCOPED = frozenset({"ingressclasses", "namespaces", "gatewayclasses"})
# Secrets the DAG can never use (it keeps kubernetes.io/tls and Opaque ones), left out by the API
# server: service account tokens and Helm releases are most of a cluster's Secrets, and the largest.
SECRET_FIELD_SELECTOR = ",".join(
    f"type!={t}"
    for t in (
        "kubernetes.io/service-account-token",
        "helm.sh/release.v1",
        "kubernetes.io/dockercfg",
        "kubernetes.io/dockerconfigjson",
        "kubernetes.io/basic-auth",
        "kubernetes.io/ssh-auth",
        "bootstrap.kubernetes.io/token",
    )
)


@dataclass
class ControllerConfig:
    builder: BuilderConfig = field(default_factory=BuilderConfig)
    translator: TranslatorConfig = field(default_factory=TranslatorConfig)
    xds_address: str = "127.0.0.1"
    xds_port: int = 8001
    xds_tls: TlsFiles | None = None  # mTLS files of the xDS server (None: insecure)
    # Bind the xDS server only once every informer synced and the first snapshot is built (serve);
    # False binds it in start() (contour run's Envoy starts after wait_ready either way).
    xds_after_first_snapshot: bool = False
    # Namespaces whose objects are watched (empty: all); cluster-scoped kinds are always watched.
    watch_namespaces: tuple[str, ...] = ()
    write_status: bool = True
    # Whether statuses are written from the start; with leader election, False until the Lease is held
    # (the elector calls `status_updater.set_leading`).
    leading_at_start: bool = True
    # status.loadBalancer written to HTTPProxies and Ingresses (None: leave it out).
    load_balancer: Mapping[str, Any] | None = None
    holdoff: float = 0.1
    max_holdoff: float = 0.5
    sync_timeout: float = 60.0


class Controller:
    def __init__(
        self,
        api: kr8s.asyncio.Api,
        config: ControllerConfig | None = None,
        metrics: ControllerMetrics | None = None,
    ) -> None:
        self.api = api
        self.config = config or ControllerConfig()
        cfg = self.config
        # One snapshot per Gateway (its Envoy's node.cluster names it), the default group for the rest.
        self.snapshots = SnapshotCache(group_of=group_by_gateway)
        configured = (cfg.builder.fallback_certificate, cfg.builder.client_certificate)
        self.cache = KubernetesCache(
            root_namespaces=cfg.builder.root_namespaces,
            ingress_class_names=cfg.builder.ingress_class_names,
            # A change to these Secrets rebuilds even before a proxy refers to them.
            configured_secret_refs=tuple(ref for ref in configured if ref is not None),
        )
        self.metrics = metrics
        if metrics is not None:
            self.writer = metrics.status_writer(api, load_balancer=cfg.load_balancer, cached=self._cached)
        else:
            self.writer = StatusWriter(api, load_balancer=cfg.load_balancer, cached=self._cached)
        self.status_updater = (
            StatusUpdater(self.writer, leading=cfg.leading_at_start) if cfg.write_status else None
        )
        # Envoy's NACKs become an EnvoyAccepted condition on the objects behind them (nackstatus.py).
        self.nack_status = (
            NackStatus(
                self.status_updater,
                self.snapshots,
                lambda: self.handler.last_result,
                controller_name=cfg.builder.gateway_controller_name,
            )
            if self.status_updater is not None
            else None
        )
        self.nacks = self.nack_status.nacks if self.nack_status is not None else NackRegistry()
        self.handler = EventHandler(
            self.cache,
            Builder(cfg.builder),
            self.snapshots,
            translator_config=cfg.translator,
            statuses=self.nack_status if self.nack_status is not None else self.status_updater,
            holdoff=cfg.holdoff,
            max_holdoff=cfg.max_holdoff,
        )
        if metrics is not None:
            self.handler.rebuild_observers.append(metrics.observe_rebuild)
            metrics.watch_cache(self.cache)
        on_event = self.handler.on_event if metrics is None else metrics.count_events(self.handler.on_event)
        self.informers = [
            Informer(
                api,
                group=g,
                version=v,
                plural=p,
                namespace=namespace,
                field_selector=SECRET_FIELD_SELECTOR if p == "secrets" else "",
                on_event=on_event,
            )
            for g, v, p in WATCHED
            for namespace in (
                (None,) if p in CLUSTER_SCOPED or not cfg.watch_namespaces else cfg.watch_namespaces
            )
        ]
        self._informers_of: dict[tuple[str, str], list[Informer]] = {}
        for informer in self.informers:
            self._informers_of.setdefault((informer.group, informer.plural), []).append(informer)
        self.xds: XdsServer | None = None
        self.xds_started = asyncio.Event()  # set once the xDS server is bound
        self._tasks: list[asyncio.Task[None]] = []

    def _cached(self, update: StatusUpdateLike) -> Mapping[str, Any] | None:
        """The informers' copy of the object a status is for (the writer reads it instead of the server)."""
        ref = update.ref
        key = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
        for informer in self._informers_of.get((update.group, update.plural), ()):
            item = informer.store.get(key)
            if isinstance(item, Mapping):
                return item
        return None

    async def start(self) -> None:
        """Bind the xDS server (now, or after the first snapshot) and start the informers, the rebuild
        loop and the status writer."""
        if not self.config.xds_after_first_snapshot:
            await self._start_xds()
        for informer in self.informers:
            self._tasks.append(asyncio.create_task(informer.run(), name=f"informer {informer.name}"))
        self._tasks.append(asyncio.create_task(self.handler.run(self._wait_synced), name="rebuild loop"))
        if self.config.xds_after_first_snapshot:
            self._tasks.append(asyncio.create_task(self._start_xds_when_published(), name="xDS server start"))
        if self.status_updater is not None:
            self._tasks.append(asyncio.create_task(self.status_updater.run(), name="status writer"))

    async def _start_xds(self) -> None:
        cfg = self.config
        self.xds = await start_server(
            self.snapshots,
            cfg.xds_address,
            cfg.xds_port,
            cfg.xds_tls,
            metrics=self.metrics.xds if self.metrics is not None else None,
            nacks=self.nacks,
            on_ack=self.nack_status.acknowledged if self.nack_status is not None else None,
        )
        self.xds_started.set()

    async def _start_xds_when_published(self) -> None:
        await self.handler.published.wait()
        await self._start_xds()

    async def _wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced(self.config.sync_timeout) for i in self.informers))
        log.info("all %d informers synced", len(self.informers))

    async def wait_ready(self, timeout: float) -> None:
        """Return once the first snapshot is published and the xDS server bound; TimeoutError, or a
        task's own error if one died."""

        async def published_and_bound() -> None:
            await self.handler.published.wait()
            await self.xds_started.wait()

        async with asyncio.timeout(timeout):
            ready = asyncio.create_task(published_and_bound())
            try:
                await asyncio.wait([ready, *self._tasks], return_when=asyncio.FIRST_COMPLETED)
            finally:
                ready.cancel()
            for task in self._tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise RuntimeError(f"{task.get_name()} failed") from task.exception()
            if not self.handler.published.is_set():
                raise RuntimeError("the controller stopped before publishing a snapshot")

    async def stop(self, grace: float | None = 1.0) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.xds is not None:
            await self.xds.stop(grace)
            self.xds = None
