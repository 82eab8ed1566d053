"""Fixtures of the informer tier: an in-process embedded API server with a kr8s api, a writer, a proxy.

Reusable by other tiers: `cluster` yields a `tests.k8s.cluster.Cluster` (url, kubeconfig path, kr8s api,
server); `embedded_cluster()` starts one with a chosen watch history and bookmark interval.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.k8s.cluster import Cluster, ObjectWriter, embedded_cluster, host_port
from tests.k8s.faulty_proxy import FaultyProxy


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with embedded_cluster(tmp_path / "state") as running:
        yield running


@pytest.fixture
async def writer(cluster: Cluster) -> AsyncIterator[ObjectWriter]:
    client = ObjectWriter(cluster.url)
    yield client
    await client.aclose()


@pytest.fixture
async def proxy(cluster: Cluster) -> AsyncIterator[FaultyProxy]:
    faulty = await FaultyProxy(*host_port(cluster.url), seed=7).start()
    yield faulty
    await faulty.stop()
