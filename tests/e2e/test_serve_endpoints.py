"""`contour serve`'s HTTP endpoints as a process serves them: metrics, health and debug ports answer.

The API server and `contour serve` are real processes (stopped by PID at teardown); the requests are
plain HTTP on loopback, as Prometheus, the kubelet's probes and an operator's curl would make them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver_process import APIServerProcess
from tests.support.serve_process import ServeProcess


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[APIServerProcess]:
    server = APIServerProcess(tmp_path / "api").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def serve(apiserver: APIServerProcess, tmp_path: Path) -> Iterator[ServeProcess]:
    process = ServeProcess(apiserver.kubeconfig, tmp_path)
    try:
        yield process.start()
    finally:
        process.stop()


def test_metrics_health_and_debug_ports_answer(serve: ServeProcess) -> None:
    metrics = serve.get(serve.http_port, "/metrics")
    assert metrics.status_code == 200
    assert "contour_build_info{" in metrics.text
    assert "contour_dagrebuild_total " in metrics.text
    assert [serve.get(serve.health_port, path).status_code for path in ("/healthz", "/readyz")] == [200, 200]
    dag = serve.get(serve.debug_port, "/debug/dag")
    assert (dag.status_code, dag.headers["Content-Type"].split(";")[0]) == (200, "text/vnd.graphviz")
    assert dag.text.startswith("digraph DAG {")
    assert serve.get(serve.debug_port, "/debug/stack").status_code == 200


def test_health_fails_once_the_api_server_is_gone(serve: ServeProcess, apiserver: APIServerProcess) -> None:
    apiserver.stop()
    health = serve.get(serve.health_port, "/healthz")
    assert health.status_code == 503
    assert health.text.startswith("the Kubernetes API is unreachable")


def test_metrics_and_health_share_a_port_when_told_to(apiserver: APIServerProcess, tmp_path: Path) -> None:
    process = ServeProcess(apiserver.kubeconfig, tmp_path)
    process.health_port = process.http_port  # Contour's default: both on 8000
    try:
        process.start()
        paths = ("/metrics", "/healthz", "/readyz")
        assert [process.get(process.http_port, path).status_code for path in paths] == [200, 200, 200]
    finally:
        process.stop()
