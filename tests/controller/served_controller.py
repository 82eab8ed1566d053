"""A `Controller` with metrics against the in-process embedded API server, and its HTTP endpoints.

What `contour serve` wires, minus the process: the endpoints start first (so /readyz can be seen
answering 503), then the controller; `Served` reads them over real HTTP on loopback.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from contour.controller.controller import Controller, ControllerConfig
from contour.controller.httpendpoints import ApiHealth, Runner, debug_routes, metrics_routes, start_endpoints
from contour.controller.metrics import ControllerMetrics
from tests.k8s.cluster import Cluster, ObjectWriter, embedded_cluster, eventually

PROXIES = "/apis/projectcontour.io/v1/namespaces/default/httpproxies"
SERVICES = "/api/v1/namespaces/default/services"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@dataclass
class Served:
    cluster: Cluster
    controller: Controller
    metrics: ControllerMetrics
    endpoints: Runner
    debug: Runner
    http: httpx.AsyncClient
    proxies: ObjectWriter
    services: ObjectWriter

    async def get(self, path: str, *, debug: bool = False, **kwargs: Any) -> httpx.Response:
        runner = self.debug if debug else self.endpoints
        return await self.http.get(f"http://127.0.0.1:{runner.port}{path}", **kwargs)

    async def samples(self) -> Samples:
        response = await self.get("/metrics")
        assert response.status_code == 200, response.text
        return parse_metrics(response.text)

    async def sample(self, name: str, **labels: str) -> float | None:
        return (await self.samples()).get((name, frozenset(labels.items())))

    async def wait_for_sample(self, name: str, value: float, timeout: float = 10, **labels: str) -> None:
        await self.wait_until(
            lambda samples: samples.get((name, frozenset(labels.items()))) == value, timeout
        )

    async def wait_until(self, predicate: Callable[[Samples], bool], timeout: float = 10) -> Samples:
        """The samples of the first scrape `predicate` holds for; fails with the last ones after `timeout`."""
        last: Samples = {}

        async def holds() -> bool:
            nonlocal last
            last = await self.samples()
            return predicate(last)

        await eventually(
            holds, timeout=timeout, message=lambda: f"never held; last samples: {last}", interval=0.05
        )
        return last


def kuard_service(name: str = "kuard") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]},
    }


def httpproxy(name: str, fqdn: str | None, service: str = "kuard") -> dict[str, Any]:
    spec: dict[str, Any] = {"routes": [{"services": [{"name": service, "port": 80}]}]}
    if fqdn is not None:
        spec["virtualhost"] = {"fqdn": fqdn}
    return {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


@contextlib.asynccontextmanager
async def served_controller(
    state_dir: Path, *, health_timeout: float = 2.0, start_controller: bool = True
) -> AsyncIterator[Served]:
    """The cluster, the endpoints (metrics+health, debug), and (unless told not to) the started controller."""
    async with embedded_cluster(state_dir) as cluster:
        metrics = ControllerMetrics()
        controller = Controller(
            cluster.api, ControllerConfig(xds_port=0, holdoff=0.01, max_holdoff=0.05), metrics=metrics
        )
        health = ApiHealth(cluster.api.version, timeout=health_timeout)
        ready = controller.handler.published.is_set
        endpoints = await start_endpoints("127.0.0.1", 0, metrics_routes(metrics.registry, health, ready))
        debug = await start_endpoints(
            "127.0.0.1", 0, debug_routes(lambda: controller.handler.dag), name="debug"
        )
        http = httpx.AsyncClient(timeout=10)
        proxies = ObjectWriter(cluster.url, path=PROXIES)
        services = ObjectWriter(cluster.url, path=SERVICES)
        try:
            await eventually(proxies.served, timeout=10, message="httpproxies are not served")
            served = Served(cluster, controller, metrics, endpoints, debug, http, proxies, services)
            if start_controller:
                await controller.start()
                await controller.wait_ready(15)
            yield served
        finally:
            await controller.stop()
            await proxies.aclose()
            await services.aclose()
            await http.aclose()
            await debug.stop()
            await endpoints.stop()
