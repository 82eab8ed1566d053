"""Fixtures: a real `contour apiserver` process per module (shared) or per test (when a test restarts it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.apiserver_process import APIServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[APIServerProcess]:
    root = tmp_path_factory.mktemp("apiserver")
    proc = APIServerProcess(root / "state", extra_args=["--bookmark-interval", "0.2"]).start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[APIServerProcess]:
    proc = APIServerProcess(tmp_path / "state", extra_args=["--watch-history", "20"])
    yield proc
    proc.stop()
