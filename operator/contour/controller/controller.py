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
from contour.controller.statusupdater import StatusUpdater
from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache
from contour.envoy.translate import TranslatorConfig
from contour.k8s.informer import Informer
from contour.k8s.statuswriter import StatusWriter
from contour.xds.cache import SnapshotCache
from contour.xds.server import XdsServer, start_server

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


@dataclass
class ControllerConfig:
    builder: BuilderConfig = field(default_factory=BuilderConfig)
    translator: TranslatorConfig = field(default_factory=TranslatorConfig)
    xds_address: str = "127.0.0.1"
    xds_port: int = 8001
    write_status: bool = True
    # status.loadBalancer written to HTTPProxies and Ingresses (None: leave it out).
    load_balancer: Mapping[str, Any] | None = None
    holdoff: float = 0.1
    max_holdoff: float = 0.5
    sync_timeout: float = 60.0


class Controller:
    def __init__(self, api: kr8s.asyncio.Api, config: ControllerConfig | None = None) -> None:
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
        self.writer = StatusWriter(api, load_balancer=cfg.load_balancer)
        self.status_updater = StatusUpdater(self.writer) if cfg.write_status else None
        self.handler = EventHandler(
            self.cache,
            Builder(cfg.builder),
            self.snapshots,
            translator_config=cfg.translator,
            statuses=self.status_updater,
            holdoff=cfg.holdoff,
            max_holdoff=cfg.max_holdoff,
        )
        self.informers = [
            Informer(api, group=g, version=v, plural=p, on_event=self.handler.on_event) for g, v, p in WATCHED
        ]
        self.xds: XdsServer | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Bind the xDS server and start the informers, the rebuild loop and the status writer."""
        self.xds = await start_server(self.snapshots, self.config.xds_address, self.config.xds_port)
        for informer in self.informers:
            self._tasks.append(asyncio.create_task(informer.run(), name=f"informer {informer.name}"))
        self._tasks.append(asyncio.create_task(self.handler.run(self._wait_synced), name="rebuild loop"))
        if self.status_updater is not None:
            self._tasks.append(asyncio.create_task(self.status_updater.run(), name="status writer"))

    async def _wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced(self.config.sync_timeout) for i in self.informers))
        log.info("all %d informers synced", len(self.informers))

    async def wait_ready(self, timeout: float) -> None:
        """Return once the first snapshot is published; TimeoutError, or a task's own error if one died."""
        async with asyncio.timeout(timeout):
            ready = asyncio.create_task(self.handler.published.wait())
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
