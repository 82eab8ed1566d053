"""The StatusUpdater writes several objects at once, never two writes of one object at a time.

Against the real embedded API server through the real `StatusWriter`, wrapped to record when each
write starts and ends: with many objects pending, more than one write is in flight but never more
than `concurrency`; an object updated while its write is in flight is written again afterwards, with
the newest status last.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from contour.controller.statusupdater import StatusUpdater
from contour.k8s.statuswriter import Outcome, StatusUpdateLike, StatusWriter
from tests.controller.test_status_leading import PROXIES, descriptions, proxy, running, update
from tests.k8s.cluster import Cluster, ObjectWriter, embedded_cluster, eventually

NAMES = [f"p{i:02d}" for i in range(24)]


class OverlapWriter(StatusWriter):
    """The real writer, recording how many writes overlap and each object's writes in order."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.in_flight: set[str] = set()
        self.most = 0
        self.overlapping_same_object = 0
        self.written: list[tuple[str, str]] = []  # (name, description), in completion order
        self.on_start: Callable[[str, str], None] = lambda name, description: None

    async def write(self, update: StatusUpdateLike) -> Outcome:
        name = update.ref.name
        if name in self.in_flight:
            self.overlapping_same_object += 1
        self.in_flight.add(name)
        self.most = max(self.most, len(self.in_flight))
        self.on_start(name, str(update.status.get("description")))
        try:
            return await super().write(update)
        finally:
            self.in_flight.discard(name)
            self.written.append((name, str(update.status.get("description"))))


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with embedded_cluster(tmp_path / "state") as running_cluster:
        yield running_cluster


@pytest.fixture
async def proxies(cluster: Cluster) -> AsyncIterator[ObjectWriter]:
    client = ObjectWriter(cluster.url, path=PROXIES)
    await eventually(client.served, timeout=10, message="httpproxies are not served")
    for name in NAMES:
        await client.create(proxy(name))
    yield client
    await client.aclose()


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_writes_overlap_up_to_the_limit(
    proxies: ObjectWriter, cluster: Cluster, concurrency: int
) -> None:
    writer = OverlapWriter(cluster.api)
    async with running(StatusUpdater(writer, concurrency=concurrency)) as updater:
        updater.submit([update(name, "one") for name in NAMES])
        await asyncio.wait_for(updater.wait_idle(), timeout=20)
    assert sorted(name for name, _ in writer.written) == NAMES
    assert writer.most == concurrency
    assert set((await descriptions(proxies)).values()) == {"one"}


async def test_an_object_updated_during_its_write_is_written_again_after_it(
    proxies: ObjectWriter, cluster: Cluster
) -> None:
    writer = OverlapWriter(cluster.api)
    async with running(StatusUpdater(writer, concurrency=8)) as updater:

        def resubmit(name: str, description: str) -> None:
            if (name, description) == ("p00", "first"):  # while that write is in flight
                updater.submit([update("p00", "second")])

        writer.on_start = resubmit
        updater.submit([update(name, "first") for name in NAMES])
        await asyncio.wait_for(updater.wait_idle(), timeout=20)
    assert writer.overlapping_same_object == 0
    assert [d for name, d in writer.written if name == "p00"] == ["first", "second"]
    assert (await descriptions(proxies))["p00"] == "second"


def test_concurrency_below_one_is_refused(cluster: Cluster) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        StatusUpdater(StatusWriter(cluster.api), concurrency=0)
