"""Fixtures: one real `contour apiserver` process per module, stopped by PID at teardown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.apiserver_process import APIServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[APIServerProcess]:
    proc = APIServerProcess(tmp_path_factory.mktemp("apiserver") / "state").start()
    yield proc
    proc.stop()
