"""The health, readiness, metrics and debug endpoints over real HTTP, against the embedded API server."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from contour.controller.httpendpoints import ApiHealth, EndpointBindError, metrics_routes, start_endpoints
from contour.controller.metrics import ControllerMetrics
from tests.controller.served_controller import Served, httpproxy, kuard_service, served_controller
from tests.k8s.cluster import api_for, eventually, host_port
from tests.k8s.faulty_proxy import FaultyProxy


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    async with served_controller(tmp_path / "state") as running:
        yield running


@pytest.fixture
async def not_started(tmp_path: Path) -> AsyncIterator[Served]:
    """The endpoints up, the controller constructed but not started."""
    async with served_controller(tmp_path / "state", start_controller=False) as running:
        yield running


# -- readiness ------------------------------------------------------------------------------------


async def test_readyz_answers_503_until_the_first_snapshot_then_200(not_started: Served) -> None:
    before = await not_started.get("/readyz")
    assert (before.status_code, before.text) == (503, "not ready: no xDS snapshot published yet\n")
    await not_started.controller.start()
    await not_started.controller.wait_ready(15)
    after = await not_started.get("/readyz")
    assert (after.status_code, after.text) == (200, "OK\n")


# -- health ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/health"])
async def test_health_is_ok_while_the_api_server_answers(served: Served, path: str) -> None:
    response = await served.get(path)
    assert (response.status_code, response.text) == (200, "OK\n")


async def test_healthz_answers_503_with_the_reason_once_the_api_server_stopped(served: Served) -> None:
    assert served.cluster.server is not None
    await served.cluster.server.stop()
    response = await served.get("/healthz")
    assert response.status_code == 503
    assert response.text.startswith("the Kubernetes API is unreachable: ConnectError")


async def test_healthz_answers_503_when_the_api_server_does_not_answer_in_time(
    served: Served, tmp_path: Path
) -> None:
    faulty = await FaultyProxy(*host_port(served.cluster.url)).start()
    try:
        async with api_for(faulty.url, tmp_path) as api:
            health = ApiHealth(api.version, timeout=0.3)
            assert await health.check() is None
            assert faulty.stall_open_connections() >= 1  # the api's kept-alive connection hangs now
            routes = metrics_routes(served.metrics.registry, health, lambda: True)
            endpoints = await start_endpoints("127.0.0.1", 0, routes)
            try:
                response = await served.http.get(f"http://127.0.0.1:{endpoints.port}/healthz")
            finally:
                await endpoints.stop()
    finally:
        await faulty.stop()
    assert (response.status_code, response.text) == (503, "the Kubernetes API did not answer within 0.3s\n")


# -- metrics --------------------------------------------------------------------------------------


async def test_metrics_are_prometheus_text_by_default(served: Served) -> None:
    response = await served.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE contour_dagrebuild_total counter" in response.text


async def test_metrics_are_openmetrics_when_the_scraper_asks(served: Served) -> None:
    response = await served.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


async def test_an_unknown_path_is_a_404_and_the_server_goes_on(served: Served) -> None:
    assert (await served.get("/nope")).status_code == 404
    assert (await served.get("/readyz")).status_code == 200


# -- debug ----------------------------------------------------------------------------------------


async def test_debug_dag_is_graphviz_with_the_proxys_virtual_host(served: Served) -> None:
    await served.services.create(kuard_service())
    await served.proxies.create(httpproxy("app", "app.example.com"))

    async def has_vhost() -> bool:
        response = await served.get("/debug/dag", debug=True)
        return '"listener/ingress_http/vhost/app.example.com"' in response.text

    await eventually(has_vhost, timeout=10, message="the vhost never appeared in /debug/dag", interval=0.05)
    response = await served.get("/debug/dag", debug=True)
    assert response.headers["Content-Type"].startswith("text/vnd.graphviz")
    assert response.text.startswith("digraph DAG {")


async def test_debug_dag_answers_503_before_the_first_build(not_started: Served) -> None:
    response = await not_started.get("/debug/dag", debug=True)
    assert (response.status_code, response.text) == (503, "no DAG built yet\n")


async def test_debug_stack_lists_threads_and_the_rebuild_loop_task(served: Served) -> None:
    response = await served.get("/debug/stack", debug=True)
    assert response.status_code == 200
    assert "\nthread MainThread (id " in response.text
    assert "\ntask 'rebuild loop': EventHandler.run pending\n" in response.text


async def test_metrics_are_not_served_on_the_debug_port(served: Served) -> None:
    assert (await served.get("/metrics", debug=True)).status_code == 404


# -- binding --------------------------------------------------------------------------------------


async def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            EndpointBindError, match=rf"cannot serve the debug endpoints on 127\.0\.0\.1:{port}: "
        ):
            await start_endpoints("127.0.0.1", port, [], name="debug")


async def test_an_address_not_of_this_host_is_a_clear_error() -> None:
    with pytest.raises(EndpointBindError, match=r"cannot serve the http endpoints on 192\.0\.2\.1:0: "):
        await start_endpoints("192.0.2.1", 0, [])


async def test_port_zero_reports_the_port_bound() -> None:
    registry = ControllerMetrics().registry
    endpoints = await start_endpoints("127.0.0.1", 0, metrics_routes(registry, ApiHealth(_ok), lambda: True))
    try:
        assert endpoints.port > 0
        async with httpx.AsyncClient(timeout=5) as http:
            assert (await http.get(f"http://127.0.0.1:{endpoints.port}/readyz")).status_code == 200
    finally:
        await endpoints.stop()


async def _ok() -> None:
    return None
