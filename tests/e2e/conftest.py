"""Fixtures of the end-to-end tier: two `contour echo` backends for the session, per test an xDS
server, a real Envoy on it and an HTTP client for its listener (``tests.support.envoy_harness``), and
for every test that uses a `contour run` (a fixture named `run`) the check that Envoy rejected nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.echo_config import Backends
from tests.support.contour_run import ContourRun
from tests.support.envoy_harness import EchoBackend


@pytest.fixture(scope="session")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    """`echo-a` and `echo-b`: the pod name in each answer tells which backend Envoy chose."""
    work_dir = tmp_path_factory.mktemp("echo")
    started: list[EchoBackend] = []
    try:
        for pod in ("echo-a", "echo-b"):
            started.append(EchoBackend(pod, work_dir))
        yield Backends(*started)
    finally:
        for backend in started:
            backend.stop()


@pytest.fixture
def envoy_dir(tmp_path: Path) -> Path:
    return tmp_path / "envoy"


@pytest.fixture(autouse=True)
def no_rejections(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test on a `contour run`: the update_rejected counters of its Envoy and of every
    running Gateway Envoy are all zero."""
    yield
    if "run" in request.fixturenames:
        contour: ContourRun = request.getfixturevalue("run")
        assert contour.rejections() == {}, f"Envoy rejected configuration; log:\n{contour.log()[-3000:]}"
        assert contour.gateway_rejections() == {}, "a Gateway's Envoy rejected configuration"
